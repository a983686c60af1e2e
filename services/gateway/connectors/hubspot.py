"""POST /v1/connectors/hubspot/{tenant}: HubSpot webhook batches, v3-signed (SPEC 14)."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from services.gateway.connectors.common import (
    error,
    map_messages,
    parse_json,
    read_body,
    unauthorized,
)
from services.gateway.connectors.deal_links import CrmBatch, publish_resolved
from services.gateway.connectors.hubspot_mapping import (
    HubSpotMapping,
    signature_error,
    to_events,
)
from services.gateway.connectors.tenant_settings import KNOWN_TENANTS, SETTINGS, TENANT_SLUG
from services.gateway.context import GatewayContext

# HubSpot sends at most 100 events per request; this leaves ample room.
MAX_BODY_BYTES = 1_048_576


async def post_hubspot(request: Request) -> Response:
    ctx: GatewayContext = request.app.state.ctx
    tenant_id = request.path_params["tenant"]
    # An unknown tenant answers exactly like a bad signature: nothing confirms it exists.
    refused = unauthorized("signature does not verify", scheme="HubSpot-Signature-v3")
    assert ctx.pool is not None
    limited = ctx.address_refused(request)
    if limited is not None:
        return limited
    if not TENANT_SLUG.match(tenant_id) or not await KNOWN_TENANTS.contains(ctx.pool, tenant_id):
        ctx.authentication_failed(request)
        return refused
    body = await read_body(request, MAX_BODY_BYTES)
    if isinstance(body, Response):
        return body
    settings = await SETTINGS.get(ctx.pool, tenant_id, "hubspot")
    if settings.secret is None:
        ctx.authentication_failed(request)
        return refused
    problem = signature_error(
        settings.secret,
        request.method,
        str(request.url),
        body,
        request.headers.get("x-hubspot-request-timestamp"),
        request.headers.get("x-hubspot-signature-v3"),
        int(time.time() * 1000),
    )
    if problem is not None:
        ctx.authentication_failed(request)
        return unauthorized(problem, scheme="HubSpot-Signature-v3")
    if not settings.enabled:
        return error(403, "CONNECTOR_DISABLED", "the HubSpot connector is disabled")
    payload = parse_json(body)
    if isinstance(payload, Response):
        return payload
    if not isinstance(payload, list) or not payload:
        return error(400, "NOT_AN_ARRAY", "body must be a non-empty JSON array of events", "")

    mapping = HubSpotMapping.for_tenant(settings.mappings)
    batch = CrmBatch()
    for index, mapped in map_messages(
        batch,
        payload,
        "an event",
        lambda message: to_events(message, mapping),
        lambda message: str(message.get("eventId")),
    ):
        batch.add(index, mapped)
    return await publish_resolved(ctx, tenant_id, "hubspot", batch)
