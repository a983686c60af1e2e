"""Predictive lead scoring (SPEC 18): labels, leak-free features, and applying a model.

A lead's **label** is decided once: positive when it became a customer within 90 days of
its creation, negative when it was closed lost or disqualified first, or when 90 days passed
without a win; until then it is unlabelled. The first of these decisions counts.

Its **features** are read from what the lead showed strictly before a cut-off: the moment
its label was decided for a labelled lead (so nothing that happened at or after the
decision can teach the model the answer), the moment it is scored otherwise. The same
function serves training and the stream, so the model sees the same kind of lead in both.

Time itself is not a feature that can leak. A lead that reached day 90 without a win is
negative by definition, and a win cuts a lead off in the middle of its activity, so a clock
read at the cut-off, or how long the lead has been active by then, would teach the model the
definition of the label instead of the lead. So the lead's age is read as how many of its
first 14 days it was active (the days from its creation to its latest touch in them), and
"the last 30 days" end at its latest touch, not at the cut-off.

A model is a linear function over standardised features (a logistic regression whose
calibration is folded into its weights), so applying it in the stream is one dot product
over the lead's features, and each term of that product is how much the feature moved
the lead away from the average lead.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from shared.domain.config import EngagementRule, FitRule, TenantConfig
from shared.domain.events import MARKETING_TOUCHES, Event
from shared.domain.scoring import engagement, fit

HORIZON: Final = timedelta(days=90)
EARLY: Final = timedelta(days=14)
RECENT: Final = timedelta(days=30)
# An undecided lead is scored with everything it did up to and including the instant.
_INCLUSIVE: Final = timedelta(microseconds=1)
MIN_LABELLED: Final = 200
MIN_POSITIVES: Final = 20
# A touch count stops adding evidence past this many, so one bot cannot dominate a lead.
COUNT_CAP: Final = 50
TOP_FACTORS: Final = 5
# Traits that identify a person or company rather than describe one.
IDENTIFYING_TRAITS: Final = frozenset(
    {"email", "company_domain", "first_name", "last_name", "name", "phone", "company"}
)

_TOUCH_WORDS: Final[Mapping[str, tuple[str, str]]] = {
    # (plural for counts, singular for "any ...")
    "page_view": ("page views", "page view"),
    "email_open": ("email opens", "email open"),
    "email_click": ("email clicks", "email click"),
    "ad_click": ("ad clicks", "ad click"),
    "social_engagement": ("social engagements", "social engagement"),
    "content_download": ("content downloads", "content download"),
    "chat_conversation": ("chat conversations", "chat conversation"),
    "webinar_attended": ("webinars", "webinar"),
    "event_attended": ("events attended", "event attended"),
    "form_submit": ("form submissions", "form submission"),
    "demo_request": ("demo requests", "demo request"),
}
_WINDOW_WORDS: Final = {"early": "in first 14 days", "recent": "in last 30 days of activity"}


NO_CHANNEL: Final = "(none)"


class TouchLike(Protocol):
    """A marketing touch: an `Event` of one of the touch types, or a `Touch`."""

    @property
    def occurred_at(self) -> datetime: ...
    @property
    def type(self) -> str: ...
    @property
    def channel(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Touch:
    """A marketing touch as the models job reads it: smaller than an `Event`."""

    occurred_at: datetime
    type: str
    channel: str | None


@dataclass(frozen=True, slots=True)
class LeadHistory:
    """What the features and the label of one lead are read from: `touches` (marketing
    touches only) and `trait_changes` in fold order; `lost_at` the first time the lead
    entered CLOSED_LOST or DISQUALIFIED."""

    created_at: datetime
    touches: Sequence[TouchLike] = ()
    trait_changes: Sequence[tuple[datetime, Mapping[str, Any]]] = ()
    customer_at: datetime | None = None
    lost_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AccountContext:
    """The lead's account before the cut-off: how many members it had, and how many
    marketing touches its other members made in the 30 days before the cut-off."""

    members: int = 0
    engagement: int = 0


@dataclass(frozen=True, slots=True)
class Label:
    positive: bool | None
    decided_at: datetime | None


UNLABELLED: Final = Label(None, None)


def label(history: LeadHistory, now: datetime) -> Label:
    """The lead's label at `now`: the first decision among a win within the horizon, a
    loss or disqualification, and the horizon passing."""
    deadline = history.created_at + HORIZON
    won = history.customer_at
    lost = history.lost_at
    if won is not None and won <= deadline and (lost is None or won <= lost):
        return Label(True, won) if won <= now else UNLABELLED
    if lost is not None and lost <= deadline:
        return Label(False, lost) if lost <= now else UNLABELLED
    return Label(False, deadline) if deadline <= now else UNLABELLED


def complete(history: LeadHistory, now: datetime) -> bool:
    """Its 90 days have passed: the lead is labelled whatever its outcome."""
    return history.created_at + HORIZON <= now


def cutoff(history: LeadHistory, now: datetime) -> datetime:
    """Features see only what happened before this instant: the label's decision for a
    labelled lead, `now` included for one that is not."""
    decided = label(history, now).decided_at
    return decided if decided is not None else now + _INCLUSIVE


def traits_at(history: LeadHistory, cut: datetime) -> dict[str, Any]:
    traits: dict[str, Any] = {}
    for at, changes in history.trait_changes:
        if at >= cut:
            break
        for key, value in changes.items():
            if value is None:
                traits.pop(key, None)
            else:
                traits[key] = value
    return traits


def trait_features(traits: Mapping[str, Any]) -> dict[str, float]:
    """Categorical traits one-hot (values compared case-insensitively, as rules do),
    numeric ones log-scaled; identifying and structured traits are left out."""
    out: dict[str, float] = {}
    for name, value in traits.items():
        if name in IDENTIFYING_TRAITS:
            continue
        if isinstance(value, bool):
            out[f"trait:{name}={str(value).lower()}"] = 1.0
        elif isinstance(value, int | float):
            if math.isfinite(value):
                out[f"trait:{name}"] = math.copysign(math.log1p(abs(value)), value)
        elif isinstance(value, str) and value.strip():
            out[f"trait:{name}={value.strip().lower()}"] = 1.0
    return out


def features(
    history: LeadHistory, cut: datetime, account: AccountContext = AccountContext()
) -> dict[str, float]:
    """The lead's features from what it showed strictly before `cut` (absent keys are 0).

    They depend on `cut` only through which events happened before it: "the last 30 days"
    are those of the lead's activity, up to its latest touch. Measured back from the cut-off
    instead, they would differ by label for the same lead, because a lead that reaches day
    90 without a win is cut off then, long after its touches, while a win cuts a lead off
    in the middle of its activity: the model would learn the timing of the label.

    Only the touches of the first 14 days and of the last 30 are read (found by bisection),
    so the cost does not grow with a long history."""
    out = trait_features(traits_at(history, cut))
    touches = history.touches
    end = bisect_left(touches, cut, key=_when)
    if end == 0:
        return _with_account(out, account)
    latest = touches[end - 1].occurred_at
    early_end = bisect_left(touches, min(history.created_at + EARLY, cut), hi=end, key=_when)
    recent_start = bisect_right(touches, latest - RECENT, hi=end, key=_when)
    for window, lo, hi in (("early", 0, early_end), ("recent", recent_start, end)):
        types: Counter[str] = Counter()
        channels: Counter[str] = Counter()
        for i in range(lo, hi):
            touch = touches[i]
            types[touch.type] += 1
            channels[touch.channel or NO_CHANNEL] += 1
        for kind, count in types.items():
            out[f"{window}:{kind}"] = float(min(count, COUNT_CAP))
            out[f"{window}_any:{kind}"] = 1.0
        for channel, count in channels.items():
            out[f"{window}_channel:{channel}"] = float(min(count, COUNT_CAP))
    out[f"first_channel={touches[0].channel or NO_CHANNEL}"] = 1.0
    if early_end:
        last_early = touches[early_end - 1].occurred_at
        out["days_active"] = max(0.0, (last_early - history.created_at).total_seconds() / 86400)
    return _with_account(out, account)


def _when(touch: TouchLike) -> datetime:
    return touch.occurred_at


def _with_account(out: dict[str, float], account: AccountContext) -> dict[str, float]:
    if account.members:
        out["account_members"] = math.log1p(account.members)
    if account.engagement:
        out["account_engagement"] = math.log1p(account.engagement)
    return out


def describe(feature: str) -> str:
    """A feature in the words a marketer reads: "industry = fintech", "webinars in first
    14 days"."""
    if feature.startswith("trait:"):
        name, _, value = feature[len("trait:") :].partition("=")
        words = name.replace("_", " ")
        return f"{words} = {value}" if _ else f"{words} (log scale)"
    if feature.startswith("first_channel="):
        return f"first touch channel = {_channel_words(feature.split('=', 1)[1])}"
    if feature == "days_active":
        return "days active in first 14 days"
    if feature == "account_members":
        return "people from the same account (log scale)"
    if feature == "account_engagement":
        return "touches by the rest of the account in last 30 days (log scale)"
    head, _, kind = feature.partition(":")
    window, _, part = head.partition("_")
    when = _WINDOW_WORDS.get(window)
    if when is None or not kind:
        return feature.replace("_", " ")
    if part == "channel":
        return f"touches from {_channel_words(kind)} {when}"
    plural, singular = _TOUCH_WORDS.get(kind, (kind.replace("_", " "), kind.replace("_", " ")))
    if part == "any":
        return f"any {singular} {when}"
    return f"{plural} {when}"


