"""Custom attribution models through GraphQL: the input list becomes the stored
`attribution_models` section, the parser's paths come back as `input[i]...` paths, the
config shows the models, and the comparison lists them after the seven built-in ones."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from strawberry.scalars import JSON

from services.gateway.auth import Principal
from services.gateway.context import GatewayContext
from services.gateway.graphql.attribution.resolvers import compare
from services.gateway.graphql.config import resolvers
from services.gateway.graphql.config.inputs import (
    AttributionModelInput,
    AttributionWeightsInput,
    attribution_input_errors,
    attribution_input_path,
    to_document,
)
from services.gateway.graphql.config.types import TenantConfig
from services.gateway.graphql.core.context import RequestContext
from services.gateway.graphql.core.enums import AttributionModel
from services.gateway.graphql.core.hub import LeadChangeHub
from services.gateway.graphql.core.permissions import IsAdmin
from services.gateway.graphql.schema import Mutation, schema
from shared.domain.config import ConfigError
from shared.domain.config import TenantConfig as DomainConfig
from shared.settings import load_settings

MUTATION = """mutation($input: [AttributionModelInput!]!) {
    updateAttributionModels(input: $input) { version }
}"""
PERIOD = {"from": "2026-09-01T00:00:00Z", "to": "2026-10-01T00:00:00Z"}
CUSTOM = """query($model: String!, $from: DateTime!, $to: DateTime!) {
    customAttribution(model: $model, kind: REVENUE, groupBy: CHANNEL, from: $from, to: $to) {
        key credit amount
    }
}"""


def model_input(name: str = "WEBINAR_HEAVY", **weights: float) -> AttributionModelInput:
    return AttributionModelInput(
        name=name,
        weights=AttributionWeightsInput(**(weights or {"first": 0.5, "closed_won": 0.5})),
        type_multipliers=JSON({"page_view": 0.1}),
    )


def errors_of(inputs: list[AttributionModelInput]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        DomainConfig.from_dict({"attribution_models": to_document(inputs)})
    return attribution_input_errors(caught.value)


class FakeConnection:
    """Answers current_config's one query with the stored form of `config`."""

    def __init__(self, config: DomainConfig) -> None:
        self.config = config

    async def fetchrow(self, query: str, *args: Any) -> dict[str, Any]:
        assert "tenant_config_versions" in query
        return {"version": 3, "config": self.config.to_dict()}


class StoredConfigContext(RequestContext):
    config: DomainConfig = DomainConfig()

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[Any]:
        yield FakeConnection(self.config)


def context(role: str, config: DomainConfig | None = None) -> RequestContext:
    ctx = StoredConfigContext(
        gateway=GatewayContext(load_settings()),
        hub=LeadChangeHub("127.0.0.1:1"),
        request=None,  # type: ignore[arg-type]
        response=None,
        principal=Principal("tenant-a", role, "key:test"),
    )
    if config is not None:
        ctx.config = config
    return ctx


def test_the_input_list_becomes_the_stored_section() -> None:
    document = to_document([model_input(first=0.4, lead_creation=0.4, rest=0.2)])
    assert document == [
        {
            "name": "WEBINAR_HEAVY",
            "weights": {"first": 0.4, "lead_creation": 0.4, "rest": 0.2},
            "type_multipliers": {"page_view": 0.1},
        }
    ]
    [parsed] = DomainConfig.from_dict({"attribution_models": document}).attribution_models
    assert parsed.name == "WEBINAR_HEAVY"
    assert parsed.weights.first == 0.4 and parsed.weights.opportunity_creation == 0.0
    assert dict(parsed.type_multipliers) == {"page_view": 0.1}
    assert to_document([]) == []


def test_type_multipliers_may_be_left_out() -> None:
    given = AttributionModelInput(name="FIRST_ONLY", weights=AttributionWeightsInput(first=1))
    document = to_document([given])
    [parsed] = DomainConfig.from_dict({"attribution_models": document}).attribution_models
    assert dict(parsed.type_multipliers) == {}


@pytest.mark.parametrize(
    ("config_path", "expected"),
    [
        ("attribution_models", "input"),
        ("attribution_models[1]", "input[1]"),
        ("attribution_models[1].weights", "input[1].weights"),
        ("attribution_models[0].name", "input[0].name"),
        ("attribution_models[2].weights.lead_creation", "input[2].weights.leadCreation"),
        ("attribution_models[2].weights.closed_won", "input[2].weights.closedWon"),
        ("attribution_models[0].type_multipliers", "input[0].typeMultipliers"),
        # Event types are the admin's own keys, not input fields.
        ("attribution_models[0].type_multipliers.page_view", "input[0].typeMultipliers.page_view"),
        ("window_days", "windowDays"),
    ],
)
def test_config_paths_map_to_input_paths(config_path: str, expected: str) -> None:
    assert attribution_input_path(config_path) == expected


def test_every_problem_is_reported_on_the_input_field_that_has_it() -> None:
    errors = errors_of(
        [
            model_input("GOOD"),
            model_input("UNEVEN", first=0.5, lead_creation=0.2),
            AttributionModelInput(
                name="lower case",
                weights=AttributionWeightsInput(first=1.5),
                type_multipliers=JSON({"page_view": 2, "deal_closed": 0.5}),
            ),
            model_input("GOOD"),
            model_input("LINEAR"),
        ]
    )
    paths = [path for path, _ in errors]
    assert paths == [
        "input[1].weights",
        "input[2].name",
        "input[2].weights.first",
        "input[2].typeMultipliers.page_view",
        "input[2].typeMultipliers.deal_closed",
        "input[3].name",
        "input[4].name",
    ]
    messages = dict(errors)
    assert "must sum to 1" in messages["input[1].weights"]
    assert "UPPER_SNAKE_CASE" in messages["input[2].name"]
    assert "already defined" in messages["input[3].name"]
    assert "built-in" in messages["input[4].name"]


