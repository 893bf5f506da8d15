"""A load writes each event's customer key once, in ``events_raw``: identity resolution
reads it there (normalised as the ``customer`` rows of ``identifiers`` were) and resolves
exactly as it did from those rows, in new stores and in stores whose older loads wrote
them."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from jornada.engine import Engine
from jornada.engine.store import CUSTOMER_KEYS_FROM, ensure_store
from jornada.events.identity import resolve_identities
from jornada.events.load import ColumnMapping, load_events

MAPPING = ColumnMapping(customer="user", time="when", event="what", identities={"email": "mail"})
# Keys the load keeps but the customer rule strips to nothing or to another key (DuckDB's
# trim() takes spaces only; the rule also tabs, newlines and the like).
KEYS = ["u1", "u2", " u3 ", "u1\t", "\t", "\n\t ", "u4\x0b", "U1", "u5"]
MAILS = ["", "", "ana@x.com", "ANA@x.com ", "bia@x.com", "", "u1"]


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user", "when", "what", "mail"])
        writer.writerows(rows)
    return path


def random_rows(seed: int, count: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [  # distinct times: no row repeats another (ids are the rows' content)
        [
            rng.choice(KEYS),
            f"2026-01-0{rng.randint(1, 9)}T10:{i:02d}:00Z",
            "visit",
            rng.choice(MAILS),
        ]
        for i in range(count)
    ]


def oracle(engine: Engine) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Resolution as before this change: the ``customer`` rows written into
    ``identifiers`` (the rule in Python: stripped as str.strip strips ASCII white space,
    empty dropped), in an engine of their own."""
    plain = Engine.duckdb()
    rows = engine.sql("SELECT event_id, kind, value FROM identifiers").fetchall()
    for event_id, key in engine.sql("SELECT event_id, customer_key FROM events_raw").fetchall():
        value = str(key).strip(" \t\n\r\x0b\x0c")
        if value:
            rows.append((event_id, "customer", value))
    plain.sql("CREATE TABLE identifiers (event_id VARCHAR, kind VARCHAR, value VARCHAR)")
    if rows:
        plain.duck.executemany("INSERT INTO identifiers VALUES (?, ?, ?)", rows)
    resolve_identities(plain)
    return resolved(plain)


def resolved(engine: Engine) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    return (
        engine.sql("SELECT * FROM identity_map ORDER BY ALL").fetchall(),
        engine.sql("SELECT * FROM event_customers ORDER BY ALL").fetchall(),
    )


@pytest.mark.parametrize("seed", range(4))
def test_resolution_reads_the_keys_in_events_raw_as_it_read_customer_rows(
    tmp_path: Path, seed: int
) -> None:
    engine = Engine.duckdb()
    ensure_store(engine)
    result = load_events(
        engine, write(tmp_path / "e.csv", random_rows(seed, 60)), MAPPING, after_insert=None
    )
    assert result.loaded == 60
    assert engine.sql("SELECT count(*) FROM identifiers WHERE kind = 'customer'").fetchall() == [
        (0,)
    ]
    expected = oracle(engine)
    resolve_identities(engine)
    assert resolved(engine) == expected
    # Whitespace-only keys have no customer identifier, as before: such an event is
    # resolved through its e-mail, or not at all.
    keyless = engine.sql(
        "SELECT count(*) FROM events_raw WHERE trim(customer_key, ' \t\n\r\x0b\x0c') = ''"
    ).fetchone()
    assert keyless is not None
    assert keyless[0] > 0


def test_a_store_whose_older_loads_wrote_customer_rows_resolves_the_same(
    tmp_path: Path,
) -> None:
    """An older load's keys are in ``identifiers`` and not read again from ``events_raw``;
    the mark names the first load that stopped writing them, and later loads keep it."""
    engine = Engine.duckdb()
    ensure_store(engine)
    load_events(engine, write(tmp_path / "a.csv", random_rows(10, 40)), MAPPING)
    # As a load written before this change left it: customer rows, no mark.
    engine.sql(f"DELETE FROM store_meta WHERE key = '{CUSTOMER_KEYS_FROM}'")
    engine.sql(
        "INSERT INTO identifiers SELECT event_id, 'customer', "
        "nullif(trim(customer_key, ' \t\n\r\x0b\x0c'), '') FROM events_raw "
        "WHERE nullif(trim(customer_key, ' \t\n\r\x0b\x0c'), '') IS NOT NULL"
    )
    load_events(engine, write(tmp_path / "b.csv", random_rows(11, 40)), MAPPING)
    load_events(engine, write(tmp_path / "c.csv", random_rows(12, 40)), MAPPING)
    assert engine.sql(
        "SELECT value FROM store_meta WHERE key = ?", [CUSTOMER_KEYS_FROM]
    ).fetchall() == [("2",)]
    # The oracle adds every event's key itself: drop the old rows from its input.
    old_rows = engine.sql("SELECT * FROM identifiers WHERE kind = 'customer'").fetchall()
    assert old_rows
    engine.sql("CREATE TABLE kept AS SELECT * FROM identifiers")
    engine.sql("DELETE FROM identifiers WHERE kind = 'customer'")
    expected = oracle(engine)
    engine.sql("DELETE FROM identifiers")
    engine.sql("INSERT INTO identifiers SELECT * FROM kept")
    resolve_identities(engine)
    assert resolved(engine) == expected


def test_without_the_mark_identifiers_are_read_alone() -> None:
    """Tables inserted by hand (fixtures, other tools) are read as they are: keys in
    ``events_raw`` count only for the loads that wrote none into ``identifiers``."""
    engine = Engine.duckdb()
    ensure_store(engine)
    engine.sql(
        "INSERT INTO events_raw (event_id, customer_key, ts, event, source, load_id, seq) "
        "VALUES ('e1', 'k1', TIMESTAMP '2026-01-01', 'visit', 'f', 1, 1)"
    )
    engine.sql("INSERT INTO identifiers VALUES ('e2', 'customer', 'k2')")
    resolve_identities(engine)
    assert engine.sql("SELECT event_id FROM event_customers").fetchall() == [("e2",)]
