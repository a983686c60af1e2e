"""`account(id)` and the `accounts` connection (SPEC 17): filterable by fit grade and stage,
in the order of engagement or of the account id (Relay cursors, keyset pagination)."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from enum import Enum

import strawberry

from services.gateway.graphql.core.account import ACCOUNT_COLUMNS, Account, load_account
from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.enums import Stage
from services.gateway.graphql.core.filters import StageFitFilter, count_field
from services.gateway.graphql.core.lead import FitGrade
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


@strawberry.enum(description="The order of the accounts connection; ties by account id")
class AccountOrder(Enum):
    ENGAGEMENT_DESC = "ENGAGEMENT_DESC"
    ENGAGEMENT_ASC = "ENGAGEMENT_ASC"
    ACCOUNT_ID = "ACCOUNT_ID"


# The keyset condition after a cursor (engagement $e, account id $i) and the ORDER BY, per
# order: fixed texts, so no argument reaches the SQL but as a parameter.
_ORDERS = {
    AccountOrder.ENGAGEMENT_DESC: (
        "(engagement_score < {e} OR (engagement_score = {e} AND account_id > {i}))",
        "engagement_score DESC, account_id",
    ),
    AccountOrder.ENGAGEMENT_ASC: (
        "(engagement_score, account_id) > ({e}, {i})",
        "engagement_score, account_id",
    ),
    AccountOrder.ACCOUNT_ID: ("account_id > {i}", "account_id"),
}


@strawberry.type(description="Accounts in the order asked for")
class AccountConnection(Connection[Edge[Account]]):
    filters: strawberry.Private[StageFitFilter]
    total_count = count_field("how many accounts match the filters, over every page")


# Both orders' cursors hold the engagement; the order by account id alone leaves it unread.
_CURSORS = {
    order: Keyset(f"account-{order.value.lower()}", {"engagement_score": int, "account_id": str})
    for order in AccountOrder
}


@strawberry.type
class AccountQueries:
    account = node_query(
        Account, load_account, "The account with this id, or null when the tenant has none"
    )

    @read_field(f"Accounts page by page; `first` defaults to {DEFAULT_PAGE}, at most {MAX_PAGE}")
    async def accounts(
        self,
        info: Info,
        stage: Stage | None = None,
        fit_grade: FitGrade | None = None,
        order_by: AccountOrder = AccountOrder.ENGAGEMENT_DESC,
        first: int | None = None,
        after: str | None = None,
    ) -> AccountConnection:
        limit = page_size(first)
        filters = StageFitFilter("accounts", stage, fit_grade)
        cursors = _CURSORS[order_by]
        condition, order = _ORDERS[order_by]
        position = cursors.position(after)
        keyset = None
        if position is not None:
            engagement, account_id = position
            values = {"e": engagement, "i": account_id} if "{e}" in condition else {"i": account_id}
            keyset = (condition, values)
        rows = await filters.page(info.context, ACCOUNT_COLUMNS, order, keyset, limit)
        edges, page_info = cursors.page(rows, limit, after, Account.from_row)
        return AccountConnection(edges=edges, page_info=page_info, filters=filters)
