"""The living map's shortcuts give the numbers of the plain analyses: conformance's time
in sessions read from the store's facts, the touchpoint measures and trend read from the
stage tables' labelled events, and the measured emotion of several groupings at once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from jornada.analytics.stages import StageTables
from jornada.analytics.touchpoints import touchpoint_measures, touchpoint_trend
from jornada.events.filters import EventScope, scope_events
from jornada.living.conformance import conformance
from jornada.living.sentiment import measured_emotion, measured_emotions
from jornada.model import EventBinding, Journey, Stage, Touchpoint
from jornada.workspace import Workspace
from tests.living.conftest import Row, Store

SHOP = Journey(
    id="shop",
    title="Shop",
    stages=[
        Stage(
            id=name,
            name=name.title(),
            touchpoints=[Touchpoint(id=f"{name}_tp", name=name, events=EventBinding(names=[name]))],
        )
        for name in ("view", "cart", "buy")
    ],
)


def close(mine: Any, theirs: Any) -> bool:
    """Equal, floats to 1e-12 relative (a sum in another order differs in the last bits)."""
    if isinstance(mine, dict) and isinstance(theirs, dict):
        return mine.keys() == theirs.keys() and all(close(mine[k], theirs[k]) for k in mine)
    if isinstance(mine, list) and isinstance(theirs, list):
        return len(mine) == len(theirs) and all(map(close, mine, theirs))
    if isinstance(mine, float) and isinstance(theirs, float):
        both_nan = math.isnan(mine) and math.isnan(theirs)
        return both_nan or math.isclose(mine, theirs, rel_tol=1e-12, abs_tol=1e-12)
    return bool(mine == theirs)


@st.composite
def logs(draw: st.DrawFn) -> list[Row]:
    """Events of a few customers with gaps inside and across sessions (30 minutes)."""
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["u", "v", "w"]),
                st.sampled_from([0, 1, 10, 29, 31, 60, 61, 200]),
                st.sampled_from(["view", "cart", "buy", "page"]),
                st.sampled_from(["web", "app"]),
            ),
            min_size=1,
            max_size=25,
        )
    )
    return [Row(customer, minute, event, channel) for customer, minute, event, channel in rows]


@settings(max_examples=25)
@given(rows=logs())
def test_time_in_sessions_from_the_facts_is_the_sorted_one(
    store: Store, rows: Sequence[Row]
) -> None:
    events = store.load(rows).table
    sorted_again = conformance(events, SHOP, facts=False)
    assert conformance(events, SHOP, facts=True) == sorted_again
    with StageTables(events, SHOP) as tables:
        assert conformance(events, SHOP, stage_tables=tables, facts=True) == sorted_again
        assert conformance(events, SHOP, stage_tables=tables) == sorted_again
    # A scope dropping events numbers them again: the default does not read the facts.
    scope = EventScope(channels=("web",))
    scoped = conformance(events, SHOP, scope=scope)
    assert scoped == conformance(events, SHOP, scope=scope, facts=False)
    with StageTables(scope_events(events, scope), SHOP) as tables:
        shared = conformance(scope_events(events, scope), SHOP, stage_tables=tables)
    assert shared == conformance(scope_events(events, scope), SHOP, facts=False)


def test_touchpoints_from_the_stage_tables(demo_workspace: Workspace) -> None:
    events = demo_workspace.events()
    journey = demo_workspace.load_map("b2c-ecommerce")
    with StageTables(events, journey) as tables:
        measures = touchpoint_measures(
            events, journey, conversion="first_order", stage_tables=tables
        )
        trend = touchpoint_trend(
            events,
            journey,
            conversion="first_order",
            within_seconds=14 * 86400.0,
            stage_tables=tables,
        )
    plain = touchpoint_measures(events, journey, conversion="first_order")
    assert close(measures.to_dict(), plain.to_dict())
    assert sum(t.customers for t in measures.touchpoints) > 0
    expected = touchpoint_trend(
        events, journey, conversion="first_order", within_seconds=14 * 86400.0
    )
    assert trend == expected
    assert trend.rows


def test_emotion_of_several_groupings_at_once(demo_workspace: Workspace) -> None:
    events = demo_workspace.events()
    journey = demo_workspace.load_map("b2c-ecommerce")
    together = measured_emotions(
        events, by=("touchpoint_id", "stage_id", "channel", None), journey=journey
    )
    for by, result in together.items():
        alone = measured_emotion(events, by=by, journey=journey)
        assert close(result.to_dict(), alone.to_dict()), by
    assert any(g.responses for g in together["touchpoint_id"].groups)
