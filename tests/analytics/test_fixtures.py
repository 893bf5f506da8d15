"""The shared log fixture loads real rows, keeps ties in input order and derives sessions."""

from __future__ import annotations

from collections.abc import Callable

from tests.analytics.conftest import EventLog, minutes
from tests.oracles import group_paths


def test_make_log_and_the_paths_oracle(make_log: Callable[..., EventLog]) -> None:
    log = make_log(
        [
            ("a", minutes(0), "view"),
            ("a", minutes(0), "cart", {"channel": "web", "value": "3.5"}),
            ("b", minutes(5), "view"),
            ("a", minutes(90), "buy"),
        ]
    )
    grouped = group_paths(log.rows())
    assert [e["event"] for e in grouped["a"]] == ["view", "cart", "buy"]
    assert [e["idx"] for e in grouped["a"]] == [0, 1, 2]
    assert grouped["a"][1]["value"] == 3.5
    assert len({e["session_id"] for e in grouped["a"]}) == 2
    assert make_log([]).table.count().execute() == 0
