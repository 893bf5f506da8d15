"""Segments: rules per customer on hand logs and random ones (against plain Python), the
segment column, and the proportion tests against scipy and hand-computed values."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import plotly.graph_objects as go
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from jornada.analytics.segments import (
    AllOf,
    AnyOf,
    FirstEvent,
    HasEvent,
    Not,
    ProportionTest,
    Segment,
    SegmentRule,
    compare_proportions,
    compare_segments,
    segment_labels,
    split_by_segment,
)
from jornada.analytics.stages import analyse_stages
from jornada.engine import Engine
from jornada.engine.store import ensure_store, materialise_events
from jornada.events.rules import parse_rule
from jornada.model import EventBinding, Journey, Stage
from tests.analytics.conftest import BASE, EventLog, LogRow, minutes
from tests.oracles import group_paths

MakeLog = Callable[..., EventLog]


def ids(table: Any) -> list[str]:
    return sorted(table.to_pyarrow()["customer_id"].to_pylist())


def shop(make_log: MakeLog) -> EventLog:
    rows: list[LogRow] = [
        ("a", minutes(0), "page_view", {"channel": "web", "device": "mobile"}),
        ("a", minutes(5), "purchase", {"channel": "web", "value": "50"}),
        ("a", minutes(90), "purchase", {"channel": "app", "value": "20"}),
        ("b", minutes(1), "ad_click", {"channel": "social", "device": "mobile"}),
        ("b", minutes(2), "page_view", {"channel": "web", "device": "desktop"}),
        ("c", minutes(3), "page_view", {"channel": "web", "device": "desktop"}),
        # same time as c's first event, loaded later: not c's first
        ("c", minutes(3), "ad_click", {"channel": "social", "device": "mobile"}),
        ("c", minutes(8), "purchase", {"channel": "web", "value": "200"}),
        ("d", minutes(4), "newsletter_open", {"channel": "email"}),
    ]
    return make_log(rows)


def test_rules_per_customer(make_log: MakeLog) -> None:
    log = shop(make_log)
    events = log.table
    buyers = HasEvent("event = 'purchase'")
    mobile_first = FirstEvent("properties.device = 'mobile'")
    assert ids(Segment("buyers", buyers).customers(events)) == ["a", "c"]
    assert ids(Segment("repeat", HasEvent("event = 'purchase'", at_least=2)).customers(events)) == [
        "a"
    ]
    assert ids(Segment("big", HasEvent("value >= 100")).customers(events)) == ["c"]
    assert ids(Segment("mobile first", mobile_first).customers(events)) == ["a", "b"]
    assert ids(Segment("social first", FirstEvent("channel = 'social'")).customers(events)) == [
        "b"
    ], "c's social click ties its first event in time but was loaded after it"
    assert ids(Segment("both", buyers & mobile_first).customers(events)) == ["a"]
    assert ids(Segment("either", buyers | mobile_first).customers(events)) == ["a", "b", "c"]
    assert ids(Segment("neither", ~(buyers | mobile_first)).customers(events)) == ["d"]
    assert ids(Segment("not", Not(buyers)).customers(events)) == ["b", "d"]
    all_of = AllOf((buyers, HasEvent("channel = 'app'"), mobile_first))
    assert ids(Segment("all", all_of).customers(events)) == ["a"]
    any_of = AnyOf((HasEvent("event = 'newsletter_open'"), FirstEvent("event = 'ad_click'")))
    assert ids(Segment("any", any_of).customers(events)) == ["b", "d"]
    assert str(buyers & ~mobile_first) == (
        "(an event where event = 'purchase') and "
        "(not (first event where properties.device = 'mobile'))"
    )
    # the store's idx is not required
    bare = events.drop("idx")
    assert ids(Segment("mobile first", mobile_first).customers(bare)) == ["a", "b"]


def test_rules_are_checked_early() -> None:
    with pytest.raises(ValueError, match="at_least"):
        HasEvent("event = 'x'", at_least=0)
    with pytest.raises(Exception, match="expected"):
        FirstEvent("event = ")
    with pytest.raises(ValueError, match="name"):
        Segment(" ", HasEvent("event = 'x'"))


def test_split_by_segment(make_log: MakeLog) -> None:
    log = shop(make_log)
    segments = [
        Segment("mobile first", FirstEvent("properties.device = 'mobile'")),
        Segment("buyers", HasEvent("event = 'purchase'")),
    ]
    split = split_by_segment(log.table, segments)
    rows = split.to_pyarrow().to_pylist()
    assert len(rows) == 9, "every event kept"
    by_customer = {row["customer_id"]: row["segment"] for row in rows}
    assert by_customer == {"a": "mobile first", "b": "mobile first", "c": "buyers", "d": "other"}
    assert set(split.columns) == {*log.table.columns, "segment"}

    labels = segment_labels(log.table, segments, remainder=None)
    assert sorted((r["customer_id"], r["segment"]) for r in labels.to_pyarrow().to_pylist()) == [
        ("a", "mobile first"),
        ("b", "mobile first"),
        ("c", "buyers"),
    ]
    dropped = split_by_segment(log.table, segments, remainder=None, column="group")
    assert dropped.count().execute() == 8
    assert "group" in dropped.columns

    # one analysis per segment: the stages of a tiny map, customers of one segment only
    journey = Journey(
        id="j",
        title="J",
        stages=[
            Stage(id="look", name="Look", events=EventBinding(names=["page_view", "ad_click"])),
            Stage(id="buy", name="Buy", events=EventBinding(names=["purchase"])),
        ],
    )
    mobile = analyse_stages(split.filter(split["segment"] == "mobile first"), journey)
    assert [s.reached for s in mobile.stages] == [2, 1]

    with pytest.raises(ValueError, match="differ"):
        split_by_segment(log.table, [segments[0], segments[0]])
    with pytest.raises(ValueError, match="already have a column"):
        split_by_segment(log.table, segments, column="event")
    with pytest.raises(ValueError, match="remainder"):
        split_by_segment(log.table, segments, remainder="buyers")
    with pytest.raises(ValueError, match="at least one"):
        segment_labels(log.table, [])


def test_the_segment_column_feeds_a_funnel_breakdown(make_log: MakeLog) -> None:
    from jornada.analytics.funnel import funnel

    log = shop(make_log)
    split = split_by_segment(
        log.table, [Segment("mobile", FirstEvent("properties.device = 'mobile'"))]
    )
    result = funnel(split, ["page_view", "purchase"], breakdown="segment")
    assert result.breakdown is not None
    counts = dict(zip(result.breakdown.groups, result.breakdown.paths, strict=True))
    assert counts == {"mobile": (2, 1), "other": (1, 1)}


# --- proportions -------------------------------------------------------------------------


def test_two_proportions_hand_computed() -> None:
    test = compare_proportions({"control": (30, 100), "variant": (45, 100)})
    pooled = 75 / 200
    z = (0.45 - 0.30) / math.sqrt(pooled * (1 - pooled) * (2 / 100))
    assert test.test == "two-proportion z"
    assert test.statistic == pytest.approx(z)
    assert test.p_value == pytest.approx(2 * (1 - stats.norm.cdf(z)))
    assert test.difference == pytest.approx(0.15)
    assert test.significant
    assert test.dof == 1
    # z squared is the chi-square statistic without continuity correction
    chi2, p_value, _, _ = stats.chi2_contingency([[30, 45], [70, 55]], correction=False)
    assert test.statistic**2 == pytest.approx(chi2)
    assert test.p_value == pytest.approx(p_value)
    assert not compare_proportions({"a": (30, 100), "b": (36, 100)}).significant
    assert not compare_proportions({"a": (30, 100), "b": (45, 100)}, alpha=0.001).significant


def test_several_proportions_and_edge_cases() -> None:
    groups = {"a": (10, 100), "b": (12, 90), "c": (30, 110)}
    test = compare_proportions(groups)
    chi2, p_value, dof, _ = stats.chi2_contingency([[10, 12, 30], [90, 78, 80]], correction=False)
    assert (test.test, test.dof) == ("chi-square", dof)
    assert test.statistic == pytest.approx(chi2)
    assert test.p_value == pytest.approx(p_value)
    assert test.difference is None
    assert [g.label for g in test.groups] == ["a", "b", "c"]

    none = compare_proportions({"a": (0, 10), "b": (0, 20), "c": (0, 5)})
    assert (none.statistic, none.p_value, none.significant) == (0.0, 1.0, False)
    assert compare_proportions({"a": (10, 10), "b": (20, 20)}).p_value == 1.0
    with pytest.raises(ValueError, match="two groups"):
        compare_proportions({"a": (1, 2)})
    with pytest.raises(ValueError, match="trials"):
        compare_proportions({"a": (1, 2), "b": (3, 2)})
    with pytest.raises(ValueError, match="trials"):
        compare_proportions({"a": (0, 0), "b": (1, 2)})


def test_proportion_result_outputs() -> None:
    test = compare_proportions({"desktop": (120, 1000), "mobile": (90, 1000)})
    assert isinstance(test, ProportionTest)
    frame = test.to_frame()
    assert list(frame["group"]) == ["desktop", "mobile"]
    assert frame["share_low"][0] < 0.12 < frame["share_high"][0]
    data = json.loads(json.dumps(test.to_dict()))
    assert data["significant"] is True
    assert data["groups"][1]["trials"] == 1000
    assert isinstance(test.chart(), go.Figure)


def test_compare_segments(make_log: MakeLog) -> None:
    rows: list[LogRow] = []
    for i in range(40):
        device = "mobile" if i % 2 else "desktop"
        rows.append((f"c{i}", minutes(i), "page_view", {"device": device}))
        # desktop customers buy 3 times in 4, mobile ones 1 in 4
        if (i % 2 == 0 and i % 8 != 0) or (i % 2 == 1 and i % 8 == 1):
            rows.append((f"c{i}", minutes(i + 1), "purchase", {"device": device}))
    log = make_log(rows)
    segments = [
        Segment("desktop", FirstEvent("properties.device = 'desktop'")),
        Segment("mobile", FirstEvent("properties.device = 'mobile'")),
    ]
    test = compare_segments(log.table, segments, HasEvent("event = 'purchase'"))
    assert [(g.label, g.successes, g.trials) for g in test.groups] == [
        ("desktop", 15, 20),
        ("mobile", 5, 20),
    ]
    assert test.significant
    assert test.difference == pytest.approx(-0.5)
    with_rest = compare_segments(
        log.table, segments[:1], HasEvent("event = 'purchase'"), remainder="rest"
    )
    assert [g.label for g in with_rest.groups] == ["desktop", "rest"]


# --- random logs and rules against plain Python -----------------------------------------

EVENTS = ["view", "cart", "buy"]
DEVICES = ["mobile", "desktop", ""]


def leaves() -> st.SearchStrategy[SegmentRule]:
    event_rule = st.sampled_from(
        [
            "event = 'buy'",
            "event in ('view', 'cart')",
            "properties.device = 'mobile'",
            "properties.device is null",
            "event = 'cart' and properties.device != 'desktop'",
        ]
    )
    return st.one_of(
        st.builds(HasEvent, event_rule, st.integers(1, 3)),
        st.builds(FirstEvent, event_rule),
    )


rules: st.SearchStrategy[SegmentRule] = st.recursive(
    leaves(),
    lambda inner: st.one_of(
        st.builds(lambda a, b: a & b, inner, inner),
        st.builds(lambda a, b: a | b, inner, inner),
        st.builds(Not, inner),
    ),
    max_leaves=4,
)


def describes(rule: SegmentRule, path: Sequence[dict[str, Any]]) -> bool:
    """The reference: a rule evaluated on one customer's ordered events."""
    if isinstance(rule, HasEvent):
        parsed = parse_rule(str(rule.rule))
        return sum(parsed.matches(event) for event in path) >= rule.at_least
    if isinstance(rule, FirstEvent):
        return parse_rule(str(rule.rule)).matches(path[0])
    if isinstance(rule, AllOf):
        return all(describes(r, path) for r in rule.rules)
    if isinstance(rule, AnyOf):
        return any(describes(r, path) for r in rule.rules)
    assert isinstance(rule, Not)
    return not describes(rule.rule, path)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    made = Engine.duckdb()
    ensure_store(made)
    yield made
    made.close()


