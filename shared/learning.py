"""Training the predictive lead model (SPEC 18) from labelled examples: scikit-learn's
L2-regularised logistic regression, calibrated, evaluated on a time split.

No I/O: the models job reads the examples from the read model and stores the result; the
benchmark feeds it generated examples.

Why this shape:
- Regularisation strength is chosen by cross-validated log loss on the training part, so a
  tenant with few leads gets a simpler model and one with many gets a sharper one.
- Calibration is Platt scaling fitted on out-of-fold scores, so the regularisation's pull
  towards the average does not make probabilities too timid. Platt scaling is itself a
  linear map of the log-odds, so it folds into the weights and the stream still applies a
  single dot product.
- The evaluation trains on the older 80 % of labelled leads by creation date and reports
  on the newest 20 %, as the leads to come will be newer than any the model saw; the model
  that is stored is then refitted on every labelled lead with the same regularisation
  and calibration.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from shared.domain.predictive import MIN_LABELLED, MIN_POSITIVES, LinearModel

C_GRID: Final = (0.01, 0.1, 1.0)
FOLDS: Final = 3
HOLDOUT_SHARE: Final = 0.2
BUCKETS: Final = 10
QUANTILES: Final = 1000
CV_SAMPLE: Final = 30_000

Matrix = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled lead: its features at its cut-off, its label, when it was created, and
    the tenant's rule score (fit + engagement) at the same cut-off."""

    features: Mapping[str, float]
    positive: bool
    created_at: datetime
    rule_score: float = 0.0
    lead_id: str = ""
    # Its 90 days have passed: whatever its outcome, it would be labelled by now.
    complete: bool = True


@dataclass(frozen=True, slots=True)
class CalibrationBucket:
    predicted: float  # mean predicted probability of the bucket's leads
    actual: float  # share of them that were positive
    leads: int


@dataclass(frozen=True, slots=True)
class Evaluation:
    auc: float | None
    brier: float
    rules_auc: float | None
    calibration: tuple[CalibrationBucket, ...]
    leads: int
    positives: int


@dataclass(frozen=True, slots=True)
class Insufficient:
    labelled: int
    positives: int


@dataclass(frozen=True, slots=True)
class Trained:
    model: LinearModel
    evaluation: Evaluation
    labelled: int
    positives: int
    holdout: tuple[Example, ...]
    # The model evaluated on the holdout (trained on the older 80 %), for proposals.
    evaluated: LinearModel


def train(
    examples: Sequence[Example],
    population: Sequence[Mapping[str, float]] = (),
    version: int = 1,
) -> Trained | Insufficient:
    """The model of one tenant, or `Insufficient` below 200 labelled leads or 20 positives.

    `population` are the features of the tenant's unlabelled leads: with the labelled ones
    they set the percentiles a lead's probability is ranked against."""
    positives = sum(1 for e in examples if e.positive)
    if len(examples) < MIN_LABELLED or positives < MIN_POSITIVES:
        return Insufficient(len(examples), positives)
    # One thread: the matrices are narrow, and on a machine the stream workers keep busy
    # the library's threads contended for the cores (nine cross-validation fits took 15 s
    # instead of 0.7 s).
    with threadpool_limits(limits=1):
        return _train(examples, population, version, positives)


