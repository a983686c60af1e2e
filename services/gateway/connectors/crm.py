"""What the CRM connectors (HubSpot, Salesforce) share: mapped results, decisions, and the
step that resolves each deal/opportunity event to its lead before publishing.

Deal events of a CRM often do not name their contact. The lead of such an object is learned
from association events (HubSpot) or the object's contact field (Salesforce) and kept in
connector_links; an event whose lead is not known yet is parked in connector_parked (kept,
not dropped) and published by the batch that brings the link.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from services.gateway.connectors.common import Batch, publish
from services.gateway.context import GatewayContext
from shared.db import tenant_tx
from shared.validation import validate_event

# Stands in for the lead while a parked event is validated: what is refused later would be
# refused now, so the sender learns it in this answer.
_PLACEHOLDER_LEAD = "lead-not-known-yet"


class Invalid(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class ObjectEvent:
    """An event of a CRM object (deal, opportunity) whose lead is the object's link."""

    object_type: str
    object_id: str
    event: dict[str, Any]


@dataclass(frozen=True)
class Link:
    object_type: str
    object_id: str
    lead_id: str


def decision(spec: str, lead_id: str, base: Mapping[str, Any]) -> dict[str, Any]:
    """An event from a decision of a mapping table: `lead_accepted`, `lead_requalified`,
    `lead_rejected:REASON` or `lead_disqualified:REASON`."""
    kind, _, reason = spec.partition(":")
    event: dict[str, Any] = {**base, "type": kind, "lead_id": lead_id}
    if reason:
        event["properties"] = {"reason": reason}
    return event


def utc_from_millis(value: Any, field: str) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Invalid(field, "must be epoch milliseconds (an integer)")
    try:
        moment = datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise Invalid(field, f"{value} is not a representable time") from exc
    return moment.isoformat().replace("+00:00", "Z")


def number(value: Any, field: str) -> float | int:
    """A CRM number sent as a string ("5000.50") or a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    try:
        parsed = float(str(value))
    except ValueError as exc:
        raise Invalid(field, f"{value!r} is not a number") from exc
    return int(parsed) if parsed.is_integer() else parsed


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
