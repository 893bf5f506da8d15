"""The rule language: parsing, errors, safety, and DuckDB agreeing with ``Rule.matches``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jornada.engine import Engine
from jornada.errors import JornadaError
from jornada.events.rules import (
    And,
    Between,
    Compare,
    Field,
    InList,
    IsNull,
    Not,
    Or,
    Property,
    Rule,
    RuleError,
    TextMatch,
    compile_rule,
    parse_rule,
)
from jornada.events.schema import EVENT_COLUMNS
from jornada.model import LANGUAGES
from jornada.model.templates import list_templates, load_template
from tests.events.conftest import create_events, event_rows, rules

EVENTS = ibis.table(EVENT_COLUMNS, name="events")


def selected(engine: Engine, rows: list[dict[str, Any]], *parsed: Rule) -> list[list[bool]]:
    """For each rule, whether DuckDB selects each row (in row order), in one query."""
    table = create_events(engine, rows)
    query = table.select(
        "seq", **{f"r{i}": compile_rule(rule, table) for i, rule in enumerate(parsed)}
    ).order_by("seq")
    result = engine.to_arrow(query).to_pydict()
    return [result[f"r{i}"] for i in range(len(parsed))]


# --- parsing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("event = 'purchase'", Compare(Field("event"), "=", "purchase")),
        ('EVENT == "purchase"', Compare(Field("event"), "=", "purchase")),
        ("value <> 3", Compare(Field("value"), "!=", 3.0)),
        ("value>=-2.5e1", Compare(Field("value"), ">=", -25.0)),
        (
            "properties.page starts with '/blog'",
            TextMatch(Property("page"), "starts with", "/blog"),
        ),
        ("properties.Page ENDS WITH 'x'", TextMatch(Property("Page"), "ends with", "x")),
        (
            "properties['utm source'] contains 'mail'",
            TextMatch(Property("utm source"), "contains", "mail"),
        ),
        (r'properties["it\'s \"q\""] is null', IsNull(Property('it\'s "q"'))),
        ("properties.in is not null", IsNull(Property("in"), negated=True)),
        ("properties.flag = TRUE", Compare(Property("flag"), "=", True)),
        ("channel in ('web', \"app\",)", InList(Field("channel"), ("web", "app"))),
        ("channel NOT IN ('web')", InList(Field("channel"), ("web",), negated=True)),
        ("score between 1 and 5", Between(Field("score"), 1.0, 5.0)),
        ("ts >= '2024-05-01'", Compare(Field("ts"), ">=", dt.datetime(2024, 5, 1))),
        (
            "ts < '2024-05-01T13:30:00+02:00'",
            Compare(Field("ts"), "<", dt.datetime(2024, 5, 1, 11, 30)),
        ),
        ("text = 'a\\nb\\\\'", Compare(Field("text"), "=", "a\nb\\")),
        (
            "event = 'a' or event = 'b' and not value > 1",
            Or(
                (
                    Compare(Field("event"), "=", "a"),
                    And(
                        (Compare(Field("event"), "=", "b"), Not(Compare(Field("value"), ">", 1.0)))
                    ),
                )
            ),
        ),
        (
            "(event = 'a' or event = 'b') and value between 1 and 2",
            And(
                (
                    Or((Compare(Field("event"), "=", "a"), Compare(Field("event"), "=", "b"))),
                    Between(Field("value"), 1.0, 2.0),
                )
            ),
        ),
        ("not not (event is null)", Not(Not(IsNull(Field("event"))))),
        ("android_id = 1", None),  # a field starting with a keyword: an unknown field, not 'and'
    ],
)
def test_parse(text: str, expected: Rule | None) -> None:
    if expected is None:
        with pytest.raises(RuleError, match="unknown field 'android_id'"):
            parse_rule(text)
        return
    rule = parse_rule(text)
    assert rule == expected
    assert parse_rule(str(rule)) == rule


def test_keywords_are_case_insensitive_and_spacing_free() -> None:
    assert parse_rule("Event In ('a')   AnD   NOT value  Is  NoT  NuLL") == parse_rule(
        "event in ('a') and not value is not null"
    )


@given(rules())
@settings(max_examples=100, deadline=None)
def test_text_round_trip(rule: Rule) -> None:
    assert parse_rule(str(rule)) == rule


# --- errors --------------------------------------------------------------------------


def caret_column(error: RuleError) -> int:
    lines = str(error).splitlines()
    caret = next(line for line in lines if line.strip() == "^")
    return caret.index("^") - 4 + 1


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        (
            "properties.x = ",
            16,
            "expected a value (a quoted string, a number, true or false) after '='",
        ),
        ("event = 'x' and", 17, "expected a condition such as event = 'purchase' after 'and'"),
        ("event", 7, "expected an operator (=, !=, <"),
        ("event = purchase", 9, "found 'purchase'"),
        ("event = null", 9, "write: ... is null"),
        ("event = 'abc", 9, "no closing quote"),
        ("event in ('a' 'b')", 15, "expected ',' or ')' after 'a'"),
        ("value between 1 'x'", 17, "expected 'and' after '1'"),
        ("event starts 'x'", 14, "expected 'with' after 'starts'"),
        ("(event = 'a'", 14, "expected 'and', 'or' or ')'"),
        ("event = 'x')", 12, "closes no '('"),
        ("event = 'a' && channel = 'b'", 13, "write and, or, not"),
        ("properties . x = 1", 12, "expected .NAME or [\"any name\"] after 'properties'"),
        ("value > 'ten'", 9, "'value' is a number"),
        ("ts > 5", 6, "'ts' is a date and time"),
        ("ts > 'yesterday'", 6, "is not a date or time"),
        ("value contains 'x'", 7, "'contains' works on text"),
        ("event contains 5", 16, "'contains' takes quoted text"),
        ("event < true", 9, "true and false can only be compared with =, != or in"),
        ("value = false", 9, "'value' is a number, not true or false"),
        ("event between 'a' and 'b'", 15, "between takes numbers"),
        ("event = 1e999", 9, "too large"),
        ("", 1, "the rule is empty"),
        ("evnt = 'x'", 1, "did you mean 'event'?"),
    ],
)
def test_errors_show_where_and_what(text: str, column: int, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(text)
    error = caught.value
    shown = str(error)
    assert message in shown
    assert error.column == column
    assert error.position == column - 1
    assert f"at column {column}" in shown.splitlines()[0]
    assert caret_column(error) == column
    assert text.rstrip() in shown  # the rule itself is shown
    assert "Traceback" not in shown
    assert "lark" not in shown.lower()
    assert "Token(" not in shown
    assert error.__cause__ is None
    assert isinstance(error, JornadaError)


def test_error_in_a_multi_line_rule_shows_its_line() -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule("event = 'a'\n  and value = ")
    error = caught.value
    assert (error.line, error.column) == (2, 15)
    assert "at line 2, column 15" in str(error)
    assert "      and value =\n" in str(error)


def test_unknown_field_lists_the_fields_and_suggests_a_property() -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule("channel = 'web' and page starts with '/blog'")
    shown = str(caught.value)
    assert "unknown field 'page' at column 21" in shown
    for field in ("event", "channel", "value", "ts", "customer_id", "session_id"):
        assert field in shown
    assert "properties.page" in shown


def test_with_context_names_the_source() -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule("value = ")
    error = caught.value.with_context("touchpoint 'cart'")
    assert str(error).startswith("touchpoint 'cart': expected a value")
    assert error.position == caught.value.position


def test_rule_must_be_text() -> None:
    with pytest.raises(TypeError):
        parse_rule(42)  # type: ignore[arg-type]


def test_compile_names_a_missing_column() -> None:
    table = ibis.table({"event": "string"}, name="slim")
    with pytest.raises(RuleError, match="no column 'properties'"):
        compile_rule("event = 'a' and properties.page = '/'", table)


# --- semantics on DuckDB -------------------------------------------------------------

ROWS: list[dict[str, Any]] = [
    {
        "seq": 0,
        "event": "page_view",
        "channel": "web",
        "customer_id": "c1",
        "ts": dt.datetime(2024, 1, 1, 12),
        "value": None,
        "properties": {"page": "/blog/shoes", "n": "12", "flag": "True"},
    },
    {
        "seq": 1,
        "event": "purchase",
        "channel": "app",
        "customer_id": "c2",
        "ts": dt.datetime(2024, 1, 2),
        "value": 50.0,
        "properties": {"n": "abc", 'it\'s "q"': "x"},
    },
    {"seq": 2},  # every field null
    {
        "seq": 3,
        "event": "a%b",
        "channel": "web",
        "value": 5.0,
        "text": "50% off_now",
        "properties": {"n": "-3.5", "page": "/checkout"},
    },
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("properties.page starts with '/blog'", [True, False, False, False]),
        ("properties.n > 5", [True, False, False, False]),
        ("not properties.n > 5", [False, True, True, True]),
        ("properties.n != 5", [True, False, False, True]),  # 'abc' is not a number
        ("properties.n < 0", [False, False, False, True]),
        ("properties.n between -4 and 12", [True, False, False, True]),
        ("properties.n in (12, 'abc')", [True, True, False, False]),
        ("properties.n not in (12, 'abc')", [False, False, False, True]),
        ("properties.flag = true", [True, False, False, False]),
        ("properties.flag != true", [False, False, False, False]),
        ('properties["it\'s \\"q\\""] = \'x\'', [False, True, False, False]),
        ("value > 10", [False, True, False, False]),
        ("not value > 10", [True, False, True, True]),
        ("value != 5", [False, True, False, False]),
        ("value is null", [True, False, True, False]),
        ("ts >= '2024-01-02'", [False, True, False, False]),
        ("ts between '2024-01-01' and '2024-01-01T23:59:59'", [True, False, False, False]),
        ("event in ('purchase', 'page_view')", [True, True, False, False]),
        ("event not in ('purchase')", [True, False, False, True]),
        ("text contains '%'", [False, False, False, True]),
        ("text contains '_'", [False, False, False, True]),
        ("event like 'a%'", None),
        ("event = 'a%b'", [False, False, False, True]),
        ("event starts with 'a_'", [False, False, False, False]),  # '_' is not a wildcard
        ("EVENT = 'PURCHASE'", [False, False, False, False]),  # values are case-sensitive
    ],
)
def test_semantics(engine: Engine, text: str, expected: list[bool] | None) -> None:
    if expected is None:
        with pytest.raises(RuleError):
            parse_rule(text)
        return
    rule = parse_rule(text)
    assert [rule.matches(row) for row in ROWS] == expected
    assert selected(engine, ROWS, rule) == [expected]


def test_matches_reads_pandas_style_rows() -> None:
    rule = parse_rule("value is null and properties.page = '/'")
    assert rule.matches({"value": float("nan"), "properties": [("page", "/")]})
    assert not rule.matches({"value": 1.0, "properties": {"page": "/"}})


# --- safety --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        'event = "x\'); drop table events; --"',
        "event = 'x\\'); drop table events; --'",
        'properties["\'); drop table events; --"] is not null',
        'properties["a\\"] = 1 or 1=1 --"] = \'x\'',
        "text contains '\\' or 1=1 --'",
        "event in ('a', \"b'); drop table events; --\")",
    ],
)
def test_injection_attempts_are_just_text(engine: Engine, text: str) -> None:
    rule = parse_rule(text)
    assert selected(engine, ROWS, rule) == [[False] * len(ROWS)]
    assert engine.has_table("events")
    assert engine.sql("select count(*) from events").fetchone() == (len(ROWS),)


def test_values_become_literals_not_sql() -> None:
    sql = str(ibis.to_sql(EVENTS.filter(compile_rule('event = "x\'; drop table t; --"', EVENTS))))
    assert "'x''; drop table t; --'" in sql  # quoted by the compiler, as one string literal


# --- DuckDB agrees with the Python reference on random rules and logs -------------------


@given(rows=event_rows(), parsed=st.lists(rules(), min_size=1, max_size=6))
@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_duckdb_selects_what_matches_selects(
    engine: Engine, rows: list[dict[str, Any]], parsed: list[Rule]
) -> None:
    got = selected(engine, rows, *parsed)
    for rule, column in zip(parsed, got, strict=True):
        assert column == [rule.matches(row) for row in rows], str(rule)


# --- the templates ---------------------------------------------------------------------


def test_every_template_binding_parses_and_compiles() -> None:
    seen = 0
    for info in list_templates():
        for language in LANGUAGES:
            if language not in info.languages:
                continue
            journey = load_template(info.name, language)
            blocks = [tp.events for _, tp in journey.iter_touchpoints()]
            for stage in journey.stages:
                blocks.append(stage.events)
                blocks.extend(milestone.events for milestone in stage.milestones)
            for block in blocks:
                if block is not None and block.where:
                    rule = parse_rule(block.where)
                    assert parse_rule(str(rule)) == rule
                    compile_rule(rule, EVENTS)
                    seen += 1
    assert seen > 10


def test_b2c_ecommerce_rules_read_as_written() -> None:
    journey = load_template("b2c-ecommerce", "en")
    rules_by_touchpoint = {
        tp.id: parse_rule(tp.events.where)
        for _, tp in journey.iter_touchpoints()
        if tp.events is not None and tp.events.where
    }
    assert rules_by_touchpoint["running_guide"] == TextMatch(
        Property("page"), "starts with", "/blog"
    )
    assert rules_by_touchpoint["size_chat"] == Compare(Property("topic"), "=", "sizing")
    second_purchase = next(
        m for stage in journey.stages for m in stage.milestones if m.id == "second_purchase"
    )
    assert second_purchase.events is not None
    assert second_purchase.events.where is not None
    rule = parse_rule(second_purchase.events.where)
    assert rule == Compare(Property("order_index"), ">", 1.0)
    assert rule.matches({"properties": {"order_index": "2"}})
    assert not rule.matches({"properties": {"order_index": "first"}})


def test_docstring_examples() -> None:
    import doctest

    from jornada.events import rules as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
