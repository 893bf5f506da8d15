"""The per-event facts ``first_pair`` and the session facts (engine/store.py): analyses
reading them agree with their fallbacks on events without them, and an older store gets
them when its workspace opens."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jornada.analytics.kpis import kpis
from jornada.analytics.paths import transitions
from jornada.engine.store import FACTS, STORE_VERSION, materialise_events
from jornada.events.filters import EventScope, scope_events
from jornada.events.load import ColumnMapping
from jornada.workspace import Workspace
from tests.analytics.conftest import EventLog, minutes
from tests.analytics.test_kpis import event_specs, random_row
from tests.analytics.test_paths import logs

MakeLog = Callable[..., EventLog]


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=logs(source_sessions=False), with_start_end=st.booleans())
def test_transitions_with_and_without_first_pair(
    make_log: MakeLog, rows: list[Any], with_start_end: bool
) -> None:
    table = make_log(rows).table
    assert "first_pair" in table.columns
    fast = transitions(table, with_start_end=with_start_end)
    slow = transitions(table.drop("first_pair"), with_start_end=with_start_end)
    assert fast.to_dict() == slow.to_dict()


VISITS = ["bounce_rate", "pages_per_visit", "session_duration", "time_on_page"]


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    specs=st.lists(event_specs, min_size=1, max_size=24),
    by=st.sampled_from([None, "channel"]),
    period=st.sampled_from([None, "week"]),
)
def test_visits_with_and_without_session_last(
    make_log: MakeLog, specs: list[Any], by: Any, period: Any
) -> None:
    table = make_log([random_row(spec) for spec in specs]).table
    assert "session_last" in table.columns
    fast = kpis(table, by=by, period=period, only=VISITS)
    slow = kpis(table.drop("session_start", "session_next_ts"), by=by, period=period, only=VISITS)
    assert fast.to_dict() == slow.to_dict()


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=logs(source_sessions=True))
def test_scoped_events_get_the_stores_facts(make_log: MakeLog, rows: list[Any]) -> None:
    """A scope that may drop events recomputes the path facts; when it keeps them all,
    they are the store's, source session ids that come back later included."""
    table = make_log(rows).table
    everything = EventScope(date_from=dt.date(2000, 1, 1))
    assert everything.drops_events
    facts = ["seq", "idx", "next_event", "next_ts", "session_idx", "session_last"]
    facts += ["session_start", "session_next_ts"]
    stored = table.select(*facts).order_by("seq").to_pyarrow().to_pylist()
    scoped = scope_events(table, everything).select(*facts).order_by("seq")
    assert scoped.to_pyarrow().to_pylist() == stored


def test_a_store_without_the_facts_gets_them_when_opened(tmp_path: Path) -> None:
    source = tmp_path / "events.csv"
    source.write_text(
        "user,ts,name\n"
        + "".join(f"u{i % 3},{minutes(i * 17)},{'abc'[i % 2 + i % 3 // 2]}\n" for i in range(30)),
        encoding="utf-8",
    )
    workspace = Workspace.init(tmp_path / "ws")
    workspace.load(source, ColumnMapping(customer="user", time="ts", event="name"))
    order = "ORDER BY customer_id, idx"
    built = workspace.engine.sql(f"SELECT * FROM events {order}").fetchall()
    # As a store of version 1 left it: no session_last, no first_pair, no customer_no.
    workspace.engine.sql(
        "CREATE OR REPLACE TABLE events AS "
        "SELECT * EXCLUDE (session_last, first_pair, customer_no) FROM events"
    )
    workspace.engine.sql("INSERT OR REPLACE INTO store_meta VALUES ('store_version', '1')")
    workspace.close()

    reopened = Workspace.open(tmp_path / "ws")
    try:
        assert set(FACTS) <= set(reopened.events().columns)
        assert reopened.engine.sql(f"SELECT * FROM events {order}").fetchall() == built
        version = reopened.engine.sql(
            "SELECT value FROM store_meta WHERE key = 'store_version'"
        ).fetchone()
        assert version == (str(STORE_VERSION),)
    finally:
        reopened.close()


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=logs(source_sessions=False))
def test_customer_numbers_are_one_per_customer_in_id_order(
    make_log: MakeLog, rows: list[Any]
) -> None:
    table = make_log(rows).table

    def pairs_of(events: Any) -> set[tuple[str, int]]:
        rows = events.select("customer_id", "customer_no").to_pyarrow().to_pylist()
        return {(row["customer_id"], row["customer_no"]) for row in rows}

    pairs = pairs_of(table)
    by_id = sorted(pairs)
    assert len({customer for customer, _ in pairs}) == len(pairs)
    assert [no for _, no in by_id] == list(range(1, len(by_id) + 1))
    # A scope keeps the number: it names the customer, not a position in a path.
    everything = EventScope(date_from=dt.date(2000, 1, 1))
    assert pairs_of(scope_events(table, everything)) == pairs


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=logs(source_sessions=True), range_rows=st.integers(min_value=1, max_value=6))
def test_events_built_in_ranges_of_customers_are_the_same_rows(
    make_log: MakeLog, rows: list[Any], range_rows: int
) -> None:
    """Past ``range_rows`` events the store builds ``events`` a range of customers at a
    time: the same rows, facts, customer numbers and physical order as in one go. The
    payload comes from the loaded store's ``events`` (its raw rows hold only keys)."""
    engine = make_log(rows).engine
    whole = engine.sql("SELECT * FROM events").fetchall()  # in stored order
    materialise_events(engine, session_gap_seconds=1800, range_rows=range_rows)
    assert engine.sql("SELECT * FROM events").fetchall() == whole
    assert not {"_rebuild_events", "_rebuild_keys", "_rebuild_numbers"} & set(
        engine.duck.sql("SELECT table_name FROM duckdb_tables()").fetchnumpy()["table_name"]
    )


def test_a_store_without_a_version_row_and_facts_is_rebuilt(tmp_path: Path) -> None:
    """A store older than the version row: opening it must not stamp it current."""
    source = tmp_path / "events.csv"
    source.write_text("user,ts,name\nu1,2026-01-01T10:00:00Z,a\nu1,2026-01-01T10:05:00Z,b\n")
    workspace = Workspace.init(tmp_path / "ws")
    workspace.load(source, ColumnMapping(customer="user", time="ts", event="name"))
    workspace.engine.sql(
        "CREATE OR REPLACE TABLE events AS "
        "SELECT * EXCLUDE (session_last, first_pair, customer_no) FROM events"
    )
    workspace.engine.sql("DELETE FROM store_meta WHERE key = 'store_version'")
    workspace.close()
    reopened = Workspace.open(tmp_path / "ws")
    try:
        assert set(FACTS) <= set(reopened.events().columns)
    finally:
        reopened.close()
