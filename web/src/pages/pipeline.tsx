import { useState } from "preact/hooks";
import { GRADES, StageGradeFilters } from "../filters";
import { fmt } from "../format";
import { Card, ChartBox, DataTable, Empty, ErrorNote, Loading, PALETTE, useQuery } from "../ui";

const PAGE = 25;

const SUMMARY_QUERY = `query PipelineSummary {
  pipeline { total stages { stage count } }
  a: leads(fitGrade: A, first: 1) { totalCount }
  b: leads(fitGrade: B, first: 1) { totalCount }
  c: leads(fitGrade: C, first: 1) { totalCount }
  d: leads(fitGrade: D, first: 1) { totalCount }
}`;

const LEADS_QUERY = `query Leads($stage: Stage, $fitGrade: FitGrade) {
  leads(stage: $stage, fitGrade: $fitGrade, first: 200) {
    totalCount
    edges { node { id stage fitGrade fitScore engagementScore score matrix firstTouchChannel createdAt } }
  }
}`;

const LEAD_QUERY = `query Lead($id: ID!) {
  lead(id: $id) {
    id stage highestStage fitScore fitGrade disqualified engagementScore score matrix
    createdAt mqlAt sqlAt opportunityAt customerAt accountId firstTouchChannel scoredAt
    traits fitEvidence engagementEvidence
    prediction { probability percentile tier factors { feature contribution } }
    transitions { fromStage toStage at eventId reason }
    opportunities { id amount status stage createdAt closedAt lostReason }
  }
  touches: leadTouches(leadId: $id, first: 100) {
    totalCount
    edges { node { eventId type channel campaignId occurredAt stitched } }
  }
}`;

interface LeadRow {
  id: string;
  stage: string;
  fitGrade: string;
  fitScore: number;
  engagementScore: number;
  score: number;
  matrix: string;
  firstTouchChannel: string | null;
  createdAt: string;
}

function Summary() {
  const { data, error, reload } = useQuery<{
    pipeline: { total: number; stages: { stage: string; count: number }[] };
    a: { totalCount: number };
    b: { totalCount: number };
    c: { totalCount: number };
    d: { totalCount: number };
  }>(SUMMARY_QUERY, {});
  if (error) return <ErrorNote error={error} retry={reload} />;
  if (!data) return <Loading what="the pipeline" />;
  const stages = data.pipeline.stages;
  const grades = GRADES.map((g) => ({ grade: g, count: data[g.toLowerCase() as "a"].totalCount }));
  return (
    <>
      <Card title="Leads by stage">
        <ChartBox
          summary={`Leads by stage now: ${stages.map((s) => `${fmt.label(s.stage)} ${s.count}`).join(", ")}`}
          config={{
            type: "bar",
            data: {
              labels: stages.map((s) => fmt.label(s.stage)),
              datasets: [{ label: "Leads", data: stages.map((s) => s.count), backgroundColor: PALETTE[0], borderRadius: 4 }],
            },
            options: { plugins: { legend: { display: false } } },
          }}
        />
        <DataTable
          caption="Leads by stage"
          rowKey={(s) => s.stage}
          rows={stages}
          empty="No leads yet."
          columns={[
            { label: "Stage", value: (s) => fmt.label(s.stage) },
            { label: "Leads", value: (s) => <span data-stage={s.stage}>{fmt.int(s.count)}</span>, numeric: true },
          ]}
        />
      </Card>
      <Card title="Leads by fit grade">
        <ChartBox
          summary={`Leads by fit grade: ${grades.map((g) => `${g.grade} ${g.count}`).join(", ")}`}
          height={180}
          config={{
            type: "doughnut",
            data: {
              labels: grades.map((g) => `Grade ${g.grade}`),
              datasets: [{ data: grades.map((g) => g.count), backgroundColor: PALETTE.slice(0, 4) }],
            },
            options: { plugins: { legend: { position: "right" } } },
          }}
        />
        <DataTable
          caption="Leads by fit grade"
          rowKey={(g) => g.grade}
          rows={grades}
          empty="No leads yet."
          columns={[
            { label: "Grade", value: (g) => g.grade },
            { label: "Leads", value: (g) => <span data-grade={g.grade}>{fmt.int(g.count)}</span>, numeric: true },
          ]}
        />
      </Card>
    </>
  );
}

