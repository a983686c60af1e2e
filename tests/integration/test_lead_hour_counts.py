"""The per-hour lead counts that `metrics` reads (lead_metric_hours, kept by statement
triggers on leads) always equal a count of the leads themselves: after inserts, updates
that move milestones, updates that move none, an upsert that does both, and deletes, for
several tenants in one statement, with an SLA limit of each tenant's own.

Runs as the application role, in one transaction that is rolled back."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.conftest import RUN_ID
from tests.integration.rolled_back import rolled_back_tenants, worker_pool

TENANTS = [f"hours-{RUN_ID}-{n}" for n in range(3)]
START = datetime(2026, 10, 1, tzinfo=UTC)

# What the triggers count, recounted from the leads: each tenant's own limit.
RECOUNT = """
WITH lim AS (
    SELECT t AS tenant_id, tandem_sla_response_limit(t) AS lim FROM unnest($1::text[]) t
)
SELECT tenant_id, hour, sum(a) AS leads_created, sum(b) AS with_opportunity, sum(c) AS mqls,
       sum(d) AS with_sql, sum(e) AS within, sum(f) AS late, sum(g) AS unanswered,
       sum(h) AS sqls, sum(i) AS customers
FROM (
    SELECT tenant_id, date_trunc('hour', created_at, 'UTC') AS hour, 1 AS a,
           (opportunity_at IS NOT NULL)::int AS b, 0 AS c, 0 AS d, 0 AS e, 0 AS f, 0 AS g,
           0 AS h, 0 AS i
    FROM leads WHERE tenant_id = ANY($1)
    UNION ALL
    SELECT l.tenant_id, date_trunc('hour', mql_at, 'UTC'), 0, 0, 1, (sql_at IS NOT NULL)::int,
           coalesce((sla_response_at <= mql_at + lim)::int, 0),
           coalesce((sla_response_at > mql_at + lim)::int, 0),
           (sla_response_at IS NULL)::int, 0, 0
    FROM leads l JOIN lim USING (tenant_id) WHERE mql_at IS NOT NULL
    UNION ALL
    SELECT tenant_id, date_trunc('hour', sql_at, 'UTC'), 0, 0, 0, 0, 0, 0, 0, 1, 0
    FROM leads WHERE tenant_id = ANY($1) AND sql_at IS NOT NULL
    UNION ALL
    SELECT tenant_id, date_trunc('hour', customer_at, 'UTC'), 0, 0, 0, 0, 0, 0, 0, 0, 1
    FROM leads WHERE tenant_id = ANY($1) AND customer_at IS NOT NULL
) facts
GROUP BY tenant_id, hour
"""

COUNTED = """
SELECT tenant_id, hour, sum(leads_created) AS leads_created,
       sum(created_with_opportunity) AS with_opportunity, sum(mqls) AS mqls,
       sum(mqls_with_sql) AS with_sql, sum(sla_within) AS within, sum(sla_late) AS late,
       sum(sla_unanswered) AS unanswered, sum(sqls) AS sqls, sum(new_customers) AS customers
