"""Time to convert, time between, dwell and touches: hand-computed logs, random logs
against the oracles, and the commands end to end."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from jornada.analytics.timing import (
    DEFAULT_DURATION_BINS,
    QUANTILES,
    DurationResult,
    TimingError,
    dwell_times,
    time_between,
    time_to_convert,
    touches_before_conversion,
)
from jornada.cli import timing as timing_cli
from jornada.model import EventBinding, Journey, Stage, Touchpoint
from jornada.model.io import dump_journey
from tests.analytics.conftest import EventLog, minutes
from tests.oracles import timing as oracle

HOUR = 3600.0

MakeLog = Callable[..., EventLog]


def close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def shop_map() -> Journey:
    """Three stages; visits belong to 'look', carts to 'cart', purchases to 'buy'."""
    return Journey(
        id="shop",
        title="Shop",
        stages=[
            Stage(
                id="look",
                name="Look",
                touchpoints=[
                    Touchpoint(id="ad", name="Ad", events=EventBinding(names=["ad"])),
                    Touchpoint(id="site", name="Site", events=EventBinding(names=["visit"])),
                ],
            ),
            Stage(
                id="cart",
                name="Cart",
                touchpoints=[
                    Touchpoint(id="basket", name="Basket", events=EventBinding(names=["cart"]))
                ],
            ),
            Stage(
                id="buy",
                name="Buy",
                touchpoints=[
                    Touchpoint(
                        id="payment", name="Payment", events=EventBinding(names=["purchase"])
                    )
                ],
            ),
        ],
    )


# --- hand-computed ------------------------------------------------------------------------


def test_empty_log(make_log: MakeLog) -> None:
    events = make_log([]).table
    result = time_to_convert(events, "purchase")
    assert (result.customers, result.reached) == (0, 0)
    assert all(math.isnan(v) for _, v in result.percentiles)
    assert [b.customers for b in result.bins] == [0] * len(DEFAULT_DURATION_BINS)
    assert result.to_dict()["seconds"]["p50"] is None
    touches = touches_before_conversion(events, "purchase")
    assert touches.converters.customers == touches.non_converters.customers == 0
    assert math.isnan(touches.converters.mean_touches)
    dwell = dwell_times(events, shop_map())
    assert [s.entered for s in dwell.stages] == [0, 0, 0]
    assert dwell.as_of is None
    for figure in (result.chart(), touches.chart(), dwell.chart()):
        assert figure.data


def test_one_event(make_log: MakeLog) -> None:
    events = make_log([("a", minutes(0), "visit")]).table
    result = time_to_convert(events, "purchase")
    assert (result.customers, result.reached, result.not_reached) == (1, 0, 1)
    assert result.reach_rate == 0
    touches = touches_before_conversion(events, "purchase")
    assert touches.non_converters.touches == ((1, 1),)
    assert touches.non_converters.channels == ((0, 1),)  # no channel given


def test_conversion_as_first_event(make_log: MakeLog) -> None:
    events = make_log(
        [
            ("a", minutes(0), "purchase"),
            ("a", minutes(30), "visit"),
            ("a", minutes(24 * 60), "purchase"),
        ]
    ).table
    result = time_to_convert(events, "purchase")
    assert (result.reached, result.maximum) == (1, 0.0)
    again = time_between(events, "purchase", "purchase")
    assert (again.reached, again.maximum) == (1, 24 * HOUR)
    touches = touches_before_conversion(events, "purchase")
    assert touches.converters.touches == ((0, 1),)
    assert touches.converters.median_touches == 0


def test_ties_follow_load_order(make_log: MakeLog) -> None:
    events = make_log(
        [
            ("a", minutes(0), "visit"),
            ("a", minutes(0), "cart"),
            ("a", minutes(0), "purchase"),
            ("b", minutes(0), "purchase"),  # loaded before b's visit at the same instant
            ("b", minutes(0), "visit"),
        ]
    ).table
    result = time_to_convert(events, "purchase", start="cart")
    assert (result.customers, result.reached, result.maximum) == (1, 1, 0.0)
    assert time_between(events, "visit", "purchase").reached == 1  # b's purchase is before
    touches = touches_before_conversion(events, "purchase")
    assert touches.converters.touches == ((0, 1), (2, 1))


def test_percentiles_and_histogram_by_hand(make_log: MakeLog) -> None:
    rows = []
    for name, hours in (("a", 1), ("b", 2), ("c", 4), ("d", 8)):
        rows += [(name, minutes(0), "visit"), (name, minutes(hours * 60), "purchase")]
    rows.append(("e", minutes(5), "visit"))
    result = time_to_convert(make_log(rows).table, "purchase")
    assert (result.customers, result.reached) == (5, 4)
    expected = {0.25: 1.75, 0.5: 3.0, 0.75: 5.0, 0.9: 6.8, 0.95: 7.4}
    for q, hours in expected.items():
        assert close(result.percentile(q), hours * HOUR), q
    assert close(result.mean, 3.75 * HOUR)
    counts = {b.label: b.customers for b in result.bins if b.customers}
    assert counts == {"1h-3h": 2, "3h-6h": 1, "6h-12h": 1}
    frame = result.to_frame()
    assert frame["customers"].sum() == 4
    coarse = time_to_convert(make_log(rows).table, "purchase", bins=[3 * HOUR])
    assert [(b.label, b.customers) for b in coarse.bins] == [("0s-3h", 2), ("3h+", 2)]
    with pytest.raises(ValueError, match="0 seconds or more"):
        time_to_convert(make_log(rows).table, "purchase", bins=[-1.0])
    assert json.loads(json.dumps(result.to_dict()))["seconds"]["p50"] == 3 * HOUR
    assert list(result.chart().data[0].y)[4] == 2  # the 1h-3h bar


def test_start_step_and_later_conversion(make_log: MakeLog) -> None:
    events = make_log(
        [
            ("a", minutes(0), "purchase"),  # before the start: does not count
            ("a", minutes(10), "cart"),
            ("a", minutes(20), "cart"),
            ("a", minutes(60), "purchase"),
            ("b", minutes(0), "visit"),
        ]
    ).table
    result = time_to_convert(events, "purchase", start="cart")
    assert (result.customers, result.reached, result.maximum) == (1, 1, 50 * 60.0)
    result = time_to_convert(events, "event = 'purchase'", start="cart")  # a rule
    assert result.end == "event = 'purchase'"
    assert result.maximum == 50 * 60.0


def test_dwell_by_hand(make_log: MakeLog) -> None:
    log = make_log(
        [
            ("a", minutes(0), "visit"),
            ("a", minutes(60), "cart"),
            ("a", minutes(120), "visit"),  # back to look: the cart stage goes on
            ("a", minutes(300), "purchase"),
            ("b", minutes(0), "ad"),
            ("b", minutes(120), "purchase"),  # skips the cart
            ("c", minutes(600), "cart"),  # still in the cart at the end
            ("d", minutes(10), "newsletter"),  # in no stage
        ]
    )
    result = dwell_times(log.table, shop_map())
    look, cart, buy = result.stages
    assert (look.entered, look.left, look.open) == (2, 2, 0)
    assert close(look.percentile(0.5), 1.5 * HOUR)
    assert (cart.entered, cart.left, cart.open) == (2, 1, 1)
    assert close(cart.mean, 4 * HOUR)
    assert cart.open_median == 0.0  # c's cart is the log's last event
    assert (buy.entered, buy.left, buy.open) == (2, 0, 2)
    assert close(buy.open_median, (600 - 210) * 60.0)  # 300 and 480 minutes before the end
    assert result.as_of == dt.datetime(2026, 1, 1, 10, 0)
    assert list(result.to_frame()["open"]) == [0, 1, 2]
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["as_of"] == "2026-01-01T10:00:00"
    assert data["stages"][2]["seconds"]["p50"] is None  # nobody left the last stage
    assert len(result.chart().data) == 1


def test_dwell_needs_stages() -> None:
    with pytest.raises(TimingError, match="no stages"):
        dwell_times(None, Journey(id="empty", title="Empty"))  # type: ignore[arg-type]


def test_touches_rule_of_seven(make_log: MakeLog) -> None:
    log = make_log(
        [
            ("a", minutes(0), "ad", {"channel": "social"}),
            ("a", minutes(1), "newsletter", {"channel": "email"}),
            ("a", minutes(2), "visit", {"channel": "web"}),
            ("a", minutes(3), "visit", {"channel": "web"}),
            ("a", minutes(4), "purchase", {"channel": "web"}),
            ("a", minutes(5), "visit", {"channel": "app"}),  # after: not counted
            ("b", minutes(0), "visit", {"channel": "web"}),
            ("b", minutes(1), "ad", {"channel": "social"}),
            ("c", minutes(0), "visit", {"channel": "web"}),
        ]
    )
    result = touches_before_conversion(log.table, "purchase")
    assert result.converters.touches == ((4, 1),)
    assert result.converters.channels == ((3, 1),)
    assert result.non_converters.touches == ((1, 1), (2, 1))
    assert result.non_converters.mean_touches == 1.5
    assert result.non_converters.median_channels == 1.5
    journey = shop_map()
    bound = touches_before_conversion(log.table, "purchase", touch="touchpoints", journey=journey)
    assert bound.converters.touches == ((3, 1),)  # the newsletter is no touchpoint
    assert bound.touch == "touchpoints of shop"
    ads = touches_before_conversion(log.table, "buy", touch="ad", journey=journey)  # a stage
    assert ads.conversion == "Buy"
    assert ads.converters.touches == ((1, 1),)
    frame = result.to_frame()
    assert set(frame["measure"]) == {"touches", "channels"}
    assert result.to_dict()["converters"]["touch_percentiles"]["p50"] == 4
    json.dumps(result.to_dict(), allow_nan=False)
    assert len(result.chart().data) == 2
    with pytest.raises(TimingError, match="need a map"):
        touches_before_conversion(log.table, "purchase", touch="touchpoints")


def test_many_channels_fall_back_to_a_distinct_count(make_log: MakeLog) -> None:
    rows: list[Any] = [("a", minutes(i), "visit", {"channel": f"c{i % 70}"}) for i in range(140)]
    rows += [("a", minutes(200), "purchase"), ("b", minutes(0), "visit", {"channel": "c1"})]
    result = touches_before_conversion(make_log(rows).table, "purchase")
    assert (result.converters.touches, result.converters.channels) == (((140, 1),), ((70, 1),))
    assert result.non_converters.channels == ((1, 1),)


# --- random logs against the oracles --------------------------------------------------------

EVENTS = ("visit", "ad", "cart", "purchase")
CHANNELS = ("web", "app", "social", "")

log_rows = st.lists(
    st.tuples(
        st.sampled_from("abcd"),
        # Whole hours over ten days, so ties are common.
        st.integers(0, 240).map(lambda h: minutes(h * 60)),
        st.sampled_from(EVENTS),
        st.sampled_from(CHANNELS).map(lambda c: {"channel": c}),
    ),
    max_size=20,
)


def event_is(name: str) -> oracle.Predicate:
    return lambda e: e["event"] == name


def check_durations(result: DurationResult, customers: int, found: list[float]) -> None:
    assert (result.customers, result.reached) == (customers, len(found))
    for q in QUANTILES:
        assert close(result.percentile(q), oracle.quantile(found, q)), q
    assert close(result.mean, sum(found) / len(found) if found else math.nan)
    assert close(result.minimum, min(found, default=math.nan))
    assert close(result.maximum, max(found, default=math.nan))
    assert [b.customers for b in result.bins] == oracle.histogram(found, DEFAULT_DURATION_BINS)


@settings(max_examples=16, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=log_rows)
def test_random_logs_match_the_oracle(make_log: MakeLog, rows: list[Any]) -> None:
    log = make_log(rows)
    events, table = log.rows(), log.table
    purchase, cart = event_is("purchase"), event_is("cart")

    check_durations(
        time_to_convert(table, "purchase"),
        *oracle.durations(events, None, purchase, inclusive=True),
    )
    check_durations(
        time_to_convert(table, "purchase", start="cart"),
        *oracle.durations(events, cart, purchase, inclusive=True),
    )
    check_durations(
        time_between(table, "purchase", "purchase"),
        *oracle.durations(events, purchase, purchase, inclusive=False),
    )

    expected = oracle.touches(events, purchase)
    result = touches_before_conversion(table, "purchase")
    for group, data in ((True, result.converters), (False, result.non_converters)):
        pairs = expected[group]
        assert data.customers == len(pairs)
        assert close(
            data.mean_touches, sum(t for t, _ in pairs) / len(pairs) if pairs else math.nan
        )
        assert close(data.median_touches, oracle.quantile([t for t, _ in pairs], 0.5))
        assert close(data.touches_quantile(0.9), oracle.quantile([t for t, _ in pairs], 0.9))
        assert close(data.median_channels, oracle.quantile([c for _, c in pairs], 0.5))
        assert sorted(t for t, _ in pairs) == sorted(n for n, c in data.touches for _ in range(c))
        assert sorted(c for _, c in pairs) == sorted(n for n, c in data.channels for _ in range(c))
    ads = touches_before_conversion(table, "purchase", touch="channel = 'social'")
    social = oracle.touches(events, purchase, lambda e: e["channel"] == "social")
    for group, data in ((True, ads.converters), (False, ads.non_converters)):
        assert sorted(t for t, _ in social[group]) == [t for t, n in data.touches for _ in range(n)]
        assert sorted(c for _, c in social[group]) == [
            c for c, n in data.channels for _ in range(n)
        ]

    stage_of = {"visit": 0, "ad": 0, "cart": 1, "purchase": 2}
    expected_dwell = oracle.dwell(events, lambda e: stage_of.get(e["event"]), 3)
    for stage, want in zip(dwell_times(table, shop_map()).stages, expected_dwell, strict=True):
        assert (stage.entered, stage.left) == (want["entered"], len(want["dwell"]))
        for q in QUANTILES:
            assert close(stage.percentile(q), oracle.quantile(want["dwell"], q))
        mean = sum(want["dwell"]) / len(want["dwell"]) if want["dwell"] else math.nan
        assert close(stage.mean, mean)
        assert close(stage.open_median, oracle.quantile(want["waiting"], 0.5))


# --- the commands ---------------------------------------------------------------------------


@pytest.fixture
def csv_log(tmp_path: Path) -> Path:
    path = tmp_path / "events.csv"
    rows = [
        ("u1", "2026-01-01T10:00:00Z", "visit", "web"),
        ("u1", "2026-01-01T12:00:00Z", "cart", "web"),
        ("u1", "2026-01-02T10:00:00Z", "purchase", "app"),
        ("u2", "2026-01-01T09:00:00Z", "ad", "social"),
        ("u2", "2026-01-01T09:30:00Z", "visit", "web"),
        ("u3", "2026-01-03T08:00:00Z", "visit", "web"),
        ("u3", "2026-01-03T08:10:00Z", "purchase", "web"),
    ]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user", "when", "what", "via"])
        writer.writerows(rows)
    return path


def invoke(args: list[str | Path]) -> Any:
    app = typer.Typer()
    timing_cli.register(app)
    flags = ["--customer", "user", "--time", "when", "--event", "what", "--channel", "via"]
    result = CliRunner().invoke(app, [*map(str, args), *flags])
    assert result.exit_code == 0, result.output
    return result


def test_commands_end_to_end(csv_log: Path, tmp_path: Path) -> None:
    data = json.loads(invoke(["time-to-convert", csv_log, "purchase", "--json"]).stdout)
    assert (data["customers"], data["reached"]) == (3, 2)
    assert data["seconds"]["max"] == 24 * HOUR
    data = json.loads(invoke(["time-between", csv_log, "visit", "purchase", "--json"]).stdout)
    assert data["seconds"]["min"] == 600.0
    data = json.loads(invoke(["touches", csv_log, "purchase", "--json"]).stdout)
    assert data["converters"]["touches"] == [
        {"touches": 1, "customers": 1},
        {"touches": 2, "customers": 1},
    ]
    assert data["non_converters"]["channels"] == [{"channels": 2, "customers": 1}]
    map_path = tmp_path / "shop.yaml"
    dump_journey(shop_map(), map_path)
    chart = tmp_path / "dwell.html"
    data = json.loads(
        invoke(["dwell", csv_log, "--map", map_path, "--json", "--chart", chart]).stdout
    )
    assert [s["entered"] for s in data["stages"]] == [3, 1, 2]
    assert "plotly" in chart.read_text(encoding="utf-8")
    table = invoke(["touches", csv_log, "purchase", "--touch", "touchpoints", "--map", map_path])
    assert "mean touches" in table.stdout
    table = invoke(["time-to-convert", csv_log, "purchase", "--start", "cart"])
    assert "cart → purchase: 1 of 1 customers; p25 22h" in table.stdout
    table = invoke(["dwell", csv_log, "--map", map_path, "--csv", tmp_path / "dwell.csv"])
    assert (tmp_path / "dwell.csv").read_text(encoding="utf-8").startswith("stage_id,stage,")


def test_dwell_command_without_a_map(csv_log: Path) -> None:
    app = typer.Typer()
    timing_cli.register(app)
    flags = ["--customer", "user", "--time", "when", "--event", "what"]
    result = CliRunner().invoke(app, ["dwell", str(csv_log), *flags])
    assert result.exit_code == 2
    assert "--map" in result.output


@pytest.mark.parametrize("command", ["time-to-convert", "time-between", "touches", "dwell"])
def test_help_shows_an_example(command: str) -> None:
    app = typer.Typer()
    timing_cli.register(app)
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout
    command_info = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    for param in command_info.params:
        assert param.help, f"{command} {param.name} has no help"
