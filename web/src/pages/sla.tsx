import { fmt } from "../format";
import { Card, ChartBox, DataTable, Empty, ErrorNote, Loading, PALETTE, useQuery, useSession } from "../ui";

const SLA_FIELDS = "mqls responded withinSla breached pending compliance medianResponseHours p90ResponseHours";

export const SLA_QUERY = `query Sla($from: DateTime!, $to: DateTime!) {
  slaReport(from: $from, to: $to) {
    ${SLA_FIELDS}
    byOwnerTeam { group ${SLA_FIELDS} }
    bySource { source ${SLA_FIELDS} }
  }
  openBreaches(first: 50) { edges { node { id kind leadId mqlAt deadline detectedAt } } }
}`;

interface SlaRow {
  mqls: number;
  responded: number;
  withinSla: number;
  breached: number;
  pending: number;
  compliance: number | null;
  medianResponseHours: number | null;
  p90ResponseHours: number | null;
}

function Distribution({ rows, name }: { rows: (SlaRow & { name: string })[]; name: string }) {
  const answered = rows.filter((r) => r.medianResponseHours != null);
  return (
    <>
      {answered.length > 0 && (
        <ChartBox
          height={200}
          summary={`Response time by ${name}: ${answered
            .map((r) => `${r.name} median ${fmt.hours(r.medianResponseHours)}, p90 ${fmt.hours(r.p90ResponseHours)}`)
            .join("; ")}`}
          config={{
            type: "bar",
            data: {
              labels: answered.map((r) => r.name),
              datasets: [
                { label: "Median hours", data: answered.map((r) => r.medianResponseHours ?? 0), backgroundColor: PALETTE[1], borderRadius: 4 },
                { label: "90th percentile hours", data: answered.map((r) => r.p90ResponseHours ?? 0), backgroundColor: PALETTE[2], borderRadius: 4 },
              ],
            },
            options: { plugins: { legend: { position: "bottom" } } },
          }}
        />
      )}
      <DataTable
        caption={`SLA by ${name}`}
        rowKey={(r) => r.name}
        rows={rows}
        empty={`No MQL in this period, so no ${name} to compare.`}
        columns={[
          { label: name[0].toUpperCase() + name.slice(1), value: (r) => r.name },
          { label: "MQLs", value: (r) => fmt.int(r.mqls), numeric: true },
          { label: "In SLA", value: (r) => fmt.pct(r.compliance), numeric: true },
          { label: "Breached", value: (r) => fmt.int(r.breached), numeric: true },
          { label: "Median", value: (r) => fmt.hours(r.medianResponseHours), numeric: true },
          { label: "p90", value: (r) => fmt.hours(r.p90ResponseHours), numeric: true },
        ]}
      />
    </>
  );
}

export function SlaPage() {
  const { period } = useSession();
  const { data, error, reload } = useQuery<{
    slaReport: SlaRow & { byOwnerTeam: (SlaRow & { group: string })[]; bySource: (SlaRow & { source: string })[] };
    openBreaches: { edges: { node: { id: string; kind: string; leadId: string; mqlAt: string; deadline: string } }[] };
  }>(SLA_QUERY, { from: period.from.toISOString(), to: period.to.toISOString() });
  if (error && !data) return <ErrorNote error={error} retry={reload} />;
  if (!data) return <Loading what="the SLA report" />;
  const r = data.slaReport;
  const breaches = data.openBreaches.edges.map((e) => e.node);
  const figures: [string, string, string][] = [
    ["compliance", "Compliance", fmt.pct(r.compliance)],
    ["mqls", "MQLs", fmt.int(r.mqls)],
    ["withinSla", "Answered in time", fmt.int(r.withinSla)],
    ["breached", "Breached", fmt.int(r.breached)],
    ["pending", "Waiting, still in time", fmt.int(r.pending)],
    ["medianResponseHours", "Median first response", fmt.hours(r.medianResponseHours)],
    ["p90ResponseHours", "90th percentile", fmt.hours(r.p90ResponseHours)],
  ];
  return (
    <div class="grid">
      <section class="kpis wide" aria-label="SLA of the period">
        {figures.map(([key, label, text]) => (
          <div class="kpi" key={key}>
            <p class="kpi-label">{label}</p>
            <p class="kpi-value" data-sla={key} data-value={(r as unknown as Record<string, unknown>)[key] ?? ""}>
              {text}
            </p>
          </div>
        ))}
      </section>
      <Card title="Response time by team">
        <Distribution rows={r.byOwnerTeam.map((x) => ({ ...x, name: fmt.label(x.group) }))} name="team" />
      </Card>
      <Card title="Response time by source">
        <Distribution rows={r.bySource.map((x) => ({ ...x, name: fmt.label(x.source) }))} name="source" />
      </Card>
      <Card title="Open breaches" wide>
        {breaches.length === 0 ? (
          <Empty>No open breach: every MQL past its deadline has been answered.</Empty>
        ) : (
          <DataTable
            caption="Open SLA breaches, latest deadline first"
            rowKey={(b) => b.id}
            rows={breaches}
            empty=""
            columns={[
              { label: "Lead", value: (b) => b.leadId },
              { label: "Missed", value: (b) => (b.kind === "RESPONSE" ? "First response" : "Accept or reject") },
              { label: "MQL at", value: (b) => fmt.dateTime(b.mqlAt) },
              { label: "Deadline", value: (b) => fmt.dateTime(b.deadline) },
            ]}
          />
        )}
      </Card>
    </div>
  );
}
