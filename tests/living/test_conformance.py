"""Designed vs actual: a hand-computed log, random logs and maps against the brute-force
oracle, the demo workspace against the stage analysis, and ``jornada conformance``."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from jornada.analytics.stages import StageTables, analyse_stages
from jornada.cli import app
from jornada.events.filters import EventScope
from jornada.living.conformance import Conformance, ConformanceError, conformance, stage_paths
from jornada.model import EventBinding, Journey, Stage, Touchpoint
from jornada.model.io import dump_journey
from jornada.workspace import Workspace
from tests.analytics.conftest import EventLog, LogRow, minutes
from tests.living.conftest import Row, Store
from tests.oracles import conformance as oracle
from tests.oracles.conformance import PlainMap

MakeLog = Callable[..., EventLog]


def journey_of(plain: PlainMap) -> Journey:
    """A real map for a plain one: one touchpoint per stage binding its names."""
    return Journey(
        id="plain",
        title="Plain",
        stages=[
            Stage(
                id=stage_id,
                name=stage_id.upper(),
                touchpoints=[
                    Touchpoint(
                        id=f"{stage_id}_tp",
                        name=f"{stage_id} touchpoint",
                        events=EventBinding(names=sorted(names)) if names else None,
                    )
                ],
            )
            for stage_id, names in plain
        ],
    )


SHOP: PlainMap = [
    ("browse", frozenset({"view"})),
    ("cart", frozenset({"cart"})),
    ("buy", frozenset({"buy"})),
    ("after", frozenset({"survey"})),
]

HAND: list[LogRow] = [
    # linear: the designed order; a page view (no stage) between browse and cart
    ("linear", minutes(0), "view"),
    ("linear", minutes(5), "page"),
    ("linear", minutes(10), "cart"),
    ("linear", minutes(20), "buy"),
    ("linear", minutes(30), "survey"),
    # skipper: never carts; the survey comes in a later session
    ("skipper", minutes(0), "view"),
    ("skipper", minutes(5), "buy"),
    ("skipper", minutes(100), "survey"),
    # backer: back from cart to browse once, then on: two re-entries
    ("backer", minutes(0), "view"),
    ("backer", minutes(5), "cart"),
    ("backer", minutes(8), "view"),
    ("backer", minutes(9), "cart"),
    ("backer", minutes(12), "buy"),
    # late: starts at cart (browse skipped); repeats collapse
    ("late", minutes(0), "cart"),
    ("late", minutes(1), "cart"),
    ("late", minutes(3), "buy"),
    # wanderer: nothing of the map
    ("wanderer", minutes(0), "page"),
    ("wanderer", minutes(10), "email"),
    # jumper: buys, then browses (backward, but no loop: browse is new to them)
    ("jumper", minutes(0), "buy"),
    ("jumper", minutes(2), "view"),
    ("jumper", minutes(3), "email"),
]


def test_hand_computed_log(make_log: MakeLog) -> None:
    log = make_log(HAND)
    result = conformance(log.table, journey_of(SHOP))
    assert (result.total_customers, result.customers, result.outside_customers) == (6, 5, 1)
    assert (result.conforming, result.in_order) == (1, 3)
    assert result.conforming_share == pytest.approx(1 / 5)
    assert (result.moves, result.backward_moves, result.backward_customers) == (11, 2, 2)
    assert result.backward_share == pytest.approx(2 / 11)
    assert (result.looping_customers, result.reentries) == (1, 2)
    by_stage = {s.stage_id: s for s in result.stages}
    assert [(s.visited, s.beyond, s.skipped) for s in result.stages] == [
        (4, 5, 1),
        (3, 5, 2),
        (5, 2, 0),
        (2, 0, 0),
    ]
    assert by_stage["cart"].skipped_share == pytest.approx(2 / 5)
    assert by_stage["after"].skipped_share is None
    assert [(s.looped, s.reentries) for s in result.stages] == [(1, 1), (1, 1), (0, 0), (0, 0)]
    assert [(s.backward_out, s.backward_in) for s in result.stages] == [
        (0, 2),
        (1, 0),
        (1, 0),
        (0, 0),
    ]
    assert [(b.from_stage, b.to_stage, b.moves, b.customers) for b in result.backward] == [
        ("cart", "browse", 1, 1),
        ("buy", "browse", 1, 1),
    ]
    assert [(p.stages, p.customers) for p in result.paths] == [
        (("browse", "cart", "browse", "cart", "buy"), 1),
        (("browse", "buy", "after"), 1),
        (("cart", "buy"), 1),
        (("buy", "browse"), 1),
    ]
    assert (result.deviating, result.distinct_deviating) == (4, 4)
    assert (result.events, result.unmapped_events) == (21, 4)
    # gaps within a session (30 min): linear 5+5+10+10 min, skipper 5 (then a new
    # session), backer 5+3+1+3, late 1+2, wanderer 10, jumper 2+1; unmapped: linear's
    # page (5 min) and wanderer's page (10 min)
    assert (result.seconds, result.unmapped_seconds) == (3780, 900)
    assert result.unmapped_time_share == pytest.approx(900 / 3780)
    assert result.unmapped == (("email", 2), ("page", 2))
    assert result == _from_oracle_check(log, SHOP)


def _from_oracle_check(log: EventLog, plain: PlainMap, top: int = 10) -> Conformance:
    """The engine's result, after checking every figure against the oracle."""
    result = conformance(log.table, journey_of(plain), top=top)
    expected = oracle.analyse(log.rows(), plain, top=top)
    data = result.to_dict()
    for key in (
        "total_customers",
        "customers",
        "conforming",
        "in_order",
        "moves",
        "backward_moves",
        "backward_customers",
        "looping_customers",
        "reentries",
        "deviating",
        "distinct_deviating",
    ):
        assert data[key] == expected[key], key
    for key in ("events", "unmapped_events", "seconds", "unmapped_seconds", "outside_customers"):
        assert data["outside"][key] == expected[key], key
    assert [(u["event"], u["events"]) for u in data["outside"]["unmapped"]] == [
        tuple(pair) for pair in expected["unmapped"]
    ]
    for mine, theirs in zip(data["stages"], expected["stages"], strict=True):
        assert {k: mine[k] for k in theirs} == theirs
    assert data["backward"] == expected["backward"]
    assert [{"stages": p["stages"], "customers": p["customers"]} for p in data["paths"]] == (
        expected["paths"]
    )
    for path in data["paths"]:
        assert path["share"] == pytest.approx(path["customers"] / data["customers"])
    # The stage tables' labelled events give the same result as labelling again.
    with StageTables(log.table, journey_of(plain)) as tables:
        assert conformance(log.table, journey_of(plain), top=top, stage_tables=tables) == result
    return result


