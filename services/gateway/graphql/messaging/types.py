"""Messages, their versions and their loaders."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

import asyncpg
import strawberry
from strawberry.dataloader import DataLoader

from services.gateway.graphql.attribution.queries import AttributionModel
from services.gateway.graphql.leads.queries import PageInfo
from services.gateway.graphql.messaging.common import LibraryStatus, versions_loader
from services.gateway.graphql.messaging.influence import (
    Influence,
    InfluenceLoader,
    influence_loader,
)


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


MESSAGE_COLUMNS = (
    "message_id, kind, text, personas, stages, segments, status, version, created_at, updated_at"
)
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
        return cls(
            version=row["version"],
            kind=MessageKind(row["kind"]),
            text=row["text"],
            personas=list(row["personas"]),
            stages=list(row["stages"]),
            segments=list(row["segments"]),
            status=LibraryStatus(row["status"]),
            author=row["author"],
            created_at=row["created_at"],
        )


@dataclass
class MessageLoaders:
    """One request's batching of what a page of messages asks for."""

    pool: asyncpg.Pool
    tenant_id: str
    versions: DataLoader[str, list[MessageVersion]] = field(init=False)
    influence: InfluenceLoader = field(init=False)

    def __post_init__(self) -> None:
        self.versions = versions_loader(
            self.pool, self.tenant_id, "message_versions", "message_id", MessageVersion.from_row
        )
        self.influence = influence_loader(self.pool, self.tenant_id, "message")


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
    loaders: strawberry.Private[MessageLoaders]

    @strawberry.field(description="every version, oldest first")
    async def versions(self) -> list[MessageVersion]:
        return await self.loaders.versions.load(str(self.id))

    @strawberry.field(description="attributed pipeline and revenue, and win rates with/without")
    async def influence(self, model: AttributionModel = AttributionModel.LINEAR) -> Influence:
        return await self.loaders.influence.load((str(self.id), model.value))

    @classmethod
    def from_row(cls, row: asyncpg.Record, loaders: MessageLoaders) -> Message:
        return cls(
            id=strawberry.ID(row["message_id"]),
            kind=MessageKind(row["kind"]),
            text=row["text"],
            personas=list(row["personas"]),
            stages=list(row["stages"]),
            segments=list(row["segments"]),
            status=LibraryStatus(row["status"]),
            version=row["version"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            loaders=loaders,
        )


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
