"""The cohort funnel: of the leads that reached a stage in the period, how many have reached
the next one since (or any stage after it: a lead may skip SQL on its way to a deal). Unlike
dividing one period count by another, a rate here can never pass 100 %."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from datetime import datetime

import strawberry

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.enums import Stage
from services.gateway.graphql.core.periods import From, period_query

# Success-path milestones in order: (stage, the column of the time it was reached).
_MILESTONES = (
    (Stage.AWARE, "created_at"),
    (Stage.MQL, "mql_at"),
    (Stage.SQL, "sql_at"),
    (Stage.OPPORTUNITY, "opportunity_at"),
    (Stage.CUSTOMER, "customer_at"),
)


def _sql() -> str:
    """One pass over the leads that reached any milestone in the period: for each step, how
    many reached its stage in the period and, of those, how many reached a later one."""
    parts = []
    for i, (_, column) in enumerate(_MILESTONES[:-1]):
        later = " OR ".join(f"{c} IS NOT NULL" for _, c in _MILESTONES[i + 1 :])
        entered = f"{column} >= $2 AND {column} < $3"
        parts.append(f"count(*) FILTER (WHERE {entered}) AS entered_{i}")
        parts.append(f"count(*) FILTER (WHERE {entered} AND ({later})) AS converted_{i}")
    reached = " OR ".join(f"({c} >= $2 AND {c} < $3)" for _, c in _MILESTONES)
    return f"SELECT {', '.join(parts)} FROM leads WHERE tenant_id = $1 AND ({reached})"


_FUNNEL_SQL = _sql()


@strawberry.type(description="One step of the cohort funnel")
class FunnelStep:
    from_stage: Stage = strawberry.field(description="AWARE stands for the lead's creation")
    to_stage: Stage
    entered: int = strawberry.field(description="leads that reached fromStage in the period")
    converted: int = strawberry.field(
        description="of those, the leads that have reached toStage or a later stage since"
    )

    @strawberry.field(description="converted / entered; null when no lead entered")
    def rate(self) -> float | None:
        return self.converted / self.entered if self.entered else None


@strawberry.type
class FunnelQueries:
    @period_query(
        "The cohort funnel of [from, to): for each stage, of the leads that reached it in"
        " the period, how many reached the next stage (or a later one) by now"
    )
    async def cohort_funnel(self, info: Info, from_: From, to: datetime) -> list[FunnelStep]:
        row = await info.context.scope.fetchrow(_FUNNEL_SQL, from_, to)
        assert row is not None, "an aggregate answers one row"
        return [
            FunnelStep(
                from_stage=stage,
                to_stage=_MILESTONES[i + 1][0],
                entered=row[f"entered_{i}"],
                converted=row[f"converted_{i}"],
            )
            for i, (stage, _) in enumerate(_MILESTONES[:-1])
        ]
