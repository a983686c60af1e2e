"""Keeps lead_metric_hours and opportunity_metric_hours small: the triggers append signed
rows per hour and statement, and this merges each tenant's rows into one per hour, on a
timer of the worker (services/workers/app.py). Every worker runs it; each merge function
lets one at a time merge, the others find nothing to do."""

from __future__ import annotations

import asyncpg

INTERVAL_S = 5.0
# Extra rows a tenant may gather before a merge; summing them costs well under a millisecond.
SLACK_ROWS = 2_000
MERGES = ("tandem_compact_lead_metric_hours", "tandem_compact_opportunity_metric_hours")


async def compact(pool: asyncpg.Pool, slack: int = SLACK_ROWS) -> int:
    """Merges the tenants over the slack in each table (all processes share one merge of a
    table at a time); returns how many tenant tables were merged."""
    merged = 0
    for merge in MERGES:
        async with pool.acquire() as conn, conn.transaction():
            merged += int(await conn.fetchval(f"SELECT {merge}($1)", slack))
    return merged
