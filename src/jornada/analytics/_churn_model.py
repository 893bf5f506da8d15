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
  shuffled, three repeats) on the held-out period, and partial dependence (the mean
  predicted risk as one column moves over a grid, the others as they are) for the most
  important columns.
* **Reasons for one customer**: for each column, the model's log-odds minus its log-odds
  with that column set to the population's median (the other columns as they are); the
  reasons are the columns whose typical value would lower the risk most, largest first,
  each with the risk it would leave. Log-odds, not probabilities, rank them: near a risk
  of 100% every single change moves the probability by almost nothing, while the log-odds
  still tell the columns apart. Exact for the fitted model, one column at a time
  (interactions are not split between columns).

**Fitted on a sample beyond** :data:`MAX_FIT_ROWS` **customers** (:func:`fit_rows`), so
the fit's time stops growing with the population (gradient boosting is linear in the
rows: the two fits, on 207k and 419k customers, took ~17 of the churn analysis's CPU
seconds on the demo at 10M events). The sample is seeded and stratified by the outcome:
every customer of the rarer class (up to half of the sample), the rest drawn from the
other class and weighted by the inverse of the share drawn, so that the risks stay
calibrated. Keeping the rare class whole is what keeps the model: churn is rare there (303
of the 207k training customers), and a proportional sample of 100k lost 0.01 of held-out
ROC AUC (0.939-0.942) and a quarter of the PR AUC (0.008), while this one kept both (ROC
AUC 0.950-0.952, PR AUC 0.0106-0.0108; on all of them 0.951-0.952 and 0.0102-0.0106; two
seeds each, ``benchmarks/churn.py --auc``). Weighted fits are a third slower per row, and
100k customers still take half of 200k's time. Everyone is still scored, and the result
says how many customers each model was fitted on. Beyond the limit, :func:`evaluate` takes
the final fit's sample with its weights (each row counts as that many customers): the
held-out figures are then estimates (decision 0005). A smaller sample was measured and not
taken: fitted on 50k the held-out ROC AUC stayed (0.9507/0.9527 against 0.9510/0.9516 on
100k, seeds 0 and 1) but the Brier score was worse for both seeds (0.0005728/0.0005730
against 0.0005694/0.0005695), beyond the seeds' spread.

The bin edges of a weighted fit are scikit-learn's, computed faster (:class:`_Binning`:
one call for a column's 254 weighted quantiles instead of one call each, 40% of a fit
on 100k rows): the same model to the bit.

Drivers are measured on a sample of at most :data:`MAX_DRIVER_ROWS` held-out customers:
every positive one up to half of it, the rest drawn from the negatives (seeded); ROC AUC
does not depend on the mix, and rare outcomes keep their positives. Partial dependence
averages over a plain seeded sample of :data:`MAX_DEPENDENCE_ROWS` of them.

Permutation importance is scikit-learn's, to the bit, computed here with the same shuffles
and scores: a column no tree splits on has an importance of exactly 0 without predicting,
the repeats of one column are predicted at once, and only by the trees that split on it
(the others' outputs are kept): about a quarter of the work.

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
import sklearn
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    roc_auc_score,
)
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

# scikit-learn's binning internals, for the weighted quantiles below: private, so used
# only on the releases whose internals :class:`_Binning` was written and tested against
# (tests/analytics/test_churn_binning.py); any other release bins as it always does
# (the same model, slower), rather than fail or bin differently.
_INTERNALS_KNOWN: Final = ((1, 8), (1, 9))
try:
    if tuple(int(part) for part in sklearn.__version__.split(".")[:2]) not in _INTERNALS_KNOWN:
        raise ImportError(sklearn.__version__)
    from sklearn.ensemble._hist_gradient_boosting.binning import _BinMapper
    from sklearn.ensemble._hist_gradient_boosting.common import ALMOST_INF, X_DTYPE
    from sklearn.utils.stats import _weighted_percentile
except (ImportError, ValueError):  # pragma: no cover - another scikit-learn
    _BinMapper = None

__all__ = [
    "CalibrationBin",
    "Dependence",
    "Importance",
    "Metrics",
    "Reason",
    "dependences",
    "evaluate",
    "fit",
    "fit_rows",
    "importances",
    "limited_threads",
    "predict",
    "reasons",
    "sample_rows",
]

