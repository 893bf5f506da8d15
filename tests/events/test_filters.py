"""Event scopes: the period syntax, the scope itself, and ``scope_events`` on real DuckDB
checked against the same filtering done by hand in Python."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

import jornada.events
from jornada.engine import Engine
from jornada.events.filters import EventScope, ScopeError, parse_period, scope_events
from jornada.events.rules import RuleError
from tests.events.conftest import create_events

D = dt.date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01..2026-03-31", (D(2026, 1, 1), D(2026, 3, 31))),
        ("2026-01-01..", (D(2026, 1, 1), None)),
        ("..2026-03-31", (None, D(2026, 3, 31))),
        (" 2026-01-01 .. 2026-01-01 ", (D(2026, 1, 1), D(2026, 1, 1))),
        ("2026-03-05", (D(2026, 3, 5), D(2026, 3, 5))),
        ("2026-03", (D(2026, 3, 1), D(2026, 3, 31))),
        ("2026-02", (D(2026, 2, 1), D(2026, 2, 28))),
        ("2024-02", (D(2024, 2, 1), D(2024, 2, 29))),  # leap year
        ("2026-Q1", (D(2026, 1, 1), D(2026, 3, 31))),
        ("2026-q2", (D(2026, 4, 1), D(2026, 6, 30))),
        ("2026-Q3", (D(2026, 7, 1), D(2026, 9, 30))),
        ("2026-Q4", (D(2026, 10, 1), D(2026, 12, 31))),
        ("2026", (D(2026, 1, 1), D(2026, 12, 31))),
        # Each end of a range may be a month, quarter or year: its first or last day.
        ("2026-02..2026-Q2", (D(2026, 2, 1), D(2026, 6, 30))),
        ("2025..", (D(2025, 1, 1), None)),
        ("..2026-02", (None, D(2026, 2, 28))),
    ],
)
def test_period_syntax(text: str, expected: tuple[dt.date | None, dt.date | None]) -> None:
    assert parse_period(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the period is empty"),
        ("..", "neither start nor end"),
        ("2026-02-30", "'2026-02-30' is not a date: day is out of range for month"),
        ("2026-13", "'2026-13' is not a date: month must be in 1..12"),
        ("2026-00-10", "'2026-00-10' is not a date"),
        ("2026-Q5", "cannot read period '2026-Q5': write 2026-01-01..2026-03-31"),
        ("26-01-01", "cannot read period"),
        ("last month", "cannot read period"),
        ("2026-01-01...2026-02-01", "cannot read period"),
        ("2026-03-31..2026-01-01", "ends (2026-01-01) before it starts (2026-03-31)"),
        ("2026-01-01..2026-02-31", "'2026-02-31' in period '2026-01-01..2026-02-31' is not a date"),
        ("2026-Q2..2026-03", "ends (2026-03-31) before it starts (2026-04-01)"),
    ],
)
def test_bad_periods_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ScopeError) as caught:
        parse_period(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_scope_is_normalised_checked_and_described() -> None:
    scope = EventScope(D(2026, 1, 1), D(2026, 3, 31), ("web", "", "app", "web"), "  event = 'x' ")
    assert scope.channels == ("app", "web")
    assert scope.segment == "event = 'x'"
    assert scope == EventScope(D(2026, 1, 1), D(2026, 3, 31), ("app", "web"), "event = 'x'")
    assert scope.to_dict() == {
        "from": "2026-01-01",
        "to": "2026-03-31",
        "channels": ["app", "web"],
        "segment": "event = 'x'",
    }
    assert scope.period == "2026-01-01..2026-03-31"
    assert parse_period(scope.period) == (scope.date_from, scope.date_to)
    assert str(scope) == (
        "2026-01-01..2026-03-31, channels app, web, customers with an event matching event = 'x'"
    )
    assert EventScope(segment="   ").everything
    assert str(EventScope()) == "all events"
    assert EventScope().period is None
    assert EventScope(date_to=D(2026, 1, 1)).period == "..2026-01-01"
    assert not EventScope(segment="event = 'x'").drops_events
    assert EventScope(channels=("web",)).drops_events
    with pytest.raises(ScopeError, match=r"ends \(2026-01-01\) before it starts \(2026-02-01\)"):
        EventScope(D(2026, 2, 1), D(2026, 1, 1))
    with pytest.raises(RuleError, match="unknown field 'plan'"):
        EventScope(segment="plan = 'pro'")


def test_exported_from_the_events_package() -> None:
    for name in ("EventScope", "ScopeError", "parse_period", "scope_events", "PERIOD_SYNTAX"):
        assert name in jornada.events.__all__
        assert getattr(jornada.events, name) is not None


# --- scope_events on DuckDB against Python --------------------------------------------------

T = dt.datetime
ROWS: list[dict[str, Any]] = [
    # c1: before, on both edges of, and after March 2026; an app event only in February.
    {"customer_id": "c1", "ts": T(2026, 2, 28, 23, 59, 59), "event": "a", "channel": "app"},
    {"customer_id": "c1", "ts": T(2026, 3, 1), "event": "b", "channel": "web"},
    {"customer_id": "c1", "ts": T(2026, 3, 1, 0, 10), "event": "c", "channel": "email"},
    {"customer_id": "c1", "ts": T(2026, 3, 31, 23, 59, 59, 999999), "event": "d", "channel": "web"},
    {"customer_id": "c1", "ts": T(2026, 4, 1), "event": "e", "channel": "web"},
    # c2: March only, web only, with two events at the same time (seq orders them).
    {"customer_id": "c2", "ts": T(2026, 3, 10, 9), "event": "b", "channel": "web"},
    {"customer_id": "c2", "ts": T(2026, 3, 10, 9), "event": "c", "channel": "web"},
    {"customer_id": "c2", "ts": T(2026, 3, 10, 9, 5), "event": "d", "channel": None},
    # c3: outside March altogether.
    {"customer_id": "c3", "ts": T(2026, 1, 5), "event": "b", "channel": "app"},
]


def _log(engine: Engine) -> Any:
    """ROWS as a loaded log: the canonical columns plus the path facts the loader derives
    (sessions after 30 minutes; idx, next event and time, position in the session)."""
    rows = [{**row, "seq": seq, "properties": {"n": str(seq)}} for seq, row in enumerate(ROWS)]
    by_customer: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_customer.setdefault(row["customer_id"], []).append(row)
    for customer, path in by_customer.items():
        session, last, in_session = 0, None, 0
        for i, row in enumerate(path):
            if last is not None and row["ts"] - last > dt.timedelta(minutes=30):
                session, in_session = session + 1, 0
            following = path[i + 1] if i + 1 < len(path) else None
            row.update(
                session_id=f"{customer}#{session}",
                idx=i,
                next_event=following["event"] if following else None,
                next_ts=following["ts"] if following else None,
                session_idx=in_session,
            )
            last, in_session = row["ts"], in_session + 1
    create_events(engine, rows, name="scoped_base")
    facts = pa.Table.from_pylist(
        [{k: r[k] for k in ("seq", "idx", "next_event", "next_ts", "session_idx")} for r in rows],
        schema=pa.schema(
            [
                ("seq", pa.int64()),
                ("idx", pa.int64()),
                ("next_event", pa.string()),
                ("next_ts", pa.timestamp("us")),
                ("session_idx", pa.int64()),
            ]
        ),
    )
    engine.duck.register("_facts", facts)
    try:
        engine.sql(
            "create or replace table scoped_log as "
            "select b.*, f.* exclude (seq) from scoped_base b join _facts f using (seq)"
        )
    finally:
        engine.duck.unregister("_facts")
    return engine.table("scoped_log")


def _by_hand(scope: EventScope) -> list[tuple[Any, ...]]:
    """The scope applied in plain Python, path facts recomputed: (seq, idx, next_event,
    next_ts) per kept event, idx from 0 as the loader counts."""
    members = {r["customer_id"] for r in ROWS if r["channel"] == "app"} if scope.segment else None
    kept = []
    for seq, row in enumerate(ROWS):
        day = row["ts"].date()
        if scope.date_from and day < scope.date_from:
            continue
        if scope.date_to and day > scope.date_to:
            continue
        if scope.channels and row["channel"] not in scope.channels:
            continue
        if members is not None and row["customer_id"] not in members:
            continue
        kept.append((seq, row))
    found = []
    for seq, row in kept:
        path = [(s, r) for s, r in kept if r["customer_id"] == row["customer_id"]]
        path.sort(key=lambda p: (p[1]["ts"], p[0]))
        i = [s for s, _ in path].index(seq)
        following = path[i + 1][1] if i + 1 < len(path) else None
        found.append(
            (
                seq,
                i,
                following["event"] if following else None,
                following["ts"] if following else None,
            )
        )
    return sorted(found)


@pytest.mark.parametrize(
    "scope",
    [
        EventScope(D(2026, 3, 1), D(2026, 3, 31)),
        EventScope(D(2026, 3, 1)),
        EventScope(date_to=D(2026, 2, 28)),
        EventScope(channels=("web", "email")),
        EventScope(segment="channel = 'app'"),
        # The segment is who the customers are on the whole log: c1's app event is in
        # February, yet its March events are kept.
        EventScope(D(2026, 3, 1), D(2026, 3, 31), ("web",), "channel = 'app'"),
    ],
    ids=str,
)
def test_scope_events_matches_python(engine: Engine, scope: EventScope) -> None:
    log = _log(engine)
    scoped = scope_events(log, scope)
    got = scoped.select("seq", "idx", "next_event", "next_ts", "session_idx").to_pandas()
    rows = sorted(
        (
            int(r.seq),
            int(r.idx),
            None if r.next_event is None else r.next_event,
            None if r.next_ts is None or str(r.next_ts) == "NaT" else r.next_ts.to_pydatetime(),
        )
        for r in got.itertuples()
    )
    assert rows == _by_hand(scope)
    if scope.drops_events:
        # session_idx counts the kept events of each session from 0, in time order.
        frame = scoped.select("seq", "session_id", "ts", "session_idx").to_pandas()
        for _, session in frame.groupby("session_id"):
            ordered = session.sort_values(["ts", "seq"])
            assert ordered.session_idx.tolist() == list(range(len(ordered)))


def test_scope_keeping_everything_is_the_table_itself(engine: Engine) -> None:
    log = _log(engine)
    assert scope_events(log, EventScope()) is log
    assert scope_events(log, EventScope(D(2026, 3, 1), D(2026, 3, 31))).count().execute() == 6


@pytest.mark.parametrize(
    "scope",
    [EventScope(D(2026, 3, 1), D(2026, 3, 31)), EventScope(channels=("web", "app"))],
    ids=str,
)
def test_scope_events_recomputes_session_last_and_drops_first_pair(
    engine: Engine, scope: EventScope
) -> None:
    log = _log(engine)
    stored = log.mutate(session_last=False, first_pair=True)  # as a store has them
    scoped = scope_events(stored, scope)
    # first_pair is not recomputed (a costly window of its own): analyses fall back.
    assert "first_pair" not in scoped.columns
    frame = scoped.select("seq", "session_id", "ts", "session_last").to_pandas()
    for _, session in frame.groupby("session_id"):
        ordered = session.sort_values(["ts", "seq"])
        assert ordered.session_last.tolist() == [False] * (len(ordered) - 1) + [True]
