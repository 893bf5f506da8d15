"""Time-decay credits are summed over a path's conversions in an order of their own, not
in the order the engine happened to collect them (which followed its hash tables and
threads: the same events gave values apart in the last digits from one run to the
next). Renaming the customers reorders the engine's groups, not the answer."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from jornada.analytics.attribution import conversion_paths
from tests.analytics.conftest import EventLog, minutes

MakeLog = Callable[..., EventLog]

# Each customer: one ad, then a purchase some minutes later worth a value whose sum
# depends on the order of adding (0.1 + 0.2 + 0.3 is not 0.3 + 0.2 + 0.1 in floats).
PURCHASES = [(0.1, 5.0), (0.2, 17.0), (0.3, 29.0), (0.7, 41.0)]


def test_decay_sums_do_not_follow_the_engines_order(make_log: MakeLog) -> None:
    seen = []
    for names in itertools.islice(itertools.permutations(["ann", "bob", "cid", "dan"]), 8):
        rows = []
        for who, (value, after) in zip(names, PURCHASES, strict=True):
            rows.append((who, minutes(0), "ad", {"channel": "social", "value": ""}))
            rows.append((who, minutes(1), "visit", {"channel": "web", "value": ""}))
            rows.append((who, minutes(after), "purchase", {"channel": "web", "value": str(value)}))
        log = make_log(rows)
        table = conversion_paths(log.table, conversion="purchase", half_life_seconds=600.0)
        assert table.paths() == [("social", "web")]
        assert table.decay is not None
        assert table.decay_value is not None
        seen.append((table.decay.tolist(), table.decay_value.tolist()))
    assert all(credits == seen[0] for credits in seen)
    decay, worth = (np.array(x) for x in seen[0])
    assert np.isclose(decay.sum(), 4.0, rtol=1e-15)  # each conversion's credits sum to 1
    assert np.isclose(worth.sum(), 1.3, rtol=1e-15)
