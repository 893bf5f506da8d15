"""A load rebuilds only the customers it touched, in place (``store._rebuild_touched``):
the tables must be those of a whole rebuild of the same raw rows, row for row.

The reference is the store's own whole rebuild (``incremental=False``), itself checked
against brute-force oracles elsewhere; here random logs, split into several loads, bring
merges across loads (an e-mail seen with two customer keys), identifiers that become
flagged (more keys than ``max_keys_per_identifier``), source session ids that come back,
timestamp ties, duplicates and bad rows."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jornada.engine import Engine, store
from jornada.engine.store import ensure_store, mark_rebuild_pending, rebuild_derived
from jornada.events.identity import resolve_identities
from jornada.events.load import ColumnMapping, load_events, load_profiles

MAPPING = ColumnMapping(
    customer="key",
    time="when",
    event="what",
    channel="channel",
    session="session",
    value="amount",
    id="id",
    identities={"email": "email"},
)
HEADER = ["id", "key", "when", "what", "channel", "session", "amount", "email", "page"]
START = dt.datetime(2026, 1, 1, 9)


def resolver(max_keys: int) -> Callable[[Engine], None]:
    def resolve(engine: Engine) -> None:
        resolve_identities(engine, max_keys_per_identifier=max_keys)

    return resolve


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def snapshot(engine: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every row of ``events`` and ``customers``, in a fixed order (maps as text)."""
    events = engine.sql("SELECT * FROM events ORDER BY customer_id, idx").fetchall()
    customers = engine.sql("SELECT * FROM customers ORDER BY customer_id").fetchall()
    return [tuple(map(repr, row)) for row in events], [tuple(map(repr, row)) for row in customers]


def events_table(engine: Engine) -> object:
    return engine.sql(
        "SELECT table_oid FROM duckdb_tables() WHERE table_name = 'events'"
    ).fetchone()


def whole_rebuild(engine: Engine, max_keys: int) -> None:
    mark_rebuild_pending(engine)
    rebuild_derived(engine, resolve=resolver(max_keys), session_gap_seconds=1800, incremental=False)


ROW = st.tuples(
    st.integers(0, 30),  # event id (repeats are duplicates)
    st.sampled_from(["k1", "k2", "k3", "k4", "k5", ""]),  # customer key ("" is bad)
    st.integers(0, 90),  # minutes after START (ties and gaps past 30 minutes)
    st.sampled_from(["view", "cart", "buy"]),
    st.sampled_from(["web", "app", ""]),
    st.sampled_from(["", "", "s1", "s2"]),  # source session ids, most rows without
    st.sampled_from(["", "10", "2.5"]),
    st.sampled_from(["", "", "a@x.org", "b@x.org", "shop@x.org"]),
    st.sampled_from(["", "/p", "/q"]),
)


def as_csv(row: tuple[Any, ...]) -> list[str]:
    number, key, minutes, what, channel, session, amount, email, page = row
    when = (START + dt.timedelta(minutes=minutes)).isoformat()
    return [f"e{number}", key, when, what, channel, session, amount, email, page]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    batches=st.lists(st.lists(ROW, min_size=1, max_size=12), min_size=2, max_size=4),
    max_keys=st.sampled_from([1, 2, 20]),
)
def test_each_load_rebuilds_the_touched_customers_as_a_whole_rebuild_would(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    batches: list[list[tuple[Any, ...]]],
    max_keys: int,
) -> None:
    # Every load in place, however many customers it touches: the path under test.
    monkeypatch.setattr(store, "TOUCHED_SHARE", 1.0)
    folder = tmp_path_factory.mktemp("loads")
    engine = Engine.duckdb()
    ensure_store(engine)
    stored = False  # some event is stored already
    for number, batch in enumerate(batches):
        before = events_table(engine)
        path = write(folder / f"load{number}.csv", [as_csv(row) for row in batch])
        result = load_events(engine, path, MAPPING, after_insert=resolver(max_keys))
        if stored and result.loaded:
            # Not replaced: rebuilt in place (the first events of a store are built whole).
            assert events_table(engine) == before
        stored = stored or result.loaded > 0
    rebuilt_in_place = snapshot(engine)
    whole_rebuild(engine, max_keys)
    assert rebuilt_in_place == snapshot(engine)


def test_a_merge_across_loads_rebuilds_both_customers_and_renumbers_the_rest(
    tmp_path: Path,
) -> None:
    engine = Engine.duckdb()
    ensure_store(engine)
    others = [
        [f"o{k}", f"k{k + 10}", "2026-01-01T08:00:00", "view", "web", "", "", "", ""]
        for k in range(20)
    ]
    first = [
        ["e1", "k1", "2026-01-01T09:00:00", "view", "web", "", "", "a@x.org", ""],
        ["e2", "k2", "2026-01-01T09:05:00", "view", "app", "", "", "b@x.org", ""],
        *others,
    ]
    load_events(engine, write(tmp_path / "1.csv", first), MAPPING, after_insert=resolver(20))
    assert engine.sql("SELECT count(DISTINCT customer_id) FROM events").fetchone() == (22,)
    before = events_table(engine)
    # k2 now seen with a@x.org: k1 and k2 are one customer; k0 is a new one.
    second = [
        ["e4", "k2", "2026-01-01T09:10:00", "buy", "web", "", "5", "a@x.org", ""],
        ["e5", "k0", "2026-01-01T08:00:00", "view", "web", "", "", "", ""],
    ]
    load_events(engine, write(tmp_path / "2.csv", second), MAPPING, after_insert=resolver(20))
    assert events_table(engine) == before  # in place: 5 of 24 events touched
    merged = engine.sql(
        "SELECT list(event_id ORDER BY idx) FROM events GROUP BY customer_id HAVING count(*) > 1"
    ).fetchall()
    assert merged == [(["e1", "e2", "e4"],)]
    # Numbered 1..N in customer_id order, the new customer among the others.
    numbers = engine.sql(
        "SELECT DISTINCT customer_id, customer_no FROM events ORDER BY customer_id"
    ).fetchall()
    assert [number for _, number in numbers] == list(range(1, 23))
    in_place = snapshot(engine)
    whole_rebuild(engine, 20)
    assert in_place == snapshot(engine)


