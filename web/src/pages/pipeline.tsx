import { useEffect, useState } from "preact/hooks";
import { ApiError, gql } from "../api";
import { GRADES, StageGradeFilters } from "../filters";
import { fmt } from "../format";
import { displayName, leadHref, PERSON_FIELDS, personLine, useRouteParams } from "../people";
import { Card, ChartBox, DataTable, Definition, Empty, ErrorNote, Loading, PALETTE, type Sort, useLandingHeading, useQuery } from "../ui";
import { humaniseRule, humaniseText } from "../words";

const LEAD_BY_ID = "query LeadById($id: ID!) { lead(id: $id) { id } }";
const PAGE = 50;

const SUMMARY_QUERY = `query PipelineSummary {
  pipeline { total stages { stage count } }
  a: leads(fitGrade: A, first: 1) { totalCount }
  b: leads(fitGrade: B, first: 1) { totalCount }
  c: leads(fitGrade: C, first: 1) { totalCount }
  d: leads(fitGrade: D, first: 1) { totalCount }
}`;

const LEADS_QUERY = `query Leads($stage: Stage, $fitGrade: FitGrade, $search: String, $orderBy: LeadOrder, $first: Int, $after: String) {
  leads(stage: $stage, fitGrade: $fitGrade, search: $search, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { ${PERSON_FIELDS} stage fitGrade fitScore engagementScore score matrix firstTouchChannel createdAt } }
  }
}`;

