"""`tandem apikey list | revoke`: an operator's view of a tenant's API keys.

A key's id is its visible prefix (`tdm_<id>_...`), printed when the key is created, so a
leaked key can be identified and revoked without the secret part. The gateway looks keys
up on every request and open WebSockets re-check theirs every 2 s, so a revoked key stops
everywhere within 5 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.admin.tenants import TenantError, require_tenant
from services.gateway.auth import KEY_PREFIX, key_id_of


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    role: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None

    @property
    def prefix(self) -> str:
        return f"{KEY_PREFIX}_{self.key_id}_"


async def list_keys(admin_dsn: str, slug: str) -> list[KeyInfo]:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await require_tenant(conn, slug)
        rows = await conn.fetch(
            "SELECT key_id, role, label, created_at, revoked_at FROM api_keys"
            " WHERE tenant_id = $1 ORDER BY created_at, key_id",
            slug,
        )
    finally:
        await conn.close()
    return [KeyInfo(**dict(row)) for row in rows]


async def revoke_key(admin_dsn: str, key: str, *, confirmed: bool) -> tuple[str, str, str]:
    """Revokes the key when `confirmed`; returns (tenant, key id, role) either way. Revoking
    twice is an error, not a no-op, so a typo in the id is never mistaken for a success."""
    key_id = key_id_of(key)
    conn = await asyncpg.connect(admin_dsn)
    try:
        row = await conn.fetchrow(
            "SELECT tenant_id, role, revoked_at FROM api_keys WHERE key_id = $1", key_id
        )
        if row is None:
            raise TenantError(f"no API key with id {key_id!r} (see `tandem apikey list SLUG`)")
        if row["revoked_at"] is not None:
            raise TenantError(f"API key {key_id} was revoked already at {row['revoked_at']}")
        if confirmed:
            await conn.execute(
                "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL",
                key_id,
            )
    finally:
        await conn.close()
    return str(row["tenant_id"]), key_id, str(row["role"])
