"""The probability models behind customer lifetime value, on per-customer summaries.

Plain numpy/scipy over arrays of frequency ``x``, recency ``tx``, age ``T`` (``age`` in
code) and mean repeat value: the engine has already reduced the events to one row per
customer, and the fits run on the *distinct* rows with weights (many customers share a
summary).

- **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while
  alive a customer buys as a Poisson process of rate ``λ ~ Gamma(r, α)``; after each
  purchase they drop out with probability ``p ~ Beta(a, b)``. Forecasts use the
  paper's closed form, with a quadrature where its 2F1 overflows (a fit that found no
  heterogeneity) and an interpolation at a = 1 (where it is 0/0).
- **Pareto/NBD** (Schmittlein, Morrison & Colombo 1987): the same purchases, but the
  lifetime is exponential with rate ``μ ~ Gamma(s, β)``. Its likelihood is written
  here as ``(α+T)^-(r+x) (β+T)^-s + s ∫_tx^T (α+y)^-(r+x) (β+y)^-(s+1) dy`` (times
  constants). The integral's closed form is taken through Euler's transformation to a
  ``2F1(1, ·; ·; z)`` series of positive terms (the textbook form overflows for large
  ``x``); near ``z = 1``, where that series is slow or scipy returns NaN, the integral
  is taken by Gauss-Legendre quadrature instead.
- **Gamma-Gamma** (Fader, Hardie & Lee 2005, "RFM and CLV"; Colombo & Jiang 1999): a
  purchase's value is ``Gamma(p, ν)`` with ``ν ~ Gamma(q, v)``, independent of the
  purchase process; fitted on the mean value of repeat purchases.

Fits maximise the log-likelihood over the logarithms of the parameters (so they stay
positive) with L-BFGS-B, with analytic gradients for BG/NBD and Gamma-Gamma.

>>> import numpy as np
>>> x, tx, age = np.array([0.0, 2, 5]), np.array([0.0, 10, 30]), np.array([20.0, 30, 40])
>>> params = BGNBDParams(r=0.5, alpha=5.0, a=0.8, b=2.5)
>>> [round(float(v), 4) for v in bgnbd_p_alive(params, x, tx, age)]
[1.0, 0.3447, 0.671]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

import numpy as np
import numpy.typing as npt
from scipy import optimize, special
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

__all__ = [
    "BGNBDParams",
    "Fit",
    "GammaGammaParams",
    "ParetoNBDParams",
    "bgnbd_conditional_expected",
    "bgnbd_expected",
    "bgnbd_log_likelihood",
    "bgnbd_p_alive",
    "distinct_rows",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_pareto_nbd",
    "gamma_gamma_expected_value",
    "gamma_gamma_log_likelihood",
    "pareto_nbd_conditional_expected",
    "pareto_nbd_expected",
    "pareto_nbd_log_likelihood",
    "pareto_nbd_p_alive",
]

Array = npt.NDArray[np.float64]
P = TypeVar("P")

_LOG_BOUND: Final = 15.0
"""Parameters stay within e^±15: beyond, a fit has run off to a degenerate corner."""

_QUADRATURE_NODES: Final = 128
_NEAR_ONE: Final = 1e-4
_PARETO_NODES: Final = 24
"""Gauss-Legendre nodes on each of the two parts of the Pareto/NBD integral."""
_SERIES_LIMIT: Final = 0.9
"""Largest z at which the Pareto/NBD likelihood uses scipy's 2F1 series."""
"""Gauss-Legendre nodes of the BG/NBD forecast where its closed form fails."""


@dataclass(frozen=True)
class BGNBDParams:
    r: float
    alpha: float
    a: float
    b: float


@dataclass(frozen=True)
class ParetoNBDParams:
    r: float
    alpha: float
    s: float
    beta: float


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    v: float

    @property
    def mean_value(self) -> float:
        """The population's mean purchase value ``p v / (q - 1)`` (infinite when q ≤ 1)."""
        return self.p * self.v / (self.q - 1) if self.q > 1 else math.inf


