"""Paths: transitions, step matrix, Sankey, variants and path patterns, checked by hand,
against the brute-force oracle on random logs, against pm4py's DFG, and through the CLI."""

from __future__ import annotations

import doctest
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tests.oracles.paths as oracle
from jornada.analytics import paths as module
from jornada.analytics.paths import (
    END,
    SESSION_PATH_SEPARATOR,
    START,
    PathBy,
    contains_sequence,
    excludes,
    matching_paths,
    path_events,
    sankey,
    step_matrix,
    transitions,
    variants,
)
from jornada.cli.paths import register
from tests.analytics.conftest import EventLog, minutes

MakeLog = Callable[..., EventLog]


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def edges(result: Any) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e.source, e.target): vars(e) for e in result.edges}


# --- by hand ---------------------------------------------------------------------------


def test_empty_log(make_log: MakeLog) -> None:
    log = make_log([])
    for with_start_end in (False, True):
        result = transitions(log.table, with_start_end=with_start_end)
        assert result.edges == ()
        assert result.to_dict()["edges"] == []
        assert list(result.to_frame().columns)[:3] == ["source", "target", "count"]
        result.chart()
    matrix = step_matrix(log.table, steps=3)
    assert (matrix.paths, matrix.cells) == (0, ())
    assert matrix.to_frame().shape == (0, 4)
    matrix.chart()
    flows = sankey(log.table, steps=3, after="x")
    assert flows.links == flows.nodes == ()
    flows.chart()
    top = variants(log.table)
    assert (top.paths, top.distinct, top.variants) == (0, 0, ())
    top.chart()
    assert matching_paths(log.table, excludes("x")).count().execute() == 0


def test_one_event(make_log: MakeLog) -> None:
    log = make_log([("a", minutes(0), "view")])
    assert transitions(log.table).edges == ()
    found = edges(transitions(log.table, with_start_end=True))
    assert set(found) == {(START, "view"), ("view", END)}
    assert found[(START, "view")]["count"] == found[("view", END)]["paths"] == 1
    assert found[("view", END)]["median_seconds"] is None
    matrix = step_matrix(log.table, steps=3)
    assert [(c.step, c.event, c.share) for c in matrix.cells] == [
        (1, "view", 1.0),
        (2, END, 1.0),
        (3, END, 1.0),
    ]
    assert matrix.to_frame().to_dict("records") == [
        {"event": "view", "1": 1.0, "2": 0.0, "3": 0.0},
        {"event": END, "1": 0.0, "2": 1.0, "3": 1.0},
    ]
    assert [(c.step, c.event) for c in step_matrix(log.table, steps=1, before="view").cells] == [
        (-1, START)
    ]
    assert [(v.events, v.paths, v.share) for v in variants(log.table).variants] == [
        (("view",), 1, 1.0)
    ]


def test_ties_keep_input_order_and_take_zero_seconds(make_log: MakeLog) -> None:
    log = make_log(
        [
            ("a", minutes(5), "z"),
            ("a", minutes(5), "y"),
            ("a", minutes(5), "x"),
            ("b", minutes(5), "z"),
            ("b", minutes(5), "y"),
        ]
    )
    found = edges(transitions(log.table))
    assert set(found) == {("z", "y"), ("y", "x")}
    assert found[("z", "y")]["count"] == found[("z", "y")]["paths"] == 2
    assert found[("z", "y")]["median_seconds"] == found[("z", "y")]["p95_seconds"] == 0.0
    assert found[("z", "y")]["share_in"] == found[("y", "x")]["share_out"] == 1.0
    assert [v.events for v in variants(log.table).variants] == [("z", "y"), ("z", "y", "x")]