@settings(max_examples=40)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["u", "v", "w", "x"]),
            st.sampled_from([0, 1, 2]),
            st.sampled_from(EVENTS),
            st.sampled_from(DEVICES),
        ),
        min_size=1,
        max_size=14,
    ),
    chosen=st.lists(rules, min_size=1, max_size=3),
)
def test_random_rules_match_plain_python(
    engine: Engine, rows: list[tuple[str, int, str, str]], chosen: list[SegmentRule]
) -> None:
    engine.sql("DELETE FROM events_raw")
    engine.duck.executemany(
        "INSERT INTO events_raw VALUES (?, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, NULL, "
        "CASE WHEN ? = '' THEN MAP {}::MAP(VARCHAR, VARCHAR) ELSE MAP {'device': ?} END, "
        "NULL, 'test', 1, ?)",
        [
            [f"e{seq}", c, BASE.replace(minute=t), e, d, d, seq]
            for seq, (c, t, e, d) in enumerate(rows)
        ],
    )
    materialise_events(engine, session_gap_seconds=1800)
    log = EventLog(engine)
    plain = [{**row, "properties": dict(row["properties"] or [])} for row in log.rows()]
    grouped = group_paths(plain)
    segments = [Segment(f"s{i}", rule) for i, rule in enumerate(chosen)]
    expected = {}
    for customer, path in grouped.items():
        expected[customer] = next((s.name for s in segments if describes(s.rule, path)), "other")
    labels = segment_labels(log.table, segments).to_pyarrow().to_pylist()
    assert {r["customer_id"]: r["segment"] for r in labels} == expected
