"""Answers of the dashboard's overview fields (`metrics` and `pipeline`), shared by every
reader of a tenant until the tenant's read model changes.

A live dashboard refetches on every lead change; with many people watching one tenant the
gateway would compute the same answer once per viewer. The resolvers of those fields
(their own domains', which declare them with `share_answers`) answer through
`cached_answer`, and a query that reads nothing else is answered whole, without executing
it (`SharedAnswers`, after the schema's parse and validation, both cached per query text).
An answer is kept per (tenant, field and arguments, or query text and variables) together
with the tenant's change marker: the sum of its rows in tenant_changes, to which every
statement writing its leads, opportunities or spend appends a fresh sequence value
(migration 0056), and its latest config version (an SLA rule changes the compliance
figures at once, before any lead is touched). A committed write raises the sum, so a
changed marker means committed data changed, in whatever order transactions commit.
Concurrent misses of a field wait for a single computation, and an answer older than
MAX_AGE_S is recomputed anyway (the SLA figures move with the clock, not only with
events). The operation's rate and cost limits run before either cache answers; a field's
permission and period check run before its resolver, and a whole answer goes only to the
roles that may read them.

The marker is a read of a few rows, but a round trip all the same, so no request waits for
it once the tenant has one: a request finding it older than MARKER_TTL_S is served from it
and starts the next read in the background. A change thus shows within MARKER_TTL_S plus
one read for a tenant being looked at (the dashboard's trailing refetch, 1.5 s after a
burst of changes, sees it), and a marker is read at most once per MARKER_TTL_S per tenant,
only while someone looks. A mutation through this gateway drops the tenant's marker
(`ForgetOnMutation`): its author's next read waits for a fresh one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import asyncpg
import orjson
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import FieldNode, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from services.gateway.graphql.core.context import Info, RequestContext
from services.gateway.graphql.core.permissions import READ_ROLES
from shared.db import tenant_tx

log = logging.getLogger("tandem.gateway.overview")

T = TypeVar("T")

MARKER_TTL_S = 0.25
MAX_AGE_S = 10.0
MAX_ENTRIES = 2_000

MARKER_SQL = """
SELECT (SELECT coalesce(sum(mark), 0) FROM tenant_changes WHERE tenant_id = $1),
       (SELECT coalesce(max(version), 0) FROM tenant_config_versions WHERE tenant_id = $1)
