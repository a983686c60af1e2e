"""The worker's storage inside one test transaction that is rolled back at the end."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from services.workers import store
from shared.db.migrate import migrate
from shared.settings import load_settings

STAGED = ("events", "leads", "stage_transitions", "opportunities", "attribution_credits", "spend")


class Rollback(Exception):
    """Raised at the end of a test's transaction to undo everything it wrote."""


class OneConnection:
    """Stands in for the worker's pool: every transaction the worker opens becomes a
    savepoint inside the test's own transaction, which is rolled back at the end."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    def acquire(self) -> OneConnection:
        return self

    async def __aenter__(self) -> asyncpg.Connection:
        return self._conn

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return list(await self._conn.fetch(query, *args))


@asynccontextmanager
async def worker_pool(size: int = 1) -> AsyncIterator[asyncpg.Pool]:
    """A pool as the worker's: the application role (row-level security applies), with
    the staging tables on every connection, on a migrated database."""
    settings = load_settings()
    await migrate(settings.database_admin_url)
    pool = await store.create_worker_pool(settings.database_url, min_size=1, max_size=size)
    try:
        yield pool
    finally:
        await pool.close()


async def add_tenants(
    conn: asyncpg.Connection, tenant_ids: Sequence[str], config: dict[str, Any]
) -> None:
    """Creates the tenants with `config` as their version 1, in a transaction bound to them."""
    await conn.execute(
        "INSERT INTO tenants (tenant_id, name) SELECT t, t FROM unnest($1::text[]) t",
        list(tenant_ids),
    )
    await conn.execute(
        "INSERT INTO tenant_config_versions (tenant_id, version, section, config, author)"
        " SELECT t, 1, 'icp', $2, 'test' FROM unnest($1::text[]) t",
        list(tenant_ids),
        config,
    )


@asynccontextmanager
async def rolled_back_tenants(
    pool: asyncpg.Pool, tenant_ids: Sequence[str], config: dict[str, Any]
) -> AsyncIterator[asyncpg.Connection]:
    """A transaction bound to these tenants, created in it; rolled back at the end."""
    async with pool.acquire() as conn:
        try:
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('tandem.tenants', $1::text[]::text, true)", list(tenant_ids)
                )
                await add_tenants(conn, tenant_ids, config)
                yield conn
                raise Rollback
        except Rollback:
            pass


async def as_committed(conn: asyncpg.Connection) -> None:
    """Empties the staging tables as the commit of the worker's transaction would (they are
    ON COMMIT DELETE ROWS); here that transaction was a savepoint."""
    for table in STAGED:
        await conn.execute(f"DELETE FROM staging_{table}")
