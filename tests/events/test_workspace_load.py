"""Loading through the workspace: atomic under SIGKILL, from real SQLite and PostgreSQL tables."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jornada.events.load import ColumnMapping
from jornada.events.sources import DatabaseSourceError, read_database_table
from jornada.workspace import Workspace

MAPPING = ColumnMapping(customer="user", time="ts", event="name", identities={"email": "mail"})


def write_events(path: Path, rows: int) -> Path:
    """A CSV of ``rows`` events written by DuckDB (fast, no Python loop)."""
    import duckdb

    duckdb.sql(
        f"""
        COPY (
            SELECT 'u' || (i % 5000) AS user,
                   TIMESTAMP '2026-01-01' + to_seconds(i) AS ts,
                   ['visit', 'view', 'cart', 'buy'][1 + i % 4] AS name,
                   CASE WHEN i % 7 = 0 THEN 'U' || (i % 5000) || '@Mail.com' END AS mail,
                   '/p/' || (i % 100) AS page
            FROM range({rows}) AS t(i)
        ) TO '{path}' (HEADER)
        """
    )
    return path


def counts(root: Path) -> tuple[int, int, int]:
    workspace = Workspace.open(root)
    try:
        row = workspace.engine.sql(
            "SELECT (SELECT count(*) FROM events_raw), (SELECT count(*) FROM events), "
            "(SELECT count(*) FROM loads)"
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1]), int(row[2])
    finally:
        workspace.close()


LOADER = """
import sys
from pathlib import Path
from jornada.events.load import ColumnMapping
from jornada.workspace import Workspace
ws = Workspace.open(Path(sys.argv[1]))
print("start", flush=True)
ws.load(Path(sys.argv[2]), ColumnMapping(customer="user", time="ts", event="name", identities={"email": "mail"}))
ws.close()
print("done", flush=True)
"""


@pytest.mark.slow
def test_a_load_killed_at_any_moment_leaves_the_workspace_as_before(tmp_path: Path) -> None:
    source = write_events(tmp_path / "events.csv", 400_000)
    root = tmp_path / "ws"
    Workspace.init(root).close()
    script = tmp_path / "load.py"
    script.write_text(LOADER)
    delays = [0.3, 0.8, 1.5, 2.5]
    killed = 0
    for delay in delays:
        with subprocess.Popen(
            [sys.executable, str(script), str(root), str(source)],
            stdout=subprocess.PIPE,
            text=True,
        ) as process:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "start"
            time.sleep(delay)
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                killed += 1
            process.wait(timeout=60)
        raw, events, loads = counts(root)
        assert (raw, events, loads) in {(0, 0, 0), (400_000, 400_000, 1)}, (
            delay,
            raw,
            events,
            loads,
        )
        if raw:
            break
    assert killed >= 1, "the load finished before any kill: make the file bigger"
    # Running it again completes the load, once.
    finished = subprocess.run(
        [sys.executable, str(script), str(root), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    assert counts(root) in {(400_000, 400_000, 1), (400_000, 400_000, 2)}
    workspace = Workspace.open(root)
    again = workspace.load(source, MAPPING)
    assert (again.loaded, again.duplicates) == (0, 400_000)
    workspace.close()


def test_load_from_a_sqlite_table(tmp_path: Path) -> None:
    database = tmp_path / "crm.db"
    with sqlite3.connect(database) as db:
        db.execute(
            'CREATE TABLE "odd name" (user TEXT, ts TEXT, name TEXT, mail TEXT, amount REAL)'
        )
        db.executemany(
            'INSERT INTO "odd name" VALUES (?, ?, ?, ?, ?)',
            [
                ("a", "2026-01-01T10:00:00Z", "visit", "A@x.com ", None),
                ("b", "2026-01-01T11:00:00Z", "buy", "a@x.com", 10.0),
                (None, "2026-01-01T11:00:00Z", "buy", None, 1.0),
            ],
        )
    workspace = Workspace.init(tmp_path / "ws")
    table = read_database_table(f"sqlite:///{database}", "odd name")
    result = workspace.load(table, MAPPING, source_name="odd name")
    assert (result.rows_read, result.loaded, result.quarantined) == (3, 2, 1)
    # "a" and "b" share an email (once normalised): one customer.
    assert workspace.engine.sql("SELECT count(DISTINCT customer_id) FROM events").fetchall() == [
        (1,)
    ]
    assert workspace.engine.sql(
        "SELECT properties['amount'] FROM events WHERE event = 'buy'"
    ).fetchall() == [("10.0",)]
    with pytest.raises(DatabaseSourceError, match=r"no table 'nope'.*odd name"):
        read_database_table(f"sqlite:///{database}", "nope")
    with pytest.raises(DatabaseSourceError, match="no table"):
        read_database_table(f"sqlite:///{database}", 'odd name"; DROP TABLE "odd name"; --')
    workspace.close()


def test_load_from_a_postgresql_table(postgres: str, tmp_path: Path) -> None:
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(postgres) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA crm")
        cursor.execute(
            'CREATE TABLE crm.events ("user" text, ts timestamptz, name text, mail text, amount numeric(10,2))'
        )
        cursor.execute(
            "INSERT INTO crm.events VALUES "
            "('p1', '2026-02-01 10:00:00-03', 'visit', 'p@x.com', NULL), "
            "('p2', '2026-02-01 11:00:00+00', 'buy', NULL, 19.90)"
        )
        connection.commit()
    workspace = Workspace.init(tmp_path / "ws")
    result = workspace.load(
        read_database_table(postgres, "crm.events"), MAPPING, source_name="crm.events"
    )
    assert (result.rows_read, result.loaded) == (2, 2)
    rows = workspace.engine.sql("SELECT customer_id, ts, event FROM events ORDER BY ts").fetchall()
    assert [(r[1].isoformat(), r[2]) for r in rows] == [
        ("2026-02-01T11:00:00", "buy"),
        ("2026-02-01T13:00:00", "visit"),
    ]
    workspace.close()


def test_a_workspace_opens_from_a_string_path(tmp_path: Path) -> None:
    # In a notebook the path is a string; both classmethods take one.
    made = Workspace.init(str(tmp_path / "shop"), name="Shop")
    opened = Workspace.open(str(tmp_path / "shop"))
    assert opened.root == made.root == tmp_path / "shop"
    assert opened.settings.name == "Shop"
