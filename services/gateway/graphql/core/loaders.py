"""The per-request loader registry: each domain's DataLoaders are built once per request,
on first use, and shared by every resolver of that request, so a page of 500 items asking
for their versions costs one query, not 500.

A domain registers its loaders by naming a factory, a function of the `LoaderScope`:
`info.context.loaders.of(message_loaders)`. The factory object is the key, so two domains
never share (or clash over) loaders."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Concatenate, ParamSpec, TypeVar

import asyncpg

from shared.db import tenant_tx

T = TypeVar("T")
P = ParamSpec("P")


@dataclass(frozen=True)
class LoaderScope:
    """What a loader may read: the tenant's rows, through `tx()`. `cache` is off for a
    WebSocket, whose context lives as long as the connection: its loaders batch but do not
    cache, so a lead read an hour ago is not served again."""

    pool: asyncpg.Pool
    tenant_id: str
    cache: bool
    statement_timeout_ms: int | None = None

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction of the tenant under the request's statement timeout."""
        timeout = self.statement_timeout_ms
        async with tenant_tx(self.pool, self.tenant_id, statement_timeout_ms=timeout) as conn:
            yield conn

    # One statement or one store function in a transaction of its own. As everywhere, the
    # SQL names the tenant as $1 (and `args` as $2, ...): row-level security already limits
    # it to the tenant, the condition lets the planner use the tenant-first indexes.
    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self.tx() as conn:
            return list(await conn.fetch(sql, self.tenant_id, *args))

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async with self.tx() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(sql, self.tenant_id, *args)
            return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self.tx() as conn:
            return await conn.fetchval(sql, self.tenant_id, *args)

    async def run(
        self,
        read: Callable[Concatenate[asyncpg.Connection, str, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`read(conn, tenant_id, *args, **kwargs)`: a store function of the tenant."""
        async with self.tx() as conn:
            return await read(conn, self.tenant_id, *args, **kwargs)


@dataclass
class LoaderRegistry:
    scope: LoaderScope
    _built: dict[Callable[[LoaderScope], Any], Any] = field(default_factory=dict)

    def of(self, factory: Callable[[LoaderScope], T]) -> T:
        """This request's loaders made by `factory`, built on the first call."""
        if factory not in self._built:
            self._built[factory] = factory(self.scope)
        loaders: T = self._built[factory]
        return loaders
