"""Content items of the catalog, their versions and their loaders."""

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


@strawberry.enum(description="Top, middle or bottom of the funnel")
class FunnelStage(Enum):
    TOFU = "TOFU"
    MOFU = "MOFU"
    BOFU = "BOFU"


CONTENT_COLUMNS = (
    "content_id, title, url, funnel_stage, format, topics, objections, message_ids, status,"
    " version, author, created_at, updated_at"
)
# What content_versions keeps of each write, besides tenant, author and time.
CONTENT_VERSION_COLUMNS = (
    "content_id",
    "version",
    "title",
    "url",
    "funnel_stage",
    "format",
    "topics",
    "objections",
    "message_ids",
    "status",
)


@strawberry.type(description="A content item as one write left it, with who wrote it and when")
class ContentVersion:
    version: int
    title: str
    url: str
    funnel_stage: FunnelStage
    format: str
    topics: list[str]
    objections: list[str]
    message_ids: list[str]
    status: LibraryStatus
    author: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> ContentVersion:
        return cls(
            version=row["version"],
            title=row["title"],
            url=row["url"],
            funnel_stage=FunnelStage(row["funnel_stage"]),
            format=row["format"],
            topics=list(row["topics"]),
            objections=list(row["objections"]),
            message_ids=list(row["message_ids"]),
            status=LibraryStatus(row["status"]),
            author=row["author"],
            created_at=row["created_at"],
        )


@dataclass
class ContentLoaders:
    """One request's batching of what a page of content items asks for."""

    pool: asyncpg.Pool
    tenant_id: str
    versions: DataLoader[str, list[ContentVersion]] = field(init=False)
    influence: InfluenceLoader = field(init=False)

    def __post_init__(self) -> None:
        self.versions = versions_loader(
            self.pool, self.tenant_id, "content_versions", "content_id", ContentVersion.from_row
        )
        self.influence = influence_loader(self.pool, self.tenant_id, "content")


@strawberry.type(description="A content item of the catalog (SPEC 8)")
class ContentItem:
    id: strawberry.ID = strawberry.field(description="the content_id events reference")
    title: str
    url: str
    funnel_stage: FunnelStage
    format: str
    topics: list[str]
    objections: list[str] = strawberry.field(
        description="objection categories (objection_logged.category) it answers"
    )
    message_ids: list[str] = strawberry.field(description="the linked messages")
    status: LibraryStatus
    version: int = strawberry.field(description="the number of the current version")
    author: str = strawberry.field(description="who last wrote it")
    created_at: datetime
    updated_at: datetime
    loaders: strawberry.Private[ContentLoaders]

    @strawberry.field(description="every version, oldest first")
    async def versions(self) -> list[ContentVersion]:
        return await self.loaders.versions.load(str(self.id))

    @strawberry.field(description="attributed pipeline and revenue, and win rates with/without")
    async def influence(self, model: AttributionModel = AttributionModel.LINEAR) -> Influence:
        return await self.loaders.influence.load((str(self.id), model.value))

    @classmethod
    def from_row(cls, row: asyncpg.Record, loaders: ContentLoaders) -> ContentItem:
        return cls(
            id=strawberry.ID(row["content_id"]),
            title=row["title"],
            url=row["url"],
            funnel_stage=FunnelStage(row["funnel_stage"]),
            format=row["format"],
            topics=list(row["topics"]),
            objections=list(row["objections"]),
            message_ids=list(row["message_ids"]),
            status=LibraryStatus(row["status"]),
            version=row["version"],
            author=row["author"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            loaders=loaders,
        )


@strawberry.type
class ContentEdge:
    cursor: str
    node: ContentItem


@strawberry.type(description="Content items in the order of their ids")
class ContentConnection:
    edges: list[ContentEdge]
    page_info: PageInfo


@strawberry.input
class ContentItemInput:
    title: str
    url: str
    funnel_stage: FunnelStage
    format: str
    topics: list[str] | None = None
    objections: list[str] | None = None
    message_ids: list[str] | None = None


@strawberry.input(description="The fields to change; the others keep their value")
class ContentItemUpdateInput:
    title: str | None = None
    url: str | None = None
    funnel_stage: FunnelStage | None = None
    format: str | None = None
    topics: list[str] | None = None
    objections: list[str] | None = None
    message_ids: list[str] | None = None
