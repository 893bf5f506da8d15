"""The living map on a scope: its numbers are those of the living map of an event file
filtered by hand (pandas) to the same period or segment, and it says what it measured."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from jornada.cli import run
from jornada.events.filters import EventScope, parse_period, scope_events
from jornada.events.load import ColumnMapping
from jornada.living.conformance import conformance
from jornada.living.overlay import LivingMap, living_map
from jornada.living.render import render_living_html
from jornada.model import Journey
from jornada.workspace import Workspace

MAPPING = ColumnMapping(
    customer="customer",
    time="timestamp",
    event="event",
    channel="channel",
    value="value",
    cost="cost",
    text="text",
    score="score",
    id="event_id",
)


def event_file(frame: pd.DataFrame, path: Path) -> Path:
    """The events as a plain CSV the loader reads with :data:`MAPPING` (properties as
    columns of their own)."""
    properties = pd.DataFrame([dict(p) if p is not None else {} for p in frame.properties])
    plain = pd.DataFrame(
        {
            "event_id": frame.event_id,
            "customer": frame.customer_id,
            "timestamp": frame.ts.dt.strftime("%Y-%m-%dT%H:%M:%S.%f"),
            "event": frame.event,
            "channel": frame.channel,
            "value": frame.value,
            "cost": frame.cost,
            "text": frame.text,
            "score": frame.score,
        }
    ).reset_index(drop=True)
    pd.concat([plain, properties.reset_index(drop=True)], axis=1).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def all_events(demo_workspace: Workspace) -> pd.DataFrame:
    """The demo's events in load order (the order ties in time are broken by)."""
    return demo_workspace.events().order_by("seq").to_pandas()


@pytest.fixture(scope="module")
def shop(demo_workspace: Workspace) -> Journey:
    return demo_workspace.load_map("b2c-ecommerce")


@pytest.fixture(scope="module")
def base(all_events: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """Every event, written to a file and loaded like any file."""
    path = event_file(all_events, tmp_path_factory.mktemp("scope") / "all.csv")
    workspace = Workspace.from_events(path, MAPPING)
    yield workspace
    workspace.close()


def measured_on(frame: pd.DataFrame, tmp: Path, journey: Journey) -> dict[str, Any]:
    """The living map of exactly these events (loaded from their own file), as JSON."""
    workspace = Workspace.from_events(event_file(frame, tmp / "part.csv"), MAPPING)
    try:
        return living_map(workspace.events(), journey).to_dict()
    finally:
        workspace.close()


def assert_same(got: Any, expected: Any, where: str = "") -> None:
    """Equal JSON, floats to 1e-9 (sums may be added in another order)."""
    if isinstance(expected, dict):
        assert isinstance(got, dict), where
        assert got.keys() == expected.keys(), where
        for key in expected:
            assert_same(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list), where
        assert len(got) == len(expected), where
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(expected, float) and not isinstance(got, bool):
        assert isinstance(got, float | int), where
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12) or (
            math.isnan(got) and math.isnan(expected)
        ), where
    else:
        assert got == expected, where


def _without_scope(data: Any) -> Any:
    """``data`` without its scope labels (the map's own and its conformance's)."""
    if isinstance(data, dict):
        return {
            k: _without_scope(v)
            for k, v in data.items()
            if not (k == "scope" and isinstance(v, dict))  # a KPI row's scope is an id
        }
    if isinstance(data, list):
        return [_without_scope(v) for v in data]
    return data


@pytest.mark.slow
def test_a_period_measures_what_a_file_of_that_period_measures(
    base: Workspace, all_events: pd.DataFrame, shop: Journey, tmp_path: Path
) -> None:
    scope = EventScope(*parse_period("2026-02..2026-03"))
    living = living_map(base.events(), shop, scope=scope)
    # By hand: UTC timestamps from 1 Feb to 31 Mar, both days included.
    days = all_events.ts.dt.date
    kept = all_events[(days >= pd.Timestamp("2026-02-01").date()) & (days <= scope.date_to)]
    assert 0 < len(kept) < len(all_events)
    assert living.total_events == len(kept)
    assert living.total_customers == kept.customer_id.nunique()
    assert living.scope == scope
    assert living.to_dict()["scope"] == {
        "from": "2026-02-01",
        "to": "2026-03-31",
        "channels": [],
        "segment": None,
    }
    expected = measured_on(kept, tmp_path, shop)
    assert_same(_without_scope(living.to_dict()), _without_scope(expected))