def test_a_multiplier_object_that_is_not_an_object_is_reported() -> None:
    bad = AttributionModelInput(
        name="ODD", weights=AttributionWeightsInput(first=1), type_multipliers=JSON([0.5])
    )
    assert [path for path, _ in errors_of([bad])] == ["input[0].typeMultipliers"]


def test_the_config_shows_custom_models_in_camel_case() -> None:
    document = to_document([model_input(first=0.2, opportunity_creation=0.8)])
    domain = DomainConfig.from_dict({"attribution_models": document})
    shown = TenantConfig.from_domain(domain, 4, None, "key:test")
    [model] = shown.attribution_models
    assert model.name == "WEBINAR_HEAVY"
    assert (model.weights.first, model.weights.opportunity_creation, model.weights.rest) == (
        0.2,
        0.8,
        0.0,
    )
    assert model.type_multipliers == JSON({"page_view": 0.1})
    assert TenantConfig.from_domain(DomainConfig(), 0, None, None).attribution_models == []


def test_the_comparison_lists_custom_models_after_the_built_in_ones() -> None:
    rows = [
        {"model": "LINEAR", "key": "webinar", "credit": 1.0, "amount": 100.0},
        {"model": "WEBINAR_HEAVY", "key": "webinar", "credit": 0.8, "amount": 80.0},
        {"model": "WEBINAR_HEAVY", "key": "email", "credit": 0.2, "amount": 20.0},
    ]
    compared = compare(rows, ["WEBINAR_HEAVY", "NOTHING_YET"])
    assert [row.key for row in compared] == ["email", "webinar"]
    email, webinar = compared
    assert [m.model for m in webinar.models] == list(AttributionModel)
    assert [(m.model, m.credit, m.amount) for m in webinar.custom_models] == [
        ("WEBINAR_HEAVY", 0.8, 80.0),
        ("NOTHING_YET", 0.0, 0.0),
    ]
    assert all(m.credit == 0 for m in email.models)
    assert compare(rows)[0].custom_models == []


def test_only_admins_may_replace_the_models() -> None:
    [field] = [
        f
        for f in Mutation.__strawberry_definition__.fields  # type: ignore[attr-defined]
        if f.python_name == "update_attribution_models"
    ]
    assert IsAdmin in field.permission_classes


async def test_a_viewer_is_refused_the_mutation() -> None:
    result = await schema.execute(
        MUTATION,
        variable_values={"input": []},
        context_value=context("viewer"),
    )
    assert result.errors and (result.errors[0].extensions or {}).get("code") == "FORBIDDEN"


async def test_the_mutation_answers_bad_fields_with_their_input_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    saved: list[tuple[str, dict[str, Any]]] = []

    async def save_config(
        pool: Any, tenant_id: str, section: str, patch: dict[str, Any], *rest: Any
    ) -> tuple[int, DomainConfig]:
        saved.append((section, patch))
        return 1, DomainConfig.from_dict(patch)

    monkeypatch.setattr(resolvers, "save_config", save_config)
    # The pool is only reached after a valid save; these inputs never get that far.
    monkeypatch.setattr(RequestContext, "pool", property(lambda self: None))
    variables = {
        "input": [
            {"name": "OK_MODEL", "weights": {"first": 1}},
            {"name": "bad", "weights": {"leadCreation": 0.7}, "typeMultipliers": {"x": 1}},
        ]
    }
    result = await schema.execute(
        MUTATION, variable_values=variables, context_value=context("admin")
    )
    assert result.errors
    extensions = result.errors[0].extensions or {}
    assert extensions["code"] == "BAD_USER_INPUT"
    assert [f["path"] for f in extensions["fields"]] == [
        "input[1].name",
        "input[1].weights",
        "input[1].typeMultipliers.x",
    ]
    assert saved == [
        (
            "attribution",
            {
                "attribution_models": [
                    {"name": "OK_MODEL", "weights": {"first": 1.0}, "type_multipliers": None},
                    {
                        "name": "bad",
                        "weights": {"lead_creation": 0.7},
                        "type_multipliers": {"x": 1},
                    },
                ]
            },
        )
    ]


async def test_an_unknown_custom_model_is_bad_input() -> None:
    document = to_document([model_input("WEBINAR_HEAVY")])
    config = DomainConfig.from_dict({"attribution_models": document})
    result = await schema.execute(
        CUSTOM, variable_values={"model": "NOPE", **PERIOD}, context_value=context("viewer", config)
    )
    assert result.errors
    error = result.errors[0]
    assert error.message == "no custom model named NOPE"
    assert (error.extensions or {}).get("code") == "BAD_USER_INPUT"
    # A built-in name is not a custom model either: `attribution` serves those.
    result = await schema.execute(
        CUSTOM, variable_values={"model": "LINEAR", **PERIOD}, context_value=context("viewer")
    )
    assert result.errors and result.errors[0].message == "no custom model named LINEAR"


async def test_an_empty_period_is_refused_before_the_model_is_looked_up() -> None:
    variables = {"model": "ANY", "from": PERIOD["to"], "to": PERIOD["from"]}
    result = await schema.execute(
        CUSTOM, variable_values=variables, context_value=context("viewer")
    )
    assert result.errors and (result.errors[0].extensions or {}).get("code") == "BAD_USER_INPUT"
    assert "period is empty" in result.errors[0].message
