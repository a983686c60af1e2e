"""SPEC 17: deal post-mortems answer the three questions with evidence from the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.domain.config import DEFAULT_CONFIG, FitRule, TenantConfig
from shared.domain.events import Event
from shared.domain.journey import OpportunityStatus
from shared.domain.postmortem import (
    Library,
    PostMortem,
    compare,
    content_of,
    post_mortem,
)
from shared.domain.sla import SlaOutcome

T0 = datetime(2026, 10, 5, 9, tzinfo=UTC)
ICP = TenantConfig(fit_rules=(FitRule("company_size", "gte", 500, 60),))
CONFIGS = {0: DEFAULT_CONFIG, 1: ICP}
LIBRARY = Library(
    content_stages={"ct-guide": "TOFU", "ct-case": "MOFU", "ct-roi": "BOFU"},
    content_objections={"ct-roi": frozenset({"price"})},
    objection_responses=frozenset({"msg-price", "msg-security"}),
)
NOW = T0 + timedelta(days=60)

_seq = iter(range(1, 1_000_000))


def ev(kind: str, hours: float, version: int = 0, **fields: Any) -> Event:
    seq = next(_seq)
    return Event(
        event_id=fields.pop("event_id", f"e{seq}"),
        type=kind,
        occurred_at=T0 + timedelta(hours=hours),
        seq=seq,
        lead_id="L1",
        config_version=version,
        **fields,
    )


def deal(outcome: str = "deal_lost", *, answer_hours: float = 2) -> list[Event]:
    """A lead of fit 0 that asks for a demo (MQL on the fast track), gains a 60-point
    company size before its opportunity, and is won or lost."""
    return [
        ev("content_download", 0, channel="email", content_id="ct-guide"),
        ev("demo_request", 1, channel="paid_search"),
        ev("sales_email", 1 + answer_hours, message_id="msg-intro"),
        ev("lead_updated", 20, 1, properties={"traits": {"company_size": 800}}),
        ev("lead_accepted", 30, 1),
        ev("opportunity_created", 31, 1, properties={"opportunity_id": "O1", "amount": 900}),
        ev("objection_logged", 32, 1, properties={"category": "price"}),
        ev("sales_email", 34, 1, message_id="msg-price"),
        ev("content_shared", 35, 1, properties={"content_id": "ct-roi"}),
        ev("objection_logged", 36, 1, properties={"category": "security"}),
        ev(outcome, 40, 1, properties={"opportunity_id": "O1", "reason": "price"}),
        # After the close: not part of the deal.
        ev("sales_email", 50, 1, message_id="msg-security"),
        ev("content_download", 51, 1, content_id="ct-case"),
    ]


def run(events: list[Event], opportunity: str = "O1") -> PostMortem:
    result = post_mortem(events, CONFIGS, opportunity, LIBRARY, sla_hours=24, now=NOW)
    assert result is not None
    return result


def test_qualification_reads_fit_at_mql_and_at_opportunity_and_the_sla() -> None:
    pm = run(deal())
    q = pm.qualification
    assert (q.fit_at_mql.score, q.fit_at_mql.grade) == (0, "D")  # type: ignore[union-attr]
    assert (q.fit_at_opportunity.score, q.fit_at_opportunity.grade) == (60, "B")  # type: ignore[union-attr]
    assert q.mql_at == T0 + timedelta(hours=1)
    assert q.sla is SlaOutcome.WITHIN and q.sla_met is True
    assert (pm.status, pm.amount, pm.lost_reason) == (OpportunityStatus.LOST, 900, "price")


def test_a_late_answer_misses_the_sla() -> None:
    assert run(deal(answer_hours=30)).qualification.sla is SlaOutcome.LATE


def test_content_per_funnel_stage_up_to_the_close_with_the_gaps() -> None:
    pm = run(deal())
    assert dict(pm.content.by_stage) == {"TOFU": ("ct-guide",), "MOFU": (), "BOFU": ("ct-roi",)}
    # ct-case was read after the close.
    assert pm.content.gaps == ("MOFU",)


def test_objections_against_approved_responses_and_messages_used() -> None:
    m = run(deal()).messaging
    assert [(o.category, o.answered_by) for o in m.objections] == [
        ("price", ("msg-price", "ct-roi")),
        # Raised after the last answer; msg-security was only sent after the deal was lost.
        ("security", ()),
    ]
    assert m.answered == 1
    assert m.messages_used == ("msg-intro", "msg-price")
    assert m.objection_responses_used == ("msg-price",)
    assert m.objection_responses_available == 2


def test_arrival_order_does_not_change_the_post_mortem() -> None:
    events = deal()
    shuffled = [
        Event(**{**{f: getattr(e, f) for f in e.__dataclass_fields__}, "seq": 1000 - e.seq})
        for e in reversed(events)
    ]
    assert run(shuffled) == run(events)


def test_unknown_opportunity_has_no_post_mortem() -> None:
    assert post_mortem(deal(), CONFIGS, "nope", LIBRARY, sla_hours=24, now=NOW) is None


def test_content_shared_counts_its_property() -> None:
    shared = ev("content_shared", 0, properties={"content_id": "ct-roi"})
    assert content_of(shared) == "ct-roi"
    assert content_of(ev("page_view", 0)) is None


def test_compare_sets_won_beside_lost() -> None:
    won = run(deal("deal_won"))
    lost = run(deal(answer_hours=30))
    never_mql = run(
        [
            ev("lead_accepted", 0),
            ev("opportunity_created", 1, properties={"opportunity_id": "O1", "amount": 50}),
            ev("deal_lost", 2, properties={"opportunity_id": "O1", "reason": "timing"}),
        ]
    )
    result = compare([won, lost, never_mql])
    assert result.won.deals == 1 and result.lost.deals == 2
    assert result.won.sla_met_rate == 1.0
    # One lost lead missed the SLA, the other never was an MQL: not judged.
    assert result.lost.sla_met_rate == 0.0
    assert result.lost.mql_share == 0.5
    assert result.lost.avg_fit_at_opportunity == pytest.approx(30.0)
    assert result.lost.grades_at_opportunity == {"B": 1, "D": 1}
    assert result.lost.gap_rate == {"TOFU": 0.5, "MOFU": 1.0, "BOFU": 0.5}
    assert result.lost.objections_per_deal == 1.0
    assert result.lost.answered_rate == 0.5
    assert result.won.content_per_deal == {"TOFU": 1.0, "MOFU": 0.0, "BOFU": 1.0}
    empty = compare([])
    assert empty.won.deals == 0 and empty.won.sla_met_rate is None