@dataclass(frozen=True)
class Fit(Generic[P]):
    """Fitted parameters, the maximised log-likelihood, and how the optimiser ended."""

    params: P
    log_likelihood: float
    converged: bool
    iterations: int
    at_bound: bool
    """A parameter ended at e^±15: the data cannot pin it down (a degenerate fit)."""


def distinct_rows(*columns: Array) -> tuple[list[Array], Array, npt.NDArray[np.intp]]:
    """The distinct rows of the columns, their counts, and each input row's index among
    them (``columns[i] == distinct[i][inverse]``).

    >>> rows, counts, inverse = distinct_rows(np.array([1.0, 0, 1]), np.array([2.0, 0, 2]))
    >>> [c.tolist() for c in rows], counts.tolist(), inverse.tolist()
    ([[0.0, 1.0], [0.0, 2.0]], [1.0, 2.0], [1, 0, 1])
    """
    order = np.lexsort(columns[::-1])  # by the first column, then the next...
    sorted_columns = [c[order] for c in columns]
    starts = np.ones(len(order), dtype=bool)
    if len(order):
        changed = np.zeros(len(order) - 1, dtype=bool)
        for column in sorted_columns:
            changed |= column[1:] != column[:-1]
        starts[1:] = changed
    group = np.cumsum(starts) - 1
    inverse = np.empty(len(order), dtype=np.intp)
    inverse[order] = group
    first_rows = np.flatnonzero(starts)
    counts = np.diff(np.append(first_rows, len(order))).astype(np.float64)
    return [np.ascontiguousarray(c[first_rows]) for c in sorted_columns], counts, inverse


def _maximise(
    objective: Callable[[Array], tuple[float, Array] | float],
    start: Array,
    *,
    gradient: bool,
) -> tuple[Array, bool, int]:
    """Minimise a negative mean log-likelihood over log-parameters; the best point, whether
    the optimiser converged, and its iterations."""
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(start)
    # L-BFGS-B's steps call BLAS on vectors of 3-4 numbers: OpenBLAS waking its threads
    # for each took a quarter of a Pareto/NBD fit's CPU time on a shared machine (and
    # most of a BG/NBD one). One thread gives the same numbers.
    with threadpool_limits(limits=1, user_api="blas"):
        result = optimize.minimize(
            objective,
            start,
            jac=gradient,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-9, "maxcor": 20},
        )
    return np.asarray(result.x, dtype=np.float64), bool(result.success), int(result.nit)


def _weighted_sum(values: Array, weights: Array) -> float:
    """``values · weights`` without BLAS: on a busy machine, waking BLAS threads for each
    dot product of a fit cost more than the fit itself."""
    return float(np.einsum("i,i->", values, weights))


def _at_bound(logs: Array) -> bool:
    return bool(np.any(np.abs(logs) >= _LOG_BOUND - 1e-6))


# --- BG/NBD ---------------------------------------------------------------------------------


def _bgnbd_terms(
    r: float, alpha: float, a: float, b: float, x: Array, tx: Array, age: Array
) -> tuple[Array, Array, Array, npt.NDArray[np.bool_]]:
    """The three log terms of the BG/NBD likelihood: ``ll = A1 + log(e^A2 + [x>0] e^A3)``."""
    repeat = x > 0
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha)
    beta_ab = special.betaln(a, b)
    a2 = special.betaln(a, b + x) - beta_ab - (r + x) * np.log(alpha + age)
    # For x = 0 the third term is absent; b + x - 1 there may be negative, so it is
    # evaluated at a harmless x = 1 and masked out.
    safe_x = np.where(repeat, x, 1.0)
    a3 = special.betaln(a + 1, b + safe_x - 1) - beta_ab - (r + safe_x) * np.log(alpha + tx)
    a3 = np.where(repeat, a3, -np.inf)
    return a1, a2, a3, repeat


def bgnbd_log_likelihood(params: BGNBDParams, x: Array, tx: Array, age: Array) -> Array:
    """Each customer's BG/NBD log-likelihood (FHL 2005, equation 6)."""
    a1, a2, a3, _ = _bgnbd_terms(params.r, params.alpha, params.a, params.b, x, tx, age)
    result: Array = a1 + np.logaddexp(a2, a3)
    return result


