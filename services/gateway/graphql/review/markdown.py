"""The weekly review as Markdown, to paste into the meeting invite."""

from __future__ import annotations

from collections.abc import Sequence

from services.gateway.graphql.review.types import ClosedGroup, WeeklyReview


def _number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def _cell(value: object) -> str:
    # A pipe inside a value would split the table's column.
    return str(value).replace("|", "\\|")


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    if not rows:
        return ["_none_", ""]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def _groups(groups: Sequence[ClosedGroup]) -> list[list[object]]:
    return [[g.key, g.won, g.lost, _number(g.revenue, 2)] for g in groups]


def render(review: WeeklyReview) -> str:
    s = review.sla
    lines = [
        f"# Weekly review — week of {review.week_start.isoformat()}",
        "",
        "## New leads by source",
        "",
        *_table(
            ("Channel", "Leads", "MQLs", "Avg fit"),
            [[r.channel, r.leads, r.mqls, _number(r.avg_fit_score)] for r in review.new_leads],
        ),
        "## SLA follow-up",
        "",
        f"- MQLs: {s.mqls}; responded: {s.responded}",
        f"- Within SLA: {s.within_sla}; breached: {s.breached}; pending: {s.pending}",
        f"- Median response: {_number(s.median_response_hours)} h",
        "",
        "## Opportunities that moved stage",
        "",
        *_table(
            ("Opportunity", "Lead", "Stage", "At"),
            [[m.opportunity_id, m.lead_id, m.stage, m.at.isoformat()] for m in review.stage_moves],
        ),
        "## Stalled opportunities",
        "",
        *_table(
            ("Opportunity", "Lead", "Stage", "Amount", "Days stalled"),
            [
                [d.opportunity_id, d.lead_id, d.stage or "-", _number(d.amount, 2), d.days_stalled]
                for d in review.stalled
            ],
        ),
        "## Top objections",
        "",
        *_table(
            ("Objection", "This week", "Last week"),
            [[o.category, o.count, o.last_week_count] for o in review.top_objections],
        ),
        "## Content for active deals",
        "",
    ]
    if not review.content_for_deals:
        lines += ["_none_", ""]
    for deal in review.content_for_deals:
        lines.append(f"- **{_cell(deal.opportunity_id)}** ({deal.stage or 'no stage'}):")
        for item in deal.suggestions:
            why = (
                f" — answers {', '.join(item.matched_objections)}"
                if item.matched_objections
                else ""
            )
            lines.append(f"  - [{item.title}]({item.url}) ({item.funnel_stage.value}){why}")
    if review.content_for_deals:
        lines.append("")
    lines += [
        "## Closed deals",
        "",
        *_table(
            ("Opportunity", "Result", "Amount", "Reason", "Competitor", "Channel", "Fit"),
            [
                [
                    d.opportunity_id,
                    "won" if d.won else "lost",
                    _number(d.amount, 2),
                    d.reason or "-",
                    d.competitor or "-",
                    d.channel,
                    d.fit_grade,
                ]
                for d in review.closed_deals
            ],
        ),
        "### By channel",
        "",
        *_table(("Channel", "Won", "Lost", "Revenue"), _groups(review.closed_by_channel)),
        "### By fit grade",
        "",
        *_table(("Fit grade", "Won", "Lost", "Revenue"), _groups(review.closed_by_fit_grade)),
        "## Action items",
        "",
        *_table(
            ("Title", "Owner", "Team", "Due", "Status"),
            [
                [
                    a.title,
                    a.owner,
                    a.team.value,
                    a.due_date.isoformat() if a.due_date else "-",
                    a.status.value,
                ]
                for a in review.action_items
            ],
        ),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"
