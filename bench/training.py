"""Bench phase: training the predictive lead model on 100,000 leads (target ≤ 30 s, ≤ 1 GiB).

Runs on its own: `.venv/bin/python -m bench.training [--leads N] [--json]`. It simulates a
tenant's leads whose true probability of becoming a customer is known (traits and early
behaviour decide it), extracts every lead's features at its cut-off as the models job does,
and trains; the figure is the time of extraction plus training and the process's peak
resident memory. The simulated population is also what the unit tests check the model's
discrimination and calibration against.
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from shared.domain.predictive import (
    AccountContext,
    LeadHistory,
    Touch,
    complete,
    cutoff,
    features,
    label,
    sigmoid,
)
from shared.learning import Example, Trained, train

NOW = datetime(2026, 6, 1, tzinfo=UTC)
INDUSTRIES = ("fintech", "saas", "retail", "health", "manufacturing")
INDUSTRY_EFFECT = {
    "fintech": 1.2,
    "saas": 0.6,
    "retail": -0.4,
    "health": 0.0,
    "manufacturing": -0.6,
}
SENIORITIES = ("vp", "director", "manager", "individual contributor")
SENIORITY_EFFECT = {"vp": 0.5, "director": 0.3, "manager": 0.0, "individual contributor": -0.3}
CHANNELS = ("paid_search", "organic_search", "email", "referral", "paid_social")
TARGET_SECONDS = 30.0
TARGET_BYTES = 1 << 30


@dataclass(frozen=True, slots=True)
class SimulatedLead:
    history: LeadHistory
    true_probability: float


def simulate(
    n: int, seed: int = 7, now: datetime = NOW, after_win: bool = False, span_days: float = 300
) -> list[SimulatedLead]:
    """`n` leads created over the `span_days` before `now`. Their true log-odds of becoming a
    customer within 90 days are a known linear function of industry, seniority, company size
    and touches in their first 14 days; wins and losses come 15 to 85 days after creation,
    after those touches. With `after_win`, customers also attend events after the win,
    which a leaking feature would pick up."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        created = now - timedelta(days=rng.uniform(0, span_days))
        industry = rng.choice(INDUSTRIES)
        seniority = rng.choice(SENIORITIES)
        size = int(math.exp(rng.gauss(4.5, 1.5))) + 1
        interest = rng.random()
        webinars = _poisson(rng, 1.5 * interest)
        clicks = _poisson(rng, 3 * interest)
        views = _poisson(rng, 2 + 6 * rng.random())
        demo = rng.random() < 0.15 * interest
        channel = rng.choice(CHANNELS)
        logit = (
            -3.2
            + INDUSTRY_EFFECT[industry]
            + SENIORITY_EFFECT[seniority]
            + 0.25 * math.log1p(size)
            + 0.7 * webinars
            + 0.2 * clicks
            + 1.5 * demo
            + (0.4 if channel == "referral" else 0.0)
        )
        p = sigmoid(logit)
        touches = [Touch(created, "page_view", channel)]
        for kind, count in (
            ("webinar_attended", webinars),
            ("email_click", clicks),
            ("page_view", views),
            ("demo_request", int(demo)),
        ):
            for _ in range(count):
                at = created + timedelta(days=rng.uniform(0.01, 13.9))
                touches.append(
                    Touch(at, kind, "webinar" if kind == "webinar_attended" else channel)
                )
        decided = created + timedelta(days=rng.uniform(15, 85))
        won = rng.random() < p
        customer_at = decided if won else None
        lost_at = decided if not won and rng.random() < 0.4 else None
        if won and after_win:
            touches.append(Touch(decided + timedelta(days=2), "event_attended", "event"))
        touches.sort(key=lambda t: t.occurred_at)
        traits = {
            "industry": industry,
            "seniority": seniority,
            "company_size": size,
            "email": f"person{rng.random()}@example.com",
        }
        history = LeadHistory(created, tuple(touches), ((created, traits),), customer_at, lost_at)
        out.append(SimulatedLead(history, p))
    return out


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method: the means here are small.
    limit, k, prod = math.exp(-lam), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def examples(
    leads: Sequence[SimulatedLead], now: datetime = NOW
) -> tuple[list[Example], list[dict[str, float]], list[float]]:
    """The labelled examples (with their true probabilities, in the same order) and the
    features of the unlabelled leads, as the models job builds them."""
    labelled: list[Example] = []
    truth: list[float] = []
    unlabelled: list[dict[str, float]] = []
    for lead in leads:
        h = lead.history
        x = features(h, cutoff(h, now), AccountContext())
        decided = label(h, now)
        if decided.positive is None:
            unlabelled.append(x)
        else:
            labelled.append(Example(x, decided.positive, h.created_at, complete=complete(h, now)))
            truth.append(lead.true_probability)
    return labelled, unlabelled, truth


def run(n: int) -> dict[str, object]:
    leads = simulate(n)
    start = time.perf_counter()
    labelled, unlabelled, _ = examples(leads)
    extracted = time.perf_counter()
    result = train(labelled, unlabelled)
    done = time.perf_counter()
    # ru_maxrss is in KiB on Linux: the peak of the whole process, simulation included.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    seconds = done - start
    figures: dict[str, object] = {
        "leads": n,
        "labelled": len(labelled),
        "features_seconds": round(extracted - start, 2),
        "train_seconds": round(done - extracted, 2),
        "seconds": round(seconds, 2),
        "peak_bytes": peak,
        "met": seconds <= TARGET_SECONDS and peak <= TARGET_BYTES,
    }
    if isinstance(result, Trained):
        figures["auc"] = result.evaluation.auc
        figures["brier"] = result.evaluation.brier
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = run(args.leads)
    if args.json:
        sys.stdout.write(orjson.dumps(figures).decode() + "\n")
    else:
        print(
            f"training on {figures['leads']:,} leads: {figures['seconds']} s "
            f"(features {figures['features_seconds']} s, fit {figures['train_seconds']} s), "
            f"peak memory {int(figures['peak_bytes']) / 2**20:.0f} MiB "  # type: ignore[call-overload]
            f"(targets ≤ {TARGET_SECONDS:.0f} s, ≤ 1 GiB): {'met' if figures['met'] else 'MISSED'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
