"""Creating tenants and API keys (used by the `tandem` CLI, the demo loader and tests)."""

from __future__ import annotations

import re

import asyncpg

from services.gateway.auth import ROLES, new_api_key

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class TenantError(Exception):
    pass


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


async def create_api_key(admin_dsn: str, slug: str, role: str) -> str:
    if role not in ROLES:
        raise TenantError(f"role {role!r} is not one of {', '.join(ROLES)}")
    conn = await asyncpg.connect(admin_dsn)
    try:
        if not await conn.fetchval("SELECT 1 FROM tenants WHERE tenant_id = $1", slug):
            raise TenantError(f"no tenant {slug!r}")
        return await insert_key(conn, slug, role)
    finally:
        await conn.close()


async def insert_key(conn: asyncpg.Connection, slug: str, role: str) -> str:
    """A new key of `role` for the tenant (stored as its hash); returns the key, to be
    shown once."""
    key_id, key, key_hash = new_api_key()
    await conn.execute(
        "INSERT INTO api_keys (tenant_id, key_id, key_hash, role) VALUES ($1, $2, $3, $4)",
        slug,
        key_id,
        key_hash,
        role,
    )
    return key