const LEAD_QUERY = `query Lead($id: ID!) {
  tenantConfig { version windowDays engagementRules { eventType } mql { minFit minEngagement } }
  lead(id: $id) {
    ${PERSON_FIELDS} stage highestStage fitScore fitGrade disqualified engagementScore score matrix
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
  name: string | null;
  email: string | null;
  title: string | null;
  company: string | null;
  owner: string | null;
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

const DAY_MS = 86_400_000;

interface ScoringContext {
  version: number;
  windowDays: number;
  engagementRules: { eventType: string }[];
  mql: { minFit: number; minEngagement: number };
}

function LeadDetail({ id, deal, onClose }: { id: string; deal: string | null; onClose: () => void }) {
  // A closed deal's post-mortem has its own address too: #/pipeline/lead/<lead>/deal/<deal>.
  const postMortem = deal;
  const setPostMortem = (opportunity: string) => {
    location.hash = `${leadHref(id)}/deal/${encodeURIComponent(opportunity)}`;
  };
  const { data, error, reload } = useQuery<{ tenantConfig: ScoringContext; lead: (Json & LeadRow & Record<string, any>) | null; touches: { totalCount: number; edges: { node: Touch }[] } }>(LEAD_QUERY, { id });
  const heading = useLandingHeading(data !== null, id);
  if (error) return <ErrorNote error={error} retry={reload} />;
  if (!data) return <Loading what={`lead ${id}`} />;
  const lead = data.lead;
  if (!lead) {
    return (
      <section class="card wide lead-detail" aria-labelledby="lead-title">
        <h2 id="lead-title" tabIndex={-1} ref={heading}>
          No lead “{id}”
        </h2>
        <Empty>This tenant has no lead with that id. Search by name, email, company or domain below.</Empty>
        <button type="button" class="ghost" onClick={onClose}>
          Back to the leads
        </button>
      </section>
    );
  }
  const config = data.tenantConfig;
  const fitRows = (lead.fitEvidence as Json[]) ?? [];
  const engagement = (lead.engagementEvidence as Json[]) ?? [];
  const touches = data.touches.edges.map((e) => e.node);
  // Touches inside the scoring window as of the last scoring, for the explanation below.
  const windowStart = new Date(lead.scoredAt as string).getTime() - config.windowDays * DAY_MS;
  const inWindow = touches.filter((t) => new Date(t.occurredAt).getTime() > windowStart).length;
  const noRules = config.engagementRules.length === 0;
  const emptyEngagement = noRules
    ? `The scoring model has no engagement rules, so no touch earns points: engagement is 0 for every lead. An admin can add rules in Settings.`
    : inWindow > 0
      ? `None of the ${inWindow} touches in the last ${config.windowDays} days matches an engagement rule, so engagement is 0.`
      : `No touch in the last ${config.windowDays} days, so engagement is 0.`;
  const line = personLine(lead);
  return (
    <section class="card wide lead-detail" aria-labelledby="lead-title" data-lead={lead.id}>
      <div class="row between">
        <div>
          <h2 id="lead-title" tabIndex={-1} ref={heading}>
            {displayName(lead)}
          </h2>
          <p class="muted small">
            {line && <span data-lead-line>{line}</span>}
            {lead.email && lead.name ? <> · {lead.email}</> : null}
            {lead.owner ? <> · owner {lead.owner}</> : null}
            <span class="lead-id"> · lead id {lead.id}</span>
          </p>
        </div>
        <div class="row">
          <button
            type="button"
            class="ghost small"
            onClick={() => navigator.clipboard?.writeText(location.href).catch(() => undefined)}
          >
            Copy link
          </button>
          <button type="button" class="ghost" onClick={onClose}>
            Close lead
          </button>
        </div>
      </div>
      {noRules && (
        <p class="note warn" role="status" data-empty-model>
          The scoring model has no engagement rules: every lead's engagement is 0 and no lead can become an MQL by engagement. Restore an earlier version or add rules in Settings.
        </p>
      )}
      <dl class="facts">
        <div><dt>Stage</dt><dd data-lead-stage>{fmt.label(lead.stage)}</dd></div>
        <div><dt>Fit</dt><dd><span data-lead-fit>{lead.fitScore}</span> (grade {lead.fitGrade})</dd></div>
        <div><dt>Engagement</dt><dd data-lead-engagement>{lead.engagementScore}</dd></div>
        <div><dt>Score · matrix<Definition text="Score = fit + engagement (0 to 200). The matrix pairs the fit grade (A to D) with the engagement tier (1: 60 or more, 2: 30 or more, 3: below 30)." /></dt><dd>{lead.score} · {lead.matrix}</dd></div>
        <div><dt>First touch</dt><dd>{lead.firstTouchChannel ? fmt.label(lead.firstTouchChannel) : "–"}</dd></div>
        <div><dt>Created</dt><dd>{fmt.dateTime(lead.createdAt)}</dd></div>
      </dl>
      <PredictionView prediction={lead.prediction as Prediction | null} />
      <h3>Timeline</h3>
      <p class="muted small">
        Each change of stage with the reason as it stood then. Scores change afterwards as touches leave the {config.windowDays}-day window or the scoring model changes; a stage once reached is kept.
      </p>
      <ol class="timeline">
        {(lead.transitions as { fromStage: string | null; toStage: string; at: string; eventId: string; reason: string }[]).map((t) => (
          <li key={t.eventId + t.toStage}>
            <time dateTime={t.at}>{fmt.dateTime(t.at)}</time>
            <strong>
              {t.fromStage ? `${fmt.label(t.fromStage)} → ` : ""}
              {fmt.label(t.toStage)}
            </strong>
            <span class="muted" data-reason>
              {t.fromStage ? "then: " : ""}
              {humaniseText(t.reason)}
            </span>
          </li>
        ))}
      </ol>
      <h3>Fit score evidence</h3>
      <DataTable
        caption="Fit rules that matched"
        rowKey={(r) => String(r.ruleIndex)}
        rows={fitRows}
        empty="No fit rule matched this lead's details, so fit is 0."
        columns={[
          { label: "Rule", value: (r) => humaniseRule(String(r.rule)) },
          { label: "Points", value: (r) => String(r.points ?? ""), numeric: true },
        ]}
      />
      <h3>Engagement evidence (score {lead.engagementScore})</h3>
      <DataTable
        caption="Touches counted by each engagement rule"
        rowKey={(r) => String(r.ruleIndex)}
        rows={engagement}
        empty={emptyEngagement}
        columns={[
          { label: "Rule", value: (r) => humaniseRule(String(r.rule)) },
          { label: "Touches", value: (r) => String(r.touches), numeric: true },
          { label: "Points", value: (r) => `${String(r.points)}${r.capped ? " (capped)" : ""}`, numeric: true },
        ]}
      />
      <h3>Touches</h3>
      <p class="muted small" data-touch-total={data.touches.totalCount}>
        {fmt.int(data.touches.totalCount)} marketing touches, {fmt.int(inWindow)} of them in the last {config.windowDays} days
        {data.touches.totalCount > touches.length ? `; the first ${touches.length} shown` : ""}.
      </p>
      <DataTable
        caption="The lead's marketing touches, oldest first"
        rowKey={(t) => t.eventId}
        rows={touches}
        empty="No marketing touch yet for this lead."
        columns={[
          { label: "Time", value: (t) => <span data-touch={t.eventId}>{fmt.dateTime(t.occurredAt)}</span> },
          { label: "Type", value: (t) => fmt.label(t.type) },
          { label: "Channel", value: (t) => (t.channel ? fmt.label(t.channel) : "No channel") },
          { label: "Campaign", value: (t) => (t.campaignId ? fmt.campaign(t.campaignId) : "–") },
          { label: "Visitor", value: (t) => (t.stitched ? "Anonymous, linked later" : "Known") },
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
              { label: "Stage", value: (o) => (o.stage ? fmt.label(String(o.stage)) : "–") },
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

const SORTS: Record<string, [string, string]> = {
  name: ["NAME_ASC", "NAME_DESC"],
  created: ["CREATED_ASC", "CREATED_DESC"],
  score: ["SCORE_ASC", "SCORE_DESC"],
  fit: ["FIT_ASC", "FIT_DESC"],
  engagement: ["ENGAGEMENT_ASC", "ENGAGEMENT_DESC"],
};

interface LeadPage {
  leads: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: LeadRow }[] };
}

export function PipelinePage() {
  const [stage, setStage] = useState("");
  const [grade, setGrade] = useState("");
  const [search, setSearch] = useState("");
  const [needle, setNeedle] = useState("");
  const [sort, setSort] = useState<Sort>({ key: "created", descending: true });
  const [more, setMore] = useState<{ rows: LeadRow[]; cursor: string | null; hasNext: boolean } | null>(null);
  const [moreError, setMoreError] = useState<ApiError | null>(null);
  const params = useRouteParams();
  const selected = params[0] === "lead" && params[1] ? params[1] : null;
  const variables = {
    stage: stage || null,
    fitGrade: grade || null,
    search: needle || null,
    orderBy: SORTS[sort.key][sort.descending ? 1 : 0],
    first: PAGE,
  };
  const { data, error, reload } = useQuery<LeadPage>(LEADS_QUERY, variables);
  // Pages loaded with "Show more" belong to the first page they follow.
  useEffect(() => setMore(null), [JSON.stringify(variables)]);
  useEffect(() => {
    // Searching as one types, a moment after the last key.
    const timer = window.setTimeout(() => setNeedle(search.trim()), 250);
    return () => window.clearTimeout(timer);
  }, [search]);
  const first = data?.leads;
  // A live refresh of the first page may bring in a lead a later page holds: shown once.
  const seen = new Set<string>();
  const rows = [...(first?.edges.map((e) => e.node) ?? []), ...(more?.rows ?? [])].filter((l) => !seen.has(l.id) && seen.add(l.id));
  const hasNext = more ? more.hasNext : (first?.pageInfo.hasNextPage ?? false);
  const [loadingMore, setLoadingMore] = useState(false);
  const loadMore = async () => {
    if (loadingMore) return;
    setLoadingMore(true);
    const after = more ? more.cursor : (first?.pageInfo.endCursor ?? null);
    try {
      const page = await gql<LeadPage>(LEADS_QUERY, { ...variables, after });
      setMore({
        rows: [...(more?.rows ?? []), ...page.leads.edges.map((e) => e.node)],
        cursor: page.leads.pageInfo.endCursor,
        hasNext: page.leads.pageInfo.hasNextPage,
      });
      setMoreError(null);
    } catch (exc) {
      setMoreError(exc instanceof ApiError ? exc : new ApiError(String(exc), "INTERNAL"));
    } finally {
      setLoadingMore(false);
    }
  };
  const open = (id: string) => {
    location.hash = leadHref(id);
  };
  return (
    <div class="grid">
      <Summary />
      {selected && <LeadDetail id={selected} deal={params[2] === "deal" ? (params[3] ?? null) : null} onClose={() => (location.hash = "#/pipeline")} />}
      <Card title="Leads" wide>
        <form
          class="filters"
          role="search"
          onSubmit={async (e) => {
            e.preventDefault();
            const text = search.trim();
            setNeedle(text);
            if (!text) return;
            // A lead's exact id, or a search that finds exactly one lead, opens it at once.
            const exact = await gql<{ lead: { id: string } | null }>(LEAD_BY_ID, { id: text }).catch(() => null);
            if (exact?.lead) return open(exact.lead.id);
            const found = await gql<LeadPage>(LEADS_QUERY, { ...variables, search: text, first: 2 }).catch(() => null);
            if (found?.leads.edges.length === 1) open(found.leads.edges[0].node.id);
          }}
        >
          <label>
            <span>Search leads</span>
            <input
              type="search"
              value={search}
              placeholder="Name, email, company, domain or id"
              onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
            />
          </label>
          <StageGradeFilters stage={stage} grade={grade} onStage={setStage} onGrade={setGrade} />
          <button type="submit">Search</button>
        </form>
        {error && <ErrorNote error={error} retry={reload} />}
        {!first ? (
          <Loading what="leads" />
        ) : (
          <>
            <p class="muted small" aria-live="polite" data-lead-count={first.totalCount}>
              {fmt.int(first.totalCount)} {first.totalCount === 1 ? "lead matches" : "leads match"}
              {needle ? ` “${needle}”` : ""}; showing {fmt.int(rows.length)}.
            </p>
            <DataTable
              caption="Leads"
              rowKey={(l) => l.id}
              rows={rows}
              sort={sort}
              onSort={setSort}
              empty={needle ? `No lead’s name, email, company, domain or id contains “${needle}”.` : "No lead matches. Pick another stage or grade."}
              columns={[
                {
                  label: "Lead",
                  sortKey: "name",
                  value: (l) => (
                    <span class="person">
                      <a href={leadHref(l.id)} data-lead-link={l.id}>
                        {displayName(l)}
                      </a>
                      {l.email && l.name && <span class="muted small person-line">{l.email}</span>}
                    </span>
                  ),
                },
                { label: "Title", value: (l) => l.title ?? "–" },
                { label: "Company", value: (l) => l.company ?? "–" },
                // The CRM owner, where the tenant's leads carry one.
                ...(rows.some((l) => l.owner) ? [{ label: "Owner", value: (l: LeadRow) => l.owner ?? "–" }] : []),
                { label: "Stage", value: (l) => fmt.label(l.stage) },
                { label: "Grade", value: (l) => l.fitGrade },
                { label: "Score", value: (l) => l.score, numeric: true, sortKey: "score" },
                { label: "Fit", value: (l) => l.fitScore, numeric: true, sortKey: "fit" },
                { label: "Engagement", value: (l) => l.engagementScore, numeric: true, sortKey: "engagement" },
                { label: "Source", value: (l) => (l.firstTouchChannel ? fmt.label(l.firstTouchChannel) : "–") },
                { label: "Created", value: (l) => fmt.date(l.createdAt), sortKey: "created" },
              ]}
            />
            {moreError && <ErrorNote error={moreError} retry={loadMore} />}
            {hasNext && (
              <button type="button" class="ghost more" onClick={loadMore} disabled={loadingMore}>
                Show {fmt.int(Math.min(PAGE, first.totalCount - rows.length))} more of {fmt.int(first.totalCount - rows.length)} leads
              </button>
            )}
          </>
        )}
      </Card>
    </div>
  );
}
