"""Funnels: hand-computed cases, and the engine against the brute-force oracle."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from jornada.analytics.funnel import FunnelError, FunnelResult, funnel, parse_window
from jornada.cli.funnel import register, split_steps
from jornada.model import EventBinding, Journey, Stage, Touchpoint
from tests.analytics.conftest import EventLog, LogRow, minutes
from tests.oracles import funnel as oracle

MakeLog = Callable[..., EventLog]


def run(log: EventLog, steps: Sequence[str], **options: Any) -> FunnelResult:
    return funnel(log.table, steps, engine=log.engine, **options)


def counts(result: FunnelResult) -> list[int]:
    return [s.paths for s in result.steps]


def seconds(n: float) -> str:
    """An ISO time ``n`` seconds after 2026-01-01 00:00 UTC."""
    return minutes(n / 60)


def frame_column(result: FunnelResult, k: int, column: str = "customer_id") -> list[str]:
    return [str(v) for v in result.dropped_at(k)[column]]


def test_empty_log(make_log: MakeLog) -> None:
    result = run(make_log([]), ["A", "B"])
    assert counts(result) == [0, 0]
    assert [s.dropped for s in result.steps] == [0, 0]
    assert math.isnan(result.steps[0].conversion_from_start)
    data = result.to_dict()
    assert data["steps"][1]["conversion_from_previous"] is None
    assert data["steps"][1]["ci_from_start"] == [None, None]
    assert data["steps"][1]["median_seconds_from_previous"] is None
    json.dumps(data)  # plain JSON, no NaN
    assert result.dropped_at(2).empty


def test_one_event(make_log: MakeLog) -> None:
    result = run(make_log([("a", minutes(0), "A")]), ["A", "B"])
    assert counts(result) == [1, 0]
    assert [s.dropped for s in result.steps] == [0, 1]
    assert [s.conversion_from_start for s in result.steps] == [1.0, 0.0]
    assert result.steps[1].median_seconds_from_previous is None
    assert frame_column(result, 2) == ["a"]


def test_ties_in_timestamp_keep_input_order(make_log: MakeLog) -> None:
    log = make_log(
        [
            ("a", minutes(0), "B"),
            ("a", minutes(0), "A"),
            ("a", minutes(0), "C"),
            ("b", minutes(0), "A"),
            ("b", minutes(0), "B"),
            ("b", minutes(0), "C"),
        ]
    )
    ordered = run(log, ["A", "B", "C"])
    # a: B comes before A in input order, so after A there is only C.
    assert counts(ordered) == [2, 1, 1]
    assert ordered.steps[1].median_seconds_from_previous == 0.0
    assert ordered.steps[2].p90_seconds_from_previous == 0.0
    assert counts(run(log, ["A", "B", "C"], mode="strict")) == [2, 1, 1]
    assert counts(run(log, ["A", "B", "C"], mode="unordered")) == [2, 2, 2]
    assert counts(run(log, ["A", "C"], mode="strict")) == [2, 1]  # a: A then C at once


def test_window_boundary_is_inclusive(make_log: MakeLog) -> None:
    log = make_log(
        [
            ("exact", seconds(0), "A"),
            ("exact", seconds(1800), "B"),
            ("over", seconds(0), "A"),
            ("over", seconds(1801), "B"),
        ]
    )
    for window in ("30m", "1800", 1800, "0.5h"):
        result = run(log, ["A", "B"], window=window)
        assert counts(result) == [2, 1], window
        assert result.window_seconds == 1800.0
    assert frame_column(run(log, ["A", "B"], window="30m"), 2) == ["over"]
    assert counts(run(log, ["A", "B"], window="30m1s")) == [2, 2]
    assert counts(run(log, ["A", "B"], window="30m", mode="unordered")) == [2, 1]
    assert counts(run(log, ["A", "B"], window="30m", mode="strict")) == [2, 1]
    assert run(log, ["A", "B"]).steps[1].median_seconds_from_previous == 1800.5


def test_window_counts_from_each_anchor(make_log: MakeLog) -> None:
    # The first A is too early for B, the second is in time: the path reaches B from
    # the second anchor, and its time is measured from it.
    log = make_log([("a", minutes(0), "A"), ("a", minutes(50), "A"), ("a", minutes(60), "B")])
    result = run(log, ["A", "B"], window="30m")
    assert counts(result) == [1, 1]
    assert result.steps[1].median_seconds_from_previous == 600.0


def test_exclusion_between_steps(make_log: MakeLog) -> None:
    log = make_log(
        [
            ("a", minutes(0), "A"),
            ("a", minutes(1), "X"),
            ("a", minutes(2), "B"),
            ("b", minutes(0), "A"),
            ("b", minutes(2), "B"),
            ("b", minutes(3), "X"),  # after the step: no effect
            ("c", minutes(0), "A"),
            ("c", minutes(1), "X"),
            ("c", minutes(2), "A"),  # a new attempt after the exclusion
            ("c", minutes(3), "B"),
        ]
    )
    result = run(log, ["A", "B"], exclude=["X"])
    assert counts(result) == [3, 2]
    assert frame_column(result, 2) == ["a"]
    # b took 120 s, c 60 s from its second A: median 90, p90 60 + 0.9 * 60
    assert result.steps[1].median_seconds_from_previous == 90.0
    assert result.steps[1].p90_seconds_from_previous == pytest.approx(114.0)
    assert counts(run(log, ["A", "B"])) == [3, 3]
    assert counts(run(log, ["A", "B"], exclude=["X"], mode="unordered")) == [3, 2]
    assert result.exclude == ("X",)


def test_strict_needs_the_very_next_event(make_log: MakeLog) -> None:
    log = make_log(
        [
            ("a", minutes(0), "A"),
            ("a", minutes(1), "C"),  # no step: still breaks a strict funnel
            ("a", minutes(2), "B"),
            ("b", minutes(0), "A"),
            ("b", minutes(1), "B"),
        ]
    )
    assert counts(run(log, ["A", "B"])) == [2, 2]
    strict = run(log, ["A", "B"], mode="strict")
    assert counts(strict) == [2, 1]
    assert frame_column(strict, 2) == ["a"]


def test_unordered_any_order_one_event_per_step(make_log: MakeLog) -> None:
    log = make_log(
        [
            ("a", minutes(0), "B"),
            ("a", minutes(1), "A"),
            ("b", minutes(0), "A"),
            ("c", minutes(0), "A"),
            ("c", minutes(5), "A"),
        ]
    )
    assert counts(run(log, ["A", "B"])) == [3, 0]
    unordered = run(log, ["A", "B"], mode="unordered")
    assert counts(unordered) == [3, 1]
    # a: step 1 (A) completes at minute 1, and steps 1-2 complete then too.
    assert unordered.steps[1].median_seconds_from_previous == 0.0
    # An event matching two steps serves one of them only.
    either = run(log, ["A", "event in ('A', 'B')"], mode="unordered")
    assert counts(either) == [3, 2]  # a: A and B; c: two As; b: one A only
    assert frame_column(either, 2) == ["b"]


def test_repeated_step(make_log: MakeLog) -> None:
    log = make_log(
        [
            ("a", minutes(0), "A"),
            ("a", minutes(1), "B"),
            ("b", minutes(0), "A"),
            ("b", minutes(1), "B"),
            ("b", minutes(2), "A"),
            ("c", minutes(0), "A"),
            ("c", minutes(1), "A"),
            ("c", minutes(2), "B"),
            ("d", minutes(0), "B"),
            ("d", minutes(1), "A"),
        ]
    )
    assert counts(run(log, ["A", "B", "A"])) == [4, 3, 1]
    assert counts(run(log, ["A", "B", "A"], mode="unordered")) == [4, 4, 2]
    assert counts(run(log, ["A", "B", "A"], mode="strict")) == [4, 3, 1]


def test_touchpoints_stages_and_rules_as_steps(make_log: MakeLog) -> None:
    journey = Journey(
        id="shop",
        title="Shop",
        stages=[
            Stage(
                id="discover",
                name="Discover",
                touchpoints=[
                    Touchpoint(
                        id="blog",
                        name="Blog",
                        events=EventBinding(
                            names=["page_view"], where="properties.page starts with '/blog'"
                        ),
                    )
                ],
            ),
            Stage(
                id="buy",
                name="Buy",
                touchpoints=[
                    Touchpoint(id="cart", name="Cart", events=EventBinding(names=["add_to_cart"])),
                    Touchpoint(
                        id="web_purchase",
                        name="Purchase online",
                        events=EventBinding(names=["purchase"], channels=["web"]),
                    ),
                ],
            ),
        ],
    )
    log = make_log(
        [
            ("a", minutes(0), "page_view", {"page": "/blog/shoes", "channel": "web"}),
            ("a", minutes(1), "add_to_cart", {"page": "/cart", "channel": "web"}),
            ("a", minutes(2), "purchase", {"page": "/done", "channel": "web"}),
            ("b", minutes(0), "page_view", {"page": "/", "channel": "web"}),
            ("b", minutes(1), "add_to_cart", {"page": "/cart", "channel": "web"}),
            ("c", minutes(0), "page_view", {"page": "/blog/fit", "channel": "web"}),
            ("c", minutes(1), "purchase", {"page": "", "channel": "store"}),
        ]
    )
    steps = ["discover", "cart", "web_purchase"]
    result = funnel(log.table, steps, journey=journey, engine=log.engine)
    assert [s.step for s in result.steps] == ["Discover", "Cart", "Purchase online"]
    assert counts(result) == [2, 1, 1]
    unordered = funnel(log.table, ["buy", "discover"], journey=journey, mode="unordered")
    assert counts(unordered) == [2, 1]  # c bought in store: not online
    rule = run(log, ["properties.page starts with '/blog'", "channel = 'store'"])
    assert counts(rule) == [2, 1]
    assert rule.steps[1].step == "channel = 'store'"


def test_sessions_are_paths(make_log: MakeLog) -> None:
    log = make_log(
        [("a", minutes(0), "A"), ("a", minutes(120), "B"), ("b", minutes(0), "A")],
        session_gap_seconds=1800,
    )
    assert counts(run(log, ["A", "B"])) == [2, 1]
    by_session = run(log, ["A", "B"], by="session")
    assert counts(by_session) == [2, 0]
    assert by_session.by == "session"
    lost = by_session.dropped_at(2)
    assert list(lost.columns) == ["customer_id", "session_id"]
    first_sessions = {r["session_id"] for r in log.rows() if r["event"] == "A"}
    assert set(lost.session_id) == first_sessions


def test_breakdown_by_property_with_chi_square(make_log: MakeLog) -> None:
    from scipy.stats import chi2_contingency

    rows: list[LogRow] = []
    for customer, plan, events in [
        ("a", "free", "AB"),
        ("b", "free", "A"),
        ("c", "free", "A"),
        ("d", "pro", "AB"),
        ("e", "pro", "AB"),
        ("f", "", "A"),  # no plan: its own group, None
    ]:
        rows += [(customer, minutes(i), e, {"plan": plan}) for i, e in enumerate(events)]
    log = make_log(rows)
    for column in ("plan", "properties.plan"):
        result = run(log, ["A", "B"], breakdown=column)
        assert result.breakdown is not None
        assert result.breakdown.groups == ("free", "pro", None)
        assert result.breakdown.paths == ((3, 1), (2, 2), (1, 0))
        expected = chi2_contingency([[1, 2], [2, 0], [0, 1]])
        assert result.breakdown.chi2 == pytest.approx(expected.statistic)
        assert result.breakdown.p_value == pytest.approx(expected.pvalue)
        assert result.breakdown.dof == 2
    data = run(log, ["A", "B"], breakdown="plan").to_dict()
    assert data["breakdown"]["groups"][0] == {"value": "free", "paths": [3, 1]}
    frame = result.breakdown.to_frame(["A", "B"])
    assert list(frame.columns) == ["properties.plan", "step", "paths", "conversion_from_start"]
    # one group: no test
    single = run(log, ["A", "B"], breakdown="event")
    assert single.breakdown is not None
    assert math.isnan(single.breakdown.chi2)


def test_result_table_json_and_chart(make_log: MakeLog, tmp_path: Path) -> None:
    log = make_log([("a", minutes(0), "A"), ("a", minutes(10), "B"), ("b", minutes(0), "A")])
    result = run(log, ["A", "B"], window="1h")
    data = result.to_dict()
    assert data["mode"] == "ordered"
    assert data["by"] == "customer"
    assert data["window_seconds"] == 3600.0
    first, second = data["steps"]
    assert first == {
        "step": "A",
        "paths": 2,
        "conversion_from_start": 1.0,
        "conversion_from_previous": 1.0,
        "ci_from_start": pytest.approx(list(wilson(2, 2))),
        "ci_from_previous": pytest.approx(list(wilson(2, 2))),
        "median_seconds_from_previous": None,
        "p90_seconds_from_previous": None,
        "dropped": 0,
    }
    assert second["paths"] == 1
    assert second["dropped"] == 1
    assert second["conversion_from_previous"] == 0.5
    assert second["median_seconds_from_previous"] == 600.0
    frame = result.to_frame()
    assert frame["paths"].tolist() == [2, 1]
    assert "ci_from_start_low" in frame.columns
    figure = result.chart()
    assert figure.data[0].type == "funnel"
    assert list(figure.data[0].x) == [2, 1]
    result.write_chart(tmp_path / "funnel.html")
    assert "plotly" in (tmp_path / "funnel.html").read_text(encoding="utf-8")


def wilson(successes: int, trials: int) -> tuple[float, float]:
    from jornada.analytics.results import wilson_interval

    return wilson_interval(successes, trials)


def test_mistakes_are_clear_errors(make_log: MakeLog) -> None:
    log = make_log([("a", minutes(0), "A")])
    with pytest.raises(FunnelError, match="window"):
        run(log, ["A", "B"], window="soon")
    with pytest.raises(FunnelError, match="mode"):
        run(log, ["A", "B"], mode="sideways")  # type: ignore[arg-type]
    with pytest.raises(FunnelError, match="at least one step"):
        run(log, [])
    with pytest.raises(FunnelError, match="from 2 to 2"):
        run(log, ["A", "B"]).dropped_at(1)


def test_split_steps_keeps_rules_whole() -> None:
    assert split_steps(["a,b", "c"]) == ["a", "b", "c"]
    assert split_steps(["channel in ('web', 'app'), properties[\"x,y\"] = '1'"]) == [
        "channel in ('web', 'app')",
        "properties[\"x,y\"] = '1'",
    ]


# --- engine against the oracle on random logs ------------------------------------------

_RULE = "event in ('A', 'B')"
_PREDICATES: dict[str, oracle.Predicate] = {
    "A": lambda e: e["event"] == "A",
    "B": lambda e: e["event"] == "B",
    "C": lambda e: e["event"] == "C",
    "X": lambda e: e["event"] == "X",
    _RULE: lambda e: e["event"] in ("A", "B"),
}


@st.composite
def logs(draw: st.DrawFn, *, source_sessions: bool = False) -> list[LogRow]:
    """``source_sessions``: the events carry a few session ids (or none: cut by the
    gaps), which come back in a path, interleave and are shared by customers."""
    rows: list[LogRow] = []
    # many customers per log: each is an independent path, and loading a log is slow
    for customer in range(draw(st.integers(0, 12))):
        for _ in range(draw(st.integers(0, 8))):
            # few distinct times, so ties in timestamp are common
            moment = draw(st.sampled_from([0, 0, 1, 2, 3, 5, 8, 13]))
            event = draw(st.sampled_from(["A", "A", "B", "B", "C", "X"]))
            row: LogRow = (f"c{customer}", minutes(moment), event)
            if source_sessions:
                session = draw(st.sampled_from(["s1", "s2", ""]))
                row = (f"c{customer}", minutes(moment), event, {"session": session})
            rows.append(row)
    return rows


def compare(log: EventLog, steps: list[str], **options: Any) -> None:
    result = run(log, steps, breakdown="event", **options)
    expected = oracle.funnel(
        log.rows(),
        [_PREDICATES[s] for s in steps],
        mode=options.get("mode", "ordered"),
        window_seconds=parse_window(options.get("window")),
        exclude=[_PREDICATES[s] for s in options.get("exclude", ())],
        by=options.get("by", "customer"),
    )
    for k, step in enumerate(result.steps, start=1):
        assert step.paths == expected.reached(k), (k, counts(result))
        if k > 1:
            for got, q in (
                (step.median_seconds_from_previous, 0.5),
                (step.p90_seconds_from_previous, 0.9),
            ):
                want = expected.quantile(k, q)
                assert (got is None) == (want is None)
                assert got is None or want is None or math.isclose(got, want, abs_tol=1e-9)
            if k in (2, len(steps)):  # each list is one more query: two will do
                lost = result.dropped_at(k)
                keys = lost.customer_id
                if options.get("by") == "session":  # the oracle's keys (tests/oracles)
                    keys = keys + "\x1f" + lost.session_id
                assert keys.tolist() == expected.dropped_at(k)
    # the breakdown by the start event's name checks which attempt is the best one
    assert result.breakdown is not None
    got_groups = dict(zip(result.breakdown.groups, result.breakdown.paths, strict=True))
    want_groups: dict[str, list[int]] = {}
    for path in expected.per_path.values():
        assert path.anchor is not None
        row = want_groups.setdefault(path.anchor["event"], [0] * len(steps))
        for k in range(path.depth):
            row[k] += 1
    assert {g: list(c) for g, c in got_groups.items()} == want_groups


@settings(max_examples=45, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.one_of(logs(), logs(source_sessions=True)),
    steps=st.lists(st.sampled_from(["A", "B", "C", _RULE]), min_size=1, max_size=4),
    mode=st.sampled_from(["ordered", "strict", "unordered"]),
    window=st.sampled_from([None, "0s", "1m", "2m", "5m"]),
    exclude=st.lists(st.sampled_from(["X", "C"]), max_size=2, unique=True),
    by=st.sampled_from(["customer", "session"]),
)
def test_engine_agrees_with_oracle(
    make_log: MakeLog,
    rows: list[LogRow],
    steps: list[str],
    mode: str,
    window: str | None,
    exclude: list[str],
    by: str,
) -> None:
    """A 3-minute session gap splits the random logs into several sessions; half the logs
    carry the source's session ids, which may come back later in a customer's path: a
    session is then the customer's events sharing one id, wherever they fall (decision
    0006), and positions are counted within it (before store version 4 they restarted at
    each stretch of an id that comes back)."""
    log = make_log(rows, session_gap_seconds=180)
    compare(log, steps, mode=mode, window=window, exclude=exclude, by=by)


# --- the command line ---------------------------------------------------------------------


def test_cli_on_an_event_file(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text(
        "user,when,name,plan\n"
        "u1,2026-01-01T10:00:00Z,view,free\n"
        "u1,2026-01-01T10:05:00Z,cart,free\n"
        "u1,2026-01-01T10:09:00Z,buy,free\n"
        "u2,2026-01-01T11:00:00Z,view,pro\n"
        "u2,2026-01-01T11:30:00Z,cart,pro\n"
        "u3,2026-01-02T11:00:00Z,view,pro\n",
        encoding="utf-8",
    )
    app = typer.Typer()
    register(app)

    @app.callback()
    def root() -> None:
        """A second command would make typer keep `funnel` as a subcommand."""

    columns = ["--customer", "user", "--time", "when", "--event", "name"]
    lost = tmp_path / "lost.csv"
    result = CliRunner().invoke(
        app,
        [
            "funnel",
            str(events),
            *columns,
            "--steps",
            "view,cart,buy",
            "--window",
            "1h",
            "--breakdown",
            "plan",
            "--dropped-at",
            "2",
            "--out",
            str(lost),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [s["paths"] for s in data["steps"]] == [3, 2, 1]
    assert data["window_seconds"] == 3600.0
    assert data["steps"][1]["median_seconds_from_previous"] == 1050.0  # 300 s and 1800 s
    assert data["breakdown"]["groups"] == [
        {"value": "free", "paths": [1, 1, 1]},
        {"value": "pro", "paths": [2, 1, 0]},
    ]
    header, *ids = lost.read_text(encoding="utf-8").split()
    assert header == "customer_id"
    assert len(ids) == 1  # u3, under its resolved customer id

    table = CliRunner().invoke(
        app, ["funnel", str(events), *columns, "--steps", "view", "--steps", "buy"]
    )
    assert table.exit_code == 0, table.output
    assert "33.3%" in table.stdout  # buy, from the start
    assert "9m" in table.stdout  # view to buy, median

    alone = CliRunner().invoke(
        app, ["funnel", str(events), *columns, "--steps", "view,buy", "--dropped-at", "2"]
    )
    assert alone.exit_code != 0


# --- the store's customer numbers ---------------------------------------------------------


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=logs(),
    steps=st.lists(st.sampled_from(["A", "B", "C", _RULE]), min_size=2, max_size=4),
    mode=st.sampled_from(["ordered", "strict", "unordered"]),
    window=st.sampled_from([None, "1m", "5m"]),
    exclude=st.lists(st.sampled_from(["X", "C"]), max_size=1),
    by=st.sampled_from(["customer", "session"]),
)
def test_customer_numbers_give_the_funnel_of_customer_ids(
    make_log: MakeLog,
    rows: list[LogRow],
    steps: list[str],
    mode: str,
    window: str | None,
    exclude: list[str],
    by: str,
) -> None:
    """Paths keyed by ``customer_no`` (the store's) or by ``customer_id`` (a table
    without the numbers) give the same funnel, drop-off lists included; numbers in the
    reverse order of the ids show the lists are sorted by id."""
    log = make_log(rows, session_gap_seconds=180)
    table = log.table
    tables = {
        "numbers": table,
        "reversed numbers": table.mutate(customer_no=1_000 - table.customer_no),
        "ids": table.drop("customer_no"),
    }
    options: dict[str, Any] = {"mode": mode, "window": window, "exclude": exclude, "by": by}
    results = {
        name: funnel(events, steps, breakdown="event", engine=log.engine, **options)
        for name, events in tables.items()
    }
    want = results["ids"]
    for name, result in results.items():
        assert result.to_dict() == want.to_dict(), name
        for k in range(2, len(steps) + 1):
            got = result.dropped_at(k)
            assert got.to_dict("list") == want.dropped_at(k).to_dict("list"), (name, k)
            assert list(got.columns) == (
                ["customer_id"] if by == "customer" else ["customer_id", "session_id"]
            )