type Json = Record<string, unknown>;
interface Touch {
  eventId: string;
  type: string;
  channel: string | null;
  campaignId: string | null;
  occurredAt: string;
  stitched: boolean;
}

const POST_MORTEM_QUERY = `query PostMortem($id: ID!) {
  dealPostMortem(opportunityId: $id) {
    opportunityId status amount closedAt lostReason competitor
    qualification { fitAtMql { score grade } fitAtOpportunity { score grade } mqlAt responseAt sla slaMet }
    content { byStage { stage contentIds } gaps }
    messaging { objections { category } answered messagesUsed objectionResponsesAvailable }
  }
}`;

interface PostMortem {
  opportunityId: string;
  status: string;
  amount: number;
  closedAt: string | null;
  lostReason: string | null;
  competitor: string | null;
  qualification: { fitAtMql: { score: number; grade: string } | null; fitAtOpportunity: { score: number; grade: string } | null; mqlAt: string | null; responseAt: string | null; sla: string | null; slaMet: boolean | null };
  content: { byStage: { stage: string; contentIds: string[] }[]; gaps: string[] };
  messaging: { objections: { category: string }[]; answered: number; messagesUsed: string[]; objectionResponsesAvailable: number };
}

// The first response against the SLA, as a finished clause (the key is the API's outcome).
const SLA_SENTENCES: Record<string, string> = {
  WITHIN: "sales answered within the SLA",
  LATE: "sales answered, but after the SLA",
  OVERDUE: "sales never answered, and the SLA has passed",
  PENDING: "sales have not answered yet, and the SLA has not passed",
  NONE: "the response time was not measured, as the lead never became an MQL",
};
const FUNNEL_STAGES: Record<string, string> = {
  TOFU: "the top of the funnel",
  MOFU: "the middle of the funnel",
  BOFU: "the bottom of the funnel",
};

/** "a", "a and b", "a, b and c". */
function listed(parts: string[]): string {
  return parts.length < 2 ? parts.join("") : `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1]}`;
}

/** The three questions of a closed deal (SPEC 17), with their evidence. */
function PostMortemView({ id }: { id: string }) {
  const { data, error, reload } = useQuery<{ dealPostMortem: PostMortem }>(POST_MORTEM_QUERY, { id }, false);
  if (error) return <ErrorNote error={error} retry={reload} />;
  if (!data) return <Loading what={`the post-mortem of ${id}`} />;
  const pm = data.dealPostMortem;
  const q = pm.qualification;
  const fit = (f: { score: number; grade: string } | null) => (f ? `${f.score} (${f.grade})` : "never reached");
  const consumed = pm.content.byStage.reduce((n, s) => n + s.contentIds.length, 0);
  return (
    <div class="postmortem" data-postmortem={pm.opportunityId}>
      <h4>
        Post-mortem of {pm.opportunityId}: {fmt.label(pm.status)} {fmt.money(pm.amount)}
        {pm.lostReason ? `, lost: ${pm.lostReason}` : ""}
        {pm.competitor ? ` to ${pm.competitor}` : ""}
      </h4>
      <ul class="small">
        <li>
          Qualified? Fit at MQL {fit(q.fitAtMql)}, at opportunity {fit(q.fitAtOpportunity)};{" "}
          <span data-postmortem-sla={q.sla ?? "NONE"}>{SLA_SENTENCES[q.sla ?? "NONE"] ?? SLA_SENTENCES.NONE}</span>.
        </li>
        <li>
          Engaged with content? <span data-postmortem-content={consumed}>{consumed}</span> catalogued items consumed
          {pm.content.gaps.length ? `; nothing was consumed at ${listed(pm.content.gaps.map((g) => FUNNEL_STAGES[g] ?? fmt.label(g)))}` : ""}.
        </li>
        <li>
          Messaging matched? <span data-postmortem-objections={pm.messaging.objections.length}>{pm.messaging.objections.length}</span> objections,{" "}
          {pm.messaging.answered} answered; {pm.messaging.messagesUsed.length} messages used.
        </li>
      </ul>
    </div>
  );
}

interface Prediction {
  probability: number;
  percentile: number;
  tier: number;
  factors: { feature: string; contribution: number }[];
}

