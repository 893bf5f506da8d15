"""Attribution by touchpoint read from the stage tables' labelled events (what the living
map does) gives the path table of labelling the events again: the same paths, counts,
values and time-decay credits, for every kind of conversion step (the conversions are
read from the events and taken out of the labelled touches)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jornada.analytics._attribution_paths import _reads_labels
from jornada.analytics.attribution import PathTable, attribution, conversion_paths
from jornada.analytics.stages import StageTables
from jornada.engine import Engine
from jornada.model import EventBinding, Journey, Milestone, Stage, Touchpoint
from tests.analytics.conftest import BASE, EventLog, minutes
from tests.analytics.test_attribution import logs

MakeLog = Callable[..., EventLog]

# Overlapping bindings (a web visit is both "site" and "web"; the first in map order
# wins), a touchpoint that is also a conversion (purchases), a stage's own block.
SHOP = Journey(
    id="shop",
    title="Shop",
    stages=[
        Stage(
            id="look",
            name="Look",
            touchpoints=[
                Touchpoint(
                    id="site", name="Site", events=EventBinding(names=["visit"], channels=["web"])
                ),
                Touchpoint(id="ads", name="Ads", events=EventBinding(names=["ad"])),
                Touchpoint(id="web", name="Web", events=EventBinding(channels=["web"])),
            ],
        ),
        Stage(
            id="buy",
            name="Buy",
            events=EventBinding(channels=["email"]),
            touchpoints=[
                Touchpoint(id="checkout", name="Checkout", events=EventBinding(names=["purchase"]))
            ],
            milestones=[
                Milestone(
                    id="big_order",
                    name="Big order",
                    events=EventBinding(names=["purchase"], where="value > 5"),
                )
            ],
        ),
    ],
)

CONVERSIONS = [
    "purchase",  # an event name
    "checkout",  # a touchpoint id (the touchpoint's own events are then no touch)
    "buy",  # a stage id: its touchpoints' and its own blocks
    "big_order",  # a milestone reading the value
    "channel = 'web' and event = 'visit'",  # a rule
]


def same_tables(got: PathTable, want: PathTable) -> None:
    assert got.channels == want.channels
    assert got.paths() == want.paths()
    assert np.array_equal(got.conversions, want.conversions)
    assert np.array_equal(got.nulls, want.nulls)
    assert got.conversions_without_touches == want.conversions_without_touches
    assert got.value_without_touches == want.value_without_touches
    assert (got.value is None) == (want.value is None)
    if want.value is not None:
        assert got.value is not None
        assert np.array_equal(got.value, want.value)
    assert (got.decay is None) == (want.decay is None)
    if want.decay is not None:
        assert got.decay is not None
        assert np.allclose(got.decay, want.decay, rtol=1e-12, atol=0.0)


@pytest.mark.slow
@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=logs(),
    lookback=st.sampled_from([None, 60.0, 86400.0]),
    numbered=st.booleans(),
)
def test_labelled_touches_give_the_paths_of_labelling_again(
    make_log: MakeLog, rows: list[Any], lookback: float | None, numbered: bool
) -> None:
    log = make_log(rows)
    events = log.table if numbered else log.table.drop("customer_no")
    with StageTables(events, SHOP) as tables:
        assert _reads_labels(events, SHOP, tables, None)
        for conversion in CONVERSIONS:
            options: dict[str, Any] = {
                "conversion": conversion,
                "touch": "touchpoint",
                "journey": SHOP,
                "lookback_seconds": lookback,
                "half_life_seconds": 3600.0,
                "engine": log.engine,
            }
            same_tables(
                conversion_paths(events, stage_tables=tables, **options),
                conversion_paths(events, **options),
            )


def test_touches_and_conversions_by_hand(make_log: MakeLog) -> None:
    log = make_log(
        [
            ("a", minutes(0), "ad", {"channel": "social"}),
            ("a", minutes(1), "visit", {"channel": "web"}),  # site, not web
            ("a", minutes(2), "purchase", {"channel": "web", "value": "9"}),  # no touch
            ("a", minutes(3), "open", {"channel": "web"}),  # web
            ("b", minutes(0), "visit", {"channel": "app"}),  # no touchpoint
            ("b", minutes(1), "purchase", {"channel": "app", "value": "2"}),
        ]
    )
    with StageTables(log.table, SHOP) as tables:
        table = conversion_paths(
            log.table, conversion="purchase", touch="touchpoint", journey=SHOP, stage_tables=tables
        )
        assert dict(zip(table.paths(), table.conversions.tolist(), strict=True)) == {
            ("ads", "site"): 1.0,
            ("web",): 0.0,
        }
        assert table.conversions_without_touches == 1  # b's purchase
        assert table.value is not None
        assert table.value.tolist() == [9.0, 0.0]
        # the milestone's rule reads the value: b's small purchase is a touch (checkout)
        big = conversion_paths(
            log.table, conversion="big_order", touch="touchpoint", journey=SHOP, stage_tables=tables
        )
        assert big.paths() == [("ads", "site"), ("checkout",), ("web",)]
        assert big.nulls.tolist() == [0.0, 1.0, 1.0]
        credited = attribution(
            log.table,
            conversion="purchase",
            touch="touchpoint",
            journey=SHOP,
            models="position_based",
            stage_tables=tables,
        )
        assert credited.channels == ("ads", "site", "web")
        assert credited.conversions["position_based"] == (0.5, 0.5, 0.0)


def test_stage_tables_are_not_read_when_they_do_not_fit(make_log: MakeLog) -> None:
    """Tables measured up to an earlier time, of another map, without the events'
    positions or with ``only``: the events are labelled again (the same answer)."""
    log = make_log(
        [
            ("a", minutes(0), "ad", {"channel": "social"}),
            ("a", minutes(10), "purchase", {"channel": "web"}),
        ]
    )
    events = log.table
    with StageTables(events, SHOP, as_of=BASE + dt.timedelta(minutes=5)) as early:
        assert not _reads_labels(events, SHOP, early, None)
        table = conversion_paths(
            events, conversion="purchase", touch="touchpoint", journey=SHOP, stage_tables=early
        )
        assert table.paths() == [("ads",)]
    with StageTables(events, SHOP) as tables:
        assert _reads_labels(events, SHOP, tables, None)
        assert not _reads_labels(events, SHOP, tables, "channel = 'social'")
        assert not _reads_labels(events.drop("idx"), SHOP, tables, None)
        other = SHOP.model_copy(update={"id": "other"})
        assert not _reads_labels(events, other, tables, None)


def test_a_table_with_events_without_time_is_labelled_again() -> None:
    """The stage tables leave out events without a time; the paths keep them as touches
    (without a lookback). A plain table with such events takes the labelling route."""
    engine = Engine.duckdb()
    engine.sql(
        "CREATE TABLE plain AS SELECT * FROM (VALUES"
        " ('a', 0, TIMESTAMP '2026-01-01', 'ad', 'social', NULL::DOUBLE),"
        " ('a', 1, NULL::TIMESTAMP, 'visit', 'web', NULL),"
        " ('a', 2, TIMESTAMP '2026-01-03', 'purchase', 'web', 5.0),"
        " ('b', 0, NULL::TIMESTAMP, 'ad', 'social', NULL),"
        " ('b', 1, TIMESTAMP '2026-01-03', 'purchase', 'web', 2.0))"
        " AS t(customer_id, idx, ts, event, channel, value)"
    )
    events = engine.table("plain")
    options: dict[str, Any] = {
        "conversion": "purchase",
        "touch": "touchpoint",
        "journey": SHOP,
        "lookback_seconds": None,
        "engine": engine,
    }
    with StageTables(events, SHOP) as tables:
        got = conversion_paths(events, stage_tables=tables, **options)
    assert got.paths() == [("ads",), ("ads", "site")]
    assert got.conversions_without_touches == 0
    same_tables(got, conversion_paths(events, **options))
