import { render } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, gql, pinCredential, type Role, storeCredential, storedCredential } from "./api";
import { connectLive, type LiveStatus } from "./live";
import { AccountsPage } from "./pages/accounts";
import { AttributionPage } from "./pages/attribution";
import { ContentPage } from "./pages/content";
import { ForecastPage } from "./pages/forecast";
import { OverviewPage } from "./pages/overview";
import { PipelinePage } from "./pages/pipeline";
import { ReviewPage } from "./pages/review";
import { SettingsPage } from "./pages/settings";
import { SlaPage } from "./pages/sla";
import { type CustomRange, customProblem, describeSpan, type Preset, PRESETS, periodFor } from "./period";
import "./styles.css";
import { type Session, SessionContext } from "./ui";

const PAGES = [
  { path: "overview", label: "Overview", view: OverviewPage, period: true },
  { path: "pipeline", label: "Pipeline", view: PipelinePage, period: false },
  { path: "accounts", label: "Accounts", view: AccountsPage, period: false },
  { path: "forecast", label: "Forecast", view: ForecastPage, period: false },
  { path: "attribution", label: "Attribution", view: AttributionPage, period: true },
  { path: "sla", label: "SLA", view: SlaPage, period: true },
  { path: "review", label: "Weekly review", view: ReviewPage, period: false },
  { path: "content", label: "Content and messaging", view: ContentPage, period: false },
  { path: "settings", label: "Settings", view: SettingsPage, period: false },
] as const;

const VIEWER = "query Viewer { viewer { role tenant } }";
// Debounce of live refetches: a burst of changes costs one refetch, still well within 2 s.
const LIVE_DEBOUNCE_MS = 300;
const LIVE_SETTLE_MS = 1_500;

interface Identity {
  credential: string;
  role: Role;
  tenant: string;
}

async function identify(credential: string): Promise<Identity> {
  const data = await gql<{ viewer: { role: string; tenant: string } }>(VIEWER, {}, credential);
  return { credential, tenant: data.viewer.tenant, role: data.viewer.role.toLowerCase() as Role };
}

type Page = (typeof PAGES)[number];

