"""Keeps lead_metric_days small: the triggers append a signed row per day and statement,
and this merges each tenant's rows into one per day in the background."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg

from services.gateway.graphql.core.tasks import stop

log = logging.getLogger("tandem.gateway.graphql")

INTERVAL_S = 5.0
# Extra rows a tenant may gather before a merge; summing them costs well under a millisecond.
SLACK_ROWS = 2_000


class LeadDayCompactor:
    def __init__(self, pool: Callable[[], asyncpg.Pool | None], interval_s: float = INTERVAL_S):
        self._pool = pool
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="lead-day-compaction")

    async def compact(self, slack: int = SLACK_ROWS) -> int:
        """Merges the tenants over the slack (all processes share one merge at a time);
        returns how many tenants were merged."""
        pool = self._pool()
        if pool is None:
            return 0
        async with pool.acquire() as conn, conn.transaction():
            return int(await conn.fetchval("SELECT tandem_compact_lead_metric_days($1)", slack))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.compact()
            except Exception as exc:
                # PostgreSQL away or restarting: the next round tries again.
                log.warning("merging metric day rows failed", extra={"error": repr(exc)})

    async def aclose(self) -> None:
        task, self._task = self._task, None
        await stop(task)
