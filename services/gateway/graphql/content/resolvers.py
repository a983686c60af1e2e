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
    ContentItem,
    ContentItemInput,
)
from services.gateway.graphql.core import library
from services.gateway.graphql.core.enums import FunnelStage, LibraryStatus
from services.gateway.graphql.core.errors import bad_input
from services.gateway.graphql.core.library import required_text, tags


async def _check_linked(conn: asyncpg.Connection, tenant_id: str, state: dict[str, Any]) -> None:
    """Checks that the state's message ids are the tenant's messages, in the write's
    transaction; they are kept as tags (no blanks or repeats)."""
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
            f"no message with id {', '.join(missing)}", [("input.messageIds", "unknown message id")]
        )
    state["message_ids"] = linked


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
        ContentItem,
        {"status": LibraryStatus, "funnel_stage": FunnelStage},
        "The catalog, page by page",
    )
    content_item = library.item_query(CONTENT, ContentItem, "A content item, or null")


@strawberry.type
class ContentMutations:
    create_content_item = library.create_mutation(
        CONTENT, ContentItem, ContentItemInput, _FIELDS, "A new DRAFT item", _check_linked
    )
    update_content_item = library.update_mutation(
        CONTENT,
        ContentItem,
        ContentItemInput,
        _FIELDS,
        "Change an item; an APPROVED one goes back to DRAFT until re-approved",
        _check_linked,
    )
    approve_content_item = library.status_mutation(
        CONTENT, ContentItem, library.approve, "Publish to sales"
    )
    retire_content_item = library.status_mutation(
        CONTENT, ContentItem, library.retire, "Withdraw for good"
    )
