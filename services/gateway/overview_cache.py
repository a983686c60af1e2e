"""Answers of the dashboard's overview queries (`metrics` and `pipeline` only), shared by
every reader of a tenant until the tenant's read model changes.

A live dashboard refetches on every lead change; with many people watching one tenant the
gateway would compute the same answer once per viewer. Here an answer is kept per
(tenant, query text, variables) together with the tenant's change marker: the number of
its leads, the sum of their `last_seq` (every applied event, re-scores included, raises a
lead's last_seq), the count and sum of its spend rows and its latest config version (an
SLA rule changes the compliance figures at once, before any lead is touched). Workers
commit rows, so a changed marker means committed data changed, in whatever order
transactions commit. The
marker is read at most once per MARKER_TTL_S per tenant, concurrent misses of one key
wait for a single computation, and an answer older than MAX_AGE_S is recomputed anyway
(the SLA figures move with the clock, not only with events).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import orjson
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse

from shared.db import tenant_tx

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
        self._computing: dict[tuple[str, str, str], asyncio.Future[CachedAnswer | None]] = {}
        self.hits = 0
        self.misses = 0

    def forget(self, tenant_id: str) -> None:
        """Drops the tenant's marker, so the next overview read checks the database."""
        self._markers.pop(tenant_id, None)

    async def marker(self, tenant_id: str) -> Marker:
        now = time.monotonic()
        known = self._markers.get(tenant_id)
        if known is not None and now - known[0] < MARKER_TTL_S:
            return known[1]
        pending = self._marker_reads.get(tenant_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Marker] = asyncio.get_running_loop().create_future()
        self._marker_reads[tenant_id] = future
        try:
            pool = self._pool()
            assert pool is not None, "the gateway pool is not started"
            async with tenant_tx(pool, tenant_id) as conn:
                row = await conn.fetchrow(MARKER_SQL, tenant_id)
            marker: Marker = tuple(row)
            self._markers[tenant_id] = (now, marker)
            future.set_result(marker)
            return marker
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here; waiters get it through their await
            raise
        finally:
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
