"""Content catalog queries and mutations: every write stores a new version."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import strawberry

from services.gateway.graphql.content.types import (
    CONTENT_COLUMNS,
    CONTENT_VERSION_COLUMNS,
    ContentConnection,
    ContentEdge,
    ContentItem,
    ContentItemInput,
    ContentItemUpdateInput,
    ContentLoaders,
    FunnelStage,
)
from services.gateway.graphql.context import Info
from services.gateway.graphql.errors import bad_input
from services.gateway.graphql.leads.queries import PageInfo, page_size
from services.gateway.graphql.messaging.common import (
    CanWriteLibrary,
    LibraryStatus,
    append_version,
    decode_cursor,
    encode_cursor,
    new_id,
    next_version,
    required_text,
    tags,
)
from services.gateway.graphql.permissions import CanRead
from shared.domain import library

_CURSOR = "content"


def _loaders(info: Info) -> ContentLoaders:
    return ContentLoaders(info.context.pool, info.context.tenant_id)


async def _linked(conn: asyncpg.Connection, info: Info, ids: list[str], path: str) -> list[str]:
    """The message ids, checked to be the tenant's messages."""
    linked = tags(ids)
    known = {
        r["message_id"]
        for r in await conn.fetch(
            "SELECT message_id FROM messages WHERE tenant_id = $1 AND message_id = ANY($2::text[])",
            info.context.tenant_id,
            linked,
        )
    }
    missing = [m for m in linked if m not in known]
    if missing:
        raise bad_input(f"no message with id {', '.join(missing)}", [(path, "unknown message id")])
    return linked


async def _store(conn: asyncpg.Connection, info: Info, state: dict[str, Any]) -> ContentItem:
    """Writes `state` as the item's current row and as its next version."""
    ctx = info.context
    assert ctx.principal is not None
    now = ctx.now()
    row = await conn.fetchrow(
        "INSERT INTO content_items (tenant_id, content_id, title, url, funnel_stage, format,"
        " topics, objections, message_ids, status, version, author, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)"
        " ON CONFLICT (tenant_id, content_id) DO UPDATE SET title = EXCLUDED.title,"
        " url = EXCLUDED.url, funnel_stage = EXCLUDED.funnel_stage, format = EXCLUDED.format,"
        " topics = EXCLUDED.topics, objections = EXCLUDED.objections,"
        " message_ids = EXCLUDED.message_ids, status = EXCLUDED.status,"
        " version = EXCLUDED.version, author = EXCLUDED.author,"
        f" updated_at = EXCLUDED.updated_at RETURNING {CONTENT_COLUMNS}",
        ctx.tenant_id,
        state["content_id"],
        state["title"],
        state["url"],
        state["funnel_stage"],
        state["format"],
        state["topics"],
        state["objections"],
        state["message_ids"],
        state["status"],
        state["version"],
        ctx.principal.subject,
        now,
    )
    await append_version(
        conn,
        "content_versions",
        CONTENT_VERSION_COLUMNS,
        state,
        tenant_id=ctx.tenant_id,
        author=ctx.principal.subject,
        at=now,
    )
    return ContentItem.from_row(row, _loaders(info))


async def _change(
    info: Info,
    content_id: str,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    message_ids: list[str] | None = None,
) -> ContentItem:
    async with info.context.tx() as conn:
        state = await next_version(
            conn,
            table="content_items",
            id_column="content_id",
            columns=CONTENT_COLUMNS,
            tenant_id=info.context.tenant_id,
            item_id=content_id,
            what="content item",
            change=change,
        )
        if message_ids is not None:
            state["message_ids"] = await _linked(conn, info, message_ids, "input.messageIds")
        return await _store(conn, info, state)


@strawberry.type
class ContentQueries:
    @strawberry.field(permission_classes=[CanRead], description="The catalog, page by page")
    async def content_items(
        self,
        info: Info,
        status: LibraryStatus | None = None,
        funnel_stage: FunnelStage | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> ContentConnection:
        limit = page_size(first)
        async with info.context.tx() as conn:
            rows = await conn.fetch(
                f"SELECT {CONTENT_COLUMNS} FROM content_items WHERE tenant_id = $1"
                " AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR funnel_stage = $3)"
                " AND ($4::text IS NULL OR content_id > $4) ORDER BY content_id LIMIT $5",
                info.context.tenant_id,
                None if status is None else status.value,
                None if funnel_stage is None else funnel_stage.value,
                None if after is None else decode_cursor(_CURSOR, after),
                limit + 1,
            )
        loaders = _loaders(info)
        edges = [
            ContentEdge(
                cursor=encode_cursor(_CURSOR, r["content_id"]),
                node=ContentItem.from_row(r, loaders),
            )
            for r in rows[:limit]
        ]
        return ContentConnection(
            edges=edges,
            page_info=PageInfo.of(
                [e.cursor for e in edges], has_next_page=len(rows) > limit, after=after
            ),
        )

    @strawberry.field(permission_classes=[CanRead], description="A content item, or null")
    async def content_item(self, info: Info, id: strawberry.ID) -> ContentItem | None:
        async with info.context.tx() as conn:
            row = await conn.fetchrow(
                f"SELECT {CONTENT_COLUMNS} FROM content_items WHERE tenant_id = $1"
                " AND content_id = $2",
                info.context.tenant_id,
                str(id),
            )
        return None if row is None else ContentItem.from_row(row, _loaders(info))


@strawberry.type
class ContentMutations:
    @strawberry.mutation(permission_classes=[CanWriteLibrary], description="A new DRAFT item")
    async def create_content_item(self, info: Info, input: ContentItemInput) -> ContentItem:
        async with info.context.tx() as conn:
            return await _store(
                conn,
                info,
                {
                    "content_id": new_id("cnt"),
                    "title": required_text(input.title, "input.title"),
                    "url": required_text(input.url, "input.url"),
                    "funnel_stage": input.funnel_stage.value,
                    "format": required_text(input.format, "input.format"),
                    "topics": tags(input.topics),
                    "objections": tags(input.objections),
                    "message_ids": await _linked(
                        conn, info, input.message_ids or [], "input.messageIds"
                    ),
                    "status": library.DRAFT,
                    "version": 1,
                },
            )

    @strawberry.mutation(
        permission_classes=[CanWriteLibrary],
        description="Change an item; an APPROVED one goes back to DRAFT until re-approved",
    )
    async def update_content_item(
        self, info: Info, id: strawberry.ID, input: ContentItemUpdateInput
    ) -> ContentItem:
        def change(state: dict[str, Any]) -> dict[str, Any]:
            state["status"] = library.after_update(state["status"])
            for name in ("title", "url", "format"):
                given = getattr(input, name)
                if given is not None:
                    state[name] = required_text(given, f"input.{name}")
            if input.funnel_stage is not None:
                state["funnel_stage"] = input.funnel_stage.value
            if input.topics is not None:
                state["topics"] = tags(input.topics)
            if input.objections is not None:
                state["objections"] = tags(input.objections)
            return state

        return await _change(info, str(id), change, input.message_ids)

    @strawberry.mutation(permission_classes=[CanWriteLibrary], description="Publish to sales")
    async def approve_content_item(self, info: Info, id: strawberry.ID) -> ContentItem:
        return await _change(
            info, str(id), lambda s: {**s, "status": library.after_approve(s["status"])}
        )

    @strawberry.mutation(permission_classes=[CanWriteLibrary], description="Withdraw for good")
    async def retire_content_item(self, info: Info, id: strawberry.ID) -> ContentItem:
        return await _change(
            info, str(id), lambda s: {**s, "status": library.after_retire(s["status"])}
        )
