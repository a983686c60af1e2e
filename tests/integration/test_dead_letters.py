"""Poison records go to the DLQ with their cause in headers; the partition keeps moving.
Content that fails in the worker costs only its own events; a tenant in a failure burst
is quarantined, its events parked and replayed, and the other tenants never wait."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from shared.kafka import DLQ, TOUCHPOINTS
from shared.records import encode_records
from tests.conftest import REPO, RUN_ID
from tests.integration.conftest import EXAMPLE_NOW, Platform, Process, read_topic
from tests.integration.conftest import _free_port as free_port


def page_view(tenant: str, event_id: str, lead: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "tenant_id": tenant,
        "type": "page_view",
        "occurred_at": "2026-11-19T10:00:00Z",
        "lead_id": lead,
    }


async def test_poison_records_go_to_the_dlq_and_valid_neighbours_are_applied(
    platform: Platform,
) -> None:
    tenant, _ = await platform.create_tenant("dlq")
    producer = AIOKafkaProducer(bootstrap_servers=platform.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        key = f"{tenant}:dlq-L1".encode()
        malformed = await producer.send_and_wait(TOUCHPOINTS, b"{not json", key=key)
        array = await producer.send_and_wait(
            TOUCHPOINTS,
            orjson.dumps(
                [
                    page_view(tenant, "dlq-ok", "dlq-L1"),
                    {**page_view(tenant, "dlq-bad", "dlq-L1"), "channel": "fax"},
                ]
            ),
            key=key,
        )
        unknown = await producer.send_and_wait(
            TOUCHPOINTS,
            orjson.dumps(page_view("no-such-tenant-zz", "dlq-nobody", "x")),
            key=b"no-such-tenant-zz:x",
        )
        big = {**page_view(tenant, "dlq-huge", "dlq-L1"), "properties": {"blob": "x" * 900_000}}
        del big["tenant_id"]  # a 1 MiB-class event that also fails validation
        huge = await producer.send_and_wait(TOUCHPOINTS, orjson.dumps(big), key=key)
    finally:
        await producer.stop()

    async def applied() -> bool:
        return bool(
            await platform.admin.fetchval(
                "SELECT count(*) FROM events WHERE tenant_id = $1 AND event_id = 'dlq-ok'", tenant
            )
        )

    await platform.wait_for(applied, 60, "the valid event of the array record")

    async def dlq_has_all() -> bool:
        offsets = {
            (int(dict(m.headers)["original_partition"]), int(dict(m.headers)["original_offset"]))
            for m in await read_topic(platform.kafka_bootstrap, DLQ)
        }
        wanted = {(r.partition, r.offset) for r in (malformed, array, unknown, huge)}
        return wanted <= offsets

    await platform.wait_for(dlq_has_all, 60, "the four dead letters")
    letters = {}
    for message in await read_topic(platform.kafka_bootstrap, DLQ):
        headers = {k: v.decode() for k, v in message.headers}
        spot = (int(headers["original_partition"]), int(headers["original_offset"]))
        letters[spot] = headers
    by = {
        name: letters[(r.partition, r.offset)]
        for name, r in {
            "malformed": malformed,
            "array": array,
            "unknown": unknown,
            "huge": huge,
        }.items()
    }
    assert by["malformed"]["reason"] == "malformed" and "not JSON" in by["malformed"]["error"]
    assert by["array"]["reason"] == "invalid" and "channel" in by["array"]["error"]
    assert by["array"]["original_index"] == "1"
    assert by["array"]["original_topic"] == TOUCHPOINTS
    assert by["unknown"]["reason"] == "unknown_tenant"
    assert by["huge"]["reason"] == "invalid" and "tenant_id" in by["huge"]["error"]
    assert not await platform.admin.fetchval(
        "SELECT count(*) FROM events WHERE tenant_id = $1 AND event_id = 'dlq-bad'", tenant
    )

    # `dlq list --tenant` finds the letters whose payload names no tenant (the malformed
    # record, the event without tenant_id) by the tenant header the worker wrote.
    refs = {
        name: next(
            f"{m.partition}:{m.offset}"
            for m in await read_topic(platform.kafka_bootstrap, DLQ)
            if dict(m.headers)["original_offset"] == str(r.offset).encode()
            and dict(m.headers)["original_partition"] == str(r.partition).encode()
        )
        for name, r in {"malformed": malformed, "huge": huge}.items()
    }
    tandem = str(Path(sys.executable).with_name("tandem"))
    listing = subprocess.run(
        [tandem, "dlq", "list", "--tenant", tenant, "--limit", "0"],
        env=dict(os.environ), cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert listing.returncode == 0, listing.stderr
    assert "3 dead letters match" in listing.stdout, listing.stdout
    assert refs["malformed"] in listing.stdout and refs["huge"] in listing.stdout


@asynccontextmanager
async def poisoned(platform: Platform, tenant: str) -> AsyncIterator[None]:
    """Makes PostgreSQL refuse the tenant's events whose id starts with "poison-", as it
    refuses content it cannot store: the worker sees a real error from a real statement."""
    name = f"poison_{uuid.uuid4().hex[:12]}"
    await platform.admin.execute(
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN RAISE EXCEPTION 'cannot store %', NEW.event_id; END $$;"
        f" CREATE TRIGGER {name} BEFORE INSERT ON events FOR EACH ROW"
        f" WHEN (NEW.tenant_id = '{tenant}' AND NEW.event_id LIKE 'poison-%')"
        f" EXECUTE FUNCTION {name}()"
    )
    try:
        yield
    finally:
        await platform.admin.execute(f"DROP TRIGGER {name} ON events; DROP FUNCTION {name}()")


async def count_events(platform: Platform, tenant: str, like: str = "%") -> int:
    return int(
        await platform.admin.fetchval(
            "SELECT count(*) FROM events WHERE tenant_id = $1 AND event_id LIKE $2", tenant, like
        )
    )


async def test_content_that_fails_in_the_worker_is_dead_lettered_alone(
    platform: Platform,
) -> None:
    hostile, hostile_key = await platform.create_tenant("hostile")
    calm, calm_key = await platform.create_tenant("calm")
    async with poisoned(platform, hostile):
        mixed = [
            page_view(hostile, f"{'poison' if i % 3 == 0 else 'fine'}-{i}", f"h-L{i % 4}")
            for i in range(30)
        ]
        for event in mixed:
            del event["tenant_id"]  # the credential names the tenant
        await platform.post_events(hostile_key, mixed)
        neighbours = [page_view(calm, f"calm-{i}", f"c-L{i % 4}") for i in range(20)]
        for event in neighbours:
            del event["tenant_id"]
        await platform.post_events(calm_key, neighbours)

        async def applied() -> bool:
            return (
                await count_events(platform, hostile, "fine-%") == 20
                and await count_events(platform, calm) == 20
            )

        await platform.wait_for(applied, 90, "every valid event of both tenants")

        async def all_dead_lettered() -> bool:
            letters = [
                {k: v.decode() for k, v in m.headers}
                for m in await read_topic(platform.kafka_bootstrap, DLQ)
            ]
            return (
                sum(1 for h in letters if h.get("tenant_id") == hostile and h["reason"] == "failed")
                == 10
            )

        await platform.wait_for(all_dead_lettered, 60, "the ten failing events in the DLQ")
    assert await count_events(platform, hostile, "poison-%") == 0
    letters = [m for m in await read_topic(platform.kafka_bootstrap, DLQ)]
    failed = [
        (orjson.loads(m.value)["event_id"], {k: v.decode() for k, v in m.headers})
        for m in letters
        if dict(m.headers).get("tenant_id") == hostile.encode()
    ]
    assert sorted(event_id for event_id, _ in failed) == sorted(
        f"poison-{i}" for i in range(0, 30, 3)
    )
    assert all("cannot store poison-" in headers["error"] for _, headers in failed)
    # Ten failures are far below the quarantine limit: the tenant keeps flowing.
    assert not await platform.admin.fetchval(
        "SELECT count(*) FROM quarantined_tenants WHERE tenant_id = $1", hostile
    )


async def topic_values(bootstrap: str, topic: str) -> list[Any]:
    return [orjson.loads(m.value) for m in await read_topic(bootstrap, topic)]


async def test_a_tenant_in_a_failure_burst_is_quarantined_parked_and_replayed(
    platform: Platform, tmp_path: Path
) -> None:
    prefix = f"quarantine-{RUN_ID}."
    port = free_port()
    env = {
        **os.environ,
        "TANDEM_TOPIC_PREFIX": prefix,
        "TANDEM_WORKER_GROUP": f"quarantine-{RUN_ID}",
        "TANDEM_WORKER_DATADIR": str(tmp_path / "faust"),
        "TANDEM_FIXED_NOW": EXAMPLE_NOW,
        "TANDEM_DLQ_MIN_WINDOW": "20",
        "TANDEM_DLQ_MAX_RATIO": "0.5",
        "TANDEM_WORKER_HTTP_PORT": str(port),
        "TANDEM_WORKER_HTTP_HOST": "127.0.0.1",
        "PYTHONUNBUFFERED": "1",
    }
    tandem = str(Path(sys.executable).with_name("tandem"))
    subprocess.run([tandem, "topics"], env=env, check=True, cwd=REPO, capture_output=True)
    touchpoints = f"{prefix}touchpoints.v1"
    hostile, _ = await platform.create_tenant("burst")
    calm, _ = await platform.create_tenant("steady")
    worker = Process("worker", [tandem, "worker"], env, tmp_path / "worker.log")
    producer = AIOKafkaProducer(bootstrap_servers=platform.kafka_bootstrap, acks="all")
    await producer.start()

    async def send(events: list[dict[str, Any]]) -> None:
        for record in encode_records(events, 8):
            await producer.send(
                touchpoints, record.value, key=record.key, partition=record.partition
            )
        await producer.flush()

    async def wait(probe: Any, what: str) -> None:
        deadline = time.monotonic() + 90
        while not await probe():
            assert worker.alive(), worker.tail()
            assert time.monotonic() < deadline, f"timed out waiting for {what}\n{worker.tail()}"
            await asyncio.sleep(0.2)

    worker.start()
    try:
        async with poisoned(platform, hostile):
            await send([page_view(hostile, f"poison-{i}", f"b-L{i % 5}") for i in range(30)])

            async def quarantined() -> bool:
                return bool(
                    await platform.admin.fetchval(
                        "SELECT count(*) FROM quarantined_tenants WHERE tenant_id = $1", hostile
                    )
                )

            await wait(quarantined, "the hostile tenant's quarantine")
            # While it is quarantined, its events are parked and the other tenant flows on.
            await send(
                [page_view(hostile, f"later-{i}", f"b-L{i % 5}") for i in range(15)]
                + [page_view(calm, f"steady-{i}", f"s-L{i % 5}") for i in range(25)]
            )

            async def calm_applied() -> bool:
                return await count_events(platform, calm) == 25

            await wait(calm_applied, "the other tenant's events")

            async def parked() -> bool:
                return bool(
                    await platform.admin.fetchval(
                        "SELECT count(*) FROM parked_events WHERE tenant_id = $1", hostile
                    )
                    == 15
                )

            await wait(parked, "the quarantined tenant's later events, parked")
            assert await count_events(platform, hostile) == 0
            assert worker.alive()
        alerts = await topic_values(platform.kafka_bootstrap, f"{prefix}alerts.v1")
        assert [(a["type"], a["tenant_id"]) for a in alerts] == [("tenant_quarantined", hostile)]
        assert "cannot store poison-" in alerts[0]["last_error"]

        # The worker's own endpoint shows what happened, and that it is ready throughout.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/readyz")).status_code == 200
            metrics = (await http.get("/metrics")).text
        assert "tandem_worker_quarantines_total 1.0" in metrics
        assert 'tandem_worker_dead_letters_total{reason="failed"} 30.0' in metrics
        assert 'tandem_worker_events_total{outcome="parked"} 15.0' in metrics
        assert "tandem_worker_consumer_lag{" in metrics
        assert "tandem_worker_batch_seconds_bucket" in metrics

        listed = subprocess.run(
            [tandem, "quarantine", "list"], env=env, cwd=REPO, capture_output=True, text=True
        )
        assert listed.returncode == 0 and hostile in listed.stdout, listed.stderr
        replayed = subprocess.run(
            [tandem, "quarantine", "replay", hostile],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        assert replayed.returncode == 0, replayed.stderr
        assert "15 parked events replayed" in replayed.stdout

        async def replay_applied() -> bool:
            return await count_events(platform, hostile, "later-%") == 15

        await wait(replay_applied, "the replayed events")
        assert not await platform.admin.fetchval(
            "SELECT count(*) FROM parked_events WHERE tenant_id = $1", hostile
        )
        assert not await quarantined()
        # Released, the tenant's new events are applied directly again.
        await send([page_view(hostile, "after-1", "b-L1")])

        async def flowing() -> bool:
            return await count_events(platform, hostile, "after-%") == 1

        await wait(flowing, "an event sent after the release")
    finally:
        await producer.stop()
        worker.kill(signal.SIGTERM)
