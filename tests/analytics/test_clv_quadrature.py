"""The Pareto/NBD quadrature as computed for speed (empty parts skipped, arithmetic in
place, the rule computed once) gives the very bits of the plain formula it replaced: a
fit makes hundreds of evaluations, and any difference in a last bit could move the
optimiser elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from jornada.analytics import _clv_models as models

Array = np.ndarray


def plain_log_gap(params: models.ParetoNBDParams, x: Array, tx: Array, age: Array) -> Array:
    """The quadrature written plainly, every part of every row (the code before)."""
    r, alpha, s, beta = params.r, params.alpha, params.s, params.beta
    rx = r + x
    h = 1 / (rx / (alpha + tx) + (s + 1) / (beta + tx))
    end = np.log1p((age - tx) / h)
    nodes, weights = np.polynomial.legendre.leggauss(24)
    parts = []
    for low, high in ((np.zeros_like(end), np.minimum(end, 4.0)), (np.minimum(end, 4.0), end)):
        half = (high - low) / 2
        v = (low + half)[:, None] + half[:, None] * nodes
        y = tx[:, None] + h[:, None] * np.expm1(v)
        log_f = -rx[:, None] * np.log(alpha + y) - (s + 1) * np.log(beta + y) + v
        terms = log_f + np.log(weights)
        top = terms.max(axis=1)
        shift = np.where(np.isfinite(top), top, 0.0)
        with np.errstate(divide="ignore"):
            summed = shift + np.log(np.exp(terms - shift[:, None]).sum(axis=1))
            parts.append(summed + np.log(half * h))
    result: Array = np.logaddexp(parts[0], parts[1])
    return result


@pytest.mark.parametrize("seed", range(6))
def test_the_quadrature_gives_the_plain_formulas_bits(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    x = rng.integers(0, 60, n).astype(np.float64)
    age = rng.uniform(0, 80, n)
    tx = np.where(x > 0, rng.uniform(0, 1, n) * age, 0.0)
    tx[rng.random(n) < 0.1] = 0.0
    same = rng.random(n) < 0.1
    tx[same] = age[same]  # nothing between tx and T: log 0
    for _ in range(20):
        params = models.ParetoNBDParams(*np.exp(rng.uniform(-8, 14, 4)))
        got = models._pareto_log_gap_by_quadrature(params, x, tx, age)
        want = plain_log_gap(params, x, tx, age)
        assert np.array_equal(got, want, equal_nan=True)


def test_both_parts_and_empty_ones_occur() -> None:
    # The case above covers rows whose second part is empty (end <= 4), rows with both
    # parts (end > 4) and rows with none (tx = T).
    params = models.ParetoNBDParams(r=2.0, alpha=1.0, s=3.0, beta=1.0)
    x, tx, age = np.array([1.0, 1.0, 1.0]), np.array([0.0, 0.0, 5.0]), np.array([0.05, 500.0, 5.0])
    h = 1 / ((params.r + x) / (params.alpha + tx) + (params.s + 1) / (params.beta + tx))
    end = np.log1p((age - tx) / h)
    assert end[0] < 4 < end[1]
    assert end[2] == 0
    got = models._pareto_log_gap_by_quadrature(params, x, tx, age)
    assert np.array_equal(got, plain_log_gap(params, x, tx, age))
    assert np.isfinite(got[:2]).all()
    assert got[2] == -np.inf


def test_logsumexp_is_scipys() -> None:
    terms = np.log(np.random.default_rng(3).uniform(0, 5, (50, 24)))
    terms[0] = -np.inf
    want = special.logsumexp(terms, axis=1)
    got = models._logsumexp(terms.copy())
    assert got[0] == -np.inf
    np.testing.assert_allclose(got[1:], want[1:], rtol=1e-14)
