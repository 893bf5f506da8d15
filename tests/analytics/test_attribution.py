"""Attribution: hand-computed cases per model, the engine against brute force on random
logs, exact Markov removal effects against value iteration and a Monte-Carlo
simulation, the path-table reader, and the command."""

from __future__ import annotations

import doctest
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jornada.analytics import _attribution_models, _attribution_paths
from jornada.analytics import attribution as module
from jornada.analytics.attribution import (
    MODELS,
    AttributionError,
    AttributionResult,
    PathTable,
    attribute,
    attribution,
    build_path_table,
    conversion_paths,
    parse_models,
    parse_position_weights,
    read_path_table,
)
from jornada.cli import run
from jornada.model import EventBinding, Journey, Stage, Touchpoint
from jornada.model.io import dump_journey
from tests.analytics.conftest import EventLog, minutes
from tests.oracles import attribution as oracle

MakeLog = Callable[..., EventLog]
DAY = 86400.0


def close(a: float, b: float, tolerance: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)


def table_of(
    paths: dict[str, tuple[float, float]], values: dict[str, float] | None = None
) -> PathTable:
    """A path table from ``{"a>b": (conversions, nulls)}``."""
    keys = list(paths)
    return build_path_table(
        [key.split(">") for key in keys],
        [paths[k][0] for k in keys],
        [paths[k][1] for k in keys],
        None if values is None else [values.get(k, 0.0) for k in keys],
    )


def by_channel(result: AttributionResult, model: str, *, value: bool = False) -> dict[str, float]:
    numbers = (result.values or {})[model] if value else result.conversions[model]
    return dict(zip(result.channels, numbers, strict=True))


def same(got: dict[str, float], want: dict[str, float], tolerance: float = 1e-9) -> bool:
    keys = set(got) | set(want)
    return all(close(got.get(k, 0.0), want.get(k, 0.0), tolerance) for k in keys)


def as_dict(table: PathTable) -> dict[tuple[str, ...], list[float]]:
    rows: dict[tuple[str, ...], list[float]] = {}
    values = table.value if table.value is not None else np.zeros(table.size)
    for path, c, n, v in zip(table.paths(), table.conversions, table.nulls, values, strict=True):
        row = rows.setdefault(path, [0.0, 0.0, 0.0])
        row[0] += c
        row[1] += n
        row[2] += v
    return rows


# --- paths from events, by hand ----------------------------------------------------------------


def shop_log(make_log: MakeLog) -> EventLog:
    def row(who: str, at: float, name: str, channel: str, value: str = "") -> Any:
        return (who, minutes(at), name, {"channel": channel, "value": value})

    return make_log(
        [
            row("a", 0, "ad", "social"),
            row("a", 10, "visit", "web"),
            row("a", 20, "purchase", "web", "100"),
            row("a", 30, "email_open", "email"),
            row("a", 40, "purchase", "web", "50"),
            row("a", 50, "visit", "web"),
            row("b", 0, "visit", "web"),
            row("b", 5, "ad", "social"),
            row("c", 0, "purchase", "web", "7"),
        ]
    )


def test_paths_restart_after_each_conversion(make_log: MakeLog) -> None:
    log = shop_log(make_log)
    table = conversion_paths(log.table, conversion="purchase", lookback_seconds=None)
    assert as_dict(table) == {
        ("social", "web"): [1, 0, 100],
        ("email",): [1, 0, 50],
        ("web",): [0, 1, 0],  # a's touches after the last purchase
        ("web", "social"): [0, 1, 0],  # b never bought
    }
    assert table.conversions_without_touches == 1  # c bought with no touch before
    assert table.value_without_touches == 7
    assert table.total_conversions == 2
    assert table.channels == ("email", "social", "web")


def test_values_are_summed_exactly_whatever_the_order(make_log: MakeLog) -> None:
    # 0.1 + 0.2 + 0.3 is 0.6000000000000001 or 0.6 in floats depending on the order of
    # addition, which the engine's threads do not fix: a path's value and the total must
    # be 0.6 in any order of the rows (summed as exact decimals).
    for values in (("0.1", "0.2", "0.3"), ("0.3", "0.2", "0.1"), ("0.2", "0.3", "0.1")):
        rows = []
        for k, value in enumerate(values):
            rows += [
                (f"c{k}", minutes(0), "ad", {"channel": "social"}),
                (f"c{k}", minutes(1), "purchase", {"channel": "web", "value": value}),
            ]
        table = conversion_paths(make_log(rows).table, conversion="purchase")
        assert table.value is not None
        assert table.value.tolist() == [0.6], values
        assert table.total_value == 0.6, values


