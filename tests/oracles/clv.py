"""Brute-force references of :mod:`jornada.analytics.clv`.

The RFM summary is computed customer by customer from plain event dicts, with calendar
dates. The models are checked against their *definitions*, not their closed forms: the
likelihoods and conditional expectations integrate the individual-level model over the
heterogeneity distributions numerically (``scipy.integrate.quad``), and simulators draw
customers from the models' stories.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import integrate

from tests.oracles import Event, group_paths

Predicate = Callable[[Event], bool]


# --- RFM -----------------------------------------------------------------------------------


def rfm(
    events: Sequence[Event],
    is_purchase: Predicate,
    *,
    until: dt.date | None,
    unit_days: int,
    value_of: Callable[[Event], float | None],
) -> dict[str, Any]:
    """``{"customers": {id: {...}}, "late": n, "end": date, "track": Counter(date -> n)}``.

    A transaction is a distinct purchase day; its value the sum of the day's known
    values (None when none is known)."""
    if not events:
        return {"customers": {}, "late": 0, "end": None, "track": Counter()}
    log_end = max(e["ts"] for e in events).date()
    end = until if until is not None else log_end
    customers: dict[str, dict[str, Any]] = {}
    late = 0
    track: Counter[dt.date] = Counter()
    for customer, path in group_paths(events).items():
        days: dict[dt.date, float | None] = {}
        for event in path:
            if not is_purchase(event):
                continue
            day = event["ts"].date()
            value = value_of(event)
            known = days.get(day)
            if day not in days:
                days[day] = value
            elif value is not None:
                days[day] = value if known is None else known + value
        if not days:
            continue
        ordered = sorted(days)
        first = ordered[0]
        if first > end:
            late += 1
            continue
        for day in ordered[1:]:
            track[day] += 1
        calibration = [d for d in ordered if d <= end]
        holdout = [d for d in ordered if d > end]
        repeat_values = [days[d] for d in calibration[1:] if days[d] is not None]
        customers[customer] = {
            "frequency": len(calibration) - 1,
            "recency": (calibration[-1] - first).days / unit_days,
            "T": (end - first).days / unit_days,
            "monetary_value": (
                sum(repeat_values) / len(repeat_values) if repeat_values else math.nan  # type: ignore[arg-type]
            ),
            "holdout_frequency": len(holdout),
            "holdout_value": sum(days[d] or 0.0 for d in holdout),
            "first": first,
        }
    return {"customers": customers, "late": late, "end": log_end, "track": track}


# --- BG/NBD ----------------------------------------------------------------------------------


def bgnbd_likelihood_formula(
    r: float, alpha: float, a: float, b: float, x: int, tx: float, age: float
) -> float:
    """FHL 2005 equation 6, written out as printed (no logarithms)."""
    beta = math.gamma(a) * math.gamma(b) / math.gamma(a + b)

    def beta_fn(p: float, q: float) -> float:
        return math.gamma(p) * math.gamma(q) / math.gamma(p + q)

    front = math.gamma(r + x) * alpha**r / math.gamma(r)
    alive = beta_fn(a, b + x) / beta / (alpha + age) ** (r + x)
    dropped = beta_fn(a + 1, b + x - 1) / beta / (alpha + tx) ** (r + x) if x > 0 else 0.0
    return float(front * (alive + dropped))


def _lambda_moment(r: float, alpha: float, power: float, at: float) -> float:
    """``E[λ^power e^(-λ at)]`` for ``λ ~ Gamma(r, rate α)``, by its definition's closed form."""
    return math.exp(
        math.lgamma(r + power)
        - math.lgamma(r)
        + r * math.log(alpha)
        - (r + power) * math.log(alpha + at)
    )


def _beta_integral(f: Callable[[float], float], a: float, b: float) -> float:
    """``E[f(p)]`` for ``p ~ Beta(a, b)``, by quadrature with the Beta weight."""
    value, _ = integrate.quad(
        f, 0.0, 1.0, weight="alg", wvar=(a - 1, b - 1), limit=200, epsabs=0.0, epsrel=1e-10
    )
    return float(value / math.exp(math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)))


