"""Several workers share one tenant (SPEC 11: no tenant-wide lock): three workers on one
tenant's shuffled journeys, one of them SIGKILLed midway, leave exactly the read model one
worker leaves for the same events."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from shared.kafka import TOUCHPOINTS
from shared.validation import event_key
from simulation.generator import JourneyGenerator
from tests.conftest import REPO, RUN_ID
from tests.integration.conftest import EXAMPLE_NOW, Platform, Process
from tests.integration.test_kill_worker import snapshot

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


async def produce(bootstrap: str, topic: str, events: list[dict[str, Any]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for e in events:
            await producer.send(topic, orjson.dumps(e), key=event_key(e).encode())
        await producer.flush()
    finally:
        await producer.stop()


async def test_three_workers_with_one_killed_leave_the_single_worker_read_model(
    platform: Platform, tmp_path: Path
) -> None:
    shared_tenant, _ = await platform.create_tenant("shared")
    alone, _ = await platform.create_tenant("alone")
    prefix = f"scale-{RUN_ID}."
    env = {
        **platform.worker.env,
        "TANDEM_TOPIC_PREFIX": prefix,
        "TANDEM_WORKER_GROUP": f"scale-{RUN_ID}",
    }
    tandem = str(Path(sys.executable).with_name("tandem"))
    subprocess.run([tandem, "topics"], env=env, check=True, cwd=REPO, capture_output=True)
    workers = [
        Process(
            f"worker-{i}",
            [tandem, "worker"],
            {**env, "TANDEM_WORKER_DATADIR": str(tmp_path / f"faust-{i}")},
            tmp_path / f"worker-{i}.log",
        )
        for i in range(3)
    ]
    shared_events = journeys(shared_tenant)
    lead_events = len({e["event_id"] for e in shared_events if e["type"] != "campaign_spend"})

    async def applied(tenant: str) -> int:
        return int(
            await platform.admin.fetchval(
                "SELECT count(*) FROM events WHERE tenant_id = $1 AND type <> 'rescore'", tenant
            )
        )

    async def wait(tenant: str, count: int, alive: list[Process]) -> None:
        deadline = time.monotonic() + 240
        while await applied(tenant) < count:
            for w in alive:
                assert w.alive(), w.tail()
            assert time.monotonic() < deadline, "\n".join(w.tail(20) for w in workers)
            await asyncio.sleep(0.2)

    for worker in workers:
        worker.start()
    try:
        await produce(platform.kafka_bootstrap, TOUCHPOINTS, journeys(alone))
        await produce(platform.kafka_bootstrap, f"{prefix}touchpoints.v1", shared_events)
        await wait(shared_tenant, lead_events // 4, workers)
        workers[0].kill(signal.SIGKILL)
        await wait(shared_tenant, lead_events, workers[1:])
        await platform.wait_events(alone, lead_events, timeout=240)
    finally:
        for worker in workers:
            worker.kill(signal.SIGTERM)

    got, want = await snapshot(platform, shared_tenant), await snapshot(platform, alone)

    def untenant(rows: list[tuple[Any, ...]]) -> list[str]:
        return [repr(r).replace(alone, "T").replace(shared_tenant, "T") for r in rows]

    assert want["leads"], "the journeys made no leads"
    for table in want:
        assert untenant(got[table]) == untenant(want[table]), table
