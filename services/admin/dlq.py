"""`tandem dlq list | show | replay`: inspect and replay touchpoints.dlq.v1.

A dead letter carries the failed payload (the event's JSON, or the raw record when it did
not decode) and its cause in headers (services/workers/dead_letters.py). Reading uses no
consumer group and commits nothing: looking at the DLQ never changes what the workers see.
A replay publishes each selected payload again to its original topic, keyed like the
gateway keys it; processing is idempotent by (tenant, event id), so replaying twice is safe.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.admin.progress import progress
from shared.kafka import DLQ, TOUCHPOINTS, make_producer, security_options
from shared.validation import event_key

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
POLL_MS = 500


class DlqError(Exception):
    pass


@dataclass(frozen=True)
class DeadLetterRecord:
    partition: int
    offset: int
    timestamp: datetime
    headers: dict[str, str]
    payload: bytes
    event: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def ref(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def reason(self) -> str:
        return self.headers.get("reason", "")

    @property
    def error(self) -> str:
        return self.headers.get("error", "")

    @property
    def tenant(self) -> str | None:
        """The tenant the workers named in the `tenant_id` header (for a malformed record,
        the one its key names), else the payload's."""
        if self.headers.get("tenant_id"):
            return self.headers["tenant_id"]
        value = (self.event or {}).get("tenant_id")
        return value if isinstance(value, str) else None

    @property
    def event_id(self) -> str | None:
        value = (self.event or {}).get("event_id")
        return value if isinstance(value, str) else None

    @property
    def original_topic(self) -> str:
        return self.headers.get("original_topic") or TOUCHPOINTS


@dataclass(frozen=True)
class Filters:
    tenant: str | None = None
    reason: str | None = None
    since: datetime | None = None
    refs: frozenset[str] = frozenset()

    def admit(self, letter: DeadLetterRecord) -> bool:
        return (
            (self.tenant is None or letter.tenant == self.tenant)
            and (self.reason is None or letter.reason == self.reason)
            and (self.since is None or letter.timestamp >= self.since)
            and (not self.refs or letter.ref in self.refs or str(letter.offset) in self.refs)
        )


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`2h`, `30m`, `7d` ago, or an ISO 8601 time (UTC unless it says otherwise)."""
    match = _DURATION.match(text)
    if match:
        delta = timedelta(**{_UNITS[match[2]]: int(match[1])})
        return (now or datetime.now(UTC)) - delta
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise DlqError(f"--since {text!r}: expected e.g. 2h, 30m, 7d or 2026-11-30T10:00Z") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _decode(message: Any) -> DeadLetterRecord:
    payload = message.value or b""
    try:
        parsed = orjson.loads(payload)
    except orjson.JSONDecodeError:
        parsed = None
    return DeadLetterRecord(
        partition=message.partition,
        offset=message.offset,
        timestamp=datetime.fromtimestamp(message.timestamp / 1000, UTC),
        headers={k: v.decode(errors="replace") for k, v in message.headers or ()},
        payload=payload,
        event=parsed if isinstance(parsed, dict) else None,
    )


async def read_dead_letters(
    bootstrap: str, filters: Filters, topic: str = DLQ
) -> list[DeadLetterRecord]:
    """Every dead letter up to the topic's current end that the filters admit."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        **security_options(),
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await _partitions(bootstrap, topic)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        starts = await _start_offsets(consumer, tps, filters.since)
        for tp in tps:
            consumer.seek(tp, starts[tp])
        total = sum(max(0, ends[tp] - starts[tp]) for tp in tps)
        found: list[DeadLetterRecord] = []
        with progress() as bar:
            task = bar.add_task(f"reading {topic}", total=total)
            pending = {tp for tp in tps if starts[tp] < ends[tp]}
            while pending:
                batches = await consumer.getmany(*pending, timeout_ms=POLL_MS)
                for tp, messages in batches.items():
                    for message in messages:
                        if message.offset >= ends[tp]:
                            break
                        letter = _decode(message)
                        if filters.admit(letter):
                            found.append(letter)
                        bar.advance(task)
                for tp in list(pending):
                    if await consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
        return found
    finally:
        await consumer.stop()


async def _partitions(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security_options())
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if not described or described[0].get("error_code"):
        raise DlqError(f"topic {topic} does not exist (run `tandem topics`)")
    return sorted(p["partition"] for p in described[0]["partitions"])


async def _start_offsets(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], since: datetime | None
) -> dict[TopicPartition, int]:
    beginnings: dict[TopicPartition, int] = await consumer.beginning_offsets(tps)
    if since is None:
        return beginnings
    by_time = await consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in tps})
    ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
    return {tp: by_time[tp].offset if by_time.get(tp) else ends[tp] for tp in tps}


def replay_key(letter: DeadLetterRecord) -> bytes | None:
    """The key the gateway gives this event, so it lands on the partition it belongs to."""
    if letter.event is None:
        return None
    try:
        return event_key(letter.event).encode()
    except (KeyError, TypeError, ValueError):
        return None


async def replay(bootstrap: str, letters: Iterable[DeadLetterRecord]) -> tuple[int, list[str]]:
    """Publishes each payload to its original topic; returns (replayed, skipped refs).

    A dead letter without a payload (the record of an unknown tenant keeps none) cannot be
    replayed and is reported, not silently dropped."""
    chosen = list(letters)
    producer = make_producer(bootstrap)
    await producer.start()
    skipped: list[str] = []
    replayed = 0
    try:
        with progress() as bar:
            task = bar.add_task("replaying", total=len(chosen))
            for letter in chosen:
                if not letter.payload:
                    skipped.append(letter.ref)
                else:
                    headers = [("replayed_from", f"{DLQ}:{letter.ref}".encode())]
                    await producer.send_and_wait(
                        letter.original_topic,
                        letter.payload,
                        key=replay_key(letter),
                        headers=headers,
                    )
                    replayed += 1
                bar.advance(task)
    finally:
        await producer.stop()
    return replayed, skipped


def summary_row(letter: DeadLetterRecord) -> list[str]:
    return [
        letter.ref,
        letter.timestamp.strftime("%Y-%m-%d %H:%M:%S"),
        letter.reason or "-",
        letter.tenant or "-",
        letter.event_id or "-",
        letter.error[:80] or "-",
    ]


def detail(letter: DeadLetterRecord) -> dict[str, Any]:
    payload: Any = letter.event
    if payload is None:
        payload = letter.payload.decode(errors="replace")
    return {
        "ref": letter.ref,
        "timestamp": letter.timestamp.isoformat(),
        "headers": letter.headers,
        "payload": payload,
    }
