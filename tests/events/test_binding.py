"""Binding events to a map: filters, labels and the coverage report, checked against
brute-force Python on random logs and maps."""

from __future__ import annotations

import collections
import datetime as dt
import json
from typing import Any

import ibis
import pytest
from hypothesis import HealthCheck, given, settings

from jornada.engine import Engine
from jornada.events.binding import (
    TOP_UNMAPPED,
    BindReport,
    bind_report,
    binding_filter,
    label_events,
    stage_filter,
    touchpoint_filters,
)
from jornada.events.rules import RuleError, parse_rule
from jornada.events.schema import EVENT_COLUMNS
from jornada.model import EventBinding, Journey, Stage, Touchpoint
from jornada.model.templates import load_template
from tests.events.conftest import create_events, event_rows, journeys

# --- the reference -------------------------------------------------------------------


def binding_matches(binding: EventBinding | None, row: dict[str, Any]) -> bool:
    if binding is None:
        return False
    if binding.names and row.get("event") not in binding.names:
        return False
    if binding.channels and row.get("channel") not in binding.channels:
        return False
    return not binding.where or parse_rule(binding.where).matches(row)


def reference_labels(journey: Journey, row: dict[str, Any]) -> tuple[str | None, str | None]:
    for stage, touchpoint in journey.iter_touchpoints():
        if binding_matches(touchpoint.events, row):
            return touchpoint.id, stage.id
    for stage in journey.ordered_stages():
        if binding_matches(stage.events, row):
            return None, stage.id
    return None, None


def reference_report(journey: Journey, rows: list[dict[str, Any]]) -> dict[str, Any]:
    def customers(selected: list[dict[str, Any]]) -> int:
        return len({row["customer_id"] for row in selected if row.get("customer_id") is not None})

    touchpoints = []
    for stage, touchpoint in journey.iter_touchpoints():
        hits = [row for row in rows if binding_matches(touchpoint.events, row)]
        touchpoints.append(
            {
                "touchpoint_id": touchpoint.id,
                "name": touchpoint.name,
                "stage_id": stage.id,
                "bound": touchpoint.events is not None,
                "events": len(hits),
                "customers": customers(hits),
            }
        )
    matched = [
        row
        for row in rows
        if any(binding_matches(tp.events, row) for _, tp in journey.iter_touchpoints())
    ]
    unmatched = [row for row in rows if row not in matched]
    counter = collections.Counter(row.get("event") for row in unmatched)
    top = sorted(counter.items(), key=lambda item: (-item[1], item[0] is None, item[0] or ""))
    return {
        "journey_id": journey.id,
        "total_events": len(rows),
        "total_customers": customers(rows),
        "matched_events": len(matched),
        "matched_customers": customers(matched),
        "touchpoints": touchpoints,
        "unmapped": [{"event": name, "events": n} for name, n in top[:TOP_UNMAPPED]],
    }


# --- fixtures ------------------------------------------------------------------------

T0 = dt.datetime(2024, 1, 1)


def row(seq: int, event: str | None, channel: str | None = "web", **more: Any) -> dict[str, Any]:
    return {"seq": seq, "event": event, "channel": channel, "customer_id": f"c{seq % 3}", **more}


ROWS = [
    row(0, "page_view", properties={"page": "/blog/first-shoes"}),
    row(1, "page_view", properties={"page": "/product/1"}),
    row(2, "add_to_cart", "app"),
    row(3, "purchase", "web", value=120.0),
    row(4, "purchase", "store", value=80.0, customer_id="c0"),
    row(5, "chat_started", "chat", properties={"topic": "sizing"}),
    row(6, None, None),
    row(7, "page_view", "web", customer_id=None),
]

JOURNEY = Journey(
    id="shop",
    title="Shop",
    stages=[
        # Listed second but ordered first: map order is by ``order``.
        Stage(
            id="buy",
            name="Buy",
            order=2,
            touchpoints=[
                Touchpoint(id="cart", name="Cart", events=EventBinding(names=["add_to_cart"])),
                Touchpoint(
                    id="web_purchase",
                    name="Purchase online",
                    events=EventBinding(names=["purchase"], channels=["web", "app"]),
                ),
                Touchpoint(
                    id="any_purchase", name="Any purchase", events=EventBinding(names=["purchase"])
                ),
            ],
        ),
        Stage(
            id="discover",
            name="Discover",
            order=1,
            touchpoints=[
                Touchpoint(
                    id="blog",
                    name="Blog",
                    events=EventBinding(
                        names=["page_view"], where="properties.page starts with '/blog'"
                    ),
                ),
                Touchpoint(id="ads", name="Ads (not bound)"),
                Touchpoint(
                    id="big_spender",
                    name="Big purchases",
                    events=EventBinding(where="value >= 100"),
                ),
            ],
        ),
        Stage(
            id="help",
            name="Help",
            order=3,
            events=EventBinding(channels=["chat"]),
            touchpoints=[
                Touchpoint(id="faq", name="FAQ", events=EventBinding(names=["faq_view"])),
            ],
        ),
    ],
)


