"""The report's stages by arrival channel and its stalled customers, measured on one set
of stage tables: the same numbers as one stage analysis per channel (what the report ran
before) and as :func:`find_stalled`, on the demo workspace; and the tables released."""

from __future__ import annotations

from typing import cast

from jornada.analytics.segments import FirstEvent, Segment, split_by_segment
from jornada.analytics.stages import (
    StageReachByGroup,
    StageTables,
    analyse_stages,
    find_stalled,
)
from jornada.living.overlay import LivingMap, living_map
from jornada.model import Journey
from jornada.report import Report
from jornada.report import _opportunities as opp
from jornada.report._sections import Context, stages, stalled
from jornada.workspace import Workspace


def _cached_tables(workspace: Workspace) -> list[str]:
    rows = workspace.engine.duck.sql(
        "select table_name from duckdb_tables() where table_name like 'ibis_cache%'"
    ).fetchall()
    return [name for (name,) in rows]


def test_channel_reach_is_the_per_channel_stage_analysis(demo: Workspace, journey: Journey) -> None:
    events = demo.events()
    channels = opp.arrival_channels(events)
    assert len(channels) >= 3
    segments = [Segment(c, FirstEvent(f"channel = '{c}'")) for c in channels]
    split = split_by_segment(events, segments, remainder=None)
    with StageTables(events, journey) as tables:
        reach = opp.channel_reach(tables, events, channels)
        assert opp.channel_reach(tables, events, []).groups == ()
    assert reach.groups == tuple(channels)
    for channel in channels:
        alone = analyse_stages(split.filter(split.segment == channel), journey)
        assert [(r.stage_id, r.reached, r.reached_next) for r in reach.of(channel)] == [
            (s.stage_id, s.reached, s.reached_next) for s in alone.stages
        ]
        assert [r.conversion_to_next for r in reach.of(channel)] == [
            s.conversion_to_next for s in alone.stages
        ]
        assert reach.customers[channels.index(channel)] == alone.customers
        assert alone.customers > 0
    # every stage is reached by customers of some channel (the figures are not all zeros)
    assert all(any(reach.stage(c, s.id).reached for c in channels) for s in journey.stages)


def test_the_report_shows_the_shared_tables_numbers(
    report: Report, demo: Workspace, journey: Journey
) -> None:
    section = report.section("stages")
    reach = cast(StageReachByGroup, section.analyses["stages_by_channel"])
    table = section.table("stage-channels")
    channels = [c.key.removeprefix("channel_") for c in table.columns[3:]]
    assert list(reach.groups) == channels
    for row, stage in zip(table.rows, journey.ordered_stages(), strict=False):
        for channel, shown in zip(channels, row[3:], strict=True):
            summary = reach.stage(channel, stage.id)
            enough = summary.reached >= opp.MIN_SEGMENT_CUSTOMERS
            assert shown == (summary.conversion_to_next if enough else None)
    stuck = report.section("stalled").table("stalled-table")
    found = find_stalled(demo.events(), journey)
    assert found.customers, "the demo has stalled customers"
    stalled_column = [c.key for c in stuck.columns].index("stalled")
    shown = {
        stage.id: row[stalled_column]
        for stage, row in zip(journey.ordered_stages(), stuck.rows, strict=True)
    }
    assert shown == {
        stage.id: sum(c.stage_id == stage.id for c in found.customers)
        for stage in journey.ordered_stages()
    }
    assert report.to_dict()["sections"][3]["analyses"]["stages_by_channel"]["groups"]


def test_sections_share_one_set_of_stage_tables_released_on_close(
    report: Report, demo: Workspace, journey: Journey
) -> None:
    living = cast(LivingMap, report.section("living-map").analyses["living"])
    ctx = Context(
        events=demo.events(),
        journey=journey,
        language="en",
        conversion=report.conversion,
        purchase=report.purchase,
        living=living,
    )
    before = _cached_tables(demo)
    by_channel = stages(ctx)
    held = _cached_tables(demo)
    assert len(held) > len(before), "the stage tables are cached while the report is built"
    shared = ctx.stage_tables
    stuck = stalled(ctx)
    assert ctx.stage_tables is shared
    # The stalled customers reuse them, adding what is built on first use (the current
    # stages: the stage analysis does not read them).
    assert set(held) < set(_cached_tables(demo))
    assert by_channel.tables == report.section("stages").tables
    assert stuck.tables == report.section("stalled").tables
    ctx.close()
    assert _cached_tables(demo) == before
    ctx.close()  # twice is harmless


def test_the_living_map_measures_its_stages_on_the_shared_tables(
    report: Report, demo: Workspace, journey: Journey
) -> None:
    living = cast(LivingMap, report.section("living-map").analyses["living"])
    alone = analyse_stages(demo.events(), journey)
    assert living.analyses["stages"] == alone
    before = _cached_tables(demo)
    with StageTables(demo.events(), journey) as tables:
        shared = living_map(demo.events(), journey, stage_tables=tables)
        assert shared.analyses["stages"] == alone
        assert shared.total_customers == living.total_customers
    assert _cached_tables(demo) == before, "released after use"


def test_arrival_channels_of_any_name() -> None:
    """Channel names are data, never rule text: accents and quotes are channels too."""
    from jornada.engine import Engine

    engine = Engine.duckdb()
    engine.sql(
        "create table events as select * from (values "
        "('a', 0, 'loja física'), ('b', 0, 'loja física'), ('c', 0, 'it''s web'), "
        "('c', 1, 'web')) t(customer_id, idx, channel)"
    )
    assert opp.arrival_channels(engine.table("events")) == ["loja física", "it's web"]
