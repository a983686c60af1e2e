"""POST /v1/connectors/salesforce/{tenant}: Change Data Capture events (SPEC 14).

Authenticated with the tenant's connector secret (`Authorization: Bearer SECRET` or
`X-Tandem-Connector-Secret`), stored only as a hash. The body is one change event or a JSON
array of them, in their JSON form."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from services.gateway.connectors.common import error, map_messages, read_json, unauthorized
from services.gateway.connectors.deal_links import CrmBatch, publish_resolved
from services.gateway.connectors.salesforce_mapping import Gap, SalesforceMapping, to_events
from services.gateway.connectors.tenant_settings import KNOWN_TENANTS, SETTINGS, TENANT_SLUG
from services.gateway.context import GatewayContext

MAX_BODY_BYTES = 1_048_576


def _presented_secret(request: Request) -> str | None:
    given = request.headers.get("x-tandem-connector-secret")
    if given:
        return given
    auth = request.headers.get("authorization") or ""
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    return None


def _transaction_key(message: dict[str, Any]) -> str | None:
    """The id a refused change event is reported under."""
    header = message.get("ChangeEventHeader")
    key = header.get("transactionKey") if isinstance(header, dict) else None
    return key if isinstance(key, str) else None


async def post_salesforce(request: Request) -> Response:
    ctx: GatewayContext = request.app.state.ctx
    tenant_id = request.path_params["tenant"]
    refused = unauthorized("unknown tenant or wrong connector secret", scheme="Bearer")
    assert ctx.pool is not None
    limited = ctx.address_refused(request)
    if limited is not None:
        return limited
    secret = _presented_secret(request)
    if (
        secret is None
        or not TENANT_SLUG.match(tenant_id)
        or not await KNOWN_TENANTS.contains(ctx.pool, tenant_id)
    ):
        ctx.authentication_failed(request)
        return refused
    settings = await SETTINGS.get(ctx.pool, tenant_id, "salesforce")
    if not settings.secret_matches(secret):
        ctx.authentication_failed(request)
        return refused
    if not settings.enabled:
        return error(403, "CONNECTOR_DISABLED", "the Salesforce connector is disabled")
    payload = await read_json(request, MAX_BODY_BYTES)
    if isinstance(payload, Response):
        return payload
    messages = [payload] if isinstance(payload, dict) else payload
    if not isinstance(messages, list) or not messages:
        return error(400, "NOT_AN_EVENT", "body must be a change event or a non-empty array", "")

    mapping = SalesforceMapping.for_tenant(settings.mappings)
    batch = CrmBatch()
    gaps: list[dict[str, object]] = []
    for index, mapped in map_messages(
        batch, messages, "a change event", lambda m: to_events(m, mapping), _transaction_key
    ):
        rest = batch.add(index, mapped)
        gaps += [{"index": index, **gap.report()} for gap in rest if isinstance(gap, Gap)]
    batch.extra["gaps"] = gaps
    return await publish_resolved(ctx, tenant_id, "salesforce", batch)