def _channel_words(channel: str) -> str:
    return "no channel" if channel == "(none)" else channel.replace("_", " ")


def rule_score(history: LeadHistory, cut: datetime, config: TenantConfig) -> int:
    """The tenant's rule score (fit + engagement, SPEC 4) from what the lead showed before
    `cut`, evaluated at the last instant before it: what the rules said when the model's
    features were read."""
    instant = cut - _INCLUSIVE
    touches = [
        t if isinstance(t, Event) else Event(f"touch-{i}", t.type, t.occurred_at, channel=t.channel)
        for i, t in enumerate(history.touches)
        if t.occurred_at < cut
    ]
    return fit(traits_at(history, cut), config).score + engagement(touches, config, instant).score


@dataclass(frozen=True, slots=True)
class Factor:
    feature: str  # in words
    contribution: float  # in log-odds, signed, against the average lead


@dataclass(frozen=True, slots=True)
class Prediction:
    probability: float
    percentile: int
    tier: int
    factors: tuple[Factor, ...]


@dataclass(frozen=True)
class LinearModel:
    """A calibrated logistic model over standardised features: log-odds = intercept +
    sum(weights[j] * (x[j] - means[j]) / scales[j]). `quantiles` are sorted probabilities of
    the tenant's leads when the model was trained, for the percentile."""

    version: int
    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float
    quantiles: tuple[float, ...]

    def __post_init__(self) -> None:
        n = len(self.features)
        if not (len(self.means) == len(self.scales) == len(self.weights) == n):
            raise ValueError("a model needs one mean, scale and weight per feature")
        index = {name: j for j, name in enumerate(self.features)}
        per_unit = tuple(w / s for w, s in zip(self.weights, self.scales, strict=True))
        # The log-odds of a lead whose features are all absent (zero).
        base = self.intercept - sum(u * m for u, m in zip(per_unit, self.means, strict=True))
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_per_unit", per_unit)
        object.__setattr__(self, "_base", base)

    def log_odds(self, x: Mapping[str, float]) -> float:
        index: dict[str, int] = self._index  # type: ignore[attr-defined]
        per_unit: tuple[float, ...] = self._per_unit  # type: ignore[attr-defined]
        total: float = self._base  # type: ignore[attr-defined]
        for name, value in x.items():
            j = index.get(name)
            if j is not None:
                total += per_unit[j] * value
        return total

    def predict(self, x: Mapping[str, float]) -> Prediction:
        p = sigmoid(self.log_odds(x))
        percentile = self.percentile(p)
        contributions = [
            (abs(c), c, name)
            for name, w, m, s in zip(
                self.features, self.weights, self.means, self.scales, strict=True
            )
            if (c := w * (x.get(name, 0.0) - m) / s) != 0.0
        ]
        contributions.sort(key=lambda item: (-item[0], item[2]))
        factors = tuple(
            Factor(describe(name), round(c, 4)) for _, c, name in contributions[:TOP_FACTORS]
        )
        return Prediction(p, percentile, tier(percentile), factors)

    def percentile(self, p: float) -> int:
        """The share of the tenant's leads (at training) scored below `p`, 0 to 99: the best
        lead is better than 99 % of the others, not than all of them, itself included."""
        if not self.quantiles:
            return 50
        return min(99, round(100 * bisect_right(self.quantiles, p) / len(self.quantiles)))

    def weights_in_words(self) -> list[tuple[str, float]]:
        """Each feature's weight (log-odds per standard deviation), largest effect first."""
        pairs = [(describe(f), w) for f, w in zip(self.features, self.weights, strict=True)]
        return sorted(pairs, key=lambda item: (-abs(item[1]), item[0]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "features": list(self.features),
            "means": list(self.means),
            "scales": list(self.scales),
            "weights": list(self.weights),
            "intercept": self.intercept,
            "quantiles": list(self.quantiles),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LinearModel:
        return cls(
            version=int(data["version"]),
            features=tuple(data["features"]),
            means=tuple(float(v) for v in data["means"]),
            scales=tuple(float(v) for v in data["scales"]),
            weights=tuple(float(v) for v in data["weights"]),
            intercept=float(data["intercept"]),
            quantiles=tuple(float(v) for v in data["quantiles"]),
        )


def tier(percentile: int) -> int:
    """1 for the top quartile of leads, 4 for the bottom one."""
    if percentile >= 75:
        return 1
    if percentile >= 50:
        return 2
    if percentile >= 25:
        return 3
    return 4


def sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def history_from_events(
    events: Iterable[Event], customer_at: datetime | None, lost_at: datetime | None
) -> LeadHistory | None:
    """A lead's history from its events in fold order (None when it has none)."""
    touches: list[Event] = []
    changes: list[tuple[datetime, Mapping[str, Any]]] = []
    created: datetime | None = None
    for e in events:
        if created is None:
            created = e.occurred_at
        if e.type in MARKETING_TOUCHES:
            touches.append(e)
        elif e.type in ("identify", "lead_updated"):
            traits = e.properties.get("traits")
            if isinstance(traits, Mapping) and traits:
                changes.append((e.occurred_at, traits))
    if created is None:
        return None
    return LeadHistory(created, tuple(touches), tuple(changes), customer_at, lost_at)


# A proposal gives this many points per unit of log-odds: ten points make the odds of
# becoming a customer about e (2.7) times larger.
POINTS_PER_LOG_ODDS: Final = 10
# A proposal people can review: the traits that move the odds most, and none whose effect
# is smaller than a fifth of a log-odds unit (2 points).
MAX_FIT_RULES: Final = 20
MIN_FIT_POINTS: Final = 2


@dataclass(frozen=True, slots=True)
class Proposal:
    """Fit rules and engagement points derived from a model, for people to review."""

    fit_rules: tuple[FitRule, ...]
    engagement_rules: tuple[EngagementRule, ...]

    def config(self, base: TenantConfig) -> TenantConfig:
        """`base` with the proposal applied, as `updateIcp` and `updateScoringModel` would."""
        return replace(base, fit_rules=self.fit_rules, engagement_rules=self.engagement_rules)


def propose(model: LinearModel) -> Proposal:
    """Rules a person can read and apply, from the model's weights.

    Each category the model weighs (industry = fintech) becomes an `eq` fit rule; a numeric
    trait becomes a `gte` rule at one standard deviation above the tenant's average (or
    `lte` below it when more is worse), worth what that difference is worth to the model;
    each touch type gets the engagement points one more such touch is worth to the model,
    counting both the first-14-days and the last-30-days windows a touch falls in. Only the
    20 fit rules worth most are kept, none under 2 points."""
    fit_rules: list[tuple[float, FitRule]] = []
    per_type: dict[str, float] = {}
    for name, w, m, s in zip(model.features, model.weights, model.means, model.scales, strict=True):
        per_unit = w / s
        if name.startswith("trait:"):
            attribute, eq, value = name[len("trait:") :].partition("=")
            if eq:
                points = round(POINTS_PER_LOG_ODDS * per_unit)
                if abs(points) >= MIN_FIT_POINTS:
                    fit_rules.append((abs(per_unit), FitRule(attribute, "eq", value, points)))
            else:
                # The feature is log1p(value): one deviation away from the average.
                points = round(POINTS_PER_LOG_ODDS * abs(per_unit) * s)
                if points >= MIN_FIT_POINTS:
                    edge = m + s if per_unit > 0 else max(0.0, m - s)
                    op = "gte" if per_unit > 0 else "lte"
                    threshold = round(math.expm1(edge), 2)
                    fit_rules.append((abs(per_unit) * s, FitRule(attribute, op, threshold, points)))
        elif name.startswith(("early:", "recent:")):
            kind = name.split(":", 1)[1]
            per_type[kind] = per_type.get(kind, 0.0) + per_unit
    fit_rules.sort(key=lambda item: (-item[0], item[1].attribute))
    engagement_rules = tuple(
        EngagementRule(kind, points)
        for kind in sorted(per_type)
        if (points := round(POINTS_PER_LOG_ODDS * per_type[kind]))
    )
    return Proposal(tuple(rule for _, rule in fit_rules[:MAX_FIT_RULES]), engagement_rules)
