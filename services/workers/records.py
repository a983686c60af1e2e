"""Step 1 of the worker: a Kafka record becomes validated events, or dead letters.

Contract: every input record yields either events (each tagged with where it came from) or
one dead letter per thing that failed; nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

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


@dataclass(frozen=True, slots=True)
class DeadLetter:
    source: Source
    reason: str  # a short machine-readable class: malformed, invalid, unknown_tenant, failed
    error: str  # the specific, human-readable cause
    payload: bytes


def decode_record(
    value: bytes | None, topic: str, partition: int, offset: int, *, now: datetime
) -> tuple[list[Incoming], list[DeadLetter]]:
    """Decodes one record (one event or an array of events) and validates each event."""
    record_source = Source(topic, partition, offset, None)
    if not value:
        return [], [DeadLetter(record_source, "malformed", "empty record", b"")]
    try:
        decoded = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return [], [DeadLetter(record_source, "malformed", f"not JSON: {exc}", value)]
    if isinstance(decoded, dict):
        items: list[tuple[int | None, Any]] = [(None, decoded)]
    elif isinstance(decoded, list):
        items = list(enumerate(decoded))
    else:
        error = "record must be an event object or an array of events"
        return [], [DeadLetter(record_source, "malformed", error, value)]

    good: list[Incoming] = []
    bad: list[DeadLetter] = []
    for index, item in items:
        source = Source(topic, partition, offset, index)
        errors = validate_event(item, now=now)
        if errors:
            detail = "; ".join(f"{e.field}: {e.reason}" for e in errors)
            bad.append(DeadLetter(source, "invalid", detail, orjson.dumps(item)))
        else:
            good.append(Incoming(item, source))
    return good, bad
