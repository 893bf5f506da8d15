"""The churn model's bin edges are scikit-learn's, to the bit: :class:`_Binning` computes a
weighted column's quantiles in one call, and the model fitted with it is scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingClassifier

from jornada.analytics import _churn_model as model_

pytestmark = pytest.mark.skipif(
    model_._BinMapper is None, reason="this scikit-learn bins with its own code only"
)

_KINDS = ("normal", "many_integers", "sparse", "signed_zeros", "few", "rounded")


def _column(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    if kind == "normal":
        return rng.normal(size=n)
    if kind == "many_integers":
        return rng.integers(0, 400, n).astype(float)
    if kind == "sparse":  # mostly missing, rounded: ties
        return np.where(rng.random(n) < 0.6, np.nan, rng.exponential(3, n).round(1))
    if kind == "signed_zeros":
        return rng.choice([-0.0, 0.0, 1.0, 7.5, np.inf], n)
    if kind == "few":
        return rng.integers(0, 3, n).astype(float)
    return rng.gamma(2, 40, n).round(2)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    rows=st.integers(2, 4_000),
    kinds=st.lists(st.sampled_from(_KINDS), min_size=1, max_size=6),
    bins=st.integers(3, 256),
)
def test_the_weighted_bin_edges_are_scikit_learns(
    seed: int, rows: int, kinds: list[str], bins: int
) -> None:
    rng = np.random.default_rng(seed)
    x = np.asfortranarray(np.column_stack([_column(rng, kind, rows) for kind in kinds]))
    weights = rng.choice([0.0, 1.0, 2.5, 13.7], rows)
    weights[0] = 1.0
    try:
        want = model_._BinMapper(n_bins=bins, random_state=0).fit(x, sample_weight=weights)
    except ValueError:  # a column scikit-learn cannot bin (no value with a weight)
        return
    got = model_._Binning(n_bins=bins, random_state=0).fit(x, sample_weight=weights)
    assert len(got.bin_thresholds_) == len(want.bin_thresholds_)
    for mine, theirs in zip(got.bin_thresholds_, want.bin_thresholds_, strict=True):
        assert mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(got.n_bins_non_missing_, want.n_bins_non_missing_)
    np.testing.assert_array_equal(got.is_categorical_, want.is_categorical_)
    assert got.missing_values_bin_idx_ == want.missing_values_bin_idx_
    np.testing.assert_array_equal(got.transform(x), want.transform(x))


@pytest.mark.parametrize("weighted", [True, False])
def test_the_model_is_scikit_learns(weighted: bool) -> None:
    """Weighted (the fast bin edges) or not (scikit-learn's own bin edges, through the
    same mapper), the same model."""
    rng = np.random.default_rng(5)
    rows = 6_000
    x = np.asfortranarray(
        np.column_stack([_column(rng, kind, rows) for kind in (*_KINDS, "normal")])
    )
    y = rng.random(rows) < 0.1 + 0.3 * (np.nan_to_num(x[:, 0]) > 1)
    weights = np.where(y, 1.0, 4.0) if weighted else None
    model = model_.fit(x, y, seed=3, weights=weights)
    assert isinstance(model._bin_mapper, model_._Binning)
    # scikit-learn's own estimator with the same settings, its own binning
    plain = HistGradientBoostingClassifier(**model.get_params()).fit(x, y, sample_weight=weights)
    np.testing.assert_array_equal(model_.predict(model, x), plain.predict_proba(x)[:, 1])
