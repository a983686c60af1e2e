"""Configuration inputs: camelCase GraphQL in, the stored snake_case document out, and the
parser's field paths mapped back to the input fields the admin sent."""

from __future__ import annotations

from typing import Any

import pytest
from strawberry.scalars import JSON

from services.gateway.graphql.config.inputs import (
    ConditionInput,
    EngagementRuleInput,
    FitRuleInput,
    GradeThresholdsInput,
    IcpInput,
    MqlInput,
    ScoringModelInput,
    SlaRulesInput,
    input_errors,
    input_path,
    to_document,
)
from services.gateway.graphql.config.types import TenantConfig
from shared.domain.config import DEFAULT_CONFIG, ConfigError
from shared.domain.config import TenantConfig as DomainConfig


def errors_of(document: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        DomainConfig.from_dict(document)
    return input_errors(caught.value, prefix)


def test_an_icp_input_becomes_the_stored_document() -> None:
    icp = IcpInput(
        fit_rules=[FitRuleInput(attribute="company_size", op="GTE", value=JSON(500), points=45)],
        disqualifiers=[ConditionInput(attribute="seniority", op="eq", value=JSON("entry"))],
        grade_thresholds=GradeThresholdsInput(a=80),
    )
    document = to_document(icp)
    assert document == {
        "fit_rules": [{"attribute": "company_size", "op": "gte", "value": 500, "points": 45}],
        "disqualifiers": [{"attribute": "seniority", "op": "eq", "value": "entry"}],
        "grade_thresholds": {"A": 80},
    }
    merged = DomainConfig.from_dict(document)
    assert merged.grade_thresholds.a == 80 and merged.grade_thresholds.b == 50


def test_fields_left_out_are_not_sent_and_keep_their_value() -> None:
    assert to_document(IcpInput()) == {}
    assert to_document(ScoringModelInput(mql=MqlInput(min_engagement=30))) == {
        "mql": {"min_engagement": 30}
    }
    assert to_document(SlaRulesInput(mql_response_hours=8)) == {"mql_response_hours": 8}


def test_a_scoring_model_input_keeps_rule_order_and_conditions() -> None:
    model = ScoringModelInput(
        engagement_rules=[
            EngagementRuleInput(
                event_type="page_view",
                when=ConditionInput(attribute="path", op="contains", value=JSON("/pricing")),
                points=5,
            ),
            EngagementRuleInput(event_type="page_view", points=1, max_per_window=10),
        ],
        window_days=60,
    )
    document = to_document(model)
    parsed = DomainConfig.from_dict(document)
    assert [rule.points for rule in parsed.engagement_rules] == [5, 1]
    assert parsed.engagement_rules[0].when is not None
    assert parsed.window_days == 60


@pytest.mark.parametrize(
    ("config_path", "prefix", "expected"),
    [
        ("fit_rules[2].op", "", "fitRules[2].op"),
        ("disqualifiers[0].value", "", "disqualifiers[0].value"),
        ("grade_thresholds.B", "", "gradeThresholds.b"),
        ("engagement_rules[1].when.attribute", "", "engagementRules[1].when.attribute"),
        ("engagement_rules[3].max_per_window", "", "engagementRules[3].maxPerWindow"),
        ("mql.fast_track_types[1]", "", "mql.fastTrackTypes[1]"),
        ("window_days", "", "windowDays"),
        ("sla.mql_response_hours", "sla.", "mqlResponseHours"),
        ("sla.rejection_reasons[2]", "sla.", "rejectionReasons[2]"),
    ],
)
def test_config_paths_map_to_input_paths(config_path: str, prefix: str, expected: str) -> None:
    assert input_path(config_path, prefix) == expected


def test_parser_errors_name_the_input_fields_in_camel_case() -> None:
    icp = IcpInput(
        fit_rules=[FitRuleInput(attribute="country", op="sounds_like", value=JSON("US"), points=1)],
        grade_thresholds=GradeThresholdsInput(a=40, b=60),
    )
    paths = [path for path, _ in errors_of(to_document(icp))]
    assert paths == ["fitRules[0].op", "gradeThresholds.b"]

    shadowed = ScoringModelInput(
        engagement_rules=[
            EngagementRuleInput(event_type="form_submit", points=10),
            EngagementRuleInput(event_type="form_submit", points=20),
        ]
    )
    [(path, message)] = errors_of(to_document(shadowed))
    assert path == "engagementRules[1]"
    assert "engagementRules[0]" in message and "engagement_rules" not in message

    sla = {"sla": to_document(SlaRulesInput(mql_response_hours=0, rejection_reasons=[]))}
    assert [path for path, _ in errors_of(sla, "sla.")] == ["mqlResponseHours", "rejectionReasons"]


def test_the_default_configuration_reads_as_spec_4_and_7() -> None:
    shown = TenantConfig.from_domain(DEFAULT_CONFIG, 0, None, None)
    assert shown.version == 0 and shown.window_days == 90
    assert (shown.grade_thresholds.a, shown.grade_thresholds.b, shown.grade_thresholds.c) == (
        75,
        50,
        25,
    )
    assert shown.mql.min_engagement == 40 and shown.mql.fast_track_types == ["demo_request"]
    assert shown.sla.mql_response_hours == 24 and shown.sla.mql_disposition_hours == 72
    demo = next(rule for rule in shown.engagement_rules if rule.event_type == "demo_request")
    assert demo.points == 30 and demo.max_per_window is None
