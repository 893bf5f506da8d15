"""The living map's shared stage pipeline gives the numbers of each analysis run alone.

One :class:`~jornada.analytics.stages.StageTables` (labelled events, visits, entries,
current stages, milestones, the touchpoint periods kept for the measures and the trend)
read by the stage analysis, conformance, the touchpoint measures and their trend, with
and without the store's facts and ``customer_no``, against each analysis computed from
the events on its own; and the packed arg-max against the engine's own.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
from hypothesis import given, settings
from hypothesis import strategies as st

from jornada.analytics.stages import StageTables, analyse_stages, arg_extreme
from jornada.analytics.touchpoints import touchpoint_measures, touchpoint_trend
from jornada.living.conformance import conformance
from jornada.model import Journey
from jornada.model.templates import load_template
from tests.living.conftest import Row, Store
from tests.living.test_conformance import SHOP, journey_of
from tests.living.test_stored_facts import logs

MAPS: tuple[Journey, ...] = (journey_of(SHOP), load_template("b2c-ecommerce"))


@settings(max_examples=20, deadline=None)
@given(
    rows=logs(),
    facts=st.booleans(),
    numbered=st.booleans(),
    period=st.sampled_from(["week", "day"]),
)
def test_the_shared_tables_give_each_analysis_alone(
    store: Store, rows: Sequence[Row], facts: bool, numbered: bool, period: str
) -> None:
    events = store.load(rows).table
    if not numbered:
        events = events.drop("customer_no")
    for journey in MAPS:
        alone_measures = touchpoint_measures(events, journey, conversion="purchase")
        alone_trend = touchpoint_trend(
            events, journey, conversion="purchase", period=period, within_seconds=3600.0
        )
        with StageTables(events, journey, facts=facts) as tables:
            assert tables.key == ("customer_no" if numbered else "customer_id")
            assert tables.analysis() == analyse_stages(events, journey)
            assert conformance(events, journey, stage_tables=tables, facts=facts) == (
                conformance(events, journey)
            )
            # the trend first (it keeps its periods), then the measures (reading the weeks)
            assert (
                touchpoint_trend(
                    events,
                    journey,
                    conversion="purchase",
                    period=period,
                    within_seconds=3600.0,
                    stage_tables=tables,
                )
                == alone_trend
            )
            shared = touchpoint_measures(
                events, journey, conversion="purchase", stage_tables=tables
            )
            assert shared == alone_measures
            # read again from the kept tables: the same
            assert (
                touchpoint_measures(events, journey, conversion="purchase", stage_tables=tables)
                == shared
            )
            assert tables.total_customers == shared.total_customers


def test_the_facts_leave_the_session_id_out(store: Store) -> None:
    events = store.load([Row("u", 0, "view"), Row("u", 1, "buy")]).table
    shop = journey_of(SHOP)
    with StageTables(events, shop, facts=True) as stored, StageTables(events, shop) as plain:
        assert stored.facts
        assert not plain.facts
        assert "session_id" not in stored.labelled.columns
        assert "session_id" in plain.labelled.columns
        # conformance told nothing of the facts still reads them from facts-built tables
        assert conformance(events, shop, stage_tables=stored) == conformance(events, shop)


@settings(max_examples=50, deadline=None)
@given(
    groups=st.lists(
        st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=8),
        min_size=1,
        max_size=5,
    )
)
def test_the_packed_arg_extreme_is_the_engines(groups: list[list[int]]) -> None:
    rows = [
        {"g": g, "order": order, "value": value}
        for g, values in enumerate(groups)
        for order, value in enumerate(values)
    ]
    table = ibis.memtable(rows)
    found = table.group_by("g").aggregate(
        last=arg_extreme(table.value, table.order, 7),
        first=arg_extreme(table.value, table.order, 7, last=False),
        engine_last=table.value.argmax(table.order),
        engine_first=table.value.argmin(table.order),
    )
    for row in found.to_pyarrow().to_pylist():
        assert (row["last"], row["first"]) == (row["engine_last"], row["engine_first"])
        assert row["last"] == groups[row["g"]][-1]
        assert row["first"] == groups[row["g"]][0]


def test_two_tables_of_the_same_events_keep_their_own_caches(store: Store) -> None:
    events = store.load([Row("u", 0, "view"), Row("u", 1, "buy"), Row("v", 2, "view")]).table
    shop = journey_of(SHOP)
    with StageTables(events, shop) as outer:
        # the same expressions inside: closing them must not drop the outer tables
        inner = analyse_stages(events, shop)
        assert outer.analysis() == inner
        assert outer.labelled.count().execute() == 3
