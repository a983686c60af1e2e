"""POST /v1/events: validate a batch, write array records (shared/records.py), answer on ack."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import orjson
from aiokafka.errors import KafkaError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.gateway.bodies import BodyRefused, read_body
from services.gateway.context import GatewayContext
from services.gateway.metrics import EVENTS_ACCEPTED, EVENTS_REJECTED, REQUESTS_REFUSED
from services.gateway.quotas import QuotaExceeded
from services.gateway.rejection_reasons import RejectionReasons, reason_errors
from shared.kafka import TOUCHPOINTS, TOUCHPOINTS_BULK
from shared.records import encode_records
from shared.validation import validate_event

log = logging.getLogger("tandem.ingest")

MAX_BODY_BYTES = 1_048_576
MAX_EVENTS = 1_000
INGEST_ROLES = frozenset({"ingest", "admin"})
RETRY_AFTER_S = "5"
REJECTION_REASONS = RejectionReasons()
# `?lane=bulk` for backfills: same contract and answers, drained after live traffic.
LANES = {"live": TOUCHPOINTS, "bulk": TOUCHPOINTS_BULK}


def _error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    REQUESTS_REFUSED.labels(code).inc()
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


def _unavailable(code: str, what: str) -> JSONResponse:
    """503: `what` failed, and nothing of the request was accepted."""
    message = f"{what}; nothing of this request was accepted, retry"
    return _error(503, code, message, **{"Retry-After": RETRY_AFTER_S})


async def post_events(request: Request) -> Response:
    ctx: GatewayContext = request.app.state.ctx
    principal = await ctx.principal(request)
    if isinstance(principal, Response):
        return principal
    if principal.role not in INGEST_ROLES:
        return _error(403, "FORBIDDEN", f"role {principal.role!r} may not send events")
    body = await read_body(request, MAX_BODY_BYTES)
    if isinstance(body, BodyRefused):
        return _error(body.status, body.code, body.message)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return _error(400, "MALFORMED_JSON", f"body is not valid JSON: {exc}")
    if not isinstance(payload, list):
        return _error(400, "NOT_AN_ARRAY", "body must be a JSON array of events")
    if not payload:
        return _error(400, "EMPTY_BATCH", "body must hold at least one event")
    if len(payload) > MAX_EVENTS:
        return _error(
            413, "TOO_MANY_EVENTS", f"{len(payload)} events sent; at most {MAX_EVENTS} per request"
        )

    lane = request.query_params.get("lane", "live")
    if lane not in LANES:
        return _error(400, "BAD_LANE", f"lane must be one of {', '.join(LANES)}; got {lane!r}")
    outcome = await accept_events(ctx, principal.tenant_id, payload, topic=LANES[lane])
    if isinstance(outcome, Response):
        return outcome
    accepted, rejected = outcome
    return Response(
        orjson.dumps({"accepted": accepted, "rejected": rejected}),
        200,
        media_type="application/json",
    )


async def accept_events(
    ctx: GatewayContext, tenant_id: str, events: list[Any], *, topic: str = TOUCHPOINTS
) -> tuple[int, list[dict[str, Any]]] | Response:
    """Validates candidate events of one tenant and publishes the valid ones to `topic`
    (the live lane unless a backfill asks for TOUCHPOINTS_BULK).

    Returns (accepted count, rejected entries), or the 503 to answer when nothing could be
    accepted. Every intake (this endpoint, the connectors) goes through here."""
    now = ctx.settings.now()
    accepted: list[dict[str, Any]] = []
    rejected = []
    reasons: tuple[str, ...] | None = None
    for index, event in enumerate(events):
        errors = [
            {"field": e.field, "reason": e.reason}
            for e in validate_event(event, now=now, tenant_id=tenant_id)
        ]
        if not errors and event["type"] == "lead_rejected":
            if reasons is None:
                assert ctx.pool is not None
                try:
                    reasons = await REJECTION_REASONS.allowed(ctx.pool, tenant_id)
                except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
                    log.warning("tenant config unavailable", extra={"error": repr(exc)})
                    return _unavailable(
                        "CONFIG_UNAVAILABLE", "the tenant's rejection reasons could not be read"
                    )
            errors = reason_errors(event, reasons)
        if errors:
            event_id = event.get("event_id") if isinstance(event, dict) else None
            rejected.append(
                {
                    "index": index,
                    "event_id": event_id if isinstance(event_id, str) else None,
                    "errors": errors,
                }
            )
        else:
            event["tenant_id"] = tenant_id
            accepted.append(event)

    if accepted:
        assert ctx.pool is not None
        try:
            await ctx.quotas.take(ctx.pool, tenant_id, len(accepted))
        except QuotaExceeded as exc:
            return _error(
                429, "QUOTA_EXCEEDED", str(exc), **{"Retry-After": str(exc.retry_after_s)}
            )
        except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
            log.warning("intake quota unavailable", extra={"error": repr(exc)})
            return _unavailable(
                "QUOTA_UNAVAILABLE", "the tenant's intake quota could not be checked"
            )
        try:
            await ctx.publish_events(
                encode_records(accepted, await ctx.touchpoint_partitions()), topic
            )
        except (KafkaError, TimeoutError) as exc:
            log.warning(
                "kafka unavailable; batch refused",
                extra={"tenant_id": tenant_id, "error": repr(exc)},
            )
            return _unavailable("KAFKA_UNAVAILABLE", "the event log is unavailable")
    EVENTS_ACCEPTED.inc(len(accepted))
    EVENTS_REJECTED.inc(len(rejected))
    return len(accepted), rejected
