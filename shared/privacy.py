"""Erased people stay erased (SPEC 10): the suppression list and the worker's check of it.

An erasure (services/admin/privacy.py) records a SHA-256 of the lead id and of every
anonymous id linked to it in `erased_subjects`; the worker drops any later event that names
one of them, so neither a replay of the topic nor a late event brings the person back. The
list keeps hashes only, so it names nobody.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

import asyncpg

from shared.domain.events import Event

log = logging.getLogger("tandem.privacy")

LEAD = "lead"
ANONYMOUS = "anonymous"


def subject_hash(subject_id: str) -> bytes:
    return hashlib.sha256(subject_id.encode()).digest()


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
    by_hash = {(t, kind, subject_hash(subject)): subject for t, kind, subject in wanted}
    keys = sorted({(t, h) for t, _, h in by_hash})
    rows = await conn.fetch(
        "SELECT s.tenant_id, s.kind, s.subject_hash FROM erased_subjects s"
        " JOIN unnest($1::text[], $2::bytea[]) AS k(tenant_id, subject_hash)"
        " USING (tenant_id, subject_hash)",
        [t for t, _ in keys],
        [h for _, h in keys],
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