def filtered(engine: Engine, condition_of: Any, rows: list[dict[str, Any]] = ROWS) -> list[int]:
    table = create_events(engine, rows)
    query = table.filter(condition_of(table)).select("seq").order_by("seq")
    return engine.to_arrow(query).to_pydict()["seq"]


# --- filters -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("binding", "expected"),
    [
        (EventBinding(names=["purchase"]), [3, 4]),
        (EventBinding(channels=["web"]), [0, 1, 3, 7]),
        (EventBinding(names=["purchase", "page_view"], channels=["web"]), [0, 1, 3, 7]),
        (EventBinding(where="value > 100"), [3]),
        (
            EventBinding(names=["page_view"], where="not properties.page starts with '/blog'"),
            [1, 7],
        ),
        (EventBinding(names=["nothing"]), []),
    ],
)
def test_binding_filter(engine: Engine, binding: EventBinding, expected: list[int]) -> None:
    assert filtered(engine, lambda table: binding_filter(binding, table)) == expected
    assert expected == [r["seq"] for r in ROWS if binding_matches(binding, r)]
    # Never null: the negation selects exactly the rest.
    rest = filtered(engine, lambda table: ~binding_filter(binding, table))
    assert sorted(rest + expected) == [r["seq"] for r in ROWS]


def test_touchpoint_filters_in_map_order_and_only_bound(engine: Engine) -> None:
    table = create_events(engine, ROWS)
    filters = touchpoint_filters(JOURNEY, table)
    assert list(filters) == ["blog", "big_spender", "cart", "web_purchase", "any_purchase", "faq"]
    query = table.select("seq", **filters).order_by("seq")
    got = engine.to_arrow(query).to_pydict()
    assert got["any_purchase"] == [False, False, False, True, True, False, False, False]
    assert got["big_spender"] == [False, False, False, True, False, False, False, False]


def test_stage_filter_is_the_union_of_its_touchpoints_and_its_own_block(engine: Engine) -> None:
    stages = {stage.id: stage for stage in JOURNEY.stages}
    assert filtered(engine, lambda t: stage_filter(stages["buy"], t)) == [2, 3, 4]
    assert filtered(engine, lambda t: stage_filter(stages["discover"], t)) == [0, 3]
    assert filtered(engine, lambda t: stage_filter(stages["help"], t)) == [5]
    empty = Stage(id="empty", name="Empty", touchpoints=[Touchpoint(id="x", name="X")])
    assert filtered(engine, lambda t: stage_filter(empty, t)) == []


def test_rule_errors_name_the_touchpoint() -> None:
    journey = Journey(
        id="j",
        title="J",
        stages=[
            Stage(
                id="s",
                name="S",
                touchpoints=[
                    Touchpoint(id="tp", name="T", events=EventBinding(where="value > 'x'"))
                ],
            )
        ],
    )
    table = ibis.table(EVENT_COLUMNS, name="events")
    with pytest.raises(RuleError) as caught:
        touchpoint_filters(journey, table)
    assert str(caught.value).startswith(
        "the where rule of touchpoint 'tp' (stage 's'): 'value' is a number"
    )
    assert caught.value.column == 9


# --- labels --------------------------------------------------------------------------


def test_label_events_picks_the_first_touchpoint_in_map_order(engine: Engine) -> None:
    table = create_events(engine, ROWS)
    labelled = label_events(JOURNEY, table)
    assert labelled.columns[-2:] == ("touchpoint_id", "stage_id")
    got = engine.to_arrow(labelled.select("seq", "touchpoint_id", "stage_id").order_by("seq"))
    assert got.to_pylist() == [
        {"seq": 0, "touchpoint_id": "blog", "stage_id": "discover"},
        {"seq": 1, "touchpoint_id": None, "stage_id": None},
        {"seq": 2, "touchpoint_id": "cart", "stage_id": "buy"},
        # 'big_spender' (stage discover, first on the map) before 'web_purchase'
        {"seq": 3, "touchpoint_id": "big_spender", "stage_id": "discover"},
        {"seq": 4, "touchpoint_id": "any_purchase", "stage_id": "buy"},
        # no touchpoint, but the stage's own events block
        {"seq": 5, "touchpoint_id": None, "stage_id": "help"},
        {"seq": 6, "touchpoint_id": None, "stage_id": None},
        {"seq": 7, "touchpoint_id": None, "stage_id": None},
    ]


