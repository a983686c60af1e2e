"""The per-request GraphQL context: who asks (from the credential only), and the tenant
bound transactions and loaders every resolver reads through."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import asyncpg
from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from services.gateway.auth import Principal
from services.gateway.context import GatewayContext
from services.gateway.graphql.core.errors import UNAUTHENTICATED, coded
from services.gateway.graphql.core.hub import LeadChangeHub
from services.gateway.graphql.core.loaders import LoaderRegistry, LoaderScope
from services.gateway.limits import GraphQLLimits, SharedRateLimiter

if TYPE_CHECKING:
    from services.gateway.graphql.core.answer_cache import OverviewCache


@dataclass
class RequestContext:
    gateway: GatewayContext
    hub: LeadChangeHub
    request: Request | WebSocket
    response: Any
    principal: Principal | None = None
    # Filled by strawberry with the payload of a WebSocket's connection_init.
    connection_params: dict[str, Any] | None = None
    limits: GraphQLLimits = field(default_factory=GraphQLLimits)
    # The process's shared rate limit, and whose operations it counts (limits.rate_key);
    # without one (tests of the schema alone) operations are not counted.
    rate_limiter: SharedRateLimiter | None = None
    rate_key: str | None = None
    # Subscriptions running on this context: one WebSocket connection's.
    open_subscriptions: int = 0
    # The process's shared answers of the overview fields (core/answer_cache.py).
    overview: OverviewCache | None = None

    @property
    def is_websocket(self) -> bool:
        return isinstance(self.request, WebSocket)

    @property
    def pool(self) -> asyncpg.Pool:
        assert self.gateway.pool is not None, "the gateway is not started"
        return self.gateway.pool

    @property
    def tenant_id(self) -> str:
        if self.principal is None:
            raise coded("no credential: send X-API-Key or Authorization: Bearer", UNAUTHENTICATED)
        return self.principal.tenant_id

    def now(self) -> datetime:
        return self.gateway.settings.now()

    @cached_property
    def scope(self) -> LoaderScope:
        return LoaderScope(
            self.pool,
            self.tenant_id,
            cache=not self.is_websocket,
            statement_timeout_ms=self.limits.statement_timeout_ms,
        )

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction that sees only the caller's tenant (row-level security), each
        statement under the request's statement timeout."""
        async with self.scope.tx() as conn:
            yield conn

    @cached_property
    def loaders(self) -> LoaderRegistry:
        return LoaderRegistry(self.scope)


Info = StrawberryInfo[RequestContext, None]
