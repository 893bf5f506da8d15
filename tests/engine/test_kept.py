"""Kept tables (jornada.engine.kept): stored once per query and events, found again by
another process, dropped whenever the events change, never made of temporary data; and
the living map read from them gives the numbers it computes without them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import ibis
import pytest

from jornada.analytics.stages import StageTables
from jornada.engine import Engine
from jornada.engine import kept as kept_module
from jornada.engine.kept import forget_kept, kept_table
from jornada.events.load import ColumnMapping
from jornada.living.overlay import living_map
from jornada.model.templates import load_template
from jornada.report import build_report
from jornada.workspace import Workspace

MAPPING = ColumnMapping(customer="user", time="at", event="event", channel="channel")
SHOP = load_template("b2c-ecommerce")


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text("user,at,event,channel\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace.init(tmp_path / "ws")
    ws.load(
        _write(
            tmp_path / "a.csv",
            [
                "ana,2026-01-01 10:00,page_view,web",
                "ana,2026-01-01 10:05,add_to_cart,web",
                "ana,2026-01-01 10:09,purchase,web",
                "bia,2026-01-02 09:00,ad_click,social",
                "bia,2026-01-02 09:01,page_view,web",
            ],
        ),
        MAPPING,
    )
    return ws


def _kept_names(ws: Workspace) -> list[str]:
    rows = ws.engine.sql("SELECT name FROM kept_tables ORDER BY name").fetchall()
    return [str(name) for (name,) in rows]


def _stages_reached(ws: Workspace) -> dict[str, int]:
    with StageTables(ws.events(), SHOP, facts=True, store="yes") as tables:
        analysis = tables.analysis(80.0)
    return {s.stage_id: s.reached for s in analysis.stages}


def test_a_query_is_stored_once_and_read_again(workspace: Workspace) -> None:
    narrow = workspace.events().select("customer_id", "ts", "event")
    with kept_table(narrow, store="yes") as first:
        name = first.get_name()
        rows = first.order_by("ts").to_pyarrow().to_pylist()
    with kept_table(narrow, store="yes") as again:
        assert again.get_name() == name
        assert again.order_by("ts").to_pyarrow().to_pylist() == rows
    assert _kept_names(workspace) == [name]
    assert rows == narrow.order_by("ts").to_pyarrow().to_pylist()
    # Another query is another table.
    with kept_table(narrow.filter(narrow.event == "purchase"), store="yes") as other:
        assert other.get_name() != name
        assert other.count().execute() == 1
    assert len(_kept_names(workspace)) == 2


def test_reuse_reads_a_kept_table_and_writes_none(workspace: Workspace) -> None:
    narrow = workspace.events().select("customer_id", "ts")
    with kept_table(narrow, store="reuse") as kept:
        assert "ibis_cached" in kept.get_name()
        assert kept.count().execute() == 5
    assert _kept_names(workspace) == []
    with kept_table(narrow, store="yes") as kept:
        name = kept.get_name()
    with kept_table(narrow, store="reuse") as kept:
        assert kept.get_name() == name
    assert _kept_names(workspace) == [name]


def test_a_load_forgets_the_kept_tables_and_the_next_run_sees_its_events(
    workspace: Workspace, tmp_path: Path
) -> None:
    before = _stages_reached(workspace)
    assert _kept_names(workspace)
    workspace.load(
        _write(
            tmp_path / "b.csv",
            ["cid,2026-01-03 08:00,add_to_cart,web", "cid,2026-01-03 08:02,purchase,web"],
        ),
        MAPPING,
    )
    assert _kept_names(workspace) == []
    after = _stages_reached(workspace)
    assert after != before
    # The same numbers as tables made without the store.
    with StageTables(workspace.events(), SHOP, facts=True) as fresh:
        assert {s.stage_id: s.reached for s in fresh.analysis(80.0).stages} == after


def test_other_processes_find_the_same_tables(workspace: Workspace) -> None:
    """The living map's kept tables (stage tables, the KPI board's flagged events) have
    one SQL in every process, whatever the order of Python's sets there (the hash seed)."""
    root = workspace.root
    workspace.close()
    script = (
        "import sys; from jornada.workspace import Workspace; "
        "from jornada.living.overlay import living_map; "
        "from jornada.model.templates import load_template; "
        "ws = Workspace.open(sys.argv[1]); "
        "living_map(ws.events(), load_template('b2c-ecommerce'), facts=True); "
        "print(' '.join(sorted(r[0] for r in ws.engine.sql('SELECT name FROM kept_tables')"
        ".fetchall()))); ws.close()"
    )
    made = []
    for seed in ("1", "2", "3", "4"):
        out = subprocess.run(
            [sys.executable, "-c", script, str(root)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        made.append(out.stdout.split())
    assert len(made[0]) >= 5  # the labelled events, the visits, the entries...
    assert all(names == made[0] for names in made)


def test_temporary_data_is_never_stored(workspace: Workspace) -> None:
    events = workspace.events()
    lookup = ibis.memtable({"event": ["purchase"], "weight": [2]})
    joined = events.join(lookup, "event").select("customer_id", "weight")
    with kept_table(joined, store="yes") as kept:
        assert "ibis_cached" in kept.get_name()
        assert kept.count().execute() == 1
    with events.cache() as cached, kept_table(cached.select("ts"), store="yes") as kept:
        assert "ibis_cached" in kept.get_name()
    # Without store, a temporary table too.
    with kept_table(events.select("ts"), store="no") as kept:
        assert "ibis_cached" in kept.get_name()
    assert _kept_names(workspace) == []


def test_a_read_only_store_keeps_temporary_tables(workspace: Workspace) -> None:
    root = workspace.root
    workspace.close()
    engine = Engine.duckdb(root / "jornada.duckdb", read_only=True)
    try:
        with kept_table(engine.table("events").select("ts"), store="yes") as kept:
            assert "ibis_cached" in kept.get_name()
            assert kept.count().execute() == 5
    finally:
        engine.close()


def test_the_oldest_tables_go_beyond_the_limit(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kept_module, "KEPT_LIMIT", 3)
    events = workspace.events()
    names = []
    for minute in range(5):
        query = events.filter(events.ts.minute() >= minute).select("ts")
        with kept_table(query, store="yes") as kept:
            names.append(kept.get_name())
    assert sorted(_kept_names(workspace)) == sorted(names[-3:])
    assert not any(workspace.engine.has_table(name) for name in names[:2])
    forget_kept(workspace.engine)
    assert _kept_names(workspace) == []
    assert not any(workspace.engine.has_table(name) for name in names)


def test_a_failed_query_stores_nothing(workspace: Workspace) -> None:
    events = workspace.events()
    # Fails when run (a text that is no number), not when built.
    bad = events.select(n=events.event.cast("int64"))
    with pytest.raises(duckdb.ConversionException), kept_table(bad, store="yes"):
        pass
    assert _kept_names(workspace) == []


def test_the_living_map_from_kept_tables_gives_the_same_numbers() -> None:
    import tempfile

    from jornada.demo import create_demo_workspace

    with tempfile.TemporaryDirectory() as tmp:
        ws = create_demo_workspace(Path(tmp) / "ws", customers=150)
        try:
            journey = ws.load_map("b2c-ecommerce")
            forget_kept(ws.engine)
            # facts=False: nothing stored, nothing read from the store
            plain = living_map(ws.events(), journey).to_dict()
            assert _kept_names(ws) == []
            cold = living_map(ws.events(), journey, facts=True).to_dict()
            made = _kept_names(ws)
            assert made
            warm = living_map(ws.events(), journey, facts=True).to_dict()
            assert _kept_names(ws) == made
            assert cold == plain
            assert warm == plain
            # A report reads them and writes none of its own; without them, it writes none.
            reused = build_report(ws, journey).to_dict()
            assert _kept_names(ws) == made
            forget_kept(ws.engine)
            fresh = build_report(ws, journey).to_dict()
            assert _kept_names(ws) == []
            assert reused.pop("generated") <= fresh.pop("generated")
            assert reused == fresh
        finally:
            ws.close()
