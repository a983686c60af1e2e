"""Privacy operations (SPEC 10): erase one person, export a tenant, delete a tenant.

`tandem erase SLUG LEAD_ID` and the `eraseLead` mutation share `erase_lead`: in one
transaction of the tenant, under the same per-lead and per-identity locks the workers take,
it records the suppression entries (shared/privacy.py) and deletes the lead's events, its
linked anonymous ids and their held touches, its traits and every row derived from them.
Metrics follow by themselves: the day counters are kept by triggers on `leads`, attribution
and pipeline figures are read from the credits and opportunities that went with the lead.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TextIO

import asyncpg
import orjson

from services.workers import accounts, store
from shared.config_store import current_config
from shared.db import create_pool, tenant_tx
from shared.privacy import ANONYMOUS, LEAD, erasure_key, subject_hash
from shared.secret_box import HASHED_COLUMNS, SEALED_COLUMNS
from shared.settings import load_settings

# Rows of one lead, table by table: (table, condition on $2 = lead id, $3 = its anonymous
# ids). Tables of a later release that this database does not have yet are skipped.
_LEAD_ROWS: tuple[tuple[str, str], ...] = (
    ("events", "lead_id = $2 OR anonymous_id = ANY($3::text[])"),
    ("identities", "lead_id = $2 OR anonymous_id = ANY($3::text[])"),
    ("stage_transitions", "lead_id = $2"),
    ("attribution_credits", "lead_id = $2"),
    ("opportunities", "lead_id = $2"),
    ("sla_breaches", "lead_id = $2"),
    ("account_members", "lead_id = $2"),
    ("connector_links", "lead_id = $2"),
    ("connector_parked", "event->>'lead_id' = $2 OR event->>'anonymous_id' = ANY($3::text[])"),
    ("crm_pending", "lead_id = $2"),
    ("crm_synced", "lead_id = $2"),
    ("webhook_score_marks", "lead_id = $2"),
    ("leads", "lead_id = $2"),
)


async def erase_lead(conn: asyncpg.Connection, tenant_id: str, lead_id: str) -> dict[str, int]:
    """Erases one lead; `conn` is in a transaction bound to the tenant. Returns the rows
    removed per table (all zero for a lead that does not exist; erasing it still suppresses
    the id). Idempotent."""
    anonymous = await _anonymous_ids(conn, tenant_id, lead_id)
    # The workers' order: identities, then leads; a batch of this lead waits, or is waited on.
    # The lead's fellow account members are locked in the same sweep: their accounts are
    # recomputed below, and taking their locks after this lead's could deadlock with a
    # batch holding one of them while it waits for this lead.
    await store.lock(conn, tenant_id, "anon", anonymous)
    await store.lock(
        conn, tenant_id, "lead", [lead_id, *await _fellow_members(conn, tenant_id, lead_id)]
    )
    anonymous = sorted(set(anonymous) | set(await _anonymous_ids(conn, tenant_id, lead_id)))
    key = await erasure_key(conn, tenant_id)
    await conn.execute(
        "INSERT INTO erased_subjects (tenant_id, kind, subject_hash)"
        " SELECT $1, k, h FROM unnest($2::text[], $3::bytea[]) AS u(k, h) ON CONFLICT DO NOTHING",
        tenant_id,
        [LEAD] + [ANONYMOUS] * len(anonymous),
        [subject_hash(key, lead_id)] + [subject_hash(key, a) for a in anonymous],
    )
    member_of = [
        r["account_id"]
        for r in await conn.fetch(
            "SELECT account_id FROM account_members WHERE tenant_id = $1 AND lead_id = $2",
            tenant_id,
            lead_id,
        )
    ]
    existing = await _tables(conn, [t for t, _ in _LEAD_ROWS] + ["webhook_deliveries"])
    removed: dict[str, int] = {}
    for table, condition in _LEAD_ROWS:
        if table not in existing:
            continue
        params = (lead_id, anonymous) if "$3" in condition else (lead_id,)
        status = await conn.execute(
            f"DELETE FROM {table} WHERE tenant_id = $1 AND ({condition})", tenant_id, *params
        )
        removed[table] = int(status.split()[-1])
    if "webhook_deliveries" in existing:
        # A delivery's body is the notification about the lead as sent (JSON or a Slack
        # text), naming the lead as a JSON string; its attempts go with it (cascade).
        status = await conn.execute(
            "DELETE FROM webhook_deliveries WHERE tenant_id = $1"
            " AND strpos(body, to_jsonb($2::text)::text) > 0",
            tenant_id,
            lead_id,
        )
        removed["webhook_deliveries"] = int(status.split()[-1])
    await _refresh_accounts(conn, tenant_id, member_of)
    return removed


async def _tables(conn: asyncpg.Connection, names: list[str]) -> set[str]:
    rows = await conn.fetch(
        "SELECT relname FROM pg_class WHERE relname = ANY($1::text[])"
        " AND relnamespace = 'public'::regnamespace",
        names,
    )
    return {r["relname"] for r in rows}


async def _fellow_members(conn: asyncpg.Connection, tenant_id: str, lead_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT DISTINCT other.lead_id FROM account_members own"
        " JOIN account_members other"
        " ON other.tenant_id = own.tenant_id AND other.account_id = own.account_id"
        " WHERE own.tenant_id = $1 AND own.lead_id = $2",
        tenant_id,
        lead_id,
    )
    return [r["lead_id"] for r in rows]


async def _anonymous_ids(conn: asyncpg.Connection, tenant_id: str, lead_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT anonymous_id FROM identities WHERE tenant_id = $1 AND lead_id = $2"
        " UNION SELECT anonymous_id FROM events WHERE tenant_id = $1 AND lead_id = $2"
        " AND anonymous_id IS NOT NULL",
        tenant_id,
        lead_id,
    )
    return sorted(r["anonymous_id"] for r in rows)


async def _refresh_accounts(
    conn: asyncpg.Connection, tenant_id: str, account_ids: list[str]
) -> None:
    """Recomputes the accounts the lead belonged to from their remaining members; an account
    left without members goes with the lead."""
    if not account_ids:
        return
    members = [
        r["lead_id"]
        for r in await conn.fetch(
            "SELECT lead_id FROM account_members WHERE tenant_id = $1"
            " AND account_id = ANY($2::text[])",
            tenant_id,
            account_ids,
        )
    ]
    if members:
        _, config = await current_config(conn, tenant_id)
        await accounts.update_accounts(conn, tenant_id, members, config)
    await conn.execute(
        "DELETE FROM accounts a WHERE a.tenant_id = $1 AND a.account_id = ANY($2::text[])"
        " AND NOT EXISTS (SELECT 1 FROM account_members m"
        " WHERE m.tenant_id = a.tenant_id AND m.account_id = a.account_id)",
        tenant_id,
        account_ids,
    )


async def erase(
    transaction: Callable[[], AbstractAsyncContextManager[asyncpg.Connection]],
    tenant_id: str,
    lead_id: str,
) -> dict[str, int]:
    """Erases a lead in two transactions of the tenant: the second removes whatever a batch
    of the lead that was already past the suppression check (and waiting on the lead's
    lock) wrote meanwhile."""
    totals: dict[str, int] = {}
    for _ in range(2):
        async with transaction() as conn:
            for table, n in (await erase_lead(conn, tenant_id, lead_id)).items():
                totals[table] = totals.get(table, 0) + n
    return totals


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
