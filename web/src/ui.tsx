import { Chart, type ChartConfiguration, registerables } from "chart.js";
import type { ComponentChildren } from "preact";
import { createContext } from "preact";
import { useContext, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, gql, type Role } from "./api";
import type { Period } from "./period";

Chart.register(...registerables);
Chart.defaults.font.family = "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
Chart.defaults.color = "#334155";

export const PALETTE = ["#2563eb", "#0d9488", "#f59e0b", "#db2777", "#7c3aed", "#64748b", "#16a34a", "#0891b2"];

export interface Session {
  credential: string;
  role: Role;
  tenant: string;
  period: Period;
  /** Bumped (debounced) on every lead change the subscription delivers. */
  liveTick: number;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in view");
  return session;
}

interface QueryState<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

/** A detail view's heading, focused once its data is in (and again for another `key`), so
 * keyboard and screen reader users land on what opened. */
export function useLandingHeading(loaded: boolean, key: string) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (loaded) heading.current?.focus();
  }, [loaded, key]);
  return heading;
}

/** Runs a query when its variables change and again on every live tick. A live tick or a
 * retry keeps the numbers on screen while the next answer is on its way; other variables
 * (another period, another grouping) show none until their own answer is in, so a screen
 * never labels one question's numbers with another's. */
export function useQuery<T>(query: string, variables: Record<string, unknown>, live = true): QueryState<T> {
  const { liveTick } = useSession();
  const key = JSON.stringify([query, variables]);
  const [state, setState] = useState<{ data: T | null; error: ApiError | null; loading: boolean; key: string | null }>({
    data: null,
    error: null,
    loading: true,
    key: null,
  });
  const [nonce, setNonce] = useState(0);
  useEffect(() => {
    let cancelled = false;
    setState((s) => ({ ...s, loading: true }));
    gql<T>(query, variables)
      .then((data) => !cancelled && setState({ data, error: null, loading: false, key }))
      .catch(
        (error: unknown) =>
          !cancelled &&
          setState((s) => ({
            data: s.key === key ? s.data : null,
            error: error instanceof ApiError ? error : new ApiError(String(error), "INTERNAL"),
            loading: false,
            key,
          })),
      );
    return () => {
      cancelled = true;
    };
  }, [key, nonce, live ? liveTick : 0]);
  const current = state.key === key;
  return {
    data: current ? state.data : null,
    error: state.error,
    loading: state.loading || !current,
    reload: () => setNonce((n) => n + 1),
  };
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="state" role="status">
      Loading {what}…
    </p>
  );
}

export function ErrorNote({ error, retry }: { error: ApiError; retry?: () => void }) {
  const hint =
    error.code === "UNAUTHENTICATED"
      ? "Sign out and sign in again with a valid API key."
      : error.code === "FORBIDDEN"
        ? "Ask an admin of your tenant for a key with the right role."
        : "Check that the gateway is running, then try again.";
  return (
    <div class="note error" role="alert">
      <strong>That did not load.</strong> {error.message} {hint}{" "}
      {retry && (
        <button type="button" class="link" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state empty">{children}</p>;
}

export function Card({ title, children, wide }: { title: string; children: ComponentChildren; wide?: boolean }) {
  return (
    <section class={wide ? "card wide" : "card"} aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

/** A definition shown on hover and on keyboard focus, and read by screen readers. */
export function Definition({ text }: { text: string }) {
  return (
    <span class="info" tabIndex={0} role="note" aria-label={text} data-tip={text}>
      <span aria-hidden="true">i</span>
    </span>
  );
}

interface Column<R> {
  label: string;
  value: (row: R) => ComponentChildren;
  numeric?: boolean;
  /** The key this column sorts by, when the table is sortable by it. */
  sortKey?: string;
}

export interface Sort {
  key: string;
  descending: boolean;
}

export function DataTable<R>({
  caption,
  columns,
  rows,
  empty,
  rowKey,
  sort,
  onSort,
}: {
  caption: string;
  columns: Column<R>[];
  rows: R[];
  empty: string;
  rowKey: (row: R) => string;
  sort?: Sort;
  onSort?: (sort: Sort) => void;
}) {
  if (rows.length === 0) return <Empty>{empty}</Empty>;
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={caption}>
      <table>
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => {
              const active = sort && c.sortKey === sort.key;
              return (
                <th
                  scope="col"
                  class={c.numeric ? "num" : undefined}
                  aria-sort={active ? (sort.descending ? "descending" : "ascending") : undefined}
                >
                  {c.sortKey && onSort ? (
                    <button
                      type="button"
                      class="sort"
                      data-sort={c.sortKey}
                      onClick={() => onSort({ key: c.sortKey!, descending: active ? !sort.descending : c.numeric === true })}
                    >
                      {c.label}
                      <span aria-hidden="true">{active ? (sort.descending ? " ▼" : " ▲") : " ↕"}</span>
                      <span class="sr-only">{active ? `, sorted ${sort.descending ? "descending" : "ascending"}` : ", sort"}</span>
                    </button>
                  ) : (
                    c.label
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)}>
              {columns.map((c, i) =>
                i === 0 ? (
                  <th scope="row">{c.value(row)}</th>
                ) : (
                  <td class={c.numeric ? "num" : undefined}>{c.value(row)}</td>
                ),
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A Chart.js canvas exposed as one image whose label summarises the data; the table next
 * to it carries every number for screen readers and keyboard users. */
export function ChartBox({ config, summary, height = 240 }: { config: ChartConfiguration; summary: string; height?: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart | null>(null);
  useEffect(() => {
    if (!canvas.current) return;
    if (chart.current) {
      chart.current.data = config.data;
      chart.current.update("none");
      return;
    }
    chart.current = new Chart(canvas.current, {
      ...config,
      options: { responsive: true, maintainAspectRatio: false, animation: false, ...config.options },
    });
  }, [JSON.stringify(config.data)]);
  useEffect(() => () => chart.current?.destroy(), []);
  return (
    <div class="chart" style={{ height: `${height}px` }}>
      <canvas ref={canvas} role="img" aria-label={summary}>
        {summary}
      </canvas>
    </div>
  );
}

export function download(filename: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  URL.revokeObjectURL(url);
}
