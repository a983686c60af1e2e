"""SPEC 12's I/O ceiling of Kafka → PostgreSQL on this machine: a bare sink.

A plain aiokafka consumer reads the array-records topic from its beginning to its end,
decodes each record, and COPYs every event (tenant, id and the event as `jsonb`) into one
table made for the run, batch by batch, and nothing else: no validation, no fold, no
index, no other table. Processing's rate is printed as a ratio to this one (the aim is
≥ 0.3x). The table is dropped afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.settings import Settings

FETCH_RECORDS = 1_000


async def measure(
    settings: Settings, topic: str, partitions: int, table: str, say: Callable[[str], None]
) -> dict[str, Any]:
    conn = await asyncpg.connect(settings.database_admin_url)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        await conn.execute(
            f"CREATE TABLE {table} (tenant_id text NOT NULL, event_id text NOT NULL, body jsonb)"
        )
        assigned = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(assigned)
        end = await consumer.end_offsets(assigned)
        await consumer.seek_to_beginning(*assigned)
        remaining = {tp for tp, offset in end.items() if offset > 0}
        say(f"bare sink: {topic} → COPY into {table}, {sum(end.values()):,} records")
        records = events = 0
        started = 0.0
        while remaining:
            batches = await consumer.getmany(timeout_ms=1_000, max_records=FETCH_RECORDS)
            if not batches:
                continue
            if not started:
                started = time.perf_counter()
            rows = []
            for tp, messages in batches.items():
                for message in messages:
                    decoded = orjson.loads(message.value)
                    for event in decoded if isinstance(decoded, list) else [decoded]:
                        rows.append(
                            (event["tenant_id"], event["event_id"], orjson.dumps(event).decode())
                        )
                records += len(messages)
                if messages and messages[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
            await conn.copy_records_to_table(
                table, records=rows, columns=("tenant_id", "event_id", "body")
            )
            events += len(rows)
        elapsed = time.perf_counter() - started
    finally:
        await consumer.stop()
        try:
            await conn.execute(f"DROP TABLE IF EXISTS {table}")
        finally:
            await conn.close()
    rate = events / elapsed
    say(f"  {events:,} events in {elapsed:.1f} s: {rate:,.0f} events/s")
    return {"records": records, "events": events, "seconds": elapsed, "events_per_s": rate}
