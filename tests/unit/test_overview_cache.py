"""Which GraphQL requests the overview cache (services/gateway/overview_cache.py) answers,
and how it keeps each tenant's change marker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import cast

import asyncpg
import orjson
import pytest

from services.gateway.graphql.core import answer_cache as overview_cache
from services.gateway.graphql.core.answer_cache import OverviewCache, overview_request

PERIOD = {"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}


def body(query: str, variables: object = None, **extra: object) -> bytes:
    return orjson.dumps({"query": query, "variables": variables, **extra})


@pytest.mark.parametrize(
    "query",
    [
        "{ pipeline { total } }",
        "query ($from: DateTime!, $to: DateTime!) { metrics(from: $from, to: $to) { mqls } }",
        "query Overview($from: DateTime!, $to: DateTime!) { a: metrics(from: $from, to: $to)"
        " { mqls } pipeline { stages { stage count } } __typename }",
    ],
)
def test_metrics_and_pipeline_queries_are_cacheable(query: str) -> None:
    assert overview_request(body(query, PERIOD)) is not None


@pytest.mark.parametrize(
    "query",
    [
        "{ pipeline { total } leads(first: 1) { totalCount } }",  # another field
        "{ viewer { role } }",  # answers differ per credential
        "mutation { updateSlaRules(input: {mqlResponseHours: 2}) { version } }",
        "subscription { leadChanges { leadId } }",
        "{ ...F } fragment F on Query { pipeline { total } }",  # spreads are not looked into
        "query A { pipeline { total } } query B { pipeline { total } }",
        "{ pipeline { total ",  # not GraphQL: strawberry answers the error
    ],
)
def test_anything_else_goes_to_the_schema(query: str) -> None:
    assert overview_request(body(query)) is None


def test_variables_are_part_of_the_key_in_a_canonical_order() -> None:
    query = "query ($from: DateTime!, $to: DateTime!) { metrics(from: $from, to: $to) { mqls } }"
    forward = overview_request(body(query, {"from": "a", "to": "b"}))
    backward = overview_request(body(query, {"to": "b", "from": "a"}))
    other = overview_request(body(query, {"from": "a", "to": "c"}))
    assert forward == backward
    assert forward != other


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[]",
        orjson.dumps([{"query": "{ pipeline { total } }"}]),  # a batch
        orjson.dumps({"query": 5}),
        orjson.dumps({"query": "{ pipeline { total } }", "variables": [1]}),
        orjson.dumps({"query": "{ pipeline { total } }", "operationName": "X"}),
    ],
)
def test_bodies_that_are_not_one_plain_query_are_left_alone(raw: bytes) -> None:
    assert overview_request(raw) is None


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
    monkeypatch.setattr(overview_cache, "tenant_tx", fake.tenant_tx)
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

    monkeypatch.setattr(overview_cache, "MARKER_TTL_S", 0.0)
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
    monkeypatch.setattr(overview_cache, "MARKER_TTL_S", 0.0)
    store.release.clear()
    assert await cache.marker("acme") == (1,)  # starts a read that sees value 1
    await settled()
    store.value = 2
    cache.forget("acme")  # a write committed while that read is in flight
    store.release.set()
    await settled()
    assert await cache.marker("acme") == (2,)