Matrix = npt.NDArray[np.float64]
Vector = npt.NDArray[Any]

CALIBRATION_BINS: Final = 10
PERMUTATION_REPEATS: Final = 3
MAX_FIT_ROWS: Final = 100_000
"""Customers the model is fitted on at most: a seeded, stratified sample beyond it."""
MAX_DRIVER_ROWS: Final = 5_000
"""Held-out customers the drivers (permutation importance, partial dependence) are
measured on at most: a seeded sample beyond it keeps them to seconds."""
GRID_POINTS: Final = 20
MAX_DEPENDENCE_ROWS: Final = 1_000
"""Held-out customers (a seeded sample) partial dependence averages over at most: each
grid point predicts every one of them again."""


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


def fit_rows(
    y: Vector, *, seed: int, limit: int = MAX_FIT_ROWS
) -> tuple[npt.NDArray[np.intp], Matrix] | None:
    """The rows to fit on and their weights: None (all rows, unweighted) when there are at
    most ``limit``; else about ``limit`` rows drawn with ``seed``, in their original order:
    every row of the rarer class when it is at most half of ``limit`` (else half of
    ``limit`` of it), the rest from the other class, each row weighted by its class's rows
    over its rows drawn (so the weighted classes keep their sizes and the risks their
    calibration).

    >>> y = np.array([True] * 30 + [False] * 270)
    >>> rows, weights = fit_rows(y, seed=0, limit=100)
    >>> len(rows), int(y[rows].sum()), float(weights[y[rows]][0]), round(float(weights.sum()), 9)
    (100, 30, 1.0, 300.0)
    >>> fit_rows(y, seed=0, limit=300) is None
    True
    """
    if len(y) <= limit:
        return None
    y = y.astype(bool)
    positive, negative = np.flatnonzero(y), np.flatnonzero(~y)
    small, large = sorted((positive, negative), key=len)
    return _draw(small, large, seed=seed, limit=limit)


