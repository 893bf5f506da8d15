"""Beyond ``SCORE_RANGE`` alive customers churn scores them in ranges of ids (bounded
memory at 100M events): every number is the one of a single range, to the bit."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jornada.analytics import churn as churn_module
from jornada.analytics.churn import (
    _candidates,
    _highest,
    _median_of_counts,
    _merged_counts,
    churn,
    propensity,
)
from jornada.workspace import Workspace
from tests.analytics.test_churn import DEFINITION, shop  # noqa: F401 (a fixture)


@pytest.mark.parametrize("size", [1, 97])
def test_scoring_in_ranges_gives_the_single_range_result(
    shop: Workspace,  # noqa: F811 (the fixture)
    monkeypatch: pytest.MonkeyPatch,
    size: int,
) -> None:
    events = shop.events()
    runs = [
        lambda: churn(events, definition=DEFINITION, top=7, triggers=False, seed=2).to_dict(),
        lambda: churn(
            events, definition=DEFINITION, top=None, min_risk=0.3, triggers=False, seed=2
        ).to_dict(),
        lambda: propensity(events, top=5, seed=2).to_dict(),
        # Nobody at risk enough: an empty list (Arrow once failed to take no rows).
        lambda: churn(events, definition=DEFINITION, min_risk=2.0, triggers=False).to_dict(),
    ]
    whole = [run() for run in runs]
    scored = whole[1]["scored_customers"]
    assert scored > 2 * 97, "the ranged path must see several ranges"
    assert len(whole[1]["customers"]) > 7
    assert whole[3]["customers"] == []
    monkeypatch.setattr(churn_module, "SCORE_RANGE", size)
    assert [run() for run in runs] == whole


risks = st.lists(st.sampled_from([0.1, 0.2, 0.2, 0.5, 0.7, 0.7, 0.7, 0.9]), max_size=40)


@settings(max_examples=200, deadline=None)
@given(risks, st.integers(1, 12), st.one_of(st.none(), st.integers(0, 10)), st.data())
def test_the_candidates_of_each_range_hold_the_highest(
    values: list[float], size: int, top: int | None, data: st.DataObject
) -> None:
    """The rows :func:`_highest` picks among everyone are among the ranges' candidates."""
    risk = np.array(values, dtype=float)
    ids = pa.chunked_array([[f"c{i:03d}" for i in range(len(values))]], type=pa.string())
    min_risk = data.draw(st.sampled_from([0.0, 0.2, 0.8]))
    kept = np.concatenate(
        [
            _candidates(risk[start : start + size], top=top, min_risk=min_risk) + start
            for start in range(0, max(len(values), 1), size)
        ]
    )
    chosen = _highest(risk, ids, top=top, min_risk=min_risk)
    assert set(chosen) <= set(kept.tolist())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(
            st.one_of(st.just(float("nan")), st.sampled_from([0.0, 1.0, 2.5, 3.0, 1e9])),
            max_size=9,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_merged_counts_give_numpys_median(parts: list[list[float]]) -> None:
    counts = (np.zeros(0), np.zeros(0, dtype=np.int64))
    for part in parts:
        counts = _merged_counts(counts, np.array(part, dtype=float))
    every = np.array([v for part in parts for v in part], dtype=float)
    known = every[~np.isnan(every)]
    expected = float(np.median(known)) if len(known) else 0.0
    assert _median_of_counts(*counts) == expected
