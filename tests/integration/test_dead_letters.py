"""Poison records go to the DLQ with their cause in headers; the partition keeps moving."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.kafka import DLQ, TOUCHPOINTS
from tests.conftest import REPO, RUN_ID
from tests.integration.conftest import Platform


def page_view(tenant: str, event_id: str, lead: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "tenant_id": tenant,
        "type": "page_view",
        "occurred_at": "2026-11-19T10:00:00Z",
        "lead_id": lead,
    }


async def read_dlq(bootstrap: str, topic: str = DLQ) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        out = []
        while await consumer.position(tp) < end:
            for messages in (await consumer.getmany(timeout_ms=2000)).values():
                out.extend(messages)
        return out
    finally:
        await consumer.stop()


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
            for m in await read_dlq(platform.kafka_bootstrap)
        }
        wanted = {(r.partition, r.offset) for r in (malformed, array, unknown, huge)}
        return wanted <= offsets

    await platform.wait_for(dlq_has_all, 60, "the four dead letters")
    letters = {}
    for message in await read_dlq(platform.kafka_bootstrap):
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


async def test_a_flood_of_poison_stops_the_worker_loudly(
    platform: Platform, tmp_path: Path
) -> None:
    prefix = f"flood-{RUN_ID}."
    env = {
        **os.environ,
        "TANDEM_TOPIC_PREFIX": prefix,
        "TANDEM_WORKER_GROUP": f"flood-{RUN_ID}",
        "TANDEM_WORKER_DATADIR": str(tmp_path / "faust"),
        "TANDEM_DLQ_MIN_WINDOW": "100",
        "TANDEM_DLQ_MAX_RATIO": "0.5",
    }
    tandem = str(Path(sys.executable).with_name("tandem"))
    subprocess.run([tandem, "topics"], env=env, check=True, cwd=REPO, capture_output=True)
    producer = AIOKafkaProducer(bootstrap_servers=platform.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(400):
            await producer.send(f"{prefix}touchpoints.v1", b"garbage %d" % i, key=b"k%d" % i)
        await producer.flush()
    finally:
        await producer.stop()
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.run(
            [tandem, "worker"], env=env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, timeout=120
        )
    text = log.read_text(errors="replace")
    assert worker.returncode != 0, text[-2000:]
    assert "stopping instead of draining" in text
    letters = await read_dlq(platform.kafka_bootstrap, f"{prefix}touchpoints.dlq.v1")
    assert len(letters) < 400
