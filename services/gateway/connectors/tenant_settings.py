"""Per-tenant connector settings (shared/connector_settings.py): saved here, cached briefly.

A batch must not cost a settings read, and an admin's change is honoured within TTL_S."""

from __future__ import annotations

import asyncio
import math
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

import asyncpg

from services.gateway.limits import BoundedTtlCache
from shared.connector_settings import (
    ConnectorSettings,
    hash_secret,
    read_settings,
    secret_context,
)
from shared.db import tenant_tx
from shared.secret_box import box

CONNECTORS = ("segment", "hubspot", "salesforce", "monday")
# Connectors whose secret must be kept (sealed, shared/secret_box.py): HubSpot's keys an HMAC,
# Monday.com's is the API token Tandem presents; the others keep a hash.
CLEAR_SECRETS = frozenset({"hubspot", "monday"})
TTL_S = 5.0
MAX_CACHED = 10_000


async def save_settings(
    conn: asyncpg.Connection,
    tenant_id: str,
    connector: str,
    *,
    author: str,
    enabled: bool | None = None,
    secret: str | None = None,
    mappings: dict[str, Any] | None = None,
) -> ConnectorSettings:
    """Creates or updates a connector's settings; None leaves a value as it is. A new
    secret replaces the old one at once (rotation)."""
    if connector not in CONNECTORS:
        raise ValueError(f"unknown connector {connector!r}")
    current = await read_settings(conn, tenant_id, connector)
    sealed = (
        None if current.secret is None else box().seal(current.secret, secret_context(tenant_id))
    )
    hashed = current.secret_hash
    if secret is not None:
        sealed, hashed = (
            (box().seal(secret, secret_context(tenant_id)), None)
            if connector in CLEAR_SECRETS
            else (None, hash_secret(secret))
        )
    await conn.execute(
        "INSERT INTO connector_settings (tenant_id, connector, enabled, secret, secret_hash,"
        " secret_rotated_at, mappings, updated_at, updated_by)"
        " VALUES ($1, $2, $3, $4, $5, CASE WHEN $6 THEN now() END, $7, now(), $8)"
        " ON CONFLICT (tenant_id, connector) DO UPDATE SET enabled = excluded.enabled,"
        " secret = excluded.secret, secret_hash = excluded.secret_hash,"
        " secret_rotated_at = CASE WHEN $6 THEN now()"
        " ELSE connector_settings.secret_rotated_at END,"
        " mappings = excluded.mappings, updated_at = now(), updated_by = excluded.updated_by",
        tenant_id,
        connector,
        current.enabled if enabled is None else enabled,
        sealed,
        hashed,
        secret is not None,
        current.mappings if mappings is None else mappings,
        author,
    )
    return await read_settings(conn, tenant_id, connector)


def new_secret() -> str:
    return f"tcs_{secrets.token_urlsafe(32)}"


class SettingsCache:
    """A tenant's settings of one connector, reused for TTL_S; at most MAX_CACHED of them
    (the least recently used go first)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._cache: BoundedTtlCache[tuple[str, str], ConnectorSettings] = BoundedTtlCache(
            MAX_CACHED, TTL_S, clock
        )

    async def get(self, pool: asyncpg.Pool, tenant_id: str, connector: str) -> ConnectorSettings:
        cached = self._cache.get((tenant_id, connector))
        if cached is not None:
            return cached
        async with tenant_tx(pool, tenant_id) as conn:
            settings = await read_settings(conn, tenant_id, connector)
        self._cache.put((tenant_id, connector), settings)
        return settings

    def __len__(self) -> int:
        return len(self._cache)


# A tenant slug as the tenants table's CHECK has it: a connector URL naming anything else is
# refused before any lookup.
TENANT_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class KnownTenants:
    """The slugs of the tenants that exist, read whole (one statement, no tenant
    transaction). A connector request naming any other slug costs neither a transaction
    nor an entry in any cache: it waits for the next read of the list, and the list is read
    at most once every MIN_REFRESH_S however many such requests arrive (so a tenant created
    a moment ago is found within a second). Known slugs are re-read every REFRESH_S."""

    REFRESH_S = 10.0
    MIN_REFRESH_S = 1.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._slugs: frozenset[str] = frozenset()
        self._loaded_at = -math.inf
        self._lock = asyncio.Lock()
        self.loads = 0

    async def contains(self, pool: asyncpg.Pool, slug: str) -> bool:
        asked = self._clock()
        if slug in self._slugs and asked - self._loaded_at <= self.REFRESH_S:
            return True
        async with self._lock:
            if self._loaded_at < asked:  # no read of the list began since this request came
                wait = self._loaded_at + self.MIN_REFRESH_S - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)
                started = self._clock()
                rows = await pool.fetch("SELECT tandem_known_tenants() AS slug")
                self._slugs = frozenset(r["slug"] for r in rows)
                self._loaded_at = started
                self.loads += 1
        return slug in self._slugs


SETTINGS = SettingsCache()
KNOWN_TENANTS = KnownTenants()
