import { useEffect } from "preact/hooks";
import { change, type ChangeKind, fmt } from "../format";
import { bucketsOf } from "../period";
import { Card, ChartBox, DataTable, Definition, Empty, ErrorNote, Loading, PALETTE, useQuery, useSession } from "../ui";

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
const KPIS: { key: string; label: string; kind: Kind; lowerIsBetter?: boolean; neutral?: boolean; definition: string }[] = [
  { key: "leadsCreated", label: "New leads", kind: "int", definition: "Leads created in the period." },
  { key: "mqls", label: "MQLs", kind: "int", definition: "Leads that became marketing-qualified (MQL) in the period." },
  { key: "sqls", label: "SQLs", kind: "int", definition: "Leads that sales accepted as qualified (SQL) in the period." },
  { key: "opportunitiesCreated", label: "Opportunities", kind: "int", definition: "Opportunities (deals) created in the period." },
  { key: "pipelineAmount", label: "Pipeline created", kind: "money", definition: "The total amount of the opportunities created in the period." },
  { key: "revenue", label: "Revenue won", kind: "money", definition: "The total won amount of the deals won in the period." },
  { key: "dealsWon", label: "Deals won", kind: "int", definition: "Deals won in the period." },
  { key: "winRate", label: "Win rate", kind: "pct", definition: "Deals won ÷ (deals won + deals lost), of the deals closed in the period. Its change is in percentage points (pp)." },
  { key: "avgDealValue", label: "Average deal", kind: "money", definition: "Revenue won ÷ deals won in the period." },
  { key: "salesCycleDaysMedian", label: "Sales cycle (median)", kind: "days", lowerIsBetter: true, definition: "The median number of days from opportunity to win, of the deals won in the period." },
  { key: "pipelineVelocity", label: "Pipeline velocity / day", kind: "money", definition: "Opportunities × win rate × average deal ÷ median sales cycle: the revenue the pipeline makes per day." },
  { key: "cac", label: "CAC", kind: "money", lowerIsBetter: true, definition: "Customer acquisition cost: campaign spend ÷ new customers in the period." },
  { key: "spend", label: "Spend", kind: "money", neutral: true, definition: "Campaign spend recorded in the period." },
  { key: "slaCompliance", label: "SLA compliance", kind: "pct", definition: "Of the MQLs of the period whose response time is decided, the share answered within the SLA. Its change is in percentage points (pp)." },
];

// Channels whose leads sales found itself, or whose first touch is unknown.
const NOT_MARKETING = new Set(["outbound", "(none)"]);

export function Delta({ current, previous, kind, lowerIsBetter, neutral }: { current: number | null; previous: number | null; kind: ChangeKind; lowerIsBetter?: boolean; neutral?: boolean }) {
  const delta = change(current, previous, kind);
  if (delta == null) {
    return <span class="delta flat">{current == null ? "no figure yet in this period" : "no figure for the period before"}</span>;
  }
  const good = neutral ? null : lowerIsBetter ? delta.sign < 0 : delta.sign > 0;
  const arrow = delta.sign > 0 ? "▲" : delta.sign < 0 ? "▼" : "=";
  return (
    <span class={`delta ${delta.sign === 0 || good === null ? "flat" : good ? "up" : "down"}`} title={delta.how} data-delta={delta.text}>
      <span aria-hidden="true">{arrow}</span> {delta.text}{" "}
      <span class="sr-only">{delta.sign > 0 ? "up" : delta.sign < 0 ? "down" : "unchanged"} ({delta.how})</span>
    </span>
  );
}

const FUNNEL_QUERY = `query CohortFunnel($from: DateTime!, $to: DateTime!) {
  cohortFunnel(from: $from, to: $to) { fromStage toStage entered converted rate }
}`;

interface Step {
  fromStage: string;
  toStage: string;
  entered: number;
  converted: number;
  rate: number | null;
}

const STEP_NAMES: Record<string, string> = {
  AWARE: "New leads",
  MQL: "MQLs",
  SQL: "SQLs",
  OPPORTUNITY: "Opportunities",
  CUSTOMER: "Customers",
};

/** The cohort funnel: of the leads that reached a stage in the period, the share that
 * went on to the next (a true conversion, never above 100 %). */
