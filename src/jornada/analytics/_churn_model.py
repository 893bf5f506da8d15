"""The model behind churn and propensity: gradient boosting on per-customer features,
evaluated on a later period, with its drivers. Plain numpy/scikit-learn on the
per-customer table (already aggregated by the engine): no events reach this module.

* **Model**: scikit-learn's ``HistGradientBoostingClassifier`` (missing values handled
  natively, seeded, no early stopping so the result does not depend on a random
  validation split).
* **Evaluation** on the held-out period: ROC AUC, PR AUC (average precision), the Brier
  score and a reliability table (ten equal-width bins of predicted risk: customers, mean
  predicted risk, observed rate).
* **Global drivers**: permutation importance (the drop in ROC AUC when a column is
  shuffled, five repeats) on the held-out period, and partial dependence (the mean
  predicted risk as one column moves over a grid, the others as they are) for the most
  important columns.
* **Reasons for one customer**: for each column, the model's log-odds minus its log-odds
  with that column set to the population's median (the other columns as they are); the
  reasons are the columns whose typical value would lower the risk most, largest first,
  each with the risk it would leave. Log-odds, not probabilities, rank them: near a risk
  of 100% every single change moves the probability by almost nothing, while the log-odds
  still tell the columns apart. Exact for the fitted model, one column at a time
  (interactions are not split between columns).

Drivers are measured on a sample of at most :data:`MAX_DRIVER_ROWS` held-out customers:
every positive one up to half of it, the rest drawn from the negatives (seeded); ROC AUC
does not depend on the mix, and rare outcomes keep their positives.

scikit-learn's native code runs on one thread (:func:`limited_threads`): its OpenMP
barriers spin, and on a busy two-core machine two threads fitted and predicted 2-8 times
slower than one at these sizes (a few thousand to a few hundred thousand rows).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import (
    partial_dependence,
    permutation_importance,
)
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    roc_auc_score,
)
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

__all__ = [
    "CalibrationBin",
    "Dependence",
    "Importance",
    "Metrics",
    "Reason",
    "dependences",
    "evaluate",
    "fit",
    "importances",
    "limited_threads",
    "medians",
    "predict",
    "reasons",
]

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[Any]

CALIBRATION_BINS: Final = 10
PERMUTATION_REPEATS: Final = 3
MAX_DRIVER_ROWS: Final = 5_000
"""Held-out customers the drivers (permutation importance, partial dependence) are
measured on at most: a seeded sample beyond it keeps them to seconds."""
GRID_POINTS: Final = 20


@contextmanager
def limited_threads() -> Iterator[None]:
    """Run scikit-learn's (and numpy's) native code on one thread."""
    with threadpool_limits(limits=1):
        yield


@dataclass(frozen=True)
class CalibrationBin:
    """Customers whose predicted risk fell in ``[low, high)``: how many, their mean
    predicted risk and the share that had the outcome."""

    low: float
    high: float
    customers: int
    mean_predicted: float
    observed: float


@dataclass(frozen=True)
class Metrics:
    roc_auc: float
    pr_auc: float
    brier: float
    base_rate: float
    calibration: tuple[CalibrationBin, ...]


@dataclass(frozen=True)
class Importance:
    """Permutation importance of one column: the mean (and standard deviation) drop in
    ROC AUC on the held-out period when it is shuffled."""

    feature: str
    description: str
    importance: float
    std: float


@dataclass(frozen=True)
class Dependence:
    """Partial dependence of the predicted risk on one column."""

    feature: str
    description: str
    grid: tuple[float, ...]
    risk: tuple[float, ...]


@dataclass(frozen=True)
class Reason:
    """Why one customer's risk is high: ``feature`` is ``value`` where most customers have
    ``typical``; with ``typical`` the risk would be ``risk_if_typical`` (``effect`` is the
    drop in log-odds, what ranks the reasons).

    >>> str(Reason("support_tickets", "support tickets", 3.0, 0.0, 1.2, 0.41, 0.2))
    'support tickets 3 (typical 0): 41% → 20%'
    """

    feature: str
    description: str
    value: float
    typical: float
    effect: float
    risk: float
    risk_if_typical: float

    def __str__(self) -> str:
        return (
            f"{self.description} {_number(self.value)} (typical {_number(self.typical)}): "
            f"{self.risk:.0%} → {self.risk_if_typical:.0%}"
        )


def _number(value: float) -> str:
    if math.isnan(value):
        return "none"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def fit(x: Matrix, y: Vector, *, seed: int) -> HistGradientBoostingClassifier:
    """Gradient boosting, seeded and deterministic."""
    model = HistGradientBoostingClassifier(
        max_iter=100,
        learning_rate=0.1,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )
    model.fit(x, y)
    return model


def predict(model: HistGradientBoostingClassifier, x: Matrix) -> Matrix:
    """The predicted probability of the outcome, per row."""
    if len(x) == 0:
        return np.zeros(0)
    risk: Matrix = model.predict_proba(x)[:, 1]
    return risk


def _log_odds(model: HistGradientBoostingClassifier, x: Matrix) -> Matrix:
    raw: Matrix = model.decision_function(x)
    return raw


def _sigmoid(z: Matrix) -> Matrix:
    result: Matrix = 1 / (1 + np.exp(-z))
    return result


def evaluate(risk: Matrix, y: Vector) -> Metrics:
    """ROC AUC, PR AUC, Brier score and reliability bins (NaN where undefined: a held-out
    period with one class only has no AUC)."""
    y = y.astype(bool)
    two_classes = 0 < y.sum() < len(y)
    # Bin k holds risks in [k/10, (k+1)/10); 1.0 goes to the last bin.
    index = np.clip(np.floor(risk * CALIBRATION_BINS).astype(int), 0, CALIBRATION_BINS - 1)
    bins = []
    for k in range(CALIBRATION_BINS):
        inside = index == k
        if inside.any():
            bins.append(
                CalibrationBin(
                    low=k / CALIBRATION_BINS,
                    high=(k + 1) / CALIBRATION_BINS,
                    customers=int(inside.sum()),
                    mean_predicted=float(risk[inside].mean()),
                    observed=float(y[inside].mean()),
                )
            )
    return Metrics(
        roc_auc=float(roc_auc_score(y, risk)) if two_classes else math.nan,
        pr_auc=float(average_precision_score(y, risk)) if two_classes else math.nan,
        brier=float(brier_score_loss(y, risk)) if len(y) else math.nan,
        base_rate=float(y.mean()) if len(y) else math.nan,
        calibration=tuple(bins),
    )


def _sample(x: Matrix, y: Vector, seed: int) -> tuple[Matrix, Vector]:
    """At most :data:`MAX_DRIVER_ROWS` rows: the positives up to half of them, the rest
    negatives, drawn with ``seed``; in their original order."""
    if len(x) <= MAX_DRIVER_ROWS:
        return x, y
    rng = np.random.default_rng(seed)
    positive, negative = np.flatnonzero(y), np.flatnonzero(~y.astype(bool))
    keep_positive = min(len(positive), MAX_DRIVER_ROWS // 2)
    keep_negative = min(len(negative), MAX_DRIVER_ROWS - keep_positive)
    rows = np.sort(
        np.concatenate(
            [
                rng.choice(positive, keep_positive, replace=False),
                rng.choice(negative, keep_negative, replace=False),
            ]
        )
    )
    return x[rows], y[rows]


def importances(
    model: HistGradientBoostingClassifier,
    x: Matrix,
    y: Vector,
    names: list[str],
    descriptions: dict[str, str],
    *,
    seed: int,
) -> tuple[Importance, ...]:
    """Permutation importance on the held-out rows, most important first (none when the
    held-out period has one class only)."""
    x, y = _sample(x, y, seed)
    if not 0 < y.sum() < len(y):
        return ()
    measured = permutation_importance(
        model,
        x,
        y.astype(int),
        scoring="roc_auc",
        n_repeats=PERMUTATION_REPEATS,
        random_state=seed,
        n_jobs=1,
    )
    found = [
        Importance(name, descriptions.get(name, name), float(mean), float(std))
        for name, mean, std in zip(
            names, measured.importances_mean, measured.importances_std, strict=True
        )
    ]
    return tuple(sorted(found, key=lambda i: (-i.importance, i.feature)))


def dependences(
    model: HistGradientBoostingClassifier,
    x: Matrix,
    features: list[int],
    names: list[str],
    descriptions: dict[str, str],
    *,
    seed: int,
) -> tuple[Dependence, ...]:
    """Partial dependence of the risk on each of ``features`` (column indexes), over up to
    twenty points between the 5th and 95th percentiles (the distinct values when fewer)."""
    x, _ = _sample(x, np.zeros(len(x)), seed)
    result = []
    for column in features:
        values = x[:, column]
        if len(x) == 0 or np.all(np.isnan(values)) or np.nanmin(values) == np.nanmax(values):
            continue
        found = partial_dependence(model, x, [column], kind="average", grid_resolution=GRID_POINTS)
        name = names[column]
        result.append(
            Dependence(
                name,
                descriptions.get(name, name),
                tuple(float(v) for v in found["grid_values"][0]),
                tuple(float(v) for v in found["average"][0]),
            )
        )
    return tuple(result)


def reasons(
    model: HistGradientBoostingClassifier,
    x: Matrix,
    typical: Matrix,
    names: list[str],
    descriptions: dict[str, str],
    *,
    top: int = 3,
) -> list[tuple[Reason, ...]]:
    """For each row of ``x``, the ``top`` columns whose ``typical`` value (the population's
    median) would lower the predicted risk most (only those that would lower it)."""
    if len(x) == 0:
        return []
    base = _log_odds(model, x)
    effects = np.zeros_like(x)
    for column in range(x.shape[1]):  # one prediction per column, over all rows at once
        changed = x.copy()
        changed[:, column] = typical[column]
        effects[:, column] = base - _log_odds(model, changed)
    # Largest effect first; the column order breaks ties so the order is stable.
    order = np.argsort(-effects, axis=1, kind="stable")[:, :top]
    risk = _sigmoid(base)
    found: list[tuple[Reason, ...]] = []
    for row, columns in enumerate(order.tolist()):
        found.append(
            tuple(
                Reason(
                    names[c],
                    descriptions.get(names[c], names[c]),
                    float(x[row, c]),
                    float(typical[c]),
                    float(effects[row, c]),
                    float(risk[row]),
                    float(_sigmoid(base[row] - effects[row, c])),
                )
                for c in columns
                if effects[row, c] > 1e-9
            )
        )
    return found


def medians(x: Matrix) -> Matrix:
    """Each column's median over its known values (0 for a column with none)."""
    typical = np.zeros(x.shape[1])
    for column in range(x.shape[1]):
        known = x[:, column][~np.isnan(x[:, column])]
        typical[column] = float(np.median(known)) if len(known) else 0.0
    return typical
