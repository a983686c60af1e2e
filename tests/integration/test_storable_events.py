"""Whatever the gateway's validator accepts, the worker stores and folds (SPEC 11).

Events are generated from the JSON Schemas of `schemas/events/` themselves (every keyword
they use: types, enums, consts, lengths, patterns, bounds, required and optional fields,
free `properties` of any JSON), with hostile content mixed in: NUL and unpaired surrogates
in strings and keys, integers beyond 64 bits, extreme floats, dates from year 0 to 9999 and
the edges of the accepted range, nesting around the depth limit. Each batch goes the way
an accepted event goes: the validator as the gateway runs it, the wire codec, the
validator as the worker runs it, then the worker's own projection into the real
PostgreSQL as the application role (row-level security on), inside a transaction that is
rolled back; the stored history is then read back and folded again by the pure domain.
Nothing the validator accepts may fail on the way.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from services.workers import store
from services.workers.configs import TenantConfigs
from services.workers.lead_cache import LeadCache
from services.workers.project import LeadChange, LeadProjector
from shared.domain.config import TenantConfig
from shared.domain.journey import fold_lead
from shared.records import decode_record, encode_records
from shared.validation import SCHEMA_DIR, validate_event
from tests.conftest import RUN_ID
from tests.integration.rolled_back import OneConnection, rolled_back_tenants, worker_pool
from tests.worked_example import icp_config

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
TENANT = f"storable-{RUN_ID}"

# -- the schemas, with their references resolved -----------------------------------------

_ENVELOPE = json.loads((SCHEMA_DIR / "events" / "envelope.schema.json").read_text())
_ANNOTATIONS = {"$schema", "$id", "title", "description", "errorMessage", "format", "definitions"}


def _resolve(node: Any, base: dict[str, Any]) -> Any:
    """`node` with every `$ref` (to the envelope or within `base`) replaced by its target."""
    if isinstance(node, list):
        return [_resolve(n, base) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        document, _, fragment = node["$ref"].partition("#")
        target = _ENVELOPE if document else base
        for part in filter(None, fragment.split("/")):
            target = target[part]
        return _resolve(target, _ENVELOPE if document else base)
    return {k: _resolve(v, base) for k, v in node.items() if k not in _ANNOTATIONS}


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The conjunction of two schemas, for the keywords the event schemas combine."""
    out = dict(a)
    for key, value in b.items():
        if key == "properties" and key in out:
            merged = dict(out[key])
            for name, sub in value.items():
                merged[name] = _merge(merged[name], sub) if name in merged else sub
            out[key] = merged
        elif key == "required" and key in out:
            out[key] = sorted(set(out[key]) | set(value))
        else:
            out[key] = value
    return out


