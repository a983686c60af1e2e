"""Tenant configuration as the workers see it: every version, kept current from PostgreSQL.

Events are stamped with the version in force when they are first applied, and a lead is
folded with each event's own version, so a replay after a config change reproduces the
state the lead had (SPEC 4: a new config applies to later events).
"""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg

from shared.db import tenant_tx
from shared.domain.config import DEFAULT_CONFIG, TenantConfig

log = logging.getLogger("tandem.configs")


class TenantConfigs:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._versions: dict[str, dict[int, TenantConfig]] = {}
        self._known: set[str] = set()
        self._known_checked = 0.0

    async def is_known(self, tenant_id: str) -> bool:
        if tenant_id in self._known:
            return True
        # The registry is re-read at most once a second, so a flood of records for a tenant
        # that does not exist stays one query a second; a tenant created a moment ago is
        # still found, because the check waits for the next read rather than using the last.
        wait = self._known_checked + 1 - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        rows = await self._pool.fetch("SELECT tandem_known_tenants() AS t")
        self._known = {r["t"] for r in rows}
        self._known_checked = time.monotonic()
        return tenant_id in self._known

    async def versions(self, tenant_id: str) -> dict[int, TenantConfig]:
        if tenant_id not in self._versions:
            await self.refresh(tenant_id)
        return self._versions[tenant_id]

    async def current(self, tenant_id: str) -> int:
        return max(await self.versions(tenant_id))

    async def refresh(self, tenant_id: str) -> bool:
        """Loads versions not seen yet; returns True when the tenant has a new version."""
        known = self._versions.get(tenant_id, {0: DEFAULT_CONFIG})
        async with tenant_tx(self._pool, tenant_id) as conn:
            rows = await conn.fetch(
                "SELECT version, config FROM tenant_config_versions"
                " WHERE tenant_id = $1 AND version > $2 ORDER BY version",
                tenant_id,
                max(known),
            )
        for row in rows:
            known[row["version"]] = TenantConfig.from_dict(row["config"])
        self._versions[tenant_id] = known
        return bool(rows)

    def cached_tenants(self) -> list[str]:
        return list(self._versions)
