"""`tandem secrets rotate`: re-seals every stored secret under the current key.

Run it after putting a new key in TANDEM_SECRETS_KEY and the previous one in
TANDEM_SECRETS_OLD_KEYS; once it reports nothing left under an old key, the old key can be
dropped. Values stored before sealing existed are sealed by the same run. Each row is
re-sealed in place, one transaction per table, so a run that stops half-way is simply run
again.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import asyncpg

from shared.secret_box import SEALED_COLUMNS, SecretBox, box, context_for
from shared.settings import load_settings


async def rotate(admin_dsn: str, sealer: SecretBox | None = None) -> dict[str, int]:
    """Re-seals the values not sealed under the current key; returns the count per
    table.column."""
    sealer = sealer or box()
    done: dict[str, int] = {}
    conn = await asyncpg.connect(admin_dsn)
    try:
        for table, columns in SEALED_COLUMNS.items():
            for column in columns:
                async with conn.transaction():
                    rows = await conn.fetch(
                        f"SELECT ctid, tenant_id, {column} AS value FROM {table}"
                        f" WHERE {column} IS NOT NULL FOR UPDATE"
                    )
                    changed = 0
                    for row in rows:
                        if not sealer.needs_rotation(row["value"]):
                            continue
                        context = context_for(table, column, row["tenant_id"])
                        clear = sealer.open(row["value"], context)
                        await conn.execute(
                            f"UPDATE {table} SET {column} = $1 WHERE ctid = $2",
                            sealer.seal(clear, context),
                            row["ctid"],
                        )
                        changed += 1
                done[f"{table}.{column}"] = changed
    finally:
        await conn.close()
    return done


def _rotate_command(args: argparse.Namespace) -> int:
    done = asyncio.run(rotate(load_settings().database_admin_url))
    for place, n in done.items():
        print(f"{place}: {n} re-sealed")
    print(f"every stored secret is sealed under key {box().current_id}")
    return 0


def register(sub: Any) -> None:
    """Adds `tandem secrets rotate` to the CLI."""
    group = sub.add_parser("secrets", help="secrets stored at rest")
    actions = group.add_subparsers(dest="action", required=True)
    rotate_cmd = actions.add_parser(
        "rotate", help="re-seal every stored secret under TANDEM_SECRETS_KEY"
    )
    rotate_cmd.set_defaults(fn=_rotate_command)
