"""`metrics(from, to)` and `sourceQuality(from, to)`: aggregated in PostgreSQL, one
statement each. `metrics` is shared/metrics_store.py's statement: leads and deals summed
from their per-hour counts (migrations 0054 and 0055) plus the rows of the partial hours at
the edges, spend from a range scan."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from datetime import datetime

import strawberry

from services.gateway.graphql.core.answer_cache import cached_answer, share_answers
from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.periods import From, period_query
from services.gateway.graphql.metrics.types import Metrics, SourceQuality
from shared.domain.metrics import source_quality_from
from shared.metrics_store import period_metrics

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


# The dashboard's overview reads it with every lead change, from every viewer.
share_answers("metrics")


@strawberry.type
class MetricsQueries:
    @period_query("The metrics of [from, to) in UTC")
    async def metrics(self, info: Info, from_: From, to: datetime) -> Metrics:
        ctx = info.context

        async def compute() -> Metrics:
            # The statement the Monday.com board reads too (shared/metrics_store.py).
            computed = await ctx.scope.run(period_metrics, from_, to, ctx.now())
            return Metrics(**vars(computed))

        # The dashboard's overview: one computation per tenant change, not per viewer.
        return await cached_answer(info, ("metrics", from_, to), compute)

    @period_query("Leads created in [from, to) by the channel of their first touch")
    async def source_quality(self, info: Info, from_: From, to: datetime) -> list[SourceQuality]:
        rows = await info.context.scope.fetch(SOURCE_QUALITY_SQL, from_, to)
        return [SourceQuality(**vars(source_quality_from(**dict(row)))) for row in rows]
