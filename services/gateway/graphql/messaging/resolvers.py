"""Messaging library queries and mutations: every write stores a new version."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import strawberry

from services.gateway.graphql.core import library
from services.gateway.graphql.core.enums import LibraryStatus
from services.gateway.graphql.core.library import required_text
from services.gateway.graphql.messaging.types import (
    MESSAGES,
    Message,
    MessageConnection,
    MessageInput,
    MessageKind,
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
        Message,
        {"status": LibraryStatus, "kind": MessageKind},
        "The library, page by page",
    )
    message = library.item_query(MESSAGES, Message, "A message, or null")


@strawberry.type
class MessagingMutations:
    create_message = library.create_mutation(
        MESSAGES, Message, MessageInput, _FIELDS, "A new DRAFT message"
    )
    update_message = library.update_mutation(
        MESSAGES,
        Message,
        MessageInput,
        _FIELDS,
        "Change a message; an APPROVED one goes back to DRAFT until re-approved",
    )
    approve_message = library.status_mutation(
        MESSAGES, Message, library.approve, "Publish to sales"
    )
    retire_message = library.status_mutation(MESSAGES, Message, library.retire, "Withdraw for good")
