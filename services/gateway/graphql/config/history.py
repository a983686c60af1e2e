"""The tenant configuration's change history (SPEC 8: every config change is versioned with
author and time) and the restore of an earlier version, which is stored as a new version
so the history itself is never rewritten."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from datetime import datetime

import asyncpg
import strawberry

from services.gateway.graphql.config.resolvers import read_config, write_config
from services.gateway.graphql.config.types import TenantConfig
from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.errors import bad_input
from services.gateway.graphql.core.permissions import admin_mutation, read_field
from services.gateway.graphql.core.relay import (
    FIRST_ARGUMENT,
    Connection,
    Edge,
    Keyset,
    page_size,
)

_KEYSET = Keyset("config-version", {"version": int})

# Newest first; the author of a key's change is named by the key's label (its role when it
# has none), never by its id alone.
_HISTORY = """
SELECT v.version, split_part(v.section, ':', 1) AS section, v.author, v.created_at,
       CASE WHEN k.key_id IS NOT NULL
            THEN coalesce(nullif(k.label, ''), initcap(k.role) || ' key')
            WHEN v.author LIKE 'key:%' THEN 'A deleted API key'
            ELSE v.author END AS author_name,
       CASE WHEN v.section LIKE 'restore:%'
            THEN split_part(v.section, ':', 2)::integer END AS restored_from
FROM tenant_config_versions v
LEFT JOIN api_keys k ON k.tenant_id = v.tenant_id AND v.author = 'key:' || k.key_id
WHERE v.tenant_id = $1 AND ($2::integer IS NULL OR v.version < $2)
ORDER BY v.version DESC
LIMIT $3
"""


@strawberry.type(description="One stored version of the tenant's configuration")
class ConfigVersion:
    version: int
    section: str = strawberry.field(
        description="what the change was about: icp, scoring_model, sla, attribution or"
        " restore (an earlier version brought back)"
    )
    author: str = strawberry.field(description="the credential that wrote it (key:<id>)")
    author_name: str = strawberry.field(
        description="who wrote it, in words: the API key's label, else its role"
    )
    created_at: datetime
    restored_from: int | None = strawberry.field(
        description="for a restore, the version brought back"
    )


@strawberry.type(description="Configuration versions, newest first")
class ConfigVersionConnection(Connection[Edge[ConfigVersion]]):
    pass


async def _history(
    conn: asyncpg.Connection, tenant_id: str, before: int | None, limit: int
) -> list[asyncpg.Record]:
    return list(await conn.fetch(_HISTORY, tenant_id, before, limit + 1))


@strawberry.type
class ConfigHistoryQueries:
    @read_field(f"Every change of the tenant's configuration, newest first; {FIRST_ARGUMENT}")
    async def config_history(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> ConfigVersionConnection:
        limit = page_size(first)
        position = _KEYSET.position(after)
        before = None if position is None else position[0]
        rows = await info.context.scope.run(_history, before, limit)
        edges, page_info = _KEYSET.page(
            rows,
            limit,
            after,
            lambda r: ConfigVersion(
                version=r["version"],
                section=r["section"],
                author=r["author"],
                author_name=r["author_name"],
                created_at=r["created_at"],
                restored_from=r["restored_from"],
            ),
        )
        return ConfigVersionConnection(edges=edges, page_info=page_info)


async def _config_document(conn: asyncpg.Connection, tenant_id: str, version: int) -> object:
    return await conn.fetchval(
        "SELECT config FROM tenant_config_versions WHERE tenant_id = $1 AND version = $2",
        tenant_id,
        version,
    )


@strawberry.type
class ConfigHistoryMutations:
    @admin_mutation(
        "Bring back an earlier configuration version: it is stored as a new version (the"
        " history keeps every change) and leads are re-scored under it within 60 s"
    )
    async def restore_config_version(self, info: Info, version: int) -> TenantConfig:
        document = await info.context.scope.run(_config_document, version)
        if not isinstance(document, dict):
            raise bad_input(
                f"there is no configuration version {version}; pick one from configHistory",
                [("version", "no such version")],
            )
        current = await info.context.scope.run(read_config)
        if version == current.version:
            raise bad_input(
                f"version {version} is already the current configuration",
                [("version", "already current")],
            )
        # The section names the version restored, so the history can say where it came from.
        return await write_config(info, f"restore:{version}", "configuration", document)
