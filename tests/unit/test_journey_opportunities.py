"""SPEC 3: opportunities, deals won and lost, and the stages they move a lead to."""

from __future__ import annotations

from shared.domain.journey import (
    Opportunity,
    OpportunityStatus,
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

# Opportunities.


def test_opportunity_lifecycle_to_customer() -> None:
    events = [
        traits(0, company_size=900, department="sales"),
        *engaging(1),
        ev("lead_accepted", 5),
        ev("opportunity_created", 6, event_id="oc", opportunity_id="O1", amount=25_000),
        ev("opportunity_stage_changed", 7, opportunity_id="O1", stage="proposal"),
        ev("deal_won", 8, event_id="won", opportunity_id="O1", amount=30_000),
    ]
    state = run(events, ICP)
    assert stages(state)[-2:] == [
        (Stage.SQL, Stage.OPPORTUNITY),
        (Stage.OPPORTUNITY, Stage.CUSTOMER),
    ]
    assert (state.sql_at, state.opportunity_at, state.customer_at) == (at(5), at(6), at(8))
    assert state.highest_stage is Stage.CUSTOMER
    assert state.transitions[-2].reason == "OPPORTUNITY: opportunity O1 created"
    assert state.transitions[-1].reason == "CUSTOMER: opportunity O1 won"
    assert state.opportunities == {
        "O1": Opportunity(
            "O1",
            25_000.0,
            at(6),
            status=OpportunityStatus.WON,
            stage="proposal",
            closed_at=at(8),
            won_amount=30_000.0,
            fit_grade_at_win="A",
            last_activity_at=at(7),
        )
    }


def test_won_amount_defaults_to_the_opportunity_amount() -> None:
    state = run(
        [
            ev("opportunity_created", 0, opportunity_id="O", amount=900),
            ev("deal_won", 1, opportunity_id="O"),
        ]
    )
    assert state.opportunities["O"].won_amount == 900.0
    assert state.opportunities["O"].fit_grade_at_win == "D"


def test_a_lost_deal_closes_the_lead_when_nothing_else_is_open() -> None:
    events = [
        ev("opportunity_created", 0, opportunity_id="O1", amount=10),
        ev("opportunity_created", 1, opportunity_id="O2", amount=20),
        ev("deal_lost", 2, opportunity_id="O1", reason="price", competitor="Acme"),
    ]
    state = run(events)
    assert state.stage is Stage.OPPORTUNITY
    lost = state.opportunities["O1"]
    assert (lost.status, lost.closed_at, lost.lost_reason, lost.competitor) == (
        OpportunityStatus.LOST,
        at(2),
        "price",
        "Acme",
    )
    state = run([*events, ev("deal_lost", 3, event_id="l2", opportunity_id="O2", reason="timing")])
    assert state.stage is Stage.CLOSED_LOST
    assert state.highest_stage is Stage.OPPORTUNITY
    assert state.transitions[-1] == Transition(
        Stage.OPPORTUNITY,
        Stage.CLOSED_LOST,
        at(3),
        "l2",
        "CLOSED_LOST: opportunity O2 lost (timing), no other open opportunity",
    )


def test_a_new_opportunity_reopens_a_closed_lost_lead() -> None:
    events = [
        ev("opportunity_created", 0, opportunity_id="O1", amount=10),
        ev("deal_lost", 1, opportunity_id="O1", reason="price"),
        ev("opportunity_created", 2, opportunity_id="O2", amount=20),
    ]
    state = run(events)
    assert stages(state)[-1] == (Stage.CLOSED_LOST, Stage.OPPORTUNITY)
    assert state.opportunity_at == at(0)


def test_a_customer_stays_customer_on_new_or_lost_opportunities() -> None:
    events = [
        ev("opportunity_created", 0, opportunity_id="O1", amount=10),
        ev("deal_won", 1, opportunity_id="O1"),
        ev("opportunity_created", 2, opportunity_id="O2", amount=20),
        ev("deal_lost", 3, opportunity_id="O2", reason="price"),
    ]
    state = run(events)
    assert state.stage is Stage.CUSTOMER
    assert len(state.transitions) == 2
    assert state.opportunities["O2"].status is OpportunityStatus.LOST


def test_deal_won_makes_a_customer_from_any_stage() -> None:
    events = [
        ev("opportunity_created", 0, opportunity_id="O1", amount=10),
        ev("deal_lost", 1, opportunity_id="O1", reason="x"),
        ev("deal_won", 2, opportunity_id="O1"),
    ]
    state = run(events)
    assert stages(state)[-1] == (Stage.CLOSED_LOST, Stage.CUSTOMER)
    assert state.opportunities["O1"].status is OpportunityStatus.WON
    assert state.opportunities["O1"].lost_reason is None


def test_unknown_opportunities_are_created_by_later_events() -> None:
    state = run(
        [ev("form_submit", 0), ev("deal_won", 1, event_id="w", opportunity_id="O9", amount=500)]
    )
    assert state.opportunities["O9"] == Opportunity(
        "O9",
        500.0,
        at(1),
        status=OpportunityStatus.WON,
        closed_at=at(1),
        won_amount=500.0,
        fit_grade_at_win="D",
        last_activity_at=at(1),
    )
    assert state.opportunity_at == state.customer_at == at(1)
    assert state.transitions[-1] == Transition(
        Stage.ENGAGED,
        Stage.CUSTOMER,
        at(1),
        "w",
        "OPPORTUNITY: opportunity O9 opened by deal_won; CUSTOMER: opportunity O9 won",
    )
    state = run([ev("opportunity_stage_changed", 0, opportunity_id="O8", stage="discovery")])
    assert state.opportunities["O8"].amount == 0.0
    assert state.opportunities["O8"].stage == "discovery"
    assert state.stage is Stage.OPPORTUNITY
    state = run([ev("page_view", 0), ev("deal_lost", 1, opportunity_id="O7", reason="price")])
    assert stages(state)[-1] == (Stage.AWARE, Stage.CLOSED_LOST)
    assert state.opportunity_at == at(1)


def test_opportunity_created_after_a_stage_change_sets_the_amount() -> None:
    events = [
        ev("opportunity_stage_changed", 0, opportunity_id="O", stage="discovery"),
        ev("opportunity_created", 1, event_id="oc", opportunity_id="O", amount=700),
    ]
    state = run(events)
    opportunity = state.opportunities["O"]
    assert (opportunity.amount, opportunity.created_at, opportunity.stage) == (
        700.0,
        at(0),
        "discovery",
    )
    assert opportunity.last_activity_at == at(1)
    assert len(state.transitions) == 1


def test_a_repeated_win_keeps_the_first_close() -> None:
    events = [
        ev("deal_won", 0, opportunity_id="O", amount=5),
        ev("deal_won", 1, opportunity_id="O", amount=7),
    ]
    opportunity = run(events).opportunities["O"]
    assert (opportunity.closed_at, opportunity.won_amount) == (at(0), 5.0)


def test_sales_activity_touches_open_opportunities() -> None:
    events = [
        ev("opportunity_created", 0, opportunity_id="O1", amount=1),
        ev("opportunity_created", 1, opportunity_id="O2", amount=1),
        ev("deal_lost", 2, opportunity_id="O2", reason="x"),
        ev("sales_call", 3),
    ]
    state = run(events)
    assert state.last_sales_activity_at == at(3)
    assert state.opportunities["O1"].last_activity_at == at(3)
    assert state.opportunities["O2"].last_activity_at == at(1)
