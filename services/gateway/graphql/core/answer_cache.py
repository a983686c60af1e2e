"""Answers of the dashboard's overview queries (`metrics` and `pipeline` only), shared by
every reader of a tenant until the tenant's read model changes.

A live dashboard refetches on every lead change; with many people watching one tenant the
gateway would compute the same answer once per viewer. Here an answer is kept per
(tenant, query text, variables) together with the tenant's change marker: the number of
its leads, the sum of their `last_seq` (every applied event, re-scores included, raises a
lead's last_seq), the count and sum of its spend rows and its latest config version (an
SLA rule changes the compliance figures at once, before any lead is touched). Workers
commit rows, so a changed marker means committed data changed, in whatever order
transactions commit. Concurrent misses of one key wait for a single computation, and an
answer older than MAX_AGE_S is recomputed anyway (the SLA figures move with the clock, not
only with events).

Reading the marker scans the tenant's leads (about 150 ms at 120,000 leads), longer than
computing the answer, so no request waits for it once the tenant has one: a request finding
it older than MARKER_TTL_S is served from it and starts the next read in the background.
A change thus shows within MARKER_TTL_S plus one read for a tenant being looked at (the
dashboard's trailing refetch, 1.5 s after a burst of changes, sees it), and a marker is
read at most once per MARKER_TTL_S per tenant, only while someone looks. A write through
this gateway drops the tenant's marker (`forget`): its author's next read waits for a
fresh one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import orjson
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse

from shared.db import tenant_tx

log = logging.getLogger("tandem.gateway.overview")

CACHEABLE_FIELDS = frozenset({"metrics", "pipeline", "__typename"})
MARKER_TTL_S = 0.25
MAX_AGE_S = 10.0
MAX_ENTRIES = 2_000
MAX_QUERY_TEXTS = 256

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
    body: bytes


def overview_request(body: bytes) -> tuple[str, str] | None:
    """(query text, canonical variables) when the body is one query that reads only
    cacheable fields; None for anything else (mutations, other fields, batches)."""
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(request, dict):
        return None
    query, variables = request.get("query"), request.get("variables") or {}
    if not isinstance(query, str) or not isinstance(variables, dict):
        return None
    if request.get("operationName") is not None or not _reads_only_cacheable(query):
        return None
    return query, orjson.dumps(variables, option=orjson.OPT_SORT_KEYS).decode()


_QUERY_VERDICTS: OrderedDict[str, bool] = OrderedDict()


def _reads_only_cacheable(query: str) -> bool:
    verdict = _QUERY_VERDICTS.get(query)
    if verdict is None:
        verdict = _classify(query)
        _QUERY_VERDICTS[query] = verdict
        if len(_QUERY_VERDICTS) > MAX_QUERY_TEXTS:
            _QUERY_VERDICTS.popitem(last=False)
    return verdict


def _classify(query: str) -> bool:
    try:
        document = parse(query)
    except GraphQLError:
        return False
    if len(document.definitions) != 1:
        return False
    operation = document.definitions[0]
    if not isinstance(operation, OperationDefinitionNode):
        return False
    if operation.operation is not OperationType.QUERY:
        return False
    selections = operation.selection_set.selections
    return all(isinstance(s, FieldNode) and s.name.value in CACHEABLE_FIELDS for s in selections)


class OverviewCache:
    def __init__(self, pool: Callable[[], asyncpg.Pool | None]) -> None:
        self._pool = pool
        self._answers: OrderedDict[tuple[str, str, str], CachedAnswer] = OrderedDict()
        self._markers: dict[str, tuple[float, Marker]] = {}
        self._marker_reads: dict[str, asyncio.Future[Marker]] = {}
        # Bumped by forget: a read begun before a write must not store its marker after it.
        self._generations: dict[str, int] = {}
        self._refreshes: set[asyncio.Task[None]] = set()
        self._computing: dict[tuple[str, str, str], asyncio.Future[CachedAnswer | None]] = {}
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

    async def answer(
        self,
        tenant_id: str,
        query: str,
        variables: str,
        compute: Callable[[], Awaitable[bytes | None]],
        admit: Callable[[], Awaitable[bool]],
    ) -> bytes | None:
        """The cached body for this key at the tenant's current marker, or the one
        `compute` returns (None: not cacheable, e.g. an error answer). A cached body is
        served only if `admit` lets this request through (the credential's rate limit);
        otherwise `compute` answers, as for a request that was never cached."""
        marker = await self.marker(tenant_id)
        key = (tenant_id, query, variables)
        cached = self._answers.get(key)
        if (
            cached is not None
            and cached.marker == marker
            and time.monotonic() - cached.stored_at < MAX_AGE_S
        ):
            if not await admit():
                return await compute()
            self.hits += 1
            self._answers.move_to_end(key)
            return cached.body
        pending = self._computing.get(key)
        if pending is not None:
            shared = await asyncio.shield(pending)
            if shared is not None and shared.marker == marker:
                if not await admit():
                    return await compute()
                self.hits += 1
                return shared.body
        self.misses += 1
        future: asyncio.Future[CachedAnswer | None] = asyncio.get_running_loop().create_future()
        self._computing[key] = future
        try:
            body = await compute()
            stored = None if body is None else CachedAnswer(marker, time.monotonic(), body)
            if stored is not None:
                self._answers[key] = stored
                if len(self._answers) > MAX_ENTRIES:
                    self._answers.popitem(last=False)
            future.set_result(stored)
            return body
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()
            raise
        finally:
            del self._computing[key]
