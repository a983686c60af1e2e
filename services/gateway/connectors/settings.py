"""Per-tenant connector settings (table connector_settings, migration 0009), cached briefly.

A batch must not cost a settings read, and an admin's change is honoured within TTL_S."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from shared.db import tenant_tx

CONNECTORS = ("segment", "hubspot", "salesforce", "monday")
# Connectors whose secret must be kept in clear (HubSpot's keys an HMAC, Monday.com's is the
# API token Tandem presents); the others keep a hash.
CLEAR_SECRETS = frozenset({"hubspot", "monday"})
TTL_S = 5.0


@dataclass(frozen=True)
class ConnectorSettings:
    connector: str
    enabled: bool
    # HubSpot's client secret, kept in clear because the signature is an HMAC keyed by it.
    secret: str | None = None
    # SHA-256 of a secret that is only ever compared (Salesforce).
    secret_hash: bytes | None = None
    mappings: dict[str, Any] = field(default_factory=dict)

    def secret_matches(self, presented: str) -> bool:
        if self.secret_hash is None:
            return False
        return hmac.compare_digest(hash_secret(presented), self.secret_hash)


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def default_settings(connector: str) -> ConnectorSettings:
    # Enabled by default: Segment intake uses the tenant's API keys, and a CRM connector
    # stays closed anyway until an admin sets its secret.
    return ConnectorSettings(connector=connector, enabled=True)


async def read_settings(
    conn: asyncpg.Connection, tenant_id: str, connector: str
) -> ConnectorSettings:
    row = await conn.fetchrow(
        "SELECT enabled, secret, secret_hash, mappings FROM connector_settings"
        " WHERE tenant_id = $1 AND connector = $2",
        tenant_id,
        connector,
    )
    if row is None:
        return default_settings(connector)
    return ConnectorSettings(
        connector=connector,
        enabled=row["enabled"],
        secret=row["secret"],
        secret_hash=row["secret_hash"],
        mappings=dict(row["mappings"]),
    )


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
    clear, hashed = current.secret, current.secret_hash
    if secret is not None:
        clear, hashed = (
            (secret, None) if connector in CLEAR_SECRETS else (None, hash_secret(secret))
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
        clear,
        hashed,
        secret is not None,
        current.mappings if mappings is None else mappings,
        author,
    )
    return await read_settings(conn, tenant_id, connector)


def new_secret() -> str:
    return f"tcs_{secrets.token_urlsafe(32)}"


class SettingsCache:
    """A tenant's settings of one connector, reused for TTL_S."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, ConnectorSettings]] = {}

    async def get(self, pool: asyncpg.Pool, tenant_id: str, connector: str) -> ConnectorSettings:
        now = self._clock()
        cached = self._cache.get((tenant_id, connector))
        if cached is not None and cached[0] > now:
            return cached[1]
        async with tenant_tx(pool, tenant_id) as conn:
            settings = await read_settings(conn, tenant_id, connector)
        self._cache[(tenant_id, connector)] = (now + TTL_S, settings)
        return settings


SETTINGS = SettingsCache()
