"""The shortcuts of the path query and of the models, on the cases they are about:
non-converting paths cut by the lookback through a virtual conversion (only for
customers whose touches span more than the lookback); the cached variant (touchpoints,
or a table without the store's positions) giving the same table as the direct one; the
heuristic models worked out per path giving the very numbers of the per-touch shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jornada.analytics._attribution_models import heuristic, touch_shares
from jornada.analytics.attribution import PathTable, build_path_table, conversion_paths
from jornada.model import EventBinding, Journey, Stage, Touchpoint
from tests.analytics.conftest import EventLog, minutes
from tests.analytics.test_attribution import logs
from tests.oracles import attribution as oracle

MakeLog = Callable[..., EventLog]
DAY = 24 * 60.0  # in minutes, for the rows


def as_dict(table: PathTable) -> dict[tuple[str, ...], list[float]]:
    values = table.value if table.value is not None else np.zeros(table.size)
    return {
        path: [float(c), float(n), float(v)]
        for path, c, n, v in zip(table.paths(), table.conversions, table.nulls, values, strict=True)
    }


def spread_log(make_log: MakeLog) -> EventLog:
    def row(who: str, at: float, name: str, channel: str, value: str = "") -> Any:
        return (who, minutes(at), name, {"channel": channel, "value": value})

    return make_log(
        [
            # a: touches over 40 days, a purchase in the middle, a tail over 25 days
            row("a", 0, "ad", "social"),
            row("a", 20 * DAY, "visit", "web"),
            row("a", 21 * DAY, "purchase", "web", "30"),
            row("a", 22 * DAY, "email_open", "email"),
            row("a", 40 * DAY, "visit", "web"),
            row("a", 47 * DAY, "ad", "social"),
            # b: never buys; touches over 12 days, the first two more than 10 days
            # before the last
            row("b", 0, "visit", "web"),
            row("b", 1 * DAY, "ad", "social"),
            row("b", 11 * DAY, "email_open", "email"),
            row("b", 12 * DAY, "visit", "web"),
            # c: never buys, all within a day (no virtual conversion needed)
            row("c", 0, "ad", "social"),
            row("c", 60, "visit", "web"),
            # d: buys last; its touches span 30 days but no tail
            row("d", 0, "ad", "social"),
            row("d", 30 * DAY, "visit", "web"),
            row("d", 30 * DAY + 1, "purchase", "web", "5"),
        ]
    )


def test_tails_are_cut_from_their_last_touch(make_log: MakeLog) -> None:
    log = spread_log(make_log)
    table = conversion_paths(log.table, conversion="purchase", lookback_seconds=10 * 86400.0)
    assert as_dict(table) == {
        ("web",): [2.0, 0.0, 35.0],  # a's visit a day before; d's visit a minute before
        ("web", "social"): [0.0, 1.0, 0.0],  # a's tail: the e-mail 25 days before is out
        ("email", "web"): [0.0, 1.0, 0.0],  # b's: the visit and the ad 11-12 days before are out
        ("social", "web"): [0.0, 1.0, 0.0],  # c's, whole
    }
    tight = conversion_paths(log.table, conversion="purchase", lookback_seconds=6 * 86400.0)
    assert as_dict(tight)[("social",)] == [0.0, 1.0, 0.0]  # a's visit 7 days before is out
    wide = conversion_paths(log.table, conversion="purchase", lookback_seconds=30 * 86400.0)
    # a spans more than 30 days (a virtual conversion) but its whole tail is within them
    assert as_dict(wide) == {
        ("social", "web"): [1.0, 1.0, 30.0],  # a's first purchase, and c
        ("email", "web", "social"): [0.0, 1.0, 0.0],
        ("web", "social", "email", "web"): [0.0, 1.0, 0.0],
        ("web",): [1.0, 0.0, 5.0],  # d's ad is 30 days and a minute before
    }


@pytest.mark.parametrize("lookback", [None, 3600.0, 10 * 86400.0, 30 * 86400.0])
def test_the_engine_matches_the_oracle_on_spread_touches(
    make_log: MakeLog, lookback: float | None
) -> None:
    log = spread_log(make_log)
    want = oracle.conversion_paths(
        log.rows(), lambda e: e["event"] == "purchase", label="channel", lookback_seconds=lookback
    )
    table = conversion_paths(log.table, conversion="purchase", lookback_seconds=lookback)
    assert as_dict(table) == {path: [float(x) for x in row] for path, row in want.table().items()}
    assert table.conversions_without_touches == want.without_touches


@pytest.mark.parametrize("lookback", [None, 10 * 86400.0])
def test_a_table_without_positions_gives_the_same_table(
    make_log: MakeLog, lookback: float | None
) -> None:
    log = spread_log(make_log)
    bare = log.table.drop("idx")  # the cached variant numbers the events itself
    direct = conversion_paths(
        log.table, conversion="purchase", lookback_seconds=lookback, half_life_seconds=86400.0
    )
    cached = conversion_paths(
        bare, conversion="purchase", lookback_seconds=lookback, half_life_seconds=86400.0
    )
    assert as_dict(cached) == as_dict(direct)
    assert cached.channels == direct.channels
    assert direct.decay is not None
    assert cached.decay is not None
    assert np.allclose(cached.decay, direct.decay, rtol=1e-12, atol=0.0)


def test_touchpoints_cut_like_channels(make_log: MakeLog) -> None:
    log = spread_log(make_log)
    journey = Journey(
        id="shop",
        title="Shop",
        stages=[
            Stage(
                id="all",
                name="All",
                touchpoints=[
                    Touchpoint(id=f"tp_{c}", name=c, events=EventBinding(channels=[c]))
                    for c in ("email", "social", "web")
                ],
            )
        ],
    )
    by_touchpoint = conversion_paths(
        log.table,
        conversion="purchase",
        touch="touchpoint",
        journey=journey,
        lookback_seconds=10 * 86400.0,
    )
    by_channel = conversion_paths(log.table, conversion="purchase", lookback_seconds=10 * 86400.0)
    renamed = {
        tuple(label.removeprefix("tp_") for label in path): row
        for path, row in as_dict(by_touchpoint).items()
    }
    assert renamed == as_dict(by_channel)


@pytest.mark.parametrize("seed", range(5))
def test_heuristics_give_the_numbers_of_the_touch_shares(seed: int) -> None:
    rng = np.random.default_rng(seed)
    channels = ["a", "b", "c", "d"]
    paths = [
        [str(c) for c in rng.choice(channels, size=int(rng.integers(1, 7)))] for _ in range(60)
    ]
    conversions = rng.integers(0, 5, size=len(paths)).astype(float)
    value = rng.random(len(paths)) * 100
    table = build_path_table(paths, conversions, np.zeros(len(paths)), value)
    for model in ("first_touch", "last_touch", "linear", "position_based"):
        for weights in [(0.4, 0.2, 0.4), (0.3, 0.5, 0.2), (0.0, 1.0, 0.0)]:
            shares = touch_shares(table, model, weights)
            n = len(table.channels)
            want = np.bincount(table.codes, shares * conversions[table.parent], minlength=n)
            want_value = np.bincount(table.codes, shares * value[table.parent], minlength=n)
            got, worth = heuristic(table, model, conversions, value, position_weights=weights)
            assert np.array_equal(got, want), (model, weights)
            assert worth is not None
            assert np.array_equal(worth, want_value), (model, weights)


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=logs(),
    lookback=st.sampled_from([None, 60.0, 86400.0]),
    touch=st.sampled_from(["channel", "event"]),
    positions=st.booleans(),
)
def test_customer_numbers_give_the_paths_of_customer_ids(
    make_log: MakeLog, rows: list[Any], lookback: float | None, touch: str, positions: bool
) -> None:
    """Paths built per ``customer_no`` (the store's) or per ``customer_id`` (a table
    without the numbers, or numbered in another order) are the same, time-decay credits
    included; with or without the store's positions."""
    log = make_log(rows)
    table = log.table if positions else log.table.drop("idx")
    tables = {
        "numbers": table,
        "reversed numbers": table.mutate(customer_no=1_000 - table.customer_no),
        "ids": table.drop("customer_no"),
    }
    found = {
        name: conversion_paths(
            events,
            conversion="purchase",
            touch=touch,
            lookback_seconds=lookback,
            half_life_seconds=86400.0,
            engine=log.engine,
        )
        for name, events in tables.items()
    }
    want = found["ids"]
    assert want.decay is not None
    for name, got in found.items():
        assert got.paths() == want.paths(), name
        assert as_dict(got) == as_dict(want), name
        assert got.conversions_without_touches == want.conversions_without_touches, name
        assert got.decay is not None
        assert np.allclose(got.decay, want.decay, rtol=1e-12, atol=0.0), name
