"""Configuration inputs, and their translation to the stored snake_case document and back
for error paths, so an admin sees which input field is wrong in the names they sent."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import strawberry
from strawberry.scalars import JSON

from shared.domain.attribution import WEIGHT_FIELDS
from shared.domain.config import ConfigError

UNSET: Any = strawberry.UNSET


@strawberry.input(description="A test on a lead trait or an event property")
class ConditionInput:
    attribute: str
    op: str = strawberry.field(
        description="eq, neq, in, not_in, gte, lte, between, contains or exists (any letter case)"
    )
    value: JSON | None = strawberry.field(
        default=None, description="a scalar, a list for in/not_in, [lo, hi] for between"
    )


@strawberry.input
class FitRuleInput:
    attribute: str
    op: str
    value: JSON | None = None
    points: int


@strawberry.input
class GradeThresholdsInput:
    a: int | None = UNSET
    b: int | None = UNSET
    c: int | None = UNSET


@strawberry.input(description="ICP: the given parts replace the current ones")
class IcpInput:
    fit_rules: list[FitRuleInput] | None = UNSET
    disqualifiers: list[ConditionInput] | None = UNSET
    grade_thresholds: GradeThresholdsInput | None = UNSET


@strawberry.input
class EngagementRuleInput:
    event_type: str
    when: ConditionInput | None = None
    points: int
    max_per_window: int | None = None


@strawberry.input(description="The MQL rule: given keys replace the current ones")
class MqlInput:
    min_fit: int | None = UNSET
    min_engagement: int | None = UNSET
    fast_track_types: list[str] | None = UNSET
    fast_track_min_fit: int | None = UNSET


@strawberry.input(
    description="Scoring model: the given parts replace the current ones; engagementRules "
    "is the whole ordered list (each touch takes the first rule that matches)"
)
class ScoringModelInput:
    engagement_rules: list[EngagementRuleInput] | None = UNSET
    window_days: int | None = UNSET
    mql: MqlInput | None = UNSET


@strawberry.input(description="SLA rules: given keys replace the current ones")
class SlaRulesInput:
    mql_response_hours: float | None = UNSET
    mql_disposition_hours: float | None = UNSET
    rejection_reasons: list[str] | None = UNSET


@strawberry.input(
    description="Position weights of a custom model, each in [0, 1], summing to 1; "
    "positions left out weigh 0"
)
class AttributionWeightsInput:
    first: float | None = UNSET
    lead_creation: float | None = UNSET
    opportunity_creation: float | None = UNSET
    closed_won: float | None = UNSET
    rest: float | None = UNSET


@strawberry.input(description="A tenant's custom attribution model")
class AttributionModelInput:
    name: str = strawberry.field(
        description="UPPER_SNAKE_CASE, not the name of a built-in model, unique in the list"
    )
    weights: AttributionWeightsInput
    type_multipliers: JSON | None = strawberry.field(
        default=None,
        description="an object of marketing touch type to a multiplier in [0, 1] of its "
        'touches\' share, such as {"page_view": 0.1}; types left out count fully',
    )


def to_document(value: Any) -> Any:
    """An input object as the stored config's JSON: snake_case keys, absent fields left
    out (so they keep their current value), operators in lower case."""
    if isinstance(value, list):
        return [to_document(item) for item in value]
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return value
    doc: dict[str, Any] = {}
    for f in dataclasses.fields(value):
        item = getattr(value, f.name)
        if item is UNSET:
            continue
        doc[f.name] = to_document(item)
    if isinstance(value, GradeThresholdsInput):
        return {key.upper(): points for key, points in doc.items()}
    if isinstance(doc.get("op"), str):
        doc["op"] = doc["op"].strip().lower()
    return doc


_CONFIG_KEY = re.compile(
    r"\b(fit_rules|grade_thresholds|engagement_rules|window_days|stall_days|min_fit"
    r"|min_engagement|fast_track_types|fast_track_min_fit|mql_response_hours"
    r"|mql_disposition_hours|rejection_reasons|event_type|max_per_window)\b"
)


def _camel(match: re.Match[str]) -> str:
    head, *rest = match.group(0).split("_")
    return head + "".join(part.title() for part in rest)


def input_path(config_path: str, prefix: str = "") -> str:
    """`fit_rules[2].op` → `fitRules[2].op`; `prefix` is the document section the input
    stands for (`sla.` for SlaRulesInput, whose fields sit at its top level)."""
    if prefix and config_path.startswith(prefix):
        config_path = config_path[len(prefix) :]
    path = _CONFIG_KEY.sub(_camel, config_path)
    if path.startswith("gradeThresholds."):
        head, _, grade = path.rpartition(".")
        path = f"{head}.{grade.lower()}"
    return path


def input_errors(error: ConfigError, prefix: str = "") -> list[tuple[str, str]]:
    return [(input_path(path, prefix), _CONFIG_KEY.sub(_camel, msg)) for path, msg in error.errors]


_MODEL_KEY = re.compile(r"\b(" + "|".join((*WEIGHT_FIELDS, "type_multipliers")) + r")\b")
_ATTRIBUTION_PATH = re.compile(r"attribution_models(?P<index>\[\d+\])?(?:\.(?P<rest>.*))?")


def attribution_input_path(config_path: str) -> str:
    """`attribution_models[1].weights.lead_creation` → `input[1].weights.leadCreation`: the
    list of AttributionModelInput is the mutation's `input`. Event types under
    `typeMultipliers` are keys the admin wrote, so they keep their spelling."""
    match = _ATTRIBUTION_PATH.fullmatch(config_path)
    if match is None:
        return input_path(config_path)
    path = "input" + (match.group("index") or "")
    rest = match.group("rest")
    if rest:
        head, dot, tail = rest.partition(".")
        if head == "weights" and tail:
            tail = _MODEL_KEY.sub(_camel, tail)
        path += "." + _MODEL_KEY.sub(_camel, head) + dot + tail
    return path


def attribution_input_errors(error: ConfigError) -> list[tuple[str, str]]:
    return [
        (attribution_input_path(path), _MODEL_KEY.sub(_camel, msg)) for path, msg in error.errors
    ]
