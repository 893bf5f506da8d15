"""Customers keyed by the store's integer ``customer_no`` give exactly the numbers of the
same events keyed by ``customer_id`` (the fallback for tables without it): the stage
tables and everything reading them (conformance, touchpoint measures and trend), on
random logs through the product's own store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis.expr.types as ir
from hypothesis import given, settings
from hypothesis import strategies as st

from jornada.analytics.stages import StageTables
from jornada.analytics.touchpoints import touchpoint_measures, touchpoint_trend
from jornada.living.conformance import conformance
from jornada.model import Journey
from jornada.model.templates import load_template
from tests.living.conftest import Row, Store, at
from tests.living.test_conformance import SHOP, journey_of
from tests.living.test_stored_facts import logs

MAPS: tuple[Journey, ...] = (journey_of(SHOP), load_template("b2c-ecommerce"))


def _rows(table: ir.Table) -> list[dict[str, Any]]:
    return sorted(table.to_pyarrow().to_pylist(), key=repr)


def _both(store: Store, rows: Sequence[Row]) -> tuple[ir.Table, ir.Table]:
    """The stored events (with ``customer_no``) and the same without it."""
    events = store.load(rows).table
    assert "customer_no" in events.columns
    return events, events.drop("customer_no")


@settings(max_examples=20, deadline=None)
@given(rows=logs(), as_of=st.sampled_from([None, 1, 30, 45]), facts=st.booleans())
def test_stage_tables_by_number_and_by_id_agree(
    store: Store, rows: Sequence[Row], as_of: int | None, facts: bool
) -> None:
    events, by_id = _both(store, rows)
    moment = at(as_of) if as_of is not None else None
    arrivals = by_id.filter(by_id.idx == 0).select("customer_id", "channel")
    for journey in MAPS:
        with (
            StageTables(events, journey, as_of=moment, facts=facts) as numbered,
            StageTables(by_id, journey, as_of=moment, facts=facts) as named,
        ):
            assert (numbered.key, named.key) == ("customer_no", "customer_id")
            assert numbered.analysis() == named.analysis()
            assert numbered.stalled() == named.stalled()
            for table in ("entries", "current", "milestones"):
                assert _rows(getattr(numbered, table)) == _rows(getattr(named, table))
            assert numbered.reach_by(arrivals, column="channel") == named.reach_by(
                arrivals, column="channel"
            )


@settings(max_examples=20, deadline=None)
@given(rows=logs())
def test_conformance_and_touchpoints_by_number_and_by_id_agree(
    store: Store, rows: Sequence[Row]
) -> None:
    events, by_id = _both(store, rows)
    for journey in MAPS:
        assert conformance(events, journey, facts=True) == conformance(by_id, journey, facts=True)
        assert conformance(events, journey) == conformance(by_id, journey)
        assert touchpoint_measures(events, journey, conversion="purchase") == (
            touchpoint_measures(by_id, journey, conversion="purchase")
        )
        with (
            StageTables(events, journey, facts=True) as numbered,
            StageTables(by_id, journey, facts=True) as named,
        ):
            assert conformance(events, journey, stage_tables=numbered, facts=True) == (
                conformance(by_id, journey, stage_tables=named, facts=True)
            )
            assert touchpoint_measures(
                events, journey, conversion="purchase", stage_tables=numbered
            ) == touchpoint_measures(by_id, journey, conversion="purchase", stage_tables=named)
            assert touchpoint_trend(
                events, journey, conversion="purchase", stage_tables=numbered
            ) == touchpoint_trend(by_id, journey, conversion="purchase", stage_tables=named)
