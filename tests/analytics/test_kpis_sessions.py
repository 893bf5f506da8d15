"""KPIs of sessions against a brute-force oracle of the definition (decision 0006): a
session is a customer's events sharing one ``session_id``, so a source's session id that
comes back later in the path (A, B, A: two devices merged by identity resolution), or
that another customer also uses, is still one session of that customer. Its landing is
its first page view, its exit its last event, its duration last - first; a page view's
time is up to the next event of its session.

Each session KPI (bounce rate, pages per visit, session duration, time on page, cart
abandonment), its numerator and denominator, is checked on random logs whose session ids
recur and interleave: on the store's events (with the facts), on the same events without
the facts (a plain table), on a channel-scoped log (facts recomputed), by period, by
channel, and on a map's stages and touchpoints."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jornada.analytics.kpis import kpis
from jornada.events.filters import EventScope, scope_events
from tests.analytics.conftest import EventLog
from tests.analytics.test_kpis import channel_map, same
from tests.oracles.kpis import cart, page, period_of, purchase, scope_of

MakeLog = Callable[..., EventLog]

SESSION_KPIS = {
    "bounce_rate": ("bounces", "visits"),
    "pages_per_visit": ("visit_page_views", "visits"),
    "session_duration": ("visit_seconds", "visits"),
    "time_on_page": ("page_seconds", "timed_page_views"),
    "cart_abandonment_rate": ("abandoned_carts", "carts"),
}
"""Each session KPI and the oracle's (numerator, denominator) of it."""

KINDS: list[tuple[str, str]] = [
    ("page_view", "web"),
    ("page_view", "app"),
    ("product_view", "web"),
    ("add_to_cart", "app"),
    ("add_to_cart", "web"),
    ("purchase", "web"),
    ("ad_click", "social"),
]

# Two customers sharing session ids (s1, s2, s3) or none (the store then derives one per
# stretch of 30 minutes), on three days: one of them five weeks later (periods cross).
specs = st.tuples(
    st.sampled_from("ab"),
    st.sampled_from([0, 4, 35]),
    st.integers(0, 90),  # minutes: sessions without an id split past 30 minutes
    st.integers(0, len(KINDS) - 1),
    st.sampled_from(["s1", "s2", "s3", ""]),
)


def row_of(spec: tuple[str, int, int, int, str]) -> Any:
    customer, day, minute, kind, session = spec
    event, channel = KINDS[kind]
    moment = dt.datetime(2026, 1, 1, 9) + dt.timedelta(days=day, minutes=minute)
    return (customer, moment.isoformat() + "Z", event, {"channel": channel, "session": session})


