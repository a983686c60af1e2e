"""The SPEC 6 metrics of a period, aggregated in PostgreSQL in one statement: what the
`metrics` query answers and what the Monday.com board shows.

Leads and opportunities are summed from their per-hour counts (lead_metric_hours and
opportunity_metric_hours, kept by triggers) over the period's whole UTC hours, and read
one by one in its partial hours at the edges."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from shared.domain.metrics import Metrics, PeriodAggregates, metrics_from, split_hours

# $1 tenant, $2 from, $3 to, $4 now; $5 and $6 the whole UTC hours [first, end) inside the
# period, counted from lead_metric_hours; $7 and $8 where the leading partial hour ends and
# the trailing one starts: the leads of [from, $7) and [$8, to) are counted one by one.
#
# An unanswered MQL is a breach once its deadline (mql_at + limit) has passed at `now`: every
# one of an hour before the straddle hour S = the hour of (now - limit), none of an hour
# after it, and of S itself the ones counted individually.
#
# "Has an opportunity now" reads leads.opportunity_at: a lead enters OPPORTUNITY with its
# first opportunity, however that opportunity first shows up (SPEC 3), so the milestone is
# set exactly when an opportunity exists.
METRICS_SQL = """
WITH sla AS (
    SELECT lim, straddle, straddle + interval '1 hour' AS straddle_end
    FROM (SELECT lim, date_trunc('hour', $4::timestamptz - lim, 'UTC') AS straddle
          FROM (SELECT tandem_sla_response_limit($1) AS lim) l) s
),
hours AS (
    SELECT coalesce(sum(h.leads_created), 0) AS leads_created,
           coalesce(sum(h.created_with_opportunity), 0) AS with_opportunity,
           coalesce(sum(h.mqls), 0) AS mqls,
           coalesce(sum(h.mqls_with_sql), 0) AS mqls_with_sql,
           coalesce(sum(h.sla_within), 0) AS sla_within,
           coalesce(sum(h.sla_late), 0) AS sla_late,
           coalesce(sum(h.sla_unanswered) FILTER (WHERE h.hour < sla.straddle), 0) AS overdue,
           coalesce(sum(h.sqls), 0) AS sqls,
           coalesce(sum(h.new_customers), 0) AS new_customers
    FROM lead_metric_hours h, sla
    WHERE h.tenant_id = $1 AND h.hour >= $5 AND h.hour < $6
),
straddling AS (
    -- Scalar subqueries, so the straddle hour's bounds reach the index scan as keys.
    SELECT count(*) AS overdue
    FROM leads
    WHERE tenant_id = $1
      AND (SELECT straddle >= $5 AND straddle < $6 FROM sla)
      AND mql_at >= (SELECT straddle FROM sla)
      AND mql_at < (SELECT straddle_end FROM sla)
      AND sla_response_at IS NULL
      AND mql_at + (SELECT lim FROM sla) < $4
),
edge_created AS (
    SELECT count(*) AS n, count(opportunity_at) AS with_opportunity
    FROM leads
    WHERE tenant_id = $1
      AND ((created_at >= $2 AND created_at < $7) OR (created_at >= $8 AND created_at < $3))
),
edge_mql AS (
    SELECT count(*) AS n,
           count(sql_at) AS with_sql,
           count(*) FILTER (WHERE sla_response_at <= mql_at + sla.lim) AS within,
           count(*) FILTER (
               WHERE sla_response_at > mql_at + sla.lim
                  OR (sla_response_at IS NULL AND mql_at + sla.lim < $4)
           ) AS breached
    FROM leads, sla
    WHERE tenant_id = $1
      AND ((mql_at >= $2 AND mql_at < $7) OR (mql_at >= $8 AND mql_at < $3))
),
edge_sql AS (
    SELECT count(*) AS n FROM leads
    WHERE tenant_id = $1 AND ((sql_at >= $2 AND sql_at < $7) OR (sql_at >= $8 AND sql_at < $3))
),
edge_customers AS (
    SELECT count(*) AS n FROM leads
    WHERE tenant_id = $1
      AND ((customer_at >= $2 AND customer_at < $7) OR (customer_at >= $8 AND customer_at < $3))
),
opportunity_hours AS (
    SELECT coalesce(sum(opportunities_created), 0) AS created,
           coalesce(sum(pipeline_amount), 0) AS pipeline,
           coalesce(sum(opportunities_created_won), 0) AS created_won,
           coalesce(sum(deals_won), 0) AS won,
           coalesce(sum(deals_lost), 0) AS lost,
           coalesce(sum(revenue), 0) AS revenue,
           coalesce(sum(revenue_from_target_accounts), 0) AS target_revenue
    FROM opportunity_metric_hours
    WHERE tenant_id = $1 AND hour >= $5 AND hour < $6
),
edge_opened AS (
    SELECT count(*) AS created, coalesce(sum(amount), 0) AS pipeline,
           count(*) FILTER (WHERE status = 'WON') AS created_won
    FROM opportunities
    WHERE tenant_id = $1
      AND ((created_at >= $2 AND created_at < $7) OR (created_at >= $8 AND created_at < $3))
),
edge_closed AS (
    SELECT count(*) FILTER (WHERE status = 'WON') AS won,
           count(*) FILTER (WHERE status = 'LOST') AS lost,
           coalesce(sum(won_amount) FILTER (WHERE status = 'WON'), 0) AS revenue,
           coalesce(sum(won_amount) FILTER (WHERE status = 'WON' AND fit_grade_at_win = 'A'),
                    0) AS target_revenue
    FROM opportunities
    WHERE tenant_id = $1 AND closed_at IS NOT NULL
      AND ((closed_at >= $2 AND closed_at < $7) OR (closed_at >= $8 AND closed_at < $3))
),
-- A median is not a sum: the deals won in the period are read one by one.
cycles AS (
    SELECT avg(extract(epoch FROM closed_at - created_at)::float8 / 86400) AS cycle_days_mean,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM closed_at - created_at)::float8 / 86400
           ) AS cycle_days_median
    FROM opportunities
    WHERE tenant_id = $1 AND status = 'WON' AND closed_at IS NOT NULL
      AND closed_at >= $2 AND closed_at < $3
),
spent AS (
    SELECT coalesce(sum(amount), 0)::float8 AS spend
    FROM spend WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3
)
-- Each part is one row, read by scalar subqueries: as eleven items of one FROM list they
-- made the planner weigh every order of joining them, 10 ms of planning per query.
SELECT (SELECT leads_created FROM hours) + (SELECT n FROM edge_created) AS leads_created,
       (SELECT with_opportunity FROM hours) + (SELECT with_opportunity FROM edge_created)
           AS leads_created_with_opportunity,
       (SELECT mqls FROM hours) + (SELECT n FROM edge_mql) AS mqls,
       (SELECT mqls_with_sql FROM hours) + (SELECT with_sql FROM edge_mql) AS mqls_with_sql,
       (SELECT sla_within FROM hours) + (SELECT within FROM edge_mql) AS sla_within,
       (SELECT sla_late + overdue FROM hours) + (SELECT overdue FROM straddling)
           + (SELECT breached FROM edge_mql) AS sla_breached,
       (SELECT sqls FROM hours) + (SELECT n FROM edge_sql) AS sqls,
       (SELECT new_customers FROM hours) + (SELECT n FROM edge_customers) AS new_customers,
       (SELECT created FROM opportunity_hours) + (SELECT created FROM edge_opened)
           AS opportunities_created,
       ((SELECT pipeline FROM opportunity_hours) + (SELECT pipeline FROM edge_opened))::float8
           AS pipeline_amount,
       (SELECT created_won FROM opportunity_hours) + (SELECT created_won FROM edge_opened)
           AS opportunities_created_won,
       (SELECT won FROM opportunity_hours) + (SELECT won FROM edge_closed) AS deals_won,
       (SELECT lost FROM opportunity_hours) + (SELECT lost FROM edge_closed) AS deals_lost,
       ((SELECT revenue FROM opportunity_hours) + (SELECT revenue FROM edge_closed))::float8
           AS revenue,
       ((SELECT target_revenue FROM opportunity_hours)
           + (SELECT target_revenue FROM edge_closed))::float8 AS revenue_from_target_accounts,
       (SELECT cycle_days_mean FROM cycles) AS cycle_days_mean,
       (SELECT cycle_days_median FROM cycles) AS cycle_days_median,
       (SELECT spend FROM spent) AS spend
"""


async def period_metrics(
    conn: asyncpg.Connection, tenant_id: str, start: datetime, end: datetime, now: datetime
) -> Metrics:
    """The metrics over [start, end) as of `now`, read in the caller's tenant transaction."""
    hours = split_hours(start, end)
    row = await conn.fetchrow(
        METRICS_SQL,
        tenant_id,
        start,
        end,
        now,
        hours.first_hour,
        hours.end_hour,
        hours.head_end,
        hours.tail_start,
    )
    assert row is not None, "an aggregate answers one row"
    return metrics_from(PeriodAggregates(**dict(row)))