def test_lookback_is_inclusive_and_cuts_both_kinds_of_path(make_log: MakeLog) -> None:
    log = shop_log(make_log)
    table = conversion_paths(log.table, conversion="purchase", lookback_seconds=10 * 60)
    # a: the ad was 20 minutes before the first purchase, the visit exactly 10.
    assert as_dict(table) == {
        ("web",): [1, 1, 100],
        ("email",): [1, 0, 50],
        ("web", "social"): [0, 1, 0],
    }
    tight = conversion_paths(log.table, conversion="purchase", lookback_seconds=4 * 60)
    # b's path ends with the ad; the visit 5 minutes before it is out.
    assert ("social",) in as_dict(tight)
    assert tight.conversions_without_touches == 3  # both of a's purchases lost their touches


def test_ties_follow_input_order(make_log: MakeLog) -> None:
    log = make_log(
        [
            ("d", minutes(0), "visit", {"channel": "web"}),
            ("d", minutes(0), "purchase", {"channel": "web"}),
            ("d", minutes(0), "ad", {"channel": "social"}),
            ("e", minutes(0), "ad", {"channel": "social"}),
            ("e", minutes(0), "visit", {"channel": "web"}),
        ]
    )
    table = conversion_paths(log.table, conversion="purchase")
    assert as_dict(table) == {
        ("web",): [1, 0, 0],
        ("social",): [0, 1, 0],
        ("social", "web"): [0, 1, 0],
    }
    assert table.value is None  # no conversion has a value


def test_touch_by_event_only_some_events_and_by_touchpoint(
    make_log: MakeLog, tmp_path: Path
) -> None:
    log = shop_log(make_log)
    by_event = conversion_paths(log.table, conversion="purchase", touch="event")
    assert ("ad", "visit") in as_dict(by_event)
    ads = conversion_paths(log.table, conversion="purchase", only="channel = 'social'")
    assert as_dict(ads) == {("social",): [1, 1, 100]}
    assert ads.conversions_without_touches == 2
    big = conversion_paths(log.table, conversion="event = 'purchase' and value > 60")
    # The small purchases are no conversion: touches of their channel, like any event.
    assert as_dict(big) == {
        ("social", "web"): [1, 0, 100],
        ("email", "web", "web"): [0, 1, 0],
        ("web", "social"): [0, 1, 0],
        ("web",): [0, 1, 0],
    }
    journey = Journey(
        id="shop",
        title="Shop",
        stages=[
            Stage(
                id="look",
                name="Look",
                touchpoints=[
                    Touchpoint(id="ads", name="Ads", events=EventBinding(channels=["social"])),
                    Touchpoint(id="site", name="Site", events=EventBinding(names=["visit"])),
                ],
            )
        ],
    )
    mapped = conversion_paths(log.table, conversion="purchase", touch="touchpoint", journey=journey)
    assert as_dict(mapped) == {
        ("ads", "site"): [1, 0, 100],  # the e-mail open is no touchpoint: not a touch
        ("site",): [0, 1, 0],
        ("site", "ads"): [0, 1, 0],
    }
    with pytest.raises(AttributionError, match="--map"):
        conversion_paths(log.table, conversion="purchase", touch="touchpoint")


def test_empty_log(make_log: MakeLog) -> None:
    result = attribution(make_log([]).table, conversion="purchase")
    assert result.channels == ()
    assert result.total_conversions == 0
    data = result.to_dict()
    assert data["channels"] == []
    json.dumps(data)
    assert result.chart().data  # one empty trace per model


# --- each model by hand --------------------------------------------------------------------------

HAND = {"a>b>c": (2.0, 0.0), "b": (1.0, 1.0), "c>a": (1.0, 0.0), "a": (0.0, 3.0)}


