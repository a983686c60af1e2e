"""The step the CRM connectors (HubSpot, Salesforce) share: resolving each deal or
opportunity event to its lead before publishing.

Deal events of a CRM often do not name their contact. The lead of such an object is learned
from association events (HubSpot) or the object's contact field (Salesforce) and kept in
connector_links; an event whose lead is not known yet is parked in connector_parked (kept,
not dropped) and published by the batch that brings the link.

A Salesforce Lead converted to a Contact stays the person's lead: the conversion links the
contact to it (a `contact` link), so the contact's events, and the objects linked to the
contact in the same batch or later, belong to the lead. What was published under the
contact's own id before (its transaction sent in several requests) stays there, so a deal
never has its events on two leads.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

import asyncpg
from starlette.responses import Response

from services.gateway.connectors.common import Batch, publish
from services.gateway.connectors.mapping import Link, ObjectEvent
from services.gateway.context import GatewayContext
from shared.db import as_columns, tenant_tx
from shared.validation import validate_event

# Stands in for the lead while a parked event is validated: what is refused later would be
# refused now, so the sender learns it in this answer.
_PLACEHOLDER_LEAD = "lead-not-known-yet"


@dataclass
class CrmBatch(Batch):
    """A CRM connector's batch: besides the events ready to publish, the object events whose
    lead is resolved when publishing, and the links that name those leads."""

    pending: list[tuple[int, ObjectEvent]] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)

    def add(self, index: int, mapped: Sequence[object]) -> list[object]:
        """Files what one message mapped to (a message that maps to nothing is ignored);
        returns the results that are none of these, for the connector to report itself."""
        if not mapped:
            self.ignored += 1
        rest: list[object] = []
        for item in mapped:
            if isinstance(item, Link):
                self.links.append(item)
            elif isinstance(item, ObjectEvent):
                self.pending.append((index, item))
            elif isinstance(item, dict):
                self.events.append((index, item))
            else:
                rest.append(item)
        return rest


async def _of_objects(
    conn: asyncpg.Connection,
    columns_from_table: str,
    tenant_id: str,
    connector: str,
    objects: Collection[tuple[str, str]],
) -> list[asyncpg.Record]:
    """The rows of a connector table (links, parked events) of these (type, id) objects."""
    return list(
        await conn.fetch(
            f"SELECT {columns_from_table} WHERE tenant_id = $1 AND connector = $2"
            " AND (object_type, object_id) IN (SELECT * FROM unnest($3::text[], $4::text[]))",
            tenant_id,
            connector,
            *as_columns(objects, 2),
        )
    )


async def _through_conversions(
    conn: asyncpg.Connection, tenant_id: str, connector: str, links: Sequence[Link]
) -> list[Link]:
    """`links` with each lead that is a converted contact replaced by the lead converted to
    it: by the batch's own conversions, else by those stored."""
    converted = {x.object_id: x.lead_id for x in links if x.object_type == "contact"}
    targets = {x.lead_id for x in links if x.object_type != "contact"} - converted.keys()
    if targets:
        stored = await _of_objects(
            conn,
            "object_id, lead_id FROM connector_links",
            tenant_id,
            connector,
            [("contact", target) for target in targets],
        )
        converted.update((r["object_id"], r["lead_id"]) for r in stored)
    return [
        x if x.object_type == "contact" else replace(x, lead_id=converted.get(x.lead_id, x.lead_id))
        for x in links
    ]


async def publish_resolved(
    ctx: GatewayContext,
    tenant_id: str,
    connector: str,
    batch: CrmBatch,
) -> Response:
    """Records the batch's links, gives each object event its lead (or parks it), releases
    parked events of newly linked objects, and publishes everything in one answer."""
    assert ctx.pool is not None
    now = ctx.settings.now()
    pending, links = batch.pending, batch.links
    wanted = {(p.object_type, p.object_id) for _, p in pending} | {
        (link.object_type, link.object_id) for link in links
    }
    async with tenant_tx(ctx.pool, tenant_id) as conn:
        links = await _through_conversions(conn, tenant_id, connector, links)
        await conn.executemany(
            "INSERT INTO connector_links (tenant_id, connector, object_type, object_id, lead_id)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, connector, object_type,"
            " object_id) DO UPDATE SET lead_id = excluded.lead_id, updated_at = now()",
            [(tenant_id, connector, x.object_type, x.object_id, x.lead_id) for x in links],
        )
        rows = await _of_objects(
            conn,
            "object_type, object_id, lead_id FROM connector_links",
            tenant_id,
            connector,
            wanted,
        )
        known = {(r["object_type"], r["object_id"]): r["lead_id"] for r in rows}
        released = await _of_objects(
            conn,
            "event_id, event, object_type, object_id FROM connector_parked",
            tenant_id,
            connector,
            [(x.object_type, x.object_id) for x in links],
        )
    to_park: list[tuple[ObjectEvent, str]] = []
    for index, item in pending:
        lead = known.get((item.object_type, item.object_id), item.unlinked_lead)
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
