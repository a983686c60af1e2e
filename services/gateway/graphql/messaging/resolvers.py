"""Messaging library queries and mutations: every write stores a new version."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import strawberry

from services.gateway.graphql.core import library
from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.enums import LibraryStatus
from services.gateway.graphql.core.library import required_text
from services.gateway.graphql.core.permissions import CanWriteLibrary
from services.gateway.graphql.messaging.types import (
    MESSAGES,
    Message,
    MessageConnection,
    MessageEdge,
    MessageInput,
    MessageKind,
    MessageUpdateInput,
)

# How the create and update inputs' fields are read.
_FIELDS: dict[str, library.Reader] = {
    "kind": library.enum_value,
    "text": required_text,
    "personas": library.tag_list,
    "stages": library.tag_list,
    "segments": library.tag_list,
}


@strawberry.type
class MessagingQueries:
    messages = library.page_query(
        MESSAGES,
        MessageConnection,
        MessageEdge,
        Message,
        {"status": LibraryStatus, "kind": MessageKind},
        "The library, page by page",
    )
    message = library.item_query(MESSAGES, Message, "A message, or null")


@strawberry.type
class MessagingMutations:
    @strawberry.mutation(permission_classes=[CanWriteLibrary], description="A new DRAFT message")
    async def create_message(self, info: Info, input: MessageInput) -> Message:
        fields = library.created(input, _FIELDS)
        return Message.from_row(await library.create(info.context, MESSAGES, fields))

    @strawberry.mutation(
        permission_classes=[CanWriteLibrary],
        description="Change a message; an APPROVED one goes back to DRAFT until re-approved",
    )
    async def update_message(
        self, info: Info, id: strawberry.ID, input: MessageUpdateInput
    ) -> Message:
        change = library.updated(input, _FIELDS)
        return Message.from_row(await library.change(info.context, MESSAGES, str(id), change))

    approve_message = library.status_mutation(
        MESSAGES, Message, library.approve, "Publish to sales"
    )
    retire_message = library.status_mutation(MESSAGES, Message, library.retire, "Withdraw for good")
