"""`lead(id)` and the `leads` connection: filtered by stage, grade and a search over id,
email, name, company and domain, in the order asked for (Relay cursors, keyset pagination
on the order's column and the lead id)."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.enums import Stage
from services.gateway.graphql.core.errors import bad_input
from services.gateway.graphql.core.permissions import read_field
from services.gateway.graphql.core.relay import FIRST_ARGUMENT, Connection, Edge, Keyset, node_query
from services.gateway.graphql.leads.touches import LeadTouchConnection, lead_touches
from services.gateway.graphql.nodes.filters import PageOrder, StageFitFilter, count_field
from services.gateway.graphql.nodes.lead import LEAD_COLUMNS, FitGrade, Lead, load_lead


@strawberry.enum(description="The order of the leads connection; ties by lead id")
class LeadOrder(Enum):
    ID = "ID"
    NAME_ASC = "NAME_ASC"
    NAME_DESC = "NAME_DESC"
    CREATED_DESC = "CREATED_DESC"
    CREATED_ASC = "CREATED_ASC"
    SCORE_DESC = "SCORE_DESC"
    SCORE_ASC = "SCORE_ASC"
    FIT_DESC = "FIT_DESC"
    FIT_ASC = "FIT_ASC"
    ENGAGEMENT_DESC = "ENGAGEMENT_DESC"
    ENGAGEMENT_ASC = "ENGAGEMENT_ASC"
    PREDICTED_DESC = strawberry.enum_value(
        "PREDICTED_DESC",
        description="highest predicted probability first; leads without one last",
    )


# The sort key of each order (its SQL, as the leads_by_* indexes hold it) and the parser of
# its cursor text. The name sorts leads without one first (ascending), as an empty name.
_SORT_KEYS: dict[str, tuple[str, Any]] = {
    "NAME": ("lower(coalesce(person_name, ''))", str),
    "CREATED": ("created_at", datetime.fromisoformat),
    "SCORE": ("score", int),
    "FIT": ("fit_score", int),
    "ENGAGEMENT": ("engagement_score", int),
}


def _order(order: LeadOrder) -> tuple[PageOrder, str]:
    """The order's keyset, and the columns its page reads (the sort key as `sort_key`)."""
    if order is LeadOrder.ID:
        keyset = Keyset("lead", {"lead_id": str})
        return PageOrder("lead_id", "lead_id > {lead_id}", keyset), LEAD_COLUMNS
    if order is LeadOrder.PREDICTED_DESC:
        # Leads without a prediction rank last (as -1), then by id.
        keyset = Keyset("lead_predicted", {"predicted": float, "lead_id": str})
        page_order = PageOrder(
            f"{_PREDICTED} DESC, lead_id",
            f"({_PREDICTED} < {{predicted}} OR ({_PREDICTED} = {{predicted}}"
            " AND lead_id > {lead_id}))",
            keyset,
        )
        return page_order, f"{LEAD_COLUMNS}, {_PREDICTED} AS predicted"
    key, direction = order.value.rsplit("_", 1)
    sql, parse = _SORT_KEYS[key]
    # Both columns run the same way, so one index scan (forwards or backwards) serves it.
    sign = ">" if direction == "ASC" else "<"
    keyset = Keyset(f"lead-{order.value.lower()}", {"sort_key": parse, "lead_id": str})
    page_order = PageOrder(
        f"{sql} {direction}, lead_id {direction}",
        f"({sql}, lead_id) {sign} ({{sort_key}}, {{lead_id}})",
        keyset,
    )
    return page_order, f"{LEAD_COLUMNS}, {sql} AS sort_key"


_PREDICTED = "coalesce(predicted, -1)"
# The leads with their predicted probability, read only when the order asks for it.
_WITH_PREDICTION = (
    "(SELECT l.*, p.probability AS predicted FROM leads l LEFT JOIN lead_predictions p"
    " ON p.tenant_id = l.tenant_id AND p.lead_id = l.lead_id) AS leads"
)
_ORDERS = {order: _order(order) for order in LeadOrder}
SEARCH_MAX = 200


@dataclass(frozen=True)
class LeadFilter(StageFitFilter):
    """Stage and grade as for accounts, and a case-insensitive substring of the lead's id,
    email, name, company or domain (the trigram-indexed `search_text`, and the name as
    shown, which may be read from the email)."""

    search: str | None = None

    def where(self, tenant_id: str) -> tuple[list[str], list[object]]:
        conditions, args = super().where(tenant_id)
        if self.search:
            escaped = self.search.lower().replace("\\", "\\\\").replace("%", "\\%")
            args.append("%" + escaped.replace("_", "\\_") + "%")
            n = len(args)
            conditions.append(f"(search_text LIKE ${n} OR lower(person_name) LIKE ${n})")
        return conditions, args


@strawberry.type(description="Leads in the order asked for")
class LeadConnection(Connection[Edge[Lead]]):
    filters: strawberry.Private[StageFitFilter]
    total_count = count_field("how many leads match the filters, over every page")


@strawberry.type
class LeadQueries:
    lead = node_query(Lead, load_lead, "The lead with this id, or null when the tenant has none")

    @read_field(
        f"Leads page by page; {FIRST_ARGUMENT}. `search` matches part of the id, email,"
        " name, company or domain, ignoring case"
    )
    async def leads(
        self,
        info: Info,
        stage: Stage | None = None,
        fit_grade: FitGrade | None = None,
        search: str | None = None,
        order_by: LeadOrder = LeadOrder.ID,
        first: int | None = None,
        after: str | None = None,
    ) -> LeadConnection:
        needle = (search or "").strip()
        if len(needle) > SEARCH_MAX:
            raise bad_input(
                f"`search` is at most {SEARCH_MAX} characters, got {len(needle)}",
                [("search", f"at most {SEARCH_MAX} characters")],
            )
        source = _WITH_PREDICTION if order_by is LeadOrder.PREDICTED_DESC else "leads"
        filters = LeadFilter(source, stage, fit_grade, needle or None)
        order, columns = _ORDERS[order_by]
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
