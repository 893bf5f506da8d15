"""``customers`` built in ranges of customers equals the one-statement build it replaced
(``count(DISTINCT session_id)``, identifier lists sorted): on a real store with source
session ids that recur apart, identifiers of several kinds merging customers, and a
customer file's attributes; on random logs; and on an ``events`` table without
``customer_no`` (a store older than version 3)."""

from __future__ import annotations

import csv
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from jornada.engine import Engine
from jornada.engine.store import ensure_store, materialise_customers, materialise_events
from jornada.events.load import ColumnMapping
from jornada.workspace import Workspace

# The build before ranges, kept as the oracle: one statement, a distinct aggregate.
ONE_STATEMENT = """
    SELECT e.customer_id, e.first_seen, e.last_seen, e.events, e.sessions,
        i.identifiers, a.attributes
    FROM (
        SELECT customer_id, min(ts) AS first_seen, max(ts) AS last_seen,
               count(*) AS events, count(DISTINCT session_id) AS sessions
        FROM events GROUP BY customer_id
    ) AS e
    LEFT JOIN (
        SELECT customer_id, map_from_entries(list({'k': kind, 'v': values})) AS identifiers
        FROM (SELECT customer_id, kind, list(value ORDER BY value) AS values
              FROM identity_map GROUP BY ALL)
        GROUP BY customer_id
    ) AS i USING (customer_id)
    LEFT JOIN (
        SELECT m.customer_id, arg_min(c.attributes, c.profile_id) AS attributes
        FROM profiles AS p
        JOIN identity_map AS m ON m.kind = p.kind AND m.value = p.value
        JOIN customer_profiles AS c USING (profile_id)
        GROUP BY m.customer_id
    ) AS a USING (customer_id)
"""
# The old build's map entries came in no particular order: compared sorted.
CANONICAL = (
    "customer_id, first_seen, last_seen, events, sessions, "
    "list_sort(map_entries(identifiers)) AS identifiers, map_entries(attributes) AS attributes"
)

HEADER = ["user", "when", "what", "sess", "mail", "phone", "device"]
EVENTS = [
    # u1: session s1, then s2, then s1 again (3 stretches, 2 sessions), one e-mail.
    ["u1", "2026-01-01T10:00:00Z", "visit", "s1", "ana@x.com", "", "d1"],
    ["u1", "2026-01-01T10:01:00Z", "view", "s1", "", "", "d1"],
    ["u1", "2026-01-01T10:02:00Z", "view", "s2", "", "", ""],
    ["u1", "2026-01-01T10:03:00Z", "buy", "s1", "", "", "d1"],
    # u4 shares u1's e-mail: one customer with both keys and two devices.
    ["u4", "2026-01-05T08:00:00Z", "visit", "s9", "ANA@x.com", "", "d4"],
    ["u4", "2026-01-05T08:10:00Z", "visit", "s1", "", "", "d4"],
    # u2: no source session (sessions cut at 30-minute gaps), a phone.
    ["u2", "2026-01-02T09:00:00Z", "visit", "", "", "+55 11 91234-5678", ""],
    ["u2", "2026-01-02T09:20:00Z", "view", "", "", "", ""],
    ["u2", "2026-01-02T11:00:00Z", "view", "", "", "", ""],
    ["u2", "2026-01-02T11:05:00Z", "buy", "s7", "", "", ""],
    ["u2", "2026-01-02T11:06:00Z", "view", "", "", "", ""],
    # u3: one event, nothing but its key; u5: a session id that another customer uses.
    ["u3", "2026-01-03T12:00:00Z", "visit", "", "", "", ""],
    ["u5", "2026-01-04T12:00:00Z", "visit", "s2", "", "", "d5"],
    ["u5", "2026-01-04T12:00:00Z", "view", "s2", "bo@x.com", "", "d5"],
]
PROFILES = [
    ["crm_id", "email", "phone", "segment", "city"],
    ["P1", "ana@x.com", "", "runner", "Lisboa"],
    ["P2", "", "11912345678", "casual", "São Paulo"],
    ["P3", "nobody@x.com", "", "lost", "Porto"],
]


