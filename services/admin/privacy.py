"""Privacy commands (SPEC 10): erase one person, export a tenant, delete a tenant.

`tandem erase SLUG LEAD_ID` runs shared/erasure.py's `erase`, as the `eraseLead` mutation
does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TextIO

import asyncpg
import orjson

from shared.db import create_pool, tenant_tx
from shared.erasure import erase
from shared.settings import load_settings


async def erase_with(database_url: str, tenant_id: str, lead_id: str) -> dict[str, int]:
    pool = await create_pool(database_url, max_size=1)
    try:
        return await erase(lambda: tenant_tx(pool, tenant_id), tenant_id, lead_id)
    finally:
        await pool.close()


# -- tenant export and deletion ----------------------------------------------------------


async def tenant_tables(conn: asyncpg.Connection) -> list[str]:
    """Every table that holds a tenant's rows, `tenants` last (the others refer to it)."""
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
        " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')"
        " AND a.attname = 'tenant_id' AND NOT a.attisdropped ORDER BY c.relname"
    )
    names = [r["relname"] for r in rows if r["relname"] != "tenants"]
    return [*names, "tenants"]


def _json_default(value: object) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot export {type(value).__name__}")


async def export_rows(conn: asyncpg.Connection, tenant_id: str) -> AsyncIterator[bytes]:
    """One NDJSON line per row of the tenant: {"table": ..., "row": {...}}. Streams with a
    cursor, so a large tenant never sits in memory whole."""
    for table in await tenant_tables(conn):
        async for row in conn.cursor(f"SELECT * FROM {table} WHERE tenant_id = $1", tenant_id):
            line = {"table": table, "row": dict(row)}
            yield orjson.dumps(line, default=_json_default) + b"\n"


async def export_tenant(database_url: str, tenant_id: str, out: TextIO) -> int:
    pool = await create_pool(database_url, max_size=1)
    try:
        n = 0
        async with tenant_tx(pool, tenant_id) as conn:
            async for line in export_rows(conn, tenant_id):
                out.buffer.write(line)
                n += 1
        out.flush()
        return n
    finally:
        await pool.close()


async def delete_tenant(database_url: str, tenant_id: str) -> dict[str, int]:
    """Deletes every row of the tenant, its credentials and configuration included, in one
    transaction; returns the rows removed per table."""
    pool = await create_pool(database_url, max_size=1)
    try:
        removed: dict[str, int] = {}
        async with tenant_tx(pool, tenant_id) as conn:
            for table in await tenant_tables(conn):
                status = await conn.execute(f"DELETE FROM {table} WHERE tenant_id = $1", tenant_id)
                removed[table] = int(status.split()[-1])
        return removed
    finally:
        await pool.close()


# -- CLI ---------------------------------------------------------------------------------


def _erase_command(args: argparse.Namespace) -> int:
    removed = asyncio.run(erase_with(load_settings().database_url, args.slug, args.lead_id))
    rows = sum(removed.values())
    print(f"lead erased from {args.slug}: {rows} rows removed; later events of it are dropped")
    for table, n in sorted(removed.items()):
        if n:
            print(f"  {table}: {n}")
    return 0


def _export_command(args: argparse.Namespace) -> int:
    n = asyncio.run(export_tenant(load_settings().database_url, args.slug, sys.stdout))
    print(f"{n} rows of {args.slug} exported", file=sys.stderr)
    return 0


def _delete_command(args: argparse.Namespace) -> int:
    if not args.yes:
        print(f"tandem: this deletes every row of {args.slug}; confirm with --yes", file=sys.stderr)
        return 2
    removed = asyncio.run(delete_tenant(load_settings().database_url, args.slug))
    if not removed.get("tenants"):
        print(f"tandem: no tenant {args.slug!r}", file=sys.stderr)
        return 1
    print(f"tenant {args.slug} deleted: {sum(removed.values())} rows")
    return 0


def register(sub: Any, tenant: Any) -> None:
    """Adds `tandem erase` and `tandem tenant export|delete` to the CLI."""
    erase_cmd = sub.add_parser("erase", help="erase one person (lead) of a tenant, for good")
    erase_cmd.add_argument("slug")
    erase_cmd.add_argument("lead_id", metavar="LEAD_ID")
    erase_cmd.set_defaults(fn=_erase_command)
    export = tenant.add_parser("export", help="every row of a tenant as NDJSON on stdout")
    export.add_argument("slug")
    export.set_defaults(fn=_export_command)
    delete = tenant.add_parser("delete", help="delete a tenant and all of its data")
    delete.add_argument("slug")
    delete.add_argument("--yes", action="store_true", help="confirm")
    delete.set_defaults(fn=_delete_command)