def test_self_loops_and_collapsed_repeats(make_log: MakeLog) -> None:
    log = make_log(
        [
            ("a", minutes(0), "x"),
            ("a", minutes(1), "x"),
            ("a", minutes(3), "x"),
            ("a", minutes(4), "y"),
            ("b", minutes(0), "x"),
            ("b", minutes(2), "y"),
        ]
    )
    found = edges(transitions(log.table))
    assert found[("x", "x")]["count"] == 2
    assert found[("x", "x")]["paths"] == 1
    assert found[("x", "x")]["median_seconds"] == 90.0
    assert close(found[("x", "x")]["p95_seconds"], 60 + 0.95 * 60)
    assert found[("x", "y")]["share_in"] == 1.0
    assert found[("x", "x")]["share_out"] == 0.5
    collapsed = variants(log.table, collapse_repeats=True)
    assert [(v.events, v.paths) for v in collapsed.variants] == [(("x", "y"), 2)]
    assert collapsed.distinct == 1
    plain = variants(log.table, top=1)
    assert (plain.distinct, len(plain.variants), plain.paths) == (2, 1, 2)


def test_sessions_split_paths(make_log: MakeLog) -> None:
    log = make_log(
        [
            ("a", minutes(0), "x"),
            ("a", minutes(5), "y"),
            ("a", minutes(120), "z"),
            ("a", minutes(121), "x"),
            ("b", minutes(0), "y"),
        ]
    )
    by_customer = edges(transitions(log.table))
    by_session = edges(transitions(log.table, by="session", with_start_end=True))
    assert ("y", "z") in by_customer
    assert ("y", "z") not in by_session
    assert by_session[(START, "x")]["count"] == 1
    assert by_session[(START, "z")]["count"] == 1
    assert by_session[("y", END)]["count"] == 2
    assert step_matrix(log.table, by="session", steps=1).paths == 3
    assert variants(log.table, by=PathBy.session).paths == 3


def test_source_sessions_reused_are_ordered_by_their_own_events(make_log: MakeLog) -> None:
    # a's s1 is interrupted by s2 (scattered: the slow path); b's s1 is b's own session
    # (decision 0006: a session is a customer's events sharing one id)
    log = make_log(
        [
            ("a", minutes(0), "x", {"session": "s1"}),
            ("a", minutes(1), "y", {"session": "s2"}),
            ("a", minutes(2), "z", {"session": "s1"}),
            ("b", minutes(1.5), "w", {"session": "s1"}),
            ("c", minutes(0), "x", {"session": "s3"}),
            ("c", minutes(1), "y", {"session": "s3"}),
        ]
    )
    for table in (log.table, log.table.drop("session_start")):  # the facts, the windows
        found = path_events(table, "session").order_by(["path_id", "pos"]).execute()
        assert found.groupby("path_id")["event"].apply(list).to_dict() == {
            f"a{SESSION_PATH_SEPARATOR}s1": ["x", "z"],
            f"a{SESSION_PATH_SEPARATOR}s2": ["y"],
            f"b{SESSION_PATH_SEPARATOR}s1": ["w"],
            f"c{SESSION_PATH_SEPARATOR}s3": ["x", "y"],
        }
        assert found.groupby("path_id")["pos"].apply(list).to_dict()["a\x1fs1"] == [0, 1]
        edges_found = edges(transitions(table, by="session"))
        assert set(edges_found) == {("x", "z"), ("x", "y")}
        assert edges_found[("x", "z")]["median_seconds"] == 120.0


def test_step_matrix_around_an_anchor(make_log: MakeLog) -> None:
    log = make_log(
        [("a", minutes(i), e) for i, e in enumerate(["v", "cart", "v", "cart", "buy"])]
        + [("b", minutes(i), e) for i, e in enumerate(["cart"])]
        + [("c", minutes(i), e) for i, e in enumerate(["v", "v"])]
    )
    after = step_matrix(log.table, steps=2, after="cart")
    assert after.paths == 2
    assert {(c.step, c.event): c.paths for c in after.cells} == {
        (1, "v"): 1,
        (1, END): 1,
        (2, "cart"): 1,
        (2, END): 1,
    }
    before = step_matrix(log.table, steps=2, before="cart")
    assert {(c.step, c.event): c.paths for c in before.cells} == {
        (-1, "v"): 1,
        (-1, START): 1,
        (-2, START): 2,
    }
    assert list(before.to_frame().columns) == ["event", "-2", "-1"]
    assert before.to_dict()["boundary"] == START


