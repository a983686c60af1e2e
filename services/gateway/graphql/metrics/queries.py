"""`metrics(from, to)` and `sourceQuality(from, to)`: aggregated in PostgreSQL, one
statement each, every part a range scan on an index of its own time column."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from services.gateway.graphql.context import Info
from services.gateway.graphql.metrics.formulas import (
    PeriodAggregates,
    metrics_from,
    source_quality_from,
)
from services.gateway.graphql.metrics.types import Metrics, SourceQuality
from services.gateway.graphql.period import check_period
from services.gateway.graphql.permissions import CanRead
from shared.domain.config import DEFAULT_CONFIG

# $1 tenant, $2 from, $3 to, $4 now, $5 default SLA response hours.
# "Has an opportunity now" reads leads.opportunity_at: a lead enters OPPORTUNITY with its
# first opportunity, however that opportunity first shows up (SPEC 3), so the milestone is
# set exactly when an opportunity exists, and the count needs no join.
METRICS_SQL = """
WITH sla AS (
    SELECT make_interval(secs => 3600 * coalesce(
        (SELECT (config #>> '{sla,mql_response_hours}')::float8
         FROM tenant_config_versions WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1),
        $5)) AS limit_
),
created AS (
    SELECT count(*) AS leads_created,
           count(*) FILTER (WHERE opportunity_at IS NOT NULL) AS leads_created_with_opportunity
    FROM leads WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3
),
mql AS (
    SELECT count(*) AS mqls,
           count(*) FILTER (WHERE sql_at IS NOT NULL) AS mqls_with_sql,
           count(*) FILTER (WHERE sla_response_at <= mql_at + sla.limit_) AS sla_within,
           count(*) FILTER (
               WHERE sla_response_at > mql_at + sla.limit_
                  OR (sla_response_at IS NULL AND mql_at + sla.limit_ < $4)
           ) AS sla_breached
    FROM leads, sla WHERE tenant_id = $1 AND mql_at >= $2 AND mql_at < $3
),
sql_ AS (
    SELECT count(*) AS sqls FROM leads WHERE tenant_id = $1 AND sql_at >= $2 AND sql_at < $3
),
customers AS (
    SELECT count(*) AS new_customers
    FROM leads WHERE tenant_id = $1 AND customer_at >= $2 AND customer_at < $3
),
opened AS (
    SELECT count(*) AS opportunities_created,
           coalesce(sum(amount), 0)::float8 AS pipeline_amount,
           count(*) FILTER (WHERE status = 'WON') AS opportunities_created_won
    FROM opportunities WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3
),
closed AS (
    SELECT count(*) FILTER (WHERE status = 'WON') AS deals_won,
           count(*) FILTER (WHERE status = 'LOST') AS deals_lost,
           coalesce(sum(won_amount) FILTER (WHERE status = 'WON'), 0)::float8 AS revenue,
           coalesce(sum(won_amount) FILTER (WHERE status = 'WON' AND fit_grade_at_win = 'A'),
                    0)::float8 AS revenue_from_target_accounts,
           avg(extract(epoch FROM closed_at - created_at)::float8 / 86400)
               FILTER (WHERE status = 'WON') AS cycle_days_mean,
           percentile_cont(0.5) WITHIN GROUP (
               ORDER BY extract(epoch FROM closed_at - created_at)::float8 / 86400
           ) FILTER (WHERE status = 'WON') AS cycle_days_median
    FROM opportunities WHERE tenant_id = $1 AND closed_at >= $2 AND closed_at < $3
),
spent AS (
    SELECT coalesce(sum(amount), 0)::float8 AS spend
    FROM spend WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3
)
SELECT * FROM created, mql, sql_, customers, opened, closed, spent
"""

SOURCE_QUALITY_SQL = """
WITH cohort AS (
    SELECT lead_id, coalesce(first_touch_channel, '(none)') AS channel, fit_score,
           mql_at, opportunity_at, customer_at
    FROM leads WHERE tenant_id = $1 AND created_at >= $2 AND created_at < $3
),
won AS (
    SELECT lead_id, sum(won_amount) AS revenue
    FROM opportunities WHERE tenant_id = $1 AND status = 'WON'
    GROUP BY lead_id
)
SELECT c.channel,
       count(*) AS leads,
       count(c.mql_at) AS mqls,
       count(c.opportunity_at) AS opportunities,
       count(c.customer_at) AS customers,
       coalesce(sum(w.revenue), 0)::float8 AS revenue,
       avg(c.fit_score)::float8 AS avg_fit_score
FROM cohort c LEFT JOIN won w USING (lead_id)
GROUP BY c.channel
ORDER BY leads DESC, c.channel
"""


@strawberry.type
class MetricsQueries:
    @strawberry.field(permission_classes=[CanRead], description="SPEC 6 over [from, to)")
    async def metrics(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> Metrics:
        check_period(from_, to)
        ctx = info.context
        async with ctx.tx() as conn:
            row = await conn.fetchrow(
                METRICS_SQL,
                ctx.tenant_id,
                from_,
                to,
                ctx.now(),
                DEFAULT_CONFIG.sla.mql_response_hours,
            )
        return metrics_from(PeriodAggregates(**dict(row)))

    @strawberry.field(
        permission_classes=[CanRead],
        description="Leads created in [from, to) by the channel of their first touch",
    )
    async def source_quality(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> list[SourceQuality]:
        check_period(from_, to)
        async with info.context.tx() as conn:
            rows = await conn.fetch(SOURCE_QUALITY_SQL, info.context.tenant_id, from_, to)
        return [source_quality_from(**dict(row)) for row in rows]
