"""Ordered funnels against the brute-force oracle, with the shapes the engine's shortcut
must hand to its retry of every anchor: a step's first event at or before the previous
step's ("tangled" paths), repeated and overlapping steps, windows and exclusions."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.analytics.conftest import LogRow
from tests.analytics.test_funnel import _RULE, MakeLog, compare, logs

_EXAMPLES = int(os.environ.get("JORNADA_FUNNEL_EXAMPLES", "25"))


@settings(max_examples=_EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=logs(),
    steps=st.lists(st.sampled_from(["A", "B", "C", _RULE]), min_size=2, max_size=4),
    window=st.sampled_from([None, "0s", "1m", "3m", "8m"]),
    exclude=st.lists(st.sampled_from(["X", "C"]), max_size=2, unique=True),
    by=st.sampled_from(["customer", "session"]),
)
def test_ordered_agrees_with_oracle(
    make_log: MakeLog,
    rows: list[LogRow],
    steps: list[str],
    window: str | None,
    exclude: list[str],
    by: str,
) -> None:
    log = make_log(rows, session_gap_seconds=180)
    compare(log, steps, mode="ordered", window=window, exclude=exclude, by=by)


def test_tangled_path_is_retried(make_log: MakeLog) -> None:
    # c0: B's first event comes before A's and C's before B's; the attempt from the
    # first A must take the B and C after it (the shortcut would see f2 <= f1).
    rows: list[LogRow] = [
        ("c0", "2026-01-01T00:00:00Z", "C"),
        ("c0", "2026-01-01T00:01:00Z", "B"),
        ("c0", "2026-01-01T00:02:00Z", "A"),
        ("c0", "2026-01-01T00:03:00Z", "B"),
        ("c0", "2026-01-01T00:04:00Z", "C"),
        ("c1", "2026-01-01T00:00:00Z", "A"),
        ("c1", "2026-01-01T00:01:00Z", "C"),
        ("c1", "2026-01-01T00:02:00Z", "B"),
    ]
    log = make_log(rows)
    for window in (None, "1h"):
        compare(log, ["A", "B", "C"], mode="ordered", window=window)


def test_retried_paths_keep_their_first_anchor_without_an_attempt(make_log: MakeLog) -> None:
    # c0 is tangled (its first B is before its A) and no A is followed by a B: the retry
    # has no attempt for it, and it keeps depth 1 from its A. c1's first attempt is
    # stopped by the window, and its second A reaches B and C in time. c2 is easy.
    rows: list[LogRow] = [
        ("c0", "2026-01-01T00:00:00Z", "B"),
        ("c0", "2026-01-01T00:01:00Z", "A"),
        ("c1", "2026-01-01T00:00:00Z", "A"),
        ("c1", "2026-01-01T00:20:00Z", "A"),
        ("c1", "2026-01-01T00:25:00Z", "B"),
        ("c1", "2026-01-01T00:26:00Z", "C"),
        ("c2", "2026-01-01T00:00:00Z", "A"),
        ("c2", "2026-01-01T00:01:00Z", "B"),
    ]
    log = make_log(rows)
    for window in ("10m", "1h"):
        for exclude in ([], ["X"]):
            compare(log, ["A", "B", "C"], mode="ordered", window=window, exclude=exclude)