@pytest.mark.slow
def test_a_segment_measures_its_customers_whole(
    base: Workspace, all_events: pd.DataFrame, shop: Journey, tmp_path: Path
) -> None:
    rule = "properties.device = 'mobile' and channel = 'app'"
    living = living_map(base.events(), shop, scope=EventScope(segment=rule))
    # By hand: the customers with at least one such event, with all their events.
    device = all_events.properties.map(lambda p: dict(p or {}).get("device"))
    members = set(all_events.customer_id[(device == "mobile") & (all_events.channel == "app")])
    kept = all_events[all_events.customer_id.isin(members)]
    assert 0 < len(members) < all_events.customer_id.nunique()
    assert living.total_customers == len(members)
    assert living.total_events == len(kept)
    assert living.to_dict()["scope"]["segment"] == rule
    expected = measured_on(kept, tmp_path, shop)
    assert_same(_without_scope(living.to_dict()), _without_scope(expected))


def test_unscoped_living_map_says_so(demo_workspace: Workspace, shop: Journey) -> None:
    living = living_map(demo_workspace.events(), shop)
    assert living.scope == EventScope()
    assert living.to_dict()["scope"] == {"from": None, "to": None, "channels": [], "segment": None}
    assert 'class="jl-scope"' not in render_living_html(living)


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "Measured on: 1 Feb 2026 to 28 Feb 2026 · channels app, web · customers with"),
        ("pt-BR", "Medido em: 01/02/2026 a 28/02/2026 · canais app, web · clientes com"),
        ("es", "Medido en: del 01/02/2026 al 28/02/2026 · canales app, web · clientes con"),
    ],
)
def test_the_header_shows_the_scope_escaped(
    demo_workspace: Workspace, shop: Journey, language: str, words: str
) -> None:
    scope = EventScope(*parse_period("2026-02"), ("web", "app"), "properties.page = '<b>x</b>'")
    living = living_map(demo_workspace.events(), shop, scope=scope)
    assert living.total_events == 0  # no page is called that: the scope still shows
    html = render_living_html(living, language=language)  # type: ignore[arg-type]
    header = html[html.index('<header class="jl-header">') : html.index("</header>")]
    assert '<p class="jl-scope">' in header
    assert words in header
    assert "properties.page = &#39;&lt;b&gt;x&lt;/b&gt;&#39;" in header
    assert "<b>x</b>" not in html
    assert isinstance(living, LivingMap)


@pytest.mark.slow
def test_cli_on_files_period_equals_the_file_of_that_period(
    demo_workspace: Workspace,
    all_events: pd.DataFrame,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    map_file = str(demo_workspace.map_path("b2c-ecommerce"))
    columns = ["--customer", "customer", "--time", "timestamp", "--event", "event"]
    columns += ["--channel", "channel", "--value", "value", "--cost", "cost", "--text", "text"]
    columns += ["--score", "score", "--id", "event_id", "--map", map_file, "--json"]
    everything = event_file(all_events, tmp_path / "all.csv")
    days = all_events.ts.dt.date
    february = all_events[(days >= dt.date(2026, 2, 1)) & (days <= dt.date(2026, 2, 28))]
    part = event_file(february, tmp_path / "february.csv")

    assert run(["living", str(everything), *columns, "--period", "2026-02"]) == 0
    scoped = json.loads(capsys.readouterr().out)
    assert run(["living", str(part), *columns]) == 0
    by_hand = json.loads(capsys.readouterr().out)
    assert scoped["scope"] == {
        "from": "2026-02-01",
        "to": "2026-02-28",
        "channels": [],
        "segment": None,
    }
    assert by_hand["scope"]["from"] is None
    assert scoped["total_events"] == len(february)
    assert_same(_without_scope(scoped), _without_scope(by_hand))


def test_cli_scope_options_and_their_errors(
    demo_workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(demo_workspace.root)
    map_file = str(demo_workspace.map_path("b2c-ecommerce"))
    segment = "channel = 'app'"
    scope = ["--period", "2026-03", "--segment", segment, "--only-channel", "web"]
    assert run(["departments", root, "--map", map_file, *scope, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["scope"] == {
        "from": "2026-03-01",
        "to": "2026-03-31",
        "channels": ["web"],
        "segment": segment,
    }
    assert run(["conformance", root, "--map", map_file, *scope, "--json"]) == 0
    shape = json.loads(capsys.readouterr().out)
    expected = conformance(
        scope_events(
            demo_workspace.events(), EventScope(*parse_period("2026-03"), ("web",), segment)
        ),
        demo_workspace.load_map("b2c-ecommerce"),
    )
    assert shape["customers"] == expected.customers
    assert shape["scope"] == listed["scope"]
    assert expected.scope.everything
    assert (
        shape["customers"]
        < conformance(demo_workspace.events(), demo_workspace.load_map("b2c-ecommerce")).customers
    )
    for command in ("living", "departments", "conformance"):
        assert run([command, root, "--map", map_file, "--period", "2026-02-30"]) == 2
        error = capsys.readouterr().err
        assert "--period" in error
        assert "'2026-02-30' is not a date" in error
        assert run([command, root, "--map", map_file, "--segment", "plan = 'pro'"]) == 2
        error = capsys.readouterr().err
        assert "--segment" in error
        assert "unknown field 'plan'" in error