@pytest.mark.parametrize(
    ("model", "want"),
    [
        ("first_touch", {"a": 2, "b": 1, "c": 1}),
        ("last_touch", {"a": 1, "b": 1, "c": 2}),
        ("linear", {"a": 2 / 3 + 0.5, "b": 2 / 3 + 1, "c": 2 / 3 + 0.5}),
        # a>b>c: 40/20/40 of two; c>a: two touches split 50/50.
        ("position_based", {"a": 0.8 + 0.5, "b": 0.4 + 1, "c": 0.8 + 0.5}),
        ("shapley", {"a": 2 / 3 + 0.5, "b": 2 / 3 + 1, "c": 2 / 3 + 0.5}),
    ],
)
def test_models_by_hand(model: str, want: dict[str, float]) -> None:
    result = attribute(table_of(HAND), models=[model])
    assert same(by_channel(result, model), want)
    assert result.total_conversions == 4


def test_linear_counts_each_touch_and_shapley_each_channel() -> None:
    result = attribute(table_of({"a>a>b": (3.0, 0.0)}), models="linear,shapley")
    assert same(by_channel(result, "linear"), {"a": 2, "b": 1})
    assert same(by_channel(result, "shapley"), {"a": 1.5, "b": 1.5})


def test_position_weights_are_configurable() -> None:
    table = table_of({"a>b>c>d": (1.0, 0.0), "x>y": (1.0, 0.0), "z": (1.0, 0.0)})
    result = attribute(table, models="position_based", position_weights="30/40/30")
    assert same(
        by_channel(result, "position_based"),
        {"a": 0.3, "b": 0.2, "c": 0.2, "d": 0.3, "x": 0.5, "y": 0.5, "z": 1.0},
    )
    skewed = attribute(table, models="position_based", position_weights=(0.6, 0.2, 0.2))
    assert same(
        by_channel(skewed, "position_based"),
        {"a": 0.6, "b": 0.1, "c": 0.1, "d": 0.2, "x": 0.75, "y": 0.25, "z": 1.0},
    )


def test_markov_removal_effects_by_hand() -> None:
    # START -> a 3/4, b 1/4; a -> conversion, null, b 1/3 each; b -> conversion 1/2.
    # P = 1/2; without a: 1/8 (effect 3/4); without b: 1/4 (effect 1/2).
    table = table_of({"a": (1.0, 1.0), "a>b": (1.0, 0.0), "b": (0.0, 1.0)})
    result = attribute(table, models="markov")
    assert close(result.conversion_probability or 0, 0.5)
    assert result.removal_effects is not None
    assert same(
        dict(zip(result.channels, result.removal_effects, strict=True)), {"a": 0.75, "b": 0.5}
    )
    assert same(by_channel(result, "markov"), {"a": 1.2, "b": 0.8})


def test_markov_value_by_hand() -> None:
    # a converts half the time with 10, b always with 30: they never meet.
    table = table_of({"a": (1.0, 1.0), "b": (1.0, 0.0)}, {"a": 10.0, "b": 30.0})
    result = attribute(table, models="markov")
    assert same(by_channel(result, "markov"), {"a": 1.0, "b": 1.0})
    assert same(by_channel(result, "markov", value=True), {"a": 10.0, "b": 30.0})


def test_markov_repeats_and_orders() -> None:
    table = table_of({"a>a>b": (1.0, 1.0), "a>b>b": (1.0, 0.0), "b>a": (0.0, 2.0)})
    for order in (1, 2, 3, 4):
        for repeats in ("drop", "keep"):
            result = attribute(table, models="markov", order=order, repeats=repeats)  # type: ignore[arg-type]
            want_p, want = oracle.markov_exact(as_dict(table), order, repeats == "keep")
            assert close(result.conversion_probability or 0, want_p)
            effects = dict(zip(result.channels, result.removal_effects or (), strict=True))
            assert same(effects, want)
    # Order 1: a self-transition only delays the walk, so keeping repeats changes nothing.
    kept = attribute(table, models="markov", repeats="keep")
    assert same(by_channel(kept, "markov"), by_channel(attribute(table, models="markov"), "markov"))
    with pytest.raises(AttributionError, match="order"):
        attribute(table, models="markov", order=5)


