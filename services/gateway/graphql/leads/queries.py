"""`lead(id)` and the `leads` connection (Relay cursor pagination, keyset on the lead id)."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import strawberry

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.enums import Stage
from services.gateway.graphql.core.lead import LEAD_COLUMNS, FitGrade, Lead, load_lead
from services.gateway.graphql.core.permissions import CanRead
from services.gateway.graphql.core.relay import (
    DEFAULT_PAGE,
    MAX_PAGE,
    PageInfo,
    decode_cursor,
    encode_cursor,
    forward_page,
    page_size,
)
from services.gateway.graphql.leads.touches import LeadTouchConnection, lead_touches

_CURSOR = "lead"


@dataclass(frozen=True)
class LeadFilter:
    stage: Stage | None
    fit_grade: FitGrade | None

    def where(self, tenant_id: str) -> tuple[list[str], list[object]]:
        """SQL conditions and their arguments ($1 is the tenant); only the filters given,
        so the planner sees a plain predicate it can match to an index."""
        conditions: list[str] = ["tenant_id = $1"]
        args: list[object] = [tenant_id]
        if self.stage is not None:
            args.append(self.stage.value)
            conditions.append(f"stage = ${len(args)}")
        if self.fit_grade is not None:
            args.append(self.fit_grade.value)
            conditions.append(f"fit_grade = ${len(args)}")
        return conditions, args


@strawberry.type
class LeadEdge:
    cursor: str
    node: Lead


def _edge(row: asyncpg.Record) -> LeadEdge:
    return LeadEdge(cursor=encode_cursor(_CURSOR, row["lead_id"]), node=Lead.from_row(row))


@strawberry.type(description="Leads in the order of their ids")
class LeadConnection:
    edges: list[LeadEdge]
    page_info: PageInfo
    filters: strawberry.Private[LeadFilter]

    @strawberry.field(description="how many leads match the filters, over every page")
    async def total_count(self, info: Info) -> int:
        conditions, args = self.filters.where(info.context.tenant_id)
        async with info.context.tx() as conn:
            count = await conn.fetchval(
                f"SELECT count(*) FROM leads WHERE {' AND '.join(conditions)}", *args
            )
        return int(count)


@strawberry.type
class LeadQueries:
    @strawberry.field(
        permission_classes=[CanRead],
        description="The lead with this id, or null when the tenant has none",
    )
    async def lead(self, info: Info, id: strawberry.ID) -> Lead | None:
        return await load_lead(info, str(id))

    @strawberry.field(
        permission_classes=[CanRead],
        description=f"Leads page by page; `first` defaults to {DEFAULT_PAGE}, at most {MAX_PAGE}",
    )
    async def leads(
        self,
        info: Info,
        stage: Stage | None = None,
        fit_grade: FitGrade | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> LeadConnection:
        limit = page_size(first)
        filters = LeadFilter(stage, fit_grade)
        conditions, args = filters.where(info.context.tenant_id)
        if after is not None:
            args.append(decode_cursor(_CURSOR, after))
            conditions.append(f"lead_id > ${len(args)}")
        args.append(limit + 1)
        sql = (
            f"SELECT {LEAD_COLUMNS} FROM leads WHERE {' AND '.join(conditions)}"
            f" ORDER BY lead_id LIMIT ${len(args)}"
        )
        async with info.context.tx() as conn:
            rows = await conn.fetch(sql, *args)
        edges, page_info = forward_page(rows, limit, after, _edge)
        return LeadConnection(edges=edges, page_info=page_info, filters=filters)

    @strawberry.field(
        permission_classes=[CanRead],
        description="The lead's marketing touches (type, channel, campaign, time), oldest first;"
        " `first` as for `leads`. Empty when the tenant has no such lead",
    )
    async def lead_touches(
        self,
        info: Info,
        lead_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> LeadTouchConnection:
        return await lead_touches(info, str(lead_id), first, after)
