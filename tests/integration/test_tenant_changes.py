"""The overview cache's change marker (tenant_changes, migration 0056): every statement that
writes a tenant's leads, opportunities or spend changes that tenant's marker and no other
tenant's; merging the rows leaves it as it was; and two transactions writing one tenant
never wait for each other on it.

Runs as the application role, in transactions that are rolled back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import pytest

from services.gateway.graphql.core.answer_cache import MARKER_SQL
from tests.conftest import RUN_ID
from tests.integration.rolled_back import rolled_back_tenants, worker_pool

TENANTS = [f"changes-{RUN_ID}-{n}" for n in range(2)]
WRITER, BYSTANDER = TENANTS
AT = datetime(2026, 11, 3, 9, tzinfo=UTC)

LEAD = """
INSERT INTO leads (tenant_id, lead_id, stage, highest_stage, fit_score, fit_grade,
                   disqualified, engagement_score, score, matrix, created_at, last_event_at,
                   scored_at)
VALUES ($1, $2, 'LEAD', 'LEAD', 0, 'D', false, 0, 0, 'D4', $3, $3, $3)
"""

# Each write of one tenant's rows, in the order they apply: inserts, updates (an upsert's
# update half among them), deletes.
WRITES = (
    ("a lead inserted", LEAD, (WRITER, "L-1", AT)),
    ("an upsert of that lead", LEAD + " ON CONFLICT (tenant_id, lead_id) DO UPDATE SET score = 5",
     (WRITER, "L-1", AT)),
    ("a lead updated", "UPDATE leads SET stage = 'MQL' WHERE tenant_id = $1", (WRITER,)),
    ("an opportunity inserted",
     "INSERT INTO opportunities (tenant_id, opportunity_id, lead_id, amount, status, created_at)"
     " VALUES ($1, 'O-1', 'L-1', 100, 'OPEN', $2)", (WRITER, AT)),
    ("an opportunity updated",
     "UPDATE opportunities SET amount = 250 WHERE tenant_id = $1", (WRITER,)),
    ("spend inserted",
     "INSERT INTO spend (tenant_id, event_id, campaign_id, channel, amount, occurred_at)"
     " VALUES ($1, 'S-1', 'C-1', 'paid_search', 40, $2)", (WRITER, AT)),
    ("spend updated", "UPDATE spend SET amount = 45 WHERE tenant_id = $1", (WRITER,)),
    ("spend deleted", "DELETE FROM spend WHERE tenant_id = $1", (WRITER,)),
    ("an opportunity deleted", "DELETE FROM opportunities WHERE tenant_id = $1", (WRITER,)),
    ("a lead deleted", "DELETE FROM leads WHERE tenant_id = $1", (WRITER,)),
)  # fmt: skip


async def marker(conn: asyncpg.Connection, tenant: str) -> tuple[object, ...]:
    return tuple(await conn.fetchrow(MARKER_SQL, tenant))


@pytest.fixture
async def pool() -> AsyncIterator[asyncpg.Pool]:
    async with worker_pool(size=2) as pool:
        yield pool


async def test_every_write_changes_its_tenants_marker_and_no_other(pool: asyncpg.Pool) -> None:
    async with rolled_back_tenants(pool, TENANTS, {}) as conn:
        seen = [await marker(conn, WRITER)]
        bystander = await marker(conn, BYSTANDER)
        for step, sql, args in WRITES:
            assert await conn.execute(sql, *args) != "UPDATE 0", step
            seen.append(await marker(conn, WRITER))
            assert seen[-1] not in seen[:-1], f"{step}: the marker is one it had before"
            assert await marker(conn, BYSTANDER) == bystander, f"{step}: another tenant's"
        # A statement that writes nothing is no change.
        await conn.execute("UPDATE leads SET score = 1 WHERE tenant_id = $1", WRITER)
        assert await marker(conn, WRITER) == seen[-1]


async def test_merging_a_tenants_rows_keeps_its_marker(pool: asyncpg.Pool) -> None:
    async with rolled_back_tenants(pool, TENANTS, {}) as conn:
        for n in range(5):
            await conn.execute(LEAD, WRITER, f"L-{n}", AT)
        before = await marker(conn, WRITER)
        count = "SELECT count(*) FROM tenant_changes WHERE tenant_id = $1"
        assert await conn.fetchval(count, WRITER) == 5
        # A worker's merge may hold the merge's lock for a moment: try again until this
        # transaction's own merge runs (it then holds the lock until the rollback).
        for _ in range(100):
            if await conn.fetchval("SELECT tandem_compact_tenant_changes(0)"):
                break
            await asyncio.sleep(0.05)
        assert await conn.fetchval(count, WRITER) == 1
        assert await marker(conn, WRITER) == before
        await conn.execute(LEAD, WRITER, "L-after", AT)
        assert await marker(conn, WRITER) != before


@asynccontextmanager
async def bound(pool: asyncpg.Pool, tenant: str) -> AsyncIterator[asyncpg.Connection]:
    """A transaction bound to `tenant` (not created: leads do not refer to tenants, and
    creating one locks its configuration until the commit), rolled back at the end."""
    async with pool.acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            await conn.execute("SET LOCAL lock_timeout = '2s'")
            await conn.execute(
                "SELECT set_config('tandem.tenants', $1::text[]::text, true)", [tenant]
            )
            yield conn
        finally:
            await transaction.rollback()


async def test_two_transactions_writing_one_tenant_do_not_wait_for_each_other(
    pool: asyncpg.Pool,
) -> None:
    async with bound(pool, WRITER) as first, bound(pool, WRITER) as second:
        await first.execute(LEAD, WRITER, "L-first", AT)  # its marker row, not committed
        # Would fail with a lock timeout if the marker were a row updated in place.
        await second.execute(LEAD, WRITER, "L-second", AT)
        await second.execute("UPDATE leads SET score = 3 WHERE tenant_id = $1", WRITER)
        await first.execute("UPDATE leads SET score = 4 WHERE tenant_id = $1", WRITER)
        count = "SELECT count(*) FROM tenant_changes WHERE tenant_id = $1"
        assert await first.fetchval(count, WRITER) == await second.fetchval(count, WRITER) == 2
