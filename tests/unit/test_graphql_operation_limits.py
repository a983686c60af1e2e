"""The limits of SPEC 10 that refuse an operation before it reaches the database: its cost,
the span of a period, and the error a statement over the request's timeout becomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from graphql import GraphQLError, parse

from services.gateway.auth import Principal
from services.gateway.context import GatewayContext
from services.gateway.graphql.core.context import RequestContext
from services.gateway.graphql.core.errors import is_internal, with_code
from services.gateway.graphql.core.hub import LeadChangeHub
from services.gateway.graphql.core.limits import (
    MAX_COST,
    MAX_CREDIT_WORK,
    MAX_LEAD_OPPORTUNITIES,
    operation_cost,
)
from services.gateway.graphql.core.periods import MAX_PERIOD_DAYS, check_period
from services.gateway.graphql.schema import schema
from services.gateway.limits import GraphQLLimits, rate_key
from shared.settings import load_settings

PAGE = "edges { node { id transitions { at } opportunities { id } } }"
NESTED = "edges { node { id transitions { at } opportunities { lead { opportunities { id } } } } }"


def context() -> RequestContext:
    # No pool: an operation that reached a resolver would fail as an internal error.
    return RequestContext(
        gateway=GatewayContext(load_settings()),
        hub=LeadChangeHub("127.0.0.1:1"),
        request=None,  # type: ignore[arg-type]
        response=None,
        principal=Principal("tenant-a", "viewer", "key:test"),
    )


def cost(query: str, **variables: Any) -> int:
    return operation_cost(schema._schema, parse(query), None, variables)


async def refused(query: str, **variables: Any) -> GraphQLError:
    result = await schema.execute(query, variable_values=variables, context_value=context())
    assert result.errors and result.data is None, result
    return result.errors[0]


def test_a_page_costs_its_size_times_what_each_item_selects() -> None:
    # leads 1 + edges (1 + 500 * (node 1 + transitions 1 + opportunities 1))
    assert cost(f"{{ leads(first: 500) {{ {PAGE} }} }}") == 1 + 1 + 500 * 3
    assert cost(f"{{ leads(first: 10) {{ {PAGE} }} }}") == 1 + 1 + 10 * 3
    # Without `first`, the default page of 100; scalars cost nothing, page info 1.
    assert cost("{ leads { edges { node { id } } } }") == 1 + 1 + 100
    assert cost("{ leads { totalCount pageInfo { hasNextPage } edges { cursor } } }") == 3
    # A list without paging counts its largest length: a lead's opportunities, at most 50.
    nested = 1 + 1 + 500 * (1 + 1 + (1 + MAX_LEAD_OPPORTUNITIES * (1 + 1)))
    assert cost(f"{{ leads(first: 500) {{ {NESTED} }} }}") == nested > MAX_COST


def test_account_members_are_a_page_and_its_attribution_weighs_its_work() -> None:
    members = '{ account(id: "a") { members { lead { id opportunities { id } } } } }'
    # account 1 + members (1 + 100 * (lead 1 + opportunities (1 + 50 * 0)))
    assert cost(members) == 1 + 1 + 100 * (1 + 1)
    assert cost(members.replace("members", "members(first: 500)")) == 1 + 1 + 500 * 2
    credit = "attribution(model: LINEAR, kind: REVENUE) { channel amount }"
    one = cost(f'{{ account(id: "a") {{ {credit} }} }}')
    assert one == 1 + 1 + MAX_CREDIT_WORK // 1_000
    # every account of a page crediting its touches in Python: refused before it runs
    page = f"{{ accounts(first: 500) {{ edges {{ node {{ {credit} }} }} }} }}"
    assert cost(page) > MAX_COST


def test_variables_fragments_and_aliases_count_like_the_text_they_stand_for() -> None:
    with_variable = "query($n: Int) { leads(first: $n) { edges { node { id } } } }"
    assert cost(with_variable, n=400) == cost("{ leads(first: 400) { edges { node { id } } } }")
    assert cost(with_variable) == cost("{ leads { edges { node { id } } } }")
    fragment = (
        "query { leads(first: 50) { ...page } } fragment page on LeadConnection"
        " { edges { node { ... on Lead { opportunities { id } } } } }"
    )
    assert cost(fragment) == cost(
        "{ leads(first: 50) { edges { node { opportunities { id } } } } }"
    )
    page = "leads(first: 50) { edges { node { id } } }"
    assert cost(f"{{ a: {page} b: {page} }}") == 2 * cost(f"{{ {page} }}")


async def test_an_operation_over_the_cost_limit_is_refused_before_it_runs() -> None:
    error = await refused(f"{{ leads(first: 500) {{ {NESTED} }} }}")
    extensions = error.extensions or {}
    assert extensions["code"] == "QUERY_TOO_COSTLY"
    assert extensions["maxCost"] == MAX_COST and extensions["cost"] > MAX_COST
    assert "smaller pages" in error.message


async def test_a_period_longer_than_the_maximum_is_bad_input_naming_the_limit() -> None:
    error = await refused(
        '{ metrics(from: "2025-01-01T00:00:00Z", to: "2026-02-06T00:00:00Z") { mqls } }'
    )
    extensions = error.extensions or {}
    assert extensions["code"] == "BAD_USER_INPUT"
    assert f"longer than {MAX_PERIOD_DAYS} days" in error.message
    assert extensions["fields"] == [
        {"path": "to", "message": f"must be at most {MAX_PERIOD_DAYS} days after `from`"}
    ]


def test_a_period_of_exactly_the_maximum_is_allowed() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    check_period(start, start + timedelta(days=MAX_PERIOD_DAYS))
    with pytest.raises(GraphQLError):
        check_period(start, start + timedelta(days=MAX_PERIOD_DAYS, seconds=1))


def test_a_statement_over_the_timeout_is_a_typed_error_not_an_internal_one() -> None:
    cancelled = GraphQLError(
        "canceling statement due to statement timeout",
        path=["metrics"],
        original_error=asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
    )
    assert not is_internal(cancelled)
    coded = with_code(cancelled)
    assert (coded.extensions or {})["code"] == "STATEMENT_TIMEOUT"
    assert "statement timeout" in coded.message and coded.path == ["metrics"]


def test_rate_limits_count_each_credential_of_a_tenant_apart() -> None:
    assert rate_key("key:abc", "tdm_abc_secret") == "key:abc"
    assert rate_key("alice", "token-1") == "alice"
    # JWTs without a subject do not share one bucket: each token counts for itself.
    first, second = rate_key("jwt", "token-1"), rate_key("jwt", "token-2")
    assert first.startswith("jwt#") and first != second and first == rate_key("jwt", "token-1")


def test_limits_read_from_the_environment_refuse_nonsense() -> None:
    limits = GraphQLLimits.from_env(
        {"TANDEM_GRAPHQL_STATEMENT_TIMEOUT_MS": "250", "TANDEM_GRAPHQL_RATE_LIMIT": "30"}
    )
    assert (limits.statement_timeout_ms, limits.rate_limit, limits.rate_window_s) == (250, 30, 60)
    with pytest.raises(ValueError, match="TANDEM_GRAPHQL_RATE_LIMIT must be at least 1"):
        GraphQLLimits.from_env({"TANDEM_GRAPHQL_RATE_LIMIT": "0"})
    with pytest.raises(ValueError, match="whole number"):
        GraphQLLimits.from_env({"TANDEM_GRAPHQL_STATEMENT_TIMEOUT_MS": "5s"})
