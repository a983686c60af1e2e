"""Gateway pieces of the alignment workflows that need no database: the feedback pivot,
the rejection-reason check of ingestion, closed-deal groups, the Markdown review, and the
version history shared by messages and content items."""

from __future__ import annotations

import dataclasses
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
import strawberry
from graphql import GraphQLError

from services.gateway import rejection_reasons
from services.gateway.graphql.content.types import (
    CONTENT_VERSION_COLUMNS,
    ContentItem,
    ContentVersion,
)
from services.gateway.graphql.core import loaders
from services.gateway.graphql.core.enums import FunnelStage, LibraryStatus
from services.gateway.graphql.core.loaders import LoaderScope
from services.gateway.graphql.feedback.resolvers import pivot
from services.gateway.graphql.messaging.types import MESSAGE_VERSION_COLUMNS, Message
from services.gateway.graphql.nodes import library as versioned
from services.gateway.graphql.review.action_items import ActionItem, ActionItemStatus, Team
from services.gateway.graphql.review.markdown import render
from services.gateway.graphql.review.resolvers import closed_groups
from services.gateway.graphql.review.types import (
    ClosedDeal,
    ContentSuggestion,
    DealContent,
    ObjectionTrend,
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
from services.gateway.graphql.schema import schema
from services.gateway.rejection_reasons import RejectionReasons, reason_errors
from shared.domain import library
from shared.domain.config import DEFAULT_CONFIG

T = datetime(2026, 11, 9, tzinfo=UTC)


def test_feedback_rows_pivot_per_group_and_flag_unknown_reasons() -> None:
    rows = [
        {"key": "email", "kind": "rejection", "value": "junk", "n": 1},
        {"key": "email", "kind": "rejection", "value": "legacy", "n": 3},
        {"key": "email", "kind": "objection", "value": "price", "n": 2},
        {"key": "(none)", "kind": "lost", "value": "price", "n": 1},
    ]
    out = pivot(rows, ["junk"])
    assert [r.key for r in out] == ["(none)", "email"]
    email = out[1]
    assert [(r.reason, r.count, r.unknown_reason) for r in email.rejection_reasons] == [
        ("legacy", 3, True),
        ("junk", 1, False),
    ]
    assert [(c.value, c.count) for c in email.objections] == [("price", 2)]
    assert email.lost_reasons == [] and out[0].objections == []


def test_only_lead_rejected_reasons_are_checked() -> None:
    allowed = ("junk", "other")
    good = {"type": "lead_rejected", "properties": {"reason": "junk"}}
    bad = {"type": "lead_rejected", "properties": {"reason": "meh"}}
    assert reason_errors(good, allowed) == []
    assert (
        reason_errors({"type": "lead_disqualified", "properties": {"reason": "x"}}, allowed) == []
    )
    [error] = reason_errors(bad, allowed)
    assert error["field"] == "properties.reason"
    assert "'meh'" in error["reason"] and "junk, other" in error["reason"]


async def test_rejection_reasons_are_cached_per_tenant_for_a_few_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads: list[str] = []

    @asynccontextmanager
    async def fake_tx(pool: Any, tenant_id: str) -> Any:
        reads.append(tenant_id)
        yield None

    async def fake_config(conn: Any, tenant_id: str) -> Any:
        return 1, DEFAULT_CONFIG

    monkeypatch.setattr(rejection_reasons, "tenant_tx", fake_tx)
    monkeypatch.setattr(rejection_reasons, "current_config", fake_config)
    clock = [100.0]
    cache = RejectionReasons(clock=lambda: clock[0])
    assert await cache.allowed(None, "a") == DEFAULT_CONFIG.sla.rejection_reasons
    await cache.allowed(None, "a")
    await cache.allowed(None, "b")
    assert reads == ["a", "b"]
    clock[0] += rejection_reasons.TTL_S
    await cache.allowed(None, "a")
    assert reads == ["a", "b", "a"]


def _deal(opportunity: str, won: bool, amount: float, channel: str) -> ClosedDeal:
    return ClosedDeal(
        opportunity_id=opportunity,
        lead_id="L",
        won=won,
        amount=amount,
        reason=None if won else "price",
        competitor=None,
        channel=channel,
        fit_grade="A",
        closed_at=T,
    )


def test_closed_deals_are_grouped_with_revenue_from_wins_only() -> None:
    deals = [
        _deal("1", True, 100, "email"),
        _deal("2", False, 50, "email"),
        _deal("3", True, 7, "x"),
    ]
    groups = closed_groups(deals, lambda d: d.channel)
    assert [(g.key, g.won, g.lost, g.revenue) for g in groups] == [
        ("email", 1, 1, 100.0),
        ("x", 1, 0, 7.0),
    ]


def test_the_markdown_review_lists_every_section() -> None:
    review = WeeklyReview(
        week_start=date(2026, 11, 9),
        from_=T,
        to=T,
        new_leads=[WeeklySource(channel="paid_search", leads=2, mqls=1, avg_fit_score=None)],
        sla=WeeklySla(
            mqls=1, responded=1, within_sla=1, breached=0, pending=0, median_response_hours=3.0
        ),
        stage_moves=[],
        stalled=[
            StalledDeal(
                opportunity_id="O2",
                lead_id="D2",
                stage=None,
                amount=700.0,
                last_movement_at=T,
                days_stalled=42,
            )
        ],
        top_objections=[ObjectionTrend(category="a|b", count=2, last_week_count=1)],
        content_for_deals=[
            DealContent(
                opportunity_id="O1",
                lead_id="D1",
                stage="proposal",
                suggestions=[
                    ContentSuggestion(
                        content_id="c",
                        title="ROI",
                        url="https://x/roi",
                        funnel_stage=FunnelStage.BOFU,
                        matched_objections=["price"],
                    )
                ],
            )
        ],
        closed_deals=[_deal("O3", True, 2500, "email")],
        closed_by_channel=closed_groups([_deal("O3", True, 2500, "email")], lambda d: d.channel),
        closed_by_fit_grade=[],
        action_items=[
            ActionItem(
                id=strawberry.ID("a"),
                title="Call back",
                owner="sam",
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
                    opportunity_id="O3",
                    lead_id="D3",
                    amount=2500.0,
                    closed_at=T,
                    campaigns=["spring-webinar"],
                    content=[WinContent(content_id="c", title="ROI guide")],
                )
            ],
            top_campaign=TopCampaign(
                campaign_id="spring-webinar", pipeline=9000.0, opportunities=3
            ),
            fastest_responses=[FastResponse(lead_id="D1", mql_at=T, responded_at=T, hours=0.25)],
        ),
    )
    text = render(review, {"D2": "Ada Lovelace"})
    assert (
        "## Wins to celebrate\n\n- Won **O3** (2,500.00) with D3 — campaigns"
        " spring-webinar; content ROI guide\n"
        "- Campaign that sourced the most pipeline: **spring-webinar**, 9,000.00 over 3"
        " opportunities\n"
        "- Fast response: D1 answered 0.2 h after becoming an MQL\n"
    ) in text
    assert text.startswith("# Weekly review — week of 2026-11-09\n")
    assert "| paid_search | 2 | 1 | - |" in text
    assert "## Opportunities that moved stage\n\n_none_\n" in text
    assert "| O2 | Ada Lovelace \\(D2\\) | - | 700.00 | 42 |" in text
    assert "| a\\|b | 2 | 1 |" in text
    assert "  - [ROI](https://x/roi) (BOFU) — answers price" in text
    assert "| O3 | L | won | 2,500.00 | - | - | email | A |" in text
    assert "| email | 1 | 0 | 2,500.00 |" in text
    assert "### By fit grade\n\n_none_\n" in text
    assert text.endswith("| Call back | sam | Sales | - | Open |\n")