def bgnbd_likelihood_integral(
    r: float, alpha: float, a: float, b: float, x: int, tx: float, age: float
) -> float:
    """The individual likelihood ``(1-p)^x λ^x e^(-λT) + [x>0] p (1-p)^(x-1) λ^x e^(-λ tx)``
    averaged over ``λ`` (closed form) and ``p`` (quadrature)."""
    alive = _lambda_moment(r, alpha, x, age)
    dropped = _lambda_moment(r, alpha, x, tx) if x > 0 else 0.0

    def f(p: float) -> float:
        return (1 - p) ** x * alive + (p * (1 - p) ** (x - 1) * dropped if x > 0 else 0.0)

    return _beta_integral(f, a, b)


def bgnbd_conditional_integral(
    r: float, alpha: float, a: float, b: float, t: float, x: int, tx: float, age: float
) -> tuple[float, float]:
    """(P(alive at T), expected purchases in (T, T+t]) by Bayes over (λ, p): alive, a
    customer with (λ, p) makes ``(1 - e^(-λ p t)) / p`` purchases in ``t`` on average."""
    likelihood = bgnbd_likelihood_integral(r, alpha, a, b, x, tx, age)
    alive = _beta_integral(lambda p: (1 - p) ** x * _lambda_moment(r, alpha, x, age), a, b)

    def future(p: float) -> float:
        if p == 0.0:  # the limit of (G(age) - G(age + p t)) / p
            return t * (r + x) / (alpha + age) * _lambda_moment(r, alpha, x, age)
        gap = _lambda_moment(r, alpha, x, age) - _lambda_moment(r, alpha, x, age + p * t)
        return (1 - p) ** x * gap / p

    return alive / likelihood, _beta_integral(future, a, b) / likelihood


def bgnbd_expected_integral(r: float, alpha: float, a: float, b: float, t: float) -> float:
    """Expected purchases of a new customer in (0, t]: ``E[(1 - e^(-λ p t)) / p]``."""

    def f(p: float) -> float:
        if p == 0.0:
            return t * r / alpha
        return float((1 - (alpha / (alpha + p * t)) ** r) / p)

    return _beta_integral(f, a, b)


