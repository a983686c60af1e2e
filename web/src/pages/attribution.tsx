import { useState } from "preact/hooks";
import { fmt } from "../format";
import { Delta } from "./overview";
import { isoDay } from "../period";
import { Card, ChartBox, DataTable, download, ErrorNote, Loading, PALETTE, useQuery, useSession } from "../ui";

/** The models the API answered, in its order: the seven of SPEC 5 and any it adds. */
function modelsOf(rows: Row[]): string[] {
  const seen = new Set<string>();
  for (const row of rows) for (const credit of row.models) seen.add(credit.model);
  return [...seen];
}

export const COMPARISON_QUERY = `query Attribution($kind: AttributionKind!, $groupBy: AttributionGroup!, $from: DateTime!, $to: DateTime!, $previousFrom: DateTime!, $previousTo: DateTime!) {
  attributionComparison(kind: $kind, groupBy: $groupBy, from: $from, to: $to) {
    key models { model credit amount }
  }
  previous: attribution(model: LINEAR, kind: $kind, groupBy: $groupBy, from: $previousFrom, to: $previousTo) { key amount }
}`;

/** The chart shows the largest categories and one "Other" bar for the rest, so every
 * amount is on it; the table lists every category. */
const CHART_TOP = 8;

interface Row {
  key: string;
  models: { model: string; credit: number; amount: number }[];
}

// A cell a spreadsheet would read as a formula (=, +, -, @, tab or CR first) is kept as
// text with a leading apostrophe: a campaign named `=HYPERLINK(...)` by a visitor's UTM
// tags must not run in the reader's spreadsheet.
const FORMULA_START = /^[=+\-@\t\r]/;

