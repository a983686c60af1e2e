"""SPEC 18 forecast: win probabilities by stage and age in stage, learned from what was known
at the time, on a simulated pipeline whose true probabilities are known."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.forecast import (
    BACKTEST_WEEKS,
    NO_STAGE,
    OpportunityHistory,
    StageModel,
    backtest,
    forecast,
    stage_order,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
HORIZON = timedelta(days=90)
STAGES = ("qualify", "proposal", "negotiation")
LOST_AT_EXIT = {"qualify": 0.4, "proposal": 0.3, "negotiation": 0.3}
MEAN_DAYS = 20.0


def _path(rng: random.Random, stage_index: int) -> tuple[list[tuple[float, str]], float, bool]:
    """From entering STAGES[stage_index] at day 0: the later stage entries (day, stage), the
    day it closes and whether it is won. Stage times are memoryless, so the chance of a win
    within the horizon depends on the stage only: that is the truth the forecast is held to."""
    t = 0.0
    entries: list[tuple[float, str]] = []
    for i in range(stage_index, len(STAGES)):
        if i > stage_index:
            entries.append((t, STAGES[i]))
        t += rng.expovariate(1 / MEAN_DAYS)
        if rng.random() < LOST_AT_EXIT[STAGES[i]]:
            return entries, t, False
    return entries, t, True


def _truth(stage: str, draws: int = 40_000) -> float:
    rng = random.Random(99)
    index = STAGES.index(stage)
    wins = 0
    for _ in range(draws):
        _, closes, won = _path(rng, index)
        wins += won and closes <= HORIZON.days
    return wins / draws


def _pipeline(n: int, seed: int = 1) -> list[OpportunityHistory]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        created = NOW - timedelta(days=rng.uniform(0, 500))
        entries, closes, won = _path(rng, 0)
        closed_at = created + timedelta(days=closes)
        stages = [(created, STAGES[0])] + [(created + timedelta(days=d), s) for d, s in entries]
        out.append(
            OpportunityHistory(
                f"o{i}",
                round(rng.uniform(1_000, 20_000), 2),
                created,
                tuple(s for s in stages if s[0] <= NOW),
                closed_at if closed_at <= NOW else None,
                won and closed_at <= NOW,
            )
        )
    return out


def test_expected_revenue_is_within_10_percent_of_the_truth() -> None:
    pipeline = _pipeline(2500)
    truth = {s: _truth(s) for s in STAGES}
    result = forecast(pipeline, NOW, HORIZON)
    expected_truth = 0.0
    for o in pipeline:
        if o.is_open(NOW):
            expected_truth += truth[o.stage_at(NOW)[0]] * o.amount
    assert result.learned
    assert abs(result.expected_revenue - expected_truth) <= 0.1 * expected_truth
    assert result.low < result.expected_revenue < result.high
    learned = {p.stage: p.probability for p in result.stage_probabilities}
    for stage in STAGES:
        assert learned[stage] == pytest.approx(truth[stage], abs=0.08), stage
    by_stage = {s.stage: s for s in result.by_stage}
    assert sum(s.expected_revenue for s in by_stage.values()) == pytest.approx(
        result.expected_revenue
    )
    assert [s.stage for s in result.by_stage] == [s for s in STAGES if s in by_stage]


def test_below_30_closed_the_fixed_stage_probabilities_apply_in_stage_order() -> None:
    t0 = NOW - timedelta(days=10)
    opportunities = [
        OpportunityHistory(
            f"o{i}",
            1000.0,
            t0,
            ((t0, "qualify"),) + (((t0 + timedelta(days=1), "proposal"),) if i % 2 else ()),
        )
        for i in range(10)
    ]
    result = forecast(opportunities, NOW, HORIZON)
    assert not result.learned
    probabilities = {p.stage: p.probability for p in result.stage_probabilities}
    assert probabilities["qualify"] == 0.4 and probabilities["proposal"] == 0.6
    assert probabilities[NO_STAGE] == 0.2
    assert result.expected_revenue == pytest.approx(5 * 400 + 5 * 600)


def test_stage_order_follows_the_deals() -> None:
    t = NOW
    deals = [
        OpportunityHistory("a", 1, t, ((t, "b-first"), (t, "a-second"), (t, "c-third"))),
        OpportunityHistory("b", 1, t, ((t, "b-first"), (t, "c-third"))),
    ]
    assert stage_order(deals) == [NO_STAGE, "b-first", "a-second", "c-third"]


def test_learning_never_reads_what_happened_after_the_forecast_instant() -> None:
    pipeline = _pipeline(1500, seed=4)
    as_of = NOW - timedelta(days=120)
    seen_then = StageModel(pipeline, as_of, HORIZON)
    # The same opportunities with everything after as_of rewritten as lost: nothing changes.
    rewritten = [
        OpportunityHistory(
            o.opportunity_id,
            o.amount,
            o.created_at,
            tuple(s for s in o.stages if s[0] <= as_of),
            o.closed_at if o.closed_at is not None and o.closed_at <= as_of else as_of + HORIZON,
            o.won and o.closed_at is not None and o.closed_at <= as_of,
        )
        for o in pipeline
    ]
    seen_rewritten = StageModel(rewritten, as_of, HORIZON)
    for stage in STAGES:
        for age in (1, 20, 45, 90):
            assert seen_then.probability(stage, age) == seen_rewritten.probability(stage, age)


def test_the_backtest_covers_12_weeks_whose_horizon_has_ended() -> None:
    pipeline = _pipeline(2500, seed=2)
    result = backtest(pipeline, NOW, HORIZON)
    assert len(result.weeks) == BACKTEST_WEEKS
    assert all(w.as_of + HORIZON <= NOW for w in result.weeks)
    assert [w.as_of for w in result.weeks] == sorted(w.as_of for w in result.weeks)
    assert result.mape is not None and result.mape < 0.35
