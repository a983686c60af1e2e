"""A tenant's ICP, scoring model, MQL rule and SLA rules (SPEC 4 and 7), and their JSON form.

The JSON form is snake_case. A partial document merges over a base config (the defaults
unless given): a missing section keeps the base's, an object section (`grade_thresholds`,
`mql`, `sla`) merges key by key, a list section (`fit_rules`, `disqualifiers`,
`engagement_rules`) replaces the base's list. Parsing checks everything and reports every
problem at once, each with the path of the offending field, because tenant admins see
these messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from shared.domain.attribution import AttributionModel, CustomModelError, parse_custom_models
from shared.domain.conditions import OPERATORS, Condition, value_error
from shared.domain.events import EVENT_TYPES, MARKETING_TOUCHES, SPEND_TYPES

DEFAULT_REJECTION_REASONS: tuple[str, ...] = (
    "not_icp",
    "no_budget",
    "bad_timing",
    "no_authority",
    "duplicate",
    "junk",
    "competitor",
    "other",
)
MAX_WINDOW_DAYS = 3650


@dataclass(frozen=True, slots=True)
class FitRule(Condition):
    points: int

    def to_dict(self) -> dict[str, Any]:
        # Zero-argument super() does not work in a slotted dataclass.
        return {**Condition.to_dict(self), "points": self.points}


@dataclass(frozen=True, slots=True)
class EngagementRule:
    """`max_per_window` bounds the size of the rule's total in the window: at most that many
    points, or for a negative rule at most that many points taken away."""

    event_type: str
    points: int
    when: Condition | None = None
    max_per_window: int | None = None

    def describe(self) -> str:
        text = self.event_type
        if self.when is not None:
            text += f" when {self.when.describe()}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_type": self.event_type,
            "when": None if self.when is None else self.when.to_dict(),
            "points": self.points,
            "max_per_window": self.max_per_window,
        }


@dataclass(frozen=True, slots=True)
class GradeThresholds:
    a: int = 75
    b: int = 50
    c: int = 25

    def to_dict(self) -> dict[str, Any]:
        return {"A": self.a, "B": self.b, "C": self.c}


@dataclass(frozen=True, slots=True)
class MqlRule:
    min_fit: int = 0
    min_engagement: int = 40
    fast_track_types: tuple[str, ...] = ("demo_request",)
    fast_track_min_fit: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_fit": self.min_fit,
            "min_engagement": self.min_engagement,
            "fast_track_types": list(self.fast_track_types),
            "fast_track_min_fit": self.fast_track_min_fit,
        }


@dataclass(frozen=True, slots=True)
class SlaRules:
    mql_response_hours: float = 24
    mql_disposition_hours: float = 72
    rejection_reasons: tuple[str, ...] = DEFAULT_REJECTION_REASONS

    def to_dict(self) -> dict[str, Any]:
        return {
            "mql_response_hours": self.mql_response_hours,
            "mql_disposition_hours": self.mql_disposition_hours,
            "rejection_reasons": list(self.rejection_reasons),
        }


DEFAULT_ENGAGEMENT_RULES: tuple[EngagementRule, ...] = (
    EngagementRule("page_view", 1, max_per_window=10),
    EngagementRule("email_open", 1, max_per_window=5),
    EngagementRule("email_click", 3),
    EngagementRule("ad_click", 2),
    EngagementRule("social_engagement", 2),
    EngagementRule("content_download", 8),
    EngagementRule("chat_conversation", 6),
    EngagementRule("webinar_attended", 12),
    EngagementRule("event_attended", 12),
    EngagementRule("form_submit", 10),
    EngagementRule("demo_request", 30),
)


class ConfigError(ValueError):
    """`errors` lists (field path, message) pairs, e.g. ("fit_rules[2].op", "unknown ...")."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{path}: {message}" for path, message in errors))