def _draw(
    first: npt.NDArray[np.intp], second: npt.NDArray[np.intp], *, seed: int, limit: int
) -> tuple[npt.NDArray[np.intp], Matrix]:
    """At most ``limit`` of the rows ``first`` and ``second`` (two disjoint classes),
    drawn with ``seed``, in their original order, with their weights: every row of
    ``first`` up to half of ``limit``, then of ``second`` up to the rest, each row weighted
    by its class's rows over its rows drawn.

    >>> rows, weights = _draw(np.array([0, 5]), np.arange(1, 5), seed=0, limit=4)
    >>> len(rows), {0, 5} <= set(rows.tolist()), sorted(weights.tolist())
    (4, True, [1.0, 1.0, 2.0, 2.0])
    """
    rng = np.random.default_rng(seed)
    keep_first = min(len(first), limit // 2)
    keep_second = min(len(second), limit - keep_first)
    drawn = [
        (rng.choice(rows, keep, replace=False), len(rows) / max(keep, 1))
        for rows, keep in ((first, keep_first), (second, keep_second))
    ]
    rows = np.concatenate([chosen for chosen, _ in drawn])
    weights = np.concatenate([np.full(len(chosen), weight) for chosen, weight in drawn])
    order = np.argsort(rows, kind="stable")
    return rows[order], weights[order]


class _Boosting(HistGradientBoostingClassifier):  # type: ignore[misc]
    """scikit-learn's gradient boosting, with :class:`_Binning`'s bin edges (the same
    ones, to the bit: the same model, faster with weights)."""

    def _bin_data(self, x: Matrix, *args: Any, **kwargs: Any) -> Any:
        training = kwargs.get("is_training_data", args[-1] if args else False)
        mapper: Any = self.__dict__.get("_bin_mapper")
        if training and _BinMapper is not None and type(mapper) is _BinMapper:
            self._bin_mapper = _Binning(**mapper.get_params())
        return super()._bin_data(x, *args, **kwargs)


if _BinMapper is not None:

    class _Binning(_BinMapper):  # type: ignore[misc]
        """scikit-learn's bin mapper, with each column's weighted quantiles in one call.

        With sample weights (:func:`fit_rows`), scikit-learn 1.8 computes the 254 bin
        edges of a column with many values one percentile at a time, sorting the column
        and summing its weights again for each: about 40% of a fit on 100k rows. One call
        of its ``_weighted_percentile`` with all of them gives the same numbers (each
        percentile is looked up alone in the same sorted weights); the rest is its
        ``_find_binning_thresholds``. Other cases (no weights, categorical columns, more
        rows than its subsample) are scikit-learn's own."""

        def fit(self, x: Matrix, y: Any = None, sample_weight: Matrix | None = None) -> Any:
            plain = (
                sample_weight is None
                or (self.is_categorical is not None and np.any(self.is_categorical))
                or (self.subsample is not None and x.shape[0] > self.subsample)
                or not 3 <= self.n_bins <= 256
            )
            if plain:
                return super().fit(x, y, sample_weight=sample_weight)
            x = np.asarray(x, dtype=X_DTYPE)
            weights = np.asarray(sample_weight, dtype="float64")
            thresholds = [
                _thresholds(x[:, column], self.n_bins - 1, weights) for column in range(x.shape[1])
            ]
            self.is_categorical_ = np.zeros(x.shape[1], dtype=np.uint8)
            self.missing_values_bin_idx_ = self.n_bins - 1
            self.bin_thresholds_ = thresholds
            self.n_bins_non_missing_ = np.array([len(t) + 1 for t in thresholds], dtype=np.uint32)
            return self


def _thresholds(values: Matrix, max_bins: int, weights: Matrix) -> Matrix:
    """scikit-learn's ``_find_binning_thresholds`` of one weighted column, its quantiles
    in one call (see :class:`_Binning`)."""
    known = ~np.isnan(values)
    values, weights = values[known], weights[known]
    kept = weights != 0
    values, weights = values[kept], weights[kept]
    order = np.argsort(values)
    values, weights = values[order], weights[order]
    # np.unique without sorting again: the values are sorted already.
    distinct = values[np.concatenate(([True], values[1:] != values[:-1]))].astype(X_DTYPE)
    if len(distinct) == 1:
        return np.asarray([])
    if len(distinct) <= max_bins:
        edges: Matrix = sliding_window_view(distinct, 2).mean(axis=1)
    else:
        percentiles = np.linspace(0, 100, num=max_bins + 1)[1:-1]
        edges = np.asarray(_weighted_percentile(values, weights, percentiles, average=True))
    unique = np.unique(edges)
    if unique.shape[0] != edges.shape[0]:
        edges = unique
    np.clip(edges, a_min=None, a_max=ALMOST_INF, out=edges)
    return edges


def fit(
    x: Matrix, y: Vector, *, seed: int, weights: Matrix | None = None
) -> HistGradientBoostingClassifier:
    """Gradient boosting, seeded and deterministic, on all of ``x`` (sample it first with
    :func:`fit_rows`; ``weights`` per row). A column without any value is ignored.

    >>> x = np.array([[float(k % 7), np.nan] for k in range(60)])
    >>> model = fit(x, np.arange(60) % 7 > 3, seed=0)
    >>> bool(predict(model, x[:1])[0] < 0.5)
    True
    """
    empty = np.isnan(x).all(axis=0)
    if empty.any():
        # scikit-learn cannot bin a column of nothing (1.9 fails with "window shape cannot
        # be larger than input array shape"): a rare column may have no value in a fit
        # sample. As a constant, no tree splits on it, and the model is the one without it.
        x = x.copy(order="K")
        x[:, empty] = 0.0
    model = _Boosting(
        max_iter=100,
        learning_rate=0.1,
        max_leaf_nodes=15,
        min_samples_leaf=20,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )
    model.fit(x, y, sample_weight=weights)
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


def evaluate(risk: Matrix, y: Vector, weights: Matrix | None = None) -> Metrics:
    """ROC AUC, PR AUC, Brier score and reliability bins (NaN where undefined: a held-out
    period with one class only has no AUC). With ``weights`` (a weighted sample of the
    held-out customers, :func:`fit_rows`), each row counts as that many customers: the
    figures estimate those of the whole period, and the bins count weighted customers.

    >>> risk, y = np.array([0.1, 0.8, 0.3, 0.2]), np.array([False, True, False, False])
    >>> evaluate(risk[[1, 2]], y[[1, 2]], np.array([1.0, 3.0])).base_rate == evaluate(risk, y).base_rate
    True
    """
    y = y.astype(bool)
    two_classes = 0 < y.sum() < len(y)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype="float64")
    # Bin k holds risks in [k/10, (k+1)/10); 1.0 goes to the last bin.
    index = np.clip(np.floor(risk * CALIBRATION_BINS).astype(int), 0, CALIBRATION_BINS - 1)
    bins = []
    for k in range(CALIBRATION_BINS):
        inside = index == k
        if inside.any():
            if weights is None:
                customers = int(inside.sum())
                mean_predicted = float(risk[inside].mean())
                observed = float(y[inside].mean())
            else:
                customers = round(float(w[inside].sum()))
                mean_predicted = float(np.average(risk[inside], weights=w[inside]))
                observed = float(np.average(y[inside], weights=w[inside]))
            bins.append(
                CalibrationBin(
                    low=k / CALIBRATION_BINS,
                    high=(k + 1) / CALIBRATION_BINS,
                    customers=customers,
                    mean_predicted=mean_predicted,
                    observed=observed,
                )
            )
    return Metrics(
        roc_auc=float(roc_auc_score(y, risk, sample_weight=weights)) if two_classes else math.nan,
        pr_auc=(
            float(average_precision_score(y, risk, sample_weight=weights))
            if two_classes
            else math.nan
        ),
        brier=float(brier_score_loss(y, risk, sample_weight=weights)) if len(y) else math.nan,
        base_rate=(
            (float(y.mean()) if weights is None else float(np.average(y, weights=w)))
            if len(y)
            else math.nan
        ),
        calibration=tuple(bins),
    )


