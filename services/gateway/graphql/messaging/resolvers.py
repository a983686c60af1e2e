"""Messaging library queries and mutations: every write stores a new version."""

from __future__ import annotations

import strawberry

from services.gateway.graphql.core import library
from services.gateway.graphql.core.enums import LibraryStatus
from services.gateway.graphql.messaging.types import (
    MESSAGES,
    Message,
    MessageConnection,
    MessageInput,
    MessageKind,
)

_LIBRARY = library.LibraryApi(
    spec=MESSAGES,
    node=Message,
    connection=MessageConnection,
    filters={"status": LibraryStatus, "kind": MessageKind},
    input=MessageInput,
)


@strawberry.type
class MessagingQueries:
    messages, message = _LIBRARY.queries("The library, page by page", "A message, or null")


@strawberry.type
class MessagingMutations:
    create_message, update_message, approve_message, retire_message = _LIBRARY.mutations(
        create="A new DRAFT message",
        update="Change a message; an APPROVED one goes back to DRAFT until re-approved",
    )
