"""Messaging library queries and mutations: every write stores a new version."""

from __future__ import annotations

import strawberry

from services.gateway.graphql.messaging.types import (
    MESSAGES,
    Message,
    MessageConnection,
    MessageInput,
)
from services.gateway.graphql.nodes import library

_LIBRARY = library.LibraryApi(MESSAGES, Message, MessageConnection, MessageInput)


@strawberry.type
class MessagingQueries:
    messages, message = _LIBRARY.queries("The library, page by page", "A message, or null")


@strawberry.type
class MessagingMutations:
    create_message, update_message, approve_message, retire_message = _LIBRARY.mutations(
        create="A new DRAFT message",
        update="Change a message; an APPROVED one goes back to DRAFT until re-approved",
    )