def test_time_decay_halves_per_half_life(make_log: MakeLog) -> None:
    log = make_log(
        [
            ("a", minutes(0), "ad", {"channel": "social", "value": ""}),
            ("a", minutes(24 * 60), "mail", {"channel": "email", "value": ""}),
            ("a", minutes(48 * 60), "visit", {"channel": "web", "value": ""}),
            ("a", minutes(48 * 60), "purchase", {"channel": "web", "value": "70"}),
        ]
    )
    result = attribution(log.table, conversion="purchase", half_life="1d", models="time_decay")
    assert same(by_channel(result, "time_decay"), {"social": 1 / 7, "email": 2 / 7, "web": 4 / 7})
    assert same(
        by_channel(result, "time_decay", value=True), {"social": 10, "email": 20, "web": 40}
    )
    assert result.settings.half_life_seconds == DAY


# --- the engine against brute force on random logs -------------------------------------------

CHANNELS = ("web", "social", "email", None)


@st.composite
def logs(draw: st.DrawFn) -> list[Any]:
    rows: list[Any] = []
    for customer in draw(st.lists(st.sampled_from("abcde"), max_size=5, unique=True)):
        for _ in range(draw(st.integers(1, 8))):
            # ties (same minute), one day apart, and odd microseconds
            moment = draw(st.sampled_from([0, 0, 1, 60, 1440, 1441, 2880, 10080])) + draw(
                st.sampled_from([0, 0, 1.5e-5])
            )
            name = draw(st.sampled_from(["visit", "ad", "purchase", "purchase"]))
            channel = draw(st.sampled_from(CHANNELS))
            value = draw(st.sampled_from(["", "10", "2.5"])) if name == "purchase" else ""
            rows.append(
                (customer, minutes(moment), name, {"channel": channel or "", "value": value})
            )
    return rows


@pytest.mark.slow
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=logs(),
    lookback=st.sampled_from([None, 60.0, DAY, 2 * DAY]),
    touch=st.sampled_from(["channel", "event"]),
    only_web=st.booleans(),
)
def test_random_logs_match_the_oracle(
    make_log: MakeLog, rows: list[Any], lookback: float | None, touch: str, only_web: bool
) -> None:
    log = make_log(rows)
    events = log.rows()
    is_purchase: Callable[[Any], bool] = lambda e: e["event"] == "purchase"  # noqa: E731
    want = oracle.conversion_paths(
        events,
        is_purchase,
        label=touch,
        lookback_seconds=lookback,
        only=(lambda e: e["channel"] == "web") if only_web else None,
    )
    result = attribution(
        log.table,
        conversion="purchase",
        touch=touch,
        only="channel = 'web'" if only_web else None,
        lookback=lookback,
        half_life="1d",
        engine=log.engine,
    )
    table = result.paths
    assert table is not None
    got, expected = as_dict(table), want.table()
    assert got.keys() == expected.keys()
    for path, row in expected.items():
        assert all(close(a, b) for a, b in zip(got[path], row, strict=True)), path
    assert table.conversions_without_touches == want.without_touches
    assert close(result.total_conversions, len(want.converting))
    for model in ("first_touch", "last_touch", "linear", "position_based", "time_decay"):
        expected_model = oracle.heuristic(want, model, half_life_seconds=DAY)
        assert same(by_channel(result, model), expected_model), model
        if result.values is not None:
            expected_value = oracle.heuristic(want, model, half_life_seconds=DAY, value=True)
            assert same(by_channel(result, model, value=True), expected_value), model
    assert same(by_channel(result, "shapley"), oracle.shapley(expected))
    if len(want.converting):
        probability, effects = oracle.markov_exact(expected)
        assert close(result.conversion_probability or 0.0, probability)
        assert same(by_channel(result, "markov"), oracle.normalised(effects, len(want.converting)))
    for model in result.models:  # every model hands out exactly the conversions
        assert close(sum(result.conversions[model]), result.total_conversions)


# --- models on random path tables ---------------------------------------------------------------


@st.composite
def path_tables(draw: st.DrawFn, channels: str = "abcd") -> dict[str, tuple[float, float]]:
    paths = draw(
        st.dictionaries(
            st.lists(st.sampled_from(channels), min_size=1, max_size=5).map(">".join),
            st.tuples(st.integers(0, 4), st.integers(0, 4)).filter(lambda t: sum(t) > 0),
            min_size=1,
            max_size=8,
        )
    )
    converting = draw(st.sampled_from(sorted(paths)))
    paths[converting] = (paths[converting][0] + 1, paths[converting][1])
    return {k: (float(c), float(n)) for k, (c, n) in paths.items()}


