"""The shortcuts through the store's facts give the numbers of the paths without them:
the customers' last events in the stage tables (``facts=True``) and the time in sessions
in conformance, on random logs (sessions cut by the gap, an ``as_of`` within the log)."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from jornada.analytics.stages import StageTables
from jornada.events.filters import EventScope, scope_events
from jornada.living.conformance import conformance
from jornada.model.templates import load_template
from tests.living.conftest import Row, Store, at
from tests.living.test_conformance import SHOP, _from_oracle_check, journey_of

NAMES = ["view", "cart", "buy", "survey", "page", "product_view", "purchase"]
CUSTOMERS = ["u", "v", "w", "x"]
TIMES = [0, 0, 1, 2, 5, 30, 31, 45, 90, 200]


@st.composite
def logs(draw: st.DrawFn) -> list[Row]:
    return [
        Row(customer, minute, event, channel="web")
        for customer, minute, event in draw(
            st.lists(
                st.tuples(
                    st.sampled_from(CUSTOMERS), st.sampled_from(TIMES), st.sampled_from(NAMES)
                ),
                min_size=1,
                max_size=30,
            )
        )
    ]


def _current(tables: StageTables) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = tables.current.order_by("customer_id").to_pyarrow().to_pylist()
    return rows


@settings(max_examples=15, deadline=None)
@given(rows=logs(), as_of=st.sampled_from([None, 1, 30, 45]))
def test_last_events_from_the_facts(store: Store, rows: Sequence[Row], as_of: int | None) -> None:
    events = store.load(rows).table
    moment = at(as_of) if as_of is not None else None
    for journey in (journey_of(SHOP), load_template("b2c-ecommerce")):
        with (
            StageTables(events, journey, as_of=moment) as grouped,
            StageTables(events, journey, as_of=moment, facts=True) as filtered,
        ):
            assert _current(filtered) == _current(grouped)


@settings(max_examples=25, deadline=None)
@given(rows=logs(), gap=st.sampled_from([60, 1800]))
def test_time_in_sessions_from_the_facts(store: Store, rows: Sequence[Row], gap: int) -> None:
    events = store.load(rows, session_gap_seconds=gap).table
    journey = journey_of(SHOP)
    assert conformance(events, journey, facts=True) == conformance(events, journey, facts=False)
    with StageTables(events, journey) as tables:
        shared = conformance(events, journey, stage_tables=tables, facts=True)
    assert shared == conformance(events, journey, facts=False)


@settings(max_examples=40, deadline=None)
@given(rows=logs(), channels=st.sampled_from([("web",), ("app",), ("web", "app")]))
def test_scoped_events_keep_true_facts(
    store: Store, rows: Sequence[Row], channels: tuple[str, ...]
) -> None:
    """A scope that drops events recomputes the facts, so the shortcuts still hold; a
    table filtered by hand keeps stale ones, which only ``facts=False`` (the default)
    may read."""
    mixed = [
        Row(r.customer, r.minute, r.event, channel="app" if i % 3 == 0 else "web")
        for i, r in enumerate(rows)
    ]
    events = store.load(mixed).table
    journey = journey_of(SHOP)
    scope = EventScope(channels=channels)
    scoped = scope_events(events, scope)
    assert conformance(scoped, journey, facts=True) == conformance(scoped, journey)
    with (
        StageTables(scoped, journey, facts=True) as by_facts,
        StageTables(scoped, journey) as grouped,
    ):
        assert _current(by_facts) == _current(grouped)
    filtered = events.filter(events.channel.isin(list(channels)))
    assert conformance(filtered, journey) == conformance(scoped, journey)


@settings(max_examples=25, deadline=None)
@given(
    rows=logs(),
    sessions=st.lists(st.sampled_from(["s1", "s2", None]), min_size=30, max_size=30),
)
def test_time_in_sessions_whose_ids_come_back(
    store: Store, rows: Sequence[Row], sessions: list[str | None]
) -> None:
    """Source session ids that come back in a path (A, B, A), interleave and are shared:
    the time to the next event of the session (decision 0006), from the facts and
    without them, as the oracle counts it."""
    with_ids = [
        Row(r.customer, r.minute, r.event, channel="web", session=sessions[i])
        for i, r in enumerate(rows)
    ]
    log = store.load(with_ids)
    journey = journey_of(SHOP)
    expected = _from_oracle_check(log, SHOP)
    assert conformance(log.table, journey, facts=True) == expected
    with StageTables(log.table, journey, facts=True) as tables:
        assert conformance(log.table, journey, stage_tables=tables, facts=True) == expected
