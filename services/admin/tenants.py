"""Creating tenants and API keys (used by the `tandem` CLI, the demo loader and tests)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.gateway.auth import ROLES, insert_key

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class TenantError(Exception):
    pass


async def require_tenant(db: asyncpg.Pool | asyncpg.Connection, slug: str) -> None:
    """Raises TenantError unless the tenant exists. Works with the application role
    (`tandem_known_tenants()` names tenants and nothing else), before any tenant is bound."""
    if not await db.fetchval("SELECT $1 IN (SELECT tandem_known_tenants())", slug):
        raise TenantError(f"no tenant {slug!r} (see `tandem tenant list`)")


async def create_tenant(admin_dsn: str, slug: str, name: str | None = None) -> str:
    """Creates the tenant and returns its first admin API key (shown once, stored hashed)."""
    if not SLUG.match(slug):
        raise TenantError(f"tenant slug {slug!r} must match {SLUG.pattern}")
    conn = await asyncpg.connect(admin_dsn)
    try:
        async with conn.transaction():
            inserted = await conn.fetchval(
                "INSERT INTO tenants (tenant_id, name) VALUES ($1, $2)"
                " ON CONFLICT DO NOTHING RETURNING tenant_id",
                slug,
                name or slug,
            )
            if inserted is None:
                raise TenantError(f"tenant {slug!r} exists already")
            return await insert_key(conn, slug, "admin")
    finally:
        await conn.close()


@dataclass(frozen=True)
class TenantInfo:
    slug: str
    name: str
    created_at: datetime
    active_keys: int


async def list_tenants(admin_dsn: str) -> list[TenantInfo]:
    conn = await asyncpg.connect(admin_dsn)
    try:
        rows = await conn.fetch(
            "SELECT t.tenant_id AS slug, t.name, t.created_at,"
            " (SELECT count(*) FROM api_keys k WHERE k.tenant_id = t.tenant_id"
            " AND k.revoked_at IS NULL) AS active_keys FROM tenants t ORDER BY t.tenant_id"
        )
    finally:
        await conn.close()
    return [TenantInfo(**dict(row)) for row in rows]


async def create_api_key(admin_dsn: str, slug: str, role: str) -> str:
    if role not in ROLES:
        raise TenantError(f"role {role!r} is not one of {', '.join(ROLES)}")
    conn = await asyncpg.connect(admin_dsn)
    try:
        await require_tenant(conn, slug)
        return await insert_key(conn, slug, role)
    finally:
        await conn.close()
