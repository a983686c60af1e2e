import { useEffect } from "preact/hooks";
import { change, fmt } from "../format";
import { addDays, weeksOf } from "../period";
import { Card, ChartBox, DataTable, Empty, ErrorNote, Loading, PALETTE, useQuery, useSession } from "../ui";

const METRIC_FIELDS = `leadsCreated mqls sqls opportunitiesCreated pipelineAmount dealsWon revenue
  dealsLost winRate avgDealValue salesCycleDaysMedian leadToOpportunityRate mqlToSqlRate
  opportunityToCustomerRate pipelineVelocity spend newCustomers cac slaCompliance`;

// The overview query: the same text for every viewer of a tenant and period, so the
// gateway answers it from its cache until the tenant's next change.
export const OVERVIEW_QUERY = `query Overview($from: DateTime!, $to: DateTime!, $previousFrom: DateTime!, $previousTo: DateTime!) {
  current: metrics(from: $from, to: $to) { ${METRIC_FIELDS} }
  previous: metrics(from: $previousFrom, to: $previousTo) { ${METRIC_FIELDS} }
  pipeline { total stages { stage count } }
}`;

const REVENUE_QUERY = `query Revenue($from: DateTime!, $to: DateTime!) {
  sourceQuality(from: $from, to: $to) { channel leads revenue }
  attribution(model: LINEAR, kind: REVENUE, groupBy: CHANNEL, from: $from, to: $to) { key amount }
  total: metrics(from: $from, to: $to) { revenue }
}`;

type Metrics = Record<string, number | null>;

export const FIRST_NUMBERS = "tandem:overview-numbers";

interface Overview {
  current: Metrics;
  previous: Metrics;
  pipeline: { total: number; stages: { stage: string; count: number }[] };
}

type Kind = "int" | "money" | "pct" | "days";
const KPIS: { key: string; label: string; kind: Kind; lowerIsBetter?: boolean; neutral?: boolean }[] = [
  { key: "leadsCreated", label: "New leads", kind: "int" },
  { key: "mqls", label: "MQLs", kind: "int" },
  { key: "sqls", label: "SQLs", kind: "int" },
  { key: "opportunitiesCreated", label: "Opportunities", kind: "int" },
  { key: "pipelineAmount", label: "Pipeline created", kind: "money" },
  { key: "revenue", label: "Revenue won", kind: "money" },
  { key: "dealsWon", label: "Deals won", kind: "int" },
  { key: "winRate", label: "Win rate", kind: "pct" },
  { key: "avgDealValue", label: "Average deal", kind: "money" },
  { key: "salesCycleDaysMedian", label: "Sales cycle (median)", kind: "days", lowerIsBetter: true },
  { key: "pipelineVelocity", label: "Pipeline velocity / day", kind: "money" },
  { key: "cac", label: "CAC", kind: "money", lowerIsBetter: true },
  { key: "spend", label: "Spend", kind: "money", neutral: true },
  { key: "slaCompliance", label: "SLA compliance", kind: "pct" },
];

// Channels whose leads sales found itself, or whose first touch is unknown.
const NOT_MARKETING = new Set(["outbound", "(none)"]);

function Delta({ current, previous, lowerIsBetter, neutral }: { current: number | null; previous: number | null; lowerIsBetter?: boolean; neutral?: boolean }) {
  const delta = change(current, previous);
  if (delta == null) return null;
  const good = neutral ? null : lowerIsBetter ? delta < 0 : delta > 0;
  const arrow = delta > 0 ? "▲" : delta < 0 ? "▼" : "■";
  return (
    <span class={`delta ${delta === 0 || good === null ? "flat" : good ? "up" : "down"}`}>
      <span aria-hidden="true">{arrow}</span> {fmt.pct(Math.abs(delta))}{" "}
      <span class="sr-only">{delta >= 0 ? "up" : "down"}</span>
    </span>
  );
}

