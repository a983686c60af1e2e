"""SPEC 4 and 7: the tenant config, its defaults, its JSON form and its validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.domain.conditions import Condition
from shared.domain.config import (
    DEFAULT_CONFIG,
    ConfigError,
    EngagementRule,
    FitRule,
    GradeThresholds,
    MqlRule,
    SlaRules,
    TenantConfig,
)


def errors_of(data: Any, base: TenantConfig | None = None) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        TenantConfig.from_dict(data, base)
    return caught.value.errors


def paths_of(data: Any) -> list[str]:
    return [path for path, _ in errors_of(data)]


def the_error(data: Any) -> tuple[str, str]:
    errors = errors_of(data)
    assert len(errors) == 1, errors
    return errors[0]


def test_defaults_are_those_of_the_spec() -> None:
    config = DEFAULT_CONFIG
    assert config.fit_rules == ()
    assert config.disqualifiers == ()
    assert config.grade_thresholds == GradeThresholds(75, 50, 25)
    assert config.window_days == 90
    assert config.mql == MqlRule(0, 40, ("demo_request",), 0)
    assert config.sla.mql_response_hours == 24
    assert config.sla.mql_disposition_hours == 72
    assert config.sla.rejection_reasons == (
        "not_icp",
        "no_budget",
        "bad_timing",
        "no_authority",
        "duplicate",
        "junk",
        "competitor",
        "other",
    )
    assert config.stall_days == 14
    points = {
        rule.event_type: (rule.points, rule.max_per_window) for rule in config.engagement_rules
    }
    assert points == {
        "page_view": (1, 10),
        "email_open": (1, 5),
        "email_click": (3, None),
        "ad_click": (2, None),
        "social_engagement": (2, None),
        "content_download": (8, None),
        "chat_conversation": (6, None),
        "webinar_attended": (12, None),
        "event_attended": (12, None),
        "form_submit": (10, None),
        "demo_request": (30, None),
    }
    assert all(rule.when is None for rule in config.engagement_rules)


def test_an_empty_document_gives_the_defaults() -> None:
    assert TenantConfig.from_dict({}) == DEFAULT_CONFIG


def test_json_round_trip() -> None:
    config = TenantConfig.from_dict(
        {
            "fit_rules": [
                {"attribute": "company_size", "op": "between", "value": [50, 500], "points": 20},
                {"attribute": "email", "op": "exists", "points": 5},
            ],
            "disqualifiers": [{"attribute": "country", "op": "in", "value": ["KP", "IR"]}],
            "engagement_rules": [
                {
                    "event_type": "page_view",
                    "when": {"attribute": "path", "op": "contains", "value": "/careers"},
                    "points": -5,
                    "max_per_window": 15,
                },
                {"event_type": "page_view", "points": 1, "max_per_window": 10},
            ],
            "grade_thresholds": {"A": 80, "B": 60, "C": 30},
            "window_days": 30,
            "mql": {"min_fit": 20, "fast_track_types": ["demo_request", "form_submit"]},
            "sla": {"mql_response_hours": 4.5, "rejection_reasons": ["junk", "other"]},
            "stall_days": 7,
        }
    )
    assert TenantConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert DEFAULT_CONFIG.to_dict()["engagement_rules"][0] == {
        "event_type": "page_view",
        "when": None,
        "points": 1,
        "max_per_window": 10,
    }
    assert config.to_dict()["fit_rules"][1] == {
        "attribute": "email",
        "op": "exists",
        "value": None,
        "points": 5,
    }


def test_the_example_icp_config_parses(examples_dir: Path) -> None:
    data = json.loads((examples_dir / "expected-icp.json").read_text())["config"]
    data.pop("note")
    config = TenantConfig.from_dict(data)
    assert config.fit_rules[1] == FitRule("department", "in", ("Marketing", "Sales"), 35)
    assert config.disqualifiers == (Condition("seniority", "eq", "ENTRY"),)
    assert config.mql == MqlRule(25, 30, ("demo_request",), 50)
    assert config.engagement_rules == DEFAULT_CONFIG.engagement_rules
    assert config.window_days == 90


def test_object_sections_merge_key_by_key_and_lists_replace() -> None:
    base = TenantConfig.from_dict(
        {
            "fit_rules": [{"attribute": "country", "op": "eq", "value": "US", "points": 10}],
            "mql": {"min_fit": 30, "min_engagement": 50},
        }
    )
    merged = TenantConfig.from_dict(
        {
            "mql": {"min_engagement": 20},
            "grade_thresholds": {"C": 10},
            "sla": {"mql_disposition_hours": 48},
        },
        base,
    )
    assert merged.fit_rules == base.fit_rules
    assert merged.mql == MqlRule(30, 20, ("demo_request",), 0)
    assert merged.grade_thresholds == GradeThresholds(75, 50, 10)
    assert merged.sla == SlaRules(24, 48, DEFAULT_CONFIG.sla.rejection_reasons)
    replaced = TenantConfig.from_dict({"fit_rules": []}, base)
    assert replaced.fit_rules == ()
    assert replaced.mql == base.mql


def test_rules_by_type_keeps_rule_order_and_indexes() -> None:
    config = TenantConfig(
        engagement_rules=(
            EngagementRule("page_view", 5, Condition("path", "eq", "/pricing")),
            EngagementRule("form_submit", 10),
            EngagementRule("page_view", 1),
        )
    )
    assert [index for index, _ in config.rules_by_type["page_view"]] == [0, 2]
    assert "email_open" not in config.rules_by_type


def test_config_error_message_lists_every_path() -> None:
    with pytest.raises(ConfigError) as caught:
        TenantConfig.from_dict({"window_days": 0, "stall_days": "x"})
    assert str(caught.value) == (
        "window_days: must be between 1 and 3650, got 0; stall_days: must be an integer, "
        "got the string 'x'"
    )


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        (
            {"fit_rules": [{"attribute": "a", "op": "like", "value": "x", "points": 1}]},
            "fit_rules[0].op",
            "unknown operator 'like'; expected one of eq, neq, in, not_in, gte, lte, between, "
            "contains, exists",
        ),
        (
            {"fit_rules": [{"attribute": "a", "value": "x", "points": 1}]},
            "fit_rules[0].op",
            "is required: one of eq, neq, in, not_in, gte, lte, between, contains, exists",
        ),
        (
            {"fit_rules": [{"attribute": "a", "op": 3, "value": "x", "points": 1}]},
            "fit_rules[0].op",
            "must be an operator name, got 3",
        ),
        (
            {"fit_rules": [{"op": "eq", "value": "x", "points": 1}]},
            "fit_rules[0].attribute",
            "is required: the name of the attribute to test",
        ),
        (
            {"fit_rules": [{"attribute": " ", "op": "eq", "value": "x", "points": 1}]},
            "fit_rules[0].attribute",
            "must be a non-empty string, got the string ' '",
        ),
        (
            {"fit_rules": [{"attribute": "size", "op": "between", "value": 5, "points": 1}]},
            "fit_rules[0].value",
            "between needs [lo, hi], a list of two numbers, got the number 5",
        ),
        (
            {"fit_rules": [{"attribute": "size", "op": "between", "value": [9, 1], "points": 1}]},
            "fit_rules[0].value",
            "between needs lo ≤ hi, got [9, 1]",
        ),
        (
            {"fit_rules": [{"attribute": "dept", "op": "in", "value": "sales", "points": 1}]},
            "fit_rules[0].value",
            "in needs a list of values, got the string 'sales'",
        ),
        (
            {"fit_rules": [{"attribute": "dept", "op": "not_in", "value": "sales", "points": 1}]},
            "fit_rules[0].value",
            "not_in needs a list of values, got the string 'sales'",
        ),
        (
            {"fit_rules": [{"attribute": "size", "op": "gte", "value": "big", "points": 1}]},
            "fit_rules[0].value",
            "gte needs a number, got the string 'big'",
        ),
        (
            {"fit_rules": [{"attribute": "a", "op": "eq", "value": "x", "points": 1.5}]},
            "fit_rules[0].points",
            "must be a whole number, got 1.5",
        ),
        (
            {"fit_rules": [{"attribute": "a", "op": "eq", "value": "x", "points": True}]},
            "fit_rules[0].points",
            "must be a whole number, got a boolean",
        ),
        (
            {"fit_rules": [{"attribute": "a", "op": "eq", "value": "x"}]},
            "fit_rules[0].points",
            "is required: a whole number of points (negative allowed)",
        ),
        (
            {"fit_rules": [{"attribute": "a", "op": "eq", "value": "x", "points": 1, "pts": 2}]},
            "fit_rules[0].pts",
            "unknown key; expected one of attribute, op, value, points",
        ),
        (
            {"fit_rules": {"attribute": "a"}},
            "fit_rules",
            "must be a list, got an object",
        ),
        (
            {"fit_rules": ["x"]},
            "fit_rules[0]",
            "must be an object, got the string 'x'",
        ),
        (
            {"disqualifiers": [{"attribute": "a", "op": "eq", "value": "x", "points": 3}]},
            "disqualifiers[0].points",
            "unknown key; expected one of attribute, op, value",
        ),
        (
            {"disqualifiers": [{"attribute": "a", "op": "exists", "value": False}]},
            "disqualifiers[0].value",
            "exists takes no value (or true), got a boolean",
        ),
        (
            {"grade_thresholds": {"A": 50, "B": 60, "C": 25}},
            "grade_thresholds.B",
            "must be below A (50), got 60",
        ),
        (
            {"grade_thresholds": {"C": 50}},
            "grade_thresholds.C",
            "must be below B (50), got 50",
        ),
        (
            {"grade_thresholds": {"A": 101}},
            "grade_thresholds.A",
            "must be between 0 and 100, got 101",
        ),
        (
            {"grade_thresholds": {"a": 80}},
            "grade_thresholds.a",
            "unknown key; expected one of A, B, C",
        ),
        ({"window_days": 0}, "window_days", "must be between 1 and 3650, got 0"),
        ({"window_days": 30.0}, "window_days", "must be an integer, got 30.0"),
        ({"stall_days": None}, "stall_days", "must be an integer, got null"),
        (
            {"engagement_rules": [{"event_type": "page_visit", "points": 1}]},
            "engagement_rules[0].event_type",
            "unknown event type 'page_visit'; expected one of ad_click, chat_conversation",
        ),
        (
            {"engagement_rules": [{"event_type": "sales_call", "points": 1}]},
            "engagement_rules[0].event_type",
            "'sales_call' is not a marketing touch; only marketing touches score engagement",
        ),
        (
            {"engagement_rules": [{"points": 1}]},
            "engagement_rules[0].event_type",
            "is required: the marketing touch this rule scores",
        ),
        (
            {"engagement_rules": [{"event_type": "page_view", "points": "1"}]},
            "engagement_rules[0].points",
            "must be a whole number, got the string '1'",
        ),
        (
            {"engagement_rules": [{"event_type": "page_view", "points": 1, "max_per_window": 0}]},
            "engagement_rules[0].max_per_window",
            "must be a positive integer or null, got 0",
        ),
        (
            {
                "engagement_rules": [
                    {
                        "event_type": "page_view",
                        "points": 1,
                        "when": {"attribute": "path", "op": "startswith", "value": "/"},
                    }
                ]
            },
            "engagement_rules[0].when.op",
            "unknown operator 'startswith'",
        ),
        (
            {"engagement_rules": [{"event_type": "page_view", "points": 1, "when": "pricing"}]},
            "engagement_rules[0].when",
            "must be an object, got the string 'pricing'",
        ),
        (
            {
                "engagement_rules": [
                    {"event_type": "page_view", "points": 1},
                    {
                        "event_type": "page_view",
                        "points": 5,
                        "when": {"attribute": "path", "op": "eq", "value": "/pricing"},
                    },
                ]
            },
            "engagement_rules[1]",
            "never applies: engagement_rules[0] already scores every page_view "
            "(put rules with `when` first)",
        ),
        ({"mql": {"min_fit": -1}}, "mql.min_fit", "must be between 0 and 100, got -1"),
        ({"mql": {"min_engagement": 101}}, "mql.min_engagement", "must be between 0 and 100"),
        ({"mql": {"fast_track_min_fit": "50"}}, "mql.fast_track_min_fit", "must be an integer"),
        (
            {"mql": {"fast_track_types": ["demo"]}},
            "mql.fast_track_types[0]",
            "unknown lead event type the string 'demo'; expected one of ad_click",
        ),
        (
            {"mql": {"fast_track_types": ["campaign_spend"]}},
            "mql.fast_track_types[0]",
            "unknown lead event type the string 'campaign_spend'",
        ),
        ({"mql": {"fast_track": []}}, "mql.fast_track", "unknown key; expected one of min_fit"),
        ({"mql": 40}, "mql", "must be an object, got 40"),
        (
            {"sla": {"mql_response_hours": 0}},
            "sla.mql_response_hours",
            "must be a number of hours in (0, 8760], got 0",
        ),
        (
            {"sla": {"mql_disposition_hours": "72"}},
            "sla.mql_disposition_hours",
            "must be a number of hours in (0, 8760], got the string '72'",
        ),
        (
            {"sla": {"rejection_reasons": ["junk", "junk"]}},
            "sla.rejection_reasons[1]",
            "'junk' is listed twice",
        ),
        (
            {"sla": {"rejection_reasons": ["junk", ""]}},
            "sla.rejection_reasons[1]",
            "must be a non-empty string, got the string ''",
        ),
        (
            {"sla": {"rejection_reasons": []}},
            "sla.rejection_reasons",
            "must list at least one reason",
        ),
        ({"note": "hi"}, "note", "unknown setting; expected one of fit_rules, disqualifiers"),
        ([], "", "the config must be an object, got a list"),
    ],
)
def test_validation_error(data: Any, path: str, message: str) -> None:
    got_path, got_message = the_error(data)
    assert got_path == path
    assert got_message.startswith(message), got_message


def test_every_error_is_reported_at_once() -> None:
    paths = paths_of(
        {
            "fit_rules": [
                {"attribute": "a", "op": "eq", "value": "x", "points": 1},
                {"attribute": "b", "op": "in", "value": "x", "points": 1},
                {"attribute": "c", "op": "nope", "value": "x", "points": "1"},
            ],
            "engagement_rules": [{"event_type": "webinar", "points": 1, "max_per_window": -1}],
            "window_days": -5,
            "grade_thresholds": {"A": 20, "B": 30, "C": 40},
            "extra": 1,
        }
    )
    assert paths == [
        "extra",
        "fit_rules[1].value",
        "fit_rules[2].op",
        "fit_rules[2].points",
        "engagement_rules[0].event_type",
        "engagement_rules[0].max_per_window",
        "grade_thresholds.B",
        "grade_thresholds.C",
        "window_days",
    ]


def test_negative_points_are_allowed() -> None:
    config = TenantConfig.from_dict(
        {
            "fit_rules": [{"attribute": "seniority", "op": "eq", "value": "intern", "points": -30}],
            "engagement_rules": [{"event_type": "email_open", "points": -1}],
        }
    )
    assert config.fit_rules[0].points == -30
    assert config.engagement_rules[0].points == -1


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


def test_custom_attribution_models_parse_and_round_trip() -> None:
    config = TenantConfig.from_dict(
        {
            "attribution_models": [
                {
                    "name": "WEBINAR_HEAVY",
                    "weights": {"first": 0.5, "opportunity_creation": 0.3, "rest": 0.2},
                    "type_multipliers": {"page_view": 0.1, "webinar_attended": 1.0},
                }
            ]
        }
    )
    [model] = config.attribution_models
    assert model.name == "WEBINAR_HEAVY"
    assert model.weights.first == 0.5
    assert model.type_multipliers["page_view"] == 0.1
    assert TenantConfig.from_dict(config.to_dict()) == config


def test_custom_attribution_model_errors_carry_their_paths() -> None:
    with pytest.raises(ConfigError) as raised:
        TenantConfig.from_dict(
            {
                "attribution_models": [
                    {"name": "LINEAR", "weights": {"first": 1.0}},
                    {"name": "OK_NAME", "weights": {"first": 0.7, "rest": 0.2}},
                ]
            }
        )
    paths = dict(raised.value.errors)
    assert "built-in" in paths["attribution_models[0].name"]
    assert "sum to 1" in paths["attribution_models[1].weights"]
