"""Limits, roles and error codes of the GraphQL API, executed against the schema itself:
every case here is refused before a resolver would touch the database."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLError

from services.gateway.auth import Principal
from services.gateway.context import GatewayContext
from services.gateway.graphql.core.context import RequestContext
from services.gateway.graphql.core.errors import with_code
from services.gateway.graphql.core.hub import LeadChangeHub
from services.gateway.graphql.schema import MAX_TOKENS, schema
from shared.settings import load_settings


def context(role: str = "viewer") -> RequestContext:
    return RequestContext(
        gateway=GatewayContext(load_settings()),
        hub=LeadChangeHub("127.0.0.1:1"),
        request=None,  # type: ignore[arg-type]
        response=None,
        principal=Principal("tenant-a", role, "key:test"),
    )


async def refused(query: str, role: str = "viewer", **variables: Any) -> tuple[str, str]:
    result = await schema.execute(query, variable_values=variables, context_value=context(role))
    assert result.errors, f"expected {query!r} to be refused"
    assert result.data is None or all(v is None for v in result.data.values())
    error = result.errors[0]
    return error.message, (error.extensions or {}).get("code", "")


def nested(depth: int) -> str:
    """lead → opportunities → lead → …, `depth` levels of selections."""
    body = "id"
    for level in range(depth - 1, 0, -1):
        body = f"{'opportunities' if level % 2 else 'lead'} {{ {body} }}"
    return f'{{ lead(id: "L-1") {{ {body} }} }}'


async def test_a_query_nested_past_the_depth_limit_is_refused() -> None:
    message, code = await refused(nested(12))
    assert code == "BAD_USER_INPUT"
    assert "exceeds maximum operation depth of 10" in message


async def test_more_aliases_than_the_limit_are_refused() -> None:
    aliases = " ".join(f"p{i}: pipeline {{ total }}" for i in range(16))
    message, code = await refused(f"{{ {aliases} }}")
    assert (code, message) == ("BAD_USER_INPUT", "16 aliases found. Allowed: 15")


async def test_a_document_over_the_token_limit_is_refused() -> None:
    fields = " ".join("total" for _ in range(MAX_TOKENS))
    message, code = await refused(f"{{ pipeline {{ {fields} }} }}")
    assert code == "BAD_USER_INPUT"
    assert f"more than {MAX_TOKENS} tokens" in message


@pytest.mark.parametrize("first", [501, 10_000, -1])
async def test_a_page_outside_0_to_500_is_bad_input(first: int) -> None:
    message, code = await refused("query($n: Int) { leads(first: $n) { totalCount } }", n=first)
    assert code == "BAD_USER_INPUT"
    assert "between 0 and 500" in message and str(first) in message


async def test_a_cursor_not_from_the_connection_is_bad_input() -> None:
    message, code = await refused('{ leads(after: "not-a-cursor") { totalCount } }')
    assert code == "BAD_USER_INPUT"
    assert "cursor" in message


async def test_an_empty_or_reversed_period_is_bad_input() -> None:
    for query in (
        '{ metrics(from: "2026-10-01T00:00:00Z", to: "2026-09-01T00:00:00Z") { mqls } }',
        '{ sourceQuality(from: "2026-09-01T00:00:00Z", to: "2026-09-01T00:00:00Z") { leads } }',
        "{ attribution(model: LINEAR, kind: REVENUE, groupBy: CHANNEL,"
        ' from: "2026-10-01", to: "2026-09-01") { key } }',
    ):
        message, code = await refused(query)
        assert code == "BAD_USER_INPUT"
        assert "`from`" in message


async def test_a_malformed_date_time_is_bad_input() -> None:
    message, code = await refused(
        'query($f: DateTime!) { metrics(from: $f, to: "2026-11-20") { mqls } }',
        f="last tuesday",
    )
    assert code == "BAD_USER_INPUT"
    assert "ISO 8601" in message


async def test_the_ingest_role_cannot_query_or_subscribe() -> None:
    for query in (
        "{ pipeline { total } }",
        '{ lead(id: "L-1") { id } }',
        "{ tenantConfig { version } }",
    ):
        _, code = await refused(query, role="ingest")
        assert code == "FORBIDDEN"
    result = await schema.subscribe(
        "subscription { leadChanges { leadId } }", context_value=context("ingest")
    )
    first = await anext(result)
    assert first.errors and (first.errors[0].extensions or {}).get("code") == "FORBIDDEN"


@pytest.mark.parametrize("role", ["viewer", "marketing", "sales", "ingest"])
async def test_only_admins_change_the_configuration(role: str) -> None:
    message, code = await refused(
        "mutation { updateSlaRules(input: {mqlResponseHours: 4}) { version } }", role=role
    )
    assert code == "FORBIDDEN"
    assert "admin" in message


async def test_unknown_fields_are_bad_input() -> None:
    message, code = await refused("{ leads { edges { node { password } } } }")
    assert code == "BAD_USER_INPUT"
    assert "password" in message


def test_a_resolver_failure_is_masked_as_internal() -> None:
    failure = GraphQLError("boom: dsn=postgresql://secret", path=["metrics"])
    coded = with_code(failure)
    assert coded.extensions == {"code": "INTERNAL_SERVER_ERROR"}
    assert "secret" not in coded.message
    kept = GraphQLError("no such thing", path=["lead"], extensions={"code": "NOT_FOUND"})
    assert with_code(kept) is kept
