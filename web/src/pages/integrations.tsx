// Settings for admins: webhooks (SPEC 13) and connectors (SPEC 14) over the public API.
// Both are admin-only fields, so the settings page renders these cards for admins alone.
import { useState } from "preact/hooks";
import { gql } from "../api";
import { fmt } from "../format";
import { failed, Field, FieldError, FormNote, NONE, type Outcome, problemFor } from "../forms";
import { DataTable, ErrorNote, Loading, useQuery } from "../ui";

const EVENT_TYPES = ["LEAD_STAGE_CHANGED", "LEAD_MQL", "LEAD_SCORE_CHANGED", "SLA_BREACHED", "DEAL_WON", "DEAL_LOST", "ACTION_ITEM_DUE", "REVIEW_WINS"];
const WEBHOOK_FIELDS = "id url eventTypes slackFormat scoreThreshold enabled createdAt";
export const WEBHOOKS_QUERY = `query Webhooks {
  webhooks { ${WEBHOOK_FIELDS} }
  webhookDeliveries(first: 20) {
    edges { node { id webhookId eventType status attemptCount createdAt lastStatusCode
      attempts { attempt startedAt statusCode latencyMs error } } }
  }
}`;
const CREATE_WEBHOOK = `mutation ($input: WebhookInput!) { createWebhook(input: $input) { secret webhook { id } } }`;
const UPDATE_WEBHOOK = `mutation ($id: ID!, $input: WebhookUpdateInput!) { updateWebhook(id: $id, input: $input) { id } }`;
const ROTATE_WEBHOOK = `mutation ($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`;
const DELETE_WEBHOOK = `mutation ($id: ID!) { deleteWebhook(id: $id) }`;

export const CONNECTORS_QUERY = `query Connectors { connectors { connector enabled secretSet secretRotatedAt mappings defaults updatedAt updatedBy boardId signingSecretSet lastError } }`;
const UPDATE_CONNECTOR = `mutation ($input: ConnectorInput!) { updateConnector(input: $input) { connector } }`;
const SET_SECRET = `mutation ($c: Connector!, $s: String!) { setConnectorSecret(connector: $c, secret: $s) { connector } }`;
const ROTATE_SECRET = `mutation ($c: Connector!) { rotateConnectorSecret(connector: $c) { secret } }`;

interface Attempt {
  attempt: number;
  startedAt: string;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
}
interface Delivery {
  id: string;
  webhookId: string;
  eventType: string;
  status: string;
  attemptCount: number;
  createdAt: string;
  lastStatusCode: number | null;
  attempts: Attempt[];
}
interface Webhook {
  id: string;
  url: string;
  eventTypes: string[];
  slackFormat: boolean;
  scoreThreshold: number;
  enabled: boolean;
  createdAt: string;
}
interface ConnectorSettings {
  connector: "SEGMENT" | "HUBSPOT" | "SALESFORCE" | "MONDAY";
  enabled: boolean;
  secretSet: boolean;
  secretRotatedAt: string | null;
  mappings: unknown;
  defaults: unknown;
  updatedAt: string | null;
  updatedBy: string | null;
  boardId: string | null;
  signingSecretSet: boolean;
  lastError: string | null;
}

/** A secret the API shows this once: on screen until the admin dismisses it. */
function OnceSecret({ label, secret, onDone }: { label: string; secret: string; onDone: () => void }) {
  return (
    <div class="note ok secret" role="status">
      <p>
        <strong>{label}</strong> Copy it now: it is not shown again.
      </p>
      <code data-secret>{secret}</code>{" "}
      <button type="button" class="small" onClick={onDone}>
        Done, I copied it
      </button>
    </div>
  );
}

