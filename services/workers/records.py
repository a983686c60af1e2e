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

from shared.records import MalformedRecord, decode_record, key_tenant
from shared.validation import validate_event


@dataclass(frozen=True, slots=True)
class Source:
    topic: str
    partition: int
    offset: int
    index: int | None  # position inside an array record; None for a one-event record


@dataclass(frozen=True, slots=True)
class Incoming:
    event: dict[str, Any]
    source: Source

    @property
    def tenant_id(self) -> str:
        return str(self.event["tenant_id"])


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

    An event whose tenant is not the one its record's key names is refused: only the
    gateway and trusted producers may write these topics, and none of them mixes tenants
    under one key, so a mismatch is a forgery or a bug, never data to apply."""
    try:
        items = decode_record(value)
    except MalformedRecord as exc:
        source = Source(topic, partition, offset, None)
        return [], [DeadLetter(source, "malformed", str(exc), value or b"", key_tenant(key))]
    claimed = key_tenant(key)
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
            error = f"event of tenant {item['tenant_id']!r} in a record keyed for {claimed!r}"
            bad.append(DeadLetter(source, "tenant_mismatch", error, orjson.dumps(item), claimed))
        else:
            good.append(Incoming(item, source))
    return good, bad
