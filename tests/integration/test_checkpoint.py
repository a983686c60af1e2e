"""The checkpoint's order of effects: derived messages are acknowledged while the
transaction is open, the commit follows, and what needs the commit runs after it; a
failure to send leaves nothing committed. Real PostgreSQL, as the application role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from services.workers import checkpoint, store
from shared.db import tenants_tx
from shared.db.migrate import migrate
from shared.settings import load_settings
from tests.conftest import RUN_ID

TENANT = f"checkpoint-{RUN_ID}"


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    settings = load_settings()
    await migrate(settings.database_admin_url)
    pool = await store.create_worker_pool(settings.database_url, min_size=2, max_size=2)
    try:
        yield pool
    finally:
        async with tenants_tx(pool, [TENANT]) as conn:
            await conn.execute("DELETE FROM tenants WHERE tenant_id = $1", TENANT)
        await pool.close()


async def _committed(pool: asyncpg.Pool) -> bool:
    async with tenants_tx(pool, [TENANT]) as conn:
        return bool(
            await conn.fetchval("SELECT count(*) FROM tenants WHERE tenant_id = $1", TENANT)
        )


async def test_messages_are_acknowledged_before_the_commit_and_cached_after(
    pool: asyncpg.Pool,
) -> None:
    seen: list[tuple[Any, ...]] = []

    async def publish(messages: list[Any]) -> None:
        seen.append(("sent", messages, await _committed(pool)))

    async with checkpoint.transaction(pool, [TENANT], publish) as tx:
        await tx.conn.execute("INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)", TENANT)
        tx.emit(["change"])
        tx.after_commit(lambda: seen.append(("after commit",)))
        assert seen == []  # nothing leaves while the steps run
    assert seen[0] == ("sent", ["change"], False)  # acknowledged, not yet committed
    assert seen[1] == ("after commit",)
    assert await _committed(pool)


async def test_a_failed_send_commits_nothing(pool: asyncpg.Pool) -> None:
    ran: list[str] = []

    async def publish(messages: list[Any]) -> None:
        raise ConnectionError("broker away")

    with pytest.raises(ConnectionError):
        async with checkpoint.transaction(pool, [TENANT], publish) as tx:
            await tx.conn.execute("INSERT INTO tenants (tenant_id, name) VALUES ($1, $1)", TENANT)
            tx.emit(["change"])
            tx.after_commit(lambda: ran.append("cached"))
    assert ran == []
    assert not await _committed(pool)