def simulate_bgnbd(
    n: int, r: float, alpha: float, a: float, b: float, horizon: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, tx, T) of ``n`` customers drawn from the BG/NBD story, ages uniform up to
    ``horizon``."""
    rates = rng.gamma(r, 1 / alpha, n)
    drop = rng.beta(a, b, n)
    ages = rng.uniform(horizon / 4, horizon, n)
    x, tx = np.zeros(n), np.zeros(n)
    for i in range(n):
        clock = 0.0
        while True:
            clock += rng.exponential(1 / rates[i])
            if clock > ages[i]:
                break
            x[i] += 1
            tx[i] = clock
            if rng.random() < drop[i]:
                break
    return x, tx, ages


# --- Pareto/NBD ------------------------------------------------------------------------------


def _mu_survival(s: float, beta: float, at: float) -> float:
    """``E[e^(-μ at)]`` for ``μ ~ Gamma(s, rate β)``."""
    return float((beta / (beta + at)) ** s)


def pareto_likelihood_integral(
    r: float, alpha: float, s: float, beta: float, x: int, tx: float, age: float
) -> float:
    """``E[λ^x e^(-(λ+μ)T)] + ∫_tx^T E[λ^x e^(-λy)] E[μ e^(-μy)] dy`` by quadrature."""
    alive = _lambda_moment(r, alpha, x, age) * _mu_survival(s, beta, age)

    def dying(y: float) -> float:
        return float(_lambda_moment(r, alpha, x, y) * s * beta**s / (beta + y) ** (s + 1))

    dropped, _ = integrate.quad(dying, tx, age, limit=200, epsabs=0.0, epsrel=1e-12)
    return float(alive + dropped)


def pareto_log_gap(
    r: float, alpha: float, s: float, beta: float, x: int, tx: float, age: float
) -> float:
    """log ``∫_tx^T (α+y)^-(r+x) (β+y)^-(s+1) dy`` by adaptive quadrature, scaled by
    the integrand at tx and cut where it has fallen by 1, 10, 100... of its decay
    lengths, so that quad sees where the mass is."""
    if tx >= age:
        return -math.inf
    top = -(r + x) * math.log(alpha + tx) - (s + 1) * math.log(beta + tx)

    def scaled(y: float) -> float:
        return math.exp(-(r + x) * math.log(alpha + y) - (s + 1) * math.log(beta + y) - top)

    length = 1 / ((r + x) / (alpha + tx) + (s + 1) / (beta + tx))
    edges = [
        tx,
        *(tx + length * k for k in (1, 10, 100, 1000, 10000) if tx + length * k < age),
        age,
    ]
    # The scaled integrand is 1 at tx and the integral about ``length``: far pieces are
    # tiny, and a purely relative tolerance on them only meets roundoff.
    total = sum(
        integrate.quad(scaled, a, b, epsabs=1e-14 * length, epsrel=1e-13, limit=500)[0]
        for a, b in itertools.pairwise(edges)
    )
    return math.log(total) + top


def pareto_conditional_integral(
    r: float, alpha: float, s: float, beta: float, t: float, x: int, tx: float, age: float
) -> tuple[float, float]:
    """(P(alive at T), expected purchases in (T, T+t]): alive, a customer buys at rate λ
    for ``min(t, lifetime left)``, on average ``λ (1 - e^(-μ t)) / μ``."""
    likelihood = pareto_likelihood_integral(r, alpha, s, beta, x, tx, age)
    alive = _lambda_moment(r, alpha, x, age) * _mu_survival(s, beta, age)
    remaining, _ = integrate.quad(
        lambda u: _mu_survival(s, beta, u), age, age + t, epsabs=0.0, epsrel=1e-12
    )
    future = _lambda_moment(r, alpha, x + 1, age) * remaining
    return alive / likelihood, future / likelihood


def pareto_expected_integral(r: float, alpha: float, s: float, beta: float, t: float) -> float:
    remaining, _ = integrate.quad(
        lambda u: _mu_survival(s, beta, u), 0.0, t, epsabs=0.0, epsrel=1e-12
    )
    return r / alpha * float(remaining)


def simulate_pareto(
    n: int, r: float, alpha: float, s: float, beta: float, horizon: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rates = rng.gamma(r, 1 / alpha, n)
    lifetimes = rng.exponential(1 / rng.gamma(s, 1 / beta, n))
    ages = rng.uniform(horizon / 4, horizon, n)
    x, tx = np.zeros(n), np.zeros(n)
    for i in range(n):
        clock, end = 0.0, min(ages[i], lifetimes[i])
        while True:
            clock += rng.exponential(1 / rates[i])
            if clock > end:
                break
            x[i] += 1
            tx[i] = clock
    return x, tx, ages


# --- Gamma-Gamma -----------------------------------------------------------------------------


def _nu_integral(f: Callable[[float], float], q: float, v: float) -> float:
    """``E[f(ν)]`` for ``ν ~ Gamma(q, rate v)``, integrated over ``u = log(v ν)`` (smooth
    on the whole line, where the density in ν may have a sharp peak or a pole at 0)."""

    def weighted(u: float) -> float:
        if abs(u) > 700:  # e^(-e^u) or the e^(q u) tail: nothing left to add
            return 0.0
        nu = math.exp(u) / v
        log_density = q * u - math.exp(u) - math.lgamma(q)  # of u, Jacobian included
        return f(nu) * math.exp(log_density)

    value, _ = integrate.quad(weighted, -math.inf, math.inf, limit=400, epsabs=0.0, epsrel=1e-11)
    return float(value)


def _mean_density(p: float, x: int, mean: float, nu: float) -> float:
    """Density of the mean of ``x`` independent ``Gamma(p, rate ν)`` values at ``mean``."""
    total_shape = p * x
    log_density = (
        total_shape * math.log(nu * x)
        + (total_shape - 1) * math.log(mean)
        - nu * x * mean
        - math.lgamma(total_shape)
    )
    return math.exp(log_density)


def gamma_gamma_density_integral(p: float, q: float, v: float, x: int, mean: float) -> float:
    return _nu_integral(lambda nu: _mean_density(p, x, mean, nu), q, v)


def gamma_gamma_expected_integral(p: float, q: float, v: float, x: int, mean: float) -> float:
    """``E[p / ν | mean]`` by Bayes over ν (the prior mean when x = 0)."""
    if x == 0:
        return _nu_integral(lambda nu: p / nu, q, v)
    evidence = gamma_gamma_density_integral(p, q, v, x, mean)
    return _nu_integral(lambda nu: p / nu * _mean_density(p, x, mean, nu), q, v) / evidence