def _flatten(schema: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema.get("allOf", []):
        flat = _merge(_flatten(part), flat)
    return flat


SCHEMAS: dict[str, dict[str, Any]] = {}
for _path in sorted((SCHEMA_DIR / "events" / "types").glob("*.schema.json")):
    _schema = json.loads(_path.read_text())
    SCHEMAS[_path.name.removesuffix(".schema.json")] = _flatten(_resolve(_schema, _schema))

# -- values: what the schemas allow, and what they do not forbid -------------------------


def _mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`good` nine times in ten: an event has a dozen fields, and each must pass for the
    event to be accepted and go on to the store."""
    # (one_of would merge the repeated branches into one.)
    return st.sampled_from([*[good] * 9, bad]).flatmap(lambda chosen: chosen)


# Mostly text PostgreSQL takes, sometimes with what it refuses (NUL, unpaired surrogates).
_PLAIN = st.characters(codec="utf-8", exclude_characters="\x00")
_CHARS = _PLAIN | st.sampled_from(["\x00", "\ud800", "\udfff", "é", "😀", "\\", '"'])
TEXT = _mostly(st.text(_PLAIN, max_size=24), st.text(_CHARS, max_size=24))
EXTREME_INTS = st.sampled_from(
    [0, 1, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63), -(2**63) - 1, 10**30, -(10**30)]
)
EXTREME_FLOATS = st.sampled_from([1e308, -1e308, 5e-324, 1e15, 1e15 + 1, 0.1, -0.0])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    _mostly(st.integers(), EXTREME_INTS),
    st.floats(allow_nan=False, allow_infinity=False) | EXTREME_FLOATS,
    TEXT,
)
KEYS = TEXT | st.sampled_from(["amount", "traits", "opportunity_id", "reason", "utm", ""])
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def _deep(draw: st.DrawFn) -> Any:
    """A value nested right around the depth limit (32 levels inside `properties`)."""
    value: Any = draw(SCALARS)
    for _ in range(draw(st.integers(28, 34))):
        value = [value] if draw(st.booleans()) else {"k": value}
    return value


OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=12))])


@st.composite
def _plausible_date(draw: st.DrawFn) -> str:
    """A date-time around and inside the accepted range, with its offset and precision."""
    edges = [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        NOW + timedelta(hours=24),
        NOW + timedelta(hours=24, microseconds=1),
    ]
    at: datetime = draw(
        _mostly(
            st.datetimes(datetime(1970, 1, 2), datetime(2026, 11, 20), timezones=OFFSETS),
            st.sampled_from(edges),
        )
    )
    return at.isoformat(timespec=draw(st.sampled_from(["seconds", "milliseconds", "auto"])))


def from_schema(schema: dict[str, Any], path: str = "") -> st.SearchStrategy[Any]:
    """Values of one (flattened) event schema."""
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kinds = schema.get("type", "object" if "properties" in schema else None)
    if kinds is None:
        return JSON
    if isinstance(kinds, list):
        return st.one_of([from_schema({**schema, "type": kind}, path) for kind in kinds])
    if kinds == "object":
        return _objects(schema, path)
    if kinds == "string":
        return _strings(schema, path)
    if kinds in ("integer", "number"):
        low, high = schema.get("minimum"), schema.get("maximum")
        numbers: st.SearchStrategy[int | float] = st.integers(low, high)
        if kinds == "number":
            numbers = numbers | st.floats(low, high, allow_nan=False, allow_infinity=False)
        return _mostly(numbers, EXTREME_INTS | EXTREME_FLOATS)
    return {"boolean": st.booleans(), "null": st.none()}[kinds]


def _strings(schema: dict[str, Any], path: str) -> st.SearchStrategy[str]:
    pattern = schema.get("pattern")
    low, high = schema.get("minLength", 0), schema.get("maxLength", 40)
    if pattern and pattern.startswith("^") and pattern.endswith("$"):
        matching = st.from_regex(pattern, fullmatch=True)
        if path == "occurred_at":
            return _mostly(_plausible_date(), matching)
        if path == "tenant_id":
            # Over HTTP the event may name its tenant, which must be the credential's.
            return _mostly(st.just(TENANT), matching)
        return matching
    strings = TEXT.filter(lambda s: len(s) >= low) if low else TEXT
    if high > 40:
        longest = st.text(st.sampled_from("aé😀"), min_size=high - 2, max_size=high)
        strings = _mostly(strings | longest, st.just("a" * (high + 1)))
    # Ids repeat across the batch, so that leads, identities and opportunities gather events.
    strings = st.one_of(strings, *[st.sampled_from(["L1", "L2", "A1", "O1"])] * 2)
    if pattern:
        # The only pattern of this kind forbids a prefix: draw some values that carry it.
        strings = _mostly(strings, st.text(_PLAIN, max_size=8).map("rescore:".__add__))
    return strings


def _objects(schema: dict[str, Any], path: str) -> st.SearchStrategy[dict[str, Any]]:
    known = schema.get("properties", {})
    required = set(schema.get("required", []))
    choices = [
        schema_part["required"]
        for schema_part in schema.get("anyOf", [])
        if "required" in schema_part
    ]
    fields = {
        name: from_schema(sub, f"{path}.{name}" if path else name) for name, sub in known.items()
    }
    extra = (
        st.just({})
        if schema.get("additionalProperties") is False
        else st.dictionaries(KEYS, _mostly(JSON, _deep()), max_size=3)
    )

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        out: dict[str, Any] = draw(extra)
        needed = required | set(draw(st.sampled_from(choices))) if choices else required
        for name, values in fields.items():
            # A field the type forbids (`"not": {}`) is left out: what it could hold is
            # drawn for the types that allow it.
            if known[name].get("not") != {} and (name in needed or draw(st.booleans())):
                out[name] = draw(values)
        return out

    return build()


EVENTS = st.sampled_from(sorted(SCHEMAS)).flatmap(lambda t: from_schema(SCHEMAS[t]))

# -- the worker's storage, in a transaction that is rolled back --------------------------


@pytest.fixture(scope="module")
async def app_pool() -> AsyncIterator[asyncpg.Pool]:
    async with worker_pool() as pool:
        yield pool


def _wire(accepted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events as the worker reads them back from the topic."""
    return [
        item for record in encode_records(accepted, 12) for _, item in decode_record(record.value)
    ]


async def _store_and_fold(pool: asyncpg.Pool, events: list[dict[str, Any]]) -> None:
    config = TenantConfig.from_dict(icp_config()).to_dict()
    async with rolled_back_tenants(pool, [TENANT], config) as conn:
        one = OneConnection(conn)
        configs = TenantConfigs(one)
        projector = LeadProjector(one, configs, lambda: NOW, LeadCache(100))
        published: list[LeadChange] = []

        async def publish(changes: list[LeadChange]) -> None:
            published.extend(changes)

        await projector.project_tenant(TENANT, events, publish)
        await _check_stored(conn, configs, events)


async def _check_stored(
    conn: asyncpg.Connection, configs: TenantConfigs, events: list[dict[str, Any]]
) -> None:
    ids = {e["event_id"] for e in events if e["type"] != "campaign_spend"}
    stored = await conn.fetch("SELECT event_id, lead_id FROM events WHERE tenant_id = $1", TENANT)
    assert {r["event_id"] for r in stored} == ids
    spend = {e["event_id"] for e in events if e["type"] == "campaign_spend"}
    assert {
        r["event_id"]
        for r in await conn.fetch("SELECT event_id FROM spend WHERE tenant_id = $1", TENANT)
    } == spend
    # What was stored reads back and folds again.
    leads = sorted({r["lead_id"] for r in stored if r["lead_id"] is not None})
    history = await store.load_lead_events(conn, [(TENANT, lead) for lead in leads])
    versions = await configs.versions(TENANT)
    for events_of_lead in history.values():
        fold_lead(events_of_lead, versions)
    rows = await conn.fetch("SELECT lead_id FROM leads WHERE tenant_id = $1", TENANT)
    # Every lead row comes from events stored under that lead.
    assert {r["lead_id"] for r in rows} <= set(leads)


@settings(
    max_examples=150,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(batch=st.lists(EVENTS, min_size=1, max_size=10))
async def test_what_the_validator_accepts_is_stored_and_folded(
    app_pool: asyncpg.Pool, batch: list[dict[str, Any]]
) -> None:
    accepted = [e for e in batch if not validate_event(e, now=NOW, tenant_id=TENANT)]
    assume(accepted)
    for event in accepted:
        event["tenant_id"] = TENANT
    wire = _wire(accepted)
    # The worker validates again, as the topic may carry records of other producers.
    assert [validate_event(e, now=NOW) for e in wire] == [[] for _ in wire]
    await _store_and_fold(app_pool, wire)
