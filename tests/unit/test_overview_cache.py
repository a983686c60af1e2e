"""Which GraphQL requests the overview cache (services/gateway/overview_cache.py) answers."""

from __future__ import annotations

import orjson
import pytest

from services.gateway.overview_cache import overview_request

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
