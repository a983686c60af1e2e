"""`lead(id)` and the `leads` connection (Relay cursor pagination, keyset on the lead id)."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import strawberry

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.enums import Stage
from services.gateway.graphql.core.filters import StageFitFilter, count_field
from services.gateway.graphql.core.lead import LEAD_COLUMNS, FitGrade, Lead, load_lead
from services.gateway.graphql.core.permissions import read_field
from services.gateway.graphql.core.relay import (
    DEFAULT_PAGE,
    MAX_PAGE,
    Connection,
    Edge,
    Keyset,
    node_query,
    page_size,
)
from services.gateway.graphql.leads.touches import LeadTouchConnection, lead_touches

_KEYSET = Keyset("lead", {"lead_id": str})


@strawberry.type(description="Leads in the order of their ids")
class LeadConnection(Connection[Edge[Lead]]):
    filters: strawberry.Private[StageFitFilter]
    total_count = count_field("how many leads match the filters, over every page")


@strawberry.type
class LeadQueries:
    lead = node_query(Lead, load_lead, "The lead with this id, or null when the tenant has none")

    @read_field(f"Leads page by page; `first` defaults to {DEFAULT_PAGE}, at most {MAX_PAGE}")
    async def leads(
        self,
        info: Info,
        stage: Stage | None = None,
        fit_grade: FitGrade | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> LeadConnection:
        limit = page_size(first)
        filters = StageFitFilter("leads", stage, fit_grade)
        position = _KEYSET.position(after)
        keyset = None if position is None else ("lead_id > {i}", {"i": position[0]})
        rows = await filters.page(info.context, LEAD_COLUMNS, "lead_id", keyset, limit)
        edges, page_info = _KEYSET.page(rows, limit, after, Lead.from_row)
        return LeadConnection(edges=edges, page_info=page_info, filters=filters)

    @read_field(
        "The lead's marketing touches (type, channel, campaign, time), oldest first;"
        " `first` as for `leads`. Empty when the tenant has no such lead"
    )
    async def lead_touches(
        self,
        info: Info,
        lead_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> LeadTouchConnection:
        return await lead_touches(info, str(lead_id), first, after)
