"""`lead(id)` and the `leads` connection (Relay cursor pagination, keyset on the lead id)."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

import strawberry

from services.gateway.graphql.context import Info
from services.gateway.graphql.errors import bad_input
from services.gateway.graphql.leads.loaders import LEAD_COLUMNS
from services.gateway.graphql.leads.types import FitGrade, Lead, Stage
from services.gateway.graphql.permissions import CanRead

MAX_PAGE = 500
DEFAULT_PAGE = 100
_CURSOR_PREFIX = "lead:"


def encode_cursor(lead_id: str) -> str:
    return base64.urlsafe_b64encode((_CURSOR_PREFIX + lead_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    if not text.startswith(_CURSOR_PREFIX):
        raise bad_input(
            f"`after` is not a cursor of this connection: {cursor!r}; pass an endCursor or "
            "edge cursor from a previous page",
            [("after", "not a cursor of this connection")],
        )
    return text[len(_CURSOR_PREFIX) :]


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE
    if not 0 <= first <= MAX_PAGE:
        raise bad_input(
            f"`first` must be between 0 and {MAX_PAGE} (the maximum page size), got {first}; "
            "fetch further pages with `after`",
            [("first", f"must be between 0 and {MAX_PAGE}")],
        )
    return first


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
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, cursors: list[str], *, has_next_page: bool, after: str | None) -> PageInfo:
        """The page info of a forward page whose edges carry `cursors`."""
        return cls(
            has_next_page=has_next_page,
            has_previous_page=after is not None,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        )


@strawberry.type
class LeadEdge:
    cursor: str
    node: Lead


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
        row = await info.context.loaders.leads.load(str(id))
        return None if row is None else Lead.from_row(row)

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
            args.append(decode_cursor(after))
            conditions.append(f"lead_id > ${len(args)}")
        args.append(limit + 1)
        sql = (
            f"SELECT {LEAD_COLUMNS} FROM leads WHERE {' AND '.join(conditions)}"
            f" ORDER BY lead_id LIMIT ${len(args)}"
        )
        async with info.context.tx() as conn:
            rows = await conn.fetch(sql, *args)
        edges = [LeadEdge(cursor=encode_cursor(r["lead_id"]), node=Lead.from_row(r)) for r in rows]
        page = edges[:limit]
        return LeadConnection(
            edges=page,
            page_info=PageInfo.of(
                [e.cursor for e in page], has_next_page=len(edges) > limit, after=after
            ),
            filters=filters,
        )
