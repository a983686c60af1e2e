"""`account(id)` and the `accounts` connection (SPEC 17): filterable by fit grade and stage,
in the order of engagement or of the account id (Relay cursors, keyset pagination)."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from enum import Enum

import strawberry

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.enums import Stage
from services.gateway.graphql.core.permissions import read_field
from services.gateway.graphql.core.relay import FIRST_ARGUMENT, Connection, Edge, Keyset, node_query
from services.gateway.graphql.nodes.account import ACCOUNT_COLUMNS, Account, load_account
from services.gateway.graphql.nodes.filters import PageOrder, StageFitFilter, count_field
from services.gateway.graphql.nodes.lead import FitGrade


@strawberry.enum(description="The order of the accounts connection; ties by account id")
class AccountOrder(Enum):
    ENGAGEMENT_DESC = "ENGAGEMENT_DESC"
    ENGAGEMENT_ASC = "ENGAGEMENT_ASC"
    ACCOUNT_ID = "ACCOUNT_ID"


def _cursors(order: AccountOrder) -> Keyset:
    # Every order's cursors hold the engagement; the order by account id leaves it unread.
    columns = {"engagement_score": int, "account_id": str}
    return Keyset(f"account-{order.value.lower()}", columns)


_ORDERS = {
    AccountOrder.ENGAGEMENT_DESC: PageOrder(
        "engagement_score DESC, account_id",
        "(engagement_score < {engagement_score}"
        " OR (engagement_score = {engagement_score} AND account_id > {account_id}))",
        _cursors(AccountOrder.ENGAGEMENT_DESC),
    ),
    AccountOrder.ENGAGEMENT_ASC: PageOrder(
        "engagement_score, account_id",
        "(engagement_score, account_id) > ({engagement_score}, {account_id})",
        _cursors(AccountOrder.ENGAGEMENT_ASC),
    ),
    AccountOrder.ACCOUNT_ID: PageOrder(
        "account_id", "account_id > {account_id}", _cursors(AccountOrder.ACCOUNT_ID)
    ),
}


@strawberry.type(description="Accounts in the order asked for")
class AccountConnection(Connection[Edge[Account]]):
    filters: strawberry.Private[StageFitFilter]
    total_count = count_field("how many accounts match the filters, over every page")


@strawberry.type
class AccountQueries:
    account = node_query(
        Account, load_account, "The account with this id, or null when the tenant has none"
    )

    @read_field(f"Accounts page by page; {FIRST_ARGUMENT}")
    async def accounts(
        self,
        info: Info,
        stage: Stage | None = None,
        fit_grade: FitGrade | None = None,
        order_by: AccountOrder = AccountOrder.ENGAGEMENT_DESC,
        first: int | None = None,
        after: str | None = None,
    ) -> AccountConnection:
        filters = StageFitFilter("accounts", stage, fit_grade)
        order, page = _ORDERS[order_by], (first, after)
        edges, page_info = await filters.page(
            info.context, ACCOUNT_COLUMNS, order, page, Account.from_row
        )
        return AccountConnection(edges=edges, page_info=page_info, filters=filters)