/** The model's probability for the lead and the five features that moved it most. */
function PredictionView({ prediction: p }: { prediction: Prediction | null }) {
  if (!p) return null;
  return (
    <>
      <h3>Predicted to buy</h3>
      <p data-lead-prediction={p.probability}>
        <strong>{fmt.pct(p.probability)}</strong> chance of becoming a customer within 90 days of creation: better than{" "}
        {p.percentile}% of leads (tier {p.tier} of 4).
      </p>
      <DataTable
        caption="What moved the prediction most"
        rowKey={(f) => f.feature}
        rows={p.factors}
        empty="Nothing sets this lead apart from the average lead."
        columns={[
          { label: "Feature", value: (f) => <span data-lead-factor>{f.feature}</span> },
          { label: "Effect", value: (f) => (f.contribution > 0 ? "raises" : "lowers") },
          { label: "Log-odds", value: (f) => (f.contribution > 0 ? "+" : "") + f.contribution.toFixed(2), numeric: true },
        ]}
      />
    </>
  );
}

function LeadDetail({ id, onClose }: { id: string; onClose: () => void }) {
  const [postMortem, setPostMortem] = useState<string | null>(null);
  const { data, error, reload } = useQuery<{ lead: (Json & LeadRow & Record<string, any>) | null; touches: { totalCount: number; edges: { node: Touch }[] } }>(LEAD_QUERY, { id });
  if (error) return <ErrorNote error={error} retry={reload} />;
  if (!data) return <Loading what={`lead ${id}`} />;
  const lead = data.lead;
  if (!lead) return <Empty>No lead with the id “{id}” in this tenant. Check the id and search again.</Empty>;
  const fitRows = (lead.fitEvidence as Json[]) ?? [];
  const engagement = (lead.engagementEvidence as Json[]) ?? [];
  return (
    <section class="card wide lead-detail" aria-labelledby="lead-title" data-lead={lead.id}>
      <div class="row between">
        <h2 id="lead-title">Lead {lead.id}</h2>
        <button type="button" class="ghost" onClick={onClose}>
          Close lead
        </button>
      </div>
      <dl class="facts">
        <div><dt>Stage</dt><dd data-lead-stage>{fmt.label(lead.stage)}</dd></div>
        <div><dt>Fit</dt><dd><span data-lead-fit>{lead.fitScore}</span> (grade {lead.fitGrade})</dd></div>
        <div><dt>Engagement</dt><dd>{lead.engagementScore}</dd></div>
        <div><dt>Score · matrix</dt><dd>{lead.score} · {lead.matrix}</dd></div>
        <div><dt>First touch</dt><dd>{lead.firstTouchChannel ? fmt.label(lead.firstTouchChannel) : "–"}</dd></div>
        <div><dt>Created</dt><dd>{fmt.dateTime(lead.createdAt)}</dd></div>
      </dl>
      <PredictionView prediction={lead.prediction as Prediction | null} />
      <h3>Timeline</h3>
      <ol class="timeline">
        {(lead.transitions as { fromStage: string | null; toStage: string; at: string; eventId: string; reason: string }[]).map((t) => (
          <li key={t.eventId + t.toStage}>
            <time dateTime={t.at}>{fmt.dateTime(t.at)}</time>
            <strong>
              {t.fromStage ? `${fmt.label(t.fromStage)} → ` : ""}
              {fmt.label(t.toStage)}
            </strong>
            <span class="muted">{t.reason}</span>
            <span class="muted small">event {t.eventId}</span>
          </li>
        ))}
      </ol>
      <h3>Fit score evidence</h3>
      <DataTable
        caption="Fit rules that matched"
        rowKey={(r) => String(r.ruleIndex)}
        rows={fitRows}
        empty="No fit rule matched this lead's traits."
        columns={[
          { label: "Rule", value: (r) => String(r.rule) },
          { label: "Points", value: (r) => String(r.points ?? ""), numeric: true },
        ]}
      />
      <h3>Engagement evidence and touches</h3>
      <DataTable
        caption="Touches counted by each engagement rule"
        rowKey={(r) => String(r.ruleIndex)}
        rows={engagement}
        empty="No touch in the scoring window."
        columns={[
          { label: "Rule", value: (r) => String(r.rule) },
          { label: "Touches", value: (r) => String(r.touches), numeric: true },
          { label: "Points", value: (r) => `${String(r.points)}${r.capped ? " (capped)" : ""}`, numeric: true },
        ]}
      />
      <h3>Touches</h3>
      <p class="muted small" data-touch-total={data.touches.totalCount}>
        {fmt.int(data.touches.totalCount)} marketing touches
        {data.touches.totalCount > data.touches.edges.length ? `; the first ${data.touches.edges.length} shown` : ""}.
      </p>
      <DataTable
        caption="The lead's marketing touches, oldest first"
        rowKey={(t) => t.eventId}
        rows={data.touches.edges.map((e) => e.node)}
        empty="No marketing touch yet for this lead."
        columns={[
          { label: "Time", value: (t) => <span data-touch={t.eventId}>{fmt.dateTime(t.occurredAt)}</span> },
          { label: "Type", value: (t) => fmt.label(t.type) },
          { label: "Channel", value: (t) => (t.channel ? fmt.label(t.channel) : "(none)") },
          { label: "Campaign", value: (t) => t.campaignId ?? "–" },
          { label: "Source", value: (t) => (t.stitched ? "anonymous, stitched" : "identified") },
        ]}
      />
      {(lead.opportunities as Json[]).length > 0 && (
        <>
          <h3>Opportunities</h3>
          <DataTable
            caption="Opportunities of this lead"
            rowKey={(o) => String(o.id)}
            rows={lead.opportunities as Json[]}
            empty=""
            columns={[
              { label: "Opportunity", value: (o) => String(o.id) },
              { label: "Status", value: (o) => fmt.label(String(o.status)) },
              { label: "Amount", value: (o) => fmt.money(o.amount as number), numeric: true },
              { label: "Created", value: (o) => fmt.date(o.createdAt as string) },
              {
                label: "Post-mortem",
                value: (o) =>
                  o.status === "OPEN" ? (
                    "open"
                  ) : (
                    <button type="button" class="small" onClick={() => setPostMortem(String(o.id))}>
                      Post-mortem<span class="sr-only"> of {String(o.id)}</span>
                    </button>
                  ),
              },
            ]}
          />
          {postMortem && <PostMortemView id={postMortem} />}
        </>
      )}
    </section>
  );
}