function WebhookForm({ reload, onSecret }: { reload: () => void; onSecret: (s: string) => void }) {
  const [url, setUrl] = useState("");
  const [types, setTypes] = useState<string[]>(["LEAD_MQL"]);
  const [slack, setSlack] = useState(false);
  const [threshold, setThreshold] = useState("10");
  const [outcome, setOutcome] = useState<Outcome>(NONE);
  const create = async (event: Event) => {
    event.preventDefault();
    try {
      const input = { url, eventTypes: types, slackFormat: slack, scoreThreshold: Number(threshold) };
      const answer = await gql<{ createWebhook: { secret: string } }>(CREATE_WEBHOOK, { input });
      setOutcome({ problems: [], message: "Webhook created.", saved: true });
      setUrl("");
      onSecret(answer.createWebhook.secret);
      reload();
    } catch (exc) {
      setOutcome(failed(exc));
    }
  };
  const typesProblem = problemFor(outcome, "eventTypes");
  const toggle = (t: string) => setTypes(types.includes(t) ? types.filter((x) => x !== t) : [...types, t]);
  return (
    <form onSubmit={create} aria-labelledby="webhook-new-title" noValidate>
      <h3 id="webhook-new-title">New webhook</h3>
      <Field id="webhook-url" label="Endpoint URL" type="url" value={url} onInput={setUrl} outcome={outcome} problemKey="url" disabled={false} />
      <fieldset aria-describedby={typesProblem ? "webhook-types-error" : undefined}>
        <legend>Event types</legend>
        <div class="checks">
          {EVENT_TYPES.map((t) => (
            <label class="check">
              <input type="checkbox" checked={types.includes(t)} onChange={() => toggle(t)} /> {fmt.label(t)}
            </label>
          ))}
        </div>
        <FieldError id="webhook-types" problem={typesProblem} />
      </fieldset>
      <div class="row">
        <label class="check">
          <input type="checkbox" checked={slack} onChange={() => setSlack(!slack)} /> Slack format (Block Kit)
        </label>
        <Field id="webhook-threshold" label="Score threshold (points)" value={threshold} onInput={setThreshold} outcome={outcome} problemKey="scoreThreshold" disabled={false} />
      </div>
      <FormNote outcome={outcome} />
      <button type="submit" class="primary">
        Create webhook
      </button>
    </form>
  );
}

function lastLatency(d: Delivery): string {
  const last = d.attempts[d.attempts.length - 1];
  return last ? `${fmt.int(last.latencyMs)} ms` : "–";
}