def _bgnbd_objective(
    logs: Array, x: Array, tx: Array, age: Array, weights: Array
) -> tuple[float, Array]:
    r, alpha, a, b = np.exp(logs)
    a1, a2, a3, repeat = _bgnbd_terms(r, alpha, a, b, x, tx, age)
    mix = np.logaddexp(a2, a3)
    ll = a1 + mix
    w3 = np.exp(a3 - mix)  # the share of the "dropped out at the last purchase" term
    w2 = 1.0 - w3
    psi = special.digamma
    safe_x = np.where(repeat, x, 1.0)
    psi_ab, psi_abx = psi(a + b), psi(a + b + x)
    d_r = psi(r + x) - psi(r) + math.log(alpha)
    d_r = d_r - w2 * np.log(alpha + age) - w3 * np.log(alpha + tx)
    d_alpha = r / alpha - w2 * (r + x) / (alpha + age) - w3 * (r + x) / (alpha + tx)
    d_a = w2 * (psi_ab - psi_abx) + w3 * (psi(a + 1) - psi(a) + psi_ab - psi_abx)
    d_b3 = np.where(repeat, psi(b + safe_x - 1), 0.0)
    d_b = w2 * (psi(b + x) - psi_abx - psi(b) + psi_ab) + w3 * (d_b3 - psi_abx - psi(b) + psi_ab)
    total = weights.sum()
    grads = np.array(
        [
            _weighted_sum(d_r, weights),
            _weighted_sum(d_alpha, weights),
            _weighted_sum(d_a, weights),
            _weighted_sum(d_b, weights),
        ]
    )
    # Chain rule to the log-parameters; the mean keeps the scale independent of size.
    return float(-_weighted_sum(ll, weights) / total), -grads * np.array([r, alpha, a, b]) / total


def fit_bgnbd(x: Array, tx: Array, age: Array, weights: Array | None = None) -> Fit[BGNBDParams]:
    """Maximum-likelihood BG/NBD parameters; ``weights`` count the customers of each row.

    >>> x, tx, age = np.array([0.0, 1, 3]), np.array([0.0, 4, 9]), np.array([10.0, 10, 10])
    >>> fit = fit_bgnbd(x, tx, age, np.array([60.0, 25, 15]))
    >>> fit.converged, round(fit.log_likelihood, 3)
    (True, -249.447)
    """
    weights = np.ones_like(x) if weights is None else weights
    start = np.log(np.array([1.0, max(float(np.average(age, weights=weights)), 1e-3), 1.0, 1.0]))
    logs, converged, iterations = _maximise(
        lambda v: _bgnbd_objective(v, x, tx, age, weights), start, gradient=True
    )
    params = BGNBDParams(*(float(v) for v in np.exp(logs)))
    ll = float(_weighted_sum(bgnbd_log_likelihood(params, x, tx, age), weights))
    return Fit(params, ll, converged, iterations, _at_bound(logs))


