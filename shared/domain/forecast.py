"""Revenue forecast (SPEC 18): each open opportunity's probability of being won within the
horizon, learned from the tenant's own history by stage and age in stage.

Learning looks back from the instant of the forecast (`as_of`) and uses only what was known
then: at weekly snapshots whose horizon had already ended by `as_of`, every opportunity open
at the snapshot is an observation of (stage, age in stage) and whether it was won within the
horizon after it. A cell's rate is shrunk towards its stage's rate (scaled by how deals of
that age in stage fare overall), and a stage's rate towards the fixed stage probabilities,
so a rare combination does not swing the forecast. With fewer than 30
closed opportunities the fixed probabilities (20/40/60/80/90 % by stage order) are used.

Expected revenue is the sum of probability times amount; its 80 % interval treats each
opportunity as an independent win or loss (normal approximation). The backtest repeats the
forecast at each of the 12 most recent weekly instants whose horizon has ended and compares
it with what the opportunities open then actually won in that horizon (MAPE).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

FALLBACK: Final = (0.2, 0.4, 0.6, 0.8, 0.9)
MIN_CLOSED: Final = 30
# Age in stage, in days: [0, 14), [14, 30), [30, 60), 60 and more.
AGE_EDGES: Final = (14, 30, 60)
SHRINK: Final = 5.0
BACKTEST_WEEKS: Final = 12
MAX_SNAPSHOTS: Final = 104
Z80: Final = 1.2816  # the standard normal's 90th percentile: an 80 % two-sided interval
NO_STAGE: Final = "(no stage)"
WEEK: Final = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class OpportunityHistory:
    """`stages` are the stage changes in time order; `closed_at` with `won` for a closed one."""

    opportunity_id: str
    amount: float
    created_at: datetime
    stages: Sequence[tuple[datetime, str]] = ()
    closed_at: datetime | None = None
    won: bool = False
    won_amount: float | None = None

    def is_open(self, t: datetime) -> bool:
        return self.created_at <= t and (self.closed_at is None or self.closed_at > t)

    def stage_at(self, t: datetime) -> tuple[str, datetime]:
        """The stage at `t` and when it was entered."""
        stage, since = NO_STAGE, self.created_at
        for at, name in self.stages:
            if at > t:
                break
            stage, since = name, at
        return stage, since

    def won_within(self, start: datetime, end: datetime) -> float:
        """The revenue this opportunity won in (start, end]."""
        if self.won and self.closed_at is not None and start < self.closed_at <= end:
            return self.won_amount if self.won_amount is not None else self.amount
        return 0.0


@dataclass(frozen=True, slots=True)
class StageForecast:
    stage: str
    open_opportunities: int
    open_amount: float
    win_probability: float
    expected_revenue: float


@dataclass(frozen=True, slots=True)
class StageProbability:
    stage: str
    probability: float
    opportunities: int  # observations it was learned from (0 for the fixed fallback)


@dataclass(frozen=True, slots=True)
class Forecast:
    expected_revenue: float
    low: float
    high: float
    by_stage: tuple[StageForecast, ...]
    stage_probabilities: tuple[StageProbability, ...]
    learned: bool  # False: the fixed stage probabilities


@dataclass(frozen=True, slots=True)
class BacktestWeek:
    as_of: datetime
    forecast: float
    actual: float


@dataclass(frozen=True, slots=True)
class Backtest:
    weeks: tuple[BacktestWeek, ...]
    mape: float | None  # None when no week had revenue to compare with


def age_bucket(days: float) -> int:
    return sum(1 for edge in AGE_EDGES if days >= edge)


def stage_order(opportunities: Sequence[OpportunityHistory]) -> list[str]:
    """Stages in the order deals pass through them: by their mean position in each
    opportunity's sequence of stages (ties by name); no stage comes first."""
    positions: dict[str, list[int]] = defaultdict(list)
    for o in opportunities:
        for i, (_, name) in enumerate(o.stages):
            positions[name].append(i)
    ordered = sorted(positions, key=lambda s: (sum(positions[s]) / len(positions[s]), s))
    return [NO_STAGE, *(s for s in ordered if s != NO_STAGE)]


