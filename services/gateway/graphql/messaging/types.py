"""Messages, their versions and their loaders."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from services.gateway.graphql.core.enums import LibraryStatus
from services.gateway.graphql.core.relay import Connection, Edge
from services.gateway.graphql.nodes.library import LibraryTable, history_fields, version_type


@strawberry.enum
class MessageKind(Enum):
    PROBLEM = "PROBLEM"
    IMPACT = "IMPACT"
    VALUE = "VALUE"
    WHY_NOW = "WHY_NOW"
    PROOF = "PROOF"
    COMPETITOR_COMPARISON = "COMPETITOR_COMPARISON"
    OBJECTION_RESPONSE = "OBJECTION_RESPONSE"
    DISCOVERY_QUESTION = "DISCOVERY_QUESTION"
    VALUE_STATEMENT = "VALUE_STATEMENT"


# What message_versions keeps of each write, besides tenant, author and time.
MESSAGE_VERSION_COLUMNS = (
    "message_id",
    "version",
    "kind",
    "text",
    "personas",
    "stages",
    "segments",
    "status",
)
MESSAGES = LibraryTable(
    what="message",
    table="messages",
    id_column="message_id",
    id_prefix="msg",
    cursor="message",
    columns=(*MESSAGE_VERSION_COLUMNS, "created_at", "updated_at"),
    version_table="message_versions",
    version_columns=MESSAGE_VERSION_COLUMNS,
    influence="message",
)


MessageVersion = version_type(
    "MessageVersion",
    "A message as one write left it, with who wrote it and when",
    kind=MessageKind,
    text=str,
    personas=list[str],
    stages=list[str],
    segments=list[str],
)


@strawberry.type(description="A message of the library: marketing writes, sales reads")
class Message:
    id: strawberry.ID
    kind: MessageKind
    text: str
    personas: list[str]
    stages: list[str]
    segments: list[str]
    status: LibraryStatus
    version: int = strawberry.field(description="the number of the current version")
    created_at: datetime
    updated_at: datetime

    versions, influence = history_fields(MESSAGES, MessageVersion)


@strawberry.type(description="Messages in the order of their ids")
class MessageConnection(Connection[Edge[Message]]):
    pass


@strawberry.input
class MessageInput:
    kind: MessageKind
    text: str
    personas: list[str] | None = None
    stages: list[str] | None = None
    segments: list[str] | None = None