@settings(max_examples=60)
@given(
    paths=path_tables(),
    order=st.integers(1, 4),
    keep=st.booleans(),
    weights=st.sampled_from([(0.4, 0.2, 0.4), (0.3, 0.4, 0.3), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0)]),
)
def test_models_on_random_path_tables(
    paths: dict[str, tuple[float, float]],
    order: int,
    keep: bool,
    weights: tuple[float, float, float],
) -> None:
    values = {k: 3.0 * c + 1 for k, (c, _) in paths.items() if c}
    table = table_of(paths, values)
    result = attribute(
        table, order=order, repeats="keep" if keep else "drop", position_weights=weights
    )
    rows = as_dict(table)
    total = sum(c for c, _ in paths.values())
    for model in result.models:
        assert close(sum(result.conversions[model]), total), model
        assert result.values is not None
        assert close(sum(result.values[model]), sum(values.values())), model
    for model in ("first_touch", "last_touch", "linear", "position_based"):
        assert same(by_channel(result, model), oracle.heuristic_on_table(rows, model, weights))
    assert same(by_channel(result, "shapley"), oracle.shapley(rows))
    assert same(by_channel(result, "shapley", value=True), oracle.shapley(rows, value=True))
    # The distinct channels of each path, marked densely or sorted: the same shares.
    dense = _attribution_models.shapley_shares(table)
    assert (dense != _attribution_models.shapley_shares(table, dense_limit=0)).nnz == 0
    probability, effects = oracle.markov_exact(rows, order, keep)
    assert close(result.conversion_probability or 0.0, probability)
    got_effects = dict(zip(result.channels, result.removal_effects or (), strict=True))
    assert same(got_effects, effects)
    assert same(by_channel(result, "markov"), oracle.normalised(effects, total))
    assert all(x >= -1e-12 for m in result.models for x in result.conversions[m])


def test_markov_matches_a_monte_carlo_simulation() -> None:
    rng = np.random.default_rng(5)
    paths: dict[str, tuple[float, float]] = {}
    for _ in range(40):
        path = ">".join(rng.choice(list("abcde"), size=rng.integers(1, 6)))
        conversions = float(rng.integers(0, 30))
        paths[path] = (conversions, float(rng.integers(0, 60)))
    rows = as_dict(table_of(paths))
    for order in (1, 2):
        result = attribute(table_of(paths), models="markov", order=order)
        walks = 40_000
        probability, effects = oracle.markov_simulated(rows, walks=walks, seed=11, order=order)
        # binomial standard errors: ~0.0025 on the probability, ~0.008 on the effects
        assert abs((result.conversion_probability or 0) - probability) < 0.01
        got = dict(zip(result.channels, result.removal_effects or (), strict=True))
        assert all(abs(got[c] - effects[c]) < 0.03 for c in got), (got, effects)


# --- the peer: ChannelAttribution -----------------------------------------------------------------


