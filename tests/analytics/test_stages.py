"""Stages, milestones and stalled customers: hand-made journeys, random logs and maps
against the brute-force oracle, the b2c-ecommerce template on a small log, and the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from collections.abc import Callable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import ibis
import plotly.graph_objects as go
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from jornada.analytics.results import wilson_interval
from jornada.analytics.stages import (
    StageAnalysis,
    StageTables,
    StalledCustomers,
    analyse_stages,
    current_stages,
    find_stalled,
    milestone_progress,
    nearest_rank,
    stage_entries,
    stalled_customers,
    within_seconds,
)
from jornada.cli.stages import register
from jornada.engine import Engine
from jornada.engine.store import ensure_store, materialise_events
from jornada.events.binding import label_events
from jornada.model import EventBinding, Journey, Milestone, Stage, Touchpoint
from jornada.model.templates import load_template
from tests.analytics.conftest import BASE, EventLog, LogRow, minutes
from tests.oracles import stages as oracle
from tests.oracles.stages import PlainMilestone, PlainStage

MakeLog = Callable[..., EventLog]


def at(n: float) -> dt.datetime:
    """The naive UTC datetime ``n`` minutes after the base (what the engine returns)."""
    return BASE + dt.timedelta(minutes=n)


def journey_of(plain_map: Sequence[PlainStage]) -> Journey:
    """A real map for a plain one: one touchpoint per stage binding its event names."""
    stages = []
    for stage in plain_map:
        touchpoint = Touchpoint(
            id=f"{stage.id}_tp",
            name=f"{stage.id} touchpoint",
            events=EventBinding(names=sorted(stage.names)) if stage.names else None,
        )
        milestones = [
            Milestone(
                id=m.id,
                name=f"milestone {m.id}",
                within=f"{m.within}s" if m.within is not None else None,
                events=EventBinding(names=sorted(m.names)),
            )
            for m in stage.milestones
        ]
        stages.append(
            Stage(
                id=stage.id, name=stage.id.upper(), touchpoints=[touchpoint], milestones=milestones
            )
        )
    return Journey(id="plain", title="Plain", stages=stages)


def rows_of(table: ibis.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = table.to_pyarrow().to_pylist()
    return rows


# --- hand-made journeys ------------------------------------------------------------------

SHOP = [
    PlainStage("browse", frozenset({"view"})),
    PlainStage("cart", frozenset({"cart"})),
    PlainStage(
        "buy",
        frozenset({"buy"}),
        (
            PlainMilestone("paid", frozenset({"pay"}), within=3600),
            PlainMilestone("reviewed", frozenset({"review_written"})),
        ),
    ),
    PlainStage("after", frozenset({"survey"})),
]


def shop_log(make_log: MakeLog) -> EventLog:
    rows: list[LogRow] = [
        # linear: browse 0 -> cart 30 -> buy 40, pays in the window, then a survey
        ("linear", minutes(0), "view"),
        ("linear", minutes(30), "cart"),
        ("linear", minutes(40), "buy"),
        ("linear", minutes(70), "pay"),
        ("linear", minutes(100), "survey"),
        # skipper: browse 0 -> buy 60 (never carts); pays after the window (missed)
        ("skipper", minutes(0), "view"),
        ("skipper", minutes(60), "buy"),
        ("skipper", minutes(200), "pay"),
        # backer: browse 0 -> cart 10 -> buy 20, then browses again: still in buy
        ("backer", minutes(0), "view"),
        ("backer", minutes(10), "cart"),
        ("backer", minutes(20), "buy"),
        ("backer", minutes(25), "review_written"),
        ("backer", minutes(300), "view"),
        # early payer: pays before entering buy, which does not count
        ("early", minutes(100), "pay"),
        ("early", minutes(110), "view"),
        ("early", minutes(120), "cart"),
        ("early", minutes(400), "buy"),
        # never starts: no event of the map
        ("never", minutes(5), "newsletter"),
        ("never", minutes(500), "newsletter"),
    ]
    return make_log(rows)


def test_hand_journeys_skip_go_back_never_start(make_log: MakeLog) -> None:
    log = shop_log(make_log)
    journey = journey_of(SHOP)
    current = {row["customer_id"]: row for row in rows_of(current_stages(log.table, journey))}
    assert set(current) == {"linear", "skipper", "backer", "early"}, "never started: no stage"
    assert current["linear"]["stage_id"] == "after"
    assert current["skipper"]["stage_id"] == "buy"
    assert current["backer"]["stage_id"] == "buy", "going back does not change the stage"
    assert current["backer"]["entered_at"] == at(20)
    # as_of is the last event of the data (minute 500, the newsletter)
    assert current["backer"]["seconds_in_stage"] == (500 - 20) * 60
    assert current["backer"]["last_touchpoint_id"] == "browse_tp"
    assert current["backer"]["last_touchpoint_name"] == "browse touchpoint"
    assert current["backer"]["last_event_at"] == at(300)
    assert current["early"]["stage_name"] == "BUY"

    entries = {
        (row["customer_id"], row["stage_id"]): row
        for row in rows_of(stage_entries(log.table, journey))
    }
    assert ("skipper", "cart") not in entries, "a skipped stage is not reached"
    assert entries[("skipper", "browse")]["dwell_seconds"] == 60 * 60, "moved on to buy"
    assert entries[("backer", "browse")]["dwell_seconds"] == 10 * 60
    assert entries[("backer", "buy")]["moved_at"] is None
    assert entries[("linear", "buy")]["dwell_seconds"] == 60 * 60

    analysis = analyse_stages(log.table, journey)
    assert analysis.as_of == at(500)
    assert (analysis.total_customers, analysis.customers) == (5, 4)
    browse, cart, buy, after = analysis.stages
    assert [s.reached for s in analysis.stages] == [4, 3, 4, 1]
    assert [s.currently_in for s in analysis.stages] == [0, 0, 3, 1]
    assert browse.reached_next == 3
    assert browse.conversion_to_next == 0.75
    assert cart.conversion_to_next == 1.0
    assert buy.conversion_to_next == 0.25
    assert after.conversion_to_next is None
    assert math.isnan(after.conversion_to_next_interval[0])
    assert [s.conversion_from_first for s in analysis.stages] == [1.0, 0.75, 1.0, 0.25]
    assert browse.conversion_to_next_interval == wilson_interval(3, 4)
    # browse dwell: linear 30m, skipper 60m, backer 10m, early 10m -> [10, 10, 30, 60]
    assert browse.movers == 4
    assert browse.median_dwell_seconds == 10 * 60
    assert browse.threshold_dwell_seconds == 60 * 60, "rank ceil(0.8 * 4) = 4"
    assert buy.movers == 1
    assert after.movers == 0
    assert after.threshold_dwell_seconds is None


def test_percentile_rank_is_nearest_rank() -> None:
    assert [nearest_rank(80, n) for n in range(1, 7)] == [1, 2, 3, 4, 4, 5]
    assert nearest_rank(33.3, 1000) == 333
    assert nearest_rank(100, 7) == 7
    with pytest.raises(ValueError, match="percentile"):
        nearest_rank(0, 3)
    assert within_seconds("1.5d") == 129_600
    assert within_seconds("0.5s") == 0


def test_thresholds_with_ties(make_log: MakeLog) -> None:
    plain = [PlainStage("one", frozenset({"a"})), PlainStage("two", frozenset({"b"}))]
    rows: list[LogRow] = []
    # movers from stage one with dwell 10, 10, 10, 20, 30 minutes
    for i, dwell in enumerate([10, 10, 10, 20, 30]):
        rows += [(f"m{i}", minutes(0), "a"), (f"m{i}", minutes(dwell), "b")]
    # customers still in stage one at the end (minute 100): 20 and 21 minutes in it
    rows += [("exactly20", minutes(80), "a"), ("over20", minutes(79), "a")]
    rows += [("over10", minutes(89), "a"), ("exactly10", minutes(90), "a")]
    rows += [("clock", minutes(100), "tick")]
    log = make_log(rows)
    journey = journey_of(plain)
    analysis = analyse_stages(log.table, journey)
    one = analysis.stage("one")
    assert (one.movers, one.median_dwell_seconds, one.threshold_dwell_seconds) == (5, 600, 1200)
    stalled = find_stalled(log.table, journey)
    assert [(c.customer_id, c.reason) for c in stalled.customers] == [("over20", "slow")]
    assert stalled.customers[0].seconds_in_stage == 21 * 60
    assert stalled.customers[0].threshold_seconds == 1200
    # p60: rank 3 of 5 -> 10 minutes; a tie at the threshold is not slow
    lower = find_stalled(log.table, journey, percentile=60)
    assert [c.customer_id for c in lower.customers] == ["over20", "exactly20", "over10"]
    assert analyse_stages(log.table, journey, percentile=60).stage("one").stalled == 3
    assert dict(lower.thresholds) == {"one": 600, "two": None}
    expected = oracle.analyse(log.rows(), plain, percentile=60)
    assert [(c[0], c[3]) for c in expected.stalled] == [
        (c.customer_id, c.reason) for c in lower.customers
    ]


def test_milestones_inside_and_outside_their_window(make_log: MakeLog) -> None:
    log = shop_log(make_log)
    journey = journey_of(SHOP)
    progress = {
        (row["customer_id"], row["milestone_id"]): row
        for row in rows_of(milestone_progress(log.table, journey))
    }
    assert progress[("linear", "paid")]["reached_at"] == at(70), "30 minutes after entering"
    assert not progress[("skipper", "paid")]["reached"], "140 minutes: outside the hour"
    assert progress[("skipper", "paid")]["missed"]
    assert not progress[("early", "paid")]["reached"], "paid before entering the stage"
    assert progress[("early", "paid")]["missed"], "entered at 400: the hour was over at 500"
    assert progress[("backer", "reviewed")]["reached"], "no window: any time after entering"
    assert not progress[("backer", "paid")]["reached"]
    assert progress[("backer", "paid")]["missed"]
    assert ("never", "paid") not in progress

    buy = analyse_stages(log.table, journey).stage("buy")
    paid, reviewed = buy.milestones
    assert (paid.entered, paid.reached, paid.missed, paid.share) == (4, 1, 3, 0.25)
    assert (reviewed.reached, reviewed.missed, reviewed.within) == (1, 0, None)

    stalled = find_stalled(log.table, journey)
    reasons = {c.customer_id: c.reasons for c in stalled.customers}
    # buy's only mover (linear) dwelt an hour: every customer still in buy is slower
    slow_and_missed = ("slow", "missed milestone paid")
    assert reasons == {
        "skipper": slow_and_missed,
        "backer": slow_and_missed,
        "early": slow_and_missed,
    }
    assert "linear" not in reasons
    # as of minute 420 the early customer's window (entered at 400) is still open
    earlier = find_stalled(log.table, journey, as_of=at(420))
    assert "early" not in {c.customer_id for c in earlier.customers}
    assert earlier.as_of == at(420)


def test_as_of_ignores_later_events(make_log: MakeLog) -> None:
    log = shop_log(make_log)
    journey = journey_of(SHOP)
    current = {
        row["customer_id"]: row for row in rows_of(current_stages(log.table, journey, as_of=at(35)))
    }
    assert current["linear"]["stage_id"] == "cart"
    assert current["linear"]["seconds_in_stage"] == 5 * 60
    assert "early" not in current
    aware = dt.datetime(2026, 1, 1, 0, 35, tzinfo=dt.timezone(dt.timedelta(hours=-3)))
    later = analyse_stages(log.table, journey, as_of=aware)
    assert later.as_of == at(35 + 180)


def test_unbound_milestones_and_empty_logs(make_log: MakeLog) -> None:
    journey = Journey(
        id="j",
        title="J",
        stages=[
            Stage(
                id="s",
                name="S",
                events=EventBinding(names=["a"]),
                milestones=[Milestone(id="m", name="M", within="1d")],
            )
        ],
    )
    log = make_log([("c", minutes(0), "a"), ("c", minutes(1), "b")])
    analysis = analyse_stages(log.table, journey)
    [stage] = analysis.stages
    assert stage.reached == 1, "a stage's own events block counts"
    [milestone] = stage.milestones
    assert not milestone.bound
    assert milestone.share is None
    assert "unbound" in analysis.to_frame()["milestones"][0]
    assert find_stalled(log.table, journey).customers == ()

    empty = make_log([])
    nothing = analyse_stages(empty.table, journey_of(SHOP))
    assert nothing.as_of is None
    assert [s.reached for s in nothing.stages] == [0, 0, 0, 0]
    assert nothing.stages[0].conversion_to_next is None
    assert find_stalled(empty.table, journey_of(SHOP)).customers == ()
    assert analyse_stages(empty.table, Journey(id="j", title="J")).stages == ()


def test_results_table_json_chart(make_log: MakeLog) -> None:
    log = shop_log(make_log)
    journey = journey_of(SHOP)
    analysis = analyse_stages(log.table, journey, percentile=90)
    frame = analysis.to_frame()
    assert list(frame["stage_id"]) == ["browse", "cart", "buy", "after"]
    assert "p90_dwell_days" in frame.columns
    assert frame["milestones"][2] == "paid 25% (1/4), reviewed 25% (1/4)"
    data = json.loads(json.dumps(analysis.to_dict()))
    assert data["percentile_method"] == "nearest rank"
    assert data["stages"][3]["conversion_to_next"] is None
    assert data["stages"][2]["milestones"][0]["within"] == "3600s"
    assert isinstance(analysis.chart(), go.Figure)
    assert isinstance(analysis, StageAnalysis)

    stalled = find_stalled(log.table, journey)
    assert isinstance(stalled, StalledCustomers)
    table = stalled.to_frame()
    assert list(table.columns) == [
        "customer_id",
        "customer_key",
        "stage_id",
        "stage",
        "days_in_stage",
        "entered_at",
        "last_touchpoint_id",
        "last_touchpoint",
        "last_event_at",
        "reason",
    ]
    assert json.loads(json.dumps(stalled.to_dict()))["customers"][0]["stage_id"] == "buy"
    assert stalled.counts()["buy"] == {"slow": 3, "missed milestone paid": 3}
    assert isinstance(stalled.chart(), go.Figure)
    lazy = rows_of(stalled_customers(log.table, journey))
    assert [r["customer_id"] for r in lazy] == [c.customer_id for c in stalled.customers]


def test_works_without_the_idx_fact(make_log: MakeLog) -> None:
    log = shop_log(make_log)
    journey = journey_of(SHOP)
    bare = log.table.drop("idx")
    assert analyse_stages(bare, journey) == analyse_stages(log.table, journey)


# --- random logs and maps against the oracle ----------------------------------------------

NAMES = ["a", "b", "c", "d", "e"]
TIMES = [0, 0.004, 1, 2, 5, 10, 10.5, 30, 60, 61, 120]


@st.composite
def plain_maps(draw: st.DrawFn) -> list[PlainStage]:
    n = draw(st.integers(1, 4))
    stages = []
    for k in range(n):
        names = draw(st.frozensets(st.sampled_from(NAMES), max_size=3))
        milestones = tuple(
            PlainMilestone(
                f"m{k}{j}",
                draw(st.frozensets(st.sampled_from(NAMES), min_size=1, max_size=2)),
                draw(st.sampled_from([None, 0, 60, 600, 3600])),
            )
            for j in range(draw(st.integers(0, 2)))
        )
        stages.append(PlainStage(f"s{k}", names, milestones))
    return stages


CUSTOMERS = ["u", "v", "w", "x", "y", "z", "q"]


class Store:
    """One in-memory store reused by every example of a property test: rows go straight
    into ``events_raw`` and the product's ``materialise_events`` derives ``idx`` and the
    other facts (the CSV loader costs more than the analyses on logs this small)."""

    def __init__(self) -> None:
        self.engine = Engine.duckdb()
        ensure_store(self.engine)

    def load(self, rows: Sequence[tuple[str, float, str]]) -> EventLog:
        self.engine.sql("DELETE FROM events_raw")
        self.engine.duck.executemany(
            "INSERT INTO events_raw VALUES "
            "(?, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'test', 1, ?)",
            [[f"e{seq}", c, at(t), e, seq] for seq, (c, t, e) in enumerate(rows)],
        )
        materialise_events(self.engine, session_gap_seconds=1800)
        return EventLog(self.engine)


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    made = Store()
    yield made
    made.engine.close()


def compare(
    log: EventLog,
    plain: list[PlainStage],
    percentile: float,
    as_of: dt.datetime | None,
    *,
    public: bool = True,
) -> None:
    """Every table and result equals the oracle's. The tables and results come from one
    :class:`StageTables`; with ``public`` the one-call functions (which build their own)
    are checked to give the same (property tests skip them, to stay quick)."""
    journey = journey_of(plain)
    expected = oracle.analyse(log.rows(), plain, percentile=percentile, as_of=as_of)
    started = {cid: c for cid, c in expected.customers.items() if c.entered}
    with StageTables(log.table, journey, as_of=as_of) as tables:
        current_rows = rows_of(tables.current)
        entry_rows = rows_of(tables.entries)
        progress_rows = rows_of(tables.milestones)
        analysis = tables.analysis(percentile)
        stalled = tables.stalled(percentile)
        stalled_rows = rows_of(tables.stalled_table(percentile))
    if public:
        by = ["customer_id", "stage_index"]
        assert sorted_rows(current_stages(log.table, journey, as_of=as_of)) == sorted(
            current_rows, key=lambda r: r["customer_id"]
        )
        assert sorted_rows(stage_entries(log.table, journey, as_of=as_of), by) == sorted(
            entry_rows, key=lambda r: (r["customer_id"], r["stage_index"])
        )
        assert sorted_rows(
            milestone_progress(log.table, journey, as_of=as_of), ["customer_id", "milestone_id"]
        ) == sorted(progress_rows, key=lambda r: (r["customer_id"], r["milestone_id"]))
        assert rows_of(
            stalled_customers(log.table, journey, percentile=percentile, as_of=as_of)
        ) == (stalled_rows)
        assert analyse_stages(log.table, journey, percentile=percentile, as_of=as_of) == analysis
        assert find_stalled(log.table, journey, percentile=percentile, as_of=as_of) == stalled

    current = {r["customer_id"]: r for r in current_rows}
    assert set(current) == set(started)
    for cid, c in started.items():
        assert c.current is not None
        row = current[cid]
        assert row["stage_id"] == plain[c.current].id
        assert row["entered_at"] == c.entered[c.current][1]
        assert row["seconds_in_stage"] == c.seconds_in_stage
        assert row["last_touchpoint_id"] == c.last_touchpoint
        assert row["last_event_at"] == c.last_event_at

    entries = {(r["customer_id"], r["stage_index"]): r for r in entry_rows}
    assert set(entries) == {(cid, k) for cid, c in started.items() for k in c.entered}
    for (cid, k), row in entries.items():
        assert row["entered_at"] == started[cid].entered[k][1]
        assert row["moved_at"] == started[cid].moved_at[k]
        assert row["dwell_seconds"] == started[cid].dwell(k)

    progress = {
        (r["customer_id"], r["stage_id"], r["milestone_id"]): (r["reached_at"], r["missed"])
        for r in progress_rows
    }
    assert progress == {
        (cid, stage_id, milestone_id): value
        for cid, c in started.items()
        for (stage_id, milestone_id), value in c.milestones.items()
    }

    assert analysis.as_of == expected.as_of
    for mine, theirs in zip(analysis.to_dict()["stages"], expected.stages, strict=True):
        for key, value in theirs.items():
            if key == "milestones":
                assert [
                    {k: m[k] for k in ("milestone_id", "entered", "reached", "missed")}
                    for m in mine["milestones"]
                ] == value
            else:
                assert mine[key] == value, key
    assert analysis.customers == len(started)
    assert analysis.total_customers == len(expected.customers)
    assert [
        (c.customer_id, c.stage_id, c.seconds_in_stage, c.reason) for c in stalled.customers
    ] == expected.stalled


def sorted_rows(table: ibis.Table, by: Sequence[str] = ("customer_id",)) -> list[dict[str, Any]]:
    return sorted(rows_of(table), key=lambda r: tuple(r[k] for k in by))


def test_hand_log_matches_the_oracle(make_log: MakeLog) -> None:
    log = shop_log(make_log)
    compare(log, SHOP, 80, None)
    compare(log, SHOP, 50, at(150), public=False)


@st.composite
def logs(draw: st.DrawFn) -> list[tuple[str, float, str]]:
    customers = draw(st.lists(st.sampled_from(CUSTOMERS), min_size=1, max_size=6, unique=True))
    return draw(
        st.lists(
            st.tuples(st.sampled_from(customers), st.sampled_from(TIMES), st.sampled_from(NAMES)),
            min_size=1,
            max_size=30,
        )
    )


@settings(max_examples=12)
@given(
    plain=plain_maps(),
    rows=logs(),
    percentile=st.sampled_from([50, 80, 33.3, 100]),
    as_of=st.sampled_from([None, 10, 60.5]),
)
def test_random_logs_and_maps_match_the_oracle(
    store: Store,
    plain: list[PlainStage],
    rows: list[tuple[str, float, str]],
    percentile: float,
    as_of: float | None,
) -> None:
    log = store.load(rows)
    compare(log, plain, percentile, at(as_of) if as_of is not None else None, public=False)


# --- the b2c-ecommerce template -------------------------------------------------------------


def b2c_log(make_log: MakeLog) -> EventLog:
    day = 24 * 60

    def row(customer: str, day_no: float, event: str, channel: str, **props: str) -> LogRow:
        return (customer, minutes(day_no * day), event, {"channel": channel, **props})

    return make_log(
        [
            # marina: the whole journey, on time
            row("marina", 0, "ad_click", "social"),
            row("marina", 0.1, "product_view", "web"),
            row("marina", 0.2, "add_to_cart", "web"),
            row("marina", 0.3, "purchase", "web", order_index="1"),
            row("marina", 5, "order_delivered", "delivery"),
            row("marina", 6, "qr_code_scan", "print", campaign="training_plan"),
            # matches two touchpoints (order confirmation, care email): the first one wins
            row("marina", 7, "email_open", "email", campaign="post_purchase"),
            row("marina", 20, "loyalty_signup", "web"),
            row("marina", 25, "review_submitted", "web"),
            # paula: reads the blog, compares, and stops
            row("paula", 1, "page_view", "web", page="/blog/first-shoes"),
            row("paula", 1.1, "product_view", "app"),
            # joao: buys without discovering (a skipped stage), delivery is late
            row("joao", 2, "add_to_cart", "app"),
            row("joao", 2.5, "purchase", "app", order_index="1"),
            row("joao", 3, "shipment_status_update", "email"),
            row("joao", 12, "order_delivered", "delivery"),
            # lia: carts and never buys; a non-blog page view is no touchpoint
            row("lia", 3, "page_view", "web", page="/home"),
            row("lia", 3.2, "add_to_cart", "web"),
            row("lia", 30, "newsletter_open", "email"),
        ]
    )


def test_b2c_template_on_a_small_log(make_log: MakeLog) -> None:
    log = b2c_log(make_log)
    journey = load_template("b2c-ecommerce")
    analysis = analyse_stages(log.table, journey)
    by_id = {s.stage_id: s for s in analysis.stages}
    assert [s.stage_id for s in analysis.stages] == [
        "discover",
        "compare",
        "buy",
        "delivery",
        "first_runs",
        "loyalty",
    ]
    assert (analysis.total_customers, analysis.customers) == (4, 4)
    assert by_id["discover"].reached == 2
    assert by_id["compare"].reached == 2
    assert by_id["buy"].reached == 3
    assert by_id["buy"].conversion_to_next == pytest.approx(2 / 3)
    assert by_id["compare"].currently_in == 1
    assert by_id["loyalty"].currently_in == 1
    first_order = by_id["buy"].milestones[0]
    assert (first_order.milestone_id, first_order.entered, first_order.reached) == (
        "first_order",
        3,
        2,
    )
    on_time = by_id["delivery"].milestones[0]
    assert (on_time.entered, on_time.reached) == (2, 1), "joao's delivery took 9 days"
    training = by_id["first_runs"].milestones[0]
    assert training.reached == 1
    first_review, second_purchase = by_id["loyalty"].milestones
    assert (first_review.reached, second_purchase.reached) == (1, 0)

    current = {r["customer_id"]: r for r in rows_of(current_stages(log.table, journey))}
    assert current["joao"]["stage_id"] == "delivery"
    assert current["joao"]["last_touchpoint_name"] == "Delivery at home"
    assert current["lia"]["stage_id"] == "buy"
    assert current["lia"]["last_touchpoint_id"] == "cart"

    stalled = {c.customer_id: c for c in find_stalled(log.table, journey).customers}
    # buy: marina moved on after 4.8 days, joao after 1 -> p80 is 4.8 days
    assert stalled["lia"].reasons == ("slow", "missed milestone first_order")
    assert stalled["lia"].days_in_stage == pytest.approx(30 - 3.2)
    assert stalled["lia"].last_event_at == at(30 * 24 * 60)
    assert stalled["joao"].reasons == ("slow", "missed milestone delivered_on_time")
    assert "marina" not in stalled, "loyalty is the last stage; second purchase window open"
    assert stalled["paula"].reasons == ("slow",), "28.9 days in compare; marina took 0.1"


def test_stage_labels_are_those_of_label_events(make_log: MakeLog) -> None:
    log = b2c_log(make_log)
    journey = load_template("b2c-ecommerce")
    labelled = label_events(journey, log.table)
    staged = labelled.filter(labelled["stage_id"].notnull())
    firsts = staged.group_by(["customer_id", "stage_id"]).aggregate(entered_at=staged["ts"].min())
    expected = {(r["customer_id"], r["stage_id"]): r["entered_at"] for r in rows_of(firsts)}
    entries = rows_of(stage_entries(log.table, journey))
    assert {(r["customer_id"], r["stage_id"]): r["entered_at"] for r in entries} == expected
    last = {
        r["customer_id"]: r["last_touchpoint_id"]
        for r in rows_of(current_stages(log.table, journey))
    }
    assert last["marina"] == "review_request"


def test_docstring_examples() -> None:
    import doctest

    from jornada.analytics import segments, stages

    for module in (stages, segments):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.attempted > 0
        assert result.failed == 0
        for name in module.__all__:
            assert getattr(module, name).__doc__, f"{module.__name__}.{name} has no docstring"


# --- the CLI --------------------------------------------------------------------------------


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["user", "when", "name", "via", "page"])
        writer.writeheader()
        writer.writerows(rows)


def cli_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Test app."""

    register(app)
    return app


