"""Order, duplicates, config versions and re-scores: the fold applies each event under its
own config version, and the order of arrival never matters."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.domain.config import DEFAULT_CONFIG
from shared.domain.journey import (
    LateEventError,
    LeadState,
    Stage,
    Transition,
    engagement_at,
    fold_lead,
)
from tests.unit.journey_samples import (
    LENIENT,
    STRICT,
    at,
    engaging,
    ev,
    rescore,
    run,
    stages,
    traits,
)

# Order, duplicates, configs.


def test_an_applied_event_id_changes_nothing() -> None:
    first = ev("form_submit", 0, event_id="same")
    state = run([first])
    again = replace(first, type="demo_request", seq=first.seq + 100, occurred_at=at(1))
    assert state.apply(again, DEFAULT_CONFIG) is None
    assert state.stage is Stage.ENGAGED
    assert state.last_event_at == at(0)


def test_fold_keeps_the_first_arrival_of_an_event_id() -> None:
    first = ev("form_submit", 1, event_id="same", seq=5)
    later = replace(first, type="demo_request", seq=9)
    earlier_time_later_arrival = replace(first, type="demo_request", seq=7, occurred_at=at(0))
    state = fold_lead([later, earlier_time_later_arrival, first], DEFAULT_CONFIG)
    assert state.stage is Stage.ENGAGED
    assert state.created_at == at(1)


def test_a_late_event_must_be_refolded() -> None:
    early, late = ev("page_view", 0), ev("form_submit", 1)
    state = run([late])
    assert state.is_late(early)
    with pytest.raises(LateEventError):
        state.apply(early, DEFAULT_CONFIG)
    assert not state.is_late(ev("page_view", 1))
    assert fold_lead([late, early], DEFAULT_CONFIG).created_at == at(0)


def test_ties_on_time_keep_the_arrival_order() -> None:
    rejected = ev("lead_rejected", 1, seq=10, reason="junk")
    touch = ev("webinar_attended", 1, seq=11)
    state = fold_lead([touch, rejected, ev("form_submit", 0, seq=1)], DEFAULT_CONFIG)
    assert state.engagement_score == 0
    state = fold_lead(
        [replace(touch, seq=9), rejected, ev("form_submit", 0, seq=1)], DEFAULT_CONFIG
    )
    assert state.engagement_score == 0
    assert state.last_rejected_at == at(1)


def test_each_event_applies_under_its_own_config_version() -> None:
    events = [
        traits(0, company_size=500),
        ev("form_submit", 1),
        ev("webinar_attended", 2, config_version=1),
        ev("form_submit", 3, config_version=1),
    ]
    state = fold_lead(events, {0: STRICT, 1: LENIENT})
    assert state.fit_score == 50
    assert state.mql_at == at(2)
    assert state.engagement_score == 60
    assert state.config_version == 1
    assert fold_lead(events, STRICT).stage is Stage.ENGAGED


def test_a_config_change_reaches_a_lead_with_its_next_event() -> None:
    events = [traits(0, company_size=500, country="kp"), ev("page_view", 1, config_version=1)]
    state = fold_lead(events, {0: STRICT, 1: LENIENT})
    assert state.disqualified
    assert state.stage is Stage.DISQUALIFIED


def test_rescore_makes_a_now_qualifying_lead_mql_at_the_rescore_time() -> None:
    events = [
        traits(0, company_size=500),
        ev("form_submit", 1),
        ev("webinar_attended", 2),
        rescore(3),
    ]
    state = fold_lead(events, {0: STRICT, 1: LENIENT})
    assert state.stage is Stage.MQL
    assert state.mql_at == at(3)
    assert (state.fit_score, state.engagement_score, state.last_event_at) == (50, 40, at(3))
    assert state.transitions[-1] == Transition(
        Stage.ENGAGED,
        Stage.MQL,
        at(3),
        "rescore",
        "MQL: fit 50 ≥ 0 and engagement 40 ≥ 30 after re-score",
    )


def test_rescore_uses_the_new_window_at_the_rescore_time() -> None:
    events = [ev("form_submit", 0), ev("webinar_attended", 40), rescore(41)]
    state = fold_lead(events, {0: DEFAULT_CONFIG, 1: LENIENT})
    assert state.engagement_score == 20
    assert state.stage is Stage.ENGAGED


def test_rescore_never_moves_a_lead_back_nor_disqualifies_it() -> None:
    events = [traits(0, country="KP"), *engaging(1), ev("lead_accepted", 5), rescore(6)]
    state = fold_lead(events, {0: DEFAULT_CONFIG, 1: LENIENT})
    assert state.stage is Stage.SQL
    assert state.disqualified
    events = [traits(0, country="KP"), *engaging(1), rescore(5)]
    state = fold_lead(events, {0: DEFAULT_CONFIG, 1: LENIENT})
    assert state.stage is Stage.MQL
    assert state.disqualified
    assert len(state.transitions) == 3
    # The next event applies the SPEC 3 steps again, step 4 included.
    state = fold_lead(
        [*events, ev("page_view", 6, config_version=1)], {0: DEFAULT_CONFIG, 1: LENIENT}
    )
    assert stages(state)[-1] == (Stage.MQL, Stage.DISQUALIFIED)


def test_a_disqualified_lead_is_not_made_mql_by_a_rescore() -> None:
    events = [
        traits(0, country="KP", company_size=500),
        ev("form_submit", 1),
        ev("webinar_attended", 2),
        rescore(3),
    ]
    state = fold_lead(events, {0: DEFAULT_CONFIG, 1: LENIENT})
    assert state.stage is Stage.ENGAGED


def test_rescore_before_the_first_event_changes_nothing() -> None:
    state = fold_lead([rescore(0), ev("page_view", 1)], {0: DEFAULT_CONFIG, 1: LENIENT})
    assert state.created_at == at(1)
    assert state.transitions == [
        Transition(None, Stage.AWARE, at(1), state.transitions[0].event_id, "created by page_view")
    ]
    assert state.last_event_at == at(1)


def test_an_event_sorting_before_a_first_rescore_is_late() -> None:
    early = [traits(0, company_size=500), ev("form_submit", 1), ev("webinar_attended", 2)]
    state = LeadState()
    state.apply(rescore(5), LENIENT)
    assert state.is_late(early[0])
    folded = fold_lead([rescore(5), *early], {0: DEFAULT_CONFIG, 1: LENIENT})
    assert (folded.stage, folded.mql_at) == (Stage.MQL, at(5))


def test_engagement_at_a_wall_clock_instant() -> None:
    state = run(
        [
            ev("webinar_attended", 0),
            ev("form_submit", 50),
            ev("lead_rejected", 60, reason="x"),
            ev("page_view", 61),
        ]
    )
    assert engagement_at(state, DEFAULT_CONFIG, at(61)).score == 1
    state = run([ev("webinar_attended", 0), ev("form_submit", 50)])
    assert engagement_at(state, DEFAULT_CONFIG, at(50)).score == 22
    assert engagement_at(state, DEFAULT_CONFIG, at(95)).score == 10
    result = engagement_at(state, DEFAULT_CONFIG, at(200))
    assert (result.score, result.evidence) == (0, ())
    assert state.engagement_score == 22