def test_the_stage_tables_labels_give_the_same_result(make_log: MakeLog) -> None:
    log, shop = make_log(HAND), journey_of(SHOP)
    alone = conformance(log.table, shop, top=3)
    with StageTables(log.table, shop) as tables:
        shared = conformance(log.table, shop, top=3, stage_tables=tables)
        # every event is in the shared table, of a stage or not, with its session
        assert {"event", "session_id", "stage_index"} <= set(tables.labelled.columns)
        assert tables.labelled.count().execute() == 21
        # the tables stay usable for the stage analysis afterwards
        assert tables.analysis().customers == alone.customers == 5
    assert shared == alone
    assert (shared.seconds, shared.unmapped_seconds) == (3780, 900)
    assert shared.unmapped == (("email", 2), ("page", 2))
    # an empty log too
    empty = make_log([])
    with StageTables(empty.table, shop) as tables:
        assert conformance(empty.table, shop, stage_tables=tables) == conformance(empty.table, shop)


def test_stage_tables_that_cannot_be_shared_are_refused(make_log: MakeLog) -> None:
    log, shop = make_log(HAND), journey_of(SHOP)
    with StageTables(log.table, shop) as tables:
        with pytest.raises(ValueError, match="no scope"):
            conformance(log.table, shop, scope=EventScope(), stage_tables=tables)
        other = journey_of([*SHOP[:3], ("after", frozenset({"email"}))])
        with pytest.raises(ValueError, match="not of map 'plain'"):
            conformance(log.table, other, stage_tables=tables)
    with (
        StageTables(log.table, shop, as_of=dt.datetime(2026, 1, 1)) as cut,
        pytest.raises(ValueError, match="as_of"),
    ):
        conformance(log.table, shop, stage_tables=cut)


def test_results_table_json_chart_and_text(make_log: MakeLog) -> None:
    result = conformance(make_log(HAND).table, journey_of(SHOP), top=2)
    frame = result.to_frame()
    assert list(frame["stage_id"]) == ["browse", "cart", "buy", "after"]
    assert frame.loc[1, "skipped_share"] == pytest.approx(0.4)
    data = json.loads(json.dumps(result.to_dict()))
    assert len(data["paths"]) == 2
    assert data["conforming_low"] < 0.2 < data["conforming_high"]
    assert isinstance(result.chart(), go.Figure)
    console = Console(width=200, record=True)
    console.print(result)
    text = console.export_text()
    assert "1 (20.0%) follow the designed order" in text
    assert "browse > cart > browse > cart > buy" in text