function Funnel() {
  const { period } = useSession();
  const { data, error, reload } = useQuery<{ cohortFunnel: Step[] }>(FUNNEL_QUERY, { from: period.from.toISOString(), to: period.to.toISOString() });
  if (error) return <ErrorNote error={error} retry={reload} />;
  if (!data) return <Loading what="the funnel" />;
  const steps = data.cohortFunnel;
  const summary = `Funnel of the period: ${steps
    .map((s) => `of ${s.entered} ${STEP_NAMES[s.fromStage]}, ${s.converted} reached ${STEP_NAMES[s.toStage]}`)
    .join("; ")}`;
  return (
    <>
      <p class="muted small">
        Of the leads that reached each stage in the period, how many have reached the next one since.
        <Definition text="A true conversion: the leads counted in a row are the same people in both columns, so a rate is never above 100%. Leads that skipped a stage (e.g. straight to an opportunity) count as converted." />
      </p>
      <ChartBox
        summary={summary}
        height={220}
        config={{
          type: "bar",
          data: {
            labels: steps.map((s) => `${STEP_NAMES[s.fromStage]} → ${STEP_NAMES[s.toStage]}`),
            datasets: [
              { label: "Reached the stage in the period", data: steps.map((s) => s.entered), backgroundColor: PALETTE[5], borderRadius: 4 },
              { label: "Went on to the next", data: steps.map((s) => s.converted), backgroundColor: PALETTE[0], borderRadius: 4 },
            ],
          },
          options: { indexAxis: "y", plugins: { legend: { position: "bottom" } } },
        }}
      />
      <DataTable
        caption="Cohort funnel: of the leads that reached a stage in the period, how many reached the next"
        rowKey={(s) => s.fromStage}
        rows={steps}
        empty="No leads in this period."
        columns={[
          { label: "Step", value: (s) => `${STEP_NAMES[s.fromStage]} → ${STEP_NAMES[s.toStage]}` },
          { label: "Reached in period", value: (s) => <span data-funnel-entered={s.fromStage}>{fmt.int(s.entered)}</span>, numeric: true },
          { label: "Went on", value: (s) => <span data-funnel-converted={s.fromStage}>{fmt.int(s.converted)}</span>, numeric: true },
          { label: "Conversion", value: (s) => <span data-funnel-rate={s.fromStage}>{fmt.pct(s.rate)}</span>, numeric: true },
        ]}
      />
    </>
  );
}

function LeadVolume() {
  const { period } = useSession();
  const buckets = bucketsOf(period);
  const variables: Record<string, string> = {};
  const fields = buckets.map((bucket, i) => {
    variables[`f${i}`] = bucket.from.toISOString();
    variables[`t${i}`] = bucket.to.toISOString();
    return `w${i}: metrics(from: $f${i}, to: $t${i}) { leadsCreated mqls }`;
  });
  const args = buckets.map((_, i) => `$f${i}: DateTime!, $t${i}: DateTime!`).join(", ");
  const query = `query LeadVolume(${args}) { ${fields.join(" ")} }`;
  const { data, error, reload } = useQuery<Record<string, { leadsCreated: number; mqls: number }>>(query, variables);
  if (error) return <ErrorNote error={error} retry={reload} />;
  if (!data) return <Loading what="lead volume" />;
  // Buckets are cut to the period, so the bars add up to the tiles above.
  const rows = buckets.map((b, i) => ({ week: b.partial ? `${b.label} (part)` : b.label, ...data[`w${i}`] }));
  if (rows.every((r) => r.leadsCreated === 0)) {
    return <Empty>No leads were created in this period. Pick a longer period, or send events to POST /v1/events.</Empty>;
  }
  const unit = buckets[0]?.unit ?? "week";
  const summary = `New leads per ${unit}: ${rows.map((r) => `${unit} of ${r.week} ${r.leadsCreated}`).join(", ")}`;
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
          caption={`New leads and MQLs per ${unit}, within the period`}
          rowKey={(r) => r.week}
          rows={rows}
          empty="No weeks in this period."
          columns={[
            { label: unit === "week" ? "Week of" : "Month", value: (r) => r.week },
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
          <p class="kpi-label">
            {k.label}
            <Definition text={k.definition} />
          </p>
          <p class="kpi-value" data-metric={k.key} data-value={data.current[k.key] ?? ""}>
            {fmt[k.kind](data.current[k.key])}
          </p>
          <p class="kpi-prev">
            <Delta current={data.current[k.key]} previous={data.previous[k.key]} kind={k.kind} lowerIsBetter={k.lowerIsBetter} neutral={k.neutral} />
            {data.previous[k.key] != null && data.current[k.key] != null && <span class="muted small"> vs {fmt[k.kind](data.previous[k.key])}</span>}
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
      <Card title="Lead volume over the period" wide>
        <LeadVolume />
      </Card>
      <Card title="Funnel of the period">
        <Funnel />
      </Card>
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