function Funnel({ metrics }: { metrics: Metrics }) {
  const steps = [
    { label: "New leads", value: metrics.leadsCreated ?? 0 },
    { label: "MQLs", value: metrics.mqls ?? 0 },
    { label: "SQLs", value: metrics.sqls ?? 0 },
    { label: "Opportunities", value: metrics.opportunitiesCreated ?? 0 },
    { label: "Won", value: metrics.dealsWon ?? 0 },
  ];
  const rows = steps.map((s, i) => ({
    ...s,
    rate: i === 0 || steps[i - 1].value === 0 ? null : s.value / steps[i - 1].value,
  }));
  const summary = `Funnel of the period: ${rows.map((r) => `${r.label} ${r.value}`).join(", ")}`;
  return (
    <>
      <ChartBox
        summary={summary}
        height={220}
        config={{
          type: "bar",
          data: {
            labels: rows.map((r) => r.label),
            datasets: [{ label: "Leads", data: rows.map((r) => r.value), backgroundColor: PALETTE.slice(0, 5), borderRadius: 6 }],
          },
          options: { indexAxis: "y", plugins: { legend: { display: false } } },
        }}
      />
      <DataTable
        caption="Funnel by stage with the conversion from the step before"
        rowKey={(r) => r.label}
        rows={rows}
        empty="No leads in this period."
        columns={[
          { label: "Stage", value: (r) => r.label },
          { label: "Count", value: (r) => <span data-funnel={r.label}>{fmt.int(r.value)}</span>, numeric: true },
          { label: "Conversion", value: (r) => (r.rate == null ? "–" : fmt.pct(r.rate)), numeric: true },
        ]}
      />
    </>
  );
}

function LeadVolume() {
  const { period } = useSession();
  const weeks = weeksOf(period);
  const variables: Record<string, string> = {};
  const fields = weeks.map((monday, i) => {
    variables[`f${i}`] = monday.toISOString();
    variables[`t${i}`] = addDays(monday, 7).toISOString();
    return `w${i}: metrics(from: $f${i}, to: $t${i}) { leadsCreated mqls }`;
  });
  const args = weeks.map((_, i) => `$f${i}: DateTime!, $t${i}: DateTime!`).join(", ");
  const query = `query LeadVolume(${args}) { ${fields.join(" ")} }`;
  const { data, error, reload } = useQuery<Record<string, { leadsCreated: number; mqls: number }>>(query, variables);
  if (error) return <ErrorNote error={error} retry={reload} />;
  if (!data) return <Loading what="lead volume" />;
  const rows = weeks.map((monday, i) => ({ week: fmt.date(monday), ...data[`w${i}`] }));
  if (rows.every((r) => r.leadsCreated === 0)) {
    return <Empty>No leads were created in this period. Pick a longer period, or send events to POST /v1/events.</Empty>;
  }
  const summary = `New leads per week: ${rows.map((r) => `week of ${r.week} ${r.leadsCreated}`).join(", ")}`;
  return (
    <>
      <ChartBox
        summary={summary}
        config={{
          type: "bar",
          data: {
            labels: rows.map((r) => r.week),
            datasets: [
              { label: "New leads", data: rows.map((r) => r.leadsCreated), backgroundColor: PALETTE[0], borderRadius: 4 },
              { label: "MQLs", data: rows.map((r) => r.mqls), backgroundColor: PALETTE[1], borderRadius: 4 },
            ],
          },
          options: { plugins: { legend: { position: "bottom" } } },
        }}
      />
      <details>
        <summary>Lead volume as a table</summary>
        <DataTable
          caption="New leads and MQLs per week"
          rowKey={(r) => r.week}
          rows={rows}
          empty="No weeks in this period."
          columns={[
            { label: "Week of", value: (r) => r.week },
            { label: "New leads", value: (r) => fmt.int(r.leadsCreated), numeric: true },
            { label: "MQLs", value: (r) => fmt.int(r.mqls), numeric: true },
          ]}
        />
      </details>
    </>
  );
}

