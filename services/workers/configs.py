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
from shared.db import tenants_tx
from shared.domain.config import DEFAULT_CONFIG, TenantConfig

log = logging.getLogger("tandem.configs")


class TenantConfigs:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._versions: dict[str, dict[int, TenantConfig]] = {}
        # The newest version whose re-score this worker ran (or had no part in: the versions
        # a tenant had when this worker first read it). Kept apart from the versions read,
        # because a batch reads a version saved a moment ago before the poll sees it, and
        # its leads still need the re-score.
        self._rescored: dict[str, int] = {}
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
            await self.refresh([tenant_id])
        return self._versions[tenant_id]

    async def current(self, tenant_id: str) -> int:
        return max(await self.versions(tenant_id))

    async def refresh(self, tenant_ids: Collection[str]) -> None:
        """Loads the versions of these tenants not seen yet, in one statement however many
        tenants there are."""
        async with tenants_tx(self._pool, tenant_ids) as conn:
            await self._load(conn, tenant_ids)

    def announced(self, tenant_id: str, version: int) -> None:
        """A note says `version` of the tenant was saved: it is re-scored by this worker even
        if the worker reads the tenant for the first time now."""
        self._rescored.setdefault(tenant_id, version - 1)

    def unscored(self) -> dict[str, int]:
        """The tenants with a version newer than their last re-score, and that version."""
        return {
            t: newest
            for t, versions in self._versions.items()
            if (newest := max(versions)) > self._rescored[t]
        }

    def rescored(self, tenant_id: str, version: int) -> None:
        self._rescored[tenant_id] = max(self._rescored[tenant_id], version)

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

    async def _load(self, conn: asyncpg.Connection, tenant_ids: Collection[str]) -> None:
        """Reads the versions of these tenants this worker has not seen, in one statement."""
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
        for t in ids:
            self._rescored.setdefault(t, max(self._versions[t]))

    def cached_tenants(self) -> list[str]:
        return list(self._versions)