def _bgnbd_future(params: BGNBDParams, t: float | Array, x: Array, age: Array) -> Array:
    """Expected purchases in ``(T, T + t]`` of a customer *alive* at T with x purchases:
    ``E[(1 - (1 + p t/(α+T))^-(r+x)) / p]`` over ``p ~ Beta(a, b+x)``, in closed form
    ``(a+b+x-1)/(a-1) [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(α+T+t))]``
    (FHL 2005, equation 10 without P(alive)).

    At a = 1 the closed form is 0/0: within 5e-5 of it, the value is interpolated
    from a = 1 ± 1e-4 and 1 ± 2e-4 (about 10 digits). Where 2F1 overflows (huge r and b: a
    fit that found no heterogeneity) the expectation is taken by Gauss-Legendre
    quadrature over the Beta distribution's quantiles (about 6 digits).
    """
    t, x, age = np.broadcast_arrays(np.asarray(t, dtype=np.float64), x, age)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    if abs(a - 1) < _NEAR_ONE / 2:
        # A cubic through a = 1 ± 1e-4 and 1 ± 2e-4, where the closed form still keeps
        # about 11 digits.
        steps = (-2.0, -1.0, 1.0, 2.0)
        at = (a - 1) / _NEAR_ONE
        interpolated: Array = np.zeros(np.shape(t))
        for step in steps:
            weight = math.prod((at - other) / (step - other) for other in steps if other != step)
            shifted = BGNBDParams(r, alpha, 1 + step * _NEAR_ONE, b)
            interpolated = interpolated + weight * _bgnbd_future(shifted, t, x, age)
        return interpolated
    z = t / (alpha + age + t)
    with np.errstate(all="ignore"):  # overflow is handled below
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        log_ratio = (r + x) * (np.log(alpha + age) - np.log(alpha + age + t))
        result: Array = (a + b + x - 1) / (a - 1) * (1 - np.exp(log_ratio) * hyp)
    bad = ~np.isfinite(result) | (result < 0)
    if bad.any():
        result = np.array(result, copy=True)
        result[bad] = _bgnbd_future_by_quadrature(params, t[bad], x[bad], age[bad])
    return result


def _bgnbd_future_by_quadrature(params: BGNBDParams, t: Array, x: Array, age: Array) -> Array:
    """:func:`_bgnbd_future` as a Gauss-Legendre sum over the quantiles of Beta(a, b+x)."""
    nodes, weights = np.polynomial.legendre.leggauss(_QUADRATURE_NODES)
    p = special.betaincinv(params.a, (params.b + x)[:, None], (nodes + 1) / 2)
    scale = (t / (params.alpha + age))[:, None]
    values = -np.expm1(-(params.r + x)[:, None] * np.log1p(p * scale)) / p
    result: Array = np.einsum("ij,j->i", values, weights / 2)
    return result


def bgnbd_expected(params: BGNBDParams, t: Array) -> Array:
    """Expected purchases of a new customer in ``(0, t]`` (FHL 2005, equation 7)."""
    zero = np.zeros_like(np.asarray(t, dtype=np.float64))
    return _bgnbd_future(params, t, zero, zero)


def _bgnbd_dropout_odds_log(params: BGNBDParams, x: Array, tx: Array, age: Array) -> Array:
    """log of ``a/(b+x-1) ((α+T)/(α+tx))^(r+x)`` (−inf when x = 0): the odds of having
    dropped out at the last purchase against being alive."""
    repeat = x > 0
    safe_x = np.where(repeat, x, 1.0)
    odds = np.log(params.a / (params.b + safe_x - 1)) + (params.r + safe_x) * (
        np.log(params.alpha + age) - np.log(params.alpha + tx)
    )
    result: Array = np.where(repeat, odds, -np.inf)
    return result


def bgnbd_p_alive(params: BGNBDParams, x: Array, tx: Array, age: Array) -> Array:
    """Probability that a customer with history (x, tx, T = ``age``) is still alive at T."""
    result: Array = special.expit(-_bgnbd_dropout_odds_log(params, x, tx, age))
    return result


def bgnbd_conditional_expected(
    params: BGNBDParams, t: float | Array, x: Array, tx: Array, age: Array
) -> Array:
    """Expected purchases in ``(T, T + t]`` (T = ``age``) given the history (FHL 2005, equation 10)."""
    result: Array = _bgnbd_future(params, t, x, age) * bgnbd_p_alive(params, x, tx, age)
    return result


# --- Pareto/NBD -----------------------------------------------------------------------------


