"""No touch stays held behind a link (SPEC 2.4): anonymous ids are not locked, so a worker
may hold an anonymous touch while another links its anonymous id; whichever commits last
stitches it after its commit.

The race is forced: worker A's transaction holding the touch is paused until worker B has
linked the anonymous id and committed. Real PostgreSQL, as the application role."""

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
from shared.db import tenants_tx
from shared.db.migrate import migrate
from shared.domain.config import TenantConfig
from shared.settings import load_settings
from tests.conftest import RUN_ID
from tests.integration.rolled_back import add_tenants

TENANT = f"stitch-race-{RUN_ID}"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
async def pools() -> AsyncIterator[tuple[asyncpg.Pool, asyncpg.Pool]]:
    settings = load_settings()
    await migrate(settings.database_admin_url)
    a, b = [
        await store.create_worker_pool(settings.database_url, min_size=1, max_size=2)
        for _ in range(2)
    ]
    async with tenants_tx(a, [TENANT]) as conn:
        await add_tenants(conn, [TENANT], TenantConfig().to_dict())
    try:
        yield a, b
    finally:
        async with tenants_tx(a, [TENANT]) as conn:
            for table in await tenant_tables(conn):
                await conn.execute(f"DELETE FROM {table} WHERE tenant_id = $1", TENANT)
        await a.close()
        await b.close()


def _event(n: int, kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": f"race-{n}",
        "tenant_id": TENANT,
        "type": kind,
        "occurred_at": f"2026-11-0{n}T10:00:00Z",
        **fields,
    }


async def test_a_touch_held_while_another_worker_links_is_stitched(
    pools: tuple[asyncpg.Pool, asyncpg.Pool], monkeypatch: pytest.MonkeyPatch
) -> None:
    pool_a, pool_b = pools
    holding, linked = asyncio.Event(), asyncio.Event()
    stitch = store.stitch_held_touches

    async def pausing(conn: Any, keys: Any) -> set[tuple[str, str]]:
        # Worker A's batch has only the anonymous touch: it links nothing, and pauses here,
        # its touch inserted and uncommitted, until worker B has committed the link.
        if not keys and not holding.is_set():
            holding.set()
            await linked.wait()
        return await stitch(conn, keys)

    monkeypatch.setattr(store, "stitch_held_touches", pausing)
    published: list[LeadChange] = []

    async def publish(changes: list[LeadChange]) -> None:
        published.extend(changes)

    def projector(pool: asyncpg.Pool) -> LeadProjector:
        return LeadProjector(pool, TenantConfigs(pool), lambda: NOW, LeadCache(10))

    touch = _event(1, "page_view", anonymous_id="visitor-1", channel="organic")
    identify = _event(2, "identify", anonymous_id="visitor-1", lead_id="lead-1")
    worker_a, worker_b = projector(pool_a), projector(pool_b)
    holder = asyncio.create_task(worker_a.project_tenant(TENANT, [touch], publish))
    await asyncio.wait_for(holding.wait(), 30)
    await asyncio.wait_for(worker_b.project_tenant(TENANT, [identify], publish), 30)
    async with tenants_tx(pool_b, [TENANT]) as conn:
        held = await conn.fetchval(
            "SELECT count(*) FROM events WHERE tenant_id = $1 AND lead_id IS NULL", TENANT
        )
    assert held == 0  # B cannot see A's touch yet: it is not committed
    linked.set()
    await asyncio.wait_for(holder, 30)
    # B cached lead-1 as it left it, without the touch A stitched since: B's next event
    # must not be applied to that state.
    later = _event(3, "page_view", lead_id="lead-1", channel="email")
    await asyncio.wait_for(worker_b.project_tenant(TENANT, [later], publish), 30)

    async with tenants_tx(pool_a, [TENANT]) as conn:
        stored = await conn.fetchrow(
            "SELECT lead_id, stitched FROM events WHERE tenant_id = $1 AND event_id = 'race-1'",
            TENANT,
        )
        lead = await conn.fetchrow(
            "SELECT first_touch_channel, created_at FROM leads WHERE tenant_id = $1"
            " AND lead_id = 'lead-1'",
            TENANT,
        )
    assert (stored["lead_id"], stored["stitched"]) == ("lead-1", True)
    # The lead is refolded with its stitched touch: its first touch is the held one.
    assert lead["first_touch_channel"] == "organic"
    assert lead["created_at"] == datetime(2026, 11, 1, 10, tzinfo=UTC)
