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
from collections.abc import Sequence

import asyncpg

from shared.db import tenant_tx
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


async def erasure_key(conn: asyncpg.Connection, tenant_id: str) -> bytes:
    """The tenant's key for hashing erased subjects (within the tenant's transaction)."""
    key = _KEYS.get(tenant_id)
    if key is None:
        key = bytes(
            await conn.fetchval("SELECT erasure_key FROM tenants WHERE tenant_id = $1", tenant_id)
        )
        if len(_KEYS) >= MAX_KEYS:
            _KEYS.clear()
        _KEYS[tenant_id] = key
    return key


async def drop_suppressed(
    pool: asyncpg.Pool, tenant_id: str, events: Sequence[Event]
) -> list[Event]:
    """The events that name no erased lead or anonymous id, in their order. One indexed
    look-up per call; erased subjects are rare, so nearly every call keeps everything."""
    wanted = {(LEAD, e.lead_id) for e in events if e.lead_id} | {
        (ANONYMOUS, e.anonymous_id) for e in events if e.anonymous_id
    }
    if not wanted:
        return list(events)
    async with tenant_tx(pool, tenant_id) as conn:
        key = await erasure_key(conn, tenant_id)
        by_hash = {(kind, subject_hash(key, subject)): subject for kind, subject in wanted} | {
            (kind, _unkeyed_hash(subject)): subject for kind, subject in wanted
        }
        rows = await conn.fetch(
            "SELECT kind, subject_hash FROM erased_subjects WHERE tenant_id = $1"
            " AND subject_hash = ANY($2::bytea[])",
            tenant_id,
            sorted({h for _, h in by_hash}),
        )
    if not rows:
        return list(events)
    found = {(r["kind"], bytes(r["subject_hash"])) for r in rows}
    erased = {(kind, subject) for (kind, h), subject in by_hash.items() if (kind, h) in found}
    kept = [
        e
        for e in events
        if (LEAD, e.lead_id) not in erased and (ANONYMOUS, e.anonymous_id) not in erased
    ]
    # Counted, never named: the ids are what was erased.
    log.info(
        "events of erased people dropped",
        extra={"tenant_id": tenant_id, "dropped": len(events) - len(kept)},
    )
    return kept
