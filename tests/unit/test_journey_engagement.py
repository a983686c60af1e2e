"""SPEC 3 steps 1 and 6: a lead is created in AWARE, engages, and becomes an MQL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.domain.config import MqlRule
from shared.domain.journey import (
    Stage,
    Transition,
)
from tests.unit.journey_samples import (
    ICP,
    at,
    engaging,
    ev,
    run,
    stages,
    traits,
)

# Step 1 and the ENGAGED rule.


def test_the_first_event_creates_the_lead_in_aware() -> None:
    state = run([ev("page_view", 0, event_id="first", account_id="A1")])
    assert state.lead_id == "L1"
    assert state.account_id == "A1"
    assert state.stage is Stage.AWARE
    assert state.highest_stage is Stage.AWARE
    assert state.created_at == at(0)
    assert state.engaged_at is None
    assert state.transitions == [
        Transition(None, Stage.AWARE, at(0), "first", "created by page_view")
    ]


@pytest.mark.parametrize("kind", ["page_view", "email_open", "ad_click", "sales_email", "identify"])
def test_low_intent_and_non_touch_events_do_not_engage(kind: str) -> None:
    state = run([ev("page_view", 0), ev(kind, 1)])
    assert state.stage is Stage.AWARE
    assert state.engaged_at is None


@pytest.mark.parametrize(
    "kind",
    [
        "email_click",
        "social_engagement",
        "content_download",
        "chat_conversation",
        "webinar_attended",
        "event_attended",
        "form_submit",
    ],
)
def test_engagement_touches_engage(kind: str) -> None:
    state = run([ev("page_view", 0), ev(kind, 1, event_id="x")])
    assert state.stage is Stage.ENGAGED
    assert state.engaged_at == at(1)
    assert state.transitions[-1] == Transition(
        Stage.AWARE, Stage.ENGAGED, at(1), "x", f"ENGAGED: {kind} is an engagement touch"
    )


def test_a_first_engagement_touch_creates_and_engages_in_one_transition() -> None:
    state = run([ev("form_submit", 0, event_id="x")])
    assert state.created_at == state.engaged_at == at(0)
    assert state.transitions == [
        Transition(
            None,
            Stage.ENGAGED,
            at(0),
            "x",
            "created by form_submit; ENGAGED: form_submit is an engagement touch",
        )
    ]


# Step 6: MQL.


def test_mql_on_engagement() -> None:
    events = engaging()
    state = run(events)
    assert state.stage is Stage.MQL
    assert state.mql_at == at(3)
    assert state.engagement_score == 42
    assert state.highest_stage is Stage.MQL
    assert stages(state) == [(None, Stage.ENGAGED), (Stage.ENGAGED, Stage.MQL)]
    assert state.transitions[-1].reason == "MQL: fit 0 ≥ 0 and engagement 42 ≥ 40"
    assert state.transitions[-1].event_id == events[-1].event_id


def test_mql_reason_names_the_rule_and_the_scores() -> None:
    events = [
        traits(0, company_size=900, country="GB"),
        ev("webinar_attended", 1),
        ev("email_click", 2),
        ev("webinar_attended", 3),
        ev("page_view", 4),
        ev("email_click", 5),
    ]
    state = run(events, ICP)
    assert state.fit_score == 55
    assert state.transitions[-1].reason == "MQL: fit 55 ≥ 25 and engagement 31 ≥ 30"


def test_mql_needs_the_minimum_fit() -> None:
    state = run([*engaging(), ev("demo_request", 4)], ICP)
    assert state.engagement_score == 72
    assert state.stage is Stage.ENGAGED
    state = run([traits(0, company_size=500), *engaging(1)], ICP)
    assert state.stage is Stage.MQL
    assert state.mql_at == at(3)


def test_fast_track_makes_an_mql_at_once() -> None:
    state = run([ev("demo_request", 0, event_id="d")])
    assert state.stage is Stage.MQL
    assert state.created_at == state.engaged_at == state.mql_at == at(0)
    assert state.engagement_score == 30
    assert state.transitions == [
        Transition(
            None,
            Stage.MQL,
            at(0),
            "d",
            "created by demo_request; ENGAGED: demo_request is an engagement touch; "
            "MQL: fast track demo_request with fit 0 ≥ 0",
        )
    ]


def test_fast_track_needs_its_minimum_fit() -> None:
    config = replace(ICP, mql=MqlRule(25, 40, ("demo_request",), 50))
    assert run([ev("demo_request", 0)], config).stage is Stage.ENGAGED
    state = run(
        [traits(0, company_size=600, department="marketing"), ev("demo_request", 1)], config
    )
    assert state.stage is Stage.MQL
    assert state.transitions[-1].reason == (
        "ENGAGED: demo_request is an engagement touch; "
        "MQL: fast track demo_request with fit 80 ≥ 50"
    )


def test_a_trait_change_alone_can_make_an_mql() -> None:
    state = run([ev("form_submit", 0), ev("webinar_attended", 1), ev("email_click", 2)], ICP)
    assert (state.stage, state.engagement_score) == (Stage.ENGAGED, 25)
    state = run(
        [
            ev("form_submit", 0),
            ev("webinar_attended", 1),
            ev("content_download", 2),
            traits(3, company_size=700),
        ],
        ICP,
    )
    assert state.stage is Stage.MQL
    assert state.mql_at == at(3)


def test_mql_stays_mql_and_keeps_its_first_time() -> None:
    state = run([*engaging(), ev("demo_request", 4)])
    assert state.stage is Stage.MQL
    assert state.mql_at == at(3)
    assert len(state.transitions) == 2
