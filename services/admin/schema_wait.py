"""`tandem wait-schema`: wait until the database has every migration this release ships.

A Deployment's init container runs it with the application role, so a new release's pods
start only after its migrate Job has finished, and never need the owner's credentials.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg

from services.admin.progress import progress
from shared.db.migrate import discover

POLL_S = 2.0


async def applied_version(database_url: str) -> int:
    """The highest applied migration; 0 while none (or the table is not readable yet)."""
    try:
        conn = await asyncpg.connect(database_url, timeout=10)
    except (OSError, asyncpg.PostgresError):
        return 0
    try:
        return int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations"))
    except (asyncpg.UndefinedTableError, asyncpg.InsufficientPrivilegeError):
        return 0
    finally:
        await conn.close()


async def wait_for_schema(database_url: str, timeout_s: float) -> tuple[bool, int, int]:
    """(reached, applied version, version this release needs)."""
    wanted = max(m.version for m in discover())
    deadline = time.monotonic() + timeout_s
    with progress() as bar:
        task = bar.add_task("waiting for the schema", total=wanted)
        while True:
            applied = await applied_version(database_url)
            bar.update(task, completed=min(applied, wanted))
            if applied >= wanted:
                return True, applied, wanted
            if time.monotonic() > deadline:
                return False, applied, wanted
            await asyncio.sleep(POLL_S)
