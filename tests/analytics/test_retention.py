"""Cohort retention and lifecycle: hand-computed logs (week and month boundaries, ties),
random logs against the oracles, and the commands end to end."""

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

from jornada.analytics.retention import PERIODS, lifecycle, period_start, retention
from jornada.cli import retention as retention_cli
from tests.analytics.conftest import EventLog
from tests.oracles import retention as oracle

MakeLog = Callable[..., EventLog]
D = dt.date


def at(text: str) -> str:
    return text + "Z"


def close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9)


# --- hand-computed ------------------------------------------------------------------------


def test_empty_log(make_log: MakeLog) -> None:
    events = make_log([]).table
    result = retention(events)
    assert (result.cohorts, result.last_period, result.periods) == ((), None, 0)
    assert result.to_frame().empty
    assert result.to_dict()["cohorts"] == []
    assert lifecycle(events).periods == ()
    assert retention(events).chart().data
    assert lifecycle(events).chart().data


def test_one_event(make_log: MakeLog) -> None:
    events = make_log([("a", at("2026-01-07T12:00:00"), "visit")]).table
    (cohort,) = retention(events, period="week").cohorts
    assert (cohort.start, cohort.customers, cohort.active, cohort.active_or_later) == (
        D(2026, 1, 5),
        1,
        (1,),
        (1,),
    )
    (period,) = lifecycle(events, period="month").periods
    assert (period.start, period.new, period.days, period.daily_actives) == (D(2026, 1, 1), 1, 1, 1)
    assert period.stickiness == 1.0


def test_week_boundary_is_monday(make_log: MakeLog) -> None:
    events = make_log(
        [
            ("a", at("2026-01-04T23:59:59"), "visit"),  # a Sunday
            ("a", at("2026-01-05T00:00:00"), "visit"),  # the Monday after
        ]
    ).table
    (week,) = retention(events, period="week").cohorts
    assert (week.start, week.active) == (D(2025, 12, 29), (1, 1))
    (day,) = retention(events, period="day").cohorts
    assert day.active == (1, 1)
    (month,) = retention(events, period="month").cohorts
    assert month.active == (1,)


def test_month_boundary(make_log: MakeLog) -> None:
    events = make_log(
        [
            ("a", at("2026-01-31T23:59:59"), "visit"),  # a Saturday
            ("a", at("2026-02-01T00:00:00"), "visit"),  # the Sunday after: same week
            ("b", at("2026-02-01T00:00:00"), "visit"),
        ]
    ).table
    january, february = retention(events, period="month").cohorts
    assert (january.start, january.active, february.active) == (
        D(2026, 1, 1),
        (1, 1),
        (1, None),  # February's period 1 is not observed yet
    )
    (week,) = retention(events, period="week").cohorts
    assert (week.start, week.customers, week.active) == (D(2026, 1, 26), 2, (2,))
    frame = retention(events, period="month").to_frame()
    assert len(frame) == 3  # the unobserved cell is left out
    assert math.isnan(february.rate(1))


def test_all_ties(make_log: MakeLog) -> None:
    rows = [(c, at("2026-03-02T09:00:00"), e) for c in "ab" for e in ("visit", "purchase")]
    events = make_log(rows).table
    (cohort,) = retention(events, period="day", start="purchase", returning="visit").cohorts
    assert (cohort.customers, cohort.active) == (2, (0,))  # each visit is before the purchase
    (period,) = lifecycle(events, period="week").periods
    assert (period.new, period.daily_actives, period.days) == (2, 2, 1)


