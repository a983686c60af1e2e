"""Step 1 of the worker: a Kafka record becomes validated events, or dead letters.

Contract: every input record yields either events (each tagged with where it came from) or
one dead letter per thing that failed; nothing is dropped silently. The wire format itself
is shared/records.py's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from shared.kafka import topic_tenant
from shared.records import MalformedRecord, decode_record, key_tenant
from shared.validation import validate_event


# Source and Incoming are made for every event a worker reads: not frozen, which would
# cost a microsecond each (object.__setattr__ per field).
@dataclass(slots=True)
class Source:
    topic: str
    partition: int
    offset: int
    index: int | None  # position inside an array record; None for a one-event record


@dataclass(slots=True)
class Incoming:
    event: dict[str, Any]
    source: Source
    # The event's own tenant_id, kept apart: routing, quarantine and fair shares ask for it
    # several times per event.
    tenant_id: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    source: Source
    # A short machine-readable class: malformed, invalid, tenant_mismatch, unknown_tenant,
    # failed (content the store or the domain could not take).
    reason: str
    error: str  # the specific, human-readable cause
    payload: bytes
    tenant_id: str | None = None


def read_record(
    value: bytes | None,
    key: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    *,
    now: datetime,
) -> tuple[list[Incoming], list[DeadLetter]]:
    """Decodes one record (one event or an array of events) and validates each event.

    The tenant of a record on a partner topic (`partner.<tenant>.touchpoints.v1`) is the
    topic's: the broker lets a partner write its own tenant's topic only, so an event there
    naming another tenant is a forgery, refused (`tenant_mismatch`) whatever its key says.
    On the shared topics (the gateway's alone), an event whose tenant is not the one its
    record's key names is refused too: the gateway never mixes tenants under one key."""
    try:
        items = decode_record(value)
    except MalformedRecord as exc:
        source = Source(topic, partition, offset, None)
        return [], [DeadLetter(source, "malformed", str(exc), value or b"", key_tenant(key))]
    owner = topic_tenant(topic)
    claimed = owner if owner is not None else key_tenant(key)
    good: list[Incoming] = []
    bad: list[DeadLetter] = []
    for index, item in items:
        source = Source(topic, partition, offset, index)
        errors = validate_event(item, now=now)
        if errors:
            detail = "; ".join(f"{e.field}: {e.reason}" for e in errors)
            tenant = item.get("tenant_id") if isinstance(item, dict) else None
            bad.append(
                DeadLetter(
                    source,
                    "invalid",
                    detail,
                    orjson.dumps(item),
                    tenant if isinstance(tenant, str) else claimed,
                )
            )
        elif claimed is not None and item["tenant_id"] != claimed:
            where = "on the partner topic of" if owner is not None else "in a record keyed for"
            error = f"event of tenant {item['tenant_id']!r} {where} {claimed!r}"
            bad.append(DeadLetter(source, "tenant_mismatch", error, orjson.dumps(item), claimed))
        else:
            good.append(Incoming(item, source, item["tenant_id"]))
    return good, bad
