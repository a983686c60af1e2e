"""Writing tenant configuration: a new version in PostgreSQL, then a note on tenant-config.v1.

The version row is the source of truth; the Kafka message only wakes the workers up (they
also poll), so a message lost between the two steps delays a re-score, never loses it.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from shared import locks
from shared.db import tenant_tx
from shared.domain.config import DEFAULT_CONFIG, TenantConfig
from shared.kafka import TENANT_CONFIG


async def current_config(conn: asyncpg.Connection, tenant_id: str) -> tuple[int, TenantConfig]:
    row = await conn.fetchrow(
        "SELECT version, config FROM tenant_config_versions WHERE tenant_id = $1"
        " ORDER BY version DESC LIMIT 1",
        tenant_id,
    )
    if row is None:
        return 0, DEFAULT_CONFIG
    return row["version"], TenantConfig.from_dict(row["config"])


async def save_config(
    pool: asyncpg.Pool,
    tenant_id: str,
    section: str,
    patch: dict[str, Any],
    author: str,
    producer: AIOKafkaProducer | None = None,
) -> tuple[int, TenantConfig]:
    """Merges `patch` (snake_case sections of TenantConfig) over the current config,
    validates the whole (raising ConfigError with field paths), stores it as a new version
    and notifies the workers."""
    async with tenant_tx(pool, tenant_id) as conn:
        await locks.lock_config(conn, tenant_id)
        version, current = await current_config(conn, tenant_id)
        merged = TenantConfig.from_dict(patch, base=current)
        version += 1
        await conn.execute(
            "INSERT INTO tenant_config_versions (tenant_id, version, section, config, author)"
            " VALUES ($1, $2, $3, $4, $5)",
            tenant_id,
            version,
            section,
            merged.to_dict(),
            author,
        )
    if producer is not None:
        note = {"tenant_id": tenant_id, "version": version, "section": section}
        await producer.send_and_wait(TENANT_CONFIG, orjson.dumps(note), key=tenant_id.encode())
    return version, merged
