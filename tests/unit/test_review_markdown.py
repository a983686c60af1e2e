"""The Markdown weekly review shows every user-written value as the literal text it is.

Rendered output is parsed with a CommonMark parser (with GitHub's tables and
strikethrough), the way the invite or wiki it is pasted into would read it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Any

import strawberry
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token

from services.gateway.graphql.core.enums import FunnelStage
from services.gateway.graphql.review.action_items import ActionItem, ActionItemStatus, Team
from services.gateway.graphql.review.markdown import render
from services.gateway.graphql.review.types import (
    ClosedDeal,
    ClosedGroup,
    ContentSuggestion,
    DealContent,
    ObjectionTrend,
    StageMove,
    StalledDeal,
    WeeklyReview,
    WeeklySla,
    WeeklySource,
)
from services.gateway.graphql.review.wins import (
    FastResponse,
    TopCampaign,
    WinContent,
    Wins,
    WonDeal,
)

T = datetime(2026, 11, 9, tzinfo=UTC)
PARSER = MarkdownIt("commonmark").enable(["table", "strikethrough"])
HOSTILE = [
    "a|b",
    "line\nbreak\r\nand\rmore",
    "[x](https://evil.example)",
    "![img](https://evil.example/p.png)",
    "`code`",
    "*bold* _em_ __init__",
    "<script>alert(1)</script>",
    "&amp; &#58;",
    "~~gone~~",
    "# heading",
    "\\ back\\slash",
    "$x$",
    "\n| injected | row |\n|---|---|",
    "- item",
    "paid_search",
]


def _review(text: str, url: str = "https://x/roi") -> WeeklyReview:
    return WeeklyReview(
        week_start=date(2026, 11, 9),
        from_=T,
        to=T,
        new_leads=[WeeklySource(channel=text, leads=2, mqls=1, avg_fit_score=None)],
        sla=WeeklySla(
            mqls=1, responded=1, within_sla=1, breached=0, pending=0, median_response_hours=3.0
        ),
        stage_moves=[StageMove(opportunity_id=text, lead_id=text, stage=text, at=T)],
        stalled=[
            StalledDeal(
                opportunity_id=text,
                lead_id=text,
                stage=text,
                amount=700.0,
                last_movement_at=T,
                days_stalled=42,
            )
        ],
        top_objections=[ObjectionTrend(category=text, count=2, last_week_count=1)],
        content_for_deals=[
            DealContent(
                opportunity_id=text,
                lead_id=text,
                stage=text,
                suggestions=[
                    ContentSuggestion(
                        content_id=text,
                        title=text,
                        url=url,
                        funnel_stage=FunnelStage.BOFU,
                        matched_objections=[text],
                    )
                ],
            )
        ],
        closed_deals=[
            ClosedDeal(
                opportunity_id=text,
                lead_id=text,
                won=False,
                amount=5.0,
                reason=text,
                competitor=text,
                channel=text,
                fit_grade=text,
                closed_at=T,
            )
        ],
        closed_by_channel=[ClosedGroup(key=text, won=1, lost=0, revenue=1.0)],
        closed_by_fit_grade=[ClosedGroup(key=text, won=1, lost=0, revenue=1.0)],
        action_items=[
            ActionItem(
                id=strawberry.ID("a"),
                title=text,
                owner=text,
                team=Team.SALES,
                due_date=None,
                status=ActionItemStatus.OPEN,
                week_start=date(2026, 11, 9),
                author="k",
                created_at=T,
                updated_at=T,
            )
        ],
        wins=Wins(
            deals_won=[
                WonDeal(
                    opportunity_id=text,
                    lead_id=text,
                    amount=1.0,
                    closed_at=T,
                    campaigns=[text],
                    content=[WinContent(content_id="c", title=text)],
                )
            ],
            top_campaign=TopCampaign(campaign_id=text, pipeline=1.0, opportunities=1),
            fastest_responses=[FastResponse(lead_id=text, mql_at=T, responded_at=T, hours=0.5)],
        ),
    )


def _flat(text: str) -> str:
    """The value as it should read: on one line, without the blanks around it that the
    table and list syntax trims."""
    return re.sub(r"\r\n|[\r\n\v\f\x85\u2028\u2029]", " ", text).strip()


def _texts(token: Token) -> list[str]:
    """The literal text of an inline token, one string per run of text."""
    return [child.content for child in token.children or [] if child.type == "text"]


def _kinds(tokens: list[Token]) -> set[str]:
    kinds = {t.type for t in tokens}
    for t in tokens:
        kinds |= _kinds(t.children or [])
    return kinds


def _check(text: str) -> None:
    tokens = PARSER.parse(render(_review(text)))
    # No markup came from the value: only the review's own structure and its one link.
    assert _kinds(tokens) <= {
        "heading_open", "heading_close", "inline", "text", "paragraph_open", "paragraph_close",
        "table_open", "table_close", "thead_open", "thead_close", "tbody_open", "tbody_close",
        "tr_open", "tr_close", "th_open", "th_close", "td_open", "td_close",
        "bullet_list_open", "bullet_list_close", "list_item_open", "list_item_close",
        "strong_open", "strong_close", "link_open", "link_close", "text_special",
    }  # fmt: skip
    # Every table keeps its shape: a header row and the one record's row.
    rows = sum(t.type == "tr_open" for t in tokens)
    assert rows == 2 * sum(t.type == "thead_open" for t in tokens)
    expected = _flat(text)
    cells = ["".join(_texts(t)) for prev, t in pairwise(tokens) if prev.type == "td_open"]
    # The 17 cells that hold the value show exactly it (a value like "2" matches more).
    assert [c.strip() for c in cells].count(expected) >= 17, cells
    [inline] = [t for t in tokens if t.type == "inline" and "(BOFU)" in t.content]
    children = inline.children or []
    opened = [i for i, c in enumerate(children) if c.type == "link_open"]
    closed = [i for i, c in enumerate(children) if c.type == "link_close"]
    assert len(opened) == len(closed) == 1
    assert children[opened[0]].attrs["href"] == "https://x/roi"
    title = "".join(c.content for c in children[opened[0] + 1 : closed[0]] if c.type == "text")
    assert title.strip() == expected


def test_every_user_written_value_is_literal_text() -> None:
    for text in HOSTILE:
        _check(text)


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1))
def test_any_value_stays_literal_text(text: str) -> None:
    # A NUL is replaced by CommonMark itself; that says nothing about escaping.
    _check(text.replace("\x00", "x"))


def test_link_destinations_cannot_break_out_or_run_script() -> None:
    def hrefs(url: str) -> list[Any]:
        tokens = PARSER.parse(render(_review("t", url=url)))
        return [c.attrs["href"] for t in tokens for c in t.children or [] if c.type == "link_open"]

    assert hrefs("https://x/a b)(c") == ["https://x/a%20b%29%28c"]
    assert hrefs("https://x/?a=1&b=2") == ["https://x/?a=1&b=2"]
    assert hrefs("javascript:alert(1)") == []
    assert hrefs("javascript&#58;alert(1)") == ["javascript%26#58;alert%281%29"]
    assert "javascript:alert\\(1\\)" in render(_review("t", url="javascript:alert(1)"))


def test_plain_values_stay_readable() -> None:
    text = render(_review("paid_search"))
    assert "| paid_search | 2 | 1 | - |" in text
    assert "| a\\|b |" in render(_review("a|b"))