def test_cli_stages_and_stalled_end_to_end(tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    day = dt.timedelta(days=1)
    start = dt.datetime(2026, 3, 1, 9, 0)

    def event(user: str, days: float, name: str, via: str, page: str = "") -> dict[str, str]:
        return {
            "user": user,
            "when": (start + days * day).isoformat(),
            "name": name,
            "via": via,
            "page": page,
        }

    write_csv(
        events,
        [
            event("ana", 0, "ad_click", "social"),
            event("ana", 1, "product_view", "web"),
            event("ana", 2, "add_to_cart", "web"),
            event("ana", 2.1, "purchase", "web"),
            event("bo", 0, "page_view", "web", "/blog/guide"),
            event("bo", 3, "product_view", "web"),
            event("cy", 1, "add_to_cart", "app"),
            event("cy", 20, "product_view", "app"),
        ],
    )
    template = resources.files("jornada.model").joinpath("templates", "b2c-ecommerce.en.yaml")
    shop = tmp_path / "shop.yaml"
    shop.write_text(template.read_text("utf-8"), "utf-8")
    flags = ["--customer", "user", "--time", "when", "--event", "name", "--channel", "via"]
    runner = CliRunner()
    app = cli_app()

    chart = tmp_path / "stages.html"
    result = runner.invoke(
        app,
        ["stages", str(events), *flags, "--map", str(shop), "--json", "--chart", str(chart)],
    )
    assert result.exit_code == 0, result.output
    assert chart.stat().st_size > 1000
    data = json.loads(result.stdout)
    stages = {s["stage_id"]: s for s in data["stages"]}
    assert stages["buy"]["reached"] == 2
    assert stages["buy"]["currently_in"] == 2
    assert stages["discover"]["conversion_to_next"] == 1.0
    assert stages["buy"]["milestones"][0]["reached"] == 1

    out = tmp_path / "stalled.csv"
    result = runner.invoke(
        app,
        [
            "stalled",
            str(events),
            *flags,
            "--map",
            str(shop),
            "--percentile",
            "80",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        listed = list(csv.DictReader(handle))
    # by stage: bo has been in compare 17 days (ana moved on after 1); cy went back to
    # compare but is still in buy, where no one moved on (no threshold), with no order
    assert [(r["customer_key"], r["stage_id"], r["reason"]) for r in listed] == [
        ("bo", "compare", "slow"),
        ("cy", "buy", "missed milestone first_order"),
    ]
    cy = listed[1]
    assert cy["last_touchpoint_id"] == "product_pages"
    assert cy["last_touchpoint"] == "Product listing and product pages"
    assert float(cy["days_in_stage"]) == pytest.approx(19)
    assert cy["last_event_at"].startswith("2026-03-21T09:00")
    assert "wrote" in result.output

    as_json = tmp_path / "stalled.json"
    result = runner.invoke(
        app,
        [
            "stalled",
            str(events),
            *flags,
            "--map",
            str(shop),
            "--as-of",
            "2026-03-05",
            "--out",
            str(as_json),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(as_json.read_text("utf-8")) == []

    result = runner.invoke(app, ["stages", str(events), *flags])
    assert result.exit_code == 2
    assert "--map" in result.output
    result = runner.invoke(
        app, ["stalled", str(events), *flags, "--map", str(shop), "--percentile", "0"]
    )
    assert result.exit_code == 2


def test_numbered_labels_follow_label_events_when_stage_ids_repeat() -> None:
    """An invalid map (validation flags it) with a stage id twice, each with its own
    block: label_events names the id for either block; the numbers (what the stages and
    the churn features count on) give the first stage of that id for both."""
    from jornada.analytics.stages import event_labels

    journey = Journey(
        id="twice",
        title="Twice",
        stages=[
            Stage(id="x", name="X", events=EventBinding(names=["a"])),
            Stage(
                id="y",
                name="Y",
                touchpoints=[Touchpoint(id="t", name="T", events=EventBinding(names=["b"]))],
            ),
            Stage(id="x", name="X again", events=EventBinding(names=["c"])),
        ],
    )
    engine = Engine.duckdb()
    engine.sql(
        "CREATE TABLE ev AS SELECT * FROM (VALUES (0, 'a'), (1, 'b'), (2, 'c'), (3, 'd'))"
        " AS t(idx, event)"
    )
    events = engine.table("ev")
    named = engine.to_arrow(label_events(journey, events).order_by("idx")).to_pylist()
    numbered, touchpoints = event_labels(journey, events)
    numbers = engine.to_arrow(numbered.order_by("idx")).to_pylist()
    assert [row["stage_id"] for row in named] == ["x", "y", "x", None]
    assert [row["stage_index"] for row in numbers] == [0, 1, 0, None]
    assert touchpoints == ("t",)
    assert [row["touchpoint"] for row in numbers] == [None, 0, None, None]
