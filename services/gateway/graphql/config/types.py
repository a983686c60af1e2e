"""The tenant configuration as the API shows it (SPEC 4, 7): camelCase mirrors of the
snake_case document stored in tenant_config_versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from shared.domain.config import TenantConfig as DomainConfig


@strawberry.type(description="A test on a lead trait or an event property")
class Condition:
    attribute: str
    op: str = strawberry.field(
        description="eq, neq, in, not_in, gte, lte, between, contains or exists"
    )
    value: JSON | None


@strawberry.type(description="An ICP rule: `points` when its condition holds")
class FitRule:
    attribute: str
    op: str
    value: JSON | None
    points: int


@strawberry.type(description="The lowest fit score of each grade; below C is D")
class GradeThresholds:
    a: int
    b: int
    c: int


@strawberry.type
class EngagementRule:
    event_type: str
    when: Condition | None = strawberry.field(description="a test on the touch's properties")
    points: int
    max_per_window: int | None


@strawberry.type(description="When a lead becomes an MQL")
class MqlRule:
    min_fit: int
    min_engagement: int
    fast_track_types: list[str]
    fast_track_min_fit: int


@strawberry.type
class SlaRules:
    mql_response_hours: float
    mql_disposition_hours: float
    rejection_reasons: list[str]


@strawberry.type(description="Position weights of a custom model; they sum to 1")
class AttributionWeights:
    first: float
    lead_creation: float
    opportunity_creation: float
    closed_won: float
    rest: float


@strawberry.type(description="A tenant's custom attribution model")
class CustomAttributionModel:
    name: str
    weights: AttributionWeights
    type_multipliers: JSON = strawberry.field(
        description="marketing touch type to the multiplier of its touches' share; "
        "types not listed count fully"
    )


@strawberry.type(description="The tenant's current configuration version")
class TenantConfig:
    version: int = strawberry.field(description="0 while the tenant runs on the defaults")
    updated_at: datetime | None
    updated_by: str | None = strawberry.field(description="the credential that wrote it")
    fit_rules: list[FitRule]
    disqualifiers: list[Condition]
    grade_thresholds: GradeThresholds
    engagement_rules: list[EngagementRule]
    window_days: int
    mql: MqlRule
    sla: SlaRules
    stall_days: int
    attribution_models: list[CustomAttributionModel] = strawberry.field(
        description="custom attribution models, credited beside the seven built-in ones"
    )

    @classmethod
    def from_domain(
        cls,
        config: DomainConfig,
        version: int,
        updated_at: datetime | None,
        updated_by: str | None,
    ) -> TenantConfig:
        doc = config.to_dict()
        mql, sla, grades = doc["mql"], doc["sla"], doc["grade_thresholds"]
        return cls(
            version=version,
            updated_at=updated_at,
            updated_by=updated_by,
            fit_rules=[FitRule(**rule) for rule in doc["fit_rules"]],
            disqualifiers=[Condition(**c) for c in doc["disqualifiers"]],
            grade_thresholds=GradeThresholds(a=grades["A"], b=grades["B"], c=grades["C"]),
            engagement_rules=[_engagement_rule(rule) for rule in doc["engagement_rules"]],
            window_days=doc["window_days"],
            mql=MqlRule(**mql),
            sla=SlaRules(**sla),
            stall_days=doc["stall_days"],
            attribution_models=[_custom_model(model) for model in doc["attribution_models"]],
        )


def _engagement_rule(rule: dict[str, Any]) -> EngagementRule:
    when = rule["when"]
    return EngagementRule(
        event_type=rule["event_type"],
        when=None if when is None else Condition(**when),
        points=rule["points"],
        max_per_window=rule["max_per_window"],
    )


def _custom_model(model: dict[str, Any]) -> CustomAttributionModel:
    return CustomAttributionModel(
        name=model["name"],
        weights=AttributionWeights(**model["weights"]),
        type_multipliers=model["type_multipliers"],
    )