def oracle(events: list[dict[str, Any]], by: str | None, period: str | None) -> dict[Any, Any]:
    """(scope, period) -> base measure -> value, from the definition, event by event."""
    sessions: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        sessions[(event["customer_id"], event["session_id"])].append(event)
    for session in sessions.values():
        session.sort(key=lambda e: (e["ts"], e["seq"]))
    found: dict[Any, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def at(event: dict[str, Any]) -> Any:
        return found[(scope_of(event, by), period_of(event["ts"], period))]

    for session in sessions.values():
        views = [e for e in session if page(e)]
        if views:
            landing = views[0]
            measures = at(landing)
            measures["visits"] += 1
            measures["bounces"] += landing is session[-1]
            measures["visit_page_views"] += len(views)
            measures["visit_seconds"] += (session[-1]["ts"] - session[0]["ts"]).total_seconds()
        for event, following in itertools.pairwise(session):
            if page(event):
                at(event)["timed_page_views"] += 1
                at(event)["page_seconds"] += (following["ts"] - event["ts"]).total_seconds()
        # A cart: the session's first add-to-cart event of each scope.
        firsts: dict[str, dict[str, Any]] = {}
        for event in session:
            if cart(event):
                firsts.setdefault(scope_of(event, by), event)
        for event in firsts.values():
            at(event)["carts"] += 1
            bought = any(
                purchase(e)
                and e["customer_id"] == event["customer_id"]
                and dt.timedelta(0) <= e["ts"] - event["ts"] <= dt.timedelta(hours=24)
                for e in events
            )
            at(event)["abandoned_carts"] += not bought
    return found


def assert_sessions_match(table: Any, rows: list[dict[str, Any]], by: Any, period: Any) -> None:
    result = kpis(table, by=by, period=period, only=list(SESSION_KPIS))
    if not rows:  # nothing in the scope (a channel filter kept no event): said, not 0/0
        # (by period: no period at all)
        assert all(r.note == "no events" and r.numerator is None for r in result.rows)
        return
    expected = oracle(rows, by, period)
    for row in result.rows:
        numerator, denominator = SESSION_KPIS[row.kpi]
        scope = "all" if by is None else row.scope
        measures = expected.get((scope, row.period), {})
        want = (measures.get(numerator, 0.0), measures.get(denominator, 0.0))
        assert same(row.numerator, want[0]), (row.kpi, row.scope, row.period, row, want)
        assert same(row.denominator, want[1]), (row.kpi, row.scope, row.period, row, want)


STORE_ONLY = ("session_last", "session_start", "session_next_ts", "customer_no", "first_pair")
"""The store's facts a plain table lacks (the board then computes the sessions itself)."""


# A: page view at 9:00 (s1), then s2 at 9:05, then s1 again at 9:20 and 9:30 (the two
# devices of one person). B uses the id s1 too, for its own one-page visit.
RECURRING: list[Any] = [
    ("a", "2026-01-05T09:00:00Z", "page_view", {"channel": "web", "session": "s1"}),
    ("a", "2026-01-05T09:05:00Z", "page_view", {"channel": "app", "session": "s2"}),
    ("a", "2026-01-05T09:20:00Z", "product_view", {"channel": "web", "session": "s1"}),
    ("a", "2026-01-05T09:30:00Z", "add_to_cart", {"channel": "web", "session": "s1"}),
    ("a", "2026-01-05T09:40:00Z", "add_to_cart", {"channel": "app", "session": "s2"}),
    ("b", "2026-01-05T10:00:00Z", "page_view", {"channel": "web", "session": "s1"}),
]


def test_a_session_id_that_comes_back_is_one_session(make_log: MakeLog) -> None:
    log = make_log(RECURRING)
    result = kpis(log.table, only=list(SESSION_KPIS))
    rows = {row.kpi: (row.value, row.numerator, row.denominator) for row in result.rows}
    # Three visits: a's s1 (9:00-9:30, 2 page views, not a bounce), a's s2 (9:05-9:40,
    # 1 page view, then its cart: not a bounce) and b's s1 (a bounce).
    assert rows["bounce_rate"] == (1 / 3, 1, 3)
    assert rows["pages_per_visit"] == (4 / 3, 4, 3)
    assert rows["session_duration"] == ((1800 + 2100) / 3, 1800 + 2100, 3)
    # a's 9:00 (to 9:20 in s1), 9:05 (to 9:40 in s2), 9:20 product view (to 9:30).
    assert rows["time_on_page"] == ((1200 + 2100 + 600) / 3, 1200 + 2100 + 600, 3)
    assert rows["cart_abandonment_rate"] == (1.0, 2, 2)  # one cart per session, no purchase
    plain = log.table.drop(*STORE_ONLY)
    assert kpis(plain, only=list(SESSION_KPIS)).rows == result.rows
    # The facts keyed on the text ids (a store without customer numbers).
    assert kpis(log.table.drop("customer_no"), only=list(SESSION_KPIS)).rows == result.rows


def test_a_scope_without_events_says_so(make_log: MakeLog) -> None:
    # Hypothesis' find: a channel filter that keeps no event gives "no events", not 0/0.
    log = make_log([("a", "2026-01-01T09:00:00Z", "ad_click", {"channel": "social"})])
    kept = scope_events(log.table, EventScope(channels=("web", "app")))
    result = kpis(kept, only=list(SESSION_KPIS))
    assert {row.kpi for row in result.rows} == set(SESSION_KPIS)
    assert {(row.value, row.numerator, row.note) for row in result.rows} == {
        (None, None, "no events")
    }


@pytest.mark.slow
@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(specs, min_size=1, max_size=16),
    by=st.sampled_from([None, "channel"]),
    period=st.sampled_from([None, "week", "month"]),
)
def test_random_logs_with_recurring_sessions_match_the_oracle(
    make_log: MakeLog, events: list[Any], by: Any, period: Any
) -> None:
    log = make_log([row_of(spec) for spec in events])
    rows = log.rows()
    assert_sessions_match(log.table, rows, by, period)
    plain = log.table.drop(*STORE_ONLY)
    assert_sessions_match(plain, rows, by, period)
    kept = scope_events(log.table, EventScope(channels=("web", "app")))
    assert_sessions_match(kept, [r for r in rows if r["channel"] in ("web", "app")], by, period)


@pytest.mark.slow
@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(specs, min_size=1, max_size=16), period=st.sampled_from([None, "week"]))
def test_random_logs_with_recurring_sessions_on_a_map_match_the_oracle(
    make_log: MakeLog, events: list[Any], period: Any
) -> None:
    """The stages and touchpoints of a map (one per channel) are the channels."""
    log = make_log([row_of(spec) for spec in events])
    channels = sorted({KINDS[spec[3]][1] for spec in events})
    expected = oracle(log.rows(), "channel", period)
    journey = channel_map(channels)
    for table in (log.table, log.table.drop(*STORE_ONLY)):
        for by in ("touchpoint", "stage"):
            result = kpis(table, journey=journey, by=by, period=period, only=list(SESSION_KPIS))
            for row in result.rows:
                numerator, denominator = SESSION_KPIS[row.kpi]
                measures = expected.get((row.scope[2:], row.period), {})
                want = (measures.get(numerator, 0.0), measures.get(denominator, 0.0))
                assert same(row.numerator, want[0]), (by, row, want)
                assert same(row.denominator, want[1]), (by, row, want)
