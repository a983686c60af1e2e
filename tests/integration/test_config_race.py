"""A configuration change and a batch in flight (SPEC 4: a change re-scores every lead).

A batch shares its tenants' configuration locks from the moment it reads their versions
until it commits, and a new version takes the lock exclusively: so a version saved while a
batch is uncommitted waits for it (and the re-score that follows lists the batch's new
leads), and a version saved before the batch is used by it even when the worker's cache
has not heard of it yet. Forced orders, real PostgreSQL, as the application role."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from services.admin.privacy import tenant_tables
from services.workers import store
from services.workers.configs import TenantConfigs
from services.workers.lead_cache import LeadCache
from services.workers.project import LeadChange, LeadProjector
from shared.config_store import save_config
from shared.db import tenants_tx
from shared.db.migrate import migrate
from shared.domain.config import TenantConfig
from shared.settings import load_settings
from tests.conftest import RUN_ID
from tests.integration.rolled_back import add_tenants

TENANT = f"config-race-{RUN_ID}"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
PATCH = {"engagement_rules": [{"event_type": "page_view", "points": 9}]}


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    settings = load_settings()
    await migrate(settings.database_admin_url)
    pool = await store.create_worker_pool(settings.database_url, min_size=1, max_size=4)
    async with tenants_tx(pool, [TENANT]) as conn:
        await add_tenants(conn, [TENANT], TenantConfig().to_dict())
    try:
        yield pool
    finally:
        async with tenants_tx(pool, [TENANT]) as conn:
            for table in await tenant_tables(conn):
                await conn.execute(f"DELETE FROM {table} WHERE tenant_id = $1", TENANT)
        await pool.close()


def _touch(n: int, lead_id: str) -> dict[str, Any]:
    return {
        "event_id": f"config-race-{n}",
        "tenant_id": TENANT,
        "type": "page_view",
        "occurred_at": f"2026-11-0{n}T10:00:00Z",
        "lead_id": lead_id,
        "channel": "organic",
    }


async def _publish(changes: list[LeadChange]) -> None:
    return None


async def _lead_ids(pool: asyncpg.Pool) -> set[str]:
    """What a re-score lists: the tenant's leads, as committed."""
    async with tenants_tx(pool, [TENANT]) as conn:
        rows = await conn.fetch("SELECT lead_id FROM leads WHERE tenant_id = $1", TENANT)
    return {r["lead_id"] for r in rows}


async def _stamped(pool: asyncpg.Pool, event_id: str) -> int:
    async with tenants_tx(pool, [TENANT]) as conn:
        version = await conn.fetchval(
            "SELECT config_version FROM events WHERE tenant_id = $1 AND event_id = $2",
            TENANT,
            event_id,
        )
    return int(version)


async def _waiting_on_a_lock(pool: asyncpg.Pool, seconds: float) -> bool:
    """Whether some session of this database waits on an advisory lock within `seconds`."""
    deadline = asyncio.get_running_loop().time() + seconds
    async with pool.acquire() as conn:
        while asyncio.get_running_loop().time() < deadline:
            waiting = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event = 'advisory'"
            )
            if waiting:
                return True
            await asyncio.sleep(0.05)
    return False


async def test_a_version_saved_during_a_batch_waits_for_it_and_finds_its_lead(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside, release = asyncio.Event(), asyncio.Event()
    insert = store.insert_events

    async def pausing(conn: Any, events: Any) -> Any:
        # The batch has read its versions and is about to write its new lead: it stops
        # here, uncommitted, while a new version is saved.
        inside.set()
        await release.wait()
        return await insert(conn, events)

    monkeypatch.setattr(store, "insert_events", pausing)
    projector = LeadProjector(pool, TenantConfigs(pool), lambda: NOW, LeadCache(10))
    batch = asyncio.create_task(projector.project_tenant(TENANT, [_touch(1, "lead-1")], _publish))
    await asyncio.wait_for(inside.wait(), 30)
    saving = asyncio.create_task(save_config(pool, TENANT, "engagement", PATCH, "admin"))
    assert await _waiting_on_a_lock(pool, 30), "the new version did not wait for the batch"
    assert not saving.done()
    release.set()
    await asyncio.wait_for(batch, 30)
    version, _ = await asyncio.wait_for(saving, 30)
    # Saved after the batch committed: the re-score that follows it lists the new lead,
    # folded under the version before.
    assert "lead-1" in await _lead_ids(pool)
    assert await _stamped(pool, "config-race-1") == version - 1


async def test_a_batch_uses_a_version_its_cache_has_not_heard_of(pool: asyncpg.Pool) -> None:
    configs = TenantConfigs(pool)
    projector = LeadProjector(pool, configs, lambda: NOW, LeadCache(10))
    await projector.project_tenant(TENANT, [_touch(1, "lead-1")], _publish)
    before = await configs.current(TENANT)
    # Saved by the gateway; this worker has seen neither the note nor a poll since.
    version, _ = await save_config(pool, TENANT, "engagement", PATCH, "admin")
    assert version == before + 1 and await configs.current(TENANT) == before
    await projector.project_tenant(TENANT, [_touch(2, "lead-2")], _publish)
    assert await _stamped(pool, "config-race-2") == version
    async with tenants_tx(pool, [TENANT]) as conn:
        score = await conn.fetchval(
            "SELECT engagement_score FROM leads WHERE tenant_id = $1 AND lead_id = 'lead-2'",
            TENANT,
        )
    assert score == 9


async def test_a_version_a_batch_read_first_is_still_re_scored(pool: asyncpg.Pool) -> None:
    configs = TenantConfigs(pool)
    projector = LeadProjector(pool, configs, lambda: NOW, LeadCache(10))
    await projector.project_tenant(TENANT, [_touch(1, "lead-1")], _publish)
    assert configs.unscored() == {}
    version, _ = await save_config(pool, TENANT, "engagement", PATCH, "admin")
    # A batch reads the new version before the poll does: the poll then finds nothing new
    # to read, and lead-1, folded before the change, still needs its re-score.
    await projector.project_tenant(TENANT, [_touch(2, "lead-2")], _publish)
    await configs.refresh(configs.cached_tenants())
    assert configs.unscored() == {TENANT: version}
    configs.rescored(TENANT, version)
    assert configs.unscored() == {}


async def test_a_note_about_a_tenant_first_read_now_is_re_scored(pool: asyncpg.Pool) -> None:
    version, _ = await save_config(pool, TENANT, "engagement", PATCH, "admin")
    # The versions a tenant already had when a worker first reads it need no re-score
    # from it, unless a note announced one of them.
    quiet, noted = TenantConfigs(pool), TenantConfigs(pool)
    await quiet.refresh([TENANT])
    noted.announced(TENANT, version)
    await noted.refresh([TENANT])
    assert quiet.unscored() == {} and noted.unscored() == {TENANT: version}