def _pareto_log_terms(
    params: ParetoNBDParams, x: Array, tx: Array, age: Array
) -> tuple[Array, Array]:
    """log of the two terms of the Pareto/NBD likelihood, without the common constant:
    alive at T = ``age``, and dropped out between tx and T."""
    r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
    rx = r + x
    total = r + s + x
    alive = -rx * np.log(alpha + age) - s * np.log(beta + age)
    # The series' second parameter belongs to the larger of α and β.
    if alpha >= beta:
        first: Array = rx
        big, small = alpha, beta
    else:
        first, big, small = np.full(x.shape, s + 1), beta, alpha

    def log_antiderivative(y: Array) -> Array:
        # ∫_y^∞ (α+u)^-(r+x) (β+u)^-(s+1) du = 2F1(1, ·; r+s+x+1; z) (α+y)^-(r+x)
        # (β+y)^-(s+1) (min(α,β) + y) / (r+s+x), with z = |α-β| / (max(α,β) + y).
        z = (big - small) / (big + y)
        hyp = special.hyp2f1(1.0, first[series], total[series] + 1, z)
        log_k = -rx[series] * np.log(alpha + y) - (s + 1) * np.log(beta + y)
        result: Array = np.log(hyp) + log_k + np.log(small + y) - np.log(total[series])
        return result

    # Near z = 1 scipy's 2F1 sums thousands of terms, or gives NaN with large
    # parameters: there (and wherever it fails) the integral is taken by quadrature.
    series = (big - small) / (big + tx) <= _SERIES_LIMIT
    dropped: Array = np.full(x.shape, np.nan)
    with np.errstate(all="ignore"):
        upper = log_antiderivative(tx[series])
        lower = log_antiderivative(age[series])
        # tx = T: nothing between them (log 0 = -inf, a true value)
        gap = np.log(-np.expm1(np.minimum(lower - upper, 0.0)))
    dropped[series] = math.log(s) + upper + gap
    failed = np.isnan(dropped) | (dropped == np.inf)
    if failed.any():
        dropped[failed] = math.log(s) + _pareto_log_gap_by_quadrature(
            params, x[failed], tx[failed], age[failed]
        )
    return alive, dropped


def _pareto_log_gap_by_quadrature(
    params: ParetoNBDParams, x: Array, tx: Array, age: Array
) -> Array:
    """log ``∫_tx^T (α+y)^-(r+x) (β+y)^-(s+1) dy`` by Gauss-Legendre quadrature.

    The integrand decays from tx at the log-rate ``1/h`` (its slope there), like a power
    beyond; in ``v = log(1 + (y - tx)/h)`` it is smooth with width about 1, so 24
    nodes on [0, 4] and 24 on [4, V] give close to full precision (checked against adaptive
    quadrature over α, β from 1e-3 to 1e6 and x up to 1000).
    """
    r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
    rx = r + x
    h = 1 / (rx / (alpha + tx) + (s + 1) / (beta + tx))
    end = np.log1p((age - tx) / h)
    nodes, log_weights = _PARETO_RULE
    parts = []
    for low, high in ((np.zeros_like(end), np.minimum(end, 4.0)), (np.minimum(end, 4.0), end)):
        half = (high - low) / 2
        # An empty part (the second one of every row with end <= 4: all rows of the 10M
        # demo's fit) is log 0 = -inf, and logaddexp(a, -inf) is a exactly: only the
        # other rows are summed.
        part = np.full(len(x), -np.inf)
        rows = np.flatnonzero(half != 0)
        if len(rows):
            half_r, h_r = half[rows], h[rows]
            # v = low + half (1 + node); y = tx + h (e^v - 1); log of the integrand
            # -(r+x) log(α+y) - (s+1) log(β+y) + v. Written in place (the same operations
            # on the same operands: the same bits) because this runs for every evaluation
            # of the likelihood and its temporaries cost as much as its arithmetic.
            v = np.multiply(half_r[:, None], nodes)
            v += (low[rows] + half_r)[:, None]
            y = np.expm1(v)
            y *= h_r[:, None]
            y += tx[rows][:, None]
            log_f = np.add(y, alpha)
            np.log(log_f, out=log_f)
            log_f *= -rx[rows][:, None]
            np.add(y, beta, out=y)
            np.log(y, out=y)
            y *= s + 1
            log_f -= y
            log_f += v
            log_f += log_weights
            with np.errstate(divide="ignore"):  # a part too small for a float: log 0
                part[rows] = _logsumexp(log_f) + np.log(half_r * h_r)
        parts.append(part)
    result: Array = np.logaddexp(parts[0], parts[1])
    return result


