"""The overview cache (services/gateway/graphql/core/answer_cache.py): how it shares an
answer among a tenant's readers and keeps each tenant's change marker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import asyncpg
import pytest
from starlette.requests import Request
from strawberry.types import ExecutionResult

from services.gateway.auth import Principal
from services.gateway.context import GatewayContext
from services.gateway.graphql.core import answer_cache
from services.gateway.graphql.core.answer_cache import OverviewCache
from services.gateway.graphql.core.context import RequestContext
from services.gateway.graphql.core.enums import Stage
from services.gateway.graphql.core.hub import LeadChangeHub
from services.gateway.graphql.pipeline.resolvers import Pipeline, PipelineStage
from services.gateway.graphql.schema import schema


class Store:
    """The tenant's change marker as the database would answer it: `value`, read after
    `release` is set (so a test can hold a read in flight)."""

    def __init__(self) -> None:
        self.value = 1
        self.reads = 0
        self.release = asyncio.Event()
        self.release.set()

    @contextlib.asynccontextmanager
    async def tenant_tx(self, pool: object, tenant_id: str) -> AsyncIterator[Store]:
        yield self

    async def fetchrow(self, sql: str, tenant_id: str) -> tuple[int]:
        self.reads += 1
        seen = self.value
        await self.release.wait()
        return (seen,)


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Store:
    fake = Store()
    monkeypatch.setattr(answer_cache, "tenant_tx", fake.tenant_tx)
    return fake


async def settled() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_request_never_waits_for_a_marker_the_tenant_already_has(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = OverviewCache(lambda: cast(asyncpg.Pool, object()))
    assert await cache.marker("acme") == (1,)  # the first one is waited for
    assert await cache.marker("acme") == (1,)
    assert store.reads == 1  # within MARKER_TTL_S: not read again

    monkeypatch.setattr(answer_cache, "MARKER_TTL_S", 0.0)
    store.value = 2
    store.release.clear()
    assert await cache.marker("acme") == (1,)  # served at once; the read runs meanwhile
    assert await cache.marker("acme") == (1,)
    await settled()
    assert store.reads == 2  # one read in flight, however many requests
    store.release.set()
    await settled()
    assert await cache.marker("acme") == (2,)


async def test_a_write_makes_the_next_read_wait_for_a_marker_read_after_it(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = OverviewCache(lambda: cast(asyncpg.Pool, object()))
    assert await cache.marker("acme") == (1,)
    monkeypatch.setattr(answer_cache, "MARKER_TTL_S", 0.0)
    store.release.clear()
    assert await cache.marker("acme") == (1,)  # starts a read that sees value 1
    await settled()
    store.value = 2
    cache.forget("acme")  # a write committed while that read is in flight
    store.release.set()
    await settled()
    assert await cache.marker("acme") == (2,)


async def test_readers_of_a_tenant_share_one_answer_until_its_marker_changes(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = OverviewCache(lambda: cast(asyncpg.Pool, object()))
    computed: list[str] = []

    async def compute() -> str:
        computed.append("x")
        return f"answer {len(computed)}"

    assert await cache.answer("acme", ("pipeline",), compute) == "answer 1"
    assert await cache.answer("acme", ("pipeline",), compute) == "answer 1"
    assert await cache.answer("acme", ("metrics", 1), compute) == "answer 2"  # another key
    assert await cache.answer("other", ("pipeline",), compute) == "answer 3"  # another tenant
    store.value = 2
    cache.forget("acme")
    assert await cache.answer("acme", ("pipeline",), compute) == "answer 4"
    assert (cache.hits, cache.misses) == (1, 4)


async def test_concurrent_misses_wait_for_one_computation(store: Store) -> None:
    cache = OverviewCache(lambda: cast(asyncpg.Pool, object()))
    release = asyncio.Event()
    computed: list[int] = []

    async def compute() -> int:
        computed.append(1)
        await release.wait()
        return 42

    readers = [asyncio.create_task(cache.answer("acme", ("pipeline",), compute)) for _ in range(5)]
    await settled()
    release.set()
    assert await asyncio.gather(*readers) == [42] * 5
    assert computed == [1]


async def test_an_error_is_not_kept(store: Store) -> None:
    cache = OverviewCache(lambda: cast(asyncpg.Pool, object()))
    outcomes: list[int | Exception] = [RuntimeError("statement timeout"), 7]

    async def compute() -> int:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with pytest.raises(RuntimeError):
        await cache.answer("acme", ("pipeline",), compute)
    assert await cache.answer("acme", ("pipeline",), compute) == 7


async def execute(cache: OverviewCache, query: str, role: str = "viewer") -> ExecutionResult:
    """Runs `query` through the schema as a `role` key of acme, in a process that keeps
    `cache`."""
    context = RequestContext(
        cast(GatewayContext, None), cast(LeadChangeHub, None), Request({"type": "http"}), None
    )
    context.principal = Principal("acme", role, "key-1")
    context.overview = cache
    return await schema.execute(query, context_value=context)


async def overview_of(cache: OverviewCache, query: str) -> dict[str, Any]:
    result = await execute(cache, query)
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


def pipeline_of(total: int) -> Pipeline:
    return Pipeline(stages=[PipelineStage(stage=Stage.MQL, count=total)], total=total)


async def test_a_query_of_shareable_fields_only_is_answered_whole(store: Store) -> None:
    cache = OverviewCache(lambda: cast(asyncpg.Pool, object()))
    marker = await cache.marker("acme")
    # The resolver's own kept answer stands in for the database.
    cache.keep("acme", ("pipeline",), marker, pipeline_of(27))
    query = "{ pipeline { total } __typename }"
    assert await overview_of(cache, query) == {"pipeline": {"total": 27}, "__typename": "Query"}
    cache.keep("acme", ("pipeline",), marker, pipeline_of(5))
    # Same marker: the whole answer is served without running the resolver again...
    assert await overview_of(cache, query) == {"pipeline": {"total": 27}, "__typename": "Query"}
    # ...while a query that is not only shareable fields executes (a fragment spread is
    # not looked into), its resolver answering from its own kept answer.
    spread = "{ ...F } fragment F on Query { pipeline { total } }"
    assert await overview_of(cache, spread) == {"pipeline": {"total": 5}}
    # A changed marker: the whole answer is no longer served.
    store.value = 2
    cache.forget("acme")
    marker = await cache.marker("acme")
    cache.keep("acme", ("pipeline",), marker, pipeline_of(9))
    assert await overview_of(cache, query) == {"pipeline": {"total": 9}, "__typename": "Query"}


async def test_a_whole_answer_is_never_served_to_a_role_that_may_not_read(store: Store) -> None:
    cache = OverviewCache(lambda: cast(asyncpg.Pool, object()))
    cache.keep("acme", ("pipeline",), await cache.marker("acme"), pipeline_of(27))
    query = "{ pipeline { total } }"
    assert await overview_of(cache, query) == {"pipeline": {"total": 27}}
    refused = await execute(cache, query, role="ingest")
    assert refused.errors is not None
    assert refused.errors[0].extensions == {"code": "FORBIDDEN"}
