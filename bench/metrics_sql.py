"""SPEC 6 metrics as one SQL statement over the read model: what `bench.run` times when the
gateway serves no GraphQL `metrics` yet, so the figure still says what the store can do."""

from __future__ import annotations

# $1 tenant, $2 from, $3 to, $4 now, $5 SLA response hours. Each part is a range scan on
# the index of its own time column.
METRICS_SQL = """
WITH created AS (
    SELECT count(*) AS leads_created, count(opportunity_at) AS leads_with_opportunity
    FROM leads WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3
), mql AS (
    SELECT count(*) AS mqls, count(sql_at) AS mqls_with_sql,
           count(*) FILTER (WHERE sla_response_at <= mql_at + make_interval(hours => $5))
               AS sla_within,
           count(*) FILTER (
               WHERE sla_response_at > mql_at + make_interval(hours => $5)
                  OR (sla_response_at IS NULL AND mql_at + make_interval(hours => $5) < $4)
           ) AS sla_breached
    FROM leads WHERE tenant_id = $1 AND mql_at >= $2 AND mql_at < $3
), sqls AS (
    SELECT count(*) AS sqls FROM leads WHERE tenant_id = $1 AND sql_at >= $2 AND sql_at < $3
), customers AS (
    SELECT count(*) AS new_customers
    FROM leads WHERE tenant_id = $1 AND customer_at >= $2 AND customer_at < $3
), opened AS (
    SELECT count(*) AS opportunities_created, coalesce(sum(amount), 0) AS pipeline_amount,
           count(*) FILTER (WHERE status = 'WON') AS opened_won
    FROM opportunities WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3
), closed AS (
    SELECT count(*) FILTER (WHERE status = 'WON') AS deals_won,
           count(*) FILTER (WHERE status = 'LOST') AS deals_lost,
           coalesce(sum(coalesce(won_amount, amount)) FILTER (WHERE status = 'WON'), 0)
               AS revenue,
           coalesce(sum(coalesce(won_amount, amount))
               FILTER (WHERE status = 'WON' AND fit_grade_at_win = 'A'), 0)
               AS revenue_from_target_accounts,
           avg(extract(epoch FROM closed_at - created_at) / 86400)
               FILTER (WHERE status = 'WON') AS sales_cycle_days_mean,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - created_at))
               FILTER (WHERE status = 'WON') / 86400 AS sales_cycle_days_median
    FROM opportunities WHERE tenant_id = $1 AND closed_at >= $2 AND closed_at < $3
), spent AS (
    SELECT coalesce(sum(amount), 0) AS spend
    FROM spend WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3
)
SELECT * FROM created, mql, sqls, customers, opened, closed, spent
"""
