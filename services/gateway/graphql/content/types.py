"""Content items of the catalog, their versions and their loaders."""

from __future__ import annotations

from datetime import datetime

import strawberry

from services.gateway.graphql.core.enums import FunnelStage, LibraryStatus
from services.gateway.graphql.core.relay import Connection, Edge
from services.gateway.graphql.nodes.library import LibraryTable, history_fields, version_type

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
CONTENT = LibraryTable(
    what="content item",
    table="content_items",
    id_column="content_id",
    id_prefix="cnt",
    cursor="content",
    columns=(*CONTENT_VERSION_COLUMNS, "author", "created_at", "updated_at"),
    version_table="content_versions",
    version_columns=CONTENT_VERSION_COLUMNS,
    influence="content",
)


ContentVersion = version_type(
    "ContentVersion",
    "A content item as one write left it, with who wrote it and when",
    title=str,
    url=str,
    funnel_stage=FunnelStage,
    format=str,
    topics=list[str],
    objections=list[str],
    message_ids=list[str],
)


@strawberry.type(description="A content item of the catalog")
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

    versions, influence = history_fields(CONTENT, ContentVersion)


@strawberry.type
class ContentEdge(Edge[ContentItem]):
    pass


@strawberry.type(description="Content items in the order of their ids")
class ContentConnection(Connection[ContentEdge]):
    pass


@strawberry.input
class ContentItemInput:
    title: str
    url: str
    funnel_stage: FunnelStage
    format: str
    topics: list[str] | None = None
    objections: list[str] | None = None
    message_ids: list[str] | None = None