def _gauss_legendre(nodes: int) -> tuple[Array, Array]:
    """Gauss-Legendre nodes on [-1, 1] and the logarithms of their weights."""
    points, weights = np.polynomial.legendre.leggauss(nodes)
    return points, np.log(weights)


_PARETO_RULE: Final = _gauss_legendre(_PARETO_NODES)
"""Computed once: a Pareto/NBD fit evaluates the quadrature hundreds of times."""


def _logsumexp(terms: Array) -> Array:
    """``log(sum(exp(terms)))`` along each row, from its largest term (-inf for a row of
    -inf terms), overwriting ``terms``: scipy's ``logsumexp`` does the same with checks
    (and copies) that, called for every evaluation of the likelihood, took more time than
    the sums (most of a Pareto/NBD fit on 600k customers).

    >>> terms = np.log(np.array([[1.0, 3.0], [2.0, 2.0]]))
    >>> np.exp(_logsumexp(terms)).round(12).tolist()
    [4.0, 4.0]
    """
    top = terms.max(axis=1)
    shift = np.where(np.isfinite(top), top, 0.0)
    terms -= shift[:, None]
    np.exp(terms, out=terms)
    with np.errstate(divide="ignore"):
        result: Array = shift + np.log(terms.sum(axis=1))
    return result


def pareto_nbd_log_likelihood(params: ParetoNBDParams, x: Array, tx: Array, age: Array) -> Array:
    """Each customer's Pareto/NBD log-likelihood (Fader, Hardie & Lee 2005, "A note on
    deriving the Pareto/NBD model", equation 22, through the integral form above)."""
    r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
    alive, dropped = _pareto_log_terms(params, x, tx, age)
    constant = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    result: Array = constant + np.logaddexp(alive, dropped)
    return result


def fit_pareto_nbd(
    x: Array, tx: Array, age: Array, weights: Array | None = None
) -> Fit[ParetoNBDParams]:
    """Maximum-likelihood Pareto/NBD parameters (numerical gradient).

    >>> x, tx, age = np.array([0.0, 1, 3]), np.array([0.0, 4, 9]), np.array([10.0, 10, 10])
    >>> fit = fit_pareto_nbd(x, tx, age, np.array([60.0, 25, 15]))
    >>> fit.converged, round(fit.log_likelihood, 2)
    (True, -249.45)
    """
    weights = np.ones_like(x) if weights is None else weights
    total = weights.sum()

    def objective(logs: Array) -> float:
        params = ParetoNBDParams(*(float(v) for v in np.exp(logs)))
        value = -_weighted_sum(pareto_nbd_log_likelihood(params, x, tx, age), weights) / total
        # A step into a region where the likelihood underflows is a step to refuse.
        return value if math.isfinite(value) else 1e300

    mean_t = max(float(np.average(age, weights=weights)), 1e-3)
    start = np.log(np.array([1.0, mean_t, 1.0, mean_t]))
    logs, converged, iterations = _maximise(objective, start, gradient=False)
    params = ParetoNBDParams(*(float(v) for v in np.exp(logs)))
    ll = float(_weighted_sum(pareto_nbd_log_likelihood(params, x, tx, age), weights))
    return Fit(params, ll, converged, iterations, _at_bound(logs))


def pareto_nbd_p_alive(params: ParetoNBDParams, x: Array, tx: Array, age: Array) -> Array:
    """Probability that a customer with history (x, tx, T = ``age``) is still alive at T."""
    alive, dropped = _pareto_log_terms(params, x, tx, age)
    result: Array = np.exp(alive - np.logaddexp(alive, dropped))
    return result


def _power_gap(exponent: float, log_ratio: Array) -> Array:
    """``(1 - e^(exponent·log_ratio)) / exponent``, and its limit ``-log_ratio`` at 0."""
    if abs(exponent) < 1e-12:
        return -log_ratio
    result: Array = -np.expm1(exponent * log_ratio) / exponent
    return result