class StageModel:
    """P(won within the horizon | stage, age in stage) as known at `as_of`."""

    def __init__(
        self, opportunities: Sequence[OpportunityHistory], as_of: datetime, horizon: timedelta
    ) -> None:
        known = [o for o in opportunities if o.created_at <= as_of]
        order = stage_order(known)
        self.fallback = {s: FALLBACK[min(i, len(FALLBACK) - 1)] for i, s in enumerate(order)}
        closed = sum(1 for o in known if o.closed_at is not None and o.closed_at <= as_of)
        self.learned = closed >= MIN_CLOSED
        self._cells: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0, 0.0])
        self._stages: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
        self._ages: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
        if not self.learned:
            return
        # Snapshot k is at base - k weeks; each opportunity is visited only at the
        # snapshots it was open at, so the cost is its open weeks, not all of them.
        base = as_of - horizon
        first = min(o.created_at for o in known)
        if first > base:
            return
        snapshots = min(MAX_SNAPSHOTS, math.floor(_weeks(base - first)) + 1)
        for o in known:
            # Open at snapshot k: created_at <= base - k weeks < closed_at.
            newest = (
                0 if o.closed_at is None else max(0, math.floor(_weeks(base - o.closed_at)) + 1)
            )
            oldest = min(snapshots - 1, math.floor(_weeks(base - o.created_at)))
            for k in range(newest, oldest + 1):
                snapshot = base - k * WEEK
                stage, since = o.stage_at(snapshot)
                end = snapshot + horizon
                won = 1.0 if o.won and o.closed_at is not None and o.closed_at <= end else 0.0
                age = age_bucket(_days(snapshot - since))
                for counts in (self._cells[(stage, age)], self._stages[stage], self._ages[age]):
                    counts[0] += won
                    counts[1] += 1

    def stage_probability(self, stage: str) -> float:
        prior = self.fallback.get(stage, FALLBACK[0])
        if not self.learned:
            return prior
        won, n = self._stages.get(stage, (0.0, 0.0))
        return (won + SHRINK * prior) / (n + SHRINK)

    def probability(self, stage: str, age_days: float) -> float:
        """The cell's rate, shrunk towards the stage's rate scaled by how deals of that age
        in stage fare against all deals: a deal that has sat long in any stage is less
        likely to close, which few observations of one stage alone could not show."""
        stage_rate = self.stage_probability(stage)
        if not self.learned:
            return stage_rate
        bucket = age_bucket(age_days)
        won_all = sum(c[0] for c in self._ages.values())
        n_all = sum(c[1] for c in self._ages.values())
        prior = stage_rate
        if won_all > 0 and n_all > 0:
            overall = won_all / n_all
            won_age, n_age = self._ages.get(bucket, (0.0, 0.0))
            age_rate = (won_age + SHRINK * overall) / (n_age + SHRINK)
            prior = min(1.0, stage_rate * age_rate / overall)
        won, n = self._cells.get((stage, bucket), (0.0, 0.0))
        return (won + SHRINK * prior) / (n + SHRINK)

    def observations(self, stage: str) -> int:
        return int(self._stages.get(stage, (0.0, 0.0))[1])


def forecast(
    opportunities: Sequence[OpportunityHistory], as_of: datetime, horizon: timedelta
) -> Forecast:
    model = StageModel(opportunities, as_of, horizon)
    per_stage: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
    variance = 0.0
    for o in opportunities:
        if not o.is_open(as_of):
            continue
        stage, since = o.stage_at(as_of)
        p = model.probability(stage, _days(as_of - since))
        row = per_stage[stage]
        row[0] += 1
        row[1] += o.amount
        row[2] += p * o.amount
        row[3] += p
        variance += p * (1 - p) * o.amount**2
    expected = sum(row[2] for row in per_stage.values())
    spread = Z80 * math.sqrt(variance)
    total = sum(row[1] for row in per_stage.values())
    rank = {s: i for i, s in enumerate(stage_order(opportunities))}
    stages = sorted(per_stage, key=lambda s: (rank.get(s, len(rank)), s))
    by_stage = tuple(
        StageForecast(
            stage=s,
            open_opportunities=int(per_stage[s][0]),
            open_amount=per_stage[s][1],
            # Amount-weighted, so probability times open amount is the stage's revenue.
            win_probability=(
                per_stage[s][2] / per_stage[s][1]
                if per_stage[s][1]
                else per_stage[s][3] / per_stage[s][0]
            ),
            expected_revenue=per_stage[s][2],
        )
        for s in stages
    )
    known = sorted(set(model.fallback) | set(per_stage), key=lambda s: (rank.get(s, len(rank)), s))
    probabilities = tuple(
        StageProbability(s, model.stage_probability(s), model.observations(s)) for s in known
    )
    return Forecast(
        expected_revenue=expected,
        low=max(0.0, expected - spread),
        high=min(total, expected + spread),
        by_stage=by_stage,
        stage_probabilities=probabilities,
        learned=model.learned,
    )


def backtest(
    opportunities: Sequence[OpportunityHistory], now: datetime, horizon: timedelta
) -> Backtest:
    """The forecast made at each of the 12 latest weekly instants whose horizon has ended,
    from what was known then, against what the opportunities open then won in it."""
    weeks = []
    for k in range(BACKTEST_WEEKS):
        as_of = now - horizon - k * WEEK
        known = [_as_known_at(o, as_of) for o in opportunities if o.created_at <= as_of]
        if not known:
            break
        predicted = forecast(known, as_of, horizon).expected_revenue
        actual = sum(
            o.won_within(as_of, as_of + horizon) for o in opportunities if o.is_open(as_of)
        )
        weeks.append(BacktestWeek(as_of, predicted, actual))
    weeks.reverse()
    errors = [abs(w.forecast - w.actual) / w.actual for w in weeks if w.actual > 0]
    return Backtest(tuple(weeks), sum(errors) / len(errors) if errors else None)


def _as_known_at(o: OpportunityHistory, t: datetime) -> OpportunityHistory:
    """The opportunity as it was known at `t`: later stage changes and a later close unseen."""
    closed = o.closed_at is not None and o.closed_at <= t
    return OpportunityHistory(
        o.opportunity_id,
        o.amount,
        o.created_at,
        tuple(s for s in o.stages if s[0] <= t),
        o.closed_at if closed else None,
        o.won and closed,
        o.won_amount if closed else None,
    )


def _days(delta: timedelta) -> float:
    return delta.total_seconds() / 86400


def _weeks(delta: timedelta) -> float:
    return delta / WEEK
