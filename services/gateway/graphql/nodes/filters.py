"""The filters of the leads and accounts connections: both tables keep a stage and a fit
grade, so a page of either, and its total count, are read the same way."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import strawberry

from services.gateway.graphql.core.context import Info, RequestContext
from services.gateway.graphql.core.enums import Stage
from services.gateway.graphql.core.relay import Edge, Keyset, PageInfo, page_size
from services.gateway.graphql.nodes.lead import FitGrade

N = TypeVar("N")


@dataclass(frozen=True)
class PageOrder:
    """One order of a filtered connection: its ORDER BY, the condition of the rows after a
    cursor, and the cursors' `Keyset`. The condition names the keyset's columns as format
    fields ("lead_id > {lead_id}"), so a cursor's values reach the SQL only as parameters;
    a cursor may hold a column its order leaves unread."""

    order_by: str
    after: str
    cursors: Keyset


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
        self,
        ctx: RequestContext,
        columns: str,
        order: PageOrder,
        page: tuple[int | None, str | None],
        node: Callable[[asyncpg.Record], N],
    ) -> tuple[list[Edge[N]], PageInfo]:
        """The page (`first`, `after`) of the matching rows in `order`: the edges of the
        nodes `node` makes of their `columns`, and the page's info."""
        first, after = page
        limit = page_size(first)
        conditions, args = self.where(ctx.tenant_id)
        position = order.cursors.position(after)
        if position is not None:
            params = {}
            for column, value in zip(order.cursors.columns, position, strict=True):
                if f"{{{column}}}" in order.after:
                    args.append(value)
                    params[column] = f"${len(args)}"
            conditions.append(order.after.format(**params))
        args.append(limit + 1)
        async with ctx.tx() as conn:
            rows = await conn.fetch(
                f"SELECT {columns} FROM {self.table} WHERE {' AND '.join(conditions)}"
                f" ORDER BY {order.order_by} LIMIT ${len(args)}",
                *args,
            )
        return order.cursors.page(rows, limit, after, node)


def count_field(description: str) -> Any:
    """The `totalCount` field of a connection that keeps its `filters`: how many rows match
    them, over every page."""

    async def resolve(self: Any, info: Info) -> int:
        filters: StageFitFilter = self.filters
        return await filters.count(info.context)

    return strawberry.field(resolver=resolve, description=description)
