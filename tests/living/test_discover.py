"""``jornada map discover``: the grouping against every grouping, the figures against the
brute-force oracle on random logs, the demo workspace (valid, binds, ordered) and the CLI."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import plotly.graph_objects as go
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from jornada.cli import app
from jornada.events.binding import bind_report
from jornada.living.discover import (
    SINGLE_EVENT_POSITION,
    DiscoverError,
    discover_map,
    natural_breaks,
)
from jornada.model.io import dumps_journey
from jornada.model.validation import validate_file
from jornada.workspace import Workspace
from tests.analytics.conftest import EventLog, minutes
from tests.living.conftest import Row, Store
from tests.oracles import discover as oracle

MakeLog = Callable[..., EventLog]


# --- the grouping ---------------------------------------------------------------------------


@settings(max_examples=60)
@given(
    values=st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=8).map(sorted),
    groups=st.integers(1, 5),
)
def test_natural_breaks_is_the_best_grouping(values: list[float], groups: int) -> None:
    sizes = natural_breaks(values, groups)
    assert sum(sizes) == len(values)
    assert len(sizes) == min(groups, len(values))
    assert all(size >= 1 for size in sizes)
    assert oracle.grouping_cost(values, sizes) == pytest.approx(
        oracle.best_cost(values, groups), abs=1e-9
    )


def test_natural_breaks_by_hand() -> None:
    assert natural_breaks([0.0, 0.1, 0.12, 0.5, 0.55, 0.9], 3) == [3, 2, 1]
    assert natural_breaks([0.0, 0.0, 1.0, 1.0], 2) == [2, 2]
    assert natural_breaks([], 3) == []


# --- a hand-made log ------------------------------------------------------------------------


def test_hand_log(make_log: MakeLog) -> None:
    log = make_log(
        [
            ("ana", minutes(0), "ad_click", {"channel": "social"}),
            ("ana", minutes(1), "product_view", {"channel": "web"}),
            ("ana", minutes(2), "purchase", {"channel": "web"}),
            ("ana", minutes(3), "delivered", {"channel": "carrier"}),
            ("bia", minutes(0), "ad_click", {"channel": "social"}),
            ("bia", minutes(1), "product_view", {"channel": "app"}),
            ("bia", minutes(2), "product_view", {"channel": "app"}),
            ("bia", minutes(3), "purchase", {"channel": "app"}),
            ("caio", minutes(0), "product_view", {"channel": "app"}),
            ("caio", minutes(5), "ad_click", {"channel": "social"}),
            ("dani", minutes(0), "newsletter", {"channel": "email"}),
        ]
    )
    draft = discover_map(log.table, stages=3, touchpoints=4)
    # newsletter ties with delivered on customers and events, and loses on the name
    assert [t.event for t in draft.touchpoints] == [
        "ad_click",
        "product_view",
        "purchase",
        "delivered",
    ]
    assert draft.touchpoint("ad_click").position == pytest.approx(0.0)  # 0, 0, 1 -> 0
    # product_view: 1/3, 1/3, 0 -> median 1/3; purchase 2/3, 1 -> 5/6; delivered 1
    assert draft.touchpoint("product_view").position == pytest.approx(1 / 3)
    assert draft.touchpoint("purchase").position == pytest.approx(5 / 6)
    assert draft.touchpoint("delivered").position == pytest.approx(1.0)
    assert [[tp.id for tp in s.touchpoints] for s in draft.journey.stages] == [
        ["ad_click"],
        ["product_view"],
        ["purchase", "delivered"],
    ]
    # the most common channel; ties go to the first by name
    assert draft.touchpoint("product_view").channel == "app"
    assert draft.touchpoint("product_view").channels == (("app", 3), ("web", 1))
    assert [s.name for s in draft.journey.stages] == [
        "Stage 1: Ad click",
        "Stage 2: Product view",
        "Stage 3: Purchase",
    ]
    assert (draft.customers, draft.events) == (4, 11)
    report = bind_report(log.engine, log.table, draft.journey)
    assert (report.matched_events, report.unmapped) == (10, (("newsletter", 1),))


def test_labels_follow_the_language_and_ids_are_safe(make_log: MakeLog) -> None:
    log = make_log(
        [
            ("ana", minutes(0), "Página vista!"),
            ("ana", minutes(1), "-compra"),
            ("bia", minutes(0), "Página vista?"),
        ]
    )
    draft = discover_map(log.table, stages=2, language="pt-BR", journey_id="rascunho")
    ids = [tp.id for s in draft.journey.stages for tp in s.touchpoints]
    assert sorted(ids) == ["Pagina_vista", "Pagina_vista_2", "compra"]
    assert draft.journey.title == "Mapa da jornada do cliente"
    assert draft.journey.stages[0].name.startswith("Etapa 1: ")
    assert draft.touchpoint("Página vista?").position == SINGLE_EVENT_POSITION


def test_bad_input(make_log: MakeLog) -> None:
    log = make_log([("ana", minutes(0), "view")])
    with pytest.raises(DiscoverError, match="at least 1 stage"):
        discover_map(log.table, stages=0)
    with pytest.raises(DiscoverError, match="at least 1 touchpoint"):
        discover_map(log.table, touchpoints=0)
    with pytest.raises(DiscoverError, match="no events"):
        discover_map(make_log([]).table)


# --- random logs against the oracle ---------------------------------------------------------

NAMES = ["a", "b", "c", "d", "e", "f"]
CHANNELS = ["web", "app", None]


@st.composite
def logs(draw: st.DrawFn) -> list[Row]:
    return [
        Row(customer, minute, event, channel)
        for customer, minute, event, channel in draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["u", "v", "w", "x"]),
                    st.sampled_from([0, 1, 2, 5, 9]),
                    st.sampled_from(NAMES),
                    st.sampled_from(CHANNELS),
                ),
                min_size=1,
                max_size=25,
            )
        )
    ]


@settings(max_examples=25)
@given(rows=logs(), stages=st.integers(1, 4), touchpoints=st.integers(1, 6))
def test_random_logs_match_the_oracle(
    store: Store, rows: Sequence[Row], stages: int, touchpoints: int
) -> None:
    log = store.load(rows)
    draft = discover_map(log.table, stages=stages, touchpoints=touchpoints)
    expected = oracle.figures(log.rows())
    ranked = sorted(expected, key=lambda e: (-expected[e]["customers"], -expected[e]["events"], e))
    chosen = ranked[:touchpoints]
    assert sorted(t.event for t in draft.touchpoints) == sorted(chosen)
    for found in draft.touchpoints:
        figures = expected[found.event]
        assert (found.customers, found.events) == (figures["customers"], figures["events"])
        position = figures["position"]
        assert found.position == pytest.approx(
            SINGLE_EVENT_POSITION if position is None else position, abs=1e-12
        )
        assert dict(found.channels) == figures["channels"]
        best = max(figures["channels"].values())
        named = sorted(c for c, n in figures["channels"].items() if n == best and c is not None)
        if named:
            assert found.channel == named[0]
    # stages: consecutive groups of the touchpoints ordered by position, as cut by
    # natural_breaks (checked above against every grouping)
    order = sorted(draft.touchpoints, key=lambda t: (t.position, -t.customers, t.event))
    sizes = natural_breaks([t.position for t in order], stages)
    start = 0
    for stage, size in zip(draft.journey.stages, sizes, strict=True):
        group = {t.event for t in order[start : start + size]}
        start += size
        assert {t.events.names[0] for t in stage.touchpoints if t.events} == group
        customers = [next(d for d in draft.touchpoints if d.event == e).customers for e in group]
        assert [
            next(d for d in draft.touchpoints if d.touchpoint_id == t.id).customers
            for t in stage.touchpoints
        ] == sorted(customers, reverse=True)


# --- the demo workspace -----------------------------------------------------------------------


@pytest.mark.slow
def test_demo_data_gives_a_valid_bound_ordered_map(
    demo_workspace: Workspace, tmp_path: Path
) -> None:
    draft = discover_map(demo_workspace.events(), stages=5, touchpoints=20)
    path = tmp_path / "draft.yaml"
    path.write_text(dumps_journey(draft.journey), "utf-8")
    report = validate_file(path)
    assert report.ok, report.problems
    bound = bind_report(demo_workspace.engine, demo_workspace.events(), draft.journey)
    assert bound.event_coverage > 0.9
    assert all(t.events > 0 for t in bound.touchpoints)
    stage_of = {
        tp.events.names[0]: k
        for k, stage in enumerate(draft.journey.stages)
        for tp in stage.touchpoints
        if tp.events
    }
    position = {t.event: t.position for t in draft.touchpoints}
    # the shop's journey: ads and landing pages, then buying, then the delivery
    assert position["ad_impression"] < position["purchase"] < position["order_delivered"]
    assert stage_of["ad_impression"] <= stage_of["add_to_cart"] <= stage_of["purchase"]
    assert stage_of["ad_impression"] < stage_of["purchase"] <= stage_of["order_delivered"]
    assert stage_of["page_view"] < stage_of["order_delivered"]
    assert draft.touchpoint("purchase").channel in {"web", "app"}
    assert draft.touchpoint("order_delivered").channel == "delivery"
    assert len(draft.journey.stages) == 5
    frame = draft.to_frame()
    assert list(frame.columns)[:3] == ["stage_id", "touchpoint_id", "event"]
    assert frame["reach"].between(0, 1).all()
    assert isinstance(draft.chart(), go.Figure)
    assert json.loads(json.dumps(draft.to_dict()))["map"]["id"] == "discovered"


# --- the command --------------------------------------------------------------------------


def test_cli_map_discover(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    lines = ["user,when,name,via"]
    for user in ("ana", "bia", "caio"):
        lines += [
            f"{user},2026-01-01T10:00:00Z,ad_click,social",
            f"{user},2026-01-01T10:05:00Z,product_view,web",
            f"{user},2026-01-02T10:00:00Z,purchase,web",
            f"{user},2026-01-05T10:00:00Z,delivered,carrier",
        ]
    events.write_text("\n".join(lines) + "\n", "utf-8")
    flags = ["--customer", "user", "--time", "when", "--event", "name", "--channel", "via"]
    draft = tmp_path / "draft.yaml"
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["map", "discover", str(events), *flags, "-o", str(draft), "--stages", "2", "--lang", "es"],
    )
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output
    report = validate_file(draft)
    assert report.ok
    assert report.journey is not None
    assert report.journey.language == "es"
    assert report.journey.id == "draft"
    assert [len(s.touchpoints) for s in report.journey.stages] == [2, 2]
    assert report.journey.stages[0].name == "Etapa 1: Ad click"

    again = runner.invoke(app, ["map", "discover", str(events), *flags, "-o", str(draft)])
    assert again.exit_code == 2
    assert "--force" in again.output

    result = runner.invoke(
        app, ["map", "discover", str(events), *flags, "-o", str(draft), "--force", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [t["event"] for t in data["touchpoints"]][:1] == ["ad_click"]
    assert not math.isnan(data["touchpoints"][0]["position"])