def test_a_load_touching_most_customers_rebuilds_everything(tmp_path: Path) -> None:
    engine = Engine.duckdb()
    ensure_store(engine)
    first = [["e1", "k1", "2026-01-01T09:00:00", "view", "web", "", "", "", ""]]
    load_events(engine, write(tmp_path / "1.csv", first), MAPPING, after_insert=resolver(20))
    before = events_table(engine)
    second = [["e2", "k1", "2026-01-01T09:10:00", "buy", "web", "", "", "", ""]]
    load_events(engine, write(tmp_path / "2.csv", second), MAPPING, after_insert=resolver(20))
    # Its one customer holds every event: past TOUCHED_SHARE, the table is made anew.
    assert events_table(engine) != before
    assert engine.sql("SELECT list(event_id ORDER BY idx) FROM events").fetchone() == (
        ["e1", "e2"],
    )


def test_a_customer_file_changes_the_customers_it_links_in_place(tmp_path: Path) -> None:
    """A customer file merges two customers (an e-mail of one, the key of the other),
    then, loaded again
    with another attribute, changes no event but the customer's attributes: both
    rebuilt in place, as the whole rebuild makes them."""

    def resolve(engine: Engine) -> None:
        profiles = engine.sql("SELECT count(*) > 0 FROM profiles").fetchone()
        resolve_identities(engine, profiles="profiles" if profiles and profiles[0] else None)

    engine = Engine.duckdb()
    ensure_store(engine)
    rows = [
        ["e1", "k1", "2026-01-01T09:00:00", "view", "web", "", "", "a@x.org", ""],
        ["e2", "k2", "2026-01-01T09:05:00", "buy", "app", "", "5", "b@x.org", ""],
        *(
            [f"o{k}", f"k{k + 10}", "2026-01-01T08:00:00", "view", "web", "", "", "", ""]
            for k in range(20)
        ),
    ]
    load_events(engine, write(tmp_path / "events.csv", rows), MAPPING, after_insert=resolve)
    before = events_table(engine)

    def crm(plan: str) -> Path:
        path = tmp_path / "crm.csv"  # the same file again: its profiles replaced
        path.write_text(f"crm,mail,key,plan\nc1,a@x.org,k2,{plan}\n", encoding="utf-8")
        return path

    for plan in ("pro", "free"):
        load_profiles(
            engine,
            crm(plan),
            id_column="crm",
            identities={"email": "mail", "customer": "key"},
            after_insert=resolve,
        )
        assert events_table(engine) == before  # in place
        merged = engine.sql(
            "SELECT attributes['plan'], events FROM customers WHERE events > 1"
        ).fetchall()
        assert merged == [(plan, 2)]
        in_place = snapshot(engine)
        mark_rebuild_pending(engine)
        rebuild_derived(engine, resolve=resolve, session_gap_seconds=1800, incremental=False)
        assert in_place == snapshot(engine)
        before = events_table(engine)


def test_more_touched_events_than_one_range_rebuild_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past one range of the ranged rebuild (``range_rows``, sized by the memory limit)
    the touched customers are not rebuilt in one statement: the whole, ranged rebuild
    runs, whatever the share."""
    monkeypatch.setattr(store, "TOUCHED_SHARE", 1.0)
    engine = Engine.duckdb()
    ensure_store(engine)

    def events(prefix: str, customers: int) -> pa.Table:
        return pa.table(
            {
                "id": [f"{prefix}{k}" for k in range(customers)],
                "key": [f"k{k}" for k in range(customers)],
                "when": [f"2026-01-01T09:{k % 60:02d}:00" for k in range(customers)],
                "what": ["view"] * customers,
            }
        )

    def stopped(engine: Engine) -> None:  # the load lands; its rebuild is left pending
        raise RuntimeError("stopped before the rebuild")

    mapping = ColumnMapping(customer="key", time="when", event="what", id="id")
    load_events(engine, events("a", 600), mapping)
    before = events_table(engine)
    for prefix, customers, in_place in (("b", 10, True), ("c", 700, False)):
        with pytest.raises(RuntimeError):
            load_events(engine, events(prefix, customers), mapping, after_insert=stopped)
        # b touches 20 events, c 1,310: past a range of 1,000.
        rebuild_derived(engine, resolve=None, session_gap_seconds=1800, range_rows=1_000)
        assert (events_table(engine) == before) is in_place
    assert engine.sql("SELECT count(*), max(idx) FROM events").fetchone() == (1_310, 2)
