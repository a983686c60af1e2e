"""The step the CRM connectors (HubSpot, Salesforce) share: resolving each deal or
opportunity event to its lead before publishing.

Deal events of a CRM often do not name their contact. The lead of such an object is learned
from association events (HubSpot) or the object's contact field (Salesforce) and kept in
connector_links; an event whose lead is not known yet is parked in connector_parked (kept,
not dropped) and published by the batch that brings the link.
"""

from __future__ import annotations

from starlette.responses import Response

from services.gateway.connectors.common import Batch, publish
from services.gateway.connectors.mapping import Link, ObjectEvent
from services.gateway.context import GatewayContext
from shared.db import tenant_tx
from shared.validation import validate_event

# Stands in for the lead while a parked event is validated: what is refused later would be
# refused now, so the sender learns it in this answer.
_PLACEHOLDER_LEAD = "lead-not-known-yet"


async def publish_resolved(
    ctx: GatewayContext,
    tenant_id: str,
    connector: str,
    batch: Batch,
    pending: list[tuple[int, ObjectEvent]],
    links: list[Link],
) -> Response:
    """Records the batch's links, gives each object event its lead (or parks it), releases
    parked events of newly linked objects, and publishes everything in one answer."""
    assert ctx.pool is not None
    now = ctx.settings.now()
    wanted = {(p.object_type, p.object_id) for _, p in pending} | {
        (link.object_type, link.object_id) for link in links
    }
    async with tenant_tx(ctx.pool, tenant_id) as conn:
        await conn.executemany(
            "INSERT INTO connector_links (tenant_id, connector, object_type, object_id, lead_id)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, connector, object_type,"
            " object_id) DO UPDATE SET lead_id = excluded.lead_id, updated_at = now()",
            [(tenant_id, connector, x.object_type, x.object_id, x.lead_id) for x in links],
        )
        rows = await conn.fetch(
            "SELECT object_type, object_id, lead_id FROM connector_links"
            " WHERE tenant_id = $1 AND connector = $2"
            " AND (object_type, object_id) IN (SELECT * FROM unnest($3::text[], $4::text[]))",
            tenant_id,
            connector,
            [t for t, _ in wanted],
            [i for _, i in wanted],
        )
        known = {(r["object_type"], r["object_id"]): r["lead_id"] for r in rows}
        linked_now = [(x.object_type, x.object_id) for x in links]
        released = await conn.fetch(
            "SELECT event_id, event, object_type, object_id FROM connector_parked"
            " WHERE tenant_id = $1 AND connector = $2"
            " AND (object_type, object_id) IN (SELECT * FROM unnest($3::text[], $4::text[]))",
            tenant_id,
            connector,
            [t for t, _ in linked_now],
            [i for _, i in linked_now],
        )
    to_park: list[tuple[ObjectEvent, str]] = []
    for index, item in pending:
        lead = known.get((item.object_type, item.object_id))
        if lead is not None:
            batch.events.append((index, {**item.event, "lead_id": lead}))
            continue
        errors = validate_event(
            {**item.event, "lead_id": _PLACEHOLDER_LEAD}, now=now, tenant_id=tenant_id
        )
        for err in errors:
            batch.reject(index, item.event.get("event_id"), err.field, err.reason)
        if not errors:
            to_park.append((item, item.event["event_id"]))
    # Released events have no message of this request; they are reported by count.
    for row in released:
        lead = known[(row["object_type"], row["object_id"])]
        batch.events.append((-1, {**row["event"], "lead_id": lead}))
    batch.extra["linked"] = len(links)
    batch.extra["parked"] = len(to_park)
    batch.extra["released"] = len(released)
    response = await publish(ctx, tenant_id, connector, batch)
    if response.status_code >= 500:
        return response
    async with tenant_tx(ctx.pool, tenant_id) as conn:
        await conn.executemany(
            "INSERT INTO connector_parked"
            " (tenant_id, connector, object_type, object_id, event_id, event)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            [
                (tenant_id, connector, p.object_type, p.object_id, eid, p.event)
                for p, eid in to_park
            ],
        )
        await conn.execute(
            "DELETE FROM connector_parked WHERE tenant_id = $1 AND connector = $2"
            " AND event_id = ANY($3::text[])",
            tenant_id,
            connector,
            [r["event_id"] for r in released],
        )
    return response