def pareto_nbd_expected(params: ParetoNBDParams, t: Array) -> Array:
    """Expected purchases of a new customer in ``(0, t]``."""
    r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
    log_ratio = np.log(beta) - np.log(beta + t)
    result: Array = r * beta / alpha * _power_gap(s - 1, log_ratio)
    return result


def pareto_nbd_conditional_expected(
    params: ParetoNBDParams, t: float | Array, x: Array, tx: Array, age: Array
) -> Array:
    """Expected purchases in ``(T, T + t]`` (T = ``age``) given the history."""
    r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
    t = np.asarray(t, dtype=np.float64)
    log_ratio = np.log(beta + age) - np.log(beta + age + t)
    rate = (r + x) * (beta + age) / (alpha + age)
    result: Array = rate * _power_gap(s - 1, log_ratio) * pareto_nbd_p_alive(params, x, tx, age)
    return result


# --- Gamma-Gamma ----------------------------------------------------------------------------


def gamma_gamma_log_likelihood(params: GammaGammaParams, x: Array, value: Array) -> Array:
    """Each repeat buyer's log density of their mean repeat value (x ≥ 1, value > 0)."""
    p, q, v = params.p, params.q, params.v
    px = p * x
    result: Array = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * math.log(v)
        + px * np.log(x)
        + (px - 1) * np.log(value)
        - (px + q) * np.log(v + x * value)
    )
    return result


def _gamma_gamma_objective(
    logs: Array, x: Array, value: Array, weights: Array
) -> tuple[float, Array]:
    p, q, v = np.exp(logs)
    params = GammaGammaParams(p, q, v)
    ll = gamma_gamma_log_likelihood(params, x, value)
    psi = special.digamma
    spent = v + x * value
    psi_pq = psi(p * x + q)
    d_p = x * (psi_pq - psi(p * x) + np.log(x) + np.log(value) - np.log(spent))
    d_q = psi_pq - psi(q) + math.log(v) - np.log(spent)
    d_v = q / v - (p * x + q) / spent
    total = weights.sum()
    grads = np.array(
        [_weighted_sum(d_p, weights), _weighted_sum(d_q, weights), _weighted_sum(d_v, weights)]
    )
    return float(-_weighted_sum(ll, weights) / total), -grads * np.array([p, q, v]) / total


def fit_gamma_gamma(x: Array, value: Array, weights: Array | None = None) -> Fit[GammaGammaParams]:
    """Maximum-likelihood Gamma-Gamma parameters from repeat buyers' frequency and mean
    repeat value. Values are scaled by their mean for the fit (``v`` scales with them,
    ``p`` and ``q`` do not), so any currency unit converges alike.

    >>> x, mean = np.array([1.0, 2, 3, 1, 4, 2]), np.array([10.0, 20, 15, 40, 12, 25])
    >>> fit = fit_gamma_gamma(x, mean)
    >>> fit.converged, round(fit.params.p, 3), round(fit.params.mean_value, 2)
    (True, 3.222, 18.11)
    """
    weights = np.ones_like(x) if weights is None else weights
    scale = float(np.average(value, weights=weights))
    scaled = value / scale
    start = np.log(np.array([1.0, 2.0, 1.0]))
    logs, converged, iterations = _maximise(
        lambda v: _gamma_gamma_objective(v, x, scaled, weights), start, gradient=True
    )
    p, q, v = (float(v) for v in np.exp(logs))
    params = GammaGammaParams(p, q, v * scale)
    ll = float(_weighted_sum(gamma_gamma_log_likelihood(params, x, value), weights))
    return Fit(params, ll, converged, iterations, _at_bound(logs))


def gamma_gamma_expected_value(params: GammaGammaParams, x: Array, value: Array) -> Array:
    """Expected value of a customer's future purchases: ``p (v + x m) / (p x + q - 1)``, a
    weighted mean of the population mean and their own mean ``m`` (the population mean
    for customers without repeat purchases: ``x = 0``)."""
    p, q, v = params.p, params.q, params.v
    own = np.where(x > 0, np.nan_to_num(value), 0.0)
    result: Array = p * (v + x * own) / (p * x + q - 1)
    return result
