"""`pipeline`: how many leads stand in each stage now."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import strawberry

from services.gateway.graphql.core.answer_cache import cached_answer, share_answers
from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.enums import Stage
from services.gateway.graphql.core.permissions import read_field


@strawberry.type
class PipelineStage:
    stage: Stage
    count: int


@strawberry.type(description="Every stage, in journey order (side stages last), with its leads")
class Pipeline:
    stages: list[PipelineStage]
    total: int


# The dashboard's overview reads it with every lead change, from every viewer.
share_answers("pipeline")


@strawberry.type
class PipelineQueries:
    @read_field()
    async def pipeline(self, info: Info) -> Pipeline:
        async def compute() -> Pipeline:
            rows = await info.context.scope.fetch(
                "SELECT stage, count(*) AS n FROM leads WHERE tenant_id = $1 GROUP BY stage"
            )
            counts = {row["stage"]: int(row["n"]) for row in rows}
            stages = [PipelineStage(stage=s, count=counts.get(s.value, 0)) for s in Stage]
            return Pipeline(stages=stages, total=sum(counts.values()))

        # The dashboard's overview: one computation per tenant change, not per viewer.
        return await cached_answer(info, ("pipeline",), compute)
