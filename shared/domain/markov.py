"""Data-driven attribution (SPEC 17): a first-order Markov chain over a tenant's channel paths.

A path is one lead's attribution touches (SPEC 5) in time order, as channels, repeats kept.
The chain's states are `(start)`, the channels, `(conversion)` and `(null)`; every path runs
start → its channels → conversion (converting paths) or null (the others). Transition
probabilities are the observed transition counts normalised per source state.

The removal effect of a channel is 1 - P(conversion with the channel removed) / P(conversion),
where removing a channel sends every transition into it to null. Both probabilities are the
chain's absorption probabilities into conversion from start, solved exactly as the linear
system (I - Q) x = r over the channel states (Q: channel → channel, r: channel → conversion),
not by simulation.

Self-transitions (a channel repeated) change the counts but not the removal effects: they
only delay the step out of a state, whose destinations keep their proportions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, NamedTuple

from shared.domain.attribution import DATA_DRIVEN, NONE_KEY, Conversion, Credit
from shared.domain.events import Event

START: Final = "(start)"
CONVERSION: Final = "(conversion)"
NULL: Final = "(null)"


class Transition(NamedTuple):
    source: str
    target: str
    probability: float


class RemovalEffect(NamedTuple):
    channel: str
    effect: float


@dataclass(frozen=True, slots=True)
class MarkovModel:
    """A fitted chain: how many paths and conversions it saw, its transitions (sorted by
    source then target) and each channel's removal effect (sorted by channel)."""

    paths: int
    conversions: int
    transitions: tuple[Transition, ...]
    removal_effects: tuple[RemovalEffect, ...]

    def effects(self) -> dict[str, float]:
        return dict(self.removal_effects)


EMPTY_MODEL: Final = MarkovModel(0, 0, (), ())


def channel_of(channel: str | None) -> str:
    """A touch's state in the chain: its channel, `(none)` without one."""
    return NONE_KEY if channel is None else channel


def lead_path(
    touches: Iterable[tuple[datetime, str | None]], converted_at: datetime | None
) -> tuple[tuple[str, ...], bool] | None:
    """A lead's path from its touches (time, channel) in time order: up to and including
    `converted_at` (the first opportunity's creation or the first win) and converting, or
    the whole path and not converting when there is no conversion. None for an empty path:
    such a lead is left out."""
    if converted_at is None:
        channels = tuple(channel_of(c) for _, c in touches)
    else:
        channels = tuple(channel_of(c) for at, c in touches if at <= converted_at)
    if not channels:
        return None
    return channels, converted_at is not None


class PathCounts:
    """Transition counts accumulated path by path, so that a tenant's paths can stream in
    without being held in memory."""

    __slots__ = ("conversions", "counts", "paths")

    def __init__(self) -> None:
        self.paths = 0
        self.conversions = 0
        self.counts: Counter[tuple[str, str]] = Counter()

    def add(self, channels: Sequence[str], converted: bool) -> None:
        if not channels:
            raise ValueError("a path has at least one channel")
        self.paths += 1
        self.conversions += converted
        counts = self.counts
        previous = START
        for channel in channels:
            counts[previous, channel] += 1
            previous = channel
        counts[previous, CONVERSION if converted else NULL] += 1


def fit(paths: Iterable[tuple[Sequence[str], bool]]) -> MarkovModel:
    """The chain of these (channels, converted) paths."""
    counts = PathCounts()
    for channels, converted in paths:
        counts.add(channels, converted)
    return fit_counts(counts)


def fit_counts(counts: PathCounts) -> MarkovModel:
    if counts.paths == 0:
        return EMPTY_MODEL
    totals: Counter[str] = Counter()
    for (source, _), n in counts.counts.items():
        totals[source] += n
    transitions = tuple(
        sorted(
            Transition(source, target, n / totals[source])
            for (source, target), n in counts.counts.items()
        )
    )
    channels = sorted({s for s, _ in counts.counts if s != START})
    probability = _probabilities(transitions)
    base = conversion_probability(probability, channels)
    effects = tuple(
        RemovalEffect(
            channel,
            0.0
            if base == 0.0
            else _clamp(
                1.0 - conversion_probability(probability, channels, removed=channel) / base
            ),
        )
        for channel in channels
    )
    return MarkovModel(counts.paths, counts.conversions, transitions, effects)


