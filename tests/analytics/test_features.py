"""Journey features per customer: a hand-computed log, random logs (with and without a map)
against the brute-force oracle, the column vocabulary, and bad input."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from typing import Any

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jornada.analytics.features import FeatureSpec, feature_spec, features, features_by_cutoff
from jornada.model import EventBinding, Journey, Stage, Touchpoint
from tests.analytics.conftest import BASE, EventLog
from tests.oracles import features as oracle
from tests.oracles.stages import PlainStage

MakeLog = Callable[..., EventLog]


def at(days: float) -> str:
    return (BASE + dt.timedelta(days=days)).isoformat() + "Z"


def rows_by_customer(table: Any) -> dict[str, dict[str, Any]]:
    return {row["customer_id"]: row for row in table.to_pyarrow().to_pylist()}


def same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


def journey_of(plain_map: Sequence[PlainStage]) -> Journey:
    """A real map for a plain one: one touchpoint per stage binding its event names."""
    stages = [
        Stage(
            id=s.id,
            name=s.id.upper(),
            touchpoints=[
                Touchpoint(
                    id=f"{s.id}_tp",
                    name=f"{s.id} touchpoint",
                    events=EventBinding(names=sorted(s.names)),
                )
            ],
        )
        for s in plain_map
    ]
    return Journey(id="plain", title="Plain", stages=stages)


# --- by hand ---------------------------------------------------------------------------------

HAND = [
    ("a", at(0), "visit", {"channel": "web"}),
    ("a", at(1), "purchase", {"channel": "web", "value": 50}),
    ("a", at(2.5), "support_ticket", {"channel": "email"}),
    ("a", at(3), "survey_response", {"channel": "email", "score": 4, "survey": "csat"}),
    ("a", at(4), "survey_response", {"channel": "email", "score": 9, "survey": "nps"}),
    ("a", at(4.5), "survey_response", {"channel": "email", "score": 2, "survey": "csat"}),
    ("a", at(9), "purchase", {"channel": "app", "value": 30}),  # on the cutoff: left out
    ("b", at(5), "payment_failed", {"channel": "app"}),
    ("b", at(5), "payment_failed", {"channel": "web"}),  # same time: both count
    ("b", at(8), "visit", {"channel": "app"}),
    ("c", at(9.5), "visit", {"channel": "web"}),  # only after the cutoff: no row
]
CUTOFF = BASE + dt.timedelta(days=9)


def test_hand_computed_features(make_log: MakeLog) -> None:
    log = make_log(HAND)
    spec = FeatureSpec(
        events=("visit", "purchase"), channels=("web", "app"), surveys=("csat", "nps")
    )
    got = rows_by_customer(features(log.table, CUTOFF, spec=spec))
    assert sorted(got) == ["a", "b"]
    a, b = got["a"], got["b"]
    assert (a["events"], a["purchases"], a["revenue"], a["support_tickets"]) == (6, 1, 50.0, 1)
    assert (a["recency_days"], a["tenure_days"], a["days_since_purchase"]) == (4.5, 9.0, 8.0)
    assert (a["score_csat"], a["score_nps"]) == (3.0, 9.0)
    assert (a["event_visit"], a["event_purchase"], a["channel_web"], a["channel_app"]) == (
        1,
        1,
        2,
        0,
    )
    assert (a["last_event"], a["last_event_at"]) == (
        "survey_response",
        BASE + dt.timedelta(days=4.5),
    )
    assert (b["events"], b["failed_payments"], b["purchases"], b["revenue"]) == (3, 2, 0, 0.0)
    assert (b["days_since_purchase"], b["score_csat"]) == (None, None)
    assert (b["recency_days"], b["tenure_days"], b["channel_app"]) == (1.0, 4.0, 2)
    # Sessions (30 minutes of inactivity end one): a has six, b two (the failures together).
    assert (a["sessions"], b["sessions"]) == (6, 2)
    assert (a["events_recent"], b["events_recent"]) == (6, 3)  # 30 days: all of them
    # In the 5 days before the cutoff (from day 4 on): a's last two surveys, all of b's.
    recent = rows_by_customer(features(log.table, CUTOFF, spec=FeatureSpec(recent_days=5)))
    assert (recent["a"]["events_recent"], recent["b"]["events_recent"]) == (2, 3)


def test_the_spec_picks_the_most_frequent_names_and_keeps_columns_fixed(make_log: MakeLog) -> None:
    log = make_log(HAND)
    spec = feature_spec(log.table, before=CUTOFF, top_events=2, top_channels=1)
    # survey_response 3, payment_failed 2, visit 2 (tie broken by name), purchase 1.
    assert spec.events == ("survey_response", "payment_failed")
    assert spec.channels == ("email",)  # email 4, web 3, app 2
    assert spec.surveys == ("csat", "nps")
    columns = features(log.table, CUTOFF, spec=spec).columns
    assert [c for c in columns if c.startswith(("event_", "channel_", "score_"))] == [
        "score_csat",
        "score_nps",
        "event_survey_response",
        "event_payment_failed",
        "channel_email",
    ]
    assert set(spec.columns()) <= set(columns)
    # The same spec at an earlier cutoff: the same columns, fewer customers.
    early = features(log.table, BASE + dt.timedelta(days=2), spec=spec)
    assert early.columns == columns
    assert rows_by_customer(early)["a"]["event_survey_response"] == 0


def test_names_become_unique_column_names() -> None:
    spec = FeatureSpec(events=("Page View", "page-view", ""), surveys=("",))
    assert spec.columns()[-4:] == [
        "score_unlabelled",
        "event_page_view",
        "event_page_view_2",
        "event_blank",
    ]
    assert spec.describe()["score_unlabelled"] == "mean score (no survey kind)"


def test_a_map_adds_touchpoints_and_the_current_stage(make_log: MakeLog) -> None:
    plain = [PlainStage("browse", frozenset({"visit"})), PlainStage("buy", frozenset({"purchase"}))]
    journey = journey_of(plain)
    log = make_log(HAND)
    got = rows_by_customer(features(log.table, CUTOFF, journey=journey))
    a, b = got["a"], got["b"]
    assert (a["touchpoint_browse_tp"], a["touchpoint_buy_tp"]) == (1, 1)
    assert (a["stage_index"], a["days_in_stage"], a["last_touchpoint"]) == (1.0, 8.0, "buy_tp")
    assert (b["stage_index"], b["days_in_stage"]) == (0.0, 1.0)
    with pytest.raises(ValueError, match="pass the journey"):
        features(log.table, CUTOFF, spec=FeatureSpec(stages=True))


def test_no_event_before_the_cutoff(make_log: MakeLog) -> None:
    log = make_log(HAND)
    assert features(log.table, BASE).to_pyarrow().num_rows == 0


# --- random logs against the oracle ------------------------------------------------------------

NAMES = ("visit", "purchase", "support_ticket", "survey_response", "payment_failed")
log_rows = st.lists(
    st.tuples(
        st.sampled_from("abcd"),
        # Whole and fractional hours over three weeks: ties and sub-second parts included.
        st.integers(0, 21 * 24 * 4).map(lambda q: at(q / 96 + (0.4 if q % 7 == 0 else 0) / 86400)),
        st.sampled_from(NAMES),
        st.fixed_dictionaries(
            {
                "channel": st.sampled_from(["web", "app", ""]),
                "value": st.sampled_from(["", "10", "2.5"]),
                "score": st.sampled_from(["", "1", "7"]),
                "survey": st.sampled_from(["", "csat", "nps"]),
            }
        ),
    ),
    max_size=25,
)
PLAIN = [
    PlainStage("look", frozenset({"visit"})),
    PlainStage("pay", frozenset({"purchase", "payment_failed"})),
    PlainStage("help", frozenset({"support_ticket"})),
]


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=log_rows, cutoff_day=st.integers(1, 22), with_map=st.booleans())
def test_random_logs_match_the_oracle(
    make_log: MakeLog, rows: list[Any], cutoff_day: int, with_map: bool
) -> None:
    log = make_log(rows)
    cutoff = BASE + dt.timedelta(days=cutoff_day)
    journey = journey_of(PLAIN) if with_map else None
    spec = FeatureSpec(
        events=NAMES,
        channels=("web", "app"),
        surveys=("csat", "nps", ""),
        touchpoints=tuple(f"{s.id}_tp" for s in PLAIN) if with_map else (),
        stages=with_map,
        recent_days=7,
    )
    got = rows_by_customer(features(log.table, cutoff, spec=spec, journey=journey))
    want = oracle.features(
        log.rows(),
        cutoff,
        event_names=NAMES,
        channels=("web", "app"),
        surveys=("csat", "nps", ""),
        recent_days=7,
        plain_map=PLAIN if with_map else None,
    )
    assert sorted(got) == sorted(want)
    for customer, expected in want.items():
        for column, value in expected.items():
            assert same(got[customer][column], value), (
                customer,
                column,
                got[customer][column],
                value,
            )


def cutoff_spec(with_map: bool) -> FeatureSpec:
    """The spec of the cutoff tests: every name and channel of the logs, a 3-day recent
    window, the touchpoints and stages of :data:`PLAIN` when ``with_map``."""
    return FeatureSpec(
        events=NAMES,
        channels=("web", "app"),
        surveys=("csat", "nps", ""),
        touchpoints=tuple(f"{s.id}_tp" for s in PLAIN) if with_map else (),
        stages=with_map,
        recent_days=3,
    )


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=log_rows,
    cutoff_days=st.lists(st.integers(1, 22), min_size=1, max_size=4, unique=True),
    with_map=st.booleans(),
)
def test_features_at_several_cutoffs_in_one_query_match_the_oracle(
    make_log: MakeLog, rows: list[Any], cutoff_days: list[int], with_map: bool
) -> None:
    """Each cutoff's rows are the oracle's at that cutoff; a 3-day recent window crosses
    the periods between cutoffs one day apart."""
    log = make_log(rows)
    cutoffs = [BASE + dt.timedelta(days=d) for d in sorted(cutoff_days)]
    journey = journey_of(PLAIN) if with_map else None
    spec = cutoff_spec(with_map)
    table = features_by_cutoff(log.table, cutoffs, spec=spec, journey=journey)
    got: dict[int, dict[str, dict[str, Any]]] = {k: {} for k in range(len(cutoffs))}
    for row in table.to_pyarrow().to_pylist():
        got[row.pop("cutoff_index")][row["customer_id"]] = row
    for k, cutoff in enumerate(cutoffs):
        want = oracle.features(
            log.rows(),
            cutoff,
            event_names=NAMES,
            channels=("web", "app"),
            surveys=("csat", "nps", ""),
            recent_days=3,
            plain_map=PLAIN if with_map else None,
        )
        assert sorted(got[k]) == sorted(want), k
        for customer, expected in want.items():
            for column, value in expected.items():
                assert same(got[k][customer][column], value), (k, customer, column)


def test_sessions_without_the_store_facts_are_distinct_ids_at_each_cutoff() -> None:
    d = BASE
    events = ibis.memtable(
        {
            "customer_id": ["a", "a", "a", "a", "b"],
            "event": ["visit"] * 5,
            "ts": [d, d + dt.timedelta(days=1), d + dt.timedelta(days=3), d, d],
            # s1 spans the first cutoff; s2 starts after it; a null id is no session.
            "session_id": ["s1", "s1", "s2", None, "s1"],
            "channel": ["web"] * 5,
            "value": [None] * 5,
            "score": [None] * 5,
        },
        schema={
            "customer_id": "string",
            "event": "string",
            "ts": "timestamp",
            "session_id": "string",
            "channel": "string",
            "value": "float64",
            "score": "float64",
        },
    )
    cutoffs = [d + dt.timedelta(hours=12), d + dt.timedelta(days=2), d + dt.timedelta(days=4)]
    table = features_by_cutoff(events, cutoffs, spec=FeatureSpec())
    got = {
        (r["cutoff_index"], r["customer_id"]): (r["events"], r["sessions"])
        for r in table.to_pyarrow().to_pylist()
    }
    assert got == {
        (0, "a"): (2, 1),
        (0, "b"): (1, 1),
        (1, "a"): (3, 1),
        (1, "b"): (1, 1),
        (2, "a"): (4, 2),
        (2, "b"): (1, 1),
    }
    # One cutoff: the same as features() there.
    single = rows_by_customer(features(events, cutoffs[1], spec=FeatureSpec()))
    assert {c: (r["events"], r["sessions"]) for c, r in single.items()} == {
        "a": (3, 1),
        "b": (1, 1),
    }
    with pytest.raises(ValueError, match="increasing"):
        features_by_cutoff(events, [cutoffs[1], cutoffs[0]], spec=FeatureSpec())