# Not slotted: the per-type rule index below is cached on the instance.
@dataclass(frozen=True)
class TenantConfig:
    fit_rules: tuple[FitRule, ...] = ()
    disqualifiers: tuple[Condition, ...] = ()
    grade_thresholds: GradeThresholds = field(default_factory=GradeThresholds)
    engagement_rules: tuple[EngagementRule, ...] = DEFAULT_ENGAGEMENT_RULES
    window_days: int = 90
    mql: MqlRule = field(default_factory=MqlRule)
    sla: SlaRules = field(default_factory=SlaRules)
    stall_days: int = 14
    # Custom attribution models beyond the seven built-in ones (SPEC 5, issue of custom
    # position weights and per-type multipliers).
    attribution_models: tuple[AttributionModel, ...] = ()

    @cached_property
    def rules_by_type(self) -> Mapping[str, tuple[tuple[int, EngagementRule], ...]]:
        """Engagement rules with their index, grouped by event type, in rule order."""
        grouped: dict[str, list[tuple[int, EngagementRule]]] = {}
        for index, rule in enumerate(self.engagement_rules):
            grouped.setdefault(rule.event_type, []).append((index, rule))
        return {event_type: tuple(rules) for event_type, rules in grouped.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "fit_rules": [rule.to_dict() for rule in self.fit_rules],
            "disqualifiers": [condition.to_dict() for condition in self.disqualifiers],
            "grade_thresholds": self.grade_thresholds.to_dict(),
            "engagement_rules": [rule.to_dict() for rule in self.engagement_rules],
            "window_days": self.window_days,
            "mql": self.mql.to_dict(),
            "sla": self.sla.to_dict(),
            "stall_days": self.stall_days,
            "attribution_models": [model.to_dict() for model in self.attribution_models],
        }

    @classmethod
    def from_dict(cls, data: Any, base: TenantConfig | None = None) -> TenantConfig:
        """Parse the JSON form over `base` (DEFAULT_CONFIG if None); raise ConfigError."""
        parser = _Parser()
        config = parser.config(data, DEFAULT_CONFIG if base is None else base)
        if parser.errors:
            raise ConfigError(parser.errors)
        return config


DEFAULT_CONFIG = TenantConfig()

_SECTIONS = (
    "fit_rules",
    "disqualifiers",
    "grade_thresholds",
    "engagement_rules",
    "window_days",
    "mql",
    "sla",
    "stall_days",
    "attribution_models",
)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return f"{value!r}"


_Parsed = TypeVar("_Parsed")


