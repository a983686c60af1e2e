"""SPEC 3 step 4 and SPEC 4: the ICP's disqualifiers flag a lead, and fixing its traits
clears the flag."""

from __future__ import annotations

import pytest

from shared.domain.events import Event
from shared.domain.journey import (
    Stage,
    Transition,
)
from tests.unit.journey_samples import (
    DISQ,
    ICP,
    at,
    engaging,
    ev,
    run,
    stages,
    traits,
)

# Step 4: ICP disqualifiers.


@pytest.mark.parametrize(
    ("history", "start"),
    [
        ([ev("page_view", 0)], Stage.AWARE),
        ([ev("form_submit", 0)], Stage.ENGAGED),
        (engaging(), Stage.MQL),
        ([*engaging(), ev("lead_rejected", 4, reason="junk")], Stage.NURTURE),
    ],
)
def test_an_icp_disqualifier_disqualifies(history: list[Event], start: Stage) -> None:
    state = run([*history, traits(5, "identify", seniority="entry")], DISQ)
    assert state.disqualified is True
    assert state.disqualifier == "seniority eq 'ENTRY'"
    assert stages(state)[-1] == (start, Stage.DISQUALIFIED)
    assert state.transitions[-1].reason == "DISQUALIFIED: ICP disqualifier seniority eq 'ENTRY'"


@pytest.mark.parametrize(
    "history",
    [
        [ev("lead_accepted", 0)],
        [ev("opportunity_created", 0, opportunity_id="O", amount=1)],
        [ev("deal_won", 0, opportunity_id="O")],
        [ev("deal_lost", 0, opportunity_id="O", reason="price")],
    ],
)
def test_an_icp_disqualifier_leaves_later_stages(history: list[Event]) -> None:
    before = run(history, DISQ).stage
    state = run([*history, traits(5, seniority="entry")], DISQ)
    assert state.disqualified is True
    assert state.stage is before


def test_a_disqualified_sql_rejected_into_nurture_is_disqualified_in_the_same_event() -> None:
    events = [
        ev("lead_accepted", 0),
        traits(1, seniority="entry"),
        ev("lead_rejected", 2, event_id="r", reason="not_icp"),
    ]
    state = run(events, ICP)
    assert state.transitions[-1] == Transition(
        Stage.SQL,
        Stage.DISQUALIFIED,
        at(2),
        "r",
        "NURTURE: rejected by sales (not_icp), engagement reset; "
        "DISQUALIFIED: ICP disqualifier seniority eq 'ENTRY'",
    )


def test_a_flagged_lead_cannot_be_requalified_or_become_mql() -> None:
    events = [
        traits(0, seniority="entry", company_size=900),
        ev("lead_requalified", 1),
        ev("demo_request", 2),
        *engaging(3),
    ]
    state = run(events, ICP)
    assert state.stage is Stage.DISQUALIFIED
    assert stages(state) == [(None, Stage.DISQUALIFIED)]
    assert state.highest_stage is Stage.AWARE
    assert state.engaged_at is None


def test_fixing_the_traits_clears_the_flag_and_requalification_resumes() -> None:
    events = [
        traits(0, seniority="entry", company_size=900),
        ev("form_submit", 1),
        traits(2, seniority="manager"),
        ev("lead_requalified", 3),
        ev("webinar_attended", 4),
        ev("webinar_attended", 5),
    ]
    state = run(events, ICP)
    assert state.disqualified is False
    assert state.disqualifier is None
    assert stages(state) == [
        (None, Stage.DISQUALIFIED),
        (Stage.DISQUALIFIED, Stage.AWARE),
        (Stage.AWARE, Stage.ENGAGED),
        (Stage.ENGAGED, Stage.MQL),
    ]
    assert (state.engaged_at, state.mql_at) == (at(4), at(5))
