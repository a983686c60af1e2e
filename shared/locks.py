"""Advisory locks of one tenant's leads and anonymous identities, and of its configuration.

Every writer of a lead's rows takes the lead locks, in one order: the worker's batch
projection, re-score and sweeps, the account recompute, and an erasure. They live here,
below the services, so the gateway's erasure and the workers lock through one definition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import asyncpg


def lock_key(tenant_id: str, kind: str, name: str) -> int:
    """A 64-bit advisory-lock key for one lead or identity of one tenant. The tenant is part
    of the hashed text (with separators no id can forge), so tenants do not share keys."""
    digest = hashlib.blake2b(
        f"{tenant_id}\x1f{kind}\x1f{name}".encode(), digest_size=8, person=b"tandem-lock"
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


# A lead, anonymous id or other identity of one tenant: (tenant_id, id). The worker applies
# a batch of many tenants at once, so every step names its rows by both.
Key = tuple[str, str]


async def lock(conn: asyncpg.Connection, tenant_id: str, kind: str, names: Iterable[str]) -> None:
    """`lock_keys` for names of one tenant."""
    await lock_keys(conn, kind, ((tenant_id, n) for n in names))


async def lock_keys(conn: asyncpg.Connection, kind: str, keys: Iterable[Key]) -> None:
    """Serialises, until the transaction ends, every writer of these leads (kind "lead"):
    batch projection, re-score and sweeps, in every worker; erasure also locks the
    anonymous ids it erases (kind "anon"). Nothing wider is locked, so several workers
    share one tenant. Keys are taken in one sorted order; identities before leads, so no
    two writers can wait on each other."""
    hashed = sorted({lock_key(t, kind, n) for t, n in keys})
    if hashed:
        await conn.execute(
            "SELECT count(pg_advisory_xact_lock(k))"
            " FROM (SELECT k FROM unnest($1::bigint[]) AS u(k) ORDER BY k) AS sorted",
            hashed,
        )


# One key per tenant's configuration: a new version takes it exclusively, a batch shares it.
_CONFIG_KEY = "hashtext('config:' || {})"


async def lock_config(conn: asyncpg.Connection, tenant_id: str) -> None:
    """Held by the writer of a new configuration version until it commits: one writer at a
    time per tenant (version numbers never collide), and no batch in between."""
    await conn.execute(f"SELECT pg_advisory_xact_lock({_CONFIG_KEY.format('$1')})", tenant_id)


async def share_configs(conn: asyncpg.Connection, tenant_ids: Iterable[str]) -> None:
    """Held by a batch until it commits, before it reads its tenants' versions: a version
    saved before is seen by the batch's next statement, and one saved after commits after
    the batch, so the re-score that follows it lists every lead the batch created. Without
    it a batch could fold a new lead under the old version while the re-score's listing
    missed the lead, uncommitted, and the lead would never be re-scored."""
    await conn.execute(
        f"SELECT count(pg_advisory_xact_lock_shared({_CONFIG_KEY.format('t')}))"
        " FROM (SELECT t FROM unnest($1::text[]) AS u(t) ORDER BY t) AS sorted",
        sorted(set(tenant_ids)),
    )
