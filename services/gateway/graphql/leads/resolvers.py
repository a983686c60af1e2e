"""`lead(id)` and the `leads` connection (Relay cursor pagination, keyset on the lead id)."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from enum import Enum

import strawberry

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.enums import Stage
from services.gateway.graphql.core.permissions import read_field
from services.gateway.graphql.core.relay import FIRST_ARGUMENT, Connection, Edge, Keyset, node_query
from services.gateway.graphql.leads.touches import LeadTouchConnection, lead_touches
from services.gateway.graphql.nodes.filters import PageOrder, StageFitFilter, count_field
from services.gateway.graphql.nodes.lead import LEAD_COLUMNS, FitGrade, Lead, load_lead

_ORDER = PageOrder("lead_id", "lead_id > {lead_id}", Keyset("lead", {"lead_id": str}))
# Leads without a prediction rank last (as -1), then by id.
_PREDICTED = "coalesce(predicted, -1)"
_PREDICTED_ORDER = PageOrder(
    f"{_PREDICTED} DESC, lead_id",
    f"({_PREDICTED} < {{predicted}} OR ({_PREDICTED} = {{predicted}} AND lead_id > {{lead_id}}))",
    Keyset("lead_predicted", {"predicted": float, "lead_id": str}),
)
_WITH_PREDICTION = (
    "(SELECT l.*, p.probability AS predicted FROM leads l LEFT JOIN lead_predictions p"
    " ON p.tenant_id = l.tenant_id AND p.lead_id = l.lead_id) AS leads"
)


@strawberry.enum(description="The order of a page of leads")
class LeadOrder(Enum):
    ID = "ID"
    PREDICTED_DESC = strawberry.enum_value(
        "PREDICTED_DESC",
        description="highest predicted probability first; leads without one last",
    )


@strawberry.type(description="A page of leads in the order asked for")
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
        order_by: LeadOrder = LeadOrder.ID,
    ) -> LeadConnection:
        if order_by is LeadOrder.PREDICTED_DESC:
            filters = StageFitFilter(_WITH_PREDICTION, stage, fit_grade)
            columns, order = f"{LEAD_COLUMNS}, {_PREDICTED} AS predicted", _PREDICTED_ORDER
        else:
            filters = StageFitFilter("leads", stage, fit_grade)
            columns, order = LEAD_COLUMNS, _ORDER
        edges, page_info = await filters.page(
            info.context, columns, order, (first, after), Lead.from_row
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
