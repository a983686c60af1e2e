"""Segment-compatible intake (SPEC 14): /v1/batch and the single-message calls.

Segment's libraries authenticate with HTTP Basic, the write key as user name and an empty
password; here the write key is a Tandem API key of role `write_key` (or, as before, ingest
or admin). A `write_key` is public by nature, so it writes marketing touches and identity
only: a message that maps to a sales outcome, a decision, spend or feedback is refused with
its reason while the rest of the batch is applied. Limits are Segment's: 32 KB per message,
500 KB per request (after gzip is inflated).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from services.gateway.auth import Principal, Role
from services.gateway.connectors.common import (
    Batch,
    error,
    map_messages,
    publish,
    read_json,
    unauthorized,
)
from services.gateway.connectors.mapping import Invalid
from services.gateway.connectors.segment_mapping import (
    SegmentMapping,
    Unmapped,
    encoded,
    to_event,
    translate_field,
)
from services.gateway.connectors.tenant_settings import SETTINGS
from services.gateway.context import GatewayContext
from services.gateway.ingest import INGEST_ROLES
from shared.domain.events import IDENTITY_TYPES, MARKETING_TOUCHES

MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
SEGMENT_ROLES = INGEST_ROLES | {Role.WRITE_KEY.value}
# What a public write key may produce: whoever reads a page's source holds the key.
WRITE_KEY_TYPES = MARKETING_TOUCHES | IDENTITY_TYPES


def write_key(request: Request) -> str | None:
    """The Basic user name (Segment's write key), or an X-API-Key / Bearer credential."""
    auth = request.headers.get("authorization") or ""
    if auth[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[0] or None
    return None


async def _principal(ctx: GatewayContext, request: Request) -> Principal | Response:
    key = write_key(request)
    if key is not None:
        # The gateway's one authentication step reads X-API-Key; the write key is one.
        scope = dict(request.scope)
        scope["headers"] = [
            (name, value) for name, value in request.scope["headers"] if name != b"authorization"
        ] + [(b"x-api-key", key.encode())]
        request = Request(scope, request.receive)
    elif request.headers.get("authorization") is None and "x-api-key" not in request.headers:
        return unauthorized("missing write key: send HTTP Basic with the write key as user name")
    principal = await ctx.principal(request)
    if isinstance(principal, Response):
        if principal.status_code == 401:
            return unauthorized("unknown or revoked write key")
        return principal
    if principal.role not in SEGMENT_ROLES:
        return error(403, "FORBIDDEN", f"role {principal.role!r} may not send events")
    return principal


def write_key_refusal(event: dict[str, Any]) -> str:
    return (
        f"a write key sends marketing touches and identity only, not {event.get('type')!r}:"
        " send sales outcomes with an ingest key or through a CRM connector"
    )


def _message_id(message: dict[str, Any]) -> str | None:
    given = message.get("messageId")
    return given if isinstance(given, str) else None


async def _intake(request: Request, kind: str | None) -> Response:
    ctx: GatewayContext = request.app.state.ctx
    principal = await _principal(ctx, request)
    if isinstance(principal, Response):
        return principal
    payload = await read_json(request, MAX_BATCH_BYTES)
    if isinstance(payload, Response):
        return payload
    if not isinstance(payload, dict):
        return error(400, "NOT_AN_OBJECT", "body must be a JSON object", "")
    if kind is None:
        messages = payload.get("batch")
        if not isinstance(messages, list):
            return error(400, "MISSING_BATCH", "body must carry a `batch` array", "batch")
    else:
        messages = [{**payload, "type": kind}]
    if not messages:
        return error(400, "EMPTY_BATCH", "`batch` holds no message", "batch")

    assert ctx.pool is not None
    settings = await SETTINGS.get(ctx.pool, principal.tenant_id, "segment")
    if not settings.enabled:
        return error(403, "CONNECTOR_DISABLED", "Segment intake is disabled for this tenant")
    mapping = SegmentMapping.for_tenant(settings.mappings)
    received_at = ctx.settings.now()
    batch = Batch()

    def to_mapped(message: dict[str, Any]) -> dict[str, Any] | Unmapped:
        if len(encoded(message)) > MAX_MESSAGE_BYTES:
            raise Invalid("", f"message exceeds {MAX_MESSAGE_BYTES} bytes (32 KB)")
        return to_event(str(message.get("type")), message, mapping, received_at)

    for index, event in map_messages(batch, messages, "a message", to_mapped, _message_id):
        if isinstance(event, Unmapped):
            batch.ignored += 1
            continue
        if principal.role == Role.WRITE_KEY and event.get("type") not in WRITE_KEY_TYPES:
            batch.reject(index, event.get("event_id"), "event", write_key_refusal(event))
            continue
        batch.events.append((index, event))
    return await publish(ctx, principal.tenant_id, "segment", batch, translate_field)


async def post_batch(request: Request) -> Response:
    return await _intake(request, None)


def single(kind: str) -> Any:
    async def endpoint(request: Request) -> Response:
        return await _intake(request, kind)

    endpoint.__name__ = f"post_{kind}"
    return endpoint


ROUTES = [("/v1/batch", post_batch)] + [
    (f"/v1/{kind}", single(kind))
    for kind in ("track", "identify", "page", "screen", "group", "alias")
]
