"""simulation.generator: deterministic, valid and realistic journeys (demo data and the bench)."""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.domain.config import DEFAULT_CONFIG
from shared.domain.journey import LeadState, OpportunityStatus, Stage, fold_lead
from shared.validation import event_key, to_domain_event, validate_event
from simulation.generator import CHANNELS, REJECTION_REASONS, JourneyGenerator

NOW = datetime(2026, 11, 20, tzinfo=UTC)
LEADS = 600


@pytest.fixture(scope="module")
def generator() -> JourneyGenerator:
    return JourneyGenerator("acme", seed=42, now=NOW)


@pytest.fixture(scope="module")
def journeys(generator: JourneyGenerator) -> list[list[dict[str, Any]]]:
    return list(generator.journeys(LEADS))


@pytest.fixture(scope="module")
def states(journeys: list[list[dict[str, Any]]]) -> list[LeadState]:
    # A visitor whose journey `now` cut short before the identify is no lead yet.
    return [_fold(j) for j in journeys if any("lead_id" in e for e in j)]


def _fold(journey: list[dict[str, Any]]) -> LeadState:
    """The lead's state under the default config, its anonymous touches stitched to it."""
    lead_id = next(e["lead_id"] for e in journey if "lead_id" in e)
    events = []
    for seq, raw in enumerate(journey):
        event = to_domain_event(raw, seq=seq)
        if event.lead_id is None:
            event = dataclasses.replace(event, lead_id=lead_id, stitched=True)
        events.append(event)
    return fold_lead(events, DEFAULT_CONFIG)


def test_same_seed_same_events() -> None:
    first = list(JourneyGenerator("acme", seed=3, now=NOW).events(50))
    second = list(JourneyGenerator("acme", seed=3, now=NOW).events(50))
    assert first == second
    other = list(JourneyGenerator("acme", seed=4, now=NOW).events(50))
    assert other != first


def test_a_lead_regenerates_on_its_own(generator: JourneyGenerator) -> None:
    assert [generator.journey(17)] == list(generator.journeys(1, start=17))
    assert generator.journey(17) == list(generator.journeys(20))[17]


def test_every_event_is_valid(generator: JourneyGenerator) -> None:
    events = list(generator.events(LEADS))
    for event in events:
        assert validate_event(event, now=NOW) == [], event
        assert event_key(event).startswith("acme:")
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids))


def test_events_are_valid_over_http_without_tenant() -> None:
    generator = JourneyGenerator("acme", seed=5, now=NOW, include_tenant_id=False)
    for event in generator.events(100):
        assert "tenant_id" not in event
        assert validate_event(event, now=NOW, tenant_id="acme") == []


def test_time_order_per_lead_and_span(journeys: list[list[dict[str, Any]]]) -> None:
    start = (NOW - timedelta(days=90)).isoformat().replace("+00:00", "")
    end = (NOW + timedelta(hours=24)).isoformat().replace("+00:00", "")
    for journey in journeys:
        times = [e["occurred_at"] for e in journey]
        assert times == sorted(times)
        assert len(set(times)) == len(times), "ties would make the fold depend on arrival"
        assert all(start <= t <= end for t in times)


def test_span_covers_the_period(journeys: list[list[dict[str, Any]]]) -> None:
    weeks = Counter(
        (NOW - datetime.fromisoformat(e["occurred_at"])).days // 7 for j in journeys for e in j
    )
    assert set(range(12)) <= set(weeks), "every week of the 90 days has activity"


def test_anonymous_visits_are_identified(journeys: list[list[dict[str, Any]]]) -> None:
    anonymous = [j for j in journeys if "lead_id" not in j[0]]
    assert len(anonymous) > LEADS * 0.2
    identified = 0
    for journey in anonymous:
        anonymous_id = journey[0]["anonymous_id"]
        identify = next((e for e in journey if e["type"] == "identify"), None)
        if identify is None:  # still an unknown visitor at `now`
            assert all(e["anonymous_id"] == anonymous_id and "lead_id" not in e for e in journey)
            continue
        identified += 1
        assert identify["anonymous_id"] == anonymous_id
        assert identify["properties"]["traits"]["email"]
        before = journey[: journey.index(identify)]
        assert all("lead_id" not in e and e["anonymous_id"] == anonymous_id for e in before)
    assert identified > len(anonymous) * 0.9


def test_traits_are_complete(journeys: list[list[dict[str, Any]]]) -> None:
    profiles = [
        e["properties"]["traits"]
        for j in journeys
        for e in j
        if e["type"] in ("identify", "lead_updated") and "email" in e["properties"]["traits"]
    ]
    assert len(profiles) >= len(journeys) * 0.95
    for traits in profiles:
        assert {"job_title", "seniority", "department", "industry", "country"} <= set(traits)
        assert isinstance(traits["company_size"], int) and traits["company_size"] > 0
        assert traits["company_domain"] in traits["email"]
    assert len({t["job_title"] for t in profiles}) >= 15
    assert len({t["industry"] for t in profiles}) >= 8
    assert len({t["country"] for t in profiles}) >= 8


