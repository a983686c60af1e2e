"""Reading the derived topics: each batch becomes deliveries in PostgreSQL first, and only
then are the Kafka offsets committed, so a crash in between reads the batch again and the
delivery keys drop what was already recorded (nothing lost, nothing doubled)."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import KafkaError

from services.delivery import events, metrics
from services.delivery.events import Occurrence
from services.delivery.record import record_tenant
from shared.kafka import ALERTS, LEAD_STATE, TRANSITIONS

log = logging.getLogger("tandem.delivery")

TOPICS = (LEAD_STATE, TRANSITIONS, ALERTS)
BATCH_RECORDS = 2_000
OUTAGE_BACKOFF_S = (0.5, 1.0, 2.0, 5.0)
# PostgreSQL away, restarting or contended: wait, keep the batch, commit nothing.
_OUTAGE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)

_READERS: dict[str, Callable[[dict[str, Any], datetime], list[Occurrence]]] = {
    LEAD_STATE: events.from_lead_state,
    TRANSITIONS: events.from_transition,
    ALERTS: events.from_alert,
}


def occurrences_of(message: ConsumerRecord[bytes, bytes]) -> list[Occurrence]:
    """The occurrences of one message; a message that cannot be read is logged and passed
    over (the worker wrote it, so it is a bug there, and it must not stop every tenant)."""
    happened_at = datetime.fromtimestamp(message.timestamp / 1000, UTC)
    try:
        doc = orjson.loads(message.value or b"")
        return _READERS[message.topic](doc, happened_at)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        log.error(
            "unreadable derived-topic message skipped",
            extra={
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
                "error": repr(exc),
            },
        )
        return []


async def record_batch(
    pool: asyncpg.Pool, messages: list[ConsumerRecord[bytes, bytes]], public_url: str
) -> int:
    by_tenant: dict[str, list[Occurrence]] = defaultdict(list)
    for message in messages:
        for occurrence in occurrences_of(message):
            by_tenant[occurrence.tenant_id].append(occurrence)
    now = datetime.now(UTC)
    total = 0
    for tenant_id, found in by_tenant.items():
        try:
            total += await record_tenant(pool, tenant_id, found, public_url=public_url, now=now)
        except _OUTAGE:
            raise  # waited out by the caller, batch and offsets kept
        except (asyncpg.PostgresError, ValueError, KeyError, TypeError):
            # Something in this tenant's data: it must not stop every other tenant's
            # webhooks. Logged with every event id, so nothing goes unnoticed.
            log.exception(
                "recording the tenant's webhook events failed; they are not sent",
                extra={"tenant_id": tenant_id, "event_ids": [o.id for o in found]},
            )
    return total


async def consume(
    consumer: AIOKafkaConsumer,
    pool: asyncpg.Pool,
    public_url: str,
    on_recorded: Callable[[], None],
) -> None:
    while True:
        batches = await consumer.getmany(timeout_ms=200, max_records=BATCH_RECORDS)
        messages = [m for batch in batches.values() for m in batch]
        if not messages:
            continue
        attempt = 0
        while True:
            try:
                recorded = await record_batch(pool, messages, public_url)
                break
            except _OUTAGE as exc:
                delay = OUTAGE_BACKOFF_S[min(attempt, len(OUTAGE_BACKOFF_S) - 1)]
                log.warning(
                    "postgres unavailable; batch kept",
                    extra={"error": repr(exc), "retry_in_s": delay},
                )
                attempt += 1
                await asyncio.sleep(delay)
        # The deliveries are durable: now the offsets may move past these messages.
        try:
            await consumer.commit()
        except KafkaError as exc:
            # A rebalance or a broker away: whoever reads these messages again finds their
            # deliveries recorded already (the delivery key), so nothing is sent twice.
            log.warning(
                "offset commit failed; the batch may be read again", extra={"error": repr(exc)}
            )
        if recorded:
            metrics.RECORDED.inc(recorded)
            on_recorded()