class _Parser:
    """Collects every error instead of stopping at the first, so an admin fixes them all."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append((path, message))

    def config(self, data: Any, base: TenantConfig) -> TenantConfig:
        if not isinstance(data, Mapping):
            self.error("", f"the config must be an object, got {_kind(data)}")
            return base
        for key in data:
            if key not in _SECTIONS:
                self.error(str(key), f"unknown setting; expected one of {', '.join(_SECTIONS)}")
        fit_rules = base.fit_rules
        if "fit_rules" in data:
            fit_rules = self.each(data["fit_rules"], "fit_rules", self.fit_rule)
        disqualifiers = base.disqualifiers
        if "disqualifiers" in data:
            disqualifiers = self.each(data["disqualifiers"], "disqualifiers", self.condition)
        engagement_rules = base.engagement_rules
        if "engagement_rules" in data:
            engagement_rules = self.engagement_rules(data["engagement_rules"])
        grade_thresholds = base.grade_thresholds
        if "grade_thresholds" in data:
            grade_thresholds = self.grade_thresholds(data["grade_thresholds"], grade_thresholds)
        window_days = base.window_days
        if "window_days" in data:
            window_days = self.int_in(
                data["window_days"], "window_days", 1, MAX_WINDOW_DAYS, window_days
            )
        mql = base.mql
        if "mql" in data:
            mql = self.mql(data["mql"], mql)
        sla = base.sla
        if "sla" in data:
            sla = self.sla(data["sla"], sla)
        stall_days = base.stall_days
        if "stall_days" in data:
            stall_days = self.int_in(data["stall_days"], "stall_days", 1, 365, stall_days)
        attribution_models = base.attribution_models
        if "attribution_models" in data:
            try:
                attribution_models = parse_custom_models(
                    self.items(data["attribution_models"], "attribution_models")
                )
            except CustomModelError as exc:
                for path, message in exc.errors:
                    self.error(f"attribution_models{path}", message)
        return TenantConfig(
            attribution_models=attribution_models,
            fit_rules=fit_rules,
            disqualifiers=disqualifiers,
            grade_thresholds=grade_thresholds,
            engagement_rules=engagement_rules,
            window_days=window_days,
            mql=mql,
            sla=sla,
            stall_days=stall_days,
        )

    def items(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            self.error(path, f"must be a list, got {_kind(value)}")
            return []
        return value

    def each(
        self, value: Any, path: str, parse: Callable[[Any, str], _Parsed | None]
    ) -> tuple[_Parsed, ...]:
        """The list's items that parse, in order; an item that does not has said why."""
        return tuple(
            parsed
            for i, item in enumerate(self.items(value, path))
            if (parsed := parse(item, f"{path}[{i}]")) is not None
        )

    def obj(self, value: Any, path: str, allowed: tuple[str, ...]) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.error(path, f"must be an object, got {_kind(value)}")
            return None
        for key in value:
            if key not in allowed:
                self.error(
                    f"{path}.{key}" if path else str(key),
                    f"unknown key; expected one of {', '.join(allowed)}",
                )
        return value

    def condition(self, value: Any, path: str, extra: tuple[str, ...] = ()) -> Condition | None:
        data = self.obj(value, path, ("attribute", "op", "value", *extra))
        if data is None:
            return None
        valid = True
        attribute = data.get("attribute")
        if not (isinstance(attribute, str) and attribute.strip()):
            self.error(
                f"{path}.attribute",
                "is required: the name of the attribute to test"
                if attribute is None
                else f"must be a non-empty string, got {_kind(attribute)}",
            )
            valid = False
        op = data.get("op")
        operand = data.get("value")
        if not isinstance(op, str):
            self.error(
                f"{path}.op",
                "is required: one of " + ", ".join(OPERATORS)
                if op is None
                else f"must be an operator name, got {_kind(op)}",
            )
            valid = False
        elif (problem := value_error(op, operand)) is not None:
            self.error(f"{path}.op" if op not in OPERATORS else f"{path}.value", problem)
            valid = False
        if not valid:
            return None
        return Condition(
            str(attribute), str(op), tuple(operand) if isinstance(operand, list) else operand
        )

    def points(self, data: Mapping[str, Any], path: str) -> int | None:
        points: Any = data.get("points")
        if _is_int(points):
            return int(points)
        self.error(
            f"{path}.points",
            "is required: a whole number of points (negative allowed)"
            if points is None
            else f"must be a whole number, got {_kind(points)}",
        )
        return None

    def fit_rule(self, value: Any, path: str) -> FitRule | None:
        condition = self.condition(value, path, ("points",))
        points = self.points(value, path) if isinstance(value, Mapping) else None
        if condition is None or points is None:
            return None
        return FitRule(condition.attribute, condition.op, condition.value, points)

    def engagement_rules(self, value: Any) -> tuple[EngagementRule, ...]:
        rules: list[EngagementRule] = []
        catch_all: dict[str, int] = {}
        for i, item in enumerate(self.items(value, "engagement_rules")):
            path = f"engagement_rules[{i}]"
            rule = self.engagement_rule(item, path)
            if rule is None:
                continue
            if rule.event_type in catch_all:
                # Each touch takes the first matching rule, so this one would never count.
                self.error(
                    path,
                    f"never applies: engagement_rules[{catch_all[rule.event_type]}] already "
                    f"scores every {rule.event_type} (put rules with `when` first)",
                )
                continue
            if rule.when is None:
                catch_all[rule.event_type] = i
            rules.append(rule)
        return tuple(rules)

    def engagement_rule(self, value: Any, path: str) -> EngagementRule | None:
        data = self.obj(value, path, ("event_type", "when", "points", "max_per_window"))
        if data is None:
            return None
        valid = True
        event_type = data.get("event_type")
        if not isinstance(event_type, str):
            self.error(
                f"{path}.event_type",
                "is required: the marketing touch this rule scores"
                if event_type is None
                else f"must be an event type name, got {_kind(event_type)}",
            )
            valid = False
        elif event_type not in MARKETING_TOUCHES:
            touches = ", ".join(sorted(MARKETING_TOUCHES))
            if event_type in EVENT_TYPES:
                message = (
                    f"{event_type!r} is not a marketing touch; only marketing touches score "
                    f"engagement ({touches})"
                )
            else:
                message = f"unknown event type {event_type!r}; expected one of {touches}"
            self.error(f"{path}.event_type", message)
            valid = False
        when: Condition | None = None
        if data.get("when") is not None:
            when = self.condition(data["when"], f"{path}.when")
            valid = valid and when is not None
        points = self.points(data, path)
        valid = valid and points is not None
        cap = data.get("max_per_window")
        if cap is not None and not (_is_int(cap) and cap >= 1):
            self.error(
                f"{path}.max_per_window", f"must be a positive integer or null, got {_kind(cap)}"
            )
            valid = False
        if not valid or points is None:
            return None
        return EngagementRule(str(event_type), points, when, cap)

    def grade_thresholds(self, value: Any, base: GradeThresholds) -> GradeThresholds:
        data = self.obj(value, "grade_thresholds", ("A", "B", "C"))
        if data is None:
            return base
        a = self.int_in(data.get("A", base.a), "grade_thresholds.A", 0, 100, base.a)
        b = self.int_in(data.get("B", base.b), "grade_thresholds.B", 0, 100, base.b)
        c = self.int_in(data.get("C", base.c), "grade_thresholds.C", 0, 100, base.c)
        if not b < a:
            self.error("grade_thresholds.B", f"must be below A ({a}), got {b}")
        if not c < b:
            self.error("grade_thresholds.C", f"must be below B ({b}), got {c}")
        return GradeThresholds(a, b, c)

    def mql(self, value: Any, base: MqlRule) -> MqlRule:
        allowed = ("min_fit", "min_engagement", "fast_track_types", "fast_track_min_fit")
        data = self.obj(value, "mql", allowed)
        if data is None:
            return base
        min_fit = self.int_in(
            data.get("min_fit", base.min_fit), "mql.min_fit", 0, 100, base.min_fit
        )
        min_engagement = self.int_in(
            data.get("min_engagement", base.min_engagement),
            "mql.min_engagement",
            0,
            100,
            base.min_engagement,
        )
        fast_track_min_fit = self.int_in(
            data.get("fast_track_min_fit", base.fast_track_min_fit),
            "mql.fast_track_min_fit",
            0,
            100,
            base.fast_track_min_fit,
        )
        fast_track_types = base.fast_track_types
        if "fast_track_types" in data:
            types: list[str] = []
            for i, item in enumerate(self.items(data["fast_track_types"], "mql.fast_track_types")):
                if isinstance(item, str) and item in EVENT_TYPES - SPEND_TYPES:
                    types.append(item)
                else:
                    self.error(
                        f"mql.fast_track_types[{i}]",
                        f"unknown lead event type {_kind(item)}; expected one of "
                        f"{', '.join(sorted(EVENT_TYPES - SPEND_TYPES))}",
                    )
            fast_track_types = tuple(types)
        return MqlRule(min_fit, min_engagement, fast_track_types, fast_track_min_fit)

    def sla(self, value: Any, base: SlaRules) -> SlaRules:
        allowed = ("mql_response_hours", "mql_disposition_hours", "rejection_reasons")
        data = self.obj(value, "sla", allowed)
        if data is None:
            return base
        hours: list[float] = []
        for key, default in (
            ("mql_response_hours", base.mql_response_hours),
            ("mql_disposition_hours", base.mql_disposition_hours),
        ):
            given = data.get(key, default)
            if _is_number(given) and 0 < given <= 24 * 365:
                hours.append(given)
            else:
                self.error(
                    f"sla.{key}", f"must be a number of hours in (0, 8760], got {_kind(given)}"
                )
                hours.append(default)
        reasons = base.rejection_reasons
        if "rejection_reasons" in data:
            parsed: list[str] = []
            items = self.items(data["rejection_reasons"], "sla.rejection_reasons")
            for i, item in enumerate(items):
                path = f"sla.rejection_reasons[{i}]"
                if not (isinstance(item, str) and item.strip()):
                    self.error(path, f"must be a non-empty string, got {_kind(item)}")
                elif item in parsed:
                    self.error(path, f"{item!r} is listed twice")
                else:
                    parsed.append(item)
            if isinstance(data["rejection_reasons"], list) and not items:
                self.error("sla.rejection_reasons", "must list at least one reason")
            reasons = tuple(parsed)
        return SlaRules(hours[0], hours[1], reasons)

    def int_in(self, value: Any, path: str, lo: int, hi: int, fallback: int) -> int:
        if not _is_int(value):
            self.error(path, f"must be an integer, got {_kind(value)}")
            return fallback
        if not lo <= value <= hi:
            self.error(path, f"must be between {lo} and {hi}, got {value}")
            return fallback
        return int(value)
