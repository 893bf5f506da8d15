"""Attribution by touchpoint from the stage tables' labelled events, where the touches
include the conversion events that have a touchpoint (the query drops each where it
meets its own conversion) and positions and codes are packed into 32-bit integers when
they fit (64-bit otherwise): the paths of labelling the events again, by hand."""

from __future__ import annotations

from typing import Any

import pytest

from jornada.analytics.attribution import conversion_paths
from jornada.analytics.stages import StageTables
from jornada.engine import Engine
from tests.analytics.test_attribution_stage_tables import SHOP, same_tables

# (customer, position, time, event, channel, value). Purchases are conversions and
# also the touchpoint "checkout" of SHOP; "ad" is "ads", a web visit "site".
ROWS = [
    # c: the first purchase has no touch; the touches after it span a day, the
    # purchase widens the customer's span beyond the lookback: all of them are kept.
    ("c", 0, "2026-01-01 00:00", "purchase", "web", 5.0),
    ("c", 1, "2026-01-03 00:00", "ad", "social", None),
    ("c", 2, "2026-01-04 00:00", "visit", "web", None),
    # d: a purchase after every touch, too late for them (a conversion without touches).
    ("d", 0, "2026-01-01 00:00", "ad", "social", None),
    ("d", 1, "2026-01-02 00:00", "visit", "web", None),
    ("d", 2, "2026-01-06 00:00", "purchase", "web", 7.0),
    # e: a converting path, then a non-converting one trimmed to the lookback.
    ("e", 0, "2026-01-01 00:00", "ad", "social", None),
    ("e", 1, "2026-01-01 01:00", "purchase", "web", 3.0),
    ("e", 2, "2026-01-05 00:00", "visit", "web", None),
    ("e", 3, "2026-01-10 00:00", "visit", "web", None),
    ("e", 4, "2026-01-10 01:00", "ad", "social", None),
    # f: two purchases at one time, a touch between them by position.
    ("f", 0, "2026-01-02 00:00", "ad", "social", None),
    ("f", 1, "2026-01-02 00:00", "purchase", "web", 1.0),
    ("f", 2, "2026-01-02 00:00", "visit", "web", None),
    ("f", 3, "2026-01-02 00:00", "purchase", "web", 2.0),
]


def plain_events(offset: int) -> tuple[Engine, Any]:
    """The rows as a plain table (no store facts but ``idx``), positions moved by
    ``offset``."""
    engine = Engine.duckdb()
    values = ", ".join(
        f"('{who}', {pos + offset}, TIMESTAMP '{ts}', '{event}', '{channel}', "
        f"{'NULL' if value is None else value}::DOUBLE)"
        for who, pos, ts, event, channel, value in ROWS
    )
    engine.sql(
        f"CREATE TABLE plain AS SELECT * FROM (VALUES {values})"
        " AS t(customer_id, idx, ts, event, channel, value)"
    )
    return engine, engine.table("plain")


@pytest.mark.parametrize(
    "offset",
    [0, 1 << 30],  # 32-bit packing; positions too high for it (64-bit)
)
def test_labelled_paths_by_hand(offset: int) -> None:
    engine, events = plain_events(offset)
    options: dict[str, Any] = {
        "conversion": "purchase",
        "touch": "touchpoint",
        "journey": SHOP,
        "lookback_seconds": 2 * 86400.0,
        "engine": engine,
    }
    with StageTables(events, SHOP) as tables:
        got = conversion_paths(events, stage_tables=tables, **options)
    paths = dict(zip(got.paths(), zip(got.conversions, got.nulls, strict=True), strict=True))
    assert paths == {
        ("ads",): (2.0, 0.0),  # e's purchase; f's first
        ("ads", "site"): (0.0, 1.0),  # c, both kept
        ("site",): (1.0, 0.0),  # f's second purchase
        ("site", "ads"): (0.0, 1.0),  # e, trimmed to the lookback
    }
    assert got.conversions_without_touches == 2  # c's and d's purchases
    assert got.value is not None
    assert got.value_without_touches == 12.0
    same_tables(got, conversion_paths(events, **options))
