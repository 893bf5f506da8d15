"""The numeric labels of the stage tables (``event_labels``: a lookup by name and channel,
then only the ``where`` rules left) against ``label_events``, whose flat ``CASE`` of the
touchpoint filters is the definition: random maps (names, channels, ``where`` rules,
repeated touchpoint ids, stages' own blocks) on random events, null names and channels
included."""

from __future__ import annotations

from typing import Any

import ibis
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from jornada.analytics.stages import event_labels
from jornada.engine import Engine
from jornada.events.binding import label_events
from jornada.model import EventBinding, Journey, Stage, Touchpoint

NAMES = ("view", "cart", "buy", "help")
CHANNELS = ("web", "app", "mail")
WHERES = (
    None,
    "properties.page starts with '/b'",
    "value > 5",
    "properties.page = '/a' or value <= 2",
)

ENGINE = Engine.duckdb()


@st.composite
def bindings(draw: st.DrawFn) -> EventBinding:
    names = draw(st.lists(st.sampled_from(NAMES), max_size=2, unique=True))
    channels = draw(st.lists(st.sampled_from(CHANNELS), max_size=2, unique=True))
    where = draw(st.sampled_from(WHERES))
    if not (names or channels or where):
        names = [draw(st.sampled_from(NAMES))]
    return EventBinding(names=names, channels=channels, where=where)


@st.composite
def maps(draw: st.DrawFn) -> Journey:
    stages = []
    for s in range(draw(st.integers(1, 3))):
        touchpoints = [
            Touchpoint(
                # a few ids repeat: the first bound touchpoint of an id is the one counted
                id=draw(st.sampled_from(["t0", "t1", f"s{s}t{k}", f"s{s}t{k}b"])),
                name="T",
                events=draw(st.none() | bindings()),
            )
            for k in range(draw(st.integers(0, 4)))
        ]
        own = draw(st.none() | bindings())
        stages.append(Stage(id=f"s{s}", name=f"S{s}", touchpoints=touchpoints, events=own))
    return Journey(id="m", title="M", stages=stages)


events_rows = st.lists(
    st.tuples(
        st.sampled_from((*NAMES, "other", None)),
        st.sampled_from((*CHANNELS, "phone", None)),
        st.sampled_from(("/a", "/b", "/bx", None)),
        st.sampled_from((None, 1.0, 3.0, 9.0)),
    ),
    min_size=1,
    max_size=30,
)


def _table(rows: list[tuple[Any, ...]]) -> ibis.Table:
    properties = [[] if page is None else [("page", page)] for _, _, page, _ in rows]
    arrow = pa.table(
        {
            "idx": list(range(len(rows))),
            "event": pa.array([row[0] for row in rows], pa.string()),
            "channel": pa.array([row[1] for row in rows], pa.string()),
            "properties": pa.array(properties, pa.map_(pa.string(), pa.string())),
            "value": pa.array([row[3] for row in rows], pa.float64()),
        }
    )
    return ENGINE.con.create_table("ev", arrow, overwrite=True)


@settings(max_examples=120, deadline=None)
@given(journey=maps(), rows=events_rows)
def test_numbers_are_the_labels_of_label_events(journey: Journey, rows: list[Any]) -> None:
    events = _table(rows)
    named = ENGINE.to_arrow(label_events(journey, events).order_by("idx")).to_pylist()
    numbered, touchpoints = event_labels(journey, events)
    numbers = ENGINE.to_arrow(numbered.order_by("idx")).to_pylist()
    stages = [stage.id for stage in journey.ordered_stages()]
    assert [None if r["touchpoint"] is None else touchpoints[r["touchpoint"]] for r in numbers] == [
        r["touchpoint_id"] for r in named
    ]
    assert [None if r["stage_index"] is None else stages[r["stage_index"]] for r in numbers] == [
        r["stage_id"] for r in named
    ]


def test_a_chain_of_where_rules_falls_through_to_a_plain_rule() -> None:
    """Two rules with a ``where`` then one without, all on one name: an event failing
    both rules is the third touchpoint's, one passing the second is the second's."""
    journey = Journey(
        id="m",
        title="M",
        stages=[
            Stage(
                id="s",
                name="S",
                touchpoints=[
                    Touchpoint(
                        id="a", name="A", events=EventBinding(names=["view"], where="value > 5")
                    ),
                    Touchpoint(
                        id="b", name="B", events=EventBinding(channels=["web"], where="value > 2")
                    ),
                    Touchpoint(id="c", name="C", events=EventBinding(names=["view"])),
                ],
            )
        ],
    )
    events = _table(
        [
            ("view", "web", None, 9.0),
            ("view", "web", None, 3.0),
            ("view", "web", None, 1.0),
            ("view", "app", None, 3.0),
            ("cart", "web", None, 3.0),
            ("cart", "web", None, 1.0),
        ]
    )
    numbered, touchpoints = event_labels(journey, events)
    numbers = ENGINE.to_arrow(numbered.order_by("idx")).column("touchpoint").to_pylist()
    assert [None if n is None else touchpoints[n] for n in numbers] == [
        "a",
        "b",
        "c",
        "c",
        "b",
        None,
    ]