def test_sankey_nodes_and_links(make_log: MakeLog) -> None:
    log = make_log(
        [("a", minutes(i), e) for i, e in enumerate(["v", "cart", "v", "buy"])]
        + [("b", minutes(i), e) for i, e in enumerate(["v", "cart"])]
    )
    flows = sankey(log.table, steps=2, after="cart")
    assert {
        (link.source_step, link.source, link.target_step, link.target): link.paths
        for link in flows.links
    } == {
        (0, "cart", 1, "v"): 1,
        (0, "cart", 1, END): 1,
        (1, "v", 2, "buy"): 1,
    }
    assert {(n.step, n.event): n.paths for n in flows.nodes} == {
        (0, "cart"): 2,
        (1, "v"): 1,
        (1, END): 1,
        (2, "buy"): 1,
    }
    figure = flows.chart()
    assert figure.data[0].type == "sankey"
    back = sankey(log.table, steps=3, before="buy")
    assert {(link.source_step, link.source, link.target) for link in back.links} == {
        (-4, START, "v"),
        (-3, "v", "cart"),
        (-2, "cart", "v"),
        (-1, "v", "buy"),
    } - {(-4, START, "v")}  # a starts 3 steps back: its START sits outside the window


def test_pattern_cart_then_ticket_without_purchase(make_log: MakeLog) -> None:
    log = make_log(
        [("a", minutes(i), e) for i, e in enumerate(["cart", "v", "support_ticket"])]
        + [("b", minutes(i), e) for i, e in enumerate(["support_ticket", "cart"])]
        + [("c", minutes(i), e) for i, e in enumerate(["cart", "support_ticket", "purchase"])]
        + [("d", minutes(i), e) for i, e in enumerate(["cart", "cart", "support_ticket"])]
    )
    pattern = contains_sequence(["cart", "support_ticket"]) & excludes("purchase")
    ids = matching_paths(log.table, pattern).execute()
    assert list(ids.columns) == ["path_id"]
    assert sorted(ids.path_id) == ["a", "d"]
    found = variants(log.table, pattern=pattern, collapse_repeats=True)
    assert found.paths == 2
    assert {v.events: v.paths for v in found.variants} == {
        ("cart", "v", "support_ticket"): 1,
        ("cart", "support_ticket"): 1,
    }
    assert "without purchase" in found.chart().layout.title.text
    same_step = matching_paths(log.table, contains_sequence(["cart", "cart"]))
    assert same_step.execute().path_id.tolist() == ["d"]
    rule = matching_paths(log.table, contains_sequence(["event = 'purchase'"]))
    assert rule.execute().path_id.tolist() == ["c"]


def test_arguments_are_checked(make_log: MakeLog) -> None:
    log = make_log([("a", minutes(0), "x")])
    with pytest.raises(ValueError, match="steps"):
        step_matrix(log.table, steps=0)
    with pytest.raises(ValueError, match="not both"):
        sankey(log.table, after="x", before="x")
    with pytest.raises(ValueError, match="top"):
        variants(log.table, top=0)
    with pytest.raises(ValueError, match="at least one"):
        contains_sequence([" "])


def test_docstring_examples() -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


# --- random logs against the oracle ----------------------------------------------------------

NAMES = ("x", "y", "z")


@st.composite
def logs(draw: st.DrawFn, *, source_sessions: bool = False, min_customers: int = 0) -> list[Any]:
    rows: list[Any] = []
    for customer in draw(
        st.lists(st.sampled_from("abcd"), min_size=min_customers, max_size=4, unique=True)
    ):
        for _ in range(draw(st.integers(1, 7))):
            # a few whole minutes (ties) and odd microseconds; gaps over 30 min split sessions
            moment = draw(st.sampled_from([0, 0, 1, 2.5, 40, 41, 100])) + draw(
                st.sampled_from([0, 0, 1.23456e-4])
            )
            row: tuple[Any, ...] = (customer, minutes(moment), draw(st.sampled_from(NAMES)))
            if source_sessions:
                row = (*row, {"session": draw(st.sampled_from(["s1", "s2", "s3"]))})
            rows.append(row)
    return rows


