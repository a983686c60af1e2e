"""The per-hour counts that `metrics` reads (lead_metric_hours and
opportunity_metric_hours, kept by statement triggers) always equal a count of the leads
and opportunities themselves: after inserts, updates that move milestones, updates that
move none, an upsert that does both, and deletes, for several tenants in one statement,
with an SLA limit of each tenant's own. And the `metrics` statement, which sums the counts
of a period's whole hours and reads its partial hours row by row, answers what the rows
answer for any period.

Runs as the application role, in one transaction that is rolled back."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from shared.domain.metrics import PeriodAggregates, metrics_from
from shared.metrics_store import period_metrics
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


def _sums(rows: list[asyncpg.Record]) -> dict[tuple[str, object], tuple[object, ...]]:
    sums = {(r["tenant_id"], r["hour"]): tuple(list(r.values())[2:]) for r in rows}
    return {key: value for key, value in sums.items() if any(value)}


async def _assert_same(conn: asyncpg.Connection, recount: str, counted: str, step: str) -> None:
    """The hours with anything counted, and their counts, are the same both ways."""
    want = _sums(await conn.fetch(recount, TENANTS))
    got = _sums(await conn.fetch(counted, TENANTS))
    assert want, "the recount counts nothing"
    assert got == want, step


async def _assert_counts_match(conn: asyncpg.Connection, step: str) -> None:
    await _assert_same(conn, RECOUNT, COUNTED, step)


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


# PeriodAggregates read straight off the rows: $1 tenant, $2 from, $3 to, $4 now.
REFERENCE = """
WITH l AS (SELECT tandem_sla_response_limit($1) AS lim),
deals AS (SELECT * FROM opportunities WHERE tenant_id = $1),
won AS (
    SELECT extract(epoch FROM closed_at - created_at)::float8 / 86400 AS days FROM deals
    WHERE status = 'WON' AND closed_at >= $2 AND closed_at < $3
)
SELECT
    (SELECT count(*) FROM leads WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3)
        AS leads_created,
    (SELECT count(opportunity_at) FROM leads
     WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3)
        AS leads_created_with_opportunity,
    (SELECT count(*) FROM leads WHERE tenant_id = $1 AND mql_at >= $2 AND mql_at < $3) AS mqls,
    (SELECT count(sql_at) FROM leads WHERE tenant_id = $1 AND mql_at >= $2 AND mql_at < $3)
        AS mqls_with_sql,
    (SELECT count(*) FROM leads, l WHERE tenant_id = $1 AND mql_at >= $2 AND mql_at < $3
     AND sla_response_at <= mql_at + lim) AS sla_within,
    (SELECT count(*) FROM leads, l WHERE tenant_id = $1 AND mql_at >= $2 AND mql_at < $3
     AND (sla_response_at > mql_at + lim OR (sla_response_at IS NULL AND mql_at + lim < $4)))
        AS sla_breached,
    (SELECT count(*) FROM leads WHERE tenant_id = $1 AND sql_at >= $2 AND sql_at < $3) AS sqls,
    (SELECT count(*) FROM leads WHERE tenant_id = $1 AND customer_at >= $2 AND customer_at < $3)
        AS new_customers,
    (SELECT count(*) FROM deals WHERE created_at >= $2 AND created_at < $3)
        AS opportunities_created,
    (SELECT coalesce(sum(amount), 0)::float8 FROM deals WHERE created_at >= $2 AND created_at < $3)
        AS pipeline_amount,
    (SELECT count(*) FROM deals WHERE status = 'WON' AND created_at >= $2 AND created_at < $3)
        AS opportunities_created_won,
    (SELECT count(*) FROM deals WHERE status = 'WON' AND closed_at >= $2 AND closed_at < $3)
        AS deals_won,
    (SELECT count(*) FROM deals WHERE status = 'LOST' AND closed_at >= $2 AND closed_at < $3)
        AS deals_lost,
    (SELECT coalesce(sum(won_amount), 0)::float8 FROM deals
     WHERE status = 'WON' AND closed_at >= $2 AND closed_at < $3) AS revenue,
    (SELECT coalesce(sum(won_amount), 0)::float8 FROM deals
     WHERE status = 'WON' AND fit_grade_at_win = 'A' AND closed_at >= $2 AND closed_at < $3)
        AS revenue_from_target_accounts,
    (SELECT avg(days) FROM won) AS cycle_days_mean,
    (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY days) FROM won) AS cycle_days_median,
    (SELECT coalesce(sum(amount), 0)::float8 FROM spend
     WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3) AS spend
"""

OPPORTUNITY_RECOUNT = """
SELECT tenant_id, hour, sum(a) AS created, sum(b) AS pipeline, sum(c) AS created_won,
       sum(d) AS won, sum(e) AS lost, sum(f) AS revenue, sum(g) AS target_revenue
