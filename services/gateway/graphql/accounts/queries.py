"""`account(id)` and the `accounts` connection (SPEC 17): filterable by fit grade and stage,
in the order of engagement or of the account id (Relay cursors, keyset pagination)."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import asyncpg
import strawberry

from services.gateway.graphql.core.account import ACCOUNT_COLUMNS, Account, load_account
from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.enums import Stage
from services.gateway.graphql.core.lead import FitGrade
from services.gateway.graphql.core.permissions import CanRead
from services.gateway.graphql.core.relay import (
    DEFAULT_PAGE,
    MAX_PAGE,
    PageInfo,
    decode_cursor_parts,
    encode_cursor,
    foreign_cursor,
    forward_page,
    page_size,
)


@strawberry.enum(description="The order of the accounts connection; ties by account id")
class AccountOrder(Enum):
    ENGAGEMENT_DESC = "ENGAGEMENT_DESC"
    ENGAGEMENT_ASC = "ENGAGEMENT_ASC"
    ACCOUNT_ID = "ACCOUNT_ID"


# The keyset condition after a cursor (engagement $e, account id $i) and the ORDER BY, per
# order: fixed texts, so no argument reaches the SQL but as a parameter.
_KEYSET = {
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


@dataclass(frozen=True)
class AccountFilter:
    stage: Stage | None
    fit_grade: FitGrade | None

    def where(self, tenant_id: str) -> tuple[list[str], list[object]]:
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
class AccountEdge:
    cursor: str
    node: Account


@strawberry.type(description="Accounts in the order asked for")
class AccountConnection:
    edges: list[AccountEdge]
    page_info: PageInfo
    filters: strawberry.Private[AccountFilter]

    @strawberry.field(description="how many accounts match the filters, over every page")
    async def total_count(self, info: Info) -> int:
        conditions, args = self.filters.where(info.context.tenant_id)
        async with info.context.tx() as conn:
            count = await conn.fetchval(
                f"SELECT count(*) FROM accounts WHERE {' AND '.join(conditions)}", *args
            )
        return int(count)


def _cursor_kind(order: AccountOrder) -> str:
    return f"account-{order.value.lower()}"


@strawberry.type
class AccountQueries:
    @strawberry.field(
        permission_classes=[CanRead],
        description="The account with this id, or null when the tenant has none",
    )
    async def account(self, info: Info, id: strawberry.ID) -> Account | None:
        return await load_account(info, str(id))

    @strawberry.field(
        permission_classes=[CanRead],
        description=f"Accounts page by page; `first` defaults to {DEFAULT_PAGE}, at most "
        f"{MAX_PAGE}",
    )
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
        filters = AccountFilter(stage, fit_grade)
        conditions, args = filters.where(info.context.tenant_id)
        kind = _cursor_kind(order_by)
        keyset, order = _KEYSET[order_by]
        if after is not None:
            engagement, account_id = decode_cursor_parts(kind, after, 2)
            if "{e}" in keyset:
                try:
                    args.append(int(engagement))
                except ValueError:
                    raise foreign_cursor(after) from None
            engagement_param = f"${len(args)}"
            args.append(account_id)
            conditions.append(keyset.format(e=engagement_param, i=f"${len(args)}"))
        args.append(limit + 1)
        sql = (
            f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {' AND '.join(conditions)}"
            f" ORDER BY {order} LIMIT ${len(args)}"
        )
        async with info.context.tx() as conn:
            rows = await conn.fetch(sql, *args)

        def edge(row: asyncpg.Record) -> AccountEdge:
            cursor = encode_cursor(kind, str(row["engagement_score"]), row["account_id"])
            return AccountEdge(cursor=cursor, node=Account.from_row(row))

        edges, page_info = forward_page(rows, limit, after, edge)
        return AccountConnection(edges=edges, page_info=page_info, filters=filters)