@pytest.mark.slow
def test_against_channelattribution(capsys: pytest.CaptureFixture[str]) -> None:
    ca = pytest.importorskip("ChannelAttribution")
    capsys.readouterr()  # its banner
    rng = np.random.default_rng(3)
    rows = []
    for _ in range(150):
        path = " > ".join(
            rng.choice(["email", "search", "social", "display"], size=rng.integers(1, 5))
        )
        conversions = int(rng.integers(0, 20))
        rows.append((path, conversions, int(rng.integers(0, 50)), conversions * 12.5))
    frame = pd.DataFrame(rows, columns=["path", "conv", "nulls", "value"])
    frame = frame.groupby("path", as_index=False).sum()
    table = build_path_table(
        [p.split(" > ") for p in frame.path], frame.conv, frame.nulls, frame.value
    )
    result = attribute(table, models="first_touch,last_touch,linear,markov")
    heuristics = ca.heuristic_models(frame, "path", "conv", var_value="value", flg_pro=False)
    heuristics = heuristics.set_index("channel_name")
    for ours, theirs in (
        ("first_touch", "first_touch"),
        ("last_touch", "last_touch"),
        ("linear", "linear_touch"),
    ):
        assert same(by_channel(result, ours), heuristics[f"{theirs}_conversions"].to_dict())
        assert same(by_channel(result, ours, value=True), heuristics[f"{theirs}_value"].to_dict())
    markov = ca.markov_model(
        frame,
        "path",
        "conv",
        var_null="nulls",
        var_value="value",
        order=1,
        nsim_start=300_000,
        conv_par=0.005,
        seed=1,
        verbose=False,
        out_more=True,
        flg_pro=False,
    )
    capsys.readouterr()
    theirs = markov["result"].set_index("channel_name")
    total = result.total_conversions
    ours = by_channel(result, "markov")
    # they simulate: within 1% of the total conversions
    assert all(abs(ours[c] - theirs.loc[c, "total_conversions"]) < 0.01 * total for c in ours)
    worth = by_channel(result, "markov", value=True)
    assert all(
        abs(worth[c] - theirs.loc[c, "total_conversion_value"]) < 0.01 * sum(worth.values())
        for c in worth
    )
    # Their removal effects run a few percent low: simulated walks longer than the
    # longest path of the data are cut and dropped, and long walks visit more channels.
    effects = markov["removal_effects"].set_index("channel_name")["removal_effects_conversion"]
    got = dict(zip(result.channels, result.removal_effects or (), strict=True))
    assert all(0 < got[c] - effects[c] < 0.05 for c in got), (got, effects)


# --- bootstrap intervals ------------------------------------------------------------------------


def test_bootstrap_intervals_are_seeded_and_cover_the_shares() -> None:
    table = table_of(HAND)
    result = attribute(table, ci=True, ci_samples=100, seed=4)
    again = attribute(table, ci=True, ci_samples=100, seed=4)
    assert result.intervals == again.intervals
    assert result.intervals is not None
    for model in result.models:
        for (low, high), share in zip(result.intervals[model], result.share(model), strict=True):
            assert 0 - 1e-12 <= low <= high <= 1 + 1e-12
            assert low - 1e-9 <= share <= high + 1e-9 or high - low < 0.5
    big = table_of({k: (c * 100, n * 100) for k, (c, n) in HAND.items()})
    narrow = attribute(big, models="linear,markov", ci=True, ci_samples=60)
    assert narrow.intervals is not None
    for model in ("linear", "markov"):
        wide = max(h - lo for lo, h in result.intervals[model])
        assert max(h - lo for lo, h in narrow.intervals[model]) < wide / 3
    data = result.to_dict()
    assert data["settings"]["ci"] == {"level": 0.95, "samples": 100, "seed": 4}
    assert len(data["channels"][0]["markov_share_ci"]) == 2
    assert "markov_share_low" in result.to_frame().columns


# --- path tables from files --------------------------------------------------------------------


def test_read_path_table_as_channelattribution_writes_it(tmp_path: Path) -> None:
    file = tmp_path / "Data.csv"
    file.write_text(
        "path;total_conversions;total_conversion_value;total_null\n"
        "eta > iota > alpha > eta;1;0.244;3\n"
        "iota > iota > iota > iota;2;3.145;9\n"
        ";4;8;0\n"
        "alpha;0;0;5\n",
        encoding="utf-8",
    )
    table = read_path_table(file, value_col="total_conversion_value")
    assert table.paths() == [
        ("eta", "iota", "alpha", "eta"),
        ("iota", "iota", "iota", "iota"),
        ("alpha",),
    ]
    assert table.conversions.tolist() == [1, 2, 0]
    assert table.nulls.tolist() == [3, 9, 5]
    assert table.conversions_without_touches == 4
    assert table.value_without_touches == 8
    result = attribute(table)
    assert "time_decay" not in result.models
    assert any("time decay" in note for note in result.notes)
    with pytest.raises(AttributionError, match="time decay"):
        attribute(table, models="time_decay")
    parquet = tmp_path / "paths.parquet"
    pd.DataFrame({"p": ["a|b", "b"], "c": [1, 2]}).to_parquet(parquet)
    other = read_path_table(parquet, path_col="p", conversions_col="c", nulls_col=None, sep="|")
    assert other.paths() == [("a", "b"), ("b",)]
    assert other.nulls.tolist() == [0, 0]


