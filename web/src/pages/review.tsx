import { useState } from "preact/hooks";
import { can, gql } from "../api";
import { fmt } from "../format";
import { Choice, FieldError, useAttempt } from "../forms";
import { addDays, isoDay, mondayOf } from "../period";
import { LeadLink, PERSON_FIELDS } from "../people";
import { Card, DataTable, Definition, download, Empty, ErrorNote, Loading, useQuery, useSession } from "../ui";

export const REVIEW_QUERY = `query Review($weekStart: Date!) {
  weeklyReview(weekStart: $weekStart) {
    weekStart from to
    newLeads { channel leads mqls avgFitScore }
    sla { mqls responded withinSla breached pending medianResponseHours }
    stageMoves { opportunityId leadId fromStage stage amount at lead { ${PERSON_FIELDS} } }
    stalled { opportunityId leadId stage amount daysStalled lead { ${PERSON_FIELDS} } }
    topObjections { category count lastWeekCount }
    contentForDeals { opportunityId leadId stage suggestions { contentId title url funnelStage matchedObjections } lead { ${PERSON_FIELDS} opportunities { id amount } } }
    closedDeals { opportunityId leadId won amount reason competitor channel fitGrade closedAt lead { ${PERSON_FIELDS} } }
    actionItems { id title owner team dueDate status weekStart }
    wins {
      dealsWon { opportunityId leadId amount campaigns content { contentId title } }
      topCampaign { campaignId pipeline opportunities }
      fastestResponses { leadId hours }
    }
    carriedOver { id title owner team dueDate status weekStart }
  }
}`;

const MARKDOWN_QUERY = "query ReviewMarkdown($weekStart: Date!) { weeklyReviewMarkdown(weekStart: $weekStart) }";
const UPDATE_ITEM = `mutation UpdateActionItem($id: ID!, $input: ActionItemUpdateInput!) {
  updateActionItem(id: $id, input: $input) { id title owner team dueDate status }
}`;
const CREATE_ITEM = `mutation CreateActionItem($input: ActionItemInput!) { createActionItem(input: $input) { id } }`;
const STATUSES = ["OPEN", "IN_PROGRESS", "DONE", "DROPPED"];
const TEAMS = ["SALES", "MARKETING", "BOTH"];

interface ActionItem {
  id: string;
  title: string;
  owner: string;
  team: string;
  dueDate: string | null;
  status: string;
}

function ItemRow({ item, editable, onSaved }: { item: ActionItem; editable: boolean; onSaved: () => void }) {
  const { problem, attempt } = useAttempt();
  const save = async (input: Partial<ActionItem>) => {
    if (await attempt(() => gql(UPDATE_ITEM, { id: item.id, input }))) onSaved();
  };
  if (!editable) {
    return (
      <tr>
        <th scope="row">{item.title}</th>
        <td>{item.owner}</td>
        <td>{fmt.label(item.team)}</td>
        <td>{fmt.label(item.status)}</td>
        <td>{item.dueDate ? fmt.date(item.dueDate) : "–"}</td>
      </tr>
    );
  }
  const id = `item-${item.id}`;
  return (
    <tr>
      <th scope="row">
        <input
          aria-label={`Title of action item ${item.title}`}
          defaultValue={item.title}
          onChange={(e) => save({ title: (e.target as HTMLInputElement).value })}
          aria-describedby={problem ? `${id}-error` : undefined}
        />
        <FieldError id={id} problem={problem} />
      </th>
      <td>
        <input aria-label={`Owner of ${item.title}`} defaultValue={item.owner} onChange={(e) => save({ owner: (e.target as HTMLInputElement).value })} />
      </td>
      <td>
        <Choice label={`Team of ${item.title}`} value={item.team} options={TEAMS} onPick={(team) => save({ team })} />
      </td>
      <td>
        <Choice label={`Status of ${item.title}`} value={item.status} options={STATUSES} onPick={(status) => save({ status })} />
      </td>
      <td>
        <input
          type="date"
          aria-label={`Due date of ${item.title}`}
          defaultValue={item.dueDate ?? ""}
          onChange={(e) => save({ dueDate: (e.target as HTMLInputElement).value || null })}
        />
      </td>
    </tr>
  );
}

