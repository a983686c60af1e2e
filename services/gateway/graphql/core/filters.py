"""The filters of the leads and accounts connections: both tables keep a stage and a fit
grade, so a page of either, and its total count, are read the same way."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import strawberry

from services.gateway.graphql.core.context import Info, RequestContext
from services.gateway.graphql.core.enums import Stage
from services.gateway.graphql.core.lead import FitGrade

# A keyset condition after a cursor: a format string of named parameters ("lead_id > {i}")
# and their values, so no cursor reaches the SQL but as a parameter.
After = tuple[str, Mapping[str, object]]


@dataclass(frozen=True)
class StageFitFilter:
    """The tenant's rows of `table` at `stage` and of `fit_grade`, where given."""

    table: str
    stage: Stage | None
    fit_grade: FitGrade | None

    def where(self, tenant_id: str) -> tuple[list[str], list[object]]:
        """SQL conditions and their arguments ($1 is the tenant); only the filters given,
        so the planner sees a plain predicate it can match to an index."""
        conditions: list[str] = ["tenant_id = $1"]
        args: list[object] = [tenant_id]
        for column, value in (("stage", self.stage), ("fit_grade", self.fit_grade)):
            if value is not None:
                args.append(value.value)
                conditions.append(f"{column} = ${len(args)}")
        return conditions, args

    async def count(self, ctx: RequestContext) -> int:
        conditions, args = self.where(ctx.tenant_id)
        async with ctx.tx() as conn:
            count = await conn.fetchval(
                f"SELECT count(*) FROM {self.table} WHERE {' AND '.join(conditions)}", *args
            )
        return int(count)

    async def page(
        self, ctx: RequestContext, columns: str, order: str, after: After | None, limit: int
    ) -> list[asyncpg.Record]:
        """The `columns` of the first `limit + 1` rows in `order` (an ORDER BY) after the
        position `after`; the extra row only tells that a next page exists."""
        conditions, args = self.where(ctx.tenant_id)
        if after is not None:
            condition, values = after
            params = {}
            for name, value in values.items():
                args.append(value)
                params[name] = f"${len(args)}"
            conditions.append(condition.format(**params))
        args.append(limit + 1)
        async with ctx.tx() as conn:
            rows = await conn.fetch(
                f"SELECT {columns} FROM {self.table} WHERE {' AND '.join(conditions)}"
                f" ORDER BY {order} LIMIT ${len(args)}",
                *args,
            )
        return list(rows)


def count_field(description: str) -> Any:
    """The `totalCount` field of a connection that keeps its `filters`: how many rows match
    them, over every page."""

    async def resolve(self: Any, info: Info) -> int:
        filters: StageFitFilter = self.filters
        return await filters.count(info.context)

    return strawberry.field(resolver=resolve, description=description)