def test_path_table_round_trip(make_log: MakeLog, tmp_path: Path) -> None:
    result = attribution(shop_log(make_log).table, conversion="purchase")
    assert result.paths is not None
    file = tmp_path / "out.csv"
    result.paths.to_frame().to_csv(file, index=False)
    again = attribute(read_path_table(file, value_col="total_conversion_value"))
    for model in again.models:
        assert same(by_channel(again, model), by_channel(result, model))
        assert same(by_channel(again, model, value=True), by_channel(result, model, value=True))


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("path,conv\na,1\n", {}, "total_conversions"),
        ("path,total_conversions,total_null\na,x,1\n", {}, "row 2"),
        ("path,total_conversions,total_null\na,-1,1\n", {}, "negative"),
        ("path,total_conversions,total_null\na,1,1\n", {"sep": ""}, "--sep"),
    ],
)
def test_bad_path_tables(tmp_path: Path, text: str, options: dict[str, Any], message: str) -> None:
    file = tmp_path / "bad.csv"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(AttributionError, match=message):
        read_path_table(file, **options)
    with pytest.raises(AttributionError, match="no path table"):
        read_path_table(tmp_path / "missing.csv")


# --- options and errors --------------------------------------------------------------------------


def test_options_are_checked() -> None:
    assert parse_models(None) == MODELS
    assert parse_models(["Markov", "first-touch"]) == ("first_touch", "markov")
    with pytest.raises(AttributionError, match="unknown model"):
        parse_models("markov,magic")
    with pytest.raises(AttributionError, match="at least one"):
        parse_models(" , ")
    assert parse_position_weights("0.3,0.4,0.3") == (0.3, 0.4, 0.3)
    for bad in ("40/40", "50/50/50", "a/b/c", "-10/60/50"):
        with pytest.raises(AttributionError, match="position weights"):
            parse_position_weights(bad)
    table = table_of(HAND)
    with pytest.raises(AttributionError, match="repeats"):
        attribute(table, repeats="twice")  # type: ignore[arg-type]
    with pytest.raises(AttributionError, match="ci-samples"):
        attribute(table, ci=True, ci_samples=1)
    with pytest.raises(AttributionError, match="at least one touch"):
        build_path_table([()], [1], [0])


def test_bad_durations(make_log: MakeLog) -> None:
    log = shop_log(make_log)
    with pytest.raises(AttributionError, match="--lookback"):
        attribution(log.table, conversion="purchase", lookback="soon")
    with pytest.raises(AttributionError, match="--half-life"):
        attribution(log.table, conversion="purchase", half_life="0s")


def test_result_frame_dict_and_chart(make_log: MakeLog) -> None:
    result = attribution(shop_log(make_log).table, conversion="purchase", ci=True, ci_samples=20)
    frame = result.to_frame()
    assert list(frame.columns[:8]) == ["channel", *MODELS]
    assert "markov_value" in frame.columns
    data = result.to_dict()
    assert set(data["channels"][0]) >= {"channel", *MODELS, "shapley_value"}
    assert data["total_conversions"] == 2
    assert data["total_value"] == 150
    assert data["conversions_without_touches"] == 1
    assert data["settings"]["lookback_seconds"] == 30 * DAY
    json.dumps(data)
    figure = result.chart()
    assert [trace.name for trace in figure.data] == [module.MODEL_LABELS[m] for m in MODELS]
    assert figure.layout.barmode == "group"


