"""Messages, their versions and their loaders."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from datetime import datetime
from enum import Enum

import asyncpg
import strawberry

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.enums import AttributionModel, LibraryStatus
from services.gateway.graphql.core.influence import Influence
from services.gateway.graphql.core.library import LibraryLoaders, LibraryTable
from services.gateway.graphql.core.loaders import LoaderScope
from services.gateway.graphql.core.relay import PageInfo
from services.gateway.graphql.core.rows import from_row


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


@strawberry.type(description="A message as one write left it, with who wrote it and when")
class MessageVersion:
    version: int
    kind: MessageKind
    text: str
    personas: list[str]
    stages: list[str]
    segments: list[str]
    status: LibraryStatus
    author: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> MessageVersion:
        return from_row(cls, row)


def message_loaders(scope: LoaderScope) -> LibraryLoaders[MessageVersion]:
    return LibraryLoaders(scope, MESSAGES, MessageVersion.from_row)


@strawberry.type(description="A message of the library (SPEC 8): marketing writes, sales reads")
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

    @strawberry.field(description="every version, oldest first")
    async def versions(self, info: Info) -> list[MessageVersion]:
        return await info.context.loaders.of(message_loaders).versions.load(str(self.id))

    @strawberry.field(description="attributed pipeline and revenue, and win rates with/without")
    async def influence(
        self, info: Info, model: AttributionModel = AttributionModel.LINEAR
    ) -> Influence:
        loader = info.context.loaders.of(message_loaders).influence
        return await loader.load((str(self.id), model.value))

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Message:
        return from_row(cls, row, id_column=MESSAGES.id_column)


@strawberry.type
class MessageEdge:
    cursor: str
    node: Message


@strawberry.type(description="Messages in the order of their ids")
class MessageConnection:
    edges: list[MessageEdge]
    page_info: PageInfo


@strawberry.input
class MessageInput:
    kind: MessageKind
    text: str
    personas: list[str] | None = None
    stages: list[str] | None = None
    segments: list[str] | None = None


@strawberry.input(description="The fields to change; the others keep their value")
class MessageUpdateInput:
    kind: MessageKind | None = None
    text: str | None = None
    personas: list[str] | None = None
    stages: list[str] | None = None
    segments: list[str] | None = None