function ItemsTable({ items, label, editable, onSaved, carried }: { items: ActionItem[]; label: string; editable: boolean; onSaved: () => void; carried?: boolean }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={label}>
      <table data-carried-over={carried ? items.length : undefined}>
        <caption class="sr-only">{label}</caption>
        <thead>
          <tr>
            <th scope="col">Action</th>
            <th scope="col">Owner</th>
            <th scope="col">Team</th>
            <th scope="col">Status</th>
            <th scope="col">Due</th>
          </tr>
        </thead>
        <tbody>
          {items.map((item) => (
            <ItemRow key={item.id} item={item} editable={editable} onSaved={onSaved} />
          ))}
        </tbody>
      </table>
    </div>
  );
}

function NewItem({ weekStart, onSaved }: { weekStart: string; onSaved: () => void }) {
  const [title, setTitle] = useState("");
  const [owner, setOwner] = useState("");
  const [team, setTeam] = useState("BOTH");
  const [dueDate, setDueDate] = useState("");
  const { problem, setProblem, attempt } = useAttempt();
  const submit = async (event: Event) => {
    event.preventDefault();
    if (!title.trim() || !owner.trim()) {
      setProblem("Give the action item a title and an owner.");
      return;
    }
    if (await attempt(() => gql(CREATE_ITEM, { input: { title, owner, team, weekStart, dueDate: dueDate || null } }))) {
      setTitle("");
      setOwner("");
      setDueDate("");
      onSaved();
    }
  };
  return (
    <form class="filters" onSubmit={submit}>
      <label>
        <span>New action item</span>
        <input value={title} onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />
      </label>
      <label>
        <span>Owner</span>
        <input value={owner} onInput={(e) => setOwner((e.target as HTMLInputElement).value)} />
      </label>
      <label>
        <span>Team</span>
        <Choice value={team} options={TEAMS} onPick={setTeam} />
      </label>
      <label>
        <span>Due</span>
        <input type="date" value={dueDate} onInput={(e) => setDueDate((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit">Add</button>
      <FieldError problem={problem} />
    </form>
  );
}

interface WinsData {
  dealsWon: { opportunityId: string; leadId: string; amount: number; campaigns: string[]; content: { contentId: string; title: string }[] }[];
  topCampaign: { campaignId: string; pipeline: number; opportunities: number } | null;
  fastestResponses: { leadId: string; hours: number }[];
}

function Wins({ wins }: { wins: WinsData }) {
  if (!wins.dealsWon.length && !wins.topCampaign && !wins.fastestResponses.length) {
    return <Empty>Nothing to celebrate yet this week: no deal won, no MQL answered.</Empty>;
  }
  return (
    <ul class="wins" data-wins>
      {wins.dealsWon.map((d) => (
        <li key={d.opportunityId} data-win={d.opportunityId}>
          <strong>Won {d.opportunityId}</strong> ({fmt.money(d.amount)}) with lead {d.leadId}
          {d.campaigns.length ? `, after the campaigns ${d.campaigns.join(", ")}` : ""}
          {d.content.length ? `, having read ${d.content.map((c) => `“${c.title}”`).join(", ")}` : ""}.
        </li>
      ))}
      {wins.topCampaign && (
        <li data-win-campaign={wins.topCampaign.campaignId}>
          <strong>{wins.topCampaign.campaignId}</strong> sourced the most pipeline: {fmt.money(wins.topCampaign.pipeline)} over{" "}
          {fmt.int(wins.topCampaign.opportunities)} {wins.topCampaign.opportunities === 1 ? "opportunity" : "opportunities"}.
        </li>
      )}
      {wins.fastestResponses.map((r) => (
        <li key={r.leadId} data-win-response={r.leadId}>
          Lead {r.leadId} was answered {fmt.hours(r.hours)} after becoming an MQL.
        </li>
      ))}
    </ul>
  );
}

export function ReviewPage() {
  const { role } = useSession();
  const thisMonday = mondayOf(new Date());
  const weeks = Array.from({ length: 13 }, (_, i) => isoDay(addDays(thisMonday, -7 * i)));
  const [weekStart, setWeekStart] = useState(weeks[1]);
  const { data, error, reload } = useQuery<{ weeklyReview: Record<string, any> }>(REVIEW_QUERY, { weekStart });
  const editable = can.editActionItems(role);
  const exportMarkdown = async () => {
    const answer = await gql<{ weeklyReviewMarkdown: string }>(MARKDOWN_QUERY, { weekStart });
    download(`weekly-review-${weekStart}.md`, answer.weeklyReviewMarkdown, "text/markdown");
  };
  const review = data?.weeklyReview;
  return (
    <div class="grid">
      <div class="filters wide">
        <label>
          <span>Week starting</span>
          <select value={weekStart} onChange={(e) => setWeekStart((e.target as HTMLSelectElement).value)}>
            {weeks.map((w, i) => (
              <option value={w}>
                {fmt.date(w)}
                {i === 0 ? " (this week)" : i === 1 ? " (last week)" : ""}
              </option>
            ))}
          </select>
        </label>
        <button type="button" onClick={exportMarkdown}>
          Export Markdown
        </button>
      </div>
      {error && <ErrorNote error={error} retry={reload} />}
      {!review ? (
        !error && <Loading what="the weekly review" />
      ) : (
        <>
          <Card title="1 · New leads by source">
            <p class="muted small">
              Leads created this week, by first touch, and how many of those same leads are MQL now.
              <Definition text="“Of them MQL now” counts only this week’s new leads. Section 2 counts every lead that became MQL this week, however old." />
            </p>
            <DataTable
              caption="New leads of the week by source"
              rowKey={(r: any) => r.channel}
              rows={review.newLeads}
              empty="No new leads this week."
              columns={[
                { label: "Source", value: (r: any) => fmt.label(r.channel) },
                { label: "New leads", value: (r: any) => <span data-review-leads={r.channel}>{fmt.int(r.leads)}</span>, numeric: true },
                { label: "Of them MQL now", value: (r: any) => <span data-review-new-mqls={r.channel}>{fmt.int(r.mqls)}</span>, numeric: true },
                { label: "Average fit", value: (r: any) => fmt.num(r.avgFitScore), numeric: true },
              ]}
            />
          </Card>
          <Card title="2 · SLA">
            <dl class="facts">
              <div><dt>Became MQL this week</dt><dd data-review-sla="mqls">{fmt.int(review.sla.mqls)}</dd></div>
              <div><dt>Answered in time</dt><dd>{fmt.int(review.sla.withinSla)}</dd></div>
              <div><dt>Breached</dt><dd data-review-sla="breached">{fmt.int(review.sla.breached)}</dd></div>
              <div><dt>Waiting</dt><dd>{fmt.int(review.sla.pending)}</dd></div>
              <div><dt>Median response</dt><dd>{fmt.hours(review.sla.medianResponseHours)}</dd></div>
            </dl>
          </Card>
          <Card title="3 · Deals that moved">
            <DataTable
              caption="Opportunity stage moves of the week"
              rowKey={(r: any) => r.opportunityId + r.at}
              rows={review.stageMoves}
              empty="No deal changed stage this week."
              columns={[
                { label: "Deal", value: (r: any) => <LeadLink lead={r.lead} id={r.leadId} /> },
                { label: "Amount", value: (r: any) => fmt.money(r.amount), numeric: true },
                {
                  label: "Stage",
                  value: (r: any) => (
                    <span data-move={r.opportunityId}>
                      {r.fromStage ? `${fmt.label(r.fromStage)} → ` : "New deal → "}
                      {fmt.label(r.stage)}
                    </span>
                  ),
                },
                { label: "When", value: (r: any) => fmt.date(r.at) },
              ]}
            />
          </Card>
          <Card title="4 · Stalled deals">
            <DataTable
              caption="Stalled deals"
              rowKey={(r: any) => r.opportunityId}
              rows={review.stalled}
              empty="No stalled deal: every open opportunity moved recently."
              columns={[
                { label: "Deal", value: (r: any) => <LeadLink lead={r.lead} id={r.leadId} /> },
                { label: "Stage", value: (r: any) => (r.stage ? fmt.label(r.stage) : "–") },
                { label: "Amount", value: (r: any) => fmt.money(r.amount), numeric: true },
                { label: "Days stalled", value: (r: any) => fmt.int(r.daysStalled), numeric: true },
              ]}
            />
          </Card>
          <Card title="5 · Top objections">
            <DataTable
              caption="Top objections against last week"
              rowKey={(r: any) => r.category}
              rows={review.topObjections}
              empty="No objection was logged this week."
              columns={[
                { label: "Objection", value: (r: any) => fmt.label(r.category) },
                { label: "This week", value: (r: any) => fmt.int(r.count), numeric: true },
                { label: "Last week", value: (r: any) => fmt.int(r.lastWeekCount), numeric: true },
              ]}
            />
          </Card>
          <Card title="6 · Content for active deals" wide>
            <p class="muted small">
              Approved content each open deal’s contact has not seen yet: bottom-of-funnel from the proposal on, middle-of-funnel before, and anything that answers their logged objections.
            </p>
            {review.contentForDeals.filter((d: any) => d.suggestions.length > 0).length === 0 ? (
              <Empty>No suggestion: every open deal’s contact has seen the content that fits their stage.</Empty>
            ) : (
              <ul class="deal-content">
                {review.contentForDeals
                  .filter((d: any) => d.suggestions.length > 0)
                  .map((d: any) => {
                    const deal = d.lead?.opportunities.find((o: any) => o.id === d.opportunityId);
                    return (
                      <li key={d.opportunityId} data-deal-content={d.opportunityId}>
                        <LeadLink lead={d.lead} id={d.leadId} />
                        <span class="muted small">
                          {" "}
                          {d.stage ? fmt.label(d.stage) : "open"}
                          {deal ? `, ${fmt.money(deal.amount)}` : ""}
                        </span>
                        <ul>
                          {d.suggestions.map((c: any) => (
                            <li key={c.contentId}>
                              <a href={c.url} target="_blank" rel="noopener noreferrer">
                                {c.title}
                              </a>{" "}
                              <span class="muted small">
                                {fmt.label(c.funnelStage)}
                                {c.matchedObjections.length ? `; answers ${c.matchedObjections.map(fmt.label).join(", ")}` : ""}
                              </span>
                            </li>
                          ))}
                        </ul>
                      </li>
                    );
                  })}
              </ul>
            )}
          </Card>
          <Card title="7 · Closed deals">
            <DataTable
              caption="Deals closed this week"
              rowKey={(r: any) => r.opportunityId}
              rows={review.closedDeals}
              empty="No deal closed this week."
              columns={[
                { label: "Deal", value: (r: any) => <LeadLink lead={r.lead} id={r.leadId} /> },
                {
                  label: "Outcome",
                  value: (r: any) =>
                    r.won ? "Won" : `Lost${r.reason ? ` (${fmt.label(r.reason)}${r.competitor ? `, to ${r.competitor}` : ""})` : ""}`,
                },
                { label: "Amount", value: (r: any) => fmt.money(r.amount), numeric: true },
                { label: "Source", value: (r: any) => fmt.label(r.channel) },
              ]}
            />
          </Card>
          <Card title="8 · Wins to celebrate" wide>
            <Wins wins={review.wins} />
          </Card>
          <Card title="9 · Action items" wide>
            {review.carriedOver.length > 0 && (
              <>
                <h3>Carried over from earlier weeks</h3>
                <ItemsTable items={review.carriedOver} label="Action items of earlier weeks still open" editable={editable} onSaved={reload} carried />
                <h3>Agreed this week</h3>
              </>
            )}
            {!editable && <p class="muted small">Read only: sales and admin keys edit action items.</p>}
            {review.actionItems.length === 0 ? (
              <Empty>No action item for this week yet.{editable ? " Add the first one below." : ""}</Empty>
            ) : (
              <ItemsTable items={review.actionItems} label="Action items of the week" editable={editable} onSaved={reload} />
            )}
            {editable && <NewItem weekStart={weekStart} onSaved={reload} />}
          </Card>
        </>
      )}
    </div>
  );
}
