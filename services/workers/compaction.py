"""Keeps lead_metric_hours small: the triggers append a signed row per hour and statement,
and this merges each tenant's rows into one per hour, on a timer of the worker
(services/workers/app.py). Every worker runs it; the merge function lets one at a time
merge, the others find nothing to do."""

from __future__ import annotations

import asyncpg

INTERVAL_S = 5.0
# Extra rows a tenant may gather before a merge; summing them costs well under a millisecond.
SLACK_ROWS = 2_000


async def compact(pool: asyncpg.Pool, slack: int = SLACK_ROWS) -> int:
    """Merges the tenants over the slack (all processes share one merge at a time);
    returns how many tenants were merged."""
    async with pool.acquire() as conn, conn.transaction():
        return int(await conn.fetchval("SELECT tandem_compact_lead_metric_hours($1)", slack))
