"""Big stores: ``events`` built in ranges of customers takes each event's payload from
where it is held (staged by a load, or in the previous ``events``) as the one-statement
build does; a small engine memory limit gives smaller ranges; a load leaves no table of
its own behind and the insertion-order setting as it was."""

from __future__ import annotations

from pathlib import Path

from jornada.engine import Engine
from jornada.engine.store import RANGE_ROWS, ensure_store, materialise_events, range_rows_for
from jornada.events.load import load_events
from tests.events.test_load_narrow import COMPARED, FIRST, MAPPING, SECOND, rows, write

PAYLOAD = "seq, channel, value, cost, text, score, properties, identifiers"


def loaded(tmp_path: Path) -> Engine:
    engine = Engine.duckdb()
    ensure_store(engine)
    load_events(engine, write(tmp_path / "first.csv", FIRST), MAPPING)
    load_events(engine, write(tmp_path / "second.csv", SECOND), MAPPING)
    return engine


def test_ranges_take_the_payload_from_events_and_from_staging(tmp_path: Path) -> None:
    engine = loaded(tmp_path)
    whole = rows(engine, f"SELECT {COMPARED} FROM events ORDER BY customer_id, idx")
    assert len(whole) == len(FIRST) + len(SECOND)
    # The second load's payload back in staging, not yet absorbed: as after its load
    # committed and before its rebuild.
    engine.sql(f"INSERT INTO events_staged SELECT {PAYLOAD} FROM events WHERE load_id = 2")
    engine.sql("UPDATE store_meta SET value = '1' WHERE key = 'absorbed_load'")
    for range_rows in (1, 2, 3):
        materialise_events(engine, session_gap_seconds=1800, range_rows=range_rows)
        ranged = rows(engine, f"SELECT {COMPARED} FROM events ORDER BY customer_id, idx")
        assert ranged == whole, range_rows
        # In the table's own order too: ranges are appended in customer order.
        assert rows(engine, f"SELECT {COMPARED} FROM events") == whole


def test_a_load_leaves_no_table_and_the_order_setting_as_it_was(tmp_path: Path) -> None:
    engine = loaded(tmp_path)
    tables = {name for (name,) in rows(engine, "SELECT table_name FROM duckdb_tables()")}
    assert not {name for name in tables if name.startswith("_")}
    assert rows(engine, "SELECT current_setting('preserve_insertion_order')") == [(True,)]


def test_range_size_follows_the_memory_limit() -> None:
    assert range_rows_for(Engine.duckdb(memory_limit="16GB")) == RANGE_ROWS
    small = range_rows_for(Engine.duckdb(memory_limit="400MB"))
    assert 500_000 < small < 1_500_000
    assert range_rows_for(Engine.duckdb(memory_limit="100MB")) < small
