// Settings for admins: share links of dashboard pages (read-only, live, no sign-in) and the
// sites allowed to show them in a frame.
import { useState } from "preact/hooks";
import { gql } from "../api";
import { fmt } from "../format";
import { failed, Field, FormNote, NONE, type Outcome } from "../forms";
import { DataTable, ErrorNote, Loading, useQuery } from "../ui";

const SHARE_QUERY = `query Sharing { shareLinks { id pages expiresAt createdBy createdAt revokedAt active } shareSettings { frameAncestors } }`;
const CREATE = `mutation ($pages: [SharePage!]!, $expiresAt: DateTime!) { createShareLink(pages: $pages, expiresAt: $expiresAt) { url } }`;
const REVOKE = `mutation ($id: ID!) { revokeShareLink(id: $id) { id } }`;
const FRAMES = `mutation ($origins: [String!]!) { updateShareSettings(frameAncestors: $origins) { frameAncestors } }`;

const SHAREABLE: [string, string][] = [
  ["OVERVIEW", "Overview"],
  ["PIPELINE", "Pipeline"],
  ["ACCOUNTS", "Accounts"],
  ["ATTRIBUTION", "Attribution"],
  ["SLA", "SLA"],
  ["REVIEW", "Weekly review"],
  ["CONTENT", "Content and messaging"],
];
const PAGE_NAMES = Object.fromEntries(SHAREABLE);

interface Link {
  id: string;
  pages: string[];
  expiresAt: string;
  createdBy: string;
  createdAt: string;
  revokedAt: string | null;
  active: boolean;
}

function in30Days(): string {
  return new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
}

function NewLink({ reload }: { reload: () => void }) {
  const [pages, setPages] = useState<string[]>(["OVERVIEW"]);
  const [expires, setExpires] = useState(in30Days());
  const [outcome, setOutcome] = useState<Outcome>(NONE);
  const [url, setUrl] = useState<string | null>(null);
  const toggle = (p: string) => setPages(pages.includes(p) ? pages.filter((x) => x !== p) : [...pages, p]);
  const create = async (event: Event) => {
    event.preventDefault();
    try {
      const answer = await gql<{ createShareLink: { url: string } }>(CREATE, { pages, expiresAt: `${expires}T00:00:00Z` });
      setUrl(`${window.location.origin}${answer.createShareLink.url}`);
      setOutcome(NONE);
      reload();
    } catch (exc) {
      setOutcome(failed(exc));
    }
  };
  return (
    <form onSubmit={create} aria-labelledby="share-new-title" noValidate>
      <h3 id="share-new-title">New share link</h3>
      <fieldset>
        <legend>Pages to show</legend>
        <div class="checks">
          {SHAREABLE.map(([value, label]) => (
            <label class="check">
              <input type="checkbox" checked={pages.includes(value)} onChange={() => toggle(value)} /> {label}
            </label>
          ))}
        </div>
      </fieldset>
      <Field id="share-expires" label="Works until (UTC date)" type="date" value={expires} onInput={setExpires} outcome={outcome} problemKey="expiresAt" disabled={false} />
      {url && (
        <div class="note ok secret" role="status">
          <p>
            <strong>The link.</strong> Copy it now: it is not shown again. Anyone holding it sees the chosen pages.
          </p>
          <code data-share-url>{url}</code>{" "}
          <button type="button" class="small" onClick={() => setUrl(null)}>
            Done, I copied it
          </button>
        </div>
      )}
      <FormNote outcome={outcome} />
      <button type="submit" class="primary">
        Create share link
      </button>
    </form>
  );
}

function FrameSites({ current, reload }: { current: string[]; reload: () => void }) {
  const [value, setValue] = useState(current.join(" "));
  const [outcome, setOutcome] = useState<Outcome>(NONE);
  const save = async (event: Event) => {
    event.preventDefault();
    try {
      await gql(FRAMES, { origins: value.split(/[\s,]+/).filter(Boolean) });
      setOutcome({ problems: [], message: "Saved.", saved: true });
      reload();
    } catch (exc) {
      setOutcome(failed(exc));
    }
  };
  return (
    <form onSubmit={save} noValidate>
      <Field id="share-frames" label="Sites that may show shared pages in a frame (origins, space-separated; empty: none)" type="text" value={value} onInput={setValue} outcome={outcome} problemKey="frameAncestors" disabled={false} />
      <FormNote outcome={outcome} />
      <button type="submit">Save framing sites</button>
    </form>
  );
}

export function ShareLinksCard() {
  const { data, error, reload } = useQuery<{ shareLinks: Link[]; shareSettings: { frameAncestors: string[] } }>(SHARE_QUERY, {}, false);
  const [outcome, setOutcome] = useState<Outcome>(NONE);
  const revoke = async (id: string) => {
    try {
      await gql(REVOKE, { id });
      setOutcome({ problems: [], message: "Link revoked: open views close within seconds.", saved: true });
      reload();
    } catch (exc) {
      setOutcome(failed(exc));
    }
  };
  return (
    <section class="card wide" aria-labelledby="share-title">
      <h2 id="share-title">Share links</h2>
      <p class="muted small">Read-only, live views of chosen pages without signing in: for a screen on the sales floor, a Monday.com board or a wiki.</p>
      {error && <ErrorNote error={error} retry={reload} />}
      {!data ? (
        <Loading what="the share links" />
      ) : (
        <>
          <DataTable
            caption="Share links"
            rowKey={(l: Link) => l.id}
            rows={data.shareLinks}
            empty="No share link yet."
            columns={[
              { label: "Pages", value: (l: Link) => l.pages.map((p) => PAGE_NAMES[p] ?? fmt.label(p)).join(", ") },
              { label: "Until", value: (l: Link) => fmt.date(l.expiresAt) },
              { label: "Status", value: (l: Link) => <span data-share-status={l.id}>{l.active ? "Active" : l.revokedAt ? "Revoked" : "Expired"}</span> },
              {
                label: "Action",
                value: (l: Link) =>
                  l.active ? (
                    <button type="button" class="small" onClick={() => revoke(l.id)}>
                      Revoke link of {fmt.date(l.createdAt)}
                    </button>
                  ) : (
                    "–"
                  ),
              },
            ]}
          />
          <FormNote outcome={outcome} />
          <NewLink reload={reload} />
          <FrameSites key={data.shareSettings.frameAncestors.join(" ")} current={data.shareSettings.frameAncestors} reload={reload} />
        </>
      )}
    </section>
  );
}