def test_touches_cover_channels_campaigns_content(
    generator: JourneyGenerator, journeys: list[list[dict[str, Any]]]
) -> None:
    touches = [e for j in journeys for e in j if "channel" in e]
    assert {e["channel"] for e in touches} == set(CHANNELS)
    assert len({e["campaign_id"] for e in touches if "campaign_id" in e}) >= 12
    assert len({e["content_id"] for e in touches if "content_id" in e}) >= 10
    assert len({e["message_id"] for e in touches if "message_id" in e}) >= 8
    spend = generator.spend()
    assert {e["type"] for e in spend} == {"campaign_spend"}
    per_campaign = Counter(e["campaign_id"] for e in spend)
    assert len(per_campaign) >= 12
    assert set(per_campaign.values()) == {14}, "one per campaign per week of 90 days"


def test_decisions_and_deals_carry_reasons(journeys: list[list[dict[str, Any]]]) -> None:
    events = [e for j in journeys for e in j]
    by_type = Counter(e["type"] for e in events)
    for event_type in (
        "lead_rejected",
        "lead_disqualified",
        "objection_logged",
        "competitor_mentioned",
        "content_shared",
        "opportunity_stage_changed",
        "deal_won",
        "deal_lost",
    ):
        assert by_type[event_type] > 0, event_type
    reasons = {
        e["properties"]["reason"]
        for e in events
        if e["type"] in ("lead_rejected", "lead_disqualified")
    }
    assert reasons <= set(REJECTION_REASONS)
    assert len(reasons) >= 6
    lost = [e["properties"] for e in events if e["type"] == "deal_lost"]
    assert any("competitor" in p for p in lost)
    assert all(p["reason"] for p in lost)


def test_realistic_funnel(states: list[LeadState]) -> None:
    n = len(states)
    mqls = sum(s.mql_at is not None for s in states)
    sqls = sum(s.sql_at is not None for s in states)
    opportunities = [o for s in states for o in s.opportunities.values()]
    won = sum(o.status is OpportunityStatus.WON for o in opportunities)
    lost = sum(o.status is OpportunityStatus.LOST for o in opportunities)
    assert 0.15 < mqls / n < 0.45
    assert 0.3 < sqls / mqls < 0.8
    assert 0.04 < len(opportunities) / n < 0.2
    assert won > 0 and lost > 0
    assert 0.2 < won / (won + lost) < 0.6
    stages = Counter(s.stage for s in states)
    for stage in (Stage.AWARE, Stage.ENGAGED, Stage.MQL, Stage.SQL, Stage.NURTURE):
        assert stages[stage] > 0, stage
    assert stages[Stage.CUSTOMER] == won


def test_sla_mostly_met(states: list[LeadState]) -> None:
    mqls = [s for s in states if s.mql_at is not None]
    responded = [s for s in mqls if s.response_at is not None]
    assert len(responded) / len(mqls) > 0.8
    late = [
        s
        for s in responded
        if s.response_at is not None
        and s.mql_at is not None
        and s.response_at - s.mql_at > timedelta(hours=24)
    ]
    assert 0 < len(late) / len(responded) < 0.25, "some, not most, responses breach 24 h"


def test_fit_drives_conversion(states: list[LeadState]) -> None:
    def mql_rate(seniorities: set[str]) -> float:
        group = [s for s in states if s.traits.get("seniority") in seniorities]
        return sum(s.mql_at is not None for s in group) / len(group)

    assert mql_rate({"vp", "director"}) > 1.5 * mql_rate({"entry"})


def test_stream_is_lazy_and_exact() -> None:
    generator = JourneyGenerator("acme", seed=9, now=NOW)
    stream = generator.events(None, spend=False)
    first = list(itertools.islice(stream, 5_000))
    assert len(first) == 5_000
    assert first[: len(generator.journey(0))] == generator.journey(0)
    assert not any(e["type"] == "campaign_spend" for e in first)


def test_time_ordered_feed(generator: JourneyGenerator) -> None:
    feed = generator.time_ordered(50)
    assert [e["occurred_at"] for e in feed] == sorted(e["occurred_at"] for e in feed)
    assert len(feed) == len(list(generator.events(50)))


def test_id_prefix_separates_generators() -> None:
    a = {e["event_id"] for e in JourneyGenerator("acme", seed=1, now=NOW).events(20)}
    b = {
        e["event_id"] for e in JourneyGenerator("acme", seed=1, now=NOW, id_prefix="x-").events(20)
    }
    assert not a & b


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        JourneyGenerator("acme", now=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="span_days"):
        JourneyGenerator("acme", now=NOW, span_days=0)