def test_start_and_return_steps(make_log: MakeLog) -> None:
    events = make_log(
        [
            ("a", at("2026-01-05T10:00:00"), "visit"),  # week 1: before a's start
            ("a", at("2026-01-12T10:00:00"), "purchase"),  # week 2: a's cohort
            ("a", at("2026-01-26T10:00:00"), "purchase"),  # week 4
            ("b", at("2026-01-13T10:00:00"), "purchase"),  # week 2
            ("b", at("2026-01-20T10:00:00"), "visit"),  # week 3: not a return
            ("c", at("2026-01-06T09:00:00"), "visit"),  # never purchases: no cohort
        ]
    ).table
    result = retention(events, period="week", start="purchase", returning="purchase")
    (cohort,) = result.cohorts
    assert (cohort.start, cohort.customers) == (D(2026, 1, 12), 2)
    assert cohort.active == (2, 0, 1)
    assert cohort.active_or_later == (2, 1, 1)
    assert (result.start, result.returning, result.last_period) == (
        "purchase",
        "purchase",
        D(2026, 1, 26),
    )
    limited = retention(events, period="week", start="purchase", returning="purchase", periods=2)
    assert limited.cohorts[0].active == (2, 0)
    assert limited.cohorts[0].active_or_later == (2, 1)
    everyone = retention(events, period="week")
    assert [(c.start, c.customers, c.active) for c in everyone.cohorts] == [
        (D(2026, 1, 5), 2, (2, 1, 0, 1)),
        (D(2026, 1, 12), 1, (1, 1, 0, None)),
    ]
    assert everyone.cohorts[0].active_or_later == (2, 1, 1, 1)
    matrix = everyone.matrix()
    assert list(matrix.columns) == ["customers", 0, 1, 2, 3]
    assert matrix.loc[D(2026, 1, 5), 1] == 0.5
    data = json.loads(json.dumps(everyone.to_dict()))
    assert data["cohorts"][1]["retention"] == [1.0, 1.0, 0.0, None]
    assert len(everyone.chart().data) == 2


def test_lifecycle_by_hand(make_log: MakeLog) -> None:
    events = make_log(
        [
            ("a", at("2026-01-05T08:00:00"), "visit"),  # week 1 (Monday 5 January)
            ("a", at("2026-01-06T08:00:00"), "visit"),
            ("a", at("2026-01-13T08:00:00"), "visit"),  # week 2
            ("b", at("2026-01-12T08:00:00"), "visit"),
            ("b", at("2026-01-12T20:00:00"), "purchase"),
            ("c", at("2026-01-19T08:00:00"), "visit"),  # week 3
            ("a", at("2026-01-26T08:00:00"), "purchase"),  # week 4
            ("c", at("2026-01-28T08:00:00"), "visit"),
        ]
    ).table
    weeks = lifecycle(events, period="week").periods
    assert [(p.start.day, p.new, p.returning, p.resurrected, p.dormant) for p in weeks] == [
        (5, 1, 0, 0, 0),
        (12, 1, 1, 0, 0),
        (19, 1, 0, 0, 2),
        (26, 0, 1, 1, 0),
    ]
    assert [p.days for p in weeks] == [7, 7, 7, 3]
    assert [p.stickiness for p in weeks] == pytest.approx([2 / 7, 1 / 7, 1 / 7, 1 / 3])
    (month,) = lifecycle(events, period="month").periods
    assert (month.active, month.days, month.daily_actives) == (3, 24, 7)
    assert month.stickiness == pytest.approx(7 / 24 / 3)
    buyers = lifecycle(events, period="week", active="purchase").periods
    assert [(p.new, p.dormant) for p in buyers] == [(0, 0), (1, 0), (0, 1), (1, 0)]
    frame = lifecycle(events, period="week").to_frame()
    assert list(frame["active"]) == [1, 2, 1, 2]
    data = json.loads(json.dumps(lifecycle(events, period="week").to_dict(), allow_nan=False))
    assert data["periods"][3] == {
        "period": "2026-01-26",
        "new": 0,
        "returning": 1,
        "resurrected": 1,
        "dormant": 0,
        "active": 2,
        "days": 3,
        "daily_active_mean": 2 / 3,
        "stickiness": 1 / 3,
    }


def test_period_numbers_round_trip() -> None:
    assert period_start(0, "day") == D(1970, 1, 1)
    assert period_start(-1, "week") == D(1969, 12, 29)
    assert period_start(12 * 2026 + 11, "month") == D(2026, 12, 1)
    with pytest.raises(ValueError, match="period must be"):
        retention(None, period="year")  # type: ignore[arg-type]


# --- random logs against the oracles --------------------------------------------------------

