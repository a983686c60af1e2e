"""SPEC 7: the SLA facts of a lead (response and disposition after its MQL)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.domain.config import DEFAULT_CONFIG, MqlRule
from tests.unit.journey_samples import (
    at,
    engaging,
    ev,
    run,
)

# SLA facts (SPEC 7).


def test_sla_response_and_disposition() -> None:
    events = [
        ev("sales_email", 0),
        ev("lead_rejected", 0.5, reason="junk"),
        *engaging(1),
        ev("sales_call", 4.5),
        ev("meeting_held", 4.6),
        ev("lead_accepted", 5),
        ev("lead_rejected", 6, reason="no_budget"),
    ]
    state = run(events)
    assert state.mql_at == at(4)
    assert (state.response_at, state.response_type) == (at(4.5), "sales_call")
    assert (state.disposition_at, state.disposition_type) == (at(5), "lead_accepted")


@pytest.mark.parametrize(
    "kind",
    [
        "sales_email",
        "sales_call",
        "meeting_held",
        "content_shared",
        "lead_accepted",
        "lead_rejected",
        "lead_disqualified",
        "opportunity_created",
    ],
)
def test_every_response_type(kind: str) -> None:
    state = run([*engaging(), ev(kind, 4, reason="junk", opportunity_id="O", amount=1)])
    assert (state.response_at, state.response_type) == (at(4), kind)
    disposed = kind in {"lead_accepted", "lead_rejected", "lead_disqualified"}
    assert state.disposition_at == (at(4) if disposed else None)


def test_no_sla_facts_without_mql() -> None:
    state = run([ev("form_submit", 0), ev("sales_call", 1), ev("lead_accepted", 2)])
    assert (state.response_at, state.disposition_at) == (None, None)


def test_the_mql_event_itself_can_be_the_response() -> None:
    config = replace(DEFAULT_CONFIG, mql=MqlRule(fast_track_types=("demo_request", "meeting_held")))
    state = run([ev("page_view", 0), ev("meeting_held", 1)], config)
    assert state.mql_at == state.response_at == at(1)
