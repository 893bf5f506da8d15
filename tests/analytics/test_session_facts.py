"""The store's session facts (engine/store.py, decision 0006) against a brute-force oracle:
a session is a customer's events sharing one ``session_id``, wherever they fall in the
path, on random logs whose source session ids come back (A, B, A), interleave, are shared
between customers and mix with sessions derived from time gaps."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jornada.engine.store import materialise_events
from jornada.events.filters import EventScope, scope_events
from tests.analytics.conftest import EventLog, minutes

MakeLog = Callable[..., EventLog]

SESSION_FACTS = ("session_idx", "session_last", "session_start", "session_next_ts")


@st.composite
def logs(draw: st.DrawFn) -> list[Any]:
    rows: list[Any] = []
    for customer in draw(st.lists(st.sampled_from("abc"), min_size=1, max_size=3, unique=True)):
        for _ in range(draw(st.integers(1, 9))):
            # ties, gaps under and over the 30-minute session gap
            moment = draw(st.sampled_from([0, 0, 1, 2.5, 40, 41, 100, 200]))
            # "" leaves the session to the time gaps: derived and source ids mixed
            session = draw(st.sampled_from(["s1", "s2", "s3", ""]))
            rows.append(
                (customer, minutes(moment), draw(st.sampled_from("xyz")), {"session": session})
            )
    return rows


def oracle(rows: list[dict[str, Any]]) -> dict[int, tuple[Any, ...]]:
    """Per event (by ``seq``) its session facts, from the events grouped by (customer,
    session id) in path order (``idx``)."""
    sessions: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in sorted(rows, key=lambda r: (r["customer_id"], r["idx"])):
        sessions[(row["customer_id"], row["session_id"])].append(row)
    facts: dict[int, tuple[Any, ...]] = {}
    for events in sessions.values():
        for position, event in enumerate(events):
            following = events[position + 1]["ts"] if position + 1 < len(events) else None
            facts[event["seq"]] = (
                position,
                following is None,
                events[0]["idx"],
                following,
            )
    return facts


def facts_of(rows: list[dict[str, Any]]) -> dict[int, tuple[Any, ...]]:
    return {row["seq"]: tuple(row[name] for name in SESSION_FACTS) for row in rows}


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=logs(), range_rows=st.sampled_from([None, 1, 3]))
def test_session_facts_are_per_customer_and_session_id(
    make_log: MakeLog, rows: list[Any], range_rows: int | None
) -> None:
    log = make_log(rows)
    if range_rows is not None:  # built a range of customers at a time
        materialise_events(log.engine, session_gap_seconds=1800, range_rows=range_rows)
    stored = log.rows()
    assert facts_of(stored) == oracle(stored)
    # the customers' sessions are their distinct session ids
    counted = dict(log.engine.sql("SELECT customer_id, sessions FROM customers").fetchall())
    distinct: dict[str, set[str]] = defaultdict(set)
    for row in stored:
        distinct[row["customer_id"]].add(row["session_id"])
    assert counted == {customer: len(ids) for customer, ids in distinct.items()}


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=logs(), dropped=st.sampled_from("xyz"))
def test_scoped_logs_recompute_the_session_facts(
    make_log: MakeLog, rows: list[Any], dropped: str
) -> None:
    """A scope that drops events (here: the events named ``dropped``, as a channel) numbers
    the sessions of the events kept, as the store numbers a log of those alone."""
    table = make_log(rows).table
    table = table.mutate(channel=table.event)
    kept = tuple(name for name in "xyz" if name != dropped)
    scoped = scope_events(table, EventScope(channels=kept)).to_pyarrow().to_pylist()
    assert facts_of(scoped) == oracle(scoped)
