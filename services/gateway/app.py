"""The gateway: event ingestion, GraphQL, health and metrics on one Starlette app."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from services.gateway.connectors.routes import routes as connector_routes
from services.gateway.context import GatewayContext
from services.gateway.graphql.endpoint import GraphQLApp
from services.gateway.ingest import post_events
from services.gateway.metrics import RequestObserver, metrics_endpoint
from services.gateway.web import web_routes
from shared.settings import Settings, load_settings


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    ctx: GatewayContext = request.app.state.ctx
    checks: dict[str, str] = {}
    try:
        assert ctx.pool is not None
        await asyncio.wait_for(ctx.pool.fetchval("SELECT 1"), 2)
        checks["postgres"] = "ok"
    except Exception as exc:
        checks["postgres"] = f"unavailable: {exc.__class__.__name__}"
    try:
        assert ctx.producer is not None, "producer not connected"
        await asyncio.wait_for(ctx.producer.client.fetch_all_metadata(), 2)
        checks["kafka"] = "ok"
    except Exception as exc:
        checks["kafka"] = f"unavailable: {exc.__class__.__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, 200 if ready else 503)


def create_app(settings: Settings | None = None) -> Starlette:
    ctx = GatewayContext(settings or load_settings())
    # Fail closed: without a JWT key of its own the gateway does not start at all.
    ctx.jwt.require_keys()
    graphql = GraphQLApp(ctx)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await ctx.start()
        try:
            yield
        finally:
            await graphql.aclose()
            await ctx.stop()

    routes = [
        Route("/v1/events", post_events, methods=["POST"]),
        *connector_routes(),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
        *web_routes(),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestObserver, routes=routes)],
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    return app