def sample_rows(y: Vector, seed: int, *, limit: int) -> npt.NDArray[np.intp] | None:
    """The rows :func:`importances` (``y``: the labels) and :func:`dependences` (``y``
    all zeros) measure on: None (all of them) when there are at most ``limit``, else the
    positives up to half of ``limit``, the rest negatives, drawn with ``seed``; in their
    original order. Known before the features are, so only those rows need them.

    >>> sample_rows(np.zeros(10), 0, limit=10) is None
    True
    >>> rows = sample_rows(np.array([True] * 2 + [False] * 8), 0, limit=4)
    >>> len(rows), rows[:2].tolist()
    (4, [0, 1])
    """
    if len(y) <= limit:
        return None
    positive, negative = np.flatnonzero(y), np.flatnonzero(~y.astype(bool))
    rows, _ = _draw(positive, negative, seed=seed, limit=limit)
    return rows


def _sample(
    x: Matrix, y: Vector, seed: int, *, limit: int = MAX_DRIVER_ROWS
) -> tuple[Matrix, Vector]:
    """At most ``limit`` rows (:func:`sample_rows`)."""
    rows = sample_rows(y, seed, limit=limit)
    if rows is None:
        return x, y
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
    held-out period has one class only): the numbers of scikit-learn's
    ``permutation_importance`` (ROC AUC, :data:`PERMUTATION_REPEATS` repeats, ``seed``)."""
    x, y = _sample(x, y, seed)
    if not 0 < y.sum() < len(y):
        return ()
    y = y.astype(int)
    baseline = float(roc_auc_score(y, predict(model, x)))
    # scikit-learn draws one seed, then shuffles every column with the same sequence of
    # permutations (each repeat shuffles the previous one's order again).
    shuffler = np.random.RandomState(
        np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    )
    order = np.arange(len(x))
    permutations = []
    for _ in range(PERMUTATION_REPEATS):
        shuffler.shuffle(order)
        permutations.append(order.copy())
    # The repeats stacked into one matrix: one prediction per column instead of one each.
    stacked = np.asfortranarray(np.tile(x, (PERMUTATION_REPEATS, 1)))
    blocks = [slice(r * len(x), (r + 1) * len(x)) for r in range(PERMUTATION_REPEATS)]
    trees = _Trees(model, stacked)
    found = []
    for column, name in enumerate(names):
        drops = np.zeros(PERMUTATION_REPEATS)
        if column in trees.split_columns:  # else the predictions, hence the scores, stay
            values = x[:, column]
            for block, permutation in zip(blocks, permutations, strict=True):
                values = values[permutation]
                stacked[block, column] = values
            risk = trees.risk(stacked, column)
            for r, block in enumerate(blocks):
                drops[r] = baseline - roc_auc_score(y, risk[block])
            stacked[:, column] = np.tile(x[:, column], PERMUTATION_REPEATS)
        found.append(
            Importance(name, descriptions.get(name, name), float(drops.mean()), float(drops.std()))
        )
    return tuple(sorted(found, key=lambda i: (-i.importance, i.feature)))


class _Trees:
    """The risks of rows that differ from ``x`` in one column only: the trees that never
    split on it keep their outputs for ``x``, the others predict again, and the outputs
    are added up in the model's order from its baseline, as scikit-learn does, so the
    risks are its own to the bit. With a model whose internals are not the expected ones,
    every column is predicted in full (the same numbers, slower)."""

    def __init__(self, model: HistGradientBoostingClassifier, x: Matrix) -> None:
        self.model = model
        self.split_columns: set[int] = set(range(x.shape[1]))
        self.trees: list[tuple[Any, set[int], Matrix]] = []
        try:
            if model.n_trees_per_iteration_ != 1:
                return
            self.known = model._bin_mapper.make_known_categories_bitsets()
            for iteration in model._predictors:
                for tree in iteration:
                    nodes = tree.nodes
                    split = {int(c) for c in np.unique(nodes["feature_idx"][nodes["is_leaf"] == 0])}
                    self.trees.append((tree, split, self._output(tree, x)))
        except (AttributeError, TypeError, ValueError):
            self.trees = []
            return
        self.split_columns = set().union(*(split for _, split, _ in self.trees))

    def _output(self, tree: Any, x: Matrix) -> Matrix:
        output: Matrix = tree.predict(x, *self.known, 1)
        return output

    def risk(self, x: Matrix, column: int) -> Matrix:
        """The predicted risk of ``x``, equal to ``x`` given at first but in ``column``."""
        if not self.trees:
            return predict(self.model, x)
        baseline = self.model._baseline_prediction
        raw = np.zeros((len(x), 1), dtype=baseline.dtype, order="F")
        raw += baseline
        for tree, split, output in self.trees:
            raw[:, 0] += self._output(tree, x) if column in split else output
        risk: Matrix = self.model._loss.predict_proba(raw)[:, 1]
        return risk


def dependences(
    model: HistGradientBoostingClassifier,
    x: Matrix,
    features: list[int],
    names: list[str],
    descriptions: dict[str, str],
    *,
    seed: int,
) -> tuple[Dependence, ...]:
    """Partial dependence of the risk on each of ``features`` (column indexes): the mean
    predicted risk over the rows with the column set to each of up to twenty points
    between its 5th and 95th percentiles (its distinct values when fewer), the other
    columns as they are. Computed here, all points of a column in one prediction:
    scikit-learn's fast ("recursion") method averages log-odds, not risks, and refuses a
    model fitted with weights (:func:`fit_rows`)."""
    x, _ = _sample(x, np.zeros(len(x)), seed, limit=MAX_DEPENDENCE_ROWS)
    result = []
    for column in features:
        values = x[:, column]
        known = values[~np.isnan(values)]
        if len(known) == 0 or known.min() == known.max():
            continue
        grid = np.unique(known)
        if len(grid) > GRID_POINTS:
            low, high = np.percentile(known, [5, 95])
            grid = np.unique(np.linspace(low, high, GRID_POINTS))
        stacked = np.asfortranarray(np.tile(x, (len(grid), 1)))
        stacked[:, column] = np.repeat(grid, len(x))
        risk = predict(model, stacked).reshape(len(grid), len(x)).mean(axis=1)
        name = names[column]
        result.append(
            Dependence(
                name,
                descriptions.get(name, name),
                tuple(float(v) for v in grid),
                tuple(float(v) for v in risk),
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
