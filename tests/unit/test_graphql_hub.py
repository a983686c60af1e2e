"""The in-memory fan-out of lead changes: a tenant's subscribers get its changes only."""

from __future__ import annotations

import orjson

from services.gateway.graphql.core.hub import QUEUE_SIZE, LeadChangeHub
from services.gateway.graphql.subscriptions.resolvers import LeadChange


def change(tenant: str, lead: str, stage: str = "MQL", n: int = 0) -> bytes:
    return orjson.dumps(
        {
            "tenant_id": tenant,
            "lead_id": lead,
            "previous_stage": "ENGAGED",
            "stage": stage,
            "fit_score": 10,
            "engagement_score": n,
            "score": 10 + n,
            "matrix": "D3",
            "at": "2026-11-20T00:00:00+00:00",
        }
    )


def test_a_change_reaches_only_the_subscribers_of_its_tenant() -> None:
    hub = LeadChangeHub("127.0.0.1:1")
    first_a, second_a = hub.attach("tenant-a"), hub.attach("tenant-a")
    only_b = hub.attach("tenant-b")
    assert hub.dispatch(change("tenant-a", "L-1")) == 2
    assert hub.dispatch(change("tenant-c", "L-1")) == 0
    assert first_a.get_nowait()["lead_id"] == second_a.get_nowait()["lead_id"] == "L-1"
    assert only_b.empty()


def test_a_detached_subscriber_gets_nothing_more() -> None:
    hub = LeadChangeHub("127.0.0.1:1")
    queue = hub.attach("tenant-a")
    hub.detach("tenant-a", queue)
    assert hub.subscribers("tenant-a") == 0
    assert hub.dispatch(change("tenant-a", "L-1")) == 0
    assert queue.empty()


def test_a_slow_subscriber_loses_its_oldest_changes_not_the_newest() -> None:
    hub = LeadChangeHub("127.0.0.1:1")
    queue = hub.attach("tenant-a")
    for n in range(QUEUE_SIZE + 5):
        hub.dispatch(change("tenant-a", f"L-{n}"))
    assert queue.qsize() == QUEUE_SIZE
    assert queue.get_nowait()["lead_id"] == "L-5"


def test_malformed_messages_are_skipped() -> None:
    hub = LeadChangeHub("127.0.0.1:1")
    queue = hub.attach("tenant-a")
    for value in (b"not json", b"[]", b'{"lead_id": "L-1"}', None):
        assert hub.dispatch(value) == 0
    assert queue.empty()


def test_a_lead_state_message_reads_as_a_lead_change() -> None:
    shown = LeadChange.from_message(orjson.loads(change("tenant-a", "L-7", "SQL", 5)))
    assert (shown.lead_id, shown.previous_stage.value if shown.previous_stage else None) == (
        "L-7",
        "ENGAGED",
    )
    assert shown.stage.value == "SQL" and shown.score == 15
    assert shown.at.isoformat() == "2026-11-20T00:00:00+00:00"
