"""The weekly review as Markdown, to paste into the meeting invite."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from services.gateway.graphql.review.action_items import ActionItem, ActionItemStatus, Team
from services.gateway.graphql.review.types import ClosedGroup, WeeklyReview


def _number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


# Line breaks would end a table row or list item and let the rest start a heading or a
# table of its own; they become spaces.
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x85\u2028\u2029]")
# Everything that can open markup inline (emphasis, code, links, images, HTML, entities,
# strikethrough, math, table columns), and `_` where it can open or close emphasis: an
# underscore between two letters or digits never does, so `paid_search` stays readable.
_SPECIAL = re.compile(r"[\\`*\[\]()<>|~&$#!{}]|(?<![^\W_])_|_(?![^\W_])")
# A link destination ends at a space or an unbalanced parenthesis, and character references
# in it are decoded (`javascript&#58;`); these are percent-encoded, and only these schemes
# (or none) become links at all.
_URL_UNSAFE = re.compile(r"[^\x21-\x7e]|[()<>\\`\[\]\"']|&(?=#?\w+;)")
_LINK_SCHEMES = re.compile(r"(?i)(https?|mailto):|[^:]*$")


# The action items' team and status in words; the tenant's own values (channels, stages,
# reasons) are written as they are.
_WORDS = {
    "SALES": "Sales",
    "MARKETING": "Marketing",
    "BOTH": "Sales and marketing",
    "OPEN": "Open",
    "IN_PROGRESS": "In progress",
    "DONE": "Done",
    "DROPPED": "Dropped",
}
assert set(_WORDS) == {v.value for v in (*Team, *ActionItemStatus)}, "every team and status"


def _text(value: object) -> str:
    """A user-written value as literal Markdown text on one line."""
    flat = _LINE_BREAKS.sub(" ", str(value))
    return _SPECIAL.sub(lambda m: "\\" + m.group(0), flat)


def _link(title: str, url: str) -> str:
    if not _LINK_SCHEMES.match(url):
        # `javascript:` and the like: shown, never clickable.
        return f"{_text(title)} ({_text(url)})"
    href = _URL_UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode("utf-8")), url)
    return f"[{_text(title)}]({href})"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    if not rows:
        return ["_none_", ""]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_text(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def _groups(groups: Sequence[ClosedGroup]) -> list[list[object]]:
    return [[g.key, g.won, g.lost, _number(g.revenue, 2)] for g in groups]


def _wins(review: WeeklyReview, who: Callable[[str], str]) -> list[str]:
    wins = review.wins
    lines = ["## Wins to celebrate", ""]
    for deal in wins.deals_won:
        journey = []
        if deal.campaigns:
            journey.append("campaigns " + ", ".join(_text(c) for c in deal.campaigns))
        if deal.content:
            journey.append("content " + ", ".join(_text(c.title) for c in deal.content))
        tail = f" — {'; '.join(journey)}" if journey else ""
        lines.append(
            f"- Won **{_text(deal.opportunity_id)}** ({_number(deal.amount, 2)})"
            f" with {_text(who(deal.lead_id))}{tail}"
        )
    if not wins.deals_won:
        lines.append("- No deal won this week yet.")
    if wins.top_campaign is not None:
        top = wins.top_campaign
        lines.append(
            f"- Campaign that sourced the most pipeline: **{_text(top.campaign_id)}**,"
            f" {_number(top.pipeline, 2)} over {top.opportunities} opportunities"
        )
    for fast in wins.fastest_responses:
        lines.append(
            f"- Fast response: {_text(who(fast.lead_id))} answered"
            f" {_number(fast.hours)} h after becoming an MQL"
        )
    return [*lines, ""]


def render(review: WeeklyReview, names: Mapping[str, str] | None = None) -> str:
    """The review as Markdown; `names` shows a lead by its person's name beside its id."""

    def who(lead_id: str) -> str:
        name = (names or {}).get(lead_id)
        return f"{name} ({lead_id})" if name else lead_id

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
            ("Opportunity", "Lead", "From", "To", "Amount", "At"),
            [
                [
                    m.opportunity_id,
                    who(m.lead_id),
                    m.from_stage or "-",
                    m.stage,
                    "-" if m.amount is None else _number(m.amount, 2),
                    m.at.isoformat(),
                ]
                for m in review.stage_moves
            ],
        ),
        "## Stalled opportunities",
        "",
        *_table(
            ("Opportunity", "Lead", "Stage", "Amount", "Days stalled"),
            [
                [
                    d.opportunity_id,
                    who(d.lead_id),
                    d.stage or "-",
                    _number(d.amount, 2),
                    d.days_stalled,
                ]
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
        stage = _text(deal.stage) if deal.stage else "no stage"
        lines.append(f"- **{_text(deal.opportunity_id)}**, {_text(who(deal.lead_id))} ({stage}):")
        for item in deal.suggestions:
            why = (
                f" — answers {', '.join(_text(o) for o in item.matched_objections)}"
                if item.matched_objections
                else ""
            )
            link = _link(item.title, item.url)
            lines.append(f"  - {link} ({item.funnel_stage.value}){why}")
    if review.content_for_deals:
        lines.append("")
    lines += [
        *_wins(review, who),
        "## Closed deals",
        "",
        *_table(
            ("Opportunity", "Lead", "Result", "Amount", "Reason", "Competitor", "Channel", "Fit"),
            [
                [
                    d.opportunity_id,
                    who(d.lead_id),
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
    ]
    if review.carried_over:
        lines += [
            "## Carried over from earlier weeks",
            "",
            *_table(
                ("Title", "Owner", "Team", "Due", "Status", "Agreed"),
                [
                    [*row, a.week_start.isoformat()]
                    for row, a in zip(_items(review.carried_over), review.carried_over, strict=True)
                ],
            ),
        ]
    lines += [
        "## Action items",
        "",
        *_table(("Title", "Owner", "Team", "Due", "Status"), _items(review.action_items)),
    ]
    return "\n".join(lines).rstrip("\n") + "\n"


def _items(items: list[ActionItem]) -> list[list[object]]:
    return [
        [
            a.title,
            a.owner,
            _WORDS[a.team.value],
            a.due_date.isoformat() if a.due_date else "-",
            _WORDS[a.status.value],
        ]
        for a in items
    ]