def rows(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    return engine.sql(sql).fetchall()


def write(path: Path, table: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(table)
    return path


def workspace(tmp_path: Path) -> Workspace:
    opened = Workspace.init(tmp_path / "ws")
    mapping = ColumnMapping(
        customer="user",
        time="when",
        event="what",
        session="sess",
        identities={"email": "mail", "phone": "phone", "device": "device"},
    )
    opened.load(write(tmp_path / "events.csv", [HEADER, *EVENTS]), mapping)
    opened.load_customers(
        write(tmp_path / "customers.csv", PROFILES),
        id_column="crm_id",
        identities={"email": "email", "phone": "phone"},
    )
    return opened


def entries(column: object) -> dict[object, object]:
    """A map column read through ``map_entries``, as a dict."""
    assert isinstance(column, list)
    return {entry["key"]: entry["value"] for entry in column}


def oracle(engine: Engine) -> list[tuple[object, ...]]:
    return rows(engine, f"SELECT {CANONICAL} FROM ({ONE_STATEMENT}) ORDER BY customer_id")


def built(engine: Engine) -> list[tuple[object, ...]]:
    """``customers`` in its own order (ranges are appended in customer order)."""
    return rows(engine, f"SELECT {CANONICAL} FROM customers")


def test_ranges_equal_the_one_statement_build(tmp_path: Path) -> None:
    engine = workspace(tmp_path).engine
    expected = oracle(engine)
    # The store is what the test is about: customers merged, sessions recurring.
    assert len(expected) == 4
    ana = next(row for row in expected if row[3] == 6)
    # s1, s2, s1, s9, s1: five stretches of three sessions for the merged customer, each
    # session with one first event (decision 0006; a stretch each before store version 4).
    starts = engine.sql(
        "SELECT count(*) FROM events WHERE session_idx = 0 AND customer_id = ?", [ana[0]]
    ).fetchall()
    stretches = engine.sql(
        "SELECT count(*) FROM (SELECT session_id IS DISTINCT FROM lag(session_id) OVER "
        "(ORDER BY idx) AS starts FROM events WHERE customer_id = ?) WHERE starts",
        [ana[0]],
    ).fetchall()
    assert (ana[4], starts, stretches) == (3, [(3,)], [(5,)])
    assert entries(ana[5])["device"] == ["d1", "d4"]
    assert entries(ana[6]) == {"segment": "runner", "city": "Lisboa"}
    phone = next(row for row in expected if row[3] == 5)
    assert phone[4] == 4  # two cut by the gap, s7, and the stretch after s7
    assert entries(phone[6])["city"] == "São Paulo"
    assert sorted(row[4] for row in expected) == [1, 1, 3, 4]
    for range_rows in (1, 2, 3, 5, 10**9):
        materialise_customers(engine, range_rows=range_rows)
        assert built(engine) == expected, range_rows
        # The map's kinds are in order now (they were in no particular order).
        for (identifiers,) in rows(engine, "SELECT map_keys(identifiers) FROM customers"):
            assert identifiers == sorted(identifiers)
    tables = {name for (name,) in rows(engine, "SELECT table_name FROM duckdb_tables()")}
    assert "_rebuild_customers" not in tables
    types = rows(
        engine, "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'customers'"
    )
    assert [kind for _, kind in types] == [
        "VARCHAR", "TIMESTAMP", "TIMESTAMP", "BIGINT", "BIGINT",
        "MAP(VARCHAR, VARCHAR[])", "MAP(VARCHAR, VARCHAR)",
    ]  # fmt: skip


def test_events_without_customer_numbers_build_in_one_range(tmp_path: Path) -> None:
    engine = workspace(tmp_path).engine
    expected = oracle(engine)
    engine.sql(
        "CREATE OR REPLACE TABLE events AS SELECT * EXCLUDE (customer_no, session_idx) FROM events"
    )
    materialise_customers(engine, range_rows=1)
    assert built(engine) == expected


def test_an_empty_store_has_an_empty_customers_table() -> None:
    engine = Engine.duckdb()
    ensure_store(engine)
    materialise_customers(engine, range_rows=1)
    assert rows(engine, "SELECT count(*) FROM customers") == [(0,)]


# Random logs: few customers and session ids, so ids recur within and across customers,
# some equal to the ids the rebuild makes up for events without one (customer '#' n).
EVENT_ROWS = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]),
        st.integers(0, 200),
        st.sampled_from([None, None, "s1", "s2", "a#1", "a#2", "b#1"]),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(events=EVENT_ROWS, range_rows=st.integers(1, 12))
def test_random_logs_count_sessions_as_a_distinct_count(
    events: list[tuple[str, int, str | None]], range_rows: int
) -> None:
    engine = Engine.duckdb()
    ensure_store(engine)
    for seq, (customer, minutes, session) in enumerate(events):
        engine.sql(
            "INSERT INTO events_raw (event_id, customer_key, ts, event, source_session,"
            " source, load_id, seq) VALUES (?, ?, TIMESTAMP '2026-01-01'"
            " + to_minutes(CAST(? AS BIGINT)), 'view', ?, 'f', 1, ?)",
            [f"e{seq}", customer, minutes, session, seq],
        )
    materialise_events(engine, session_gap_seconds=1800)
    materialise_customers(engine, range_rows=range_rows)
    expected = rows(
        engine,
        "SELECT customer_id, min(ts), max(ts), count(*), count(DISTINCT session_id), "
        "NULL, NULL FROM events GROUP BY customer_id ORDER BY customer_id",
    )
    assert rows(engine, "SELECT * FROM customers") == expected
