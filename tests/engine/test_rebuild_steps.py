"""The rebuild after a load commits step by step: stopped in a range of ``events`` or of
``customers`` (a failure or a killed process), it leaves the tables analyses read as
they were and the next rebuild goes on from the last finished step, to the same tables
as a rebuild in one go."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jornada.engine import Engine
from jornada.engine.store import ensure_store, rebuild_derived, rebuild_pending
from jornada.events.identity import resolve_identities
from jornada.events.load import load_events
from tests.events.test_load_narrow import FIRST, MAPPING, SECOND, write

CUSTOMERS = "customer_id, first_seen, last_seen, events, sessions, identifiers, attributes"


class StoppedError(Exception):
    """Raised from a tracer: the rebuild stops before the statement it is shown."""


def rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    return engine.sql(sql).fetchall()


def tables(engine: Engine) -> list[tuple[object, ...]]:
    """``events`` and ``customers`` whole, in their stored order."""
    return rows(engine, "SELECT * FROM events") + rows(engine, f"SELECT {CUSTOMERS} FROM customers")


def in_range(query: str, table: str) -> bool:
    """``query`` computes a range of ``table`` (the first one creates the table)."""
    return query.lstrip().startswith(
        (f"INSERT INTO _rebuild_{table} ", f"CREATE TABLE _rebuild_{table} AS")
    )


def pending_second_load(path: Path, tmp_path: Path) -> Engine:
    """A store with the first file rebuilt and the second loaded, its rebuild pending."""
    engine = Engine.duckdb(path)
    ensure_store(engine)
    load_events(engine, write(tmp_path / "first.csv", FIRST), MAPPING)

    def stopped(_engine: Engine) -> None:  # as if the process died after the load commit
        raise StoppedError

    with pytest.raises(StoppedError):
        load_events(engine, write(tmp_path / "second.csv", SECOND), MAPPING, after_insert=stopped)
    return engine


def one_go(tmp_path: Path, run: list[str] | None = None) -> list[tuple[object, ...]]:
    """The tables rebuilt in one go; ``run`` gets the statements."""
    engine = pending_second_load(tmp_path / "one-go.duckdb", tmp_path)
    with engine.tracing((run if run is not None else []).append):
        rebuild_derived(engine, resolve=resolve_identities, session_gap_seconds=1800, range_rows=1)
    built = tables(engine)
    engine.close()
    return built


@pytest.mark.parametrize(("table", "stop_at"), [("events", 2), ("customers", 2)])
def test_a_rebuild_stopped_in_a_range_goes_on_from_its_last_step(
    tmp_path: Path, table: str, stop_at: int
) -> None:
    expected_run: list[str] = []
    expected = one_go(tmp_path, expected_run)
    engine = pending_second_load(tmp_path / "store.duckdb", tmp_path)
    before = tables(engine)
    seen: list[str] = []

    def stop(query: str) -> None:
        if in_range(query, table):
            seen.append(query)
            if len(seen) == stop_at:
                raise StoppedError

    resolved: list[Engine] = []

    def resolve(engine: Engine) -> None:
        resolved.append(engine)
        resolve_identities(engine)

    with engine.tracing(stop), pytest.raises(StoppedError):
        rebuild_derived(engine, resolve=resolve, session_gap_seconds=1800, range_rows=1)
    # Analyses still read the tables of before, whole; the mark says to go on.
    assert tables(engine) == before
    assert rebuild_pending(engine)
    assert len(resolved) == 1

    again: list[str] = []
    with engine.tracing(again.append):
        rebuild_derived(engine, resolve=resolve, session_gap_seconds=1800, range_rows=1)
    assert tables(engine) == expected
    assert not rebuild_pending(engine)
    # The finished steps were not done again: no identities, no keys, and in the stopped
    # table only the ranges from the stopped one on.
    assert len(resolved) == 1
    assert not [query for query in again if "TABLE _rebuild_keys" in query]
    redone = [query for query in again if in_range(query, table)]
    assert len(redone) > 1  # the stopped range, and at least one more
    assert len(redone) + stop_at - 1 == len([q for q in expected_run if in_range(q, table)])
    assert not rows(engine, "SELECT key FROM store_meta WHERE starts_with(key, 'rebuild_')")
    left = rows(engine, "SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, '_')")
    assert left == []
    engine.close()


def test_a_load_after_a_stopped_rebuild_starts_it_again(tmp_path: Path) -> None:
    """Finished steps of a rebuild are of the events before the next load: a load's mark
    forgets them."""
    engine = pending_second_load(tmp_path / "store.duckdb", tmp_path)

    def stop(query: str) -> None:
        if in_range(query, "customers"):
            raise StoppedError

    with engine.tracing(stop), pytest.raises(StoppedError):
        rebuild_derived(engine, resolve=resolve_identities, session_gap_seconds=1800, range_rows=1)
    third = [["d1", "2026-01-04T10:00:00Z", "visit", "web", "", "dia@x.com", "/home"]]
    load_events(
        engine, write(tmp_path / "third.csv", third), MAPPING, after_insert=resolve_identities
    )
    assert rows(engine, "SELECT count(*) FROM events") == [(len(FIRST + SECOND + third),)]
    assert rows(engine, "SELECT count(*) FROM customers WHERE customer_id LIKE 'c_%'") != [(0,)]
    fresh = Engine.duckdb()
    ensure_store(fresh)
    everything = write(tmp_path / "all.csv", FIRST + SECOND + third)
    load_events(fresh, everything, MAPPING, after_insert=resolve_identities)
    compared = "SELECT * EXCLUDE (source, load_id, seq) FROM events ORDER BY event_id"
    assert rows(engine, compared) == rows(fresh, compared)
    engine.close()


_KILLED = """
import sys
from pathlib import Path
from jornada.engine import Engine
from jornada.engine.store import rebuild_derived
from jornada.events.identity import resolve_identities
engine = Engine.duckdb(Path(sys.argv[1]))
def pause(query):
    if query.startswith(("INSERT INTO _rebuild_events ", "CREATE TABLE _rebuild_events AS")):
        print("range", flush=True)
        sys.stdin.readline()  # killed while waiting here, in the second range
with engine.tracing(pause):
    rebuild_derived(engine, resolve=resolve_identities, session_gap_seconds=1800, range_rows=1)
"""


def test_a_rebuild_killed_in_a_range_goes_on_when_run_again(tmp_path: Path) -> None:
    expected = one_go(tmp_path)
    path = tmp_path / "store.duckdb"
    pending_second_load(path, tmp_path).close()
    with subprocess.Popen(
        [sys.executable, "-c", _KILLED, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    ) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stdout.readline() == "range\n"
        process.stdin.write("\n")
        process.stdin.flush()
        assert process.stdout.readline() == "range\n"  # the first range is committed
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    engine = Engine.duckdb(path)
    assert rows(engine, "SELECT value FROM store_meta WHERE key = 'rebuild_events_parts'") == [
        ("1",)
    ]
    rebuild_derived(engine, resolve=resolve_identities, session_gap_seconds=1800, range_rows=1)
    assert tables(engine) == expected
    engine.close()