FROM (
    SELECT tenant_id, date_trunc('hour', created_at, 'UTC') AS hour, 1 AS a, amount AS b,
           (status = 'WON')::int AS c, 0 AS d, 0 AS e, 0::numeric AS f, 0::numeric AS g
    FROM opportunities WHERE tenant_id = ANY($1)
    UNION ALL
    SELECT tenant_id, date_trunc('hour', closed_at, 'UTC'), 0, 0, 0, (status = 'WON')::int,
           (status = 'LOST')::int,
           CASE WHEN status = 'WON' THEN coalesce(won_amount, 0) ELSE 0 END,
           CASE WHEN status = 'WON' AND fit_grade_at_win = 'A' THEN coalesce(won_amount, 0)
                ELSE 0 END
    FROM opportunities WHERE tenant_id = ANY($1) AND closed_at IS NOT NULL
) facts
GROUP BY tenant_id, hour
"""

OPPORTUNITIES_COUNTED = """
SELECT tenant_id, hour, sum(opportunities_created) AS created, sum(pipeline_amount) AS pipeline,
       sum(opportunities_created_won) AS created_won, sum(deals_won) AS won,
       sum(deals_lost) AS lost, sum(revenue) AS revenue,
       sum(revenue_from_target_accounts) AS target_revenue
FROM opportunity_metric_hours WHERE tenant_id = ANY($1)
GROUP BY tenant_id, hour
"""


async def _assert_deals_match(conn: asyncpg.Connection, step: str) -> None:
    await _assert_same(conn, OPPORTUNITY_RECOUNT, OPPORTUNITIES_COUNTED, step)


def _deal(rng: random.Random, tenant: str, n: int) -> tuple[object, ...]:
    created = _at(rng)
    status = rng.choice(["OPEN", "WON", "WON", "LOST"])
    closed = None if status == "OPEN" else created + timedelta(hours=rng.uniform(0, 200))
    won = Decimal(rng.randint(1, 10_000)) / 4 if status == "WON" else None
    return (tenant, f"opp-{n}", f"lead-{n}", Decimal(rng.randint(1, 10_000)) / 4, status,
            created, closed, won, rng.choice(["A", "B", None]))  # fmt: skip


async def _upsert_deals(conn: asyncpg.Connection, rows: list[tuple[object, ...]]) -> None:
    await conn.execute(
        """
        INSERT INTO opportunities (tenant_id, opportunity_id, lead_id, amount, status,
                                   created_at, closed_at, won_amount, fit_grade_at_win)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::text[],
                             $6::timestamptz[], $7::timestamptz[], $8::numeric[], $9::text[])
        ON CONFLICT (tenant_id, opportunity_id) DO UPDATE SET
            amount = EXCLUDED.amount, status = EXCLUDED.status,
            created_at = EXCLUDED.created_at, closed_at = EXCLUDED.closed_at,
            won_amount = EXCLUDED.won_amount, fit_grade_at_win = EXCLUDED.fit_grade_at_win,
            last_activity_at = now()
        """,
        *(list(column) for column in zip(*rows, strict=True)),
    )


async def test_deal_hour_counts_equal_a_recount_and_metrics_any_period(
    conn: asyncpg.Connection,
) -> None:
    rng = random.Random(13)
    # Dense enough that the partial hours at a period's edges hold deals and leads.
    deals = {(t, n): _deal(rng, t, n) for t in TENANTS for n in range(400)}
    await _upsert_deals(conn, list(deals.values()))
    await _assert_deals_match(conn, "inserted")

    # Only the activity date changes: nothing is counted, in or out.
    await conn.execute(
        "UPDATE opportunities SET last_activity_at = now() WHERE tenant_id = ANY($1)", TENANTS
    )
    await _assert_deals_match(conn, "updated, nothing counted moved")

    # A third close, reopen or move; the others are written again unchanged.
    for key in deals:
        if rng.random() < 0.33:
            deals[key] = _deal(rng, key[0], key[1])
    await _upsert_deals(conn, list(deals.values()))
    await _assert_deals_match(conn, "upserted, some deals moved")

    await conn.execute(
        "DELETE FROM opportunities WHERE tenant_id = ANY($1) AND opportunity_id LIKE 'opp-1%'",
        TENANTS,
    )
    await _assert_deals_match(conn, "deleted")

    # Leads too, so that every part of the statement has rows to count.
    leads = []
    for t in TENANTS:
        for n in range(400):
            created = _at(rng)
            leads.append((t, f"lead-{n}", 1, created, *_milestones(rng, created)))
    tenant = TENANTS[0]  # its SLA limit is 2 h
    now = START + timedelta(days=12, minutes=37)
    # Unanswered MQLs in the hour that holds now - 2 h, the hour counted lead by lead (one
    # past its deadline, one not yet), and one in the hour before it, all overdue.
    for n, minutes in enumerate((-10, 10, 70)):
        mql = now - timedelta(hours=2, minutes=minutes)
        leads.append((tenant, f"straddle-{n}", 1, mql, None, mql, None, None, None))
    await _upsert(conn, leads)

    periods = [(START, START + timedelta(days=25))]
    for _ in range(40):
        start = START + timedelta(minutes=rng.randint(0, 25 * 24 * 60), seconds=rng.randint(0, 59))
        end = start + timedelta(minutes=rng.choice([30, 61, 26 * 60, rng.randint(1, 30 * 24 * 60)]))
        periods.append((start, end))
    won = 0
    for start, end in periods:
        got = await period_metrics(conn, tenant, start, end, now)
        row = await conn.fetchrow(REFERENCE, tenant, start, end, now)
        assert row is not None
        want = metrics_from(PeriodAggregates(**dict(row)))
        for name, value in vars(want).items():
            # Means are summed in the order rows are read: equal to the last bits only.
            same = getattr(got, name) == (
                pytest.approx(value, rel=1e-12) if isinstance(value, float) else value
            )
            assert same, (name, start, end, getattr(got, name), value)
        won += got.deals_won
    assert won, "no period holds a deal won"