function MarketingRevenue() {
  const { period } = useSession();
  const { data, error, reload } = useQuery<{
    sourceQuality: { channel: string; leads: number; revenue: number }[];
    attribution: { key: string; amount: number }[];
    total: { revenue: number };
  }>(REVENUE_QUERY, { from: period.from.toISOString(), to: period.to.toISOString() });
  if (error) return <ErrorNote error={error} retry={reload} />;
  if (!data) return <Loading what="marketing revenue" />;
  const sourced = data.sourceQuality.filter((r) => !NOT_MARKETING.has(r.channel)).reduce((s, r) => s + r.revenue, 0);
  const influenced = data.attribution.filter((r) => r.key !== "(unattributed)").reduce((s, r) => s + r.amount, 0);
  const total = data.total.revenue;
  return (
    <dl class="figures">
      <div>
        <dt>Marketing-sourced revenue</dt>
        <dd data-figure="sourced">{fmt.money(sourced)}</dd>
        <dd class="muted small">won so far by leads created in the period whose first touch was a marketing channel</dd>
      </div>
      <div>
        <dt>Marketing-influenced revenue</dt>
        <dd data-figure="influenced">{fmt.money(influenced)}</dd>
        <dd class="muted small">
          revenue won in the period with at least one marketing touch{total > 0 ? ` (${fmt.pct(influenced / total)} of ${fmt.money(total)})` : ""}
        </dd>
      </div>
    </dl>
  );
}

export function OverviewPage() {
  const { period } = useSession();
  const { data, error, reload } = useQuery<Overview>(OVERVIEW_QUERY, {
    from: period.from.toISOString(),
    to: period.to.toISOString(),
    previousFrom: period.previousFrom.toISOString(),
    previousTo: period.previousTo.toISOString(),
  });
  useEffect(() => {
    // User-timing mark of the first meaningful paint (effects run after the paint).
    if (data && performance.getEntriesByName(FIRST_NUMBERS).length === 0) {
      performance.mark(FIRST_NUMBERS);
    }
  }, [data]);
  const kpis = data && (
    <section class="kpis wide" aria-label={`Key metrics, ${period.label.toLowerCase()}`}>
      {KPIS.map((k) => (
        <div class="kpi" key={k.key}>
          <p class="kpi-label">{k.label}</p>
          <p class="kpi-value" data-metric={k.key} data-value={data.current[k.key] ?? ""}>
            {fmt[k.kind](data.current[k.key])}
          </p>
          <p class="kpi-prev">
            <Delta current={data.current[k.key]} previous={data.previous[k.key]} lowerIsBetter={k.lowerIsBetter} neutral={k.neutral} />
            <span class="muted small"> previous period {fmt[k.kind](data.previous[k.key])}</span>
          </p>
        </div>
      ))}
    </section>
  );
  const pipeline = data?.pipeline;
  // The three cards query in parallel: nothing waits for another answer to start.
  return (
    <div class="grid">
      {error && <ErrorNote error={error} retry={reload} />}
      {kpis ?? (!error && <Loading what="the key metrics" />)}
      <Card title="Lead volume by week" wide>
        <LeadVolume />
      </Card>
      <Card title="Funnel of the period">{data ? <Funnel metrics={data.current} /> : <Loading what="the funnel" />}</Card>
      <Card title="Marketing revenue">
        <MarketingRevenue />
        {pipeline && (
          <>
            <h3>Where leads stand now</h3>
            <p class="muted small">
              <span data-pipeline-total={pipeline.total}>{fmt.int(pipeline.total)}</span> leads in total
            </p>
            <ul class="stage-bars">
              {pipeline.stages.map((s) => (
                <li key={s.stage}>
                  <span class="stage-name">{fmt.label(s.stage)}</span>
                  <span class="bar" aria-hidden="true">
                    <span style={{ width: `${pipeline.total ? (100 * s.count) / pipeline.total : 0}%` }} />
                  </span>
                  <span class="num" data-stage={s.stage}>
                    {fmt.int(s.count)}
                  </span>
                </li>
              ))}
            </ul>
          </>
        )}
      </Card>
    </div>
  );
}