def _train(
    examples: Sequence[Example],
    population: Sequence[Mapping[str, float]],
    version: int,
    positives: int,
) -> Trained:
    older, newest = time_split(learning_set(examples))
    ordered = [*older, *newest]
    evaluated, chosen = _fit(older, version)
    evaluation = evaluate(evaluated, newest)
    # The refit on every lead keeps the regularisation and calibration chosen without the
    # holdout: choosing them again would cost as much as the rest of training.
    model, _ = _fit(ordered, version, chosen)
    everyone = [e.features for e in examples] + list(population)
    probabilities = np.sort(_probabilities(model, everyone))
    step = max(1, len(probabilities) // QUANTILES)
    quantiles = tuple(float(v) for v in probabilities[::step])
    model = LinearModel(
        model.version,
        model.features,
        model.means,
        model.scales,
        model.weights,
        model.intercept,
        quantiles,
    )
    return Trained(model, evaluation, len(examples), positives, tuple(newest), evaluated)


def learning_set(examples: Sequence[Example]) -> Sequence[Example]:
    """The complete examples, when there are enough of them to learn from.

    A lead younger than 90 days is labelled only if it already won or was lost, and wins
    come sooner than the day-90 deadline that makes most negatives: among young leads the
    customers are over-represented, and a model learning from them would overstate every
    probability (and its evaluation would compare it with inflated outcomes). Leads whose 90
    days have passed are all labelled, whatever their outcome."""
    complete = [e for e in examples if e.complete]
    if len(complete) >= MIN_LABELLED and sum(1 for e in complete if e.positive) >= MIN_POSITIVES:
        return complete
    return examples


def time_split(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """The older 80 % of the labelled leads by creation date, and the newest 20 %."""
    ordered = sorted(examples, key=lambda e: e.created_at)
    split = len(ordered) - max(1, round(len(ordered) * HOLDOUT_SHARE))
    return ordered[:split], ordered[split:]


def evaluate(model: LinearModel, holdout: Sequence[Example]) -> Evaluation:
    y = np.array([e.positive for e in holdout], dtype=np.float64)
    p = _probabilities(model, [e.features for e in holdout])
    rules = np.array([e.rule_score for e in holdout], dtype=np.float64)
    return Evaluation(
        auc=auc(y, p),
        brier=float(np.mean((p - y) ** 2)) if len(y) else 0.0,
        rules_auc=auc(y, rules),
        calibration=calibration(y, p),
        leads=len(holdout),
        positives=int(y.sum()),
    )


def auc(y: NDArray[np.float64], score: NDArray[np.float64]) -> float | None:
    """Area under the ROC curve, None when the leads are all of one class."""
    if len(set(y.tolist())) < 2:
        return None
    return float(roc_auc_score(y, score))


def calibration(y: NDArray[np.float64], p: NDArray[np.float64]) -> tuple[CalibrationBucket, ...]:
    """Ten buckets of predicted probability (0-10 %, ..., 90-100 %), the empty ones left out."""
    buckets = np.minimum((p * BUCKETS).astype(int), BUCKETS - 1)
    out = []
    for b in range(BUCKETS):
        mask = buckets == b
        n = int(mask.sum())
        if n:
            out.append(CalibrationBucket(float(p[mask].mean()), float(y[mask].mean()), n))
    return tuple(out)


def vocabulary(rows: Sequence[Mapping[str, float]]) -> list[str]:
    """The features present in enough leads to learn from: at least 5, and at least 0.2 %
    of them, so a value seen twice cannot carry a large weight by chance."""
    counts: dict[str, int] = {}
    for row in rows:
        for name, value in row.items():
            if value:
                counts[name] = counts.get(name, 0) + 1
    floor = max(5, math.ceil(len(rows) * 0.002))
    return sorted(name for name, n in counts.items() if n >= floor)


def matrix(rows: Sequence[Mapping[str, float]], names: Sequence[str]) -> Matrix:
    index = {name: j for j, name in enumerate(names)}
    x = np.zeros((len(rows), len(names)), dtype=np.float64)
    for i, row in enumerate(rows):
        for name, value in row.items():
            j = index.get(name)
            if j is not None:
                x[i, j] = value
    return x


def _fit(
    examples: Sequence[Example], version: int, chosen: tuple[float, float, float] | None = None
) -> tuple[LinearModel, tuple[float, float, float]]:
    """The calibrated model of `examples`, and its (C, Platt slope, Platt offset): chosen by
    cross-validation unless given."""
    rows = [e.features for e in examples]
    y = np.array([e.positive for e in examples], dtype=np.int8)
    names = vocabulary(rows)
    x = matrix(rows, names)
    means = x.mean(axis=0)
    scales = x.std(axis=0)
    keep = scales > 1e-9
    names = [n for n, k in zip(names, keep, strict=True) if k]
    z = (x[:, keep] - means[keep]) / scales[keep]
    if chosen is None:
        chosen = _choose_c_and_calibration(z, y)
    c, slope, offset = chosen
    lr = LogisticRegression(C=c, max_iter=500).fit(z, y)
    weights = lr.coef_[0] * slope
    intercept = float(lr.intercept_[0]) * slope + offset
    model = LinearModel(
        version=version,
        features=tuple(names),
        means=tuple(float(v) for v in means[keep]),
        scales=tuple(float(v) for v in scales[keep]),
        weights=tuple(float(v) for v in weights),
        intercept=intercept,
        quantiles=(),
    )
    return model, chosen


def _choose_c_and_calibration(z: Matrix, y: NDArray[np.int8]) -> tuple[float, float, float]:
    """The regularisation with the best out-of-fold log loss, and the Platt scaling
    (slope, offset of the log-odds) fitted on that regularisation's out-of-fold scores."""
    if len(y) > CV_SAMPLE:
        # Thirty thousand leads settle both choices as well as all of them would, at a
        # fraction of the nine fits' cost.
        rows = np.sort(np.random.default_rng(0).choice(len(y), CV_SAMPLE, replace=False))
        z, y = z[rows], y[rows]
    folds = min(FOLDS, int(y.sum()), int(len(y) - y.sum()))
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=0).split(z, y))
    best: tuple[float, float, NDArray[np.float64]] | None = None
    for c in C_GRID:
        scores = np.zeros(len(y))
        for train_idx, test_idx in splits:
            lr = LogisticRegression(C=c, max_iter=500).fit(z[train_idx], y[train_idx])
            scores[test_idx] = lr.decision_function(z[test_idx])
        loss = _log_loss(y, scores)
        if best is None or loss < best[1]:
            best = (c, loss, scores)
    assert best is not None
    c, _, scores = best
    platt = LogisticRegression(C=1e6, max_iter=500).fit(scores.reshape(-1, 1), y)
    return c, float(platt.coef_[0][0]), float(platt.intercept_[0])


def _log_loss(y: NDArray[np.int8], scores: NDArray[np.float64]) -> float:
    # log(1 + e^-s) for positives, log(1 + e^s) for negatives, computed stably.
    signed = np.where(y == 1, -scores, scores)
    return float(np.mean(np.logaddexp(0.0, signed)))


def _probabilities(model: LinearModel, rows: Sequence[Mapping[str, float]]) -> Matrix:
    if not rows:
        return np.zeros(0)
    x = matrix(rows, model.features)
    w = np.array(model.weights) / np.array(model.scales)
    base = model.intercept - float(w @ np.array(model.means))
    logits = base + x @ w
    return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=np.float64)
