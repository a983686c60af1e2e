"""Which webhook events a stage transition, a lead state or an alert makes, and their ids
(services/delivery/events.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.delivery import events
from tests.unit.delivery_samples import AT, transition


def test_ids_depend_on_the_source_fact_only() -> None:
    first = events.from_transition(transition("MQL"), AT)
    again = events.from_transition(transition("MQL"), AT + timedelta(minutes=5))
    assert [o.type.value for o in first] == ["lead.stage_changed", "lead.mql"]
    assert [o.id for o in first] == [o.id for o in again]  # a re-read is the same event
    assert len({o.id for o in first}) == 2
    other = events.from_transition(transition("MQL", ordinal=3), AT)
    assert {o.id for o in other}.isdisjoint(o.id for o in first)
    assert events.delivery_id("acme", "wh_1", first[0].id) != events.delivery_id(
        "acme", "wh_2", first[0].id
    )


def test_deals_and_alerts() -> None:
    won = events.from_transition(transition("CUSTOMER"), AT)
    assert [o.type.value for o in won] == ["lead.stage_changed", "deal.won"]
    lost = events.from_transition(transition("CLOSED_LOST"), AT)
    assert [o.type.value for o in lost] == ["lead.stage_changed", "deal.lost"]
    assert events.from_alert({"type": "other"}, AT) == []


@pytest.mark.parametrize(
    ("previous", "score", "threshold", "fires"),
    [(None, 9, 10, False), (None, 10, 10, True), (40, 49, 10, False), (40, 30, 10, True)],
)
def test_score_threshold(previous: int | None, score: int, threshold: int, fires: bool) -> None:
    assert events.score_change(previous, score, threshold) is fires
