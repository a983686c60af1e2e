"""Erased people stay erased (SPEC 10): the suppression list and the worker's check of it.

An erasure (shared/erasure.py) records a keyed hash (HMAC-SHA-256 under the
tenant's own `erasure_key`) of the lead id and of every anonymous id linked to it in
`erased_subjects`; the worker drops any later event that names one of them, so neither a
replay of the topic nor a late event brings the person back. The list keeps keyed hashes
only: it names nobody, and an email cannot be confirmed by hashing guesses without the key.
Entries recorded before keys existed (bare SHA-256) are still honoured.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable, Sequence

import asyncpg

from shared.domain.events import Event

log = logging.getLogger("tandem.privacy")

LEAD = "lead"
ANONYMOUS = "anonymous"


# Tenants' erasure keys, read once per process (a key never changes); bounded.
_KEYS: dict[str, bytes] = {}
MAX_KEYS = 10_000


def subject_hash(key: bytes, subject_id: str) -> bytes:
    return hmac.new(key, subject_id.encode(), hashlib.sha256).digest()


def _unkeyed_hash(subject_id: str) -> bytes:
    """How erasures were recorded before tenants had keys."""
    return hashlib.sha256(subject_id.encode()).digest()


def subject_hashes(key: bytes, subject_id: str) -> list[bytes]:
    """Every hash an erasure of `subject_id` may have been recorded under."""
    return [subject_hash(key, subject_id), _unkeyed_hash(subject_id)]


async def erasure_keys(conn: asyncpg.Connection, tenant_ids: Iterable[str]) -> dict[str, bytes]:
    """The tenants' keys for hashing erased subjects (in a transaction bound to them): those
    not read yet by this process in one statement, whatever their number."""
    wanted = set(tenant_ids)
    missing = sorted(wanted - _KEYS.keys())
    if missing:
        rows = await conn.fetch(
            "SELECT tenant_id, erasure_key FROM tenants WHERE tenant_id = ANY($1::text[])",
            missing,
        )
        if len(_KEYS) + len(rows) > MAX_KEYS:
            _KEYS.clear()
        _KEYS.update({r["tenant_id"]: bytes(r["erasure_key"]) for r in rows})
    return {t: _KEYS[t] for t in wanted if t in _KEYS}


async def erasure_key(conn: asyncpg.Connection, tenant_id: str) -> bytes:
    """The tenant's key for hashing erased subjects (within the tenant's transaction)."""
    return (await erasure_keys(conn, [tenant_id]))[tenant_id]


async def drop_suppressed(
    conn: asyncpg.Connection, events: Sequence[tuple[str, Event]]
) -> list[tuple[str, Event]]:
    """The (tenant, event) pairs whose event names no erased lead or anonymous id of its
    tenant, in their order: one indexed look-up for a batch of any number of tenants;
    erased subjects are rare, so nearly every call keeps everything."""
    wanted = {(t, LEAD, e.lead_id) for t, e in events if e.lead_id} | {
        (t, ANONYMOUS, e.anonymous_id) for t, e in events if e.anonymous_id
    }
    if not wanted:
        return list(events)
    keys = await erasure_keys(conn, {t for t, _, _ in wanted})
    by_hash = {
        (t, kind, h): subject
        for t, kind, subject in wanted
        # a tenant deleted meanwhile has no key: its old, unkeyed entries still count
        for h in (subject_hashes(keys[t], subject) if t in keys else [_unkeyed_hash(subject)])
    }
    pairs = sorted({(t, h) for t, _, h in by_hash})
    rows = await conn.fetch(
        "SELECT s.tenant_id, s.kind, s.subject_hash FROM erased_subjects s"
        " JOIN unnest($1::text[], $2::bytea[]) AS k(tenant_id, subject_hash)"
        " USING (tenant_id, subject_hash)",
        [t for t, _ in pairs],
        [h for _, h in pairs],
    )
    if not rows:
        return list(events)
    found = {(r[0], r[1], bytes(r[2])) for r in rows}
    erased = {
        (t, kind, subject) for (t, kind, h), subject in by_hash.items() if (t, kind, h) in found
    }
    kept = [
        (t, e)
        for t, e in events
        if (t, LEAD, e.lead_id) not in erased and (t, ANONYMOUS, e.anonymous_id) not in erased
    ]
    # Counted, never named: the ids are what was erased.
    for tenant_id in sorted({t for t, _, _ in erased}):
        log.info(
            "events of erased people dropped",
            extra={
                "tenant_id": tenant_id,
                "dropped": sum(1 for t, _ in events if t == tenant_id)
                - sum(1 for t, _ in kept if t == tenant_id),
            },
        )
    return kept
