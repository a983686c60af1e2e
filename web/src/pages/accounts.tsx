// Accounts (SPEC 17): buying committees by engagement, and one account's members and timeline.
import { useState } from "preact/hooks";
import { StageGradeFilters } from "../filters";
import { fmt } from "../format";
import { displayName, LeadLink, leadHref, PERSON_FIELDS, type Person, useRouteParams } from "../people";
import { Card, DataTable, Empty, ErrorNote, Loading, useLandingHeading, useQuery } from "../ui";

const ACCOUNTS_QUERY = `query Accounts($stage: Stage, $fitGrade: FitGrade) {
  accounts(stage: $stage, fitGrade: $fitGrade, orderBy: ENGAGEMENT_DESC, first: 100) {
    totalCount
    edges { node { id domain memberCount fitScore fitGrade engagementScore stage } }
  }
}`;
const ACCOUNT_QUERY = `query Account($id: ID!) {
  account(id: $id) {
    id domain stage fitGrade engagementScore memberCount
    members { lead { ${PERSON_FIELDS} stage } jobTitle seniority department }
    timeline(first: 100) { eventId leadId type occurredAt channel campaignId }
  }
}`;

interface AccountRow {
  id: string;
  domain: string | null;
  memberCount: number;
  fitScore: number;
  fitGrade: string;
  engagementScore: number;
  stage: string;
}
interface AccountDetail extends Omit<AccountRow, "fitScore"> {
  members: { lead: Person & { stage: string }; jobTitle: string | null; seniority: string | null; department: string | null }[];
  timeline: { eventId: string; leadId: string; type: string; occurredAt: string; channel: string | null; campaignId: string | null }[];
}

function AccountView({ id, onClose }: { id: string; onClose: () => void }) {
  const { data, error, reload } = useQuery<{ account: AccountDetail | null }>(ACCOUNT_QUERY, { id });
  const heading = useLandingHeading(data !== null, id);
  if (error) return <ErrorNote error={error} retry={reload} />;
  if (!data) return <Loading what={`account ${id}`} />;
  const account = data.account;
  if (!account) return <Empty>No account with the id “{id}” in this tenant.</Empty>;
  const people = new Map(account.members.map((m) => [m.lead.id, m.lead]));
  return (
    <section class="card wide" aria-labelledby="account-title">
      <div class="row between">
        <h2 id="account-title" tabIndex={-1} ref={heading}>
          Account {account.domain ?? account.id}
        </h2>
        <button type="button" class="small" onClick={onClose}>
          Close account
        </button>
      </div>
      <p>
        Stage <strong data-account-stage>{fmt.label(account.stage)}</strong>, grade {account.fitGrade}, engagement {account.engagementScore},{" "}
        <span data-account-members={account.memberCount}>{account.memberCount}</span> members.
      </p>
      <h3>Buying committee</h3>
      <DataTable
        caption="Members of the account"
        rowKey={(m) => m.lead.id}
        rows={account.members}
        empty="No member yet."
        columns={[
          { label: "Person", value: (m) => <span data-member={m.lead.id}><LeadLink lead={m.lead} id={m.lead.id} compact /></span> },
          { label: "Stage", value: (m) => fmt.label(m.lead.stage) },
          { label: "Title", value: (m) => m.jobTitle ?? "–" },
          { label: "Department", value: (m) => (m.department ? fmt.label(m.department) : "–") },
        ]}
      />
      <h3>Timeline</h3>
      <DataTable
        caption="Every member's events, oldest first"
        rowKey={(e) => e.eventId}
        rows={account.timeline}
        empty="No event yet."
        columns={[
          { label: "Time", value: (e) => <span data-account-event={e.eventId}>{fmt.dateTime(e.occurredAt)}</span> },
          { label: "Person", value: (e) => <a href={leadHref(e.leadId)}>{people.has(e.leadId) ? displayName(people.get(e.leadId)!) : `Lead ${e.leadId}`}</a> },
          { label: "Type", value: (e) => fmt.label(e.type) },
          { label: "Channel", value: (e) => (e.channel ? fmt.label(e.channel) : "–") },
          { label: "Campaign", value: (e) => (e.campaignId ? fmt.campaign(e.campaignId) : "–") },
        ]}
      />
    </section>
  );
}

export function AccountsPage() {
  const [stage, setStage] = useState("");
  const [grade, setGrade] = useState("");
  const params = useRouteParams();
  // An account has its own address (#/accounts/<id>), so it can be shared and reopened.
  const selected = params[0] ? params[0] : null;
  const setSelected = (id: string | null) => {
    location.hash = id ? `#/accounts/${encodeURIComponent(id)}` : "#/accounts";
  };
  const { data, error, reload } = useQuery<{ accounts: { totalCount: number; edges: { node: AccountRow }[] } }>(ACCOUNTS_QUERY, {
    stage: stage || null,
    fitGrade: grade || null,
  });
  return (
    <div class="grid">
      {selected && <AccountView id={selected} onClose={() => setSelected(null)} />}
      <Card title="Accounts by engagement" wide>
        <div class="filters">
          <StageGradeFilters stage={stage} grade={grade} onStage={setStage} onGrade={setGrade} />
        </div>
        {error && <ErrorNote error={error} retry={reload} />}
        {!data ? (
          <Loading what="accounts" />
        ) : (
          <>
            <p class="muted small" aria-live="polite" data-account-total={data.accounts.totalCount}>
              {fmt.int(data.accounts.totalCount)} accounts match.
            </p>
            <DataTable
              caption="Accounts, most engaged first"
              rowKey={(a) => a.id}
              rows={data.accounts.edges.map((e) => e.node)}
              empty="No account matches. Accounts form from identify events naming a company domain."
              columns={[
                {
                  label: "Account",
                  value: (a) => (
                    <button type="button" class="link" data-account={a.id} onClick={() => setSelected(a.id)}>
                      {a.domain ?? a.id}
                    </button>
                  ),
                },
                { label: "Stage", value: (a) => fmt.label(a.stage) },
                { label: "Grade", value: (a) => a.fitGrade },
                { label: "Members", value: (a) => a.memberCount, numeric: true },
                { label: "Engagement", value: (a) => a.engagementScore, numeric: true },
              ]}
            />
          </>
        )}
      </Card>
    </div>
  );
}
