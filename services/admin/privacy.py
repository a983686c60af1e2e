"""Privacy operations (SPEC 10): erase one person, lift a suppression, export a tenant,
delete a tenant.

`tandem erase SLUG LEAD_ID` runs shared/erasure.py's `erase`, as the `eraseLead` mutation
does.

An erasure cannot be undone and its suppression drops the person's later events, so both
entry points refuse a tenant or lead that does not exist (a typo must not suppress a
stranger), and the CLI shows its plan until `--yes` confirms it. An admin can list the
suppressions (hashes only: the list names nobody) and lift a mistaken one.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TextIO

import asyncpg
import orjson

from services.admin.tenants import TenantError, require_tenant
from shared.db import create_pool, tenant_tx
from shared.erasure import (
    erase,
    erase_lead,
    erased_at,
    lead_known,
    lift_suppression,
    suppressed_hashes,
)
from shared.secret_box import HASHED_COLUMNS, SEALED_COLUMNS
from shared.settings import load_settings


class _Rollback(Exception):
    """Ends a transaction that only measured what it would do."""


@dataclass(frozen=True)
class EraseOutcome:
    removed: dict[str, int]  # rows per table; what would go when not confirmed
    done: bool
    erased_before: datetime | None = None  # set when the lead was erased already


async def erase_with(
    database_url: str, tenant_id: str, lead_id: str, *, confirmed: bool
) -> EraseOutcome:
    """Erases the lead when `confirmed`; otherwise measures what the erasure would remove
    (the same work, rolled back). Refuses an unknown tenant or lead."""
    pool = await create_pool(database_url, max_size=1)
    try:
        await require_tenant(pool, tenant_id)
        async with tenant_tx(pool, tenant_id) as conn:
            known = await lead_known(conn, tenant_id, lead_id)
            before = await erased_at(conn, tenant_id, lead_id)
        if not known:
            if before is not None:
                return EraseOutcome({}, False, before)
            raise TenantError(
                f"no lead {lead_id!r} in tenant {tenant_id!r}: nothing erased and nothing"
                " suppressed (check the id)"
            )
        if confirmed:
            removed = await erase(lambda: tenant_tx(pool, tenant_id), tenant_id, lead_id)
            return EraseOutcome(removed, True)
        plan: dict[str, int] = {}
        try:
            async with tenant_tx(pool, tenant_id) as conn:
                plan = await erase_lead(conn, tenant_id, lead_id)
                raise _Rollback
        except _Rollback:
            pass
        return EraseOutcome(plan, False)
    finally:
        await pool.close()


async def list_suppressions(
    database_url: str, tenant_id: str, subject_id: str | None = None
) -> list[asyncpg.Record]:
    """The tenant's suppression entries, oldest first; with `subject_id`, those of that
    lead (with its anonymous ids) or anonymous id."""
    pool = await create_pool(database_url, max_size=1)
    try:
        await require_tenant(pool, tenant_id)
        async with tenant_tx(pool, tenant_id) as conn:
            return list(
                await conn.fetch(
                    "SELECT kind, subject_hash, lead_hash, erased_at FROM erased_subjects"
                    " WHERE tenant_id = $1 AND ($2::bytea[] IS NULL"
                    " OR subject_hash = ANY($2) OR lead_hash = ANY($2))"
                    " ORDER BY erased_at, kind DESC, subject_hash",
                    tenant_id,
                    None
                    if subject_id is None
                    else await suppressed_hashes(conn, tenant_id, subject_id),
                )
            )
    finally:
        await pool.close()


async def lift_with(database_url: str, tenant_id: str, subject_id: str, *, confirmed: bool) -> int:
    """Lifts the suppression of `subject_id` when `confirmed`; the entries it covers (lifted
    or to lift). Refuses an unknown tenant or a subject that is not suppressed."""
    pool = await create_pool(database_url, max_size=1)
    try:
        await require_tenant(pool, tenant_id)
        entries = 0
        try:
            async with tenant_tx(pool, tenant_id) as conn:
                entries = await lift_suppression(conn, tenant_id, subject_id)
                if not entries:
                    raise TenantError(f"{subject_id!r} is not suppressed in tenant {tenant_id!r}")
                if not confirmed:
                    raise _Rollback
        except _Rollback:
            pass
        return entries
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
        # Stored secrets (sealed or hashed) never leave the database: an export is a file
        # that travels, and a credential in it would outlive any rotation.
        withheld = {*SEALED_COLUMNS.get(table, ()), *HASHED_COLUMNS.get(table, ())}
        async for row in conn.cursor(f"SELECT * FROM {table} WHERE tenant_id = $1", tenant_id):
            line = {
                "table": table,
                "row": {k: v for k, v in row.items() if k not in withheld},
            }
            yield orjson.dumps(line, default=_json_default) + b"\n"


async def export_tenant(database_url: str, tenant_id: str, out: TextIO) -> int:
    pool = await create_pool(database_url, max_size=1)
    try:
        await require_tenant(pool, tenant_id)
        n = 0
        async with tenant_tx(pool, tenant_id) as conn:
            async for line in export_rows(conn, tenant_id):
                out.buffer.write(line)
                n += 1
        out.flush()
        return n
    finally:
        await pool.close()


async def delete_tenant(database_url: str, tenant_id: str, *, confirmed: bool) -> dict[str, int]:
    """Deletes every row of the tenant, its credentials and configuration included, in one
    transaction, when `confirmed`; returns the rows removed (or that would be) per table."""
    pool = await create_pool(database_url, max_size=1)
    try:
        await require_tenant(pool, tenant_id)
        removed: dict[str, int] = {}
        async with tenant_tx(pool, tenant_id) as conn:
            for table in await tenant_tables(conn):
                if confirmed:
                    status = await conn.execute(
                        f"DELETE FROM {table} WHERE tenant_id = $1", tenant_id
                    )
                    removed[table] = int(status.split()[-1])
                else:
                    removed[table] = await conn.fetchval(
                        f"SELECT count(*) FROM {table} WHERE tenant_id = $1", tenant_id
                    )
        return removed
    finally:
        await pool.close()


# -- CLI ---------------------------------------------------------------------------------


def _print_rows(rows: dict[str, int]) -> None:
    for table, n in sorted(rows.items()):
        if n:
            print(f"  {table}: {n}")


def _erase_command(args: argparse.Namespace) -> int:
    outcome = asyncio.run(
        erase_with(load_settings().database_url, args.slug, args.lead_id, confirmed=args.yes)
    )
    if outcome.erased_before is not None:
        when = outcome.erased_before.isoformat(timespec="seconds")
        print(f"lead {args.lead_id} of {args.slug} was erased already at {when}; nothing to do")
        return 0
    rows = sum(outcome.removed.values())
    if not outcome.done:
        print(f"erasing lead {args.lead_id} of {args.slug} would remove {rows} rows:")
        _print_rows(outcome.removed)
        print("and drop every later event naming it; this cannot be undone")
        print("tandem: nothing done; confirm with --yes", file=sys.stderr)
        return 2
    print(f"lead erased from {args.slug}: {rows} rows removed; later events of it are dropped")
    _print_rows(outcome.removed)
    return 0


def _suppressions_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    rows = asyncio.run(list_suppressions(load_settings().database_url, args.slug, args.id))
    table = Table("erased at (UTC)", "kind", "id hash (SHA-256)", "erased with lead (hash)")
    for r in rows:
        lead = bytes(r["lead_hash"]).hex()[:16] if r["lead_hash"] else "-"
        at = r["erased_at"].isoformat(timespec="seconds")
        table.add_row(at, r["kind"], bytes(r["subject_hash"]).hex()[:16], lead)
    Console(width=160).print(table)
    print(f"{len(rows)} suppressed ids in {args.slug} (listed by hash: the list names nobody)")
    return 0


def _suppressions_lift(args: argparse.Namespace) -> int:
    entries = asyncio.run(
        lift_with(load_settings().database_url, args.slug, args.id, confirmed=args.yes)
    )
    if not args.yes:
        print(
            f"lifting the suppression of {args.id!r} in {args.slug} would remove {entries}"
            " entries (the id and the anonymous ids erased with it): its later events would"
            " be applied again; what was erased or dropped stays gone"
        )
        print("tandem: nothing done; confirm with --yes", file=sys.stderr)
        return 2
    print(f"suppression of {args.id!r} in {args.slug} lifted ({entries} entries)")
    return 0


def _export_command(args: argparse.Namespace) -> int:
    n = asyncio.run(export_tenant(load_settings().database_url, args.slug, sys.stdout))
    print(f"{n} rows of {args.slug} exported", file=sys.stderr)
    return 0


def _delete_command(args: argparse.Namespace) -> int:
    removed = asyncio.run(
        delete_tenant(load_settings().database_url, args.slug, confirmed=args.yes)
    )
    if not args.yes:
        print(f"deleting tenant {args.slug} would remove {sum(removed.values())} rows:")
        _print_rows(removed)
        print("its API keys stop working; this cannot be undone (`tandem tenant export` first)")
        print("tandem: nothing done; confirm with --yes", file=sys.stderr)
        return 2
    print(f"tenant {args.slug} deleted: {sum(removed.values())} rows")
    return 0


def register(sub: Any, tenant: Any) -> None:
    """Adds `tandem erase`, `tandem suppressions list|lift` and `tandem tenant
    export|delete` to the CLI."""
    erase_cmd = sub.add_parser("erase", help="erase one person (lead) of a tenant, for good")
    erase_cmd.add_argument("slug")
    erase_cmd.add_argument("lead_id", metavar="LEAD_ID")
    erase_cmd.add_argument("--yes", action="store_true", help="confirm (without: the plan)")
    erase_cmd.set_defaults(fn=_erase_command)
    suppressions = sub.add_parser(
        "suppressions", help="erased ids whose later events are dropped"
    ).add_subparsers(dest="action", required=True)
    listing = suppressions.add_parser("list", help="a tenant's suppressed ids (as hashes)")
    listing.add_argument("slug")
    listing.add_argument("id", nargs="?", metavar="ID", help="only this lead or anonymous id")
    listing.set_defaults(fn=_suppressions_list)
    lift = suppressions.add_parser("lift", help="apply a suppressed id's later events again")
    lift.add_argument("slug")
    lift.add_argument("id", metavar="ID", help="the lead id (or an anonymous id)")
    lift.add_argument("--yes", action="store_true", help="confirm (without: the plan)")
    lift.set_defaults(fn=_suppressions_lift)
    export = tenant.add_parser("export", help="every row of a tenant as NDJSON on stdout")
    export.add_argument("slug")
    export.set_defaults(fn=_export_command)
    delete = tenant.add_parser("delete", help="delete a tenant and all of its data")
    delete.add_argument("slug")
    delete.add_argument("--yes", action="store_true", help="confirm (without: the plan)")
    delete.set_defaults(fn=_delete_command)