def test_label_events_is_one_case_expression_without_joins() -> None:
    table = ibis.table(EVENT_COLUMNS, name="events")
    sql = str(ibis.to_sql(label_events(load_template("b2c-ecommerce"), table))).upper()
    assert "JOIN" not in sql
    assert sql.count("CASE") >= 2


def test_label_events_without_bindings_gives_nulls(engine: Engine) -> None:
    journey = Journey(
        id="bare",
        title="Bare",
        stages=[Stage(id="s", name="S", touchpoints=[Touchpoint(id="t", name="T")])],
    )
    table = create_events(engine, ROWS[:2])
    got = engine.to_arrow(label_events(journey, table).select("touchpoint_id", "stage_id"))
    assert got.to_pylist() == [{"touchpoint_id": None, "stage_id": None}] * 2


# --- the report ----------------------------------------------------------------------


def test_bind_report_on_a_known_log(engine: Engine) -> None:
    table = create_events(engine, ROWS)
    queries: list[str] = []
    with engine.tracing(queries.append):
        report = bind_report(engine, table, JOURNEY)
    assert len(queries) == 2
    assert report.to_dict() == reference_report(JOURNEY, ROWS) | {
        "event_coverage": 4 / 8,
        "customer_coverage": 2 / 3,
    }
    counts = {count.touchpoint_id: count for count in report.touchpoints}
    assert (counts["any_purchase"].events, counts["any_purchase"].customers) == (2, 1)
    assert counts["web_purchase"].events == 1  # counted on its own, though labelled big_spender
    assert not counts["ads"].bound
    assert report.unmapped == (("page_view", 2), ("chat_started", 1), (None, 1))
    json.dumps(report.to_dict())
    frame = report.to_frame()
    assert list(frame["touchpoint_id"]) == [c.touchpoint_id for c in report.touchpoints]
    assert list(frame.columns) == [
        "touchpoint_id",
        "name",
        "stage_id",
        "bound",
        "events",
        "customers",
    ]
    text = str(report)
    assert text.splitlines()[0] == (
        "Map 'shop': 4 of 8 events (50.0%) and 2 of 3 customers (66.7%) match a touchpoint."
    )
    assert "Touchpoints without an events block: ads." in text
    assert "Touchpoints matching no event: faq." in text
    assert "page_view (2)" in text


def test_bind_report_on_an_empty_log(engine: Engine) -> None:
    report = bind_report(engine, create_events(engine, []), JOURNEY)
    assert (report.total_events, report.matched_events, report.event_coverage) == (0, 0, 0.0)
    assert report.customer_coverage == 0.0
    assert report.unmapped == ()
    assert all(count.events == 0 for count in report.touchpoints)


def test_bind_report_on_the_b2c_template(engine: Engine) -> None:
    journey = load_template("b2c-ecommerce")
    rows = [
        row(0, "page_view", "web", properties={"page": "/blog/guide"}),
        row(1, "chat_started", "chat", properties={"topic": "sizing"}),
        row(2, "chat_started", "chat", properties={"topic": "returns"}),
        row(3, "purchase", "app"),
        row(4, "qr_code_scan", "print", properties={"campaign": "training_plan"}),
        row(5, "mystery", "web"),
    ]
    report = bind_report(engine, create_events(engine, rows), journey)
    assert report.to_dict() == reference_report(journey, rows) | {
        "event_coverage": report.event_coverage,
        "customer_coverage": report.customer_coverage,
    }
    assert report.matched_events == 4
    assert report.unmapped == (("chat_started", 1), ("mystery", 1))


@given(rows=event_rows(max_size=12), journey=journeys())
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_bind_report_and_labels_equal_brute_force(
    engine: Engine, rows: list[dict[str, Any]], journey: Journey
) -> None:
    table = create_events(engine, rows)
    report: BindReport = bind_report(engine, table, journey)
    expected = reference_report(journey, rows)
    assert report.to_dict() == expected | {
        "event_coverage": report.event_coverage,
        "customer_coverage": report.customer_coverage,
    }
    if rows:
        assert report.event_coverage == expected["matched_events"] / len(rows)
    labelled = (
        label_events(journey, table).select("seq", "touchpoint_id", "stage_id").order_by("seq")
    )
    got = [(r["touchpoint_id"], r["stage_id"]) for r in engine.to_arrow(labelled).to_pylist()]
    assert got == [reference_labels(journey, r) for r in rows]


def test_docstring_examples() -> None:
    import doctest

    from jornada.events import binding as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
