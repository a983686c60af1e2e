"""Scalars: `DateTime` is ISO 8601 in UTC both ways (SPEC 9.2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import strawberry
from strawberry.types.scalar import ScalarDefinition


def serialize_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    # Milliseconds like the event timestamps clients send, unless that would lose precision.
    spec = "milliseconds" if value.microsecond % 1000 == 0 else "microseconds"
    return value.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"DateTime must be an ISO 8601 string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"DateTime must be ISO 8601, like 2026-09-01T00:00:00Z; got {value!r}"
        ) from None
    # A time without an offset is read as UTC, the only zone the API speaks.
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


DATETIME: ScalarDefinition = strawberry.scalar(
    name="DateTime",
    description="An instant in ISO 8601, always answered in UTC (`2026-09-01T00:00:00.000Z`); "
    "an input without an offset is read as UTC.",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)

SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {datetime: DATETIME}
