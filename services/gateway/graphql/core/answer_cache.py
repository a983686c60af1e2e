"""Answers of the dashboard's overview fields (`metrics` and `pipeline`), shared by every
reader of a tenant until the tenant's read model changes.

A live dashboard refetches on every lead change; with many people watching one tenant the
gateway would compute the same answer once per viewer. The resolvers of those fields
(their own domains') answer through `cached_answer`: an answer is kept per (tenant, field,
arguments) together with the tenant's change marker: the number of its leads, the sum of
their `last_seq` (every applied event, re-scores included, raises a lead's last_seq), the
count and sum of its spend rows and its latest config version (an SLA rule changes the
compliance figures at once, before any lead is touched). Workers commit rows, so a changed
marker means committed data changed, in whatever order transactions commit. Concurrent
misses of one key wait for a single computation, and an answer older than MAX_AGE_S is
recomputed anyway (the SLA figures move with the clock, not only with events). The field's
permission, the period check and the operation's limits (rate and cost) run before the
resolver, so a cached answer is refused exactly as a computed one would be.

Reading the marker scans the tenant's leads (about 150 ms at 120,000 leads), longer than
computing the answer, so no request waits for it once the tenant has one: a request finding
it older than MARKER_TTL_S is served from it and starts the next read in the background.
A change thus shows within MARKER_TTL_S plus one read for a tenant being looked at (the
dashboard's trailing refetch, 1.5 s after a burst of changes, sees it), and a marker is
read at most once per MARKER_TTL_S per tenant, only while someone looks. A mutation
through this gateway drops the tenant's marker (`ForgetOnMutation`): its author's next read
waits for a fresh one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import TypeVar, cast

import asyncpg
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from services.gateway.graphql.core.context import Info, RequestContext
from shared.db import tenant_tx

log = logging.getLogger("tandem.gateway.overview")

T = TypeVar("T")

MARKER_TTL_S = 0.25
MAX_AGE_S = 10.0
MAX_ENTRIES = 2_000

MARKER_SQL = """
SELECT (SELECT count(*) FROM leads WHERE tenant_id = $1),
       (SELECT coalesce(sum(last_seq), 0) FROM leads WHERE tenant_id = $1),
       (SELECT count(*) FROM spend WHERE tenant_id = $1),
       (SELECT coalesce(sum(amount), 0) FROM spend WHERE tenant_id = $1),
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

    async def answer(self, tenant_id: str, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """The answer kept for this key at the tenant's current marker, or the one `compute`
        returns (an error raised is not kept: the next request computes again)."""
        marker = await self.marker(tenant_id)
        full = (tenant_id, key)
        cached = self._answers.get(full)
        if (
            cached is not None
            and cached.marker == marker
            and time.monotonic() - cached.stored_at < MAX_AGE_S
        ):
            self.hits += 1
            self._answers.move_to_end(full)
            return cast(T, cached.value)
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
            value = await compute()
            stored = CachedAnswer(marker, time.monotonic(), value)
            self._answers[full] = stored
            if len(self._answers) > MAX_ENTRIES:
                self._answers.popitem(last=False)
            future.set_result(stored)
            return value
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