function csvCell(value: string | number): string {
  const text = typeof value === "string" && FORMULA_START.test(value) ? `'${value}` : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A category's name as every page writes it. */
function keyName(key: string, groupBy: string): string {
  return groupBy === "CAMPAIGN" && !key.startsWith("(") ? fmt.campaign(key) : fmt.label(key);
}

/** The table as CSV: human column names, the period and currency on every row, amounts
 * rounded to whole currency units. */
export function toCsv(rows: Row[], groupBy: string, period: { from: Date; to: Date }): string {
  const models = modelsOf(rows);
  const last = new Date(period.to.getTime() - 1);
  const span = `${isoDay(period.from)} to ${isoDay(last)}`;
  const header = [groupBy === "CHANNEL" ? "Channel" : "Campaign", "Period (UTC)", "Currency", ...models.map((m) => `${fmt.label(m)} (USD)`)];
  const lines = rows.map((r) => [
    keyName(r.key, groupBy),
    span,
    "USD",
    ...models.map((m) => Math.round(r.models.find((x) => x.model === m)?.amount ?? 0)),
  ]);
  return [header, ...lines].map((line) => line.map(csvCell).join(",")).join("\n") + "\n";
}

export function AttributionPage() {
  const { period } = useSession();
  const [kind, setKind] = useState("PIPELINE");
  const [groupBy, setGroupBy] = useState("CHANNEL");
  const { data, error, reload } = useQuery<{ attributionComparison: Row[]; previous: { key: string; amount: number }[] }>(COMPARISON_QUERY, {
    kind,
    groupBy,
    from: period.from.toISOString(),
    to: period.to.toISOString(),
    previousFrom: period.previousFrom.toISOString(),
    previousTo: period.previousTo.toISOString(),
  });
  const amount = (r: Row, m: string) => r.models.find((x) => x.model === m)?.amount ?? 0;
  const rows = [...(data?.attributionComparison ?? [])].sort((a, b) => amount(b, "LINEAR") - amount(a, "LINEAR"));
  const models = modelsOf(rows);
  const previous = new Map((data?.previous ?? []).map((r) => [r.key, r.amount]));
  const shown = rows.slice(0, rows.length > CHART_TOP + 1 ? CHART_TOP : rows.length);
  const rest = rows.slice(shown.length);
  const chartLabels = [...shown.map((r) => keyName(r.key, groupBy)), ...(rest.length ? [`Other (${rest.length})`] : [])];
  const chartValues = (m: string) => [...shown.map((r) => amount(r, m)), ...(rest.length ? [rest.reduce((sum, r) => sum + amount(r, m), 0)] : [])];
  const what = kind === "PIPELINE" ? "pipeline" : "revenue";
  return (
    <div class="grid">
      <Card title={`Attributed ${what} by ${groupBy.toLowerCase()}, every model side by side`} wide>
        <div class="filters">
          <label>
            <span>Measure</span>
            <select value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value)}>
              <option value="PIPELINE">Pipeline created</option>
              <option value="REVENUE">Revenue won</option>
            </select>
          </label>
          <label>
            <span>Group by</span>
            <select value={groupBy} onChange={(e) => setGroupBy((e.target as HTMLSelectElement).value)}>
              <option value="CHANNEL">Channel</option>
              <option value="CAMPAIGN">Campaign</option>
            </select>
          </label>
          <button
            type="button"
            disabled={rows.length === 0}
            onClick={() => download(`attribution-${what}-by-${groupBy.toLowerCase()}-${isoDay(period.from)}-to-${isoDay(new Date(period.to.getTime() - 1))}.csv`, toCsv(rows, groupBy, period), "text/csv")}
          >
            Download CSV
          </button>
        </div>
        <details class="small">
          <summary>What each model credits</summary>
          <ul class="muted">
            <li>First touch: all to the lead's first marketing touch. Last touch: all to the last one before the deal.</li>
            <li>Linear: equal shares to every touch. Time decay: more to the touches closer to the deal.</li>
            <li>U-shaped: 40% each to the first touch and the lead's creation, the rest shared. W-shaped: 30% each to first touch, creation and opportunity, the rest shared.</li>
            <li>Full path: 22.5% each to first touch, creation, opportunity and the win (for pipeline, as W-shaped), the rest shared. Data-driven: learned from this tenant's own won and lost paths.</li>
            <li>“Linear, period before” is the same campaign or channel under the linear model in the period compared with.</li>
          </ul>
        </details>
        {error && <ErrorNote error={error} retry={reload} />}
        {!data ? (
          <Loading what="attribution" />
        ) : rows.length === 0 ? (
          <p class="state empty">
            No {what} was created in this period, so there is nothing to attribute. Pick a longer period.
          </p>
        ) : (
          <>
            <ChartBox
              height={320}
              summary={`Attributed ${what} by ${groupBy.toLowerCase()} under ${models.length} models, ${rows.length} ${groupBy === "CHANNEL" ? "channels" : "campaigns"}${rest.length ? `, the ${rest.length} smallest as Other` : ""}. Largest under linear: ${rows
                .slice(0, 3)
                .map((r) => `${keyName(r.key, groupBy)} ${fmt.money(amount(r, "LINEAR"))}`)
                .join(", ")}`}
              config={{
                type: "bar",
                data: {
                  labels: chartLabels,
                  datasets: models.map((m, i) => ({
                    label: fmt.label(m),
                    data: chartValues(m),
                    backgroundColor: PALETTE[i % PALETTE.length],
                    borderRadius: 3,
                  })),
                },
                options: { plugins: { legend: { position: "bottom" } }, scales: { y: { ticks: { callback: (v) => fmt.money(Number(v)) } } } },
              }}
            />
            <DataTable
              caption={`Attributed ${what} by ${groupBy.toLowerCase()} under each model`}
              rowKey={(r) => r.key}
              rows={rows}
              empty=""
              columns={[
                { label: groupBy === "CHANNEL" ? "Channel" : "Campaign", value: (r) => keyName(r.key, groupBy) },
                {
                  label: "Linear, period before",
                  numeric: true,
                  value: (r: Row) => <span data-previous={r.key}>{fmt.money(previous.get(r.key) ?? 0)}</span>,
                },
                {
                  label: "Change (linear)",
                  numeric: true,
                  value: (r: Row) => <Delta current={amount(r, "LINEAR")} previous={previous.get(r.key) ?? 0} kind="money" />,
                },
                ...models.map((m) => ({
                  label: fmt.label(m),
                  numeric: true,
                  value: (r: Row) => (
                    <span data-key={r.key} data-model={m} data-value={amount(r, m)}>
                      {fmt.money(amount(r, m))}
                    </span>
                  ),
                })),
              ]}
            />
          </>
        )}
      </Card>
    </div>
  );
}
