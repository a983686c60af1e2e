"""Messaging library queries and mutations: every write stores a new version."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import strawberry

from services.gateway.graphql.context import Info
from services.gateway.graphql.leads.queries import PageInfo, page_size
from services.gateway.graphql.messaging.common import (
    CanWriteLibrary,
    LibraryStatus,
    append_version,
    decode_cursor,
    encode_cursor,
    new_id,
    next_version,
    not_found,
    required_text,
    tags,
)
from services.gateway.graphql.messaging.types import (
    MESSAGE_COLUMNS,
    MESSAGE_VERSION_COLUMNS,
    Message,
    MessageConnection,
    MessageEdge,
    MessageInput,
    MessageKind,
    MessageLoaders,
    MessageUpdateInput,
)
from services.gateway.graphql.permissions import CanRead
from shared.domain import library

_CURSOR = "message"


def _loaders(info: Info) -> MessageLoaders:
    return MessageLoaders(info.context.pool, info.context.tenant_id)


async def _store(conn: asyncpg.Connection, info: Info, state: dict[str, Any]) -> None:
    """Writes `state` as the message's current row and as its next version."""
    ctx = info.context
    assert ctx.principal is not None
    now = ctx.now()
    await conn.execute(
        "INSERT INTO messages (tenant_id, message_id, kind, text, personas, stages, segments,"
        " status, version, created_at, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)"
        " ON CONFLICT (tenant_id, message_id) DO UPDATE SET kind = EXCLUDED.kind,"
        " text = EXCLUDED.text, personas = EXCLUDED.personas, stages = EXCLUDED.stages,"
        " segments = EXCLUDED.segments, status = EXCLUDED.status, version = EXCLUDED.version,"
        " updated_at = EXCLUDED.updated_at",
        ctx.tenant_id,
        state["message_id"],
        state["kind"],
        state["text"],
        state["personas"],
        state["stages"],
        state["segments"],
        state["status"],
        state["version"],
        now,
    )
    await append_version(
        conn,
        "message_versions",
        MESSAGE_VERSION_COLUMNS,
        state,
        tenant_id=ctx.tenant_id,
        author=ctx.principal.subject,
        at=now,
    )


async def _fetch(conn: asyncpg.Connection, info: Info, message_id: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND message_id = $2",
        info.context.tenant_id,
        message_id,
    )
    if row is None:
        raise not_found("message", message_id)
    return row


async def _change(
    info: Info, message_id: str, change: Callable[[dict[str, Any]], dict[str, Any]]
) -> Message:
    async with info.context.tx() as conn:
        state = await next_version(
            conn,
            table="messages",
            id_column="message_id",
            columns=MESSAGE_COLUMNS,
            tenant_id=info.context.tenant_id,
            item_id=message_id,
            what="message",
            change=change,
        )
        await _store(conn, info, state)
        row = await _fetch(conn, info, message_id)
    return Message.from_row(row, _loaders(info))


@strawberry.type
class MessagingQueries:
    @strawberry.field(permission_classes=[CanRead], description="The library, page by page")
    async def messages(
        self,
        info: Info,
        status: LibraryStatus | None = None,
        kind: MessageKind | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> MessageConnection:
        limit = page_size(first)
        args: list[object] = [
            info.context.tenant_id,
            None if status is None else status.value,
            None if kind is None else kind.value,
            None if after is None else decode_cursor(_CURSOR, after),
            limit + 1,
        ]
        async with info.context.tx() as conn:
            rows = await conn.fetch(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1"
                " AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR kind = $3)"
                " AND ($4::text IS NULL OR message_id > $4) ORDER BY message_id LIMIT $5",
                *args,
            )
        loaders = _loaders(info)
        edges = [
            MessageEdge(
                cursor=encode_cursor(_CURSOR, r["message_id"]), node=Message.from_row(r, loaders)
            )
            for r in rows[:limit]
        ]
        return MessageConnection(
            edges=edges,
            page_info=PageInfo.of(
                [e.cursor for e in edges], has_next_page=len(rows) > limit, after=after
            ),
        )

    @strawberry.field(permission_classes=[CanRead], description="A message, or null")
    async def message(self, info: Info, id: strawberry.ID) -> Message | None:
        async with info.context.tx() as conn:
            row = await conn.fetchrow(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE tenant_id = $1 AND message_id = $2",
                info.context.tenant_id,
                str(id),
            )
        return None if row is None else Message.from_row(row, _loaders(info))


@strawberry.type
class MessagingMutations:
    @strawberry.mutation(permission_classes=[CanWriteLibrary], description="A new DRAFT message")
    async def create_message(self, info: Info, input: MessageInput) -> Message:
        message_id = new_id("msg")
        state: dict[str, Any] = {
            "message_id": message_id,
            "kind": input.kind.value,
            "text": required_text(input.text, "input.text"),
            "personas": tags(input.personas),
            "stages": tags(input.stages),
            "segments": tags(input.segments),
            "status": library.DRAFT,
            "version": 1,
        }
        async with info.context.tx() as conn:
            await _store(conn, info, state)
            row = await _fetch(conn, info, message_id)
        return Message.from_row(row, _loaders(info))

    @strawberry.mutation(
        permission_classes=[CanWriteLibrary],
        description="Change a message; an APPROVED one goes back to DRAFT until re-approved",
    )
    async def update_message(
        self, info: Info, id: strawberry.ID, input: MessageUpdateInput
    ) -> Message:
        def change(state: dict[str, Any]) -> dict[str, Any]:
            state["status"] = library.after_update(state["status"])
            if input.kind is not None:
                state["kind"] = input.kind.value
            if input.text is not None:
                state["text"] = required_text(input.text, "input.text")
            for name in ("personas", "stages", "segments"):
                given = getattr(input, name)
                if given is not None:
                    state[name] = tags(given)
            return state

        return await _change(info, str(id), change)

    @strawberry.mutation(permission_classes=[CanWriteLibrary], description="Publish to sales")
    async def approve_message(self, info: Info, id: strawberry.ID) -> Message:
        def change(state: dict[str, Any]) -> dict[str, Any]:
            state["status"] = library.after_approve(state["status"])
            return state

        return await _change(info, str(id), change)

    @strawberry.mutation(permission_classes=[CanWriteLibrary], description="Withdraw for good")
    async def retire_message(self, info: Info, id: strawberry.ID) -> Message:
        def change(state: dict[str, Any]) -> dict[str, Any]:
            state["status"] = library.after_retire(state["status"])
            return state

        return await _change(info, str(id), change)
