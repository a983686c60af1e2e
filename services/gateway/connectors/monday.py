"""POST /v1/connectors/monday/{tenant}: the Monday.com board webhook (status changes).

- `{"challenge": "..."}` is answered with the same challenge: Monday.com sends it once, when
  the webhook is created, and creates the webhook only if it comes back.
- Every other request must carry, in `Authorization`, a JWT signed (HS256) with the signing
  secret the admin set for the connector, not expired, whose audience, when given, is this
  endpoint. A request that does not verify changes nothing (401).
- A status changed on Tandem's Status column of an item Tandem keeps for an action item sets
  that action item's status; the action item's author becomes "Monday.com". Anything else
  (another column, an item Tandem does not keep, a label of no status) is acknowledged and
  ignored, so Monday.com does not retry it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from starlette.requests import Request
from starlette.responses import Response

from services.gateway.connectors.common import answer, error, parse_json, read_body, unauthorized
from services.gateway.connectors.tenant_settings import TENANT_SLUG
from services.gateway.context import GatewayContext
from shared.db import tenant_tx
from shared.monday import STATUS_COLUMN, status_of_label
from shared.secret_box import box, context_for

log = logging.getLogger("tandem.connectors.monday")

MAX_BODY_BYTES = 65_536
TTL_S = 5.0
# Only tenants with a board are remembered, at most this many: a stream of unknown tenant
# names costs no memory.
MAX_CACHED = 10_000
AUTHOR = "Monday.com"


@dataclass(frozen=True)
class Hook:
    enabled: bool
    board_id: str | None
    signing_secret: str | None
    status_column: str | None = None  # the board's id of Tandem's Status column


_CACHE: dict[str, tuple[float, Hook]] = {}


async def _hook(ctx: GatewayContext, tenant_id: str) -> Hook:
    """The tenant's board and signing secret, reused for TTL_S."""
    now = time.monotonic()
    cached = _CACHE.get(tenant_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    assert ctx.pool is not None
    async with tenant_tx(ctx.pool, tenant_id) as conn:
        row = await conn.fetchrow(
            "SELECT b.board_id, b.signing_secret, coalesce(c.enabled, true) AS enabled,"
            " b.layout -> 'columns' ->> $2 AS status_column"
            " FROM monday_boards b LEFT JOIN connector_settings c"
            " ON c.tenant_id = b.tenant_id AND c.connector = 'monday' WHERE b.tenant_id = $1",
            tenant_id,
            STATUS_COLUMN,
        )
    if row is None:
        return Hook(False, None, None)
    sealed = row["signing_secret"]
    secret = (
        None
        if sealed is None
        else box().open(sealed, context_for("monday_boards", "signing_secret", tenant_id))
    )
    hook = Hook(row["enabled"], row["board_id"], secret, row["status_column"])
    if len(_CACHE) >= MAX_CACHED:
        _CACHE.clear()
    _CACHE[tenant_id] = (now + TTL_S, hook)
    return hook


def token_problem(token: str | None, secret: str, path: str) -> str | None:
    """Why the JWT of a webhook request does not verify, or None when it does."""
    if not token:
        return "no Authorization token"
    token = token.removeprefix("Bearer ").strip()
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["exp"], "verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        return f"token does not verify: {exc}"
    audience = claims.get("aud")
    # Behind a proxy the host may differ; the path names the tenant and must match.
    if audience is not None and urlsplit(str(audience)).path.rstrip("/") != path.rstrip("/"):
        return "token is for another endpoint"
    return None


async def post_monday(request: Request) -> Response:
    ctx: GatewayContext = request.app.state.ctx
    tenant_id = request.path_params["tenant"]
    refused = unauthorized("token does not verify", scheme="Bearer")
    body = await read_body(request, MAX_BODY_BYTES)
    if isinstance(body, Response):
        return body
    payload = parse_json(body)
    if isinstance(payload, Response):
        return payload
    if not isinstance(payload, dict):
        return error(400, "NOT_AN_OBJECT", "body must be a JSON object")
    if set(payload) == {"challenge"} and isinstance(payload["challenge"], str):
        # Echoing the challenge back reveals nothing and writes nothing.
        return answer(200, {"challenge": payload["challenge"]})
    if not TENANT_SLUG.match(tenant_id):
        return refused
    hook = await _hook(ctx, tenant_id)
    if hook.signing_secret is None:
        return refused
    problem = token_problem(
        request.headers.get("authorization"), hook.signing_secret, request.url.path
    )
    if problem is not None:
        return unauthorized(problem, scheme="Bearer")
    if not hook.enabled:
        return error(403, "CONNECTOR_DISABLED", "the Monday.com connector is disabled")
    event = payload.get("event")
    if not isinstance(event, dict):
        return error(400, "NO_EVENT", "body must hold an event", "event")
    outcome = await _apply(ctx, tenant_id, hook, event)
    log.info("monday.com webhook", extra={"tenant_id": tenant_id, "outcome": outcome})
    return answer(200, {"success": True, "outcome": outcome})


def _label(event: dict[str, Any]) -> str | None:
    value = event.get("value")
    label = value.get("label") if isinstance(value, dict) else None
    if isinstance(label, dict):
        label = label.get("text")
    return label if isinstance(label, str) else None


async def _apply(ctx: GatewayContext, tenant_id: str, hook: Hook, event: dict[str, Any]) -> str:
    column = event.get("columnId")
    if str(event.get("boardId")) != hook.board_id or column != hook.status_column:
        return "ignored: not the status of Tandem's board"
    label = _label(event)
    status = None if label is None else status_of_label(label)
    if status is None:
        return "ignored: a label of no action item status"
    assert ctx.pool is not None
    async with tenant_tx(ctx.pool, tenant_id) as conn:
        key = await conn.fetchval(
            "SELECT item_key FROM monday_items"
            " WHERE tenant_id = $1 AND board_id = $2 AND item_id = $3",
            tenant_id,
            hook.board_id,
            str(event.get("pulseId")),
        )
        if key is None or not key.startswith("action:"):
            return "ignored: not an action item Tandem keeps"
        action_item_id = key.removeprefix("action:")
        updated = await conn.fetchval(
            "UPDATE action_items SET status = $3, author = $4, updated_at = now()"
            " WHERE tenant_id = $1 AND action_item_id = $2 AND status <> $3"
            " RETURNING action_item_id",
            tenant_id,
            action_item_id,
            status,
            AUTHOR,
        )
        # The board shows this label now: the next round need not send it back.
        await conn.execute(
            "UPDATE monday_items SET sent = jsonb_set(sent, $4, $5)"
            " WHERE tenant_id = $1 AND board_id = $2 AND item_key = $3",
            tenant_id,
            hook.board_id,
            key,
            [STATUS_COLUMN],
            {"label": label},
        )
    return "updated" if updated else "unchanged"
