"""Deal post-mortems from the read model (SPEC 17): the deals' leads' event logs, the config
versions they were applied under, and the tenant's catalog and messaging library, handed to
the pure rules of shared.domain.postmortem.

Reads one lead's log per deal through the `events_lead` index, never a tenant-wide scan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from shared.domain.config import DEFAULT_CONFIG, TenantConfig
from shared.domain.events import Event
from shared.domain.postmortem import OBJECTION_RESPONSE, Library, PostMortem, post_mortem

# The event log's columns that make a domain Event, by the Event's own field names.
_EVENT_FIELDS = (
    "event_id, type, occurred_at, seq, lead_id, anonymous_id, account_id, channel,"
    " campaign_id, content_id, message_id, properties, stitched, config_version"
)


async def post_mortems_of(
    conn: asyncpg.Connection, tenant_id: str, opportunity_ids: Sequence[str], now: datetime
) -> list[PostMortem]:
    """The post-mortems of these opportunities (unknown ids are left out), in the given order."""
    if not opportunity_ids:
        return []
    owners = {
        r["opportunity_id"]: r["lead_id"]
        for r in await conn.fetch(
            "SELECT opportunity_id, lead_id FROM opportunities"
            " WHERE tenant_id = $1 AND opportunity_id = ANY($2::text[])",
            tenant_id,
            list(opportunity_ids),
        )
    }
    if not owners:
        return []
    events: dict[str, list[Event]] = defaultdict(list)
    for row in await conn.fetch(
        f"SELECT {_EVENT_FIELDS} FROM events WHERE tenant_id = $1 AND lead_id = ANY($2::text[])"
        " ORDER BY lead_id, occurred_at, seq",
        tenant_id,
        sorted(set(owners.values())),
    ):
        events[row["lead_id"]].append(Event(**dict(row)))
    configs = await _configs(conn, tenant_id)
    library = await _library(conn, tenant_id)
    sla_hours = configs[max(configs)].sla.mql_response_hours
    out = []
    for opportunity_id in opportunity_ids:
        lead_id = owners.get(opportunity_id)
        if lead_id is None:
            continue
        result = post_mortem(
            events[lead_id], configs, opportunity_id, library, sla_hours=sla_hours, now=now
        )
        if result is not None:
            out.append(result)
    return out


async def closed_in(
    conn: asyncpg.Connection, tenant_id: str, start: datetime, end: datetime
) -> list[str]:
    """The opportunities won or lost in [start, end), by close time."""
    rows = await conn.fetch(
        "SELECT opportunity_id FROM opportunities WHERE tenant_id = $1"
        " AND status IN ('WON', 'LOST') AND closed_at >= $2 AND closed_at < $3"
        " ORDER BY closed_at, opportunity_id",
        tenant_id,
        start,
        end,
    )
    return [r["opportunity_id"] for r in rows]


async def _configs(conn: asyncpg.Connection, tenant_id: str) -> dict[int, TenantConfig]:
    configs = {0: DEFAULT_CONFIG}
    for row in await conn.fetch(
        "SELECT version, config FROM tenant_config_versions WHERE tenant_id = $1", tenant_id
    ):
        configs[row["version"]] = TenantConfig.from_dict(row["config"])
    return configs


async def _library(conn: asyncpg.Connection, tenant_id: str) -> Library:
    items = await conn.fetch(
        "SELECT content_id, funnel_stage, objections FROM content_items WHERE tenant_id = $1",
        tenant_id,
    )
    responses = await conn.fetch(
        "SELECT message_id FROM messages WHERE tenant_id = $1 AND kind = $2"
        " AND status = 'APPROVED'",
        tenant_id,
        OBJECTION_RESPONSE,
    )
    return Library(
        content_stages={r["content_id"]: r["funnel_stage"] for r in items},
        content_objections={r["content_id"]: frozenset(r["objections"]) for r in items},
        objection_responses=frozenset(r["message_id"] for r in responses),
    )
