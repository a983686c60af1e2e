"""A tenant's settings of one connector (table connector_settings, migration 0009), read in
the caller's tenant transaction: the gateway's connectors check requests against them, the
Monday.com board takes its token from them. A secret kept in clear is stored sealed
(shared/secret_box.py) and opened here."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from shared.secret_box import box, context_for


@dataclass(frozen=True)
class ConnectorSettings:
    connector: str
    enabled: bool
    # HubSpot's client secret, stored sealed and opened here: the signature is an HMAC
    # keyed by it.
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


def secret_context(tenant_id: str) -> str:
    return context_for("connector_settings", "secret", tenant_id)


def _open(stored: str | None, tenant_id: str) -> str | None:
    return None if stored is None else box().open(stored, secret_context(tenant_id))


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
        secret=_open(row["secret"], tenant_id),
        secret_hash=row["secret_hash"],
        mappings=dict(row["mappings"]),
    )
