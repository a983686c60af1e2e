"""SPEC 7: one MQL's outcome against a limit, its response group and its alert id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.journey import RESPONSE_TYPES
from shared.domain.sla import (
    ResponseGroup,
    SlaKind,
    SlaOutcome,
    alert_id,
    classify,
    deadline,
    response_group,
)

MQL_AT = datetime(2026, 11, 18, tzinfo=UTC)
HOURS = 24.0
DUE = MQL_AT + timedelta(hours=HOURS)


def test_the_deadline_is_mql_at_plus_the_limit() -> None:
    assert deadline(MQL_AT, 24) == datetime(2026, 11, 19, tzinfo=UTC)
    assert deadline(MQL_AT, 1.5) == datetime(2026, 11, 18, 1, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("answered_at", "now", "outcome"),
    [
        # answered: the clock no longer matters
        (MQL_AT, DUE + timedelta(days=9), SlaOutcome.WITHIN),
        (DUE, DUE + timedelta(days=9), SlaOutcome.WITHIN),
        (DUE + timedelta(microseconds=1), DUE + timedelta(days=9), SlaOutcome.LATE),
        (DUE + timedelta(hours=6), DUE - timedelta(hours=1), SlaOutcome.LATE),
        # not answered: pending up to and at the deadline, overdue once past it
        (None, MQL_AT, SlaOutcome.PENDING),
        (None, DUE, SlaOutcome.PENDING),
        (None, DUE + timedelta(microseconds=1), SlaOutcome.OVERDUE),
    ],
)
def test_classify(answered_at: datetime | None, now: datetime, outcome: SlaOutcome) -> None:
    assert classify(MQL_AT, answered_at, now, HOURS) is outcome


@pytest.mark.parametrize(
    ("outcome", "answered", "breached"),
    [
        (SlaOutcome.WITHIN, True, False),
        (SlaOutcome.LATE, True, True),
        (SlaOutcome.OVERDUE, False, True),
        (SlaOutcome.PENDING, False, False),
    ],
)
def test_answered_and_breached(outcome: SlaOutcome, answered: bool, breached: bool) -> None:
    assert (outcome.answered, outcome.breached) == (answered, breached)


@given(
    answer=st.none() | st.integers(min_value=0, max_value=200 * 3600),
    clock=st.integers(min_value=-48 * 3600, max_value=200 * 3600),
    hours=st.floats(min_value=0.01, max_value=8760),
)
def test_the_outcome_is_the_spec_rule(answer: int | None, clock: int, hours: float) -> None:
    answered_at = None if answer is None else MQL_AT + timedelta(seconds=answer)
    now = MQL_AT + timedelta(seconds=clock)
    outcome = classify(MQL_AT, answered_at, now, hours)
    due = deadline(MQL_AT, hours)
    in_time = answered_at is not None and answered_at <= due
    assert outcome.answered is (answered_at is not None)
    assert outcome.breached is (not in_time and (answered_at is not None or now > due))
    assert (outcome is SlaOutcome.PENDING) is (answered_at is None and now <= due)


def test_every_response_type_has_a_group_and_no_response_has_its_own() -> None:
    assert {response_group(t) for t in RESPONSE_TYPES} == {
        ResponseGroup.SALES_ACTIVITY,
        ResponseGroup.LEAD_DECISION,
        ResponseGroup.OPPORTUNITY,
    }
    assert response_group(None) is ResponseGroup.NO_RESPONSE
    assert response_group("meeting_held") is ResponseGroup.SALES_ACTIVITY
    assert response_group("lead_rejected") is ResponseGroup.LEAD_DECISION
    assert response_group("opportunity_created") is ResponseGroup.OPPORTUNITY


def test_a_marketing_touch_is_no_response() -> None:
    with pytest.raises(KeyError):
        response_group("email_click")


def test_the_alert_id_is_the_same_for_the_same_instant_in_any_zone() -> None:
    cet = timezone(timedelta(hours=1))
    same = MQL_AT.astimezone(cet)
    assert alert_id("acme", "L-1", SlaKind.RESPONSE, MQL_AT) == (
        "acme:L-1:RESPONSE:2026-11-18T00:00:00.000000Z"
    )
    assert alert_id("acme", "L-1", SlaKind.RESPONSE, same) == alert_id(
        "acme", "L-1", SlaKind.RESPONSE, MQL_AT
    )
    assert alert_id("acme", "L-1", SlaKind.DISPOSITION, MQL_AT) != alert_id(
        "acme", "L-1", SlaKind.RESPONSE, MQL_AT
    )
