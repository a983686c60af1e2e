"""Tenant configuration as the workers see it: every version, kept current from PostgreSQL.

Events are stamped with the version in force when they are first applied, and a lead is
folded with each event's own version, so a replay after a config change reproduces the
state the lead had (SPEC 4: a new config applies to later events).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection

import asyncpg

from shared import locks
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
        async with tenant_tx(self._pool, tenant_id) as conn:
            return tenant_id in await self._load(conn, [tenant_id])

    async def hold(
        self, conn: asyncpg.Connection, tenant_ids: Collection[str]
    ) -> dict[str, dict[int, TenantConfig]]:
        """Every version of these tenants as `conn`'s transaction sees them, no new version
        being saved until it ends (locks.share_configs): a batch folds its events under the
        version a re-score after it will find, or the re-score finds its leads. Two
        statements whatever the number of tenants, whether this worker knew them or not
        (one that has just started knows none)."""
        await locks.share_configs(conn, tenant_ids)
        await self._load(conn, tenant_ids)
        return {t: self._versions[t] for t in tenant_ids}

    async def _load(self, conn: asyncpg.Connection, tenant_ids: Collection[str]) -> set[str]:
        """Reads the versions of these tenants this worker has not seen, in one statement;
        returns the tenants that had some."""
        ids = sorted(set(tenant_ids))
        seen = [max(self._versions.get(t, (0,))) for t in ids]
        rows = await conn.fetch(
            """
            SELECT v.tenant_id, v.version, v.config
            FROM unnest($1::text[], $2::int[]) AS k(tenant_id, seen)
            JOIN tenant_config_versions v ON v.tenant_id = k.tenant_id AND v.version > k.seen
            ORDER BY v.tenant_id, v.version
            """,
            ids,
            seen,
        )
        # Installed only once read: a tenant is never cached with versions missing.
        for t in ids:
            self._versions.setdefault(t, {0: DEFAULT_CONFIG})
        for row in rows:
            self._versions[row["tenant_id"]][row["version"]] = TenantConfig.from_dict(row["config"])
        return {row["tenant_id"] for row in rows}

    def cached_tenants(self) -> list[str]:
        return list(self._versions)
