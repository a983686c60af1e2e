"""Content catalog queries and mutations: every write stores a new version."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from typing import Any

import asyncpg
import strawberry

from services.gateway.graphql.content.types import (
    CONTENT,
    ContentConnection,
    ContentEdge,
    ContentItem,
    ContentItemInput,
    ContentItemUpdateInput,
)
from services.gateway.graphql.core import library
from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.enums import FunnelStage, LibraryStatus
from services.gateway.graphql.core.errors import bad_input
from services.gateway.graphql.core.library import Prepare, required_text, tags
from services.gateway.graphql.core.permissions import CanWriteLibrary


def _linked(tenant_id: str) -> Prepare:
    """Checks that the state's message ids are the tenant's messages, in the write's
    transaction; they are kept as tags (no blanks or repeats)."""

    async def check(conn: asyncpg.Connection, state: dict[str, Any]) -> None:
        linked = tags(state["message_ids"])
        rows = await conn.fetch(
            "SELECT message_id FROM messages WHERE tenant_id = $1 AND message_id = ANY($2::text[])",
            tenant_id,
            linked,
        )
        known = {r["message_id"] for r in rows}
        missing = [m for m in linked if m not in known]
        if missing:
            raise bad_input(
                f"no message with id {', '.join(missing)}",
                [("input.messageIds", "unknown message id")],
            )
        state["message_ids"] = linked

    return check


# How the create and update inputs' fields are read.
_FIELDS: dict[str, library.Reader] = {
    "title": required_text,
    "url": required_text,
    "funnel_stage": library.enum_value,
    "format": required_text,
    "topics": library.tag_list,
    "objections": library.tag_list,
    "message_ids": library.id_list,
}


@strawberry.type
class ContentQueries:
    content_items = library.page_query(
        CONTENT,
        ContentConnection,
        ContentEdge,
        ContentItem,
        {"status": LibraryStatus, "funnel_stage": FunnelStage},
        "The catalog, page by page",
    )
    content_item = library.item_query(CONTENT, ContentItem, "A content item, or null")


@strawberry.type
class ContentMutations:
    @strawberry.mutation(permission_classes=[CanWriteLibrary], description="A new DRAFT item")
    async def create_content_item(self, info: Info, input: ContentItemInput) -> ContentItem:
        ctx = info.context
        fields = library.created(input, _FIELDS)
        return ContentItem.from_row(
            await library.create(ctx, CONTENT, fields, _linked(ctx.tenant_id))
        )

    @strawberry.mutation(
        permission_classes=[CanWriteLibrary],
        description="Change an item; an APPROVED one goes back to DRAFT until re-approved",
    )
    async def update_content_item(
        self, info: Info, id: strawberry.ID, input: ContentItemUpdateInput
    ) -> ContentItem:
        ctx = info.context
        change = library.updated(input, _FIELDS)
        check = None if input.message_ids is None else _linked(ctx.tenant_id)
        return ContentItem.from_row(await library.change(ctx, CONTENT, str(id), change, check))

    approve_content_item = library.status_mutation(
        CONTENT, ContentItem, library.approve, "Publish to sales"
    )
    retire_content_item = library.status_mutation(
        CONTENT, ContentItem, library.retire, "Withdraw for good"
    )
