"""Pure pieces every connector mapping shares: the error of a message, the results a
CRM message maps to (events of an object whose lead comes from a link, links), decisions,
a tenant's mapping tables and value conversions. No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


class Invalid(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class ObjectEvent:
    """An event of a CRM object (deal, opportunity, converted contact) whose lead is the
    object's link. Without a link it waits for one (parked), unless it names the lead it
    has while it has none (`unlinked_lead`: a contact that no lead was converted to)."""

    object_type: str
    object_id: str
    event: dict[str, Any]
    unlinked_lead: str | None = None


@dataclass(frozen=True)
class Link:
    object_type: str
    object_id: str
    lead_id: str


def decision(spec: str, lead_id: str, base: Mapping[str, Any]) -> dict[str, Any]:
    """An event from a decision of a mapping table: `lead_accepted`, `lead_requalified`,
    `lead_rejected:REASON` or `lead_disqualified:REASON`."""
    kind, _, reason = spec.partition(":")
    event: dict[str, Any] = {**base, "type": kind, "lead_id": lead_id}
    if reason:
        event["properties"] = {"reason": reason}
    return event


def merged(
    default: Mapping[str, str], overrides: Mapping[str, Any], key: str, *, lower: bool = False
) -> dict[str, str]:
    """A default mapping table with a tenant's overrides (`overrides[key]`) on top: an
    override of null removes the default entry. `lower` folds the override names to lower
    case, for tables looked up by a lower-cased value."""
    table = dict(default)
    for name, value in (overrides.get(key) or {}).items():
        name = name.lower() if lower else name
        if value is None:
            table.pop(name, None)
        else:
            table[name] = value
    return table


def utc_from_millis(value: Any, field: str) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Invalid(field, "must be epoch milliseconds (an integer)")
    try:
        moment = datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise Invalid(field, f"{value} is not a representable time") from exc
    return moment.isoformat().replace("+00:00", "Z")


def number(value: Any, field: str) -> float | int:
    """A CRM number sent as a string ("5000.50") or a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    try:
        parsed = float(str(value))
    except ValueError as exc:
        raise Invalid(field, f"{value!r} is not a number") from exc
    return int(parsed) if parsed.is_integer() else parsed