class _Recorder:
    """A connection that records what it is asked to execute."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def execute(self, sql: str, *args: Any) -> None:
        self.calls.append((sql, args))


async def test_a_content_version_stores_the_item_as_the_write_left_it() -> None:
    state = {
        "content_id": "cnt_1", "version": 3, "title": "ROI", "url": "https://x/roi",
        "funnel_stage": "BOFU", "format": "pdf", "topics": ["roi"], "objections": ["price"],
        "message_ids": [], "status": "APPROVED", "author": "ignored: the writer is passed",
    }  # fmt: skip
    conn = _Recorder()
    await versioned.append_version(
        conn,
        "content_versions",
        CONTENT_VERSION_COLUMNS,
        state,
        tenant_id="acme",
        author="key1",
        at=T,
    )
    [(sql, args)] = conn.calls
    assert sql == (
        "INSERT INTO content_versions (tenant_id, content_id, version, title, url, funnel_stage,"
        " format, topics, objections, message_ids, status, author, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    )
    assert args == ("acme", "cnt_1", 3, "ROI", "https://x/roi", "BOFU", "pdf", ["roi"],
                    ["price"], [], "APPROVED", "key1", T)  # fmt: skip


def test_messages_and_content_keep_the_same_kind_of_history() -> None:
    shared = {"version", "status"}
    assert shared <= set(MESSAGE_VERSION_COLUMNS) and shared <= set(CONTENT_VERSION_COLUMNS)
    assert MESSAGE_VERSION_COLUMNS[0] == "message_id"
    assert CONTENT_VERSION_COLUMNS[0] == "content_id"
    # Every field a content item has, but its author and times, is kept per version.
    kept = set(CONTENT_VERSION_COLUMNS) - {"content_id"}
    assert {f.name for f in dataclasses.fields(ContentVersion)} == kept | {
        "author",
        "created_at",
    }
    sdl = str(schema)
    assert "versions: [ContentVersion!]!" in sdl and "versions: [MessageVersion!]!" in sdl
    assert Message.__name__ in sdl and ContentItem.__name__ in sdl


async def test_versions_are_loaded_in_one_query_per_batch_oldest_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    queries: list[tuple[str, tuple[Any, ...]]] = []
    rows = [
        {"content_id": "a", "version": 1, "status": "DRAFT"},
        {"content_id": "a", "version": 2, "status": "APPROVED"},
        {"content_id": "c", "version": 1, "status": "DRAFT"},
    ]

    class Conn:
        async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
            queries.append((sql, args))
            return rows

    @asynccontextmanager
    async def fake_tx(pool: Any, tenant_id: str, *, statement_timeout_ms: int | None) -> Any:
        assert (tenant_id, statement_timeout_ms) == ("acme", 5_000)
        yield Conn()

    monkeypatch.setattr(loaders, "tenant_tx", fake_tx)
    loader = versioned.versions_loader(
        LoaderScope(None, "acme", cache=True, statement_timeout_ms=5_000),
        "content_versions",
        "content_id",
        lambda r: (r["version"], LibraryStatus(r["status"])),
    )
    got = await loader.load_many(["c", "b", "a"])
    assert got == [
        [(1, LibraryStatus.DRAFT)],
        [],
        [(1, LibraryStatus.DRAFT), (2, LibraryStatus.APPROVED)],
    ]
    [(sql, args)] = queries
    assert "FROM content_versions" in sql and sql.endswith("ORDER BY content_id, version")
    assert args == ("acme", ["c", "b", "a"])


def test_a_refused_transition_is_bad_input_naming_the_item() -> None:
    with pytest.raises(GraphQLError, match="content item cnt_1: only a DRAFT can be approved"):
        versioned.transition(
            "content item",
            "cnt_1",
            lambda s: {**s, "status": library.after_approve(s["status"])},
            {"status": library.Status.RETIRED},
        )
    assert versioned.transition("message", "m", lambda s: {**s, "x": 1}, {}) == {"x": 1}
