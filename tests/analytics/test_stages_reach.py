"""Stage reach per group of customers (:meth:`StageTables.reach_by`): a hand-computed
case, and random logs, maps and groups against both the stage analysis run on each
group's events alone (what the report did before, once per arrival channel) and the
brute-force oracle."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping

import ibis
import pandas as pd
import plotly.graph_objects as go
from hypothesis import given, settings
from hypothesis import strategies as st

from jornada.analytics.results import wilson_interval
from jornada.analytics.stages import StageReachByGroup, StageTables, analyse_stages
from jornada.model import Journey
from tests.analytics.conftest import EventLog
from tests.analytics.test_stages import (
    CUSTOMERS,
    SHOP,
    MakeLog,
    Store,
    at,
    journey_of,
    logs,
    plain_maps,
    shop_log,
    store,
)
from tests.oracles import stages as oracle
from tests.oracles.stages import PlainStage

__all__ = ["store"]  # the module's store fixture, shared with the stage tests


def groups_table(groups: Mapping[str, str | None]) -> ibis.Table:
    return ibis.memtable(
        pd.DataFrame({"customer_id": list(groups), "group": list(groups.values())}),
        schema={"customer_id": "string", "group": "string"},
    )


def figures(reach: StageReachByGroup, group: str) -> list[tuple[int, int | None]]:
    return [(r.reached, r.reached_next) for r in reach.of(group)]


# --- by hand ------------------------------------------------------------------------------


def test_reach_by_group_by_hand(make_log: MakeLog) -> None:
    # Stages reached (see shop_log): linear browse, cart, buy, after; skipper browse, buy;
    # backer and early browse, cart, buy; never none.
    log = shop_log(make_log)
    groups = groups_table(
        {"linear": "g1", "skipper": "g1", "never": "g1", "backer": "g2", "early": "g2"}
    )
    with StageTables(log.table, journey_of(SHOP)) as tables:
        reach = tables.reach_by(groups)
        ordered = tables.reach_by(groups, values=["g2", "empty", "g1"])
    assert reach.groups == ("g1", "g2")
    assert reach.customers == (2, 2), "never reached a stage"
    # g1: browse 2 (linear, skipper), of whom 1 carted; cart 1 -> buy 1; buy 2 -> after 1
    assert figures(reach, "g1") == [(2, 1), (1, 1), (2, 1), (1, None)]
    # g2: browse 2 -> cart 2; cart 2 -> buy 2; buy 2 -> after 0; after 0
    assert figures(reach, "g2") == [(2, 2), (2, 2), (2, 0), (0, None)]
    buy = reach.stage("g1", "buy")
    assert (buy.stage_id, buy.name, buy.index, buy.group) == ("buy", "BUY", 2, "g1")
    assert buy.conversion_to_next == 0.5
    assert buy.conversion_to_next_interval == wilson_interval(1, 2)
    assert reach.stage("g2", "buy").conversion_to_next == 0.0
    after = reach.stage("g2", "after")
    assert after.conversion_to_next is None
    assert math.isnan(after.conversion_to_next_interval[0])

    assert ordered.groups == ("g2", "empty", "g1")
    assert ordered.customers == (2, 0, 2)
    assert figures(ordered, "empty") == [(0, 0), (0, 0), (0, 0), (0, None)]
    assert figures(ordered, "g1") == figures(reach, "g1")


def test_null_groups_duplicates_and_customers_left_out(make_log: MakeLog) -> None:
    log = shop_log(make_log)
    rows = pd.DataFrame(
        {
            "customer_id": ["linear", "linear", "skipper", "backer"],
            "channel": ["web", "web", None, "web"],
        }
    )
    groups = ibis.memtable(rows, schema={"customer_id": "string", "channel": "string"})
    with StageTables(log.table, journey_of(SHOP)) as tables:
        reach = tables.reach_by(groups, column="channel")
    assert reach.groups == ("web",), "a null group is no group"
    assert reach.customers == (2,), "a customer listed twice counts once"
    assert figures(reach, "web") == [(2, 2), (2, 2), (2, 1), (1, None)]


def test_result_table_json_chart(make_log: MakeLog) -> None:
    log = shop_log(make_log)
    groups = groups_table({"linear": "g1", "skipper": "g1", "backer": "g2", "early": "g2"})
    with StageTables(log.table, journey_of(SHOP)) as tables:
        reach = tables.reach_by(groups)
    frame = reach.to_frame()
    assert frame.shape == (8, 8)
    assert frame["group"].tolist() == ["g1"] * 4 + ["g2"] * 4
    assert frame["reached_next"].isna().tolist() == [False, False, False, True] * 2
    assert frame["conversion_to_next"].dtype == "float64"
    data = reach.to_dict()
    assert data["as_of"] == at(500).isoformat()
    assert [(g["group"], g["customers"]) for g in data["groups"]] == [("g1", 2), ("g2", 2)]
    assert data["groups"][0]["stages"][2]["conversion_to_next"] == 0.5
    assert data["groups"][0]["stages"][3]["conversion_to_next"] is None
    figure = reach.chart()
    assert isinstance(figure, go.Figure)
    assert [trace.name for trace in figure.data] == ["g1", "g2"]
    assert list(figure.data[1].y) == [1.0, 1.0, 0.0]


# --- random logs, maps and groups ------------------------------------------------------------


def check(
    log: EventLog,
    plain: list[PlainStage],
    groups: Mapping[str, str | None],
    as_of: dt.datetime | None,
) -> None:
    """The grouped reach equals, group by group, the stage analysis of the group's
    customers' events alone, and the oracle's stages entered per customer."""
    journey: Journey = journey_of(plain)
    with StageTables(log.table, journey, as_of=as_of) as tables:
        reach = tables.reach_by(groups_table(groups))
    named = sorted({g for g in groups.values() if g is not None})
    expected = oracle.analyse(log.rows(), plain, percentile=80, as_of=as_of)
    entered = {cid: set(c.entered) for cid, c in expected.customers.items()}
    assert set(reach.groups) <= set(named)
    for group in named:
        members = [cid for cid, g in groups.items() if g == group]
        alone = analyse_stages(
            log.table.filter(log.table["customer_id"].isin(members)), journey, as_of=as_of
        )
        got = reach.of(group) if group in reach.groups else ()
        if not got:  # nobody of the group reached a stage
            assert all(s.reached == 0 for s in alone.stages)
            assert not any(entered.get(cid) for cid in members)
            continue
        assert [(r.stage_id, r.reached, r.reached_next) for r in got] == [
            (s.stage_id, s.reached, s.reached_next) for s in alone.stages
        ]
        assert [r.conversion_to_next for r in got] == [s.conversion_to_next for s in alone.stages]
        assert reach.customers[reach.groups.index(group)] == alone.customers
        for k, r in enumerate(got):
            assert r.reached == sum(k in entered.get(cid, ()) for cid in members)
            if r.reached_next is not None:
                assert r.reached_next == sum(
                    {k, k + 1} <= entered.get(cid, set()) for cid in members
                )


def test_hand_log_matches_the_per_group_analysis(make_log: MakeLog) -> None:
    log = shop_log(make_log)
    groups: dict[str, str | None] = {"linear": "a", "skipper": "b", "backer": "a", "early": None}
    check(log, SHOP, groups, None)
    check(log, SHOP, groups, at(150))


@settings(max_examples=15)
@given(
    plain=plain_maps(),
    rows=logs(),
    assigned=st.dictionaries(
        st.sampled_from(CUSTOMERS), st.sampled_from(["g1", "g2", "g3", None]), max_size=7
    ),
    as_of=st.sampled_from([None, 10, 60.5]),
)
def test_random_logs_maps_and_groups_match_the_per_group_analysis(
    store: Store,
    plain: list[PlainStage],
    rows: list[tuple[str, float, str]],
    assigned: dict[str, str | None],
    as_of: float | None,
) -> None:
    log = store.load(rows)
    check(log, plain, assigned, at(as_of) if as_of is not None else None)