def test_docstring_examples() -> None:
    for part in (module, _attribution_models, _attribution_paths):
        found = doctest.testmod(part, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert found.attempted > 0
        assert found.failed == 0


# --- the command -----------------------------------------------------------------------------------


@pytest.fixture
def events_csv(tmp_path: Path) -> Path:
    path = tmp_path / "events.csv"
    path.write_text(
        "user,when,what,via,amount\n"
        "a,2026-01-01T00:00:00Z,ad,social,\n"
        "a,2026-01-01T00:10:00Z,visit,web,\n"
        "a,2026-01-01T00:20:00Z,purchase,web,100\n"
        "a,2026-01-01T00:30:00Z,email_open,email,\n"
        "a,2026-01-01T00:40:00Z,purchase,web,50\n"
        "b,2026-01-01T00:00:00Z,visit,web,\n",
        encoding="utf-8",
    )
    return path


COLUMNS = ["--customer", "user", "--time", "when", "--event", "what", "--channel", "via"]


def test_command_on_an_event_file(
    events_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported = tmp_path / "paths.csv"
    args = [
        "attribution",
        str(events_csv),
        *COLUMNS,
        "--value",
        "amount",
        "--conversion",
        "purchase",
        "--export-paths",
        str(exported),
        "--json",
    ]
    assert run(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["total_conversions"] == 2
    assert data["total_value"] == 150
    rows = {row["channel"]: row for row in data["channels"]}
    assert rows["email"]["last_touch"] == 1
    assert rows["social"]["first_touch"] == 1
    for model in MODELS:
        assert math.isclose(sum(r[model] for r in data["channels"]), 2)
    assert "social > web" in exported.read_text(encoding="utf-8")

    assert (
        run(
            [
                "attribution",
                "--paths",
                str(exported),
                "--value-col",
                "total_conversion_value",
                "--model",
                "markov,linear",
                "--json",
            ]
        )
        == 0
    )
    again = json.loads(capsys.readouterr().out)
    assert again["models"] == ["linear", "markov"]
    assert again["settings"]["source"] == str(exported)
    assert {r["channel"]: r["markov"] for r in again["channels"]} == pytest.approx(
        {r["channel"]: r["markov"] for r in data["channels"]}
    )

    chart = tmp_path / "chart.html"
    assert (
        run(
            [
                "attribution",
                str(events_csv),
                *COLUMNS,
                "--conversion",
                "purchase",
                "--order",
                "2",
                "--ci",
                "--ci-samples",
                "20",
                "--chart",
                str(chart),
            ]
        )
        == 0
    )
    assert "plotly" in chart.read_text(encoding="utf-8")
    assert run(["attribution", str(events_csv), *COLUMNS, "--conversion", "purchase"]) == 0
    assert "Attribution of 2 conversions" in capsys.readouterr().out


def test_command_with_a_map(
    events_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journey = Journey(
        id="shop",
        title="Shop",
        stages=[
            Stage(
                id="look",
                name="Look",
                touchpoints=[
                    Touchpoint(id="ads", name="Ads", events=EventBinding(names=["ad"])),
                    Touchpoint(id="site", name="Site", events=EventBinding(names=["visit"])),
                ],
            ),
            Stage(
                id="buy",
                name="Buy",
                touchpoints=[
                    Touchpoint(id="pay", name="Pay", events=EventBinding(names=["purchase"]))
                ],
            ),
        ],
    )
    map_path = tmp_path / "shop.yaml"
    dump_journey(journey, map_path)
    args = [
        "attribution",
        str(events_csv),
        *COLUMNS,
        "--map",
        str(map_path),
        "--conversion",
        "pay",
        "--touch",
        "touchpoint",
        "--model",
        "first_touch",
        "--json",
    ]
    assert run(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert {r["channel"]: r["first_touch"] for r in data["channels"]} == {"ads": 1.0, "site": 0.0}
    assert data["conversions_without_touches"] == 1  # the second purchase: e-mail is no touchpoint


def test_command_errors(events_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["attribution", str(events_csv), *COLUMNS]) == 2
    assert "--conversion" in capsys.readouterr().err
    assert run(["attribution"]) == 2
    assert "--paths" in capsys.readouterr().err
    assert run(["attribution", str(events_csv), *COLUMNS, "--paths", str(events_csv)]) == 2
    assert "not both" in capsys.readouterr().err
    assert (
        run(
            [
                "attribution",
                str(events_csv),
                *COLUMNS,
                "--conversion",
                "purchase",
                "--model",
                "magic",
            ]
        )
        == 1
    )
    assert "unknown model magic" in capsys.readouterr().err
    assert run(["attribution", "--paths", str(events_csv)]) == 1
    assert "--conversions-col" in capsys.readouterr().err
    assert (
        run(
            [
                "attribution",
                str(events_csv),
                *COLUMNS,
                "--conversion",
                "purchase",
                "--touch",
                "touchpoint",
            ]
        )
        == 1
    )
    assert "--map" in capsys.readouterr().err
