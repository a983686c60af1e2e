"""Event validation (SPEC 2) against the JSON Schemas in `schemas/events/`.

The schema files are the single source of the event contract; this module compiles them
once at import, one validator per event type, and adds only the rules a schema cannot
express: the clock (`occurred_at` at most 24 h ahead), the tenant of the credential,
dates that match the RFC 3339 pattern but do not exist, and non-finite amounts.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import fastjsonschema

from shared.domain.events import EVENT_TYPES, Event

__all__ = [
    "SCHEMA_DIR",
    "FieldError",
    "event_key",
    "to_domain_event",
    "validate_event",
]

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
# The schemas' `$id`s live under a reserved domain (RFC 2606 `.invalid`) so that a `$ref`
# can never be fetched from the network: `_load_schema` maps them onto SCHEMA_DIR.
_SCHEMA_BASE_URI = "https://tandem.invalid/schemas/"
_MAX_AHEAD = timedelta(hours=24)
# How deep `properties` may nest; far below the 254 levels orjson can encode.
MAX_PROPERTY_DEPTH = 32


@dataclass(frozen=True, slots=True)
class FieldError:
    """One reason an event was rejected.

    `field` is a dotted path into the event ("occurred_at", "properties.amount",
    "properties.traits.company_size"); "" means the event as a whole.
    """

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


def _load_schema(uri: str) -> Any:
    if not uri.startswith(_SCHEMA_BASE_URI):
        raise ValueError(f"schema reference {uri!r} is outside {_SCHEMA_BASE_URI}")
    return json.loads((SCHEMA_DIR / uri.removeprefix(_SCHEMA_BASE_URI)).read_text("utf-8"))


# The channels of SPEC 2.3, as the envelope schema states them.
CHANNELS: tuple[str, ...] = tuple(
    _load_schema(f"{_SCHEMA_BASE_URI}events/envelope.schema.json")["properties"]["channel"]["enum"]
)


def _compile(event_type: str) -> Callable[[Any], Any]:
    schema = _load_schema(f"{_SCHEMA_BASE_URI}events/types/{event_type}.schema.json")
    return fastjsonschema.compile(
        schema,
        handlers={"http": _load_schema, "https": _load_schema},
        # No defaults: validation must not rewrite the event it checks.
        use_default=False,
        # `date-time` is enforced by the schema's pattern (which demands the offset);
        # the format keyword stays in the schema for other tools only.
        use_formats=False,
        # Report every broken field of an event at once, not just the first.
        fast_fail=False,
    )


# One validator per type, chosen by `type`: an unknown type then gets one clear error
# instead of the blob a oneOf over all types would produce, and a valid event runs only
# its own type's checks.
_VALIDATORS: dict[str, Callable[[Any], Any]] = {t: _compile(t) for t in sorted(EVENT_TYPES)}


def _deeper_than(value: object, limit: int) -> bool:
    """Whether `value` nests more than `limit` arrays/objects deep (iterative: the value
    may be deeper than Python's recursion limit)."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def validate_event(obj: object, *, now: datetime, tenant_id: str | None = None) -> list[FieldError]:
    """Return why `obj` is not a valid event (SPEC 2), or [] when it is.

    `now` is the receiving clock (timezone-aware). `tenant_id` is the tenant of the
    credential when the event came over HTTP: the event's own `tenant_id` may then be
    omitted, and must equal it if given. Without it (a Kafka record) the event must name
    its tenant. Never raises for any JSON value.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not isinstance(obj, dict):
        return [FieldError("", f"an event must be a JSON object, not {_json_type(obj)}")]
    event_type = obj.get("type")
    if not isinstance(event_type, str) or event_type not in _VALIDATORS:
        return [_type_error(obj)]

    errors: list[FieldError] = []
    try:
        _VALIDATORS[event_type](obj)
    except fastjsonschema.JsonSchemaValuesException as exc:
        errors = _describe(exc, event_type)
    failed = {e.field for e in errors}

    occurred_at = obj.get("occurred_at")
    if isinstance(occurred_at, str) and "occurred_at" not in failed:
        problem = _check_occurred_at(occurred_at, now)
        if problem:
            errors.append(FieldError("occurred_at", problem))

    if "properties.amount" not in failed:
        # JSON cannot carry NaN or Infinity, but lenient decoders produce them and they
        # pass `minimum`; one in a sum would poison every spend or pipeline figure.
        properties = obj.get("properties")
        amount = properties.get("amount") if isinstance(properties, dict) else None
        if isinstance(amount, float) and not math.isfinite(amount):
            errors.append(FieldError("properties.amount", "must be a finite number"))

    if "properties" not in failed and _deeper_than(obj.get("properties"), MAX_PROPERTY_DEPTH):
        # Decoders accept ~1,000 levels, but the encoder that writes the event to Kafka
        # stops at 254: a deeper event would pass here and then fail the whole request.
        errors.append(
            FieldError("properties", f"nested more than {MAX_PROPERTY_DEPTH} levels deep")
        )

    if "tenant_id" not in obj:
        if tenant_id is None:
            errors.append(
                FieldError(
                    "tenant_id",
                    "required property 'tenant_id' is missing; an event sent through Kafka "
                    "must name its tenant",
                )
            )
    elif tenant_id is not None and "tenant_id" not in failed and obj["tenant_id"] != tenant_id:
        errors.append(
            FieldError("tenant_id", "does not match the tenant of the credential used to send it")
        )
    return errors


def to_domain_event(obj: Mapping[str, Any], *, seq: int, config_version: int = 0) -> Event:
    """The domain `Event` of an event that `validate_event` accepted.

    `occurred_at` is normalised to UTC. A `content_shared` names its content item in
    `properties.content_id` (SPEC 2.2); unless the envelope names one, the event's
    `content_id` is taken from there, so consumers find the content of every event type
    in the same place.
    """
    content_id = obj.get("content_id")
    properties: Mapping[str, Any] = obj.get("properties") or {}
    if content_id is None and obj["type"] == "content_shared":
        content_id = properties.get("content_id")
    return Event(
        event_id=obj["event_id"],
        type=obj["type"],
        occurred_at=_parse_occurred_at(obj["occurred_at"]),
        seq=seq,
        lead_id=obj.get("lead_id"),
        anonymous_id=obj.get("anonymous_id"),
        account_id=obj.get("account_id"),
        channel=obj.get("channel"),
        campaign_id=obj.get("campaign_id"),
        content_id=content_id,
        message_id=obj.get("message_id"),
        properties=properties,
        config_version=config_version,
    )


def event_key(event: Mapping[str, Any] | Event, *, tenant_id: str | None = None) -> str:
    """The Kafka key of an event (SPEC 1, 2.2).

    "{tenant}:{lead_id}" for an event of a lead, "{tenant}:campaign:{campaign_id}" for
    `campaign_spend`, "{tenant}:anon:{anonymous_id}" for a touch that has no lead yet.
    The tenant is `tenant_id` if given (the credential's, or the one a domain `Event`,
    which carries none, belongs to), else the event's own `tenant_id`.
    """
    event_type: str | None
    tenant: str | None
    lead_id: str | None
    anonymous_id: str | None
    campaign_id: str | None
    if isinstance(event, Event):
        event_type, tenant = event.type, tenant_id
        lead_id, anonymous_id, campaign_id = event.lead_id, event.anonymous_id, event.campaign_id
    else:
        event_type = event.get("type")
        tenant = tenant_id if tenant_id is not None else event.get("tenant_id")
        lead_id = event.get("lead_id")
        anonymous_id = event.get("anonymous_id")
        campaign_id = event.get("campaign_id")
    if not tenant:
        raise ValueError("the event names no tenant_id and none was given")
    if event_type == "campaign_spend":
        if not campaign_id:
            raise ValueError("a campaign_spend event needs a campaign_id")
        return f"{tenant}:campaign:{campaign_id}"
    if lead_id:
        return f"{tenant}:{lead_id}"
    if anonymous_id:
        return f"{tenant}:anon:{anonymous_id}"
    raise ValueError("the event has neither lead_id nor anonymous_id")


def _parse_occurred_at(value: str) -> datetime:
    # fromisoformat wants the upper-case `T` and `Z` that RFC 3339 only recommends.
    return datetime.fromisoformat(value.upper()).astimezone(UTC)


def _check_occurred_at(value: str, now: datetime) -> str | None:
    try:
        occurred_at = _parse_occurred_at(value)
    except ValueError as exc:
        return f"is not a valid date-time: {exc}"
    except OverflowError:
        return "is outside the range of representable dates once converted to UTC"
    ahead = occurred_at - now
    if ahead > _MAX_AHEAD:
        return (
            f"is {_duration(ahead)} in the future; at most 24 h ahead of the receiving clock "
            "is accepted"
        )
    return None


def _duration(delta: timedelta) -> str:
    if delta.days >= 2:
        return f"{delta.days} days"
    minutes, seconds = divmod(int(delta.total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" + (f" {seconds} s" if seconds else "")


def _type_error(obj: Mapping[str, Any]) -> FieldError:
    if "type" not in obj:
        return FieldError("type", "required property 'type' is missing")
    value = obj["type"]
    if not isinstance(value, str):
        return FieldError("type", f"must be a string (got {_json_type(value)})")
    reason = f"unknown event type {_show(value)}"
    # A suggestion only for what could be a typo: matching costs time linear in the value.
    guess = difflib.get_close_matches(value, EVENT_TYPES, n=1) if len(value) <= 64 else []
    if guess:
        return FieldError("type", f"{reason}; did you mean '{guess[0]}'?")
    return FieldError("type", f"{reason}; must be one of: {', '.join(sorted(EVENT_TYPES))}")


def _describe(exc: fastjsonschema.JsonSchemaValuesException, event_type: str) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for error in exc.errors:
        for field_error in _describe_one(error, event_type):
            # One reason per field: a value that breaks two rules would repeat itself.
            if field_error.field not in seen:
                seen.add(field_error.field)
                errors.append(field_error)
    return errors


def _describe_one(
    error: fastjsonschema.JsonSchemaValueException, event_type: str
) -> list[FieldError]:
    path = ".".join(str(part) for part in error.path[1:])
    rule = error.rule or ""
    definition = error.definition if isinstance(error.definition, dict) else {}
    custom = definition.get("errorMessage", {}).get(rule)
    value = error.value
    expected = error.rule_definition

    if rule == "required" and isinstance(value, dict):
        return [
            FieldError(_join(path, key), _missing(key, definition, event_type))
            for key in expected
            if key not in value
        ]
    if rule == "additionalProperties" and isinstance(value, dict):
        known = definition.get("properties", {})
        return [
            FieldError(_join(path, str(key)), custom or "is not an allowed field")
            for key in value
            if key not in known
        ]
    if rule == "anyOf" and custom:
        # The one anyOf of the contract is "lead_id or anonymous_id": name its first option.
        first = definition["anyOf"][0].get("required", [""])[0]
        return [FieldError(_join(path, first), custom)]
    if custom:
        return [FieldError(path, custom)]
    if rule == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        wanted = " or ".join(_article(kind) for kind in kinds)
        return [FieldError(path, f"must be {wanted} (got {_json_type(value)})")]
    if rule == "enum":
        return [
            FieldError(
                path, f"must be one of: {', '.join(map(str, expected))} (got {_show(value)})"
            )
        ]
    if rule == "minLength":
        if expected == 1:
            return [FieldError(path, "must not be empty")]
        return [FieldError(path, f"must be at least {expected} characters long")]
    if rule == "maxLength":
        return [FieldError(path, f"must be at most {expected} characters long (got {len(value)})")]
    if rule == "minimum":
        return [FieldError(path, f"must be ≥ {expected} (got {_show(value)})")]
    return [FieldError(path, error.message.removeprefix(error.name or "").strip())]


def _missing(key: str, definition: Mapping[str, Any], event_type: str) -> str:
    reason = f"required property '{key}' is missing"
    if key != "properties":
        return reason
    needed = definition.get("properties", {}).get("properties", {}).get("required", [])
    if not needed:
        return reason
    return f"{reason}; {event_type} requires " + ", ".join(f"properties.{k}" for k in needed)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _article(kind: str) -> str:
    if kind == "null":
        return "null"
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _show(value: object) -> str:
    """A short rendering of a client's value, for echoing it in an error."""
    if isinstance(value, str):
        return f"'{value[:60]}…'" if len(value) > 60 else f"'{value}'"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    return _json_type(value)
