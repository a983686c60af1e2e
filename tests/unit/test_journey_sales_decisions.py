"""SPEC 3 step 3: sales accepts, rejects (recycles), disqualifies and requalifies a lead."""

from __future__ import annotations

import pytest

from shared.domain.events import Event
from shared.domain.journey import (
    Mention,
    Stage,
    Transition,
)
from tests.unit.journey_samples import (
    at,
    engaging,
    ev,
    run,
    stages,
)

# Step 3: decisions by sales.


@pytest.mark.parametrize(
    ("history", "start"),
    [
        ([ev("page_view", 0)], Stage.AWARE),
        ([ev("form_submit", 0)], Stage.ENGAGED),
        (engaging(), Stage.MQL),
    ],
)
def test_lead_accepted_makes_an_sql(history: list[Event], start: Stage) -> None:
    state = run([*history, ev("lead_accepted", 5, event_id="acc")])
    assert stages(state)[-1] == (start, Stage.SQL)
    assert state.sql_at == at(5)
    assert state.highest_stage is Stage.SQL
    assert state.transitions[-1].reason == "SQL: accepted by sales"
    # Only stages actually entered get their milestone.
    assert (state.mql_at is None) is (start is not Stage.MQL)


def test_lead_accepted_from_nurture() -> None:
    state = run([*engaging(), ev("lead_rejected", 4, reason="bad_timing"), ev("lead_accepted", 5)])
    assert stages(state)[-1] == (Stage.NURTURE, Stage.SQL)


@pytest.mark.parametrize(
    "history",
    [
        [ev("lead_accepted", 0)],
        [ev("opportunity_created", 0, opportunity_id="O", amount=1)],
        [ev("lead_disqualified", 0, reason="junk")],
    ],
)
def test_lead_accepted_does_nothing_elsewhere(history: list[Event]) -> None:
    before = run(history)
    state = run([*history, ev("lead_accepted", 5)])
    assert state.stage is before.stage
    assert len(state.transitions) == len(before.transitions)


def test_lead_rejected_recycles_an_mql_into_nurture() -> None:
    history = engaging()
    state = run([*history, ev("lead_rejected", 4, event_id="rej", reason="bad_timing")])
    assert state.stage is Stage.NURTURE
    assert state.highest_stage is Stage.MQL
    assert state.engagement_score == 0
    assert state.engagement_evidence == ()
    assert state.last_rejected_at == at(4)
    assert state.rejections == [Mention(at(4), "bad_timing", "rej")]
    assert state.transitions[-1] == Transition(
        Stage.MQL,
        Stage.NURTURE,
        at(4),
        "rej",
        "NURTURE: rejected by sales (bad_timing), engagement reset",
    )


def test_lead_rejected_recycles_an_sql_into_nurture() -> None:
    state = run([*engaging(), ev("lead_accepted", 4), ev("lead_rejected", 5, reason="no_budget")])
    assert stages(state)[-1] == (Stage.SQL, Stage.NURTURE)
    assert state.highest_stage is Stage.SQL


def test_a_recycled_lead_becomes_mql_again_only_on_new_engagement() -> None:
    events = [
        *engaging(),
        ev("lead_rejected", 4, reason="bad_timing"),
        ev("webinar_attended", 5),
        ev("webinar_attended", 6),
        ev("content_download", 7),
        ev("content_download", 8),
    ]
    state = run(events)
    assert stages(state)[-2:] == [(Stage.MQL, Stage.NURTURE), (Stage.NURTURE, Stage.MQL)]
    assert state.engagement_score == 40
    assert state.mql_at == at(3)
    assert state.transitions[-1].at == at(8)


def test_touches_at_the_rejection_instant_no_longer_count() -> None:
    events = [
        ev("form_submit", 0),
        ev("lead_rejected", 1, reason="junk"),
        ev("webinar_attended", 1),
        ev("email_click", 1.5),
    ]
    state = run(events)
    assert state.engagement_score == 3
    assert len(state.touches) == 3


def test_lead_rejected_resets_engagement_whatever_the_stage() -> None:
    # SPEC 4 counts only touches after the last lead_rejected; the stage rule of SPEC 3
    # moves only MQL and SQL leads to NURTURE.
    state = run(
        [ev("form_submit", 0), ev("webinar_attended", 1), ev("lead_rejected", 2, reason="not_icp")]
    )
    assert state.stage is Stage.ENGAGED
    assert state.engagement_score == 0
    assert len(state.transitions) == 1


@pytest.mark.parametrize(
    ("history", "start"),
    [
        ([ev("page_view", 0)], Stage.AWARE),
        ([ev("form_submit", 0)], Stage.ENGAGED),
        (engaging(), Stage.MQL),
        ([ev("lead_accepted", 0)], Stage.SQL),
        ([*engaging(), ev("lead_rejected", 4, reason="junk")], Stage.NURTURE),
    ],
)
def test_lead_disqualified_by_sales(history: list[Event], start: Stage) -> None:
    state = run([*history, ev("lead_disqualified", 5, event_id="dq", reason="junk")])
    assert stages(state)[-1] == (start, Stage.DISQUALIFIED)
    assert state.transitions[-1].reason == "DISQUALIFIED: disqualified by sales (junk)"
    assert state.disqualifications == [Mention(at(5), "junk", "dq")]
    # The flag is the ICP's: a lead disqualified by sales is not flagged.
    assert state.disqualified is False


@pytest.mark.parametrize(
    "history",
    [
        [ev("opportunity_created", 0, opportunity_id="O", amount=1)],
        [ev("deal_won", 0, opportunity_id="O")],
        [ev("deal_lost", 0, opportunity_id="O", reason="price")],
    ],
)
def test_lead_disqualified_does_not_touch_deals(history: list[Event]) -> None:
    before = run(history).stage
    assert run([*history, ev("lead_disqualified", 5, reason="junk")]).stage is before


def test_lead_requalified() -> None:
    state = run(
        [
            ev("form_submit", 0),
            ev("lead_disqualified", 1, reason="junk"),
            ev("lead_requalified", 2, event_id="rq"),
        ]
    )
    assert stages(state)[-1] == (Stage.DISQUALIFIED, Stage.AWARE)
    assert state.transitions[-1].reason == "AWARE: requalified by sales"
    assert state.highest_stage is Stage.ENGAGED
    assert run([ev("form_submit", 0), ev("lead_requalified", 1)]).stage is Stage.ENGAGED


def test_a_requalified_lead_engages_and_qualifies_again() -> None:
    events = [
        *engaging(),
        ev("lead_disqualified", 4, reason="duplicate"),
        ev("lead_requalified", 5, event_id="rq"),
    ]
    state = run(events)
    # Engagement (42) still meets the MQL rule: the requalification passes AWARE into MQL.
    assert state.transitions[-1] == Transition(
        Stage.DISQUALIFIED,
        Stage.MQL,
        at(5),
        "rq",
        "AWARE: requalified by sales; MQL: fit 0 ≥ 0 and engagement 42 ≥ 40",
    )
    assert state.engaged_at == at(0)
    assert state.mql_at == at(3)