log_rows = st.lists(
    st.tuples(
        st.sampled_from("abcde"),
        # Quarter days over ten weeks from Thursday 1 January: weeks and months cross.
        st.integers(0, 280).map(
            lambda q: (dt.datetime(2026, 1, 1) + dt.timedelta(hours=6 * q)).isoformat() + "Z"
        ),
        st.sampled_from(("visit", "visit", "purchase")),
    ),
    max_size=20,
)


def purchase(event: Any) -> bool:
    return bool(event["event"] == "purchase")


@settings(max_examples=24, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=log_rows, period=st.sampled_from(PERIODS))
def test_random_logs_match_the_oracle(make_log: MakeLog, rows: list[Any], period: Any) -> None:
    log = make_log(rows)
    events, table = log.rows(), log.table
    for start, returning, oracle_start, oracle_returning in (
        (None, None, None, None),
        ("purchase", "purchase", purchase, purchase),
        (None, "purchase", None, purchase),
    ):
        result = retention(table, period=period, start=start, returning=returning)
        expected = oracle.retention(events, period, oracle_start, oracle_returning)
        assert [c.start for c in result.cohorts] == sorted(expected)
        width = max((e["observed"] for e in expected.values()), default=0)
        assert result.periods == width
        for cohort in result.cohorts:
            want = expected[cohort.start]
            hidden = [None] * (width - want["observed"])
            assert cohort.customers == want["customers"]
            active = [want["active"].get(k, 0) for k in range(want["observed"])]
            later = [want["later"].get(k, 0) for k in range(want["observed"])]
            assert list(cohort.active) == active + hidden
            assert list(cohort.active_or_later) == later + hidden
    for active_step, oracle_active in ((None, None), ("purchase", purchase)):
        got = lifecycle(table, period=period, active=active_step).periods
        want_periods = oracle.lifecycle(events, period, oracle_active)
        assert len(got) == len(want_periods)
        for p, want in zip(got, want_periods, strict=True):
            assert p.start == want["start"]
            assert (p.new, p.returning, p.resurrected, p.dormant) == (
                want["new"],
                want["returning"],
                want["resurrected"],
                want["dormant"],
            )
            assert (p.days, p.daily_actives) == (want["days"], want["customer_days"])
            active = want["new"] + want["returning"] + want["resurrected"]
            expected_stickiness = (
                want["customer_days"] / want["days"] / active if active else math.nan
            )
            assert close(p.stickiness, expected_stickiness)


# --- the commands ---------------------------------------------------------------------------


def test_commands_end_to_end(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["who", "at", "name"])
        writer.writerows(
            [
                ("u1", "2026-01-05 10:00", "visit"),
                ("u1", "2026-01-06 10:00", "purchase"),
                ("u2", "2026-01-05 11:00", "visit"),
                ("u1", "2026-01-07 10:00", "visit"),
            ]
        )
    app = typer.Typer()
    retention_cli.register(app)
    runner = CliRunner()
    flags = ["--customer", "who", "--time", "at", "--event", "name", "--delimiter", ";"]
    flags += ["--time-format", "%Y-%m-%d %H:%M"]
    result = runner.invoke(app, ["retention", str(path), "--period", "day", "--json", *flags])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["cohorts"][0]["active"] == [2, 1, 1]
    assert data["cohorts"][0]["unbounded_retention"] == [1.0, 0.5, 0.5]
    chart = tmp_path / "lifecycle.html"
    args = ["lifecycle", str(path), "--active", "purchase", "--json", "--chart", str(chart)]
    result = runner.invoke(app, [*args, *flags])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [p["new"] for p in data["periods"]] == [1]
    assert chart.exists()
    result = runner.invoke(app, ["retention", str(path), "--period", "year", *flags])
    assert result.exit_code == 2
    result = runner.invoke(app, ["retention", str(path), *flags])  # the table for people
    assert result.exit_code == 0, result.output
    assert "cohort" in result.stdout


@pytest.mark.parametrize("command", ["retention", "lifecycle"])
def test_help_shows_an_example(command: str) -> None:
    app = typer.Typer()
    retention_cli.register(app)
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout
    command_info = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    for param in command_info.params:
        assert param.help, f"{command} {param.name} has no help"