export function WebhooksCard() {
  const { data, error, reload } = useQuery<{ webhooks: Webhook[]; webhookDeliveries: { edges: { node: Delivery }[] } }>(WEBHOOKS_QUERY, {}, false);
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
  const [actionError, setActionError] = useState<Outcome>(NONE);
  const act = async (mutation: string, variables: Record<string, unknown>, after?: (answer: unknown) => void) => {
    try {
      const answer = await gql(mutation, variables);
      setActionError(NONE);
      after?.(answer);
      reload();
    } catch (exc) {
      setActionError(failed(exc));
    }
  };
  const urlOf = (id: string) => data?.webhooks.find((w) => w.id === id)?.url ?? id;
  return (
    <section class="card wide" aria-labelledby="webhooks-title">
      <h2 id="webhooks-title">Webhooks</h2>
      <p class="muted small">
        Tandem signs every delivery (header Tandem-Signature, HMAC-SHA256 of the timestamp and body with the webhook's secret) and retries failed ones with backoff.
      </p>
      {secret && <OnceSecret label={secret.label} secret={secret.value} onDone={() => setSecret(null)} />}
      {error && <ErrorNote error={error} retry={reload} />}
      {!data ? (
        <Loading what="the webhooks" />
      ) : (
        <>
          <DataTable
            caption="Webhooks"
            rowKey={(w) => w.id}
            rows={data.webhooks}
            empty="No webhook yet: create one below to have Tandem post lead and deal events to your endpoint."
            columns={[
              { label: "URL", value: (w) => <span class="break" data-webhook-url={w.id}>{w.url}</span> },
              { label: "Events", value: (w) => w.eventTypes.map((t) => fmt.label(t)).join(", ") },
              { label: "Slack", value: (w) => (w.slackFormat ? "yes" : "no") },
              { label: "Threshold", value: (w) => w.scoreThreshold, numeric: true },
              { label: "State", value: (w) => (w.enabled ? "enabled" : "disabled") },
              {
                label: "Actions",
                value: (w) => (
                  <span class="actions">
                    <button type="button" class="small" onClick={() => act(UPDATE_WEBHOOK, { id: w.id, input: { enabled: !w.enabled } })}>
                      {w.enabled ? "Disable" : "Enable"}
                      <span class="sr-only"> {w.url}</span>
                    </button>
                    <button
                      type="button"
                      class="small"
                      onClick={() =>
                        act(ROTATE_WEBHOOK, { id: w.id }, (a) =>
                          setSecret({ label: `New secret of ${w.url}.`, value: (a as { rotateWebhookSecret: { secret: string } }).rotateWebhookSecret.secret }),
                        )
                      }
                    >
                      Rotate secret<span class="sr-only"> of {w.url}</span>
                    </button>
                    <button
                      type="button"
                      class="small danger"
                      onClick={() => window.confirm(`Delete the webhook to ${w.url} and its deliveries?`) && act(DELETE_WEBHOOK, { id: w.id })}
                    >
                      Delete<span class="sr-only"> {w.url}</span>
                    </button>
                  </span>
                ),
              },
            ]}
          />
          <FormNote outcome={actionError} />
          <WebhookForm reload={reload} onSecret={(s) => setSecret({ label: "The new webhook's signing secret.", value: s })} />
          <h3>Recent deliveries</h3>
          <DataTable
            caption="Recent webhook deliveries, newest first"
            rowKey={(d) => d.id}
            rows={data.webhookDeliveries.edges.map((e) => e.node)}
            empty="No delivery yet: deliveries appear here once a subscribed event happens."
            columns={[
              { label: "Event", value: (d) => fmt.label(d.eventType) },
              { label: "Webhook", value: (d) => <span class="break">{urlOf(d.webhookId)}</span> },
              { label: "Status", value: (d) => <span data-delivery-status={d.id}>{fmt.label(d.status)}</span> },
              { label: "Attempts", value: (d) => <span data-delivery-attempts={d.id}>{d.attemptCount}</span>, numeric: true },
              { label: "Last answer", value: (d) => (d.lastStatusCode == null ? "none" : String(d.lastStatusCode)), numeric: true },
              { label: "Latency", value: lastLatency, numeric: true },
              { label: "Created", value: (d) => fmt.dateTime(d.createdAt) },
            ]}
          />
        </>
      )}
    </section>
  );
}

const NAMES = { SEGMENT: "Segment", HUBSPOT: "HubSpot", SALESFORCE: "Salesforce", MONDAY: "Monday.com" } as const;

function MappingForm({ settings, reload }: { settings: ConnectorSettings; reload: () => void }) {
  const id = `mappings-${settings.connector.toLowerCase()}`;
  const [text, setText] = useState(JSON.stringify(settings.mappings, null, 2));
  const [outcome, setOutcome] = useState<Outcome>(NONE);
  const save = async (event: Event) => {
    event.preventDefault();
    let mappings: unknown;
    try {
      mappings = JSON.parse(text);
    } catch {
      setOutcome({ problems: [{ path: "input.mappings", message: "must be a JSON object" }], message: "Fix the fields marked above.", saved: false });
      return;
    }
    try {
      await gql(UPDATE_CONNECTOR, { input: { connector: settings.connector, mappings } });
      setOutcome({ problems: [], message: "Mapping overrides saved.", saved: true });
      reload();
    } catch (exc) {
      setOutcome(failed(exc));
    }
  };
  const problem = problemFor(outcome, "mappings");
  return (
    <form onSubmit={save} noValidate>
      <div class="field">
        <label for={id}>Mapping overrides (JSON)</label>
        <textarea
          id={id}
          rows={4}
          value={text}
          aria-invalid={problem ? "true" : undefined}
          aria-describedby={problem ? `${id}-error` : `${id}-defaults`}
          onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
        />
        <FieldError id={id} problem={problem} />
      </div>
      <details id={`${id}-defaults`}>
        <summary>Defaults these override</summary>
        <pre class="json">{JSON.stringify(settings.defaults, null, 2)}</pre>
      </details>
      <FormNote outcome={outcome} />
      <button type="submit">Save {NAMES[settings.connector]} mappings</button>
    </form>
  );
}

function SecretControls({ settings, reload }: { settings: ConnectorSettings; reload: () => void }) {
  const name = NAMES[settings.connector];
  const id = `secret-${settings.connector.toLowerCase()}`;
  const [value, setValue] = useState("");
  const [outcome, setOutcome] = useState<Outcome>(NONE);
  const [shown, setShown] = useState<string | null>(null);
  const run = async (event: Event) => {
    event.preventDefault();
    try {
      if (settings.connector === "SALESFORCE") {
        const answer = await gql<{ rotateConnectorSecret: { secret: string } }>(ROTATE_SECRET, { c: settings.connector });
        setShown(answer.rotateConnectorSecret.secret);
        setOutcome(NONE);
      } else {
        await gql(SET_SECRET, { c: settings.connector, s: value });
        setValue("");
        setOutcome({ problems: [], message: "Secret stored. It cannot be read back.", saved: true });
      }
      reload();
    } catch (exc) {
      setOutcome(failed(exc));
    }
  };
  const state = settings.secretSet ? `Secret set${settings.secretRotatedAt ? `, last changed ${fmt.dateTime(settings.secretRotatedAt)}` : ""}.` : "No secret yet.";
  return (
    <form onSubmit={run} noValidate>
      <p class="small" data-secret-state={settings.connector}>
        {state}
      </p>
      {shown && <OnceSecret label={`The new ${name} relay secret.`} secret={shown} onDone={() => setShown(null)} />}
      {settings.connector === "SALESFORCE" ? (
        <button type="submit">{settings.secretSet ? "Rotate" : "Generate"} Salesforce secret</button>
      ) : (
        <>
          <Field id={id} label={`${name} app client secret (write-only)`} type="password" value={value} onInput={setValue} outcome={outcome} problemKey="secret" disabled={false} />
          <button type="submit">Store {name} secret</button>
        </>
      )}
      <FormNote outcome={outcome} />
    </form>
  );
}

/** The Monday.com board: token and signing secret write-only, the board id shown. */
function MondayForm({ settings, reload }: { settings: ConnectorSettings; reload: () => void }) {
  const [token, setToken] = useState("");
  const [board, setBoard] = useState(settings.boardId ?? "");
  const [signing, setSigning] = useState("");
  const [outcome, setOutcome] = useState<Outcome>(NONE);
  const save = async (event: Event) => {
    event.preventDefault();
    const input: Record<string, string> = { connector: "MONDAY" };
    if (token) input.token = token;
    if (board !== (settings.boardId ?? "")) input.boardId = board;
    if (signing) input.signingSecret = signing;
    try {
      await gql(UPDATE_CONNECTOR, { input });
      setToken("");
      setSigning("");
      setOutcome({ problems: [], message: "Monday.com settings saved. The token and signing secret cannot be read back.", saved: true });
      reload();
    } catch (exc) {
      setOutcome(failed(exc));
    }
  };
  return (
    <form onSubmit={save} noValidate data-monday-form>
      <p class="small" data-secret-state="MONDAY">
        {settings.secretSet ? "API token set." : "No API token yet."} {settings.signingSecretSet ? "Signing secret set." : "No signing secret yet."}
        {settings.boardId ? ` Board ${settings.boardId}.` : " No board yet."}
      </p>
      {settings.lastError && (
        <p class="note error small" role="status" data-monday-error>
          The last update of the board failed: {settings.lastError}
        </p>
      )}
      <Field id="monday-board" label="Monday.com board id" type="text" value={board} onInput={setBoard} outcome={outcome} problemKey="boardId" disabled={false} />
      <Field id="monday-token" label="Monday.com API token (write-only)" type="password" value={token} onInput={setToken} outcome={outcome} problemKey="token" disabled={false} />
      <Field id="monday-signing" label="Monday.com signing secret (write-only)" type="password" value={signing} onInput={setSigning} outcome={outcome} problemKey="signingSecret" disabled={false} />
      <button type="submit">Save Monday.com settings</button>
      <FormNote outcome={outcome} />
    </form>
  );
}

function ConnectorCard({ settings, reload }: { settings: ConnectorSettings; reload: () => void }) {
  const name = NAMES[settings.connector];
  const [outcome, setOutcome] = useState<Outcome>(NONE);
  const toggle = async () => {
    try {
      await gql(UPDATE_CONNECTOR, { input: { connector: settings.connector, enabled: !settings.enabled } });
      setOutcome(NONE);
      reload();
    } catch (exc) {
      setOutcome(failed(exc));
    }
  };
  return (
    <section class="connector" aria-labelledby={`connector-${settings.connector}`} data-connector={settings.connector}>
      <div class="row between">
        <h3 id={`connector-${settings.connector}`}>{name}</h3>
        <p class="small" data-connector-enabled={String(settings.enabled)}>
          {settings.enabled ? "Enabled" : "Disabled"}{" "}
          <button type="button" class="small" onClick={toggle}>
            {settings.enabled ? "Disable" : "Enable"} {name}
          </button>
        </p>
      </div>
      <FormNote outcome={outcome} />
      {settings.connector === "SEGMENT" ? (
        <div class="small">
          <p>Point a Segment destination (or any Segment library) at this gateway:</p>
          <ul>
            <li>
              Endpoint: <code class="break">{window.location.origin}/v1/batch</code> (also /v1/track, /v1/identify, /v1/page, /v1/screen, /v1/group, /v1/alias)
            </li>
            <li>Write key: a Tandem API key of role ingest, sent as HTTP Basic user name with an empty password.</li>
          </ul>
        </div>
      ) : settings.connector === "MONDAY" ? (
        <MondayForm key={`monday-${settings.updatedAt ?? ""}`} settings={settings} reload={reload} />
      ) : (
        <SecretControls settings={settings} reload={reload} />
      )}
      {settings.connector !== "MONDAY" && <MappingForm key={`${settings.connector}-${settings.updatedAt ?? ""}`} settings={settings} reload={reload} />}
    </section>
  );
}

export function ConnectorsCard() {
  const { data, error, reload } = useQuery<{ connectors: ConnectorSettings[] }>(CONNECTORS_QUERY, {}, false);
  return (
    <section class="card wide" aria-labelledby="connectors-title">
      <h2 id="connectors-title">Connectors</h2>
      {error && <ErrorNote error={error} retry={reload} />}
      {!data ? <Loading what="the connectors" /> : data.connectors.map((c) => <ConnectorCard key={c.connector} settings={c} reload={reload} />)}
    </section>
  );
}
