"""How the per-kind counts find their customer's row (features.py's ``_rows_of``): by a
lookup table for the store's integer ``customer_no``, by hashing for text ids; both give
each key's position among the rows, and a key without a row is a bug, not a silent drop."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jornada.analytics.features import _rows_of


@given(
    numbers=st.lists(st.integers(-5, 10**6), min_size=1, max_size=40, unique=True),
    picks=st.lists(st.integers(0, 10**6), max_size=60),
    text=st.booleans(),
)
def test_each_key_gets_its_position_among_the_rows(
    numbers: list[int], picks: list[int], text: bool
) -> None:
    keys = [numbers[p % len(numbers)] for p in picks]
    if text:
        among = pa.chunked_array([[f"c{n}" for n in numbers]])
        wanted = pa.chunked_array([[f"c{n}" for n in keys]], type=pa.string())
    else:
        # Two chunks, as the engine hands them over.
        half = len(numbers) // 2
        among = pa.chunked_array([numbers[:half], numbers[half:]], type=pa.int32())
        wanted = pa.chunked_array([keys], type=pa.int32())
    rows = _rows_of(wanted, among)
    assert rows.tolist() == [numbers.index(k) for k in keys]


@pytest.mark.parametrize("text", [False, True])
def test_a_key_without_a_row_is_a_bug(text: bool) -> None:
    among = pa.chunked_array([["a", "b"]] if text else [[3, 7]])
    wanted = pa.chunked_array([["b", "z"]] if text else [[7, 5]])
    with pytest.raises(ValueError, match="a bug"):
        _rows_of(wanted, among)
