"""Per-tenant intake quotas (events per second and per UTC day), in total across every
gateway replica: each request adds its events to the tenant's counters for the current
second and day in PostgreSQL, and is refused whole (429 with Retry-After) when either
would pass the quota; a refused request counts nothing. Tenants without a quota cost a
cached read of their (absent) quota, nothing per request."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.gateway.limits import BoundedTtlCache
from shared.db import tenant_tx

# An operator's change of a quota is honoured within this long.
QUOTA_TTL_S = 5.0

# Adds `$2` events to the tenant's counters of the current second and day (database clock)
# and answers the totals and how long until each window ends. Rows of ended windows go in
# the same statement, so the table holds a few rows per tenant.
_COUNT_SQL = """
WITH now AS (SELECT clock_timestamp() AS t),
expired AS (
    DELETE FROM intake_counts
    WHERE tenant_id = $1
      AND (window_start < (SELECT t FROM now) - interval '2 days'
           OR (span = 'second' AND window_start < (SELECT t FROM now) - interval '10 seconds'))
),
counted AS (
    INSERT INTO intake_counts AS c (tenant_id, span, window_start, used)
    SELECT $1, 'second', date_trunc('second', t), $2::bigint FROM now
    UNION ALL
    SELECT $1, 'day', date_trunc('day', t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', $2::bigint
    FROM now
    ON CONFLICT (tenant_id, span, window_start) DO UPDATE SET used = c.used + EXCLUDED.used
    RETURNING span, used, window_start
)
SELECT span, used,
       extract(epoch FROM window_start
               + CASE span WHEN 'second' THEN interval '1 second' ELSE interval '1 day' END
               - (SELECT t FROM now)) AS left_s
FROM counted
"""


@dataclass(frozen=True)
class Quota:
    events_per_second: int | None
    events_per_day: int | None


class QuotaExceeded(Exception):
    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class IntakeQuotas:
    def __init__(self) -> None:
        self._quotas: BoundedTtlCache[str, Quota] = BoundedTtlCache(100_000, QUOTA_TTL_S)

    async def quota(self, pool: asyncpg.Pool, tenant_id: str) -> Quota:
        found = self._quotas.get(tenant_id)
        if found is None:
            async with tenant_tx(pool, tenant_id) as conn:
                row = await conn.fetchrow(
                    "SELECT events_per_second, events_per_day FROM tenant_quotas"
                    " WHERE tenant_id = $1",
                    tenant_id,
                )
            found = Quota(None, None) if row is None else Quota(*row)
            self._quotas.put(tenant_id, found)
        return found

    async def take(self, pool: asyncpg.Pool, tenant_id: str, events: int) -> None:
        """Counts `events` against the tenant's quota, or raises QuotaExceeded (and counts
        nothing)."""
        quota = await self.quota(pool, tenant_id)
        if events <= 0 or (quota.events_per_second is None and quota.events_per_day is None):
            return
        limits = {"second": quota.events_per_second, "day": quota.events_per_day}
        async with tenant_tx(pool, tenant_id) as conn:
            for row in await conn.fetch(_COUNT_SQL, tenant_id, events):
                limit = limits[row["span"]]
                if limit is not None and row["used"] > limit:
                    # Raised inside the transaction: the count is rolled back.
                    raise QuotaExceeded(
                        _message(row["span"], limit, events),
                        max(1, int(float(row["left_s"]) + 0.999)),
                    )


def _message(span: str, limit: int, events: int) -> str:
    what = f"the tenant's intake quota of {limit} events per {span}"
    if events > limit:
        return f"a request of {events} events exceeds {what}: send smaller requests"
    return f"{what} is used up; nothing of this request was accepted, retry after the wait"
