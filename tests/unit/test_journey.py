"""Properties of the fold of a lead's events (SPEC 2.4, 3, 4, 7): any arrival order,
incremental application and duplicates give the same state; scores stay in bounds."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shared.domain.conditions import Condition
from shared.domain.config import FitRule, TenantConfig
from shared.domain.events import RESCORE, Event
from shared.domain.journey import (
    LeadState,
    Stage,
    engagement_at,
    fold_lead,
)
from shared.domain.scoring import engagement
from tests.unit.journey_samples import (
    LENIENT,
    T0,
)

# Properties: order, duplicates, incremental application and bounds.

CONFIGS = {
    0: TenantConfig(
        fit_rules=(
            FitRule("company_size", "gte", 200, 40),
            FitRule("department", "eq", "sales", 30),
            FitRule("seniority", "eq", "intern", -50),
        ),
        disqualifiers=(Condition("country", "eq", "KP"),),
        window_days=5,
    ),
    1: LENIENT,
}
LEAD_TYPES = [
    "page_view",
    "email_open",
    "ad_click",
    "form_submit",
    "webinar_attended",
    "demo_request",
    "lead_updated",
    "sales_call",
    "lead_accepted",
    "lead_rejected",
    "lead_disqualified",
    "lead_requalified",
    "opportunity_created",
    "opportunity_stage_changed",
    "deal_won",
    "deal_lost",
    "objection_logged",
    RESCORE,
]
TRAIT_VALUES = st.fixed_dictionaries(
    {},
    optional={
        "company_size": st.sampled_from([50, 500, None]),
        "department": st.sampled_from(["Sales", "ops", None]),
        "seniority": st.sampled_from(["intern", "vp", None]),
        "country": st.sampled_from(["KP", "US", None]),
    },
)


@st.composite
def lead_histories(draw: st.DrawFn) -> list[Event]:
    count = draw(st.integers(min_value=1, max_value=30))
    events = []
    for seq in range(count):
        kind = draw(st.sampled_from(LEAD_TYPES))
        hours = draw(st.integers(min_value=0, max_value=24 * 12))
        properties: dict[str, Any] = {}
        if kind == "lead_updated":
            properties["traits"] = draw(TRAIT_VALUES)
        elif kind in {"opportunity_created", "opportunity_stage_changed", "deal_won", "deal_lost"}:
            properties["opportunity_id"] = draw(st.sampled_from(["O1", "O2"]))
            properties["amount"] = draw(st.sampled_from([0, 1000, 2500.5]))
            properties["stage"] = "proposal"
        properties["reason"] = "junk"
        properties["category"] = "price"
        events.append(
            Event(
                event_id=f"e{seq}",
                type=kind,
                occurred_at=T0 + timedelta(hours=hours),
                seq=seq,
                lead_id="L1",
                channel=draw(st.sampled_from([None, "email", "paid_search"])),
                properties=properties,
                config_version=draw(st.sampled_from([0, 1])),
            )
        )
    return events


def snapshot(state: LeadState) -> dict[str, Any]:
    public = {
        name: getattr(state, name) for name in LeadState.__slots__ if not name.startswith("_")
    }
    return {**public, "score": state.score, "matrix": state.matrix}


def worker_replay(arrivals: Sequence[Event]) -> LeadState:
    """What the worker does: apply in-order arrivals, refold everything seen on a late one."""
    seen: list[Event] = []
    state = LeadState()
    for event in arrivals:
        seen.append(event)
        if event.event_id in state.event_ids:
            continue
        if state.is_late(event):
            state = fold_lead(seen, CONFIGS)
        else:
            state.apply(event, CONFIGS[event.config_version])
    return state


@settings(max_examples=75, deadline=None)
@given(lead_histories(), st.randoms(use_true_random=False))
def test_any_arrival_order_gives_the_same_state(events: list[Event], rng: random.Random) -> None:
    shuffled = list(events)
    rng.shuffle(shuffled)
    assert snapshot(fold_lead(shuffled, CONFIGS)) == snapshot(fold_lead(events, CONFIGS))


@settings(max_examples=100, deadline=None)
@given(lead_histories(), st.integers(min_value=0, max_value=24 * 200), st.sampled_from([0, 1]))
def test_engagement_at_a_later_instant_is_that_of_every_touch(
    events: list[Event], hours: int, version: int
) -> None:
    """The shortcut through the fold's own window gives what scoring every touch gives,
    whether the config is the one the last event used or another."""
    state = fold_lead(events, CONFIGS)
    assume(state.last_event_at is not None)
    assert state.last_event_at is not None
    instant = state.last_event_at + timedelta(hours=hours)
    config = CONFIGS[version]
    expected = engagement(state.touches, config, instant, state.last_rejected_at)
    assert engagement_at(state, config, instant) == expected
    # Peeking leaves the window as it was: the lead's next event sees the same touches.
    assert engagement_at(state, config, state.last_event_at) == engagement(
        state.touches, config, state.last_event_at, state.last_rejected_at
    )


@settings(max_examples=75, deadline=None)
@given(lead_histories(), st.randoms(use_true_random=False))
def test_incremental_application_equals_the_fold(events: list[Event], rng: random.Random) -> None:
    expected = snapshot(fold_lead(events, CONFIGS))
    in_order = sorted(events, key=lambda event: event.order_key)
    state = LeadState()
    for event in in_order:
        state.apply(event, CONFIGS[event.config_version])
    assert snapshot(state) == expected
    shuffled = list(events)
    rng.shuffle(shuffled)
    assert snapshot(worker_replay(shuffled)) == expected


@settings(max_examples=75, deadline=None)
@given(lead_histories(), st.data())
def test_a_duplicated_event_changes_nothing(events: list[Event], data: st.DataObject) -> None:
    original = data.draw(st.sampled_from(events))
    duplicate = replace(
        original,
        seq=len(events) + 1,
        type=data.draw(st.sampled_from(LEAD_TYPES)),
        occurred_at=original.occurred_at + timedelta(hours=data.draw(st.integers(-48, 48))),
    )
    expected = snapshot(fold_lead(events, CONFIGS))
    assert snapshot(fold_lead([*events, duplicate], CONFIGS)) == expected
    assert (
        snapshot(worker_replay([*sorted(events, key=lambda event: event.order_key), duplicate]))
        == expected
    )


@settings(max_examples=75, deadline=None)
@given(lead_histories())
def test_scores_stay_within_bounds_and_milestones_follow_the_path(events: list[Event]) -> None:
    state = LeadState()
    for event in sorted(events, key=lambda event: event.order_key):
        state.apply(event, CONFIGS[event.config_version])
        assert 0 <= state.fit_score <= 100
        assert 0 <= state.engagement_score <= 100
        assert state.score == state.fit_score + state.engagement_score
        assert state.fit_grade in {"A", "B", "C", "D"}
        assert state.matrix[0] == state.fit_grade
    if state.created_at is None:
        return
    milestones = [
        state.created_at,
        state.engaged_at,
        state.mql_at,
        state.sql_at,
        state.opportunity_at,
        state.customer_at,
    ]
    reached = [
        stage for stage, milestone in zip(SUCCESS, milestones, strict=True) if milestone is not None
    ]
    assert reached[-1] is state.highest_stage
    for transition in state.transitions:
        assert transition.from_stage is not transition.to_stage
    assert state.transitions[0].from_stage is None
    for before, after in itertools.pairwise(state.transitions):
        assert before.to_stage is after.from_stage
        assert before.at <= after.at
    assert state.transitions[-1].to_stage is state.stage


SUCCESS = [Stage.AWARE, Stage.ENGAGED, Stage.MQL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER]
