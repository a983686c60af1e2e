"""`tandem rescore SLUG`: re-score every lead of a tenant with its current configuration.

It stores the tenant's current configuration again as a new version and announces it on
tenant-config.v1, the same request a configuration change makes: the workers see a new
version and re-score every lead (services/workers/runtime.py). The workers also poll the
versions, so a lost announcement delays the re-score rather than losing it. Progress is the
share of the tenant's leads whose rows were rewritten since the request.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import asyncpg

from services.admin.progress import progress
from services.admin.tenants import require_tenant
from shared.config_store import save_config
from shared.db import create_pool, tenant_tx
from shared.kafka import make_producer

POLL_S = 0.5


@dataclass(frozen=True)
class Rescore:
    version: int
    leads: int
    finished: bool


async def rescore(database_url: str, bootstrap: str, slug: str, wait_s: float) -> Rescore:
    """Requests the re-score, then follows it for up to `wait_s` seconds (0: do not wait).

    The application role and row-level security suffice: this touches one tenant's rows."""
    pool = await create_pool(database_url, max_size=1)
    try:
        await require_tenant(pool, slug)
        async with tenant_tx(pool, slug) as conn:
            since = await conn.fetchval("SELECT clock_timestamp()")
            total = await conn.fetchval("SELECT count(*) FROM leads WHERE tenant_id = $1", slug)
        producer = make_producer(bootstrap)
        await producer.start()
        try:
            version, _ = await save_config(pool, slug, "rescore", {}, "cli:rescore", producer)
        finally:
            await producer.stop()
        finished = wait_s > 0 and await _follow(pool, slug, since, total, wait_s)
        return Rescore(version, total, finished)
    finally:
        await pool.close()


async def _follow(pool: asyncpg.Pool, slug: str, since: object, total: int, wait_s: float) -> bool:
    deadline = time.monotonic() + wait_s
    with progress() as bar:
        task = bar.add_task(f"re-scoring {slug}", total=total)
        while True:
            async with tenant_tx(pool, slug) as conn:
                done = await conn.fetchval(
                    "SELECT count(*) FROM leads WHERE tenant_id = $1 AND updated_at >= $2",
                    slug,
                    since,
                )
            bar.update(task, completed=min(done, total))
            if done >= total:
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(POLL_S)
