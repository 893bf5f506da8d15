"""New workspace stores are written in DuckDB 1.5's storage format; a store written in
an older one opens, keeps its format and its data (``engine/backend.py``)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from jornada.engine import Engine
from jornada.engine.backend import STORAGE_VERSION


def storage_version(engine: Engine, name: str) -> str:
    row = engine.sql(
        "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = ?", [name]
    ).fetchone()
    assert row is not None
    return str(row[0])


def test_a_new_file_is_written_in_the_1_5_format(tmp_path: Path) -> None:
    engine = Engine.duckdb(tmp_path / "new.duckdb")
    engine.sql("CREATE TABLE t AS SELECT range AS i, 'x' || range AS s FROM range(1000)")
    assert storage_version(engine, "new").startswith(STORAGE_VERSION)


def test_an_older_file_keeps_its_format_and_data(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as old:  # DuckDB's default: files older versions read
        old.sql("CREATE TABLE t AS SELECT range AS i, 'x' || range AS s FROM range(1000)")
        (before,) = old.sql(
            "SELECT tags['storage_version'] FROM duckdb_databases() WHERE database_name = 'old'"
        ).fetchone() or ("",)
    assert not str(before).startswith(STORAGE_VERSION)
    engine = Engine.duckdb(path)
    engine.sql("INSERT INTO t SELECT range, 'y' || range FROM range(1000)")
    engine.sql("CHECKPOINT")
    assert storage_version(engine, "old") == before
    assert engine.sql("SELECT count(*), count(DISTINCT s) FROM t").fetchall() == [(2000, 2000)]
