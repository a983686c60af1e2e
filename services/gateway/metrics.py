"""The gateway's Prometheus metrics, its request middleware, and GET /metrics.

Labels are bounded: route templates (never raw paths), methods, status codes, GraphQL
operation types and root fields of the schema, error and rejection codes. No tenant label:
the number of tenants is not bounded, and /metrics must name none of them. /metrics is the
platform's, not a tenant's: it answers the operator's scrape token TANDEM_METRICS_TOKEN
(Bearer) only; a tenant's credential, even an admin's, gets 403, and anything else 401
without a word about what is inside.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from graphql import OperationDefinitionNode, OperationType
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from services.gateway.auth import credential_from_headers
from shared import tracing

if TYPE_CHECKING:
    from services.gateway.context import GatewayContext

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)

# From 2 ms (a credential check) to 10 s (the slowest report query we allow).
_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_DURATION = Histogram(
    "tandem_http_request_duration_seconds",
    "HTTP request latency by route template, method and status",
    ["route", "method", "status"],
    buckets=_BUCKETS,
    registry=REGISTRY,
)
GRAPHQL_DURATION = Histogram(
    "tandem_graphql_operation_duration_seconds",
    "GraphQL query and mutation latency by operation type and root field",
    ["operation", "field"],
    buckets=_BUCKETS,
    registry=REGISTRY,
)
GRAPHQL_ERRORS = Counter(
    "tandem_graphql_errors_total",
    "GraphQL errors by code (UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT, NOT_FOUND, ...)",
    ["code"],
    registry=REGISTRY,
)
EVENTS_ACCEPTED = Counter(
    "tandem_events_accepted_total",
    "events acknowledged by Kafka and answered as accepted",
    registry=REGISTRY,
)
EVENTS_REJECTED = Counter(
    "tandem_events_rejected_total",
    "events answered as rejected (invalid), the valid ones of their request accepted",
    registry=REGISTRY,
)
REQUESTS_REFUSED = Counter(
    "tandem_ingest_requests_refused_total",
    "ingestion requests refused as a whole, by error code",
    ["code"],
    registry=REGISTRY,
)
CONNECTOR_MESSAGES = Counter(
    "tandem_connector_messages_total",
    "connector messages not turned into events, by connector and outcome (ignored, rejected)",
    ["connector", "outcome"],
    registry=REGISTRY,
)
AUTH_FAILURES = Counter(
    "tandem_auth_failures_total",
    "requests refused before any work: unauthenticated, rate_limited, unavailable",
    ["reason"],
    registry=REGISTRY,
)

UNMATCHED = "unmatched"


def route_of(routes: list[BaseRoute], scope: Scope) -> str:
    """The template of the route a request goes to (a bounded label)."""
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", UNMATCHED))
    return UNMATCHED


class RequestObserver:
    """ASGI middleware: a latency observation and a server span for every HTTP request."""

    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = route_of(self.routes, scope)
        method = scope["method"]
        status = 500
        started = time.perf_counter()

        async def observe(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        # Only a traced request needs its headers decoded (for a caller's traceparent).
        headers = (
            {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            if tracing.enabled()
            else {}
        )
        with tracing.server_span(method, route, headers) as span:
            try:
                await self.app(scope, receive, observe)
            finally:
                if span is not None:
                    span.set_attribute("http.response.status_code", status)
                HTTP_DURATION.labels(route, method, str(status)).observe(
                    time.perf_counter() - started
                )


class OperationMetrics(SchemaExtension):
    """Latency of each GraphQL query or mutation by type and first root field, and its
    errors by code. A subscription lives as long as its connection: it is not timed."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ctx = self.execution_context
        for error in (ctx.result.errors if ctx.result else None) or ctx.pre_execution_errors or []:
            code = (error.extensions or {}).get("code", "INTERNAL")
            GRAPHQL_ERRORS.labels(code if isinstance(code, str) else "INTERNAL").inc()
        if ctx.graphql_document is None:
            return
        operation = ctx.operation_type.value
        if operation == "subscription":
            return
        GRAPHQL_DURATION.labels(operation, _root_field(ctx, operation)).observe(
            time.perf_counter() - started
        )


def _root_field(ctx: Any, operation: str) -> str:
    """The operation's first root field if the schema has it (a client cannot invent one).

    strawberry keeps the graphql-core schema, which knows the root types, as `_schema`."""
    root = ctx.schema._schema.get_root_type(OperationType(operation))
    for definition in ctx.graphql_document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            ctx.operation_name is None
            or (definition.name and definition.name.value == ctx.operation_name)
        ):
            for selection in definition.selection_set.selections:
                name = getattr(getattr(selection, "name", None), "value", None)
                if root is not None and name in root.fields:
                    return str(name)
            break
    return "other"


async def metrics_endpoint(request: Request) -> Response:
    """GET /metrics: for the operator's scrape token; 401 / 403 otherwise."""
    gateway: GatewayContext = request.app.state.ctx
    token = gateway.settings.metrics_token
    credential = credential_from_headers(request.headers)
    if not (token and credential and hmac.compare_digest(credential.encode(), token.encode())):
        principal = await gateway.principal(request)
        if isinstance(principal, Response):
            return principal
        return JSONResponse(
            {
                "error": {
                    "code": "FORBIDDEN",
                    "message": "the platform's metrics are read with the operator's metrics"
                    " token (TANDEM_METRICS_TOKEN), not a tenant's credential",
                }
            },
            403,
        )
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
