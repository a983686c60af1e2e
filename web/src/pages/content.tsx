import { useState } from "preact/hooks";
import { can, gql, problemText } from "../api";
import { fmt } from "../format";
import { Choice, FieldError, useAttempt } from "../forms";
import { Card, DataTable, ErrorNote, Loading, useQuery, useSession } from "../ui";

const INFLUENCE = "influence { pipeline revenue winRateWith winRateWithout }";
export const LIBRARY_QUERY = `query Library {
  messages(first: 100) { edges { node { id kind text status version ${INFLUENCE} } } }
  contentItems(first: 100) { edges { node { id title url funnelStage format status version ${INFLUENCE} } } }
}`;
const KINDS = ["PROBLEM", "IMPACT", "VALUE", "WHY_NOW", "PROOF", "COMPETITOR_COMPARISON", "OBJECTION_RESPONSE", "DISCOVERY_QUESTION", "VALUE_STATEMENT"];

interface Influence {
  pipeline: number;
  revenue: number;
  winRateWith: number | null;
  winRateWithout: number | null;
}
interface Item {
  id: string;
  status: string;
  version: number;
  influence: Influence;
}
interface Message extends Item {
  kind: string;
  text: string;
}
interface Content extends Item {
  title: string;
  url: string;
  funnelStage: string;
  format: string;
}

function StatusActions({ item, kind, onDone }: { item: Item; kind: "Message" | "ContentItem"; onDone: () => void }) {
  const [problem, setProblem] = useState<string | null>(null);
  const act = async (verb: "approve" | "retire") => {
    try {
      await gql(`mutation ($id: ID!) { ${verb}${kind}(id: $id) { id status } }`, { id: item.id });
      onDone();
    } catch (exc) {
      setProblem(problemText(exc));
    }
  };
  return (
    <span class="actions">
      {item.status === "DRAFT" && (
        <button type="button" class="small" onClick={() => act("approve")}>
          Approve
        </button>
      )}
      {item.status !== "RETIRED" && (
        <button type="button" class="small ghost" onClick={() => act("retire")}>
          Retire
        </button>
      )}
      {problem && <span class="field-error">{problem}</span>}
    </span>
  );
}

function NewMessage({ onSaved }: { onSaved: () => void }) {
  const [kind, setKind] = useState("VALUE");
  const [text, setText] = useState("");
  const { problem, attempt } = useAttempt();
  const submit = async (event: Event) => {
    event.preventDefault();
    if (await attempt(() => gql("mutation ($input: MessageInput!) { createMessage(input: $input) { id } }", { input: { kind, text } }))) {
      setText("");
      onSaved();
    }
  };
  return (
    <form class="filters" onSubmit={submit}>
      <label>
        <span>Kind</span>
        <Choice value={kind} options={KINDS} onPick={setKind} />
      </label>
      <label class="grow">
        <span>New message text</span>
        <input value={text} aria-invalid={problem ? "true" : undefined} aria-describedby={problem ? "new-message-error" : undefined} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit">Add draft</button>
      <FieldError id="new-message" problem={problem} />
    </form>
  );
}

const influenceColumns = <T extends Item>() => [
  { label: "Pipeline", value: (r: T) => fmt.money(r.influence.pipeline), numeric: true },
  { label: "Revenue", value: (r: T) => fmt.money(r.influence.revenue), numeric: true },
  { label: "Win rate with / without", value: (r: T) => `${fmt.pct(r.influence.winRateWith)} / ${fmt.pct(r.influence.winRateWithout)}`, numeric: true },
];

export function ContentPage() {
  const { role } = useSession();
  const editable = can.editLibrary(role);
  const { data, error, reload } = useQuery<{ messages: { edges: { node: Message }[] }; contentItems: { edges: { node: Content }[] } }>(LIBRARY_QUERY, {});
  if (error && !data) return <ErrorNote error={error} retry={reload} />;
  if (!data) return <Loading what="the library" />;
  const messages = data.messages.edges.map((e) => e.node);
  const items = data.contentItems.edges.map((e) => e.node);
  return (
    <div class="grid">
      <Card title="Messaging library" wide>
        {!editable && <p class="muted small">Read only: marketing and admin keys edit the library.</p>}
        <DataTable
          caption="Messages with their influence on pipeline and revenue (linear model)"
          rowKey={(m) => m.id}
          rows={messages}
          empty={editable ? "The library is empty. Add the first message below." : "The library is empty: marketing adds messages here."}
          columns={[
            { label: "Message", value: (m) => <span class="clamp">{m.text}</span> },
            { label: "Kind", value: (m) => fmt.label(m.kind) },
            { label: "Status", value: (m) => `${fmt.label(m.status)} · v${m.version}` },
            ...influenceColumns<Message>(),
            ...(editable ? [{ label: "Actions", value: (m: Message) => <StatusActions item={m} kind="Message" onDone={reload} /> }] : []),
          ]}
        />
        {editable && <NewMessage onSaved={reload} />}
      </Card>
      <Card title="Content catalog" wide>
        <DataTable
          caption="Content items with their influence on pipeline and revenue (linear model)"
          rowKey={(c) => c.id}
          rows={items}
          empty="The catalog is empty: marketing adds content items through the API (createContentItem)."
          columns={[
            { label: "Content", value: (c) => c.title },
            { label: "Stage · format", value: (c) => `${fmt.label(c.funnelStage)} · ${fmt.label(c.format)}` },
            { label: "Status", value: (c) => `${fmt.label(c.status)} · v${c.version}` },
            ...influenceColumns<Content>(),
            ...(editable ? [{ label: "Actions", value: (c: Content) => <StatusActions item={c} kind="ContentItem" onDone={reload} /> }] : []),
          ]}
        />
      </Card>
    </div>
  );
}
