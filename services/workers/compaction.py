"""Keeps the tables that statement triggers append to small: lead_metric_hours and
opportunity_metric_hours (signed rows per hour and statement) and tenant_changes (a row
per tenant and statement, the overview cache's change marker). This merges each tenant's
rows, on a timer of the worker (services/workers/app.py), without changing any sum they
hold. Every worker runs it; each merge function lets one at a time merge, the others find
nothing to do."""

from __future__ import annotations

import asyncpg

INTERVAL_S = 5.0
# Extra rows a tenant may gather before a merge; summing them costs well under a millisecond.
SLACK_ROWS = 2_000
# Every tenant's change-marker rows merged into one each time: the marker is read four
# times a second while a dashboard is open, and the merge's own scan of the table stays at
# about a row per tenant (with slack, an idle tenant would keep its rows for good).
MARKER_SLACK_ROWS = 0
MERGES = (
    ("tandem_compact_lead_metric_hours", SLACK_ROWS),
    ("tandem_compact_opportunity_metric_hours", SLACK_ROWS),
    ("tandem_compact_tenant_changes", MARKER_SLACK_ROWS),
)


async def compact(pool: asyncpg.Pool, slack: int | None = None) -> int:
    """Merges the tenants over each table's slack (or `slack`) in each table (all processes
    share one merge of a table at a time); returns how many tenant tables were merged."""
    merged = 0
    for merge, table_slack in MERGES:
        async with pool.acquire() as conn, conn.transaction():
            rows = table_slack if slack is None else slack
            merged += int(await conn.fetchval(f"SELECT {merge}($1)", rows))
    return merged