/** The page of the address: its first segment ("#/pipeline/lead/L1" is the pipeline). */
function currentPath(pages: readonly Page[]): string {
  const path = location.hash.replace(/^#\/?/, "").split("/")[0];
  return pages.some((p) => p.path === path) ? path : pages[0].path;
}

function storedCustom(): CustomRange {
  try {
    return JSON.parse(sessionStorage.getItem("tandem.custom") ?? "") as CustomRange;
  } catch {
    return { from: "", to: "" };
  }
}

function CustomRangeFields({ range, onChange }: { range: CustomRange; onChange: (r: CustomRange) => void }) {
  const [draft, setDraft] = useState(range);
  const problem = customProblem(draft);
  const apply = (next: CustomRange) => {
    setDraft(next);
    if (customProblem(next) === null) onChange(next);
  };
  return (
    <fieldset class="custom-range">
      <legend class="sr-only">Custom range (UTC days)</legend>
      <label>
        <span>First day</span>
        <input type="date" value={draft.from} aria-invalid={problem ? "true" : undefined} aria-describedby="custom-problem" onInput={(e) => apply({ ...draft, from: (e.target as HTMLInputElement).value })} />
      </label>
      <label>
        <span>Last day</span>
        <input type="date" value={draft.to} aria-invalid={problem ? "true" : undefined} aria-describedby="custom-problem" onInput={(e) => apply({ ...draft, to: (e.target as HTMLInputElement).value })} />
      </label>
      {problem && (
        <p id="custom-problem" class="field-error" role="alert">
          {problem}
        </p>
      )}
    </fieldset>
  );
}

function SignIn({ onSignedIn, notice }: { onSignedIn: (who: Identity) => void; notice: string | null }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(notice);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const credential = key.trim();
    if (!credential) {
      setError("Enter the API key (or JWT) your Tandem admin gave you.");
      return;
    }
    setBusy(true);
    try {
      const who = await identify(credential);
      if (who.role === "ingest") {
        setError("This key only sends events (role ingest). Sign in with a viewer, sales, marketing or admin key.");
        return;
      }
      storeCredential(credential);
      onSignedIn(who);
    } catch (exc) {
      const apiError = exc instanceof ApiError ? exc : null;
      setError(
        apiError?.code === "UNAUTHENTICATED"
          ? "That API key was not accepted: it is unknown, revoked or mistyped. Check it and try again."
          : (apiError?.message ?? String(exc)),
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin" id="main">
      <form onSubmit={submit} aria-describedby={error ? "signin-error" : undefined} noValidate>
        <div class="brand big">
          <span class="logo" aria-hidden="true">
            ◆
          </span>{" "}
          Tandem
        </div>
        <h1>Shared dashboard</h1>
        <p class="muted">The numbers sales and marketing look at together, live.</p>
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autocomplete="off"
          value={key}
          aria-invalid={error ? "true" : undefined}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
        />
        {error && (
          <p id="signin-error" class="field-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
        <p class="muted small">The key is kept for this browser tab only and forgotten when you close it.</p>
      </form>
    </main>
  );
}

/** The page tabs; when they are wider than the screen, a cue on the side that scrolls. */
function TabBar({ pages, current }: { pages: readonly Page[]; current: string }) {
  const wrap = useRef<HTMLDivElement>(null);
  const nav = useRef<HTMLElement>(null);
  useEffect(() => {
    const el = nav.current;
    if (!el || !wrap.current) return;
    const update = () => {
      wrap.current!.dataset.moreLeft = String(el.scrollLeft > 2);
      wrap.current!.dataset.moreRight = String(el.scrollLeft + el.clientWidth < el.scrollWidth - 2);
    };
    // The current tab in view, so the cue is about the others. Scrolled by hand: Chromium's
    // scrollIntoView also moves where the next Tab starts, which would skip the skip link.
    const tab = el.querySelector<HTMLElement>('[aria-current="page"]')?.getBoundingClientRect();
    const bar = el.getBoundingClientRect();
    if (tab && tab.left < bar.left) el.scrollLeft -= bar.left - tab.left;
    else if (tab && tab.right > bar.right) el.scrollLeft += tab.right - bar.right;
    update();
    el.addEventListener("scroll", update, { passive: true });
    window.addEventListener("resize", update);
    return () => {
      el.removeEventListener("scroll", update);
      window.removeEventListener("resize", update);
    };
  }, [current]);
  return (
    <div class="tabs-wrap" ref={wrap}>
      <span class="scroll-cue left" aria-hidden="true">
        ‹
      </span>
      <nav class="tabs" aria-label="Dashboard pages" ref={nav}>
        {pages.map((p) => (
          <a href={`#/${p.path}`} aria-current={p.path === current ? "page" : undefined}>
            {p.label}
          </a>
        ))}
      </nav>
      <span class="scroll-cue right" aria-hidden="true">
        ›
      </span>
    </div>
  );
}

function LiveBadge({ status, detail }: { status: LiveStatus; detail: string | null }) {
  const text =
    status === "live"
      ? detail ?? "Live"
      : status === "connecting"
        ? "Connecting…"
        : (detail ?? "Live updates off");
  return (
    <p class={`live ${status}`} role="status" aria-live="polite" data-live-status={status}>
      <span class="dot" aria-hidden="true" /> {text}
    </p>
  );
}

/** A share link's view: `pages` only, read-only; null for a signed-in session. */
interface Shared {
  pages: readonly Page[];
  expiresAt: string;
}

function Shell({ who, onSignOut, shared = null }: { who: Identity; onSignOut: () => void; shared?: Shared | null }) {
  const pages: readonly Page[] = shared?.pages ?? PAGES;
  const [path, setPath] = useState(currentPath(pages));
  const [preset, setPreset] = useState<Preset>(
    (sessionStorage.getItem("tandem.period") as Preset | null) ?? "last-90-days",
  );
  const [custom, setCustom] = useState<CustomRange>(storedCustom);
  const [liveTick, setLiveTick] = useState(0);
  const [live, setLive] = useState<{ status: LiveStatus; detail: string | null }>({
    status: "connecting",
    detail: null,
  });
  const wasLost = useRef(false);
  const main = useRef<HTMLElement>(null);

  useEffect(() => {
    const onHash = () => {
      const next = currentPath(pages);
      setPath((before) => {
        // A new page takes the focus; a lead opened within a page takes it itself.
        if (before !== next) window.setTimeout(() => main.current?.focus());
        return next;
      });
    };
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  useEffect(() => {
    let timer: number | undefined;
    let trailing: number | undefined;
    return connectLive({
      credential: who.credential,
      onChange: () => {
        window.clearTimeout(timer);
        window.clearTimeout(trailing);
        timer = window.setTimeout(() => setLiveTick((t) => t + 1), LIVE_DEBOUNCE_MS);
        // Workers announce a change just before committing it: one more refetch after
        // the burst settles picks up a commit the first one may have missed.
        trailing = window.setTimeout(() => setLiveTick((t) => t + 1), LIVE_SETTLE_MS);
      },
      onStatus: (status, detail) => {
        if (status === "live" && wasLost.current) {
          wasLost.current = false;
          setLive({ status, detail: "Reconnected: live again" });
          setLiveTick((t) => t + 1); // catch up on what happened while disconnected
          return;
        }
        if (status === "reconnecting") wasLost.current = true;
        setLive({ status, detail: detail ?? null });
      },
    });
  }, [who.credential]);

  // Recomputed on live ticks too, so a period "so far" moves on with the clock.
  const period = useMemo(() => periodFor(preset, new Date(), custom), [preset, custom.from, custom.to, Math.floor(Date.now() / 3_600_000)]);
  const session: Session = { ...who, period, liveTick };
  const page = pages.find((p) => p.path === path) ?? pages[0];
  const View = page.view;
  useEffect(() => {
    document.title = `${page.label} · Tandem`;
  }, [page.label]);
  // A revoked or expired link: the gateway closed its live connection.
  if (shared && live.status === "closed") return <LinkEnded />;

  return (
    <SessionContext.Provider value={session}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <div class="brand">
          <span class="logo" aria-hidden="true">
            ◆
          </span>{" "}
          Tandem
        </div>
        <LiveBadge status={live.status} detail={live.detail} />
        {shared ? (
          <p class="who small" data-shared-view>
            Shared view, read-only, until {new Date(shared.expiresAt).toISOString().slice(0, 10)}
          </p>
        ) : (
          <div class="who">
            <span class="tenant" title="tenant">
              {who.tenant}
            </span>
            <span class="role">{who.role}</span>
            <button type="button" class="ghost" onClick={onSignOut}>
              Sign out
            </button>
          </div>
        )}
      </header>
      <TabBar pages={pages} current={page.path} />
      <main id="main" ref={main} tabIndex={-1}>
        <div class="page-head">
          <h1>{page.label}</h1>
          {page.period && (
          <>
          <label class="period">
            <span>Period</span>
            <select
              value={preset}
              onChange={(e) => {
                const value = (e.target as HTMLSelectElement).value as Preset;
                sessionStorage.setItem("tandem.period", value);
                setPreset(value);
              }}
            >
              {PRESETS.map((p) => (
                <option value={p.value}>{p.label}</option>
              ))}
            </select>
          </label>
          {preset === "custom" && (
            <CustomRangeFields
              range={custom}
              onChange={(range) => {
                sessionStorage.setItem("tandem.custom", JSON.stringify(range));
                setCustom(range);
              }}
            />
          )}
          <p class="muted small period-range" data-period-from={period.from.toISOString()} data-period-to={period.to.toISOString()}>
            {describeSpan(period.from, period.to)} (UTC){period.toDate ? ", so far" : ""}; compared with{" "}
            <span data-previous-from={period.previousFrom.toISOString()} data-previous-to={period.previousTo.toISOString()}>
              {describeSpan(period.previousFrom, period.previousTo)}
            </span>
            {period.toDate ? ", the same time into the period before" : ", the period before"}.
          </p>
          </>
          )}
        </div>
        <View />
      </main>
    </SessionContext.Provider>
  );
}

const IDENTITY_KEY = "tandem.identity";

/** The tab's identity from its last sign-in, so a reload paints at once; it is checked
 * again in the background and the key's current role wins. */
function rememberedIdentity(): Identity | null {
  const credential = storedCredential();
  const stored = sessionStorage.getItem(IDENTITY_KEY);
  if (!credential || !stored) return null;
  try {
    const { role, tenant } = JSON.parse(stored) as { role: Role; tenant: string };
    return { credential, role, tenant };
  } catch {
    return null; // unreadable: the background check signs the tab in again
  }
}

function remember(who: Identity | null): void {
  if (who) sessionStorage.setItem(IDENTITY_KEY, JSON.stringify({ role: who.role, tenant: who.tenant }));
  else sessionStorage.removeItem(IDENTITY_KEY);
}

function App() {
  const [who, setWhoState] = useState<Identity | null>(rememberedIdentity);
  const [checking, setChecking] = useState(storedCredential() !== null && who === null);
  const [notice, setNotice] = useState<string | null>(null);
  const setWho = (next: Identity | null) => {
    remember(next);
    setWhoState(next);
  };

  useEffect(() => {
    const credential = storedCredential();
    if (!credential) return;
    identify(credential)
      .then((fresh) => (fresh.role === who?.role && fresh.tenant === who?.tenant ? null : setWho(fresh)))
      .catch(() => {
        storeCredential(null);
        setWho(null);
        setNotice("Your session ended: the key is no longer accepted. Sign in again.");
      })
      .finally(() => setChecking(false));
  }, []);

  if (checking) return <p class="state">Checking your session…</p>;
  if (!who) return <SignIn onSignedIn={setWho} notice={notice} />;
  return (
    <Shell
      who={who}
      onSignOut={() => {
        storeCredential(null);
        setNotice(null);
        setWho(null);
      }}
    />
  );
}

function LinkEnded() {
  return (
    <main class="signin" id="main">
      <section class="panel" data-share-ended>
        <h1>This link no longer works</h1>
        <p>It was revoked or has expired. Ask the person who shared it for a new one.</p>
      </section>
    </main>
  );
}

const SHARE_PAGES: Record<string, Page["path"]> = {
  OVERVIEW: "overview",
  PIPELINE: "pipeline",
  ACCOUNTS: "accounts",
  ATTRIBUTION: "attribution",
  SLA: "sla",
  REVIEW: "review",
  CONTENT: "content",
};
const SHARED_QUERY = "query Shared { viewer { role tenant } sharedView { pages expiresAt } }";

/** `/app/share/<token>`: the pages the link names, read-only and live, without signing in. */
function SharedApp({ token }: { token: string }) {
  const [state, setState] = useState<{ who: Identity; shared: Shared } | "ended" | null>(null);
  useEffect(() => {
    gql<{ viewer: { role: string; tenant: string }; sharedView: { pages: string[]; expiresAt: string } | null }>(SHARED_QUERY, {}, token)
      .then((data) => {
        if (!data.sharedView) return setState("ended");
        const paths = data.sharedView.pages.map((p) => SHARE_PAGES[p]);
        const pages = PAGES.filter((p) => paths.includes(p.path));
        const who = { credential: token, tenant: data.viewer.tenant, role: "viewer" as Role };
        setState(pages.length ? { who, shared: { pages, expiresAt: data.sharedView.expiresAt } } : "ended");
      })
      .catch(() => setState("ended"));
  }, [token]);
  if (state === null) return <p class="state">Opening the shared dashboard…</p>;
  if (state === "ended") return <LinkEnded />;
  return <Shell who={state.who} shared={state.shared} onSignOut={() => setState("ended")} />;
}

const SHARE_TOKEN = /^\/app\/share\/([^/?#]+)/.exec(location.pathname)?.[1] ?? null;
if (SHARE_TOKEN) pinCredential(SHARE_TOKEN);

render(SHARE_TOKEN ? <SharedApp token={SHARE_TOKEN} /> : <App />, document.getElementById("root")!);
