"""Several workers share one tenant (SPEC 11: no tenant-wide lock): three workers on one
tenant's shuffled journeys, one of them SIGKILLed midway, leave exactly the read model one
worker leaves for the same events."""

from __future__ import annotations

import random
import signal
from collections.abc import Callable
from datetime import datetime
from typing import Any

from simulation.generator import JourneyGenerator
from tests.integration.conftest import EXAMPLE_NOW, Platform, WorkerGroup
from tests.integration.test_kill_worker import produce, snapshot

LEADS = 250


def journeys(tenant: str) -> list[dict[str, Any]]:
    """Generated journeys (anonymous touches, identifies, opportunities), shuffled: late
    events and touches that arrive before their identify, on every partition."""
    generator = JourneyGenerator(
        tenant, seed=7, now=datetime.fromisoformat(EXAMPLE_NOW), span_days=60
    )
    events = list(generator.events(LEADS))
    random.Random(3).shuffle(events)
    return events


async def test_three_workers_with_one_killed_leave_the_single_worker_read_model(
    platform: Platform, start_workers: Callable[[str, int], WorkerGroup]
) -> None:
    shared_tenant, _ = await platform.create_tenant("shared")
    alone, _ = await platform.create_tenant("alone")
    shared_events = journeys(shared_tenant)
    lead_events = len({e["event_id"] for e in shared_events if e["type"] != "campaign_spend"})

    group = start_workers("scale", 3)
    try:
        await produce(platform.kafka_bootstrap, journeys(alone))
        await produce(platform.kafka_bootstrap, shared_events, group.touchpoints)
        await group.wait_applied(shared_tenant, lead_events // 4)
        group.workers[0].kill(signal.SIGKILL)
        await group.wait_applied(shared_tenant, lead_events, alive=group.workers[1:])
        await platform.wait_events(alone, lead_events, timeout=240)
    finally:
        group.stop()

    got, want = await snapshot(platform, shared_tenant), await snapshot(platform, alone)

    def untenant(rows: list[tuple[Any, ...]]) -> list[str]:
        return [repr(r).replace(alone, "T").replace(shared_tenant, "T") for r in rows]

    assert want["leads"], "the journeys made no leads"
    for table in want:
        assert untenant(got[table]) == untenant(want[table]), table