def test_stage_paths_are_the_collapsed_paths(make_log: MakeLog) -> None:
    log = make_log(HAND)
    rows = stage_paths(log.table, journey_of(SHOP)).to_pyarrow().to_pylist()
    paths = sorted(tuple(r["path"]) for r in rows)
    assert paths == sorted(
        [
            ("browse", "cart", "buy", "after"),
            ("browse", "buy", "after"),
            ("browse", "cart", "browse", "cart", "buy"),
            ("cart", "buy"),
            ("buy", "browse"),
        ]
    )


def test_a_map_without_bindings_is_refused(make_log: MakeLog) -> None:
    log = make_log(HAND)
    unbound = journey_of([("a", frozenset()), ("b", frozenset())])
    with pytest.raises(ConformanceError, match="no stage of map 'plain' is bound"):
        conformance(log.table, unbound)
    with pytest.raises(ValueError, match="top"):
        conformance(log.table, journey_of(SHOP), top=0)


def test_empty_log(make_log: MakeLog) -> None:
    result = conformance(make_log([]).table, journey_of(SHOP))
    assert (result.customers, result.conforming, result.events) == (0, 0, 0)
    assert result.conforming_share is None
    assert result.paths == ()


# --- random logs and maps ---------------------------------------------------------------

NAMES = ["a", "b", "c", "d", "e"]
CUSTOMERS = ["u", "v", "w", "x", "y"]
TIMES = [0, 0.5, 1, 2, 5, 30, 31, 45, 90, 200]


@st.composite
def plain_maps(draw: st.DrawFn) -> list[tuple[str, frozenset[str]]]:
    n = draw(st.integers(1, 4))
    stages = [(f"s{k}", draw(st.frozensets(st.sampled_from(NAMES), max_size=3))) for k in range(n)]
    if not any(names for _, names in stages):  # at least one stage bound
        stages[0] = (stages[0][0], frozenset({draw(st.sampled_from(NAMES))}))
    return stages


@st.composite
def logs(draw: st.DrawFn) -> list[Row]:
    return [
        Row(customer, minute, event)
        for customer, minute, event in draw(
            st.lists(
                st.tuples(
                    st.sampled_from(CUSTOMERS), st.sampled_from(TIMES), st.sampled_from(NAMES)
                ),
                min_size=1,
                max_size=30,
            )
        )
    ]


@settings(max_examples=25)
@given(plain=plain_maps(), rows=logs(), top=st.sampled_from([1, 3, 10]))
def test_random_logs_and_maps_match_the_oracle(
    store: Store, plain: list[tuple[str, frozenset[str]]], rows: Sequence[Row], top: int
) -> None:
    _from_oracle_check(store.load(rows), plain, top)


# --- the demo workspace: the same labels as the stage analysis ------------------------------


@pytest.mark.slow
def test_demo_workspace_agrees_with_the_stage_analysis(demo_workspace: Workspace) -> None:
    journey = demo_workspace.load_map("b2c-ecommerce")
    result = conformance(demo_workspace.events(), journey)
    stages = analyse_stages(demo_workspace.events(), journey)
    assert [s.visited for s in result.stages] == [s.reached for s in stages.stages]
    assert result.customers == stages.customers
    assert result.total_customers == stages.total_customers
    assert 0 < result.conforming < result.in_order <= result.customers
    assert 0 < result.unmapped_event_share < 1  # e.g. newsletters, non-blog pages


# --- the command --------------------------------------------------------------------------


def test_cli_conformance(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    with events.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user", "when", "name"])
        for customer, when, name in HAND:
            writer.writerow([customer, when, name])
    shop = tmp_path / "shop.yaml"
    dump_journey(journey_of(SHOP), shop)
    flags = ["--customer", "user", "--time", "when", "--event", "name"]
    runner = CliRunner()
    result = runner.invoke(
        app, ["conformance", str(events), *flags, "--map", str(shop), "--json", "--top", "2"]
    )
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    assert (data["customers"], data["conforming"], len(data["paths"])) == (5, 1, 2)

    result = runner.invoke(app, ["conformance", str(events), *flags])
    assert result.exit_code == 2
    assert "give --map FILE" in " ".join(result.output.replace("│", " ").split())

    chart = tmp_path / "conformance.html"
    result = runner.invoke(
        app, ["conformance", str(events), *flags, "--map", str(shop), "--chart", str(chart)]
    )
    assert result.exit_code == 0, result.output
    assert chart.stat().st_size > 1000
