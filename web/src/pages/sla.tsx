import { fmt } from "../format";
import { LeadLink, PERSON_FIELDS, type Person } from "../people";
import { Card, ChartBox, DataTable, Definition, Empty, ErrorNote, Loading, PALETTE, useQuery, useSession } from "../ui";
import { RESPONSE_GROUPS } from "../words";
import { Delta } from "./overview";

const SLA_FIELDS = "mqls responded withinSla breached pending compliance medianResponseHours p90ResponseHours";

export const SLA_QUERY = `query Sla($from: DateTime!, $to: DateTime!, $previousFrom: DateTime!, $previousTo: DateTime!) {
  slaReport(from: $from, to: $to) {
    ${SLA_FIELDS}
    byOwnerTeam { group ${SLA_FIELDS} }
    bySource { source ${SLA_FIELDS} }
  }
  previous: slaReport(from: $previousFrom, to: $previousTo) { ${SLA_FIELDS} }
  openBreaches(first: 50) { edges { node { id kind leadId mqlAt deadline detectedAt lead { ${PERSON_FIELDS} opportunities { amount status } } } } }
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
    previous: SlaRow;
    openBreaches: { edges: { node: { id: string; kind: string; leadId: string; mqlAt: string; deadline: string; lead: (Person & { opportunities: { amount: number; status: string }[] }) | null } }[] };
  }>(SLA_QUERY, {
    from: period.from.toISOString(),
    to: period.to.toISOString(),
    previousFrom: period.previousFrom.toISOString(),
    previousTo: period.previousTo.toISOString(),
  });
  if (error && !data) return <ErrorNote error={error} retry={reload} />;
  if (!data) return <Loading what="the SLA report" />;
  const r = data.slaReport;
  const breaches = data.openBreaches.edges.map((e) => e.node);
  const p = data.previous;
  type Kind = "pct" | "int" | "hours";
  const figures: [keyof SlaRow, string, Kind, string, boolean?][] = [
    ["compliance", "Compliance", "pct", "Of the period's MQLs whose outcome is decided, the share first answered within the SLA. Its change is in percentage points (pp).", false],
    ["mqls", "MQLs", "int", "Leads that became MQL in the period."],
    ["withinSla", "Answered in time", "int", "MQLs of the period first answered by sales within the SLA."],
    ["breached", "Breached", "int", "MQLs of the period answered late, or not answered and past the deadline.", true],
    ["pending", "Waiting, still in time", "int", "MQLs not answered yet whose deadline has not passed."],
    ["medianResponseHours", "Median first response", "hours", "The median time from MQL to the first sales response.", true],
    ["p90ResponseHours", "90th percentile", "hours", "Nine in ten answered MQLs were answered within this time.", true],
  ];
  return (
    <div class="grid">
      <section class="kpis wide" aria-label="SLA of the period">
        {figures.map(([key, label, kind, definition, lowerIsBetter]) => (
          <div class="kpi" key={key}>
            <p class="kpi-label">
              {label}
              <Definition text={definition} />
            </p>
            <p class="kpi-value" data-sla={key} data-value={r[key] ?? ""}>
              {fmt[kind](r[key])}
            </p>
            <p class="kpi-prev">
              <Delta current={r[key]} previous={p[key]} kind={kind} lowerIsBetter={lowerIsBetter} neutral={key === "mqls" || key === "pending"} />
              {p[key] != null && r[key] != null && <span class="muted small"> vs {fmt[kind](p[key])}</span>}
            </p>
          </div>
        ))}
      </section>
      <Card title="Response time by first response">
        <Distribution rows={r.byOwnerTeam.map((x) => ({ ...x, name: RESPONSE_GROUPS[x.group] ?? fmt.label(x.group) }))} name="first response" />
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
              { label: "Lead", value: (b) => <LeadLink lead={b.lead} id={b.leadId} /> },
              {
                label: "Open deal",
                numeric: true,
                value: (b) => {
                  const open = b.lead?.opportunities.filter((o) => o.status === "OPEN") ?? [];
                  return open.length ? fmt.money(open.reduce((sum, o) => sum + o.amount, 0)) : "–";
                },
              },
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
