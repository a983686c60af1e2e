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
        )


def _engagement_rule(rule: dict[str, Any]) -> EngagementRule:
    when = rule["when"]
    return EngagementRule(
        event_type=rule["event_type"],
        when=None if when is None else Condition(**when),
        points=rule["points"],
        max_per_window=rule["max_per_window"],
    )
