"""Event tables for the events-layer tests, and hypothesis strategies for random
events, rules and journeys.

Tables are real DuckDB tables with the canonical columns (``events/schema.py``),
created through an in-memory :class:`Engine`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa
import pytest
from hypothesis import strategies as st

from jornada.engine import Engine
from jornada.events.rules import (
    FIELD_KINDS,
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
    TextMatch,
)
from jornada.events.schema import EVENT_COLUMNS
from jornada.model import EventBinding, Journey, Stage, Touchpoint

_ARROW = {
    "string": pa.string(),
    "float64": pa.float64(),
    "int64": pa.int64(),
    "timestamp": pa.timestamp("us"),
    "map<string, string>": pa.map_(pa.string(), pa.string()),
}
EVENT_SCHEMA = pa.schema([(name, _ARROW[kind]) for name, kind in EVENT_COLUMNS.items()])


def create_events(
    engine: Engine, rows: Sequence[Mapping[str, Any]], name: str = "events"
) -> ir.Table:
    """(Re)create table ``name`` from rows (dicts; missing columns are null,
    ``properties`` a dict) and return it as an Ibis table."""
    records = []
    for row in rows:
        record = {column: row.get(column) for column in EVENT_COLUMNS}
        if record["properties"] is not None:
            record["properties"] = list(record["properties"].items())
        records.append(record)
    arrow = pa.Table.from_pylist(records, schema=EVENT_SCHEMA)
    engine.duck.register("_staging", arrow)
    try:
        engine.sql(f'create or replace table "{name}" as select * from _staging')
    finally:
        engine.duck.unregister("_staging")
    return engine.table(name)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    """One in-memory DuckDB per test module."""
    opened = Engine.duckdb()
    try:
        yield opened
    finally:
        opened.close()


# --- random events -------------------------------------------------------------------

EVENT_NAMES = [
    "page_view",
    "purchase",
    "add_to_cart",
    "chat_started",
    "email_open",
    "ad_click",
    "signup",
    "review",
    "refund",
    "search",
    "logout",
    "a%b",
    "x'y",
]
CHANNELS = ["web", "app", "email", "social", "chat"]
TEXTS = [
    "",
    "web",
    "purchase",
    "/blog/shoes",
    "/blog",
    "/checkout",
    "12",
    "2.5",
    "-3",
    ".5",
    "1e3",
    "10",
    "9",
    "abc",
    " 5",
    "5 ",
    "true",
    "TRUE",
    "False",
    "a%b",
    "a_b",
    "x'y",
    'q"q',
    "é",
    "Zebra",
    "zebra",
]
PROPERTY_KEYS = ["page", "n", "flag", "utm source", "it's"]
NUMBERS = [-3.0, 0.0, 0.5, 1.0, 2.5, 10.0, 12.0, 1000.0]
TIMES = [
    dt.datetime(2023, 12, 31, 23, 59, 59, 999999),
    dt.datetime(2024, 1, 1),
    dt.datetime(2024, 1, 1, 12, 30, 0, 1),
    dt.datetime(2024, 3, 5, 8),
]
CUSTOMERS = ["c1", "c2", "c3", "c4"]


def _maybe(values: Sequence[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.sampled_from(values))


_properties = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(PROPERTY_KEYS), _maybe(TEXTS), max_size=4),
)


@st.composite
def event_rows(draw: st.DrawFn, max_size: int = 10) -> list[dict[str, Any]]:
    """A small random event log with nulls, numeric and non-numeric properties."""
    count = draw(st.integers(0, max_size))
    rows = []
    for seq in range(count):
        rows.append(
            {
                "event_id": draw(_maybe(TEXTS)),
                "customer_id": draw(_maybe(CUSTOMERS)),
                "ts": draw(_maybe(TIMES)),
                "event": draw(_maybe(EVENT_NAMES)),
                "channel": draw(_maybe(CHANNELS)),
                "session_id": draw(_maybe(TEXTS)),
                "value": draw(_maybe(NUMBERS)),
                "cost": draw(_maybe(NUMBERS)),
                "text": draw(_maybe(TEXTS)),
                "score": draw(_maybe(NUMBERS)),
                "properties": draw(_properties),
                "source": draw(_maybe(TEXTS)),
                "load_id": draw(_maybe([1, 2, 3])),
                "seq": seq,
            }
        )
    return rows


# --- random rules --------------------------------------------------------------------

_TEXT_LITERALS = st.sampled_from([*TEXTS, *EVENT_NAMES, *CHANNELS, "bl", "/b", "e", "%", "_", "'"])
_NUMBER_LITERALS = st.sampled_from([-3.0, 0.0, 0.5, 1.0, 2.5, 5.0, 10.0, 12.0, 1000.0, 1e-3])
_TIME_LITERALS = st.sampled_from([*TIMES, dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 1, 12, 30)])
_COMPARE = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
_MATCH = st.sampled_from(["contains", "starts with", "ends with"])
OPERANDS: list[Field | Property] = [Field(name) for name in FIELD_KINDS] + [
    Property(key) for key in PROPERTY_KEYS
]


def _leaves(operand: Field | Property) -> st.SearchStrategy[Rule]:
    it = st.just(operand)
    nulls = st.builds(IsNull, it, st.booleans())
    if operand.kind == "number":
        value = _NUMBER_LITERALS
        listed: st.SearchStrategy[Any] = _NUMBER_LITERALS
    elif operand.kind == "time":
        value = _TIME_LITERALS
        listed = _TIME_LITERALS
    else:
        value = st.one_of(_TEXT_LITERALS, _NUMBER_LITERALS)
        listed = st.one_of(_TEXT_LITERALS, _NUMBER_LITERALS, st.booleans())
    choices: list[st.SearchStrategy[Rule]] = [
        nulls,
        st.builds(Compare, it, _COMPARE, value),
        st.builds(InList, it, st.lists(listed, min_size=1, max_size=4).map(tuple), st.booleans()),
        st.builds(
            Between,
            it,
            _TIME_LITERALS if operand.kind == "time" else _NUMBER_LITERALS,
            _TIME_LITERALS if operand.kind == "time" else _NUMBER_LITERALS,
        ),
    ]
    if operand.kind == "text":
        choices.append(st.builds(Compare, it, st.sampled_from(["=", "!="]), st.booleans()))
        choices.append(st.builds(TextMatch, it, _MATCH, _TEXT_LITERALS))
    return st.one_of(choices)


def rules(max_leaves: int = 6) -> st.SearchStrategy[Rule]:
    """Random rule trees over the whole grammar, type-correct by construction."""
    leaves = st.sampled_from(OPERANDS).flatmap(_leaves)

    def extend(children: st.SearchStrategy[Rule]) -> st.SearchStrategy[Rule]:
        parts = st.lists(children, min_size=2, max_size=3).map(tuple)
        return st.one_of(parts.map(And), parts.map(Or), children.map(Not))

    return st.recursive(leaves, extend, max_leaves=max_leaves)


# --- random journeys -----------------------------------------------------------------

_names = st.lists(st.sampled_from(EVENT_NAMES), max_size=3, unique=True)
_channels = st.lists(st.sampled_from(CHANNELS), max_size=2, unique=True)


@st.composite
def bindings(draw: st.DrawFn) -> EventBinding | None:
    """An ``events:`` block (or none): names, channels and a where rule, each optional."""
    names = draw(_names)
    channels = draw(_channels)
    where = draw(st.one_of(st.none(), rules(max_leaves=3).map(str)))
    if not (names or channels or where):
        return None
    return EventBinding(names=names, channels=channels, where=where)


@st.composite
def journeys(draw: st.DrawFn) -> Journey:
    """A journey of 1-3 stages with 1-3 touchpoints each, most of them bound."""
    stages = []
    number = 0
    for s in range(draw(st.integers(1, 3))):
        touchpoints = []
        for _ in range(draw(st.integers(1, 3))):
            touchpoints.append(
                Touchpoint(id=f"t{number}", name=f"Touchpoint {number}", events=draw(bindings()))
            )
            number += 1
        own = draw(st.one_of(st.none(), bindings()))
        order = draw(st.one_of(st.none(), st.integers(0, 5)))
        stages.append(
            Stage(id=f"s{s}", name=f"Stage {s}", order=order, touchpoints=touchpoints, events=own)
        )
    return Journey(id="random", title="Random journey", stages=stages)