def check_against_oracle(log: EventLog, by: str, data: st.DataObject, table: Any = None) -> None:
    """``table``: the log's events as analysed (by default the store's, facts included)."""
    rows = log.rows()
    table = log.table if table is None else table
    for with_start_end in (False, True):
        got = edges(transitions(table, by=by, with_start_end=with_start_end))
        want = oracle.transitions(rows, by, with_start_end=with_start_end)
        assert set(got) == set(want)
        for edge, expected in want.items():
            for name, value in expected.items():
                assert close(got[edge][name], value), (edge, name, got[edge][name], value)

    steps = data.draw(st.integers(1, 4), label="steps")
    anchor = data.draw(st.sampled_from([None, *NAMES]), label="anchor")
    backwards = anchor is not None and data.draw(st.booleans(), label="backwards")
    where = {"before": anchor} if backwards else {"after": anchor}
    matrix = step_matrix(table, steps=steps, by=by, **where)
    counted, cells = oracle.step_matrix(rows, steps, by=by, **where)
    assert matrix.paths == counted
    assert {(c.step, c.event): c.paths for c in matrix.cells} == cells
    assert all(close(c.share, c.paths / counted) for c in matrix.cells)
    for step in matrix.step_numbers:  # every step's column sums to one
        assert not cells or close(sum(c.share for c in matrix.cells if c.step == step), 1.0)

    flows = sankey(table, steps=steps, by=by, **where)
    assert {
        (link.source_step, link.source, link.target_step, link.target): link.paths
        for link in flows.links
    } == oracle.sankey(rows, steps, by=by, **where)

    having = data.draw(st.lists(st.lists(st.sampled_from(NAMES), max_size=3), max_size=2))
    having = [sequence for sequence in having if sequence]
    without = data.draw(st.lists(st.sampled_from(NAMES), max_size=1))
    collapse = data.draw(st.booleans(), label="collapse")
    pattern = module.PathPattern()
    for sequence in having:
        pattern &= contains_sequence(sequence)
    pattern &= excludes(*without)
    ids = matching_paths(table, pattern, by=by).execute().path_id
    assert sorted(ids) == sorted(oracle.matching(rows, having, without, by))
    top = data.draw(st.integers(1, 3), label="top")
    found = variants(table, top=top, collapse_repeats=collapse, pattern=pattern, by=by)
    want_variants = oracle.variants(
        rows, collapse_repeats=collapse, having=having, without=without, by=by
    )
    total = sum(want_variants.values())
    ranked = sorted(want_variants.items(), key=lambda item: (-item[1], "\x1f".join(item[0])))
    assert (found.paths, found.distinct) == (total, len(want_variants))
    assert [(v.events, v.paths) for v in found.variants] == ranked[:top]
    assert all(close(v.share, v.paths / total) for v in found.variants)


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=logs(), by=st.sampled_from(["customer", "session"]), data=st.data())
def test_random_logs_match_the_oracle(
    make_log: MakeLog, rows: list[Any], by: str, data: st.DataObject
) -> None:
    check_against_oracle(make_log(rows, session_gap_seconds=1800), by, data)


@settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=logs(source_sessions=True), data=st.data())
def test_random_source_sessions_match_the_oracle(
    make_log: MakeLog, rows: list[Any], data: st.DataObject
) -> None:
    log = make_log(rows)
    check_against_oracle(log, "session", data)
    # without the store's session facts: windows over each customer's session ids
    check_against_oracle(log, "session", data, log.table.drop("session_start"))


# --- a process-mining DFG ----------------------------------------------------------------------


@settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=logs(min_customers=1))
def test_counts_equal_pm4py_directly_follows_graph(make_log: MakeLog, rows: list[Any]) -> None:
    pm4py = pytest.importorskip("pm4py")
    log = make_log(rows)
    frame = pd.DataFrame(log.rows(), columns=["customer_id", "event", "ts", "seq"])
    frame = frame.sort_values(["customer_id", "ts", "seq"], kind="stable")
    dfg, starts, ends = pm4py.discover_dfg(
        frame, activity_key="event", timestamp_key="ts", case_id_key="customer_id"
    )
    found = edges(transitions(log.table, with_start_end=True))
    assert {k: v["count"] for k, v in found.items() if START not in k and END not in k} == dfg
    assert {t: v["count"] for (s, t), v in found.items() if s == START} == starts
    assert {s: v["count"] for (s, t), v in found.items() if t == END} == ends


# --- the command line ---------------------------------------------------------------------------


@pytest.fixture
def cli_app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture
def events_csv(tmp_path: Path) -> Path:
    path = tmp_path / "events.csv"
    lines = ["who,when,what"]
    for who, journey in {"a": "cart v support_ticket", "b": "cart purchase", "c": "v"}.items():
        for minute, what in enumerate(journey.split()):
            lines.append(f"{who},2026-01-01T00:{minute:02d}:00Z,{what}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def invoke(app: typer.Typer, args: list[str], capsys: pytest.CaptureFixture[str]) -> Any:
    columns = ["--customer", "who", "--time", "when", "--event", "what"]
    capsys.readouterr()
    app(args=[*args, *columns, "--json"], standalone_mode=False)
    return json.loads(capsys.readouterr().out)


def test_cli_end_to_end(
    cli_app: typer.Typer,
    events_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = invoke(cli_app, ["transitions", str(events_csv), "--with-start-end"], capsys)
    pairs = {(e["source"], e["target"]): e for e in data["edges"]}
    assert pairs[("START", "cart")]["count"] == 2
    assert pairs[("cart", "v")]["median_seconds"] == 60.0
    assert set(data["edges"][0]) == {
        "source",
        "target",
        "count",
        "paths",
        "share_out",
        "share_in",
        "median_seconds",
        "p95_seconds",
    }
    data = invoke(cli_app, ["step-matrix", str(events_csv), "--after", "cart", "-n", "2"], capsys)
    assert data["paths"] == 2
    assert {"step": 1, "event": "v", "paths": 1, "share": 0.5} in data["cells"]
    data = invoke(cli_app, ["sankey", str(events_csv), "--before", "purchase"], capsys)
    assert data["links"] == [
        {"source_step": -2, "source": "START", "target_step": -1, "target": "cart", "paths": 1},
        {"source_step": -1, "source": "cart", "target_step": 0, "target": "purchase", "paths": 1},
    ]
    args = ["variants", str(events_csv), "--having", "cart,support_ticket"]
    data = invoke(cli_app, [*args, "--without", "purchase"], capsys)
    assert data["variants"] == [
        {"events": ["cart", "v", "support_ticket"], "paths": 1, "share": 1.0}
    ]
    assert data["pattern"] == {"sequences": [["cart", "support_ticket"]], "excluded": ["purchase"]}
    chart = tmp_path / "chart.html"
    table = tmp_path / "table.csv"
    cli_app(
        args=[
            "step-matrix",
            str(events_csv),
            "--by",
            "session",
            *["--customer", "who", "--time", "when", "--event", "what"],
            *["--chart", str(chart), "--csv", str(table)],
        ],
        standalone_mode=False,
    )
    assert "plotly" in chart.read_text(encoding="utf-8")
    assert pd.read_csv(table).columns.tolist()[:2] == ["event", "1"]


def test_cli_refuses_two_anchors(
    cli_app: typer.Typer, events_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(typer.BadParameter, match="not both"):
        invoke(cli_app, ["sankey", str(events_csv), "--after", "v", "--before", "v"], capsys)
