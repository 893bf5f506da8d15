"""Narrow loads (docs/decisions/0004): each event's payload is held once at rest, in
``events``; rebuilds after later loads, identity merges and interrupted loads still
give every event its own payload."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from jornada.engine import Engine
from jornada.engine.store import STORE_VERSION, ensure_store, store_outdated
from jornada.events.load import ColumnMapping, load_events
from jornada.workspace import Workspace

MAPPING = ColumnMapping(
    customer="user",
    time="when",
    event="what",
    channel="via",
    value="amount",
    identities={"email": "mail"},
)
HEADER = ["user", "when", "what", "via", "amount", "mail", "page"]
PAYLOAD = ("channel", "value", "cost", "text", "score", "properties", "identifiers")
# Every column of ``events`` but the ones naming the load a row came from.
COMPARED = (
    "event_id, customer_id, ts, event, channel, session_id, value, cost, text, score, "
    "properties, customer_key, identifiers, idx, next_event, next_ts, session_idx, "
    "session_last, session_start, session_next_ts, first_pair, customer_no"
)

FIRST = [
    ["a1", "2026-01-01T10:00:00Z", "visit", "web", "", "ana@x.com", "/home"],
    ["a1", "2026-01-01T10:05:00Z", "buy", "web", "10.5", "", "/cart"],
    ["b1", "2026-01-01T11:00:00Z", "visit", "app", "", "bia@x.com", "/home"],
    ["c1", "2026-01-02T09:00:00Z", "visit", "email", "", "", "/promo"],
    ["c1", "2026-01-02T09:01:00Z", "view", "email", "", "", ""],
]
# Links b1 to a1 (one e-mail seen on a b1 event) and c1 to a new key: customers of the
# first file merge, so every customer id and fact of its events may change.
SECOND = [
    ["b1", "2026-01-03T08:00:00Z", "visit", "web", "", "ANA@x.com", "/again"],
    ["c2", "2026-01-03T09:00:00Z", "buy", "store", "99", "", "/shop"],
    ["c1", "2026-01-03T09:30:00Z", "visit", "store", "", "", "/shop"],
]


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    return engine.sql(sql).fetchall()


def events(engine: Engine) -> list[tuple[object, ...]]:
    return rows(engine, f"SELECT {COMPARED} FROM events ORDER BY event_id")


def payload_held_once(engine: Engine) -> None:
    """Every stored event is in ``events_raw`` (keys) and ``events``, its payload in
    ``events`` only."""
    assert rows(engine, "SELECT count(*) FROM events_staged") == [(0,)]
    somewhere = " OR ".join(f"{column} IS NOT NULL" for column in PAYLOAD)
    assert rows(engine, f"SELECT count(*) FROM events_raw WHERE {somewhere}") == [(0,)]
    assert rows(
        engine,
        "SELECT count(*) FROM events_raw FULL JOIN events USING (event_id) "
        "WHERE events_raw.event_id IS NULL OR events.event_id IS NULL",
    ) == [(0,)]


def test_after_two_loads_each_payload_is_held_once(tmp_path: Path) -> None:
    workspace = Workspace.init(tmp_path / "ws")
    workspace.load(write(tmp_path / "first.csv", FIRST), MAPPING)
    payload_held_once(workspace.engine)
    workspace.load(write(tmp_path / "second.csv", SECOND), MAPPING)
    payload_held_once(workspace.engine)
    assert rows(workspace.engine, "SELECT count(*) FROM events") == [(8,)]
    # The first file's payload came back from ``events`` itself in the second rebuild.
    assert rows(
        workspace.engine,
        "SELECT channel, value, properties['page'], identifiers['email'] FROM events "
        "WHERE customer_key = 'a1' ORDER BY ts",
    ) == [("web", None, "/home", "ana@x.com"), ("web", 10.5, "/cart", None)]
    workspace.close()


def test_a_later_merge_and_reloads_give_the_events_of_a_fresh_load(tmp_path: Path) -> None:
    first = write(tmp_path / "first.csv", FIRST)
    second = write(tmp_path / "second.csv", SECOND)
    both = write(tmp_path / "both.csv", FIRST + SECOND)
    stepwise = Workspace.init(tmp_path / "stepwise")
    stepwise.load(first, MAPPING)
    before = events(stepwise.engine)
    stepwise.load(second, MAPPING)
    again = [stepwise.load(first, MAPPING), stepwise.load(both, MAPPING)]
    assert [(r.loaded, r.duplicates) for r in again] == [(0, 5), (0, 8)]
    fresh = Workspace.init(tmp_path / "fresh")
    fresh.load(both, MAPPING)
    after = events(stepwise.engine)
    assert after == events(fresh.engine)
    # The merge did change the first file's events (a1 and b1 became one customer).
    assert after != before
    assert rows(stepwise.engine, "SELECT count(DISTINCT customer_id) FROM events") == [(3,)]
    payload_held_once(stepwise.engine)
    stepwise.close()
    fresh.close()


def test_a_load_stopped_before_its_rebuild_is_finished_when_reopened(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    workspace = Workspace.init(root)
    workspace.load(write(tmp_path / "first.csv", FIRST), MAPPING)
    engine = workspace.engine

    def stopped(_engine: Engine) -> None:  # as if the process died after the load commit
        raise RuntimeError("stopped")

    with pytest.raises(RuntimeError, match="stopped"):
        load_events(engine, write(tmp_path / "second.csv", SECOND), MAPPING, after_insert=stopped)
    assert rows(engine, "SELECT count(*) FROM events_staged") == [(3,)]
    assert rows(engine, "SELECT count(*) FROM events") == [(5,)]
    workspace.close()

    reopened = Workspace.open(root)
    fresh = Workspace.init(tmp_path / "fresh")
    fresh.load(write(tmp_path / "both.csv", FIRST + SECOND), MAPPING)
    assert events(reopened.engine) == events(fresh.engine)
    payload_held_once(reopened.engine)
    reopened.close()
    fresh.close()


def test_rows_after_refused_csv_rows_keep_their_own_payload(tmp_path: Path) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(
        b"user,when,what,via,amount,mail,page\n"
        b"u1,2026-01-01T10:00:00Z,visit,web,1,,/one\n"
        b"u2,2026-01-01T10:00:00Z,visit,web,2,,/two,EXTRA\n"  # refused by the reader
        b"u3,2026-01-01T10:00:00Z,visit,app,3,,/three\n"
        b"u4,2026-01-01T10:00:00Z,,app,4,,/four\n"  # quarantined: no event
        b"u5,2026-01-01T10:00:00Z,visit,shop,5,,/five\n"
    )
    engine = Engine.duckdb()
    ensure_store(engine)
    result = load_events(engine, path, MAPPING)
    assert (result.loaded, result.quarantined) == (3, 2)
    assert rows(
        engine, "SELECT customer_key, channel, value, properties['page'] FROM events ORDER BY 1"
    ) == [("u1", "web", 1.0, "/one"), ("u3", "app", 3.0, "/three"), ("u5", "shop", 5.0, "/five")]
    assert rows(engine, "SELECT seq FROM events_raw ORDER BY seq") == [(1,), (3,), (5,)]


def test_a_store_written_whole_into_events_raw_is_rebuilt_from_it(tmp_path: Path) -> None:
    """Stores made before narrow loads (and test fixtures) hold the payload in
    ``events_raw``: a rebuild takes it from there, then holds it once."""
    workspace = Workspace.init(tmp_path / "ws")
    workspace.load(write(tmp_path / "first.csv", FIRST), MAPPING)
    engine = workspace.engine
    built = events(engine)
    engine.sql("DELETE FROM store_meta WHERE key = 'absorbed_load'")
    engine.sql(
        "UPDATE events_raw AS r SET "
        + ", ".join(f"{column} = e.{column}" for column in PAYLOAD)
        + " FROM events AS e WHERE e.event_id = r.event_id"
    )
    engine.sql("CREATE OR REPLACE TABLE events AS SELECT * EXCLUDE (properties) FROM events")
    engine.sql("INSERT OR REPLACE INTO store_meta VALUES ('store_version', '2')")
    workspace.close()
    reopened = Workspace.open(tmp_path / "ws")
    assert events(reopened.engine) == built
    assert rows(reopened.engine, "SELECT value FROM store_meta WHERE key = 'absorbed_load'") == [
        ("1",)
    ]
    reopened.close()


def test_the_store_version_row_says_whether_a_store_is_outdated() -> None:
    engine = Engine.duckdb()
    ensure_store(engine)
    assert not store_outdated(engine)
    engine.sql("UPDATE store_meta SET value = ? WHERE key = 'store_version'", [STORE_VERSION - 1])
    assert store_outdated(engine)  # every fact column is there: the row decides
    # Without the row (a store older than it), a missing fact column says it.
    engine.sql("DELETE FROM store_meta WHERE key = 'store_version'")
    assert not store_outdated(engine)
    engine.sql("CREATE OR REPLACE TABLE events AS SELECT * EXCLUDE (customer_no) FROM events")
    assert store_outdated(engine)
