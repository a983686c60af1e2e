"""The schema keeps Citus' rules for tables distributed by tenant_id (ARCHITECTURE.md,
Scale-out): every primary key, unique constraint or unique index and every foreign key of a
tenant table includes tenant_id, and every table but the migrations ledger is a tenant
table. Read from pg_catalog of the database as the migrations leave it."""

from __future__ import annotations

import asyncpg

from shared.db.migrate import migrate
from shared.settings import load_settings

# Tables without tenant_id: the migration ledger only (a Citus reference table, or local to
# the coordinator).
NOT_TENANT_TABLES = {"schema_migrations"}


async def _fetch(query: str) -> list[asyncpg.Record]:
    settings = load_settings()
    await migrate(settings.database_admin_url)
    conn = await asyncpg.connect(settings.database_admin_url)
    try:
        return list(await conn.fetch(query))
    finally:
        await conn.close()


_TABLES = """
    SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
"""


async def test_every_table_is_a_tenant_table() -> None:
    rows = await _fetch(f"""
        SELECT c.relname FROM pg_class c WHERE c.oid IN ({_TABLES}) AND NOT EXISTS (
            SELECT 1 FROM pg_attribute a
            WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped)
    """)
    assert {r["relname"] for r in rows} == NOT_TENANT_TABLES


async def test_every_key_includes_tenant_id() -> None:
    rows = await _fetch(f"""
        SELECT c.relname AS table_name, i.relname AS key
        FROM pg_index x
        JOIN pg_class c ON c.oid = x.indrelid
        JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid IN ({_TABLES}) AND x.indisunique
          AND c.relname NOT IN ({", ".join(f"'{t}'" for t in NOT_TENANT_TABLES)})
          AND NOT EXISTS (
              SELECT 1 FROM pg_attribute a
              WHERE a.attrelid = x.indrelid AND a.attname = 'tenant_id'
                AND a.attnum = ANY(x.indkey))
        ORDER BY 1, 2
    """)
    assert [(r["table_name"], r["key"]) for r in rows] == []


async def test_every_foreign_key_includes_tenant_id_on_both_sides() -> None:
    rows = await _fetch(f"""
        SELECT c.conrelid::regclass::text AS table_name, c.conname
        FROM pg_constraint c
        WHERE c.contype = 'f' AND c.conrelid IN ({_TABLES}) AND NOT EXISTS (
            SELECT 1 FROM unnest(c.conkey, c.confkey) AS k(own, referenced)
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.own
            JOIN pg_attribute b ON b.attrelid = c.confrelid AND b.attnum = k.referenced
            WHERE a.attname = 'tenant_id' AND b.attname = 'tenant_id')
        ORDER BY 1, 2
    """)
    assert [(r["table_name"], r["conname"]) for r in rows] == []


async def test_the_checks_see_the_tables_they_judge() -> None:
    """The catalogue queries above are not vacuous: they read keys that exist."""
    rows = await _fetch(f"""
        SELECT count(*) FILTER (WHERE x.indisprimary) AS primary_keys,
               count(*) FILTER (WHERE c.contype = 'f') AS foreign_keys
        FROM pg_index x FULL JOIN pg_constraint c ON false
        WHERE x.indrelid IN ({_TABLES}) OR (c.contype = 'f' AND c.conrelid IN ({_TABLES}))
    """)
    assert rows[0]["primary_keys"] >= 30
    assert rows[0]["foreign_keys"] >= 2