"""

Marker = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    marker: Marker
    stored_at: float
    value: object


class OverviewCache:
    def __init__(self, pool: Callable[[], asyncpg.Pool | None]) -> None:
        self._pool = pool
        self._answers: OrderedDict[tuple[str, Hashable], CachedAnswer] = OrderedDict()
        self._markers: dict[str, tuple[float, Marker]] = {}
        self._marker_reads: dict[str, asyncio.Future[Marker]] = {}
        # Bumped by forget: a read begun before a write must not store its marker after it.
        self._generations: dict[str, int] = {}
        self._refreshes: set[asyncio.Task[None]] = set()
        self._computing: dict[tuple[str, Hashable], asyncio.Future[CachedAnswer]] = {}
        self.hits = 0
        self.misses = 0

    def forget(self, tenant_id: str) -> None:
        """Drops the tenant's marker, so its next overview read waits for a fresh one."""
        self._markers.pop(tenant_id, None)
        self._marker_reads.pop(tenant_id, None)
        self._generations[tenant_id] = self._generations.get(tenant_id, 0) + 1

    async def marker(self, tenant_id: str) -> Marker:
        known = self._markers.get(tenant_id)
        if known is not None:
            if time.monotonic() - known[0] >= MARKER_TTL_S and tenant_id not in self._marker_reads:
                task = asyncio.create_task(self._refresh(tenant_id, self._begin_read(tenant_id)))
                self._refreshes.add(task)
                task.add_done_callback(self._refreshes.discard)
            return known[1]
        pending = self._marker_reads.get(tenant_id)
        if pending is not None:
            return await asyncio.shield(pending)
        return await self._read_marker(tenant_id, self._begin_read(tenant_id))

    def _begin_read(self, tenant_id: str) -> asyncio.Future[Marker]:
        # Registered before any await, so requests meanwhile join this read.
        future: asyncio.Future[Marker] = asyncio.get_running_loop().create_future()
        self._marker_reads[tenant_id] = future
        return future

    async def _refresh(self, tenant_id: str, future: asyncio.Future[Marker]) -> None:
        try:
            await self._read_marker(tenant_id, future)
        except Exception:  # the last marker keeps serving; the next request tries again
            log.warning("overview marker read failed", extra={"tenant_id": tenant_id})

    async def _read_marker(self, tenant_id: str, future: asyncio.Future[Marker]) -> Marker:
        generation = self._generations.get(tenant_id, 0)
        started = time.monotonic()
        try:
            pool = self._pool()
            assert pool is not None, "the gateway pool is not started"
            async with tenant_tx(pool, tenant_id) as conn:
                row = await conn.fetchrow(MARKER_SQL, tenant_id)
            marker: Marker = tuple(row)
            if self._generations.get(tenant_id, 0) == generation:
                self._markers[tenant_id] = (started, marker)
            future.set_result(marker)
            return marker
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here; waiters get it through their await
            raise
        finally:
            if self._marker_reads.get(tenant_id) is future:
                del self._marker_reads[tenant_id]

    async def kept(self, tenant_id: str, key: Hashable) -> tuple[Marker, object | None]:
        """The tenant's current marker, and the answer kept for this key at it (or None)."""
        marker = await self.marker(tenant_id)
        cached = self._answers.get((tenant_id, key))
        if (
            cached is not None
            and cached.marker == marker
            and time.monotonic() - cached.stored_at < MAX_AGE_S
        ):
            self.hits += 1
            self._answers.move_to_end((tenant_id, key))
            return marker, cached.value
        return marker, None

    def keep(self, tenant_id: str, key: Hashable, marker: Marker, value: object) -> None:
        self._answers[(tenant_id, key)] = CachedAnswer(marker, time.monotonic(), value)
        if len(self._answers) > MAX_ENTRIES:
            self._answers.popitem(last=False)

    async def answer(self, tenant_id: str, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """The answer kept for this key at the tenant's current marker, or the one `compute`
        returns (an error raised is not kept: the next request computes again)."""
        marker, value = await self.kept(tenant_id, key)
        if value is not None:
            return cast(T, value)
        full = (tenant_id, key)
        pending = self._computing.get(full)
        if pending is not None:
            try:
                shared = await asyncio.shield(pending)
            except Exception:  # that computation failed: this request tries its own
                shared = None
            if shared is not None and shared.marker == marker:
                self.hits += 1
                return cast(T, shared.value)
        self.misses += 1
        future: asyncio.Future[CachedAnswer] = asyncio.get_running_loop().create_future()
        self._computing[full] = future
        try:
            computed = await compute()
            self.keep(tenant_id, key, marker, computed)
            future.set_result(CachedAnswer(marker, time.monotonic(), computed))
            return computed
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        finally:
            if self._computing.get(full) is future:
                del self._computing[full]


async def cached_answer(info: Info, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
    """`compute()`, shared with the tenant's other readers through the process's overview
    cache while the tenant's read model stays as it was; computed per request where there
    is no cache (a WebSocket's subscriptions, tests of the schema alone)."""
    ctx = info.context
    if ctx.overview is None or ctx.is_websocket:
        return await compute()
    return await ctx.overview.answer(ctx.tenant_id, key, compute)


# Root query fields whose answers are the tenant's alone (not the caller's), declared by
# their domains with `share_answers`.
_SHAREABLE: set[str] = {"__typename"}


def share_answers(field_name: str) -> None:
    """Declares a root query field that every reading role may read (`read_field`) and
    that answers through `cached_answer`: a query reading only such fields is answered
    whole from the cache (`SharedAnswers`)."""
    _SHAREABLE.add(field_name)


class SharedAnswers(SchemaExtension):
    """A query that reads only shareable fields (the dashboard's overview) is answered whole
    from the tenant's kept result while its marker holds, without executing it: its
    resolvers would only read their kept answers back. Runs after OperationLimits, so the
    rate and cost limits count and refuse it as any other operation."""

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        ctx = execution.context
        key = _whole_answer_key(execution)
        if key is None or not isinstance(ctx, RequestContext) or ctx.overview is None:
            yield
            return
        cache, tenant_id = ctx.overview, ctx.tenant_id
        marker, data = await cache.kept(tenant_id, key)
        if data is not None:
            execution.result = GraphQLExecutionResult(data=cast(dict[str, Any], data))
        yield
        result = execution.result
        if data is None and isinstance(result, GraphQLExecutionResult) and not result.errors:
            cache.keep(tenant_id, key, marker, result.data)


def _whole_answer_key(execution: ExecutionContext) -> Hashable | None:
    """("query", text, variables) for one plain query over shareable fields only, from the
    document strawberry parsed; None for anything else (and over WebSocket)."""
    ctx = execution.context
    document = execution.graphql_document
    if (
        document is None
        or execution.query is None
        or execution.operation_type is not OperationType.QUERY
        or not isinstance(ctx, RequestContext)
        or ctx.is_websocket
        or ctx.principal is None
        # Executing checks each field's permission; a whole answer skips execution, so it
        # is served only to the roles every shareable field admits.
        or ctx.principal.role not in READ_ROLES
        or len(document.definitions) != 1
    ):
        return None
    operation = document.definitions[0]
    if not isinstance(operation, OperationDefinitionNode) or not all(
        isinstance(s, FieldNode) and s.name.value in _SHAREABLE
        for s in operation.selection_set.selections
    ):
        return None
    try:
        variables = orjson.dumps(execution.variables or {}, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        # A value JSON numbers cannot carry (an integer past 64 bits): no shared answer, so
        # validation answers it as it answers any other request.
        return None
    return ("query", execution.query, variables)


class ForgetOnMutation(SchemaExtension):
    """A mutation (an SLA limit, a config version, spend) may change an overview answer at
    once; its author's next read must see it, not a marker up to MARKER_TTL_S old."""

    def on_execute(self) -> Iterator[None]:
        yield
        execution = self.execution_context
        ctx = execution.context
        if (
            execution.operation_type is OperationType.MUTATION
            and isinstance(ctx, RequestContext)
            and ctx.overview is not None
            and ctx.principal is not None
        ):
            ctx.overview.forget(ctx.principal.tenant_id)