def _probabilities(transitions: Iterable[Transition]) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = {}
    for source, target, p in transitions:
        table.setdefault(source, {})[target] = p
    return table


def _clamp(effect: float) -> float:
    # Removing a state can only lower the absorption probability; rounding must not make
    # an effect a hair below 0 or above 1.
    return min(1.0, max(0.0, effect))


def conversion_probability(
    probability: Mapping[str, Mapping[str, float]],
    channels: Sequence[str],
    removed: str | None = None,
) -> float:
    """P(absorbed in conversion | start); transitions into `removed` go to null."""
    states = [c for c in channels if c != removed]
    index = {c: i for i, c in enumerate(states)}
    n = len(states)
    # Augmented matrix of (I - Q) x = r.
    matrix = [[0.0] * (n + 1) for _ in range(n)]
    for i, state in enumerate(states):
        row = matrix[i]
        row[i] = 1.0
        for target, p in probability.get(state, {}).items():
            if target == CONVERSION:
                row[n] += p
            elif target in index:
                row[index[target]] -= p
    absorption = _solve(matrix)
    return math.fsum(
        p * absorption[index[target]]
        for target, p in probability.get(START, {}).items()
        if target in index
    )


def _solve(augmented: list[list[float]]) -> list[float]:
    """Gauss-Jordan elimination with partial pivoting. I - Q of an absorbing chain is
    non-singular: every channel state of a fitted chain reaches an absorbing state."""
    n = len(augmented)
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(augmented[r][col]))
        augmented[col], augmented[pivot] = augmented[pivot], augmented[col]
        head = augmented[col]
        scale = head[col]
        for k in range(col, n + 1):
            head[k] /= scale
        for r in range(n):
            if r == col:
                continue
            row = augmented[r]
            factor = row[col]
            if factor != 0.0:
                for k in range(col, n + 1):
                    row[k] -= factor * head[k]
    return [augmented[i][n] for i in range(n)]


def split_credit(channels: Sequence[str], effects: Mapping[str, float]) -> list[float]:
    """Fractions of one conversion for each touch of its path (as channels): the distinct
    channels share the conversion in proportion to their removal effects (all zero or
    unknown to the model: equally), and a channel's share is split equally over its touches.
    """
    touches_per_channel = Counter(channels)
    weights = {c: effects.get(c, 0.0) for c in touches_per_channel}
    total = math.fsum(weights.values())
    if total <= 0.0:
        weights = dict.fromkeys(touches_per_channel, 1.0)
        total = float(len(weights))
    return [weights[c] / total / touches_per_channel[c] for c in channels]


def credit_conversion(
    touches: Iterable[Event], conversion: Conversion, effects: Mapping[str, float]
) -> list[Credit]:
    """The DATA_DRIVEN credit rows of one conversion over its eligible touches (SPEC 5:
    marketing touches at or before it, in (occurred_at, arrival) order), as the other
    models' rows are; without an eligible touch, one `(unattributed)` row."""
    eligible = sorted(
        (t for t in touches if t.is_touch and t.occurred_at <= conversion.at),
        key=lambda t: t.order_key,
    )
    head = (conversion.opportunity_id, conversion.kind, DATA_DRIVEN)
    if not eligible:
        return [Credit(*head, None, None, None, None, None, 1.0, conversion.amount, conversion.at)]
    fractions = split_credit([channel_of(t.channel) for t in eligible], effects)
    return [
        Credit(
            *head,
            t.event_id,
            t.channel,
            t.campaign_id,
            t.content_id,
            t.message_id,
            f,
            conversion.amount * f,
            conversion.at,
        )
        for t, f in zip(eligible, fractions, strict=True)
    ]