FROM lead_metric_hours WHERE tenant_id = ANY($1)
GROUP BY tenant_id, hour
"""


def _nonzero(rows: list[asyncpg.Record]) -> dict[tuple[str, object], tuple[int, ...]]:
    counts = {(r["tenant_id"], r["hour"]): tuple(map(int, list(r.values())[2:])) for r in rows}
    return {key: value for key, value in counts.items() if any(value)}


async def _assert_counts_match(conn: asyncpg.Connection, step: str) -> None:
    want = _nonzero(await conn.fetch(RECOUNT, TENANTS))
    got = _nonzero(await conn.fetch(COUNTED, TENANTS))
    assert want, "the recount counts nothing"
    assert got == want, step


@pytest.fixture
async def conn() -> AsyncIterator[asyncpg.Connection]:
    async with worker_pool() as pool, rolled_back_tenants(pool, TENANTS, {}) as conn:
        # Each tenant its own SLA limit: 2 h, 24 h (the default) and 100 h.
        for tenant, hours in zip(TENANTS, (2.0, None, 100.0), strict=True):
            if hours is not None:
                await conn.execute(
                    "INSERT INTO tenant_config_versions (tenant_id, version, section, config,"
                    " author) VALUES ($1, 2, 'sla', $2, 'test')",
                    tenant,
                    {"sla": {"mql_response_hours": hours}},
                )
        yield conn


def _at(rng: random.Random) -> datetime:
    return START + timedelta(minutes=rng.randint(0, 20 * 24 * 60))


def _milestones(rng: random.Random, created: datetime) -> tuple[datetime | None, ...]:
    """opportunity_at, mql_at, sql_at, sla_response_at, customer_at: some set, some not."""

    def maybe(after: datetime) -> datetime | None:
        return after + timedelta(hours=rng.uniform(0, 150)) if rng.random() < 0.6 else None

    mql = maybe(created)
    response = maybe(mql) if mql else None
    return (maybe(created), mql, maybe(created), response, maybe(created))


async def _upsert(conn: asyncpg.Connection, rows: list[tuple[object, ...]]) -> None:
    await conn.execute(
        """
        INSERT INTO leads (tenant_id, lead_id, stage, highest_stage, fit_score, fit_grade,
                           disqualified, engagement_score, score, matrix, created_at,
                           last_event_at, scored_at, opportunity_at, mql_at, sql_at,
                           sla_response_at, customer_at)
        SELECT t, l, 'LEAD', 'LEAD', 0, 'D', false, s, s, 'D4', c, c, c, o, m, q, r, u
        FROM unnest($1::text[], $2::text[], $3::int[], $4::timestamptz[], $5::timestamptz[],
                    $6::timestamptz[], $7::timestamptz[], $8::timestamptz[],
                    $9::timestamptz[]) AS x(t, l, s, c, o, m, q, r, u)
        ON CONFLICT (tenant_id, lead_id) DO UPDATE SET
            score = EXCLUDED.score, engagement_score = EXCLUDED.engagement_score,
            created_at = EXCLUDED.created_at, opportunity_at = EXCLUDED.opportunity_at,
            mql_at = EXCLUDED.mql_at, sql_at = EXCLUDED.sql_at,
            sla_response_at = EXCLUDED.sla_response_at, customer_at = EXCLUDED.customer_at
        """,
        *(list(column) for column in zip(*rows, strict=True)),
    )


async def test_hour_counts_equal_a_recount_through_every_kind_of_write(
    conn: asyncpg.Connection,
) -> None:
    rng = random.Random(11)
    leads: dict[tuple[str, str], tuple[object, ...]] = {}

    def lead(tenant: str, lead_id: str, score: int, moved: bool) -> tuple[object, ...]:
        old = leads.get((tenant, lead_id))
        if old is None or moved:
            created = _at(rng)
            row: tuple[object, ...] = (tenant, lead_id, score, created)
            row += _milestones(rng, created)
        else:
            row = (tenant, lead_id, score, *old[3:])
        leads[(tenant, lead_id)] = row
        return row

    ids = [(t, f"lead-{n}") for t in TENANTS for n in range(40)]
    await _upsert(conn, [lead(t, i, 1, True) for t, i in ids])
    await _assert_counts_match(conn, "inserted")

    # Only the score changes: nothing is counted, in or out.
    await _upsert(conn, [lead(t, i, 2, False) for t, i in ids])
    await _assert_counts_match(conn, "updated, no milestone moved")

    # Milestones of a third move, the rest get a new score, and new leads come in.
    mixed = [lead(t, i, 3, rng.random() < 0.33) for t, i in ids]
    mixed += [lead(t, f"new-{n}", 3, True) for t in TENANTS for n in range(10)]
    await _upsert(conn, mixed)
    await _assert_counts_match(conn, "upserted, some milestones moved")

    # Two rows that swap their milestones: equal as sets of versions, so nothing moves.
    a, b = leads[ids[0]], leads[ids[1]]
    await _upsert(conn, [(*a[:3], *b[3:]), (*b[:3], *a[3:])])
    await _assert_counts_match(conn, "two leads swapped their milestones")

    await conn.execute(
        "DELETE FROM leads WHERE tenant_id = ANY($1) AND lead_id LIKE 'lead-1%'", TENANTS
    )
    await _assert_counts_match(conn, "deleted")
