"""Content catalog queries and mutations: every write stores a new version."""

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
from services.gateway.graphql.core.errors import bad_input
from services.gateway.graphql.core.inputs import tags
from services.gateway.graphql.nodes import library


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


_LIBRARY = library.LibraryApi(
    CONTENT, ContentItem, ContentConnection, ContentItemInput, _check_linked
)


@strawberry.type
class ContentQueries:
    content_items, content_item = _LIBRARY.queries(
        "The catalog, page by page", "A content item, or null"
    )


@strawberry.type
class ContentMutations:
    create_content_item, update_content_item, approve_content_item, retire_content_item = (
        _LIBRARY.mutations(
            create="A new DRAFT item",
            update="Change an item; an APPROVED one goes back to DRAFT until re-approved",
        )
    )
