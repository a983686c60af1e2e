"""What every connector endpoint shares: reading a (gzip) body within a limit, one error
shape, rejecting the messages that do not map, and turning mapped messages into one answer.

The answers are the same for every connector:
- 401 no or bad credential (nothing applied), 413 body too large (nothing applied),
  400 a body that is not what the connector reads (nothing applied, `field` names it);
- 200 `{"success": true, "accepted": n, "ignored": k}` when every message was applied or
  deliberately ignored (an unmapped event name, a property nobody maps);
- 400 `{"success": false, "accepted": n, "ignored": k, "rejected": [...]}` when some
  messages were invalid: the valid ones are applied (nothing valid is lost) and every
  invalid one is listed with its index, id and fields. Event ids are deterministic, so a
  sender that resends the whole batch after fixing it applies nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response

from services.gateway.bodies import BodyRefused
from services.gateway.bodies import read_body as read_decoded
from services.gateway.connectors.mapping import Invalid
from services.gateway.context import GatewayContext
from services.gateway.ingest import accept_events
from services.gateway.metrics import CONNECTOR_MESSAGES

log = logging.getLogger("tandem.connectors")

T = TypeVar("T")


def answer(status: int, doc: dict[str, Any], **headers: str) -> Response:
    return Response(orjson.dumps(doc), status, media_type="application/json", headers=headers)


def error(status: int, code: str, message: str, field: str | None = None) -> Response:
    detail: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        detail["field"] = field
    return answer(status, {"success": False, "error": detail})


def unauthorized(message: str, scheme: str = "Basic") -> Response:
    response = error(401, "UNAUTHENTICATED", message)
    response.headers["WWW-Authenticate"] = f'{scheme} realm="tandem"'
    return response


async def read_body(request: Request, limit: int) -> bytes | Response:
    """The (inflated) body, or the 413/400 to answer."""
    body = await read_decoded(request, limit)
    if isinstance(body, BodyRefused):
        return error(body.status, body.code, body.message)
    return body


def parse_json(body: bytes) -> Any | Response:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return error(400, "MALFORMED_JSON", f"body is not valid JSON: {exc}")


async def read_json(request: Request, limit: int) -> Any | Response:
    """The (inflated) body parsed as JSON, or the 413/400 to answer."""
    body = await read_body(request, limit)
    if isinstance(body, Response):
        return body
    return parse_json(body)


@dataclass
class Batch:
    """Messages of one request mapped to Tandem events, before anything is published.

    `events` pairs each event with the index of the message it came from (a message may give
    several events, or none)."""

    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    rejected: dict[int, dict[str, Any]] = field(default_factory=dict)
    ignored: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def reject(self, index: int, message_id: str | None, field_name: str, reason: str) -> None:
        entry = self.rejected.setdefault(index, {"index": index, "id": message_id, "errors": []})
        entry["errors"].append({"field": field_name, "reason": reason})


def map_messages(
    batch: Batch,
    messages: list[Any],
    noun: str,
    to_mapped: Callable[[dict[str, Any]], T],
    message_id: Callable[[dict[str, Any]], str | None],
) -> Iterator[tuple[int, T]]:
    """Each message of the body that maps, with its index. A message that is not a JSON
    object (`noun` names it in the reason), or that `to_mapped` refuses (Invalid), is
    rejected in the batch under its `message_id`."""
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            batch.reject(index, None, "", f"{noun} must be a JSON object")
            continue
        try:
            mapped = to_mapped(message)
        except Invalid as exc:
            batch.reject(index, message_id(message), exc.field, exc.reason)
            continue
        yield index, mapped


async def publish(
    ctx: GatewayContext,
    tenant_id: str,
    connector: str,
    batch: Batch,
    translate: Callable[[str], str] = lambda f: f,
) -> Response:
    """Validates and publishes the batch's events through the one ingestion step, and
    answers as the module docstring says. `translate` turns an event field the validator
    names back into the sender's own field name."""
    events = [event for _, event in batch.events]
    accepted = 0
    if events:
        outcome = await accept_events(ctx, tenant_id, events)
        if isinstance(outcome, Response):
            return outcome
        accepted, rejected = outcome
        for entry in rejected:
            index = batch.events[entry["index"]][0]
            for err in entry["errors"]:
                batch.reject(index, entry["event_id"], translate(err["field"]), err["reason"])
    CONNECTOR_MESSAGES.labels(connector, "ignored").inc(batch.ignored)
    doc: dict[str, Any] = {"accepted": accepted, "ignored": batch.ignored, **batch.extra}
    if batch.rejected:
        rejected_list = [batch.rejected[i] for i in sorted(batch.rejected)]
        log.warning(
            "connector messages rejected",
            extra={
                "tenant_id": tenant_id,
                "connector": connector,
                "event_ids": [r["id"] for r in rejected_list],
                "accepted": accepted,
            },
        )
        CONNECTOR_MESSAGES.labels(connector, "rejected").inc(len(rejected_list))
        return answer(400, {"success": False, **doc, "rejected": rejected_list})
    return answer(200, {"success": True, **doc})
