"""Fit, grade, disqualifiers, engagement and the score matrix (SPEC 4).

Every score comes with its evidence: which rule contributed how many points.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import takewhile
from typing import Any

from shared.domain.conditions import Condition, matches
from shared.domain.config import GradeThresholds, TenantConfig
from shared.domain.events import Event

MAX_SCORE = 100


@dataclass(frozen=True, slots=True)
class FitEvidence:
    rule_index: int
    rule: str
    points: int


@dataclass(frozen=True, slots=True)
class FitResult:
    score: int
    evidence: tuple[FitEvidence, ...]


@dataclass(frozen=True, slots=True)
class EngagementEvidence:
    """`points` is what the rule counts after its cap; `capped` says the cap cut it."""

    rule_index: int
    rule: str
    touches: int
    points: int
    capped: bool


@dataclass(frozen=True, slots=True)
class EngagementResult:
    score: int
    evidence: tuple[EngagementEvidence, ...]


def clamp(value: int) -> int:
    return max(0, min(MAX_SCORE, value))


def fit(traits: Mapping[str, Any], config: TenantConfig) -> FitResult:
    evidence = tuple(
        FitEvidence(index, rule.describe(), rule.points)
        for index, rule in enumerate(config.fit_rules)
        if matches(rule, traits)
    )
    return FitResult(clamp(sum(item.points for item in evidence)), evidence)


def grade(fit_score: int, thresholds: GradeThresholds) -> str:
    if fit_score >= thresholds.a:
        return "A"
    if fit_score >= thresholds.b:
        return "B"
    if fit_score >= thresholds.c:
        return "C"
    return "D"


def disqualifier_match(traits: Mapping[str, Any], config: TenantConfig) -> Condition | None:
    """The first ICP disqualifier that holds on the traits, if any."""
    for condition in config.disqualifiers:
        if matches(condition, traits):
            return condition
    return None


def engagement_rule_index(touch: Event, config: TenantConfig) -> int | None:
    """Index of the first engagement rule that scores this touch, if any."""
    for index, rule in config.rules_by_type.get(touch.type, ()):
        if rule.when is None or matches(rule.when, touch.properties):
            return index
    return None


def engagement_tier(engagement_score: int) -> int:
    if engagement_score >= 60:
        return 1
    if engagement_score >= 30:
        return 2
    return 3


def matrix(fit_grade: str, engagement_score: int) -> str:
    return f"{fit_grade}{engagement_tier(engagement_score)}"


class EngagementWindow:
    """Engagement kept up to date as touches arrive, so each event costs O(rules), not O(touches).

    Touches must be added in fold order and evaluated at non-decreasing instants no earlier
    than the last touch added: touches that fall out of the window are dropped for good.
    """

    __slots__ = ("_config", "_counted", "_counts", "_items", "_result", "_span", "_totals")

    def __init__(self, config: TenantConfig) -> None:
        self._config = config
        self._span = timedelta(days=config.window_days)
        self._counted: deque[tuple[datetime, int, int]] = deque()
        rules = len(config.engagement_rules)
        self._totals = [0] * rules
        self._counts = [0] * rules
        # Evidence is rebuilt only for the rules whose touches changed, and most events
        # leave the window as it was: their evaluation is the previous one.
        self._items: list[EngagementEvidence | None] = [None] * rules
        self._result: EngagementResult | None = None

    def add(self, touch: Event) -> None:
        index = engagement_rule_index(touch, self._config)
        if index is None:
            return
        points = self._config.engagement_rules[index].points
        self._counted.append((touch.occurred_at, index, points))
        self._totals[index] += points
        self._counts[index] += 1
        self._items[index] = None
        self._result = None

    def clear(self) -> None:
        rules = len(self._totals)
        self._counted.clear()
        self._totals = [0] * rules
        self._counts = [0] * rules
        self._items = [None] * rules
        self._result = None

    def evaluate(self, instant: datetime) -> EngagementResult:
        """Engagement of the touches in (instant - window_days, instant]."""
        cutoff = instant - self._span
        counted = self._counted
        while counted and counted[0][0] <= cutoff:
            _, index, points = counted.popleft()
            self._totals[index] -= points
            self._counts[index] -= 1
            self._items[index] = None
            self._result = None
        if self._result is not None:
            return self._result
        evidence: list[EngagementEvidence] = []
        total = 0
        items = self._items
        for index, touches in enumerate(self._counts):
            if not touches:
                continue
            item = items[index]
            if item is None:
                item = items[index] = self._evidence(index, touches)
            evidence.append(item)
            total += item.points
        self._result = EngagementResult(clamp(total), tuple(evidence))
        return self._result

    def peek(self, instant: datetime) -> EngagementResult:
        """`evaluate` at `instant` (no earlier than the last touch added) leaving the window
        as it is: the engagement shown at the wall clock costs the touches that left the
        window since, not every touch of the lead."""
        cutoff = instant - self._span
        gone = list(takewhile(lambda item: item[0] <= cutoff, self._counted))
        if not gone:
            return self.evaluate(instant)
        totals = list(self._totals)
        counts = list(self._counts)
        for _, index, points in gone:
            totals[index] -= points
            counts[index] -= 1
        evidence = [
            self._evidence(index, touches, totals[index])
            for index, touches in enumerate(counts)
            if touches
        ]
        return EngagementResult(clamp(sum(e.points for e in evidence)), tuple(evidence))

    def _evidence(self, index: int, touches: int, raw: int | None = None) -> EngagementEvidence:
        rule = self._config.engagement_rules[index]
        raw = self._totals[index] if raw is None else raw
        points = raw
        if rule.max_per_window is not None:
            points = max(-rule.max_per_window, min(rule.max_per_window, raw))
        return EngagementEvidence(index, rule.describe(), touches, points, points != raw)


def engagement(
    touches: Iterable[Event],
    config: TenantConfig,
    instant: datetime,
    recycled_at: datetime | None = None,
) -> EngagementResult:
    """Engagement at `instant` of touches given in fold order; `recycled_at` is the time of
    the last `lead_rejected`: touches at or before it no longer count."""
    window = EngagementWindow(config)
    for touch in touches:
        at = touch.occurred_at
        if at <= instant and (recycled_at is None or at > recycled_at):
            window.add(touch)
    return window.evaluate(instant)
