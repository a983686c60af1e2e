"""`lead(id)` and the `leads` connection (Relay cursor pagination, keyset on the lead id)."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import strawberry

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.enums import Stage
from services.gateway.graphql.core.permissions import read_field
from services.gateway.graphql.core.relay import FIRST_ARGUMENT, Connection, Edge, Keyset, node_query
from services.gateway.graphql.leads.touches import LeadTouchConnection, lead_touches
from services.gateway.graphql.nodes.filters import PageOrder, StageFitFilter, count_field
from services.gateway.graphql.nodes.lead import LEAD_COLUMNS, FitGrade, Lead, load_lead

_ORDER = PageOrder("lead_id", "lead_id > {lead_id}", Keyset("lead", {"lead_id": str}))


@strawberry.type(description="Leads in the order of their ids")
class LeadConnection(Connection[Edge[Lead]]):
    filters: strawberry.Private[StageFitFilter]
    total_count = count_field("how many leads match the filters, over every page")


@strawberry.type
class LeadQueries:
    lead = node_query(Lead, load_lead, "The lead with this id, or null when the tenant has none")

    @read_field(f"Leads page by page; {FIRST_ARGUMENT}")
    async def leads(
        self,
        info: Info,
        stage: Stage | None = None,
        fit_grade: FitGrade | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> LeadConnection:
        filters = StageFitFilter("leads", stage, fit_grade)
        edges, page_info = await filters.page(
            info.context, LEAD_COLUMNS, _ORDER, (first, after), Lead.from_row
        )
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
