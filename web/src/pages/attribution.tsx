import { useState } from "preact/hooks";
import { fmt } from "../format";
import { Card, ChartBox, DataTable, download, ErrorNote, Loading, PALETTE, useQuery, useSession } from "../ui";

/** The models the API answered, in its order: the seven of SPEC 5 and any it adds. */
function modelsOf(rows: Row[]): string[] {
  const seen = new Set<string>();
  for (const row of rows) for (const credit of row.models) seen.add(credit.model);
  return [...seen];
}

export const COMPARISON_QUERY = `query Attribution($kind: AttributionKind!, $groupBy: AttributionGroup!, $from: DateTime!, $to: DateTime!) {
  attributionComparison(kind: $kind, groupBy: $groupBy, from: $from, to: $to) {
    key models { model credit amount }
  }
}`;

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

export function toCsv(rows: Row[], groupBy: string): string {
  const models = modelsOf(rows);
  const header = [groupBy.toLowerCase(), ...models.map((m) => m.toLowerCase())];
  const lines = rows.map((r) => [r.key, ...models.map((m) => r.models.find((x) => x.model === m)?.amount ?? 0)]);
  return [header, ...lines].map((line) => line.map(csvCell).join(",")).join("\n") + "\n";
}

export function AttributionPage() {
  const { period } = useSession();
  const [kind, setKind] = useState("PIPELINE");
  const [groupBy, setGroupBy] = useState("CHANNEL");
  const { data, error, reload } = useQuery<{ attributionComparison: Row[] }>(COMPARISON_QUERY, {
    kind,
    groupBy,
    from: period.from.toISOString(),
    to: period.to.toISOString(),
  });
  const rows = data?.attributionComparison ?? [];
  const models = modelsOf(rows);
  const amount = (r: Row, m: string) => r.models.find((x) => x.model === m)?.amount ?? 0;
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
            onClick={() => download(`attribution-${what}-${groupBy.toLowerCase()}-${period.preset}.csv`, toCsv(rows, groupBy), "text/csv")}
          >
            Download CSV
          </button>
        </div>
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
              summary={`Attributed ${what} by ${groupBy.toLowerCase()} under ${models.length} models. Largest under linear: ${rows
                .slice(0, 3)
                .map((r) => `${r.key} ${fmt.money(amount(r, "LINEAR"))}`)
                .join(", ")}`}
              config={{
                type: "bar",
                data: {
                  labels: rows.slice(0, 12).map((r) => fmt.label(r.key)),
                  datasets: models.map((m, i) => ({
                    label: fmt.label(m),
                    data: rows.slice(0, 12).map((r) => amount(r, m)),
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
                { label: groupBy === "CHANNEL" ? "Channel" : "Campaign", value: (r) => fmt.label(r.key) },
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
