"""An analysis on its own connection (jornada.engine.concurrent): the same database and
the same answers, its own session; and a report whose churn runs beside the other
sections is the report built one section after the other."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import ibis

from jornada.engine import Engine
from jornada.engine.concurrent import interrupt, own_connection
from jornada.report import build_report


def _engine(tmp_path: Path) -> Engine:
    engine = Engine.duckdb(tmp_path / "store.duckdb")
    engine.sql("CREATE TABLE t AS SELECT range AS x, range % 7 AS k FROM range(200000)")
    return engine


def test_the_table_is_read_on_another_connection_of_the_same_database(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    try:
        # A temporary table is its connection's own: the other one does not see it.
        engine.sql("CREATE TEMP TABLE mine AS SELECT 1 AS one")
        table = engine.table("t")
        with own_connection(table.filter(table.k == 3)) as other:
            assert other is not None
            assert int(other.count().execute()) == int((table.k == 3).sum().execute())
            backend = other._find_backend()
            assert backend is not table._find_backend()
            seen = "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'mine'"
            assert backend.con.execute(seen).fetchall() == [(0,)]
            assert engine.sql(seen).fetchall() == [(1,)]
        # A table reading the first connection's temporary table stays where it is.
        with own_connection(engine.table("mine")) as none:
            assert none is None
    finally:
        engine.close()


def test_a_table_of_no_database_stays_where_it_is() -> None:
    with own_connection(ibis.memtable({"x": [1, 2]})) as none:
        assert none is None


def test_queries_on_both_connections_at_once_give_their_own_answers(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    try:
        table = engine.table("t")
        sums = table.group_by("k").aggregate(s=table.x.sum()).order_by("k")
        expected = sums.to_pyarrow().to_pylist()
        with own_connection(sums) as other:
            assert other is not None
            found: list[object] = []
            worker = threading.Thread(
                target=lambda: found.extend(other.to_pyarrow().to_pylist() for _ in range(20))
            )
            worker.start()
            mine = [sums.to_pyarrow().to_pylist() for _ in range(20)]
            worker.join()
        assert found == [expected] * 20
        assert mine == [expected] * 20
    finally:
        engine.close()


def test_a_query_on_the_other_connection_can_be_interrupted(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    try:
        table = engine.table("t")
        with own_connection(table) as other:
            assert other is not None
            # 4e10 pairs: minutes of work, stopped within a fraction of a second.
            pairs = other.cross_join(other.view().rename(y="x", j="k"))
            endless = pairs.aggregate(s=(pairs.x * pairs.y).sum())
            failed: list[BaseException] = []

            def run() -> None:
                try:
                    endless.execute()
                except Exception as error:
                    failed.append(error)

            worker = threading.Thread(target=run)
            worker.start()
            time.sleep(0.3)
            started = time.monotonic()
            while worker.is_alive() and time.monotonic() - started < 20:
                interrupt(other)
                worker.join(0.1)
            assert not worker.is_alive()
            assert time.monotonic() - started < 5
            [error] = failed
            assert "interrupt" in str(error).lower()
            # The first connection was not touched.
            assert int(table.count().execute()) == 200_000
    finally:
        engine.close()


def test_a_report_with_churn_beside_the_other_sections_is_the_same_report(
    tmp_path: Path,
) -> None:
    from jornada.demo import create_demo_workspace

    ws = create_demo_workspace(tmp_path / "ws", customers=150)
    try:
        journey = ws.load_map("b2c-ecommerce")
        with own_connection(ws.events()) as other:  # the report's events can go beside
            assert other is not None
        beside = build_report(ws, journey, concurrent=True).to_dict()
        in_turn = build_report(ws, journey, concurrent=False).to_dict()
        assert beside.pop("generated") <= in_turn.pop("generated")
        assert beside == in_turn
        [churn] = [s for s in beside["sections"] if s["id"] == "churn"]
        assert "customers scored" in churn["intro"]  # the model ran, on its own connection
    finally:
        ws.close()
