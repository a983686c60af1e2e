"""A worker SIGKILLed and started again with its instance id (TANDEM_WORKER_INSTANCE) takes
the dead one's place in the consumer group as the same static member, and applies what
arrives next."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from simulation.generator import JourneyGenerator
from tests.conftest import REPO, RUN_ID
from tests.integration.conftest import EXAMPLE_NOW, Platform, Process, WorkerGroup
from tests.integration.test_kill_worker import produce


def lead_events(events: list[dict[str, Any]]) -> int:
    return len({e["event_id"] for e in events if e["type"] != "campaign_spend"})


async def member_ids(bootstrap: str, group: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = (await admin.describe_consumer_groups([group]))[0].to_object()
        return [m["member_id"] for m in described["groups"][0]["members"]]
    finally:
        await admin.close()


async def test_a_worker_restarted_with_its_instance_id_takes_the_killed_ones_place(
    platform: Platform, tmp_path: Path
) -> None:
    tenant, _ = await platform.create_tenant("static")
    generator = JourneyGenerator(tenant, seed=5, now=datetime.fromisoformat(EXAMPLE_NOW))
    before_kill, after_kill = generator.journey(0), generator.journey(1)

    prefix, group = f"static-{RUN_ID}.", f"static-{RUN_ID}"
    instance = f"{group}-worker-0"
    tandem = str(Path(sys.executable).with_name("tandem"))
    env = {
        **platform.worker.env,
        "TANDEM_TOPIC_PREFIX": prefix,
        "TANDEM_WORKER_GROUP": group,
        "TANDEM_WORKER_INSTANCE": instance,
        "TANDEM_WORKER_DATADIR": str(tmp_path / "faust"),
    }
    subprocess.run([tandem, "topics"], env=env, check=True, cwd=REPO, capture_output=True)

    def worker(name: str) -> Process:
        return Process(name, [tandem, "worker"], env, tmp_path / f"{name}.log")

    first, second = worker("first"), worker("second")
    workers = WorkerGroup(platform, prefix, group, [first, second])

    async def member_of(group_id: str, name: str, other_than: str = "") -> str:
        """The group's one member, once it is a static member named after `name` (the
        broker names a static member after its instance id, a dynamic one after its client
        id, "faust-..."; each incarnation gets a new id) other than `other_than`."""
        deadline = time.monotonic() + 60
        while True:
            found = await member_ids(platform.kafka_bootstrap, group_id)
            if len(found) == 1 and found[0].startswith(f"{name}-") and found[0] != other_than:
                return found[0]
            assert time.monotonic() < deadline, f"{group_id}: members {found}, not one {name}"
            await asyncio.sleep(0.2)

    try:
        first.start()
        await produce(platform.kafka_bootstrap, before_kill, workers.touchpoints)
        await workers.wait_applied(tenant, lead_events(before_kill), alive=[first])
        killed = await member_of(group, instance)
        killed_partners = await member_of(f"{group}-partners", f"{instance}-partners")

        first.kill(signal.SIGKILL)
        second.start()
        await produce(platform.kafka_bootstrap, after_kill, workers.touchpoints)
        total = lead_events(before_kill + after_kill)
        await workers.wait_applied(tenant, total, alive=[second])

        # The replacement holds the partitions it applied those events from: it is the
        # group's one member, under the instance id, the killed incarnation gone.
        (member,) = await member_ids(platform.kafka_bootstrap, group)
        assert member != killed
        assert member.startswith(f"{instance}-"), member
        # The partner topics' consumer rejoins its own group under its derived id.
        await member_of(f"{group}-partners", f"{instance}-partners", other_than=killed_partners)
    finally:
        workers.stop()