export function PipelinePage() {
  const [stage, setStage] = useState("");
  const [grade, setGrade] = useState("");
  const [search, setSearch] = useState("");
  const [selected, setSelected] = useState<string | null>(null);
  const [shown, setShown] = useState(PAGE);
  const { data, error, reload } = useQuery<{ leads: { totalCount: number; edges: { node: LeadRow }[] } }>(LEADS_QUERY, {
    stage: stage || null,
    fitGrade: grade || null,
  });
  const needle = search.trim().toLowerCase();
  const rows = (data?.leads.edges ?? []).map((e) => e.node).filter((l) => !needle || l.id.toLowerCase().includes(needle));
  return (
    <div class="grid">
      <Summary />
      {selected && <LeadDetail id={selected} onClose={() => setSelected(null)} />}
      <Card title="Leads" wide>
        <form
          class="filters"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            if (needle) setSelected(search.trim());
          }}
        >
          <label>
            <span>Search lead id</span>
            <input type="search" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
          </label>
          <StageGradeFilters stage={stage} grade={grade} onStage={setStage} onGrade={setGrade} />
          <button type="submit">Open lead</button>
        </form>
        {error && <ErrorNote error={error} retry={reload} />}
        {!data ? (
          <Loading what="leads" />
        ) : (
          <>
            <p class="muted small" aria-live="polite">
              {fmt.int(data.leads.totalCount)} leads match; showing {Math.min(shown, rows.length)}.
            </p>
            <DataTable
              caption="Leads"
              rowKey={(l) => l.id}
              rows={rows.slice(0, shown)}
              empty="No lead matches. Clear the search or pick another stage or grade."
              columns={[
                {
                  label: "Lead",
                  value: (l) => (
                    <button type="button" class="link" onClick={() => setSelected(l.id)}>
                      {l.id}
                    </button>
                  ),
                },
                { label: "Stage", value: (l) => fmt.label(l.stage) },
                { label: "Grade", value: (l) => l.fitGrade },
                { label: "Fit", value: (l) => l.fitScore, numeric: true },
                { label: "Engagement", value: (l) => l.engagementScore, numeric: true },
                { label: "Source", value: (l) => (l.firstTouchChannel ? fmt.label(l.firstTouchChannel) : "–") },
              ]}
            />
            {rows.length > shown && (
              <button type="button" class="ghost more" onClick={() => setShown(shown + PAGE)}>
                Show {Math.min(PAGE, rows.length - shown)} more leads
              </button>
            )}
          </>
        )}
      </Card>
    </div>
  );
}
