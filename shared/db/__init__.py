"""PostgreSQL access: the pool, and transactions bound to one tenant for row-level security."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final

import asyncpg
import orjson

from shared import tracing

# Sent when a connection opens, so they are the session's defaults: the pool's `RESET
# ALL` on every release returns to them (a `SET` in the connection's setup lasted only
# until the first release).
SESSION_SETTINGS: Final = {
    # No JIT compilation: every statement here reads one batch's or one request's rows, and
    # PostgreSQL compiles whenever a plan's estimated cost passes a threshold, which a
    # batch's arrays and a large tenant's aggregates both do: 15 to 30 ms of compiling for
    # a statement that ran in 40 (the accounts step's key lookups, the `metrics` query).
    "jit": "off",
}


async def _init_connection(conn: asyncpg.Connection) -> None:
    # Binary codecs, because COPY (the bulk path of the workers) speaks only binary.
    # jsonb's binary form is a version byte (1) followed by the JSON text.
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda v: b"\x01" + orjson.dumps(v),
        decoder=lambda b: orjson.loads(b[1:]),
        schema="pg_catalog",
        format="binary",
    )
    await conn.set_type_codec(
        "json", encoder=orjson.dumps, decoder=orjson.loads, schema="pg_catalog", format="binary"
    )
    if tracing.enabled():
        conn.add_query_logger(tracing.record_query)


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    setup: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> asyncpg.Pool:
    """A pool whose connections have the JSON codecs, `setup` run once each (not on every
    acquire: a `SET` in it lasts only until the pool's `RESET ALL` at the first release),
    and SESSION_SETTINGS as their session defaults."""

    async def init(conn: asyncpg.Connection) -> None:
        await _init_connection(conn)
        if setup is not None:
            await setup(conn)

    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=init,
        command_timeout=60,
        server_settings=SESSION_SETTINGS,
    )
    assert pool is not None
    return pool


@asynccontextmanager
async def tenant_tx(
    pool: asyncpg.Pool, tenant_id: str, *, statement_timeout_ms: int | None = None
) -> AsyncIterator[Any]:
    """A transaction in which row-level security admits only `tenant_id`'s rows, and each
    statement is cancelled after `statement_timeout_ms` when given.

    The settings are transaction-local (`is_local = true`) so a pooled connection never
    carries one tenant's identity (or one request's timeout) into the next request.
    """
    async with pool.acquire() as conn, conn.transaction():
        if statement_timeout_ms is None:
            await conn.execute("SELECT set_config('tandem.tenant_id', $1, true)", tenant_id)
        else:
            await conn.execute(
                "SELECT set_config('tandem.tenant_id', $1, true),"
                " set_config('statement_timeout', $2, true)",
                tenant_id,
                f"{statement_timeout_ms}ms",
            )
        yield conn


@asynccontextmanager
async def tenants_tx(pool: asyncpg.Pool, tenant_ids: Collection[str]) -> AsyncIterator[Any]:
    """A transaction bound to a set of tenants: row-level security admits a row of any of
    them and of no other, row by row, so one set-based statement can serve a batch of many
    tenants. Transaction-local, as `tenant_tx`."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "SELECT set_config('tandem.tenants', $1::text[]::text, true)", sorted(tenant_ids)
        )
        yield conn


async def tenant_fetch(
    pool: asyncpg.Pool, tenant_id: str, sql: str, *args: Any
) -> list[asyncpg.Record]:
    """The rows of one query, read in a transaction of `tenant_id`; the query gets the
    tenant as $1 and `args` as $2, $3, ..."""
    async with tenant_tx(pool, tenant_id) as conn:
        return list(await conn.fetch(sql, tenant_id, *args))


async def drain(
    pool: asyncpg.Pool,
    tenant_id: str,
    sql: str,
    chunk: int,
    handle: Callable[[asyncpg.Connection, list[asyncpg.Record]], Awaitable[None]],
) -> int:
    """Works through the rows `sql` selects ($1 the tenant, $2 `chunk`, its LIMIT) a chunk
    per transaction: `handle(conn, rows)` runs in the transaction that read them, so what it
    deletes or marks done commits only with the work it did on them. Stops after a chunk
    smaller than `chunk`; returns how many rows were handled."""
    handled = 0
    while True:
        async with tenant_tx(pool, tenant_id) as conn:
            rows = list(await conn.fetch(sql, tenant_id, chunk))
            if rows:
                await handle(conn, rows)
        handled += len(rows)
        if len(rows) < chunk:
            return handled


async def fetch_dict(conn: asyncpg.Connection, sql: str, *args: Any) -> dict[Any, Any]:
    """A query's rows as {first column: second column} (a key to its value, by id)."""
    return {r[0]: r[1] for r in await conn.fetch(sql, *args)}


def as_columns(rows: Collection[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows as one list per column: the parameters of `unnest($n::type[], ...)`, which sends
    a batch of rows in one statement, an array per column."""
    return [[row[i] for row in rows] for i in range(width)]


def delete_by_keys(table: str, key: Sequence[str], returning: str = "") -> str:
    """DELETE of the rows of `table` matching any of the keys given as one text array per
    column of `key` ($1, $2, ...), found one key at a time through the table's index;
    `returning` is a RETURNING list, if any.

    A plain `DELETE ... USING unnest(...)` leaves the join to the planner, which prices a
    key by the table's statistics and an index probe at four sequential pages: where lead
    ids repeat across tenants (tenant_id counts as one value, migration 0047) a key looked
    like a hundred rows, and the planner hashed the whole table instead (56 ms against
    2.7 ms for 300 leads' credits), a cost that grew with every tenant's rows. The LATERAL
    (kept apart by OFFSET 0) looks each key up on its own, and the rows found are deleted
    by their physical address. Only for tables whose rows are inserted and deleted, never
    updated, under locks the caller holds: a row cannot move between lookup and delete."""
    columns = ", ".join(key)
    arrays = ", ".join(f"${i}::text[]" for i in range(1, len(key) + 1))
    match = " AND ".join(f"t.{c} = k.{c}" for c in key)
    return (
        f"DELETE FROM {table} WHERE ctid = ANY(ARRAY("
        f"SELECT x.ctid FROM unnest({arrays}) AS k({columns})"
        f" CROSS JOIN LATERAL (SELECT ctid FROM {table} t WHERE {match} OFFSET 0) AS x))"
        + (f" RETURNING {returning}" if returning else "")
    )
