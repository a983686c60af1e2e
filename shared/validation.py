"""Event validation (SPEC 2) against the JSON Schemas in `schemas/events/`.

The schema files are the single source of the event contract; this module compiles them
once at import, one validator per event type, and adds only the rules a schema cannot
express: the clock (`occurred_at` at most 24 h ahead), the tenant of the credential,
dates that match the RFC 3339 pattern but do not exist, and whatever the worker could not
store or compute: strings and keys PostgreSQL refuses (NUL, unpaired surrogates), numbers
outside what jsonb and the domain take, dates before the epoch, nesting the encoder stops
at. An event this accepts is stored and folded without error (tests/integration/
test_storable_events.py generates events from the schemas to hold it to that).
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
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
# The domain subtracts windows of up to ten years (MAX_WINDOW_DAYS) from event times, which
# overflows near year 1; no touchpoint of a buyer predates the epoch anyway.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
# How deep `properties` may nest; far below the 254 levels orjson can encode.
MAX_PROPERTY_DEPTH = 32
# The range the jsonb encoder and every consumer of the read model take as an integer.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
# PostgreSQL text and jsonb refuse U+0000; an unpaired surrogate cannot be encoded as UTF-8.
_UNSTORABLE_CHAR = re.compile("[\x00\ud800-\udfff]")
# The envelope's free strings (the others are held to a pattern or an enum by the schema).
_ENVELOPE_STRINGS = (
    "event_id",
    "lead_id",
    "anonymous_id",
    "account_id",
    "campaign_id",
    "content_id",
    "message_id",
)


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


_TOUCH_RULE = {"$ref": "../envelope.schema.json#/definitions/touch"}


# One validator per type, chosen by `type`: an unknown type then gets one clear error
# instead of the blob a oneOf over all types would produce, and a valid event runs only
# its own type's checks. Each is compiled when its type is first validated: compiling them
# all took a third of a second of every start, a worker replacing a crashed one included.
@functools.cache
def _compile(event_type: str, touch_rule: bool) -> Callable[[Any], Any]:
    schema = _load_schema(f"{_SCHEMA_BASE_URI}events/types/{event_type}.schema.json")
    if not touch_rule:
        schema = {**schema, "allOf": [part for part in schema["allOf"] if part != _TOUCH_RULE]}
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


# A marketing touch must carry lead_id or anonymous_id: the schema's `touch` rule, an anyOf
# of two `required`. fastjsonschema checks an anyOf by raising and catching an exception
# for each branch that fails, which made an anonymous touch, most of a tracker's traffic,
# cost 2.5 times a known lead's. When either key is present the rule holds, so such an
# event runs its type's schema compiled without it; any other runs the whole schema, which
# reports the rule as the contract words it. These are the types whose schema has the rule.
_TOUCH_RULE_HOLDS: frozenset[str] = frozenset(
    t
    for t in EVENT_TYPES
    if _TOUCH_RULE in _load_schema(f"{_SCHEMA_BASE_URI}events/types/{t}.schema.json")["allOf"]
)


def _string_problem(value: str) -> str | None:
    if value.isascii():
        # The common case, answered by one scan in C.
        return None if "\x00" not in value else "must not contain the NUL character (U+0000)"
    found = _UNSTORABLE_CHAR.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "must not contain the NUL character (U+0000)"
    return "must not contain an unpaired surrogate (U+D800 to U+DFFF)"


def _storable(item: dict[str, Any] | list[Any], depth: int) -> bool:
    """Whether nothing in `item` is refused by `_unstorable`: the same rules without the
    bookkeeping of paths, for the hot path of ingestion (nearly every event passes), with
    the scalars of a container checked inline. Recursion ends at MAX_PROPERTY_DEPTH."""
    if depth >= MAX_PROPERTY_DEPTH:
        return False
    children = item.values() if isinstance(item, dict) else item
    if isinstance(item, dict):
        for key in item:
            if "\x00" in key or (not key.isascii() and _UNSTORABLE_CHAR.search(key)):
                return False
    for child in children:
        if _storable_scalar(child):
            continue
        if not isinstance(child, dict | list) or not _storable(child, depth + 1):
            return False
    return True


def _storable_scalar(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" not in value and (value.isascii() or not _UNSTORABLE_CHAR.search(value))
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return _INT_MIN <= value <= _INT_MAX
    return isinstance(value, float) and math.isfinite(value)


def _unstorable(value: object, path: str) -> FieldError | None:
    """The first thing in `value` (at `path`) that the read model cannot store or the domain
    cannot compute with. Iterative: the value may be deeper than Python's recursion limit."""
    stack: list[tuple[object, int, str]] = [(value, 0, path)]
    while stack:
        item, depth, at = stack.pop()
        if isinstance(item, str):
            problem = _string_problem(item)
            if problem:
                return FieldError(at, problem)
        elif isinstance(item, dict):
            if depth >= MAX_PROPERTY_DEPTH:
                # Decoders accept ~1,000 levels, but the encoder that writes the event to
                # Kafka stops at 254: a deeper event would pass here and then fail the whole
                # request.
                return FieldError(path, f"nested more than {MAX_PROPERTY_DEPTH} levels deep")
            for key, child in item.items():
                problem = _string_problem(key)
                if problem:
                    # The key is not echoed: it is what cannot be shown.
                    return FieldError(at, f"keys {problem}")
                stack.append((child, depth + 1, f"{at}.{key}"))
        elif isinstance(item, list):
            if depth >= MAX_PROPERTY_DEPTH:
                return FieldError(path, f"nested more than {MAX_PROPERTY_DEPTH} levels deep")
            stack.extend((child, depth + 1, f"{at}.{i}") for i, child in enumerate(item))
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not _INT_MIN <= item <= _INT_MAX:
                return FieldError(at, "must be an integer between -2^63 and 2^63-1")
        elif isinstance(item, float) and not math.isfinite(item):
            # JSON cannot carry NaN or Infinity, but lenient decoders produce them and they
            # pass `minimum`; one in a sum would poison every spend or pipeline figure.
            return FieldError(at, "must be a finite number")
    return None


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
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        return [_type_error(obj)]

    rule_holds = event_type in _TOUCH_RULE_HOLDS and ("lead_id" in obj or "anonymous_id" in obj)
    validator = _compile(event_type, not rule_holds)
    errors: list[FieldError] = []
    try:
        validator(obj)
    except fastjsonschema.JsonSchemaValuesException as exc:
        errors = _describe(exc, event_type)
    failed = {e.field for e in errors}

    occurred_at = obj.get("occurred_at")
    if isinstance(occurred_at, str) and "occurred_at" not in failed:
        problem = _check_occurred_at(occurred_at, now)
        if problem:
            errors.append(FieldError("occurred_at", problem))

    for name in _ENVELOPE_STRINGS:
        value = obj.get(name)
        if isinstance(value, str) and name not in failed:
            problem = _string_problem(value)
            if problem:
                errors.append(FieldError(name, problem))

    properties = obj.get("properties")
    if isinstance(properties, dict) and properties:
        unstorable = None if _storable(properties, 0) else _unstorable(properties, "properties")
        if unstorable is not None and not failed.intersection(_prefixes(unstorable.field)):
            errors.append(unstorable)

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


def _prefixes(field: str) -> list[str]:
    """ "a.b.c" → ["a", "a.b", "a.b.c"]: a field and every field that contains it."""
    parts = field.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _check_occurred_at(value: str, now: datetime) -> str | None:
    try:
        occurred_at = _parse_occurred_at(value)
    except ValueError as exc:
        return f"is not a valid date-time: {exc}"
    except OverflowError:
        return "is outside the range of representable dates once converted to UTC"
    if occurred_at < EARLIEST:
        return "is before 1970-01-01T00:00:00Z, the earliest time an event may carry"
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
    if rule in ("minimum", "maximum") and isinstance(value, float) and not math.isfinite(value):
        return [FieldError(path, "must be a finite number")]
    if rule == "minimum":
        return [FieldError(path, f"must be ≥ {expected} (got {_show(value)})")]
    if rule == "maximum":
        return [FieldError(path, f"must be ≤ {expected} (got {_show(value)})")]
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
