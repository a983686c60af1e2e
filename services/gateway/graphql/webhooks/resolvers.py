"""Webhooks (SPEC 15): admins subscribe URLs to event types and see every delivery with its
attempts. The secret that signs a subscription's deliveries is shown once, when it is
created or rotated. Sending is the delivery service's; this module only writes the
subscriptions it reads and reads the deliveries it records."""

# strawberry types its resolver decorators as returning Any.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Any

import asyncpg
import strawberry
from strawberry.dataloader import DataLoader

from services.gateway.graphql.core.context import Info
from services.gateway.graphql.core.errors import bad_input, not_found
from services.gateway.graphql.core.inputs import new_id
from services.gateway.graphql.core.loaders import LoaderScope
from services.gateway.graphql.core.permissions import admin_field, admin_mutation
from services.gateway.graphql.core.relay import Connection, Edge, Keyset, page_size
from services.gateway.graphql.core.rows import from_row
from shared.egress import EgressPolicy, UrlRefused, check_url
from shared.webhooks import MAX_WEBHOOKS, WebhookEventType, new_secret, seal_secret

strawberry.enum(
    WebhookEventType, description="What a webhook can subscribe to; the value is the body's `type`"
)


@strawberry.enum
class DeliveryStatus(Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


WEBHOOK_COLUMNS = (
    "webhook_id, url, event_types, slack_format, score_threshold, enabled, created_at, updated_at"
)
DELIVERY_COLUMNS = (
    "delivery_id, webhook_id, event_id, event_type, status, attempts AS attempt_count,"
    " created_at, next_attempt_at, completed_at, last_status_code, last_error, body"
)


@strawberry.type(description="One try to deliver: its answer and how long it took")
class WebhookAttempt:
    attempt: int
    started_at: datetime
    status_code: int | None = strawberry.field(description="null: no HTTP answer")
    latency_ms: int
    error: str | None


@strawberry.type(description="An event addressed to one webhook, with every attempt so far")
class WebhookDelivery:
    id: strawberry.ID
    webhook_id: strawberry.ID
    event_id: str = strawberry.field(description="the body's id and Idempotency-Key")
    event_type: str
    status: DeliveryStatus
    attempt_count: int
    created_at: datetime
    next_attempt_at: datetime | None = strawberry.field(
        description="when it is tried next (PENDING only)"
    )
    completed_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    body: str = strawberry.field(description="the JSON (or Slack message) sent, as signed")

    @strawberry.field(description="oldest first")
    async def attempts(self, info: Info) -> list[WebhookAttempt]:
        return await info.context.loaders.of(attempt_loader).load(str(self.id))

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> WebhookDelivery:
        values = dict(row)
        if values["status"] != "PENDING":
            values["next_attempt_at"] = None
        return from_row(cls, values, id_column="delivery_id")


@strawberry.type
class WebhookDeliveryConnection(Connection[Edge[WebhookDelivery]]):
    pass


_DELIVERY_CURSORS = Keyset(
    "webhookDelivery", {"created_at": datetime.fromisoformat, "delivery_id": str}
)


@strawberry.type(description="A subscription of a URL to event types")
class Webhook:
    id: strawberry.ID
    url: str
    event_types: list[WebhookEventType]
    slack_format: bool = strawberry.field(description="deliveries are Slack Block Kit messages")
    score_threshold: int = strawberry.field(
        description="lead.score_changed fires when a lead's score moved at least this much "
        "since the last score this webhook was told"
    )
    enabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> Webhook:
        types = [WebhookEventType(t) for t in row["event_types"]]
        return from_row(cls, {**row, "event_types": types}, id_column="webhook_id")


@strawberry.type(description="A webhook and its signing secret, shown this once")
class WebhookWithSecret:
    webhook: Webhook
    secret: str = strawberry.field(
        description='verifies Tandem-Signature: HMAC-SHA256 of "<t>.<body>"; not shown again'
    )


@strawberry.input
class WebhookInput:
    url: str
    event_types: list[WebhookEventType]
    slack_format: bool = False
    score_threshold: int = 10


@strawberry.input(description="The fields to change; the others keep their value")
class WebhookUpdateInput:
    url: str | None = None
    event_types: list[WebhookEventType] | None = None
    slack_format: bool | None = None
    score_threshold: int | None = None
    enabled: bool | None = None


def attempt_loader(scope: LoaderScope) -> DataLoader[str, list[WebhookAttempt]]:
    """A page of deliveries asks for all their attempts in one query."""

    async def load(ids: Sequence[str]) -> list[list[WebhookAttempt]]:
        rows = await scope.fetch(
            "SELECT delivery_id, attempt, started_at, status_code, latency_ms, error"
            " FROM webhook_attempts WHERE tenant_id = $1 AND delivery_id = ANY($2::text[])"
            " ORDER BY delivery_id, attempt",
            list(ids),
        )
        by_id: dict[str, list[WebhookAttempt]] = {i: [] for i in ids}
        for row in rows:
            by_id[row["delivery_id"]].append(from_row(WebhookAttempt, row))
        return [by_id[i] for i in ids]

    return DataLoader(load_fn=load, cache=scope.cache)


async def _checked_url(url: str, path: str) -> str:
    url = url.strip()
    try:
        await check_url(url, EgressPolicy.from_env())
    except UrlRefused as exc:
        raise bad_input(f"`{path}`: {exc}", [(path, str(exc))]) from exc
    return url


def _checked_types(types: Sequence[Any], path: str) -> list[str]:
    values = list(dict.fromkeys(t.value for t in types))
    if not values:
        raise bad_input(f"`{path}` must name at least one event type", [(path, "empty")])
    return values


def _checked_threshold(value: int, path: str) -> int:
    if not 1 <= value <= 200:
        raise bad_input(
            f"`{path}` must be between 1 and 200 (score points), got {value}",
            [(path, "must be between 1 and 200")],
        )
    return value


async def _webhook_row(conn: asyncpg.Connection, tenant_id: str, webhook_id: str) -> Any:
    row = await conn.fetchrow(
        f"SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = $1 AND webhook_id = $2",
        tenant_id,
        webhook_id,
    )
    if row is None:
        raise not_found("webhook", webhook_id)
    return row


@strawberry.type
class WebhookQueries:
    # Reading is for admins only: a webhook's URL can carry a receiver's token.
    @admin_field("The tenant's webhooks")
    async def webhooks(self, info: Info) -> list[Webhook]:
        rows = await info.context.scope.fetch(
            f"SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = $1"
            " ORDER BY created_at, webhook_id",
        )
        return [Webhook.from_record(r) for r in rows]

    @admin_field("Deliveries, newest first, each with its attempts; of one webhook if given")
    async def webhook_deliveries(
        self,
        info: Info,
        webhook_id: strawberry.ID | None = None,
        status: DeliveryStatus | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> WebhookDeliveryConnection:
        limit = page_size(first)
        position = _DELIVERY_CURSORS.position(after) or (None, None)
        rows = await info.context.scope.fetch(
            f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE tenant_id = $1"
            " AND ($2::text IS NULL OR webhook_id = $2)"
            " AND ($3::text IS NULL OR status = $3)"
            " AND ($4::timestamptz IS NULL OR (created_at, delivery_id) < ($4, $5))"
            " ORDER BY created_at DESC, delivery_id DESC LIMIT $6",
            None if webhook_id is None else str(webhook_id),
            None if status is None else status.value,
            *position,
            limit + 1,
        )
        edges, page = _DELIVERY_CURSORS.page(rows, limit, after, WebhookDelivery.from_record)
        return WebhookDeliveryConnection(edges=edges, page_info=page)


@strawberry.type
class WebhookMutations:
    @admin_mutation("Subscribes a URL; the answer holds the signing secret, shown only now")
    async def create_webhook(self, info: Info, input: WebhookInput) -> WebhookWithSecret:
        url = await _checked_url(input.url, "input.url")
        types = _checked_types(input.event_types, "input.eventTypes")
        threshold = _checked_threshold(input.score_threshold, "input.scoreThreshold")
        secret = new_secret()
        async with info.context.tx() as conn:
            count = await conn.fetchval(
                "SELECT count(*) FROM webhooks WHERE tenant_id = $1", info.context.tenant_id
            )
            if count >= MAX_WEBHOOKS:
                raise bad_input(f"a tenant has at most {MAX_WEBHOOKS} webhooks")
            row = await conn.fetchrow(
                "INSERT INTO webhooks (tenant_id, webhook_id, url, event_types, secret,"
                " slack_format, score_threshold, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, now(), now())"
                f" RETURNING {WEBHOOK_COLUMNS}",
                info.context.tenant_id,
                new_id("wh"),
                url,
                types,
                seal_secret(secret, info.context.tenant_id),
                input.slack_format,
                threshold,
            )
        return WebhookWithSecret(webhook=Webhook.from_record(row), secret=secret)

    @admin_mutation()
    async def update_webhook(
        self, info: Info, id: strawberry.ID, input: WebhookUpdateInput
    ) -> Webhook:
        url = None if input.url is None else await _checked_url(input.url, "input.url")
        types = (
            None
            if input.event_types is None
            else _checked_types(input.event_types, "input.eventTypes")
        )
        threshold = (
            None
            if input.score_threshold is None
            else _checked_threshold(input.score_threshold, "input.scoreThreshold")
        )
        async with info.context.tx() as conn:
            await _webhook_row(conn, info.context.tenant_id, str(id))
            row = await conn.fetchrow(
                "UPDATE webhooks SET url = coalesce($3, url),"
                " event_types = coalesce($4, event_types),"
                " slack_format = coalesce($5, slack_format),"
                " score_threshold = coalesce($6, score_threshold),"
                " enabled = coalesce($7, enabled), updated_at = now()"
                f" WHERE tenant_id = $1 AND webhook_id = $2 RETURNING {WEBHOOK_COLUMNS}",
                info.context.tenant_id,
                str(id),
                url,
                types,
                input.slack_format,
                threshold,
                input.enabled,
            )
        return Webhook.from_record(row)

    @admin_mutation("Removes a webhook with its deliveries; true if it existed")
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> bool:
        async with info.context.tx() as conn:
            await _webhook_row(conn, info.context.tenant_id, str(id))
            await conn.execute(
                "DELETE FROM webhooks WHERE tenant_id = $1 AND webhook_id = $2",
                info.context.tenant_id,
                str(id),
            )
        return True

    @admin_mutation("A new signing secret, effective for every attempt from now; shown only now")
    async def rotate_webhook_secret(self, info: Info, id: strawberry.ID) -> WebhookWithSecret:
        secret = new_secret()
        async with info.context.tx() as conn:
            await _webhook_row(conn, info.context.tenant_id, str(id))
            row = await conn.fetchrow(
                "UPDATE webhooks SET secret = $3, updated_at = now()"
                f" WHERE tenant_id = $1 AND webhook_id = $2 RETURNING {WEBHOOK_COLUMNS}",
                info.context.tenant_id,
                str(id),
                seal_secret(secret, info.context.tenant_id),
            )
        return WebhookWithSecret(webhook=Webhook.from_record(row), secret=secret)
