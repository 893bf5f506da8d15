"""KPIs: every KPI hand-computed on a tiny log, by scope and period; the status rule;
random logs against the brute-force oracle; the demo map's board; the command."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
import math
import operator
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
import typer.main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from jornada.analytics._kpi_measures import BASE_MEASURES, period_start
from jornada.analytics.kpis import (
    DEFAULT_COUNTS,
    KpiError,
    KpiResult,
    computable_kpis,
    kpi_status,
    kpis,
    read_spend,
)
from jornada.cli import kpis as kpis_cli
from jornada.model import EventBinding, Journey, KpiDefinition, KpiTarget, Stage, Touchpoint
from jornada.model.catalogue import kpi_catalogue
from jornada.model.io import dump_journey
from tests.analytics.conftest import EventLog, minutes
from tests.oracles import kpis as oracle

MakeLog = Callable[..., EventLog]
D = dt.date


def at(text: str) -> str:
    return text + "Z"


def same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


# A shop's month and a bit: four customers, every KPI computable by hand (see the
# expected values below, each with its arithmetic).
LOG: list[Any] = [
    ("a", at("2026-01-05T10:00:00"), "ad_impression", {"channel": "social", "cost": 0.5, "campaign": "spring"}),
    ("a", at("2026-01-05T10:01:00"), "ad_click", {"channel": "social", "cost": 1.0, "campaign": "spring"}),
    ("a", at("2026-01-05T10:02:00"), "page_view", {"channel": "web"}),
    ("a", at("2026-01-05T10:05:00"), "product_view", {"channel": "web"}),
    ("a", at("2026-01-05T10:06:00"), "add_to_cart", {"channel": "web"}),
    ("a", at("2026-01-05T10:10:00"), "purchase", {"channel": "web", "value": 100}),
    ("a", at("2026-01-20T09:00:00"), "survey_response", {"channel": "email", "score": 5, "survey": "csat", "text": "great"}),
    ("a", at("2026-01-21T09:00:00"), "survey_response", {"channel": "email", "score": 3, "survey": "ces"}),
    ("a", at("2026-02-03T09:00:00"), "page_view", {"channel": "web"}),
    ("b", at("2026-01-06T12:00:00"), "ad_impression", {"channel": "social", "cost": 0.5, "campaign": "spring"}),
    ("b", at("2026-01-06T12:10:00"), "ad_impression", {"channel": "social", "cost": 0.5, "campaign": "winter"}),
    ("b", at("2026-01-07T08:00:00"), "page_view", {"channel": "web"}),
    ("b", at("2026-01-08T09:00:00"), "survey_response", {"channel": "email", "score": 9, "survey": "nps"}),
    ("b", at("2026-01-09T09:00:00"), "survey_response", {"channel": "email", "score": 6, "survey": "nps"}),
    ("b", at("2026-01-10T12:00:00"), "review_submitted", {"channel": "app"}),
    ("c", at("2026-01-10T15:00:00"), "referral_click", {"channel": "referral"}),
    ("c", at("2026-01-10T15:01:00"), "page_view", {"channel": "web"}),
    ("c", at("2026-01-10T15:03:00"), "add_to_cart", {"channel": "web"}),
    ("c", at("2026-01-10T15:04:00"), "cart_view", {"channel": "web"}),
    ("c", at("2026-01-12T10:00:00"), "purchase", {"channel": "app", "value": 50}),
    ("c", at("2026-01-12T10:30:00"), "purchase", {"channel": "app", "value": 30}),
    ("c", at("2026-01-15T11:00:00"), "refund_issued", {"channel": "billing", "value": -30}),
    ("c", at("2026-01-25T09:00:00"), "survey_response", {"channel": "email", "score": 2, "survey": "csat"}),
    ("c", at("2026-01-26T09:00:00"), "survey_response", {"channel": "email", "score": 6, "survey": "ces"}),
    ("d", at("2026-01-03T10:00:00"), "email_open", {"channel": "email"}),
    ("d", at("2026-01-03T10:01:00"), "email_click", {"channel": "email"}),
    ("d", at("2026-01-04T10:00:00"), "survey_response", {"channel": "email", "score": 10, "survey": "nps"}),
    ("d", at("2026-02-02T10:00:00"), "account_closed", {"channel": "web"}),
]  # fmt: skip

EXPECTED: dict[str, float] = {
    "impressions": 3,  # a 1, b 2
    "reach": 2,  # a, b
    "frequency": 1.5,  # 3 / 2
    "cpm": 2.5 / 3 * 1000,  # cost 0.5 + 1 + 0.5 + 0.5 over 3 impressions
    "clicks": 1,
    "ctr": 1 / 3,
    "cpc": 2.5,
    "engagement_rate": 2 / 3,  # the ad click and d's e-mail click
    # visits: a's first (landing page_view, 2 pages, 600 s), a's February page view and
    # b's page view (bounces, 0 s), c's (landing page_view, page_view + cart_view, 240 s)
    "bounce_rate": 0.5,
    "pages_per_visit": 6 / 4,
    "session_duration": 840 / 4,
    "time_on_page": (180 + 60 + 120) / 3,  # a's page and product views, c's page view
    "conversion_rate": 0.5,  # a and c of the four customers
    "sales": 100 + 50 + 30 - 30,
    "cost_per_conversion": 2.5 / 3,  # three purchases
    "roas": 150 / 2.5,
    "average_order_value": 180 / 3,
    "cart_abandonment_rate": 0.5,  # a bought 4 min after adding, c two days later
    "retention_rate": 0.25,  # of a, b, c, d active in January, only a in February (d closed)
    "churn_rate": 0.75,
    "repeat_purchase_rate": 0.5,  # c bought twice, a once
    "csat": 3.5,  # 5 and 2
    "csat_satisfied": 0.5,
    "ces": 4.5,  # 3 and 6
    "nps": (2 - 1) / 3 * 100,  # 9 and 10 promote, 6 detracts
    "clv": 150 / 2,  # net revenue of the two buyers
    "feedback_count": 2,  # the survey with a comment, b's review
    "referrals": 1,  # c
}


@pytest.fixture
def log(make_log: MakeLog) -> EventLog:
    return make_log(LOG)


def journey() -> Journey:
    """A small map over the log: ads, a purchase stage, a stage bound to nothing."""
    social_ad = Touchpoint(
        id="social_ad",
        name="Social ad",
        channel="social",
        events=EventBinding(names=["ad_impression", "ad_click"], channels=["social"]),
        kpis=[
            KpiTarget(kpi="ctr", target=0.3),
            KpiTarget(kpi="cpc", target=2.3),
            KpiTarget(kpi="seo_ranking", target=3),
        ],
    )
    checkout = Touchpoint(
        id="checkout",
        name="Checkout",
        events=EventBinding(names=["purchase"]),
        kpis=[KpiTarget(kpi="average_order_value", target=70)],
    )
    return Journey(
        id="shop",
        title="Shop",
        stages=[
            Stage(
                id="ads",
                name="Ads",
                touchpoints=[social_ad],
                kpis=[
                    KpiTarget(kpi="reach", target=2),
                    KpiTarget(kpi="impressions", target=3, period="month"),
                ],
            ),
            Stage(
                id="buy",
                name="Buy",
                touchpoints=[checkout],
                kpis=[
                    KpiTarget(kpi="sales", target=200),
                    KpiTarget(kpi="roas", target=50),
                    KpiTarget(kpi="cost_per_conversion", target=1),
                    KpiTarget(kpi="on_time", target=0.9),
                ],
            ),
            Stage(
                id="after",
                name="After",
                touchpoints=[Touchpoint(id="care", name="Care")],
                kpis=[KpiTarget(kpi="csat", target=4.0)],
            ),
        ],
        kpis=[KpiDefinition(id="on_time", name="On time", unit="ratio")],
    )


def row_of(result: KpiResult, kpi: str, scope: str, period: D | None = None) -> Any:
    (row,) = [r for r in result.rows if (r.kpi, r.scope, r.period) == (kpi, scope, period)]
    return row


# --- the catalogue and the counts -----------------------------------------------------------


def test_every_catalogue_measure_names_a_base_measure() -> None:
    for kpi in kpi_catalogue().values():
        if kpi.measure is not None:
            names = [kpi.measure.numerator, kpi.measure.denominator]
            assert all(n is None or n in BASE_MEASURES for n in names), kpi.id
            assert kpi.measure.computed is not None, kpi.id
    assert set(EXPECTED) == set(computable_kpis())


def test_period_numbers_start_on_the_right_day() -> None:
    assert period_start(20458, "day") == D(2026, 1, 5)
    assert period_start(2922, "week") == D(2026, 1, 5)  # a Monday
    assert period_start(2026 * 12 + 1, "month") == D(2026, 2, 1)
    assert period_start(2026 * 4 + 3, "quarter") == D(2026, 10, 1)


# --- hand-computed --------------------------------------------------------------------------


def test_every_kpi_by_hand(log: EventLog) -> None:
    result = kpis(log.table)
    assert (result.mode, result.by, result.period) == ("catalogue", "all", None)
    assert [r.kpi for r in result.rows] == computable_kpis()
    for kpi, expected in EXPECTED.items():
        assert same(result.value(kpi), expected), (kpi, result.value(kpi), expected)
    assert result.first == dt.datetime(2026, 1, 3, 10)
    assert result.last == dt.datetime(2026, 2, 3, 9)
    nps = row_of(result, "nps", "all")
    assert (nps.numerator, nps.denominator, nps.unit, nps.direction) == (1, 3, "score", "higher")
    assert row_of(result, "cpm", "all").direction == "lower"
    assert all(r.target is None and r.status is None for r in result.rows)


def test_by_month(log: EventLog) -> None:
    result = kpis(log.table, period="month", only=["impressions", "retention_rate", "churn_rate",
                                                   "conversion_rate", "bounce_rate", "clv"])  # fmt: skip
    jan, feb = D(2026, 1, 1), D(2026, 2, 1)
    assert sorted({r.period for r in result.rows}) == [jan, feb]
    assert result.value("impressions", period=jan) == 3
    assert result.value("impressions", period=feb) == 0
    assert result.value("retention_rate", period=jan) is None  # nobody before January
    assert same(result.value("retention_rate", period=feb), 0.25)
    assert same(result.value("churn_rate", period=feb), 0.75)
    assert result.value("conversion_rate", period=feb) == 0  # a and d, no purchase
    assert result.value("bounce_rate", period=feb) == 1  # a's lone page view
    assert result.value("clv", period=jan) == 75
    assert result.value("clv", period=feb) == 100  # a's lifetime revenue; d never bought


def test_by_day_and_week_number_every_period(log: EventLog) -> None:
    days = kpis(log.table, period="day", only=["clicks"])
    assert len(days.rows) == 32  # 3 January to 3 February
    assert days.value("clicks", period=D(2026, 1, 5)) == 1
    weeks = kpis(log.table, period="week", only=["clicks"])
    assert [r.period for r in weeks.rows][:2] == [D(2025, 12, 29), D(2026, 1, 5)]
    years = kpis(log.table, period="year", only=["sales"])
    assert [(r.period, r.value) for r in years.rows] == [(D(2026, 1, 1), 150)]


def test_by_channel(log: EventLog) -> None:
    result = kpis(log.table, by="channel")
    assert sorted({r.scope for r in result.rows}) == [
        "app", "billing", "email", "referral", "social", "web",
    ]  # fmt: skip
    assert result.value("impressions", "social") == 3
    assert same(result.value("ctr", "social"), 1 / 3)
    assert same(result.value("conversion_rate", "social"), 0.5)  # a bought after the ad
    assert same(result.value("roas", "social"), 100 / 2.5)
    assert same(result.value("cost_per_conversion", "social"), 2.5)
    assert same(result.value("conversion_rate", "web"), 0.5)  # a and c of a, b, c, d
    assert result.value("csat", "email") == 3.5
    web_cpm = row_of(result, "cpm", "web")
    assert (web_cpm.value, web_cpm.note) == (None, "no spend data")
    assert result.value("sales", "app") == 80
    assert result.value("sales", "billing") == -30


def test_by_campaign(log: EventLog) -> None:
    result = kpis(log.table, by="campaign", only=["impressions", "clicks"])
    assert result.value("impressions", "spring") == 2
    assert result.value("impressions", "winter") == 1
    assert result.value("clicks", "spring") == 1
    assert result.value("impressions", "(none)") == 0


def test_by_stage_and_touchpoint(log: EventLog) -> None:
    shop = journey()
    stages = kpis(log.table, journey=shop, by="stage", only=["sales", "roas", "reach", "csat"])
    assert stages.value("sales", "buy") == 180  # the refund is not a purchase event
    assert stages.value("reach", "ads") == 2
    roas = row_of(stages, "roas", "buy")
    assert same(roas.value, 150 / 2.5)
    assert roas.note is not None
    assert roas.note.startswith("blended")
    after = row_of(stages, "csat", "after")
    assert (after.value, after.status, after.note) == (
        None,
        "no_data",
        "the stage has no events: block",
    )
    assert row_of(stages, "sales", "buy").target == 200  # the map's target comes along
    assert row_of(stages, "reach", "ads").status == "met"
    touchpoints = kpis(
        log.table, journey=shop, by="touchpoint", only=["ctr", "average_order_value"]
    )
    assert list(dict.fromkeys(r.scope for r in touchpoints.rows)) == [
        "social_ad", "checkout", "care",
    ]  # fmt: skip
    assert same(touchpoints.value("ctr", "social_ad"), 1 / 3)
    assert touchpoints.value("average_order_value", "checkout") == 60
    assert row_of(touchpoints, "ctr", "social_ad").status == "met"


def test_each_scope_counts_its_own_events(log: EventLog) -> None:
    """A stage (its touchpoints' conditions ORed, overlapping), a touchpoint reading the
    properties map and one whose rule is an OR: each scope's KPIs equal the KPIs of all
    events over the events its binding keeps (the engine shares their conditions and reads
    the map only where the other conditions hold)."""
    touchpoints = [
        Touchpoint(
            id="surveys",
            name="Surveys",
            events=EventBinding(
                names=["survey_response"], channels=["email"], where="properties.survey = 'csat'"
            ),
        ),
        Touchpoint(
            id="any_survey",
            name="Any survey",
            events=EventBinding(names=["survey_response"]),
        ),
        Touchpoint(
            id="buying",
            name="Buying",
            events=EventBinding(where="event = 'purchase' or channel = 'social'"),
        ),
    ]
    shop = Journey(
        id="scopes",
        title="Scopes",
        stages=[Stage(id="all_of_them", name="All of them", touchpoints=touchpoints)],
    )
    only = ["csat", "ces", "nps", "sales", "reach", "impressions", "frequency", "feedback_count"]
    by_touchpoint = kpis(log.table, journey=shop, by="touchpoint", only=only)
    by_stage = kpis(log.table, journey=shop, by="stage", only=only)
    conditions = {
        "surveys": (log.table.event == "survey_response")
        & (log.table.channel == "email")
        & (log.table.properties["survey"] == "csat"),
        "any_survey": log.table.event == "survey_response",
        "buying": (log.table.event == "purchase") | (log.table.channel == "social"),
    }
    conditions["all_of_them"] = functools.reduce(operator.or_, conditions.values())
    for scope, condition in conditions.items():
        alone = kpis(log.table.filter(condition.fill_null(False)), only=only)
        result = by_stage if scope == "all_of_them" else by_touchpoint
        for kpi in only:
            assert same(result.value(kpi, scope), alone.value(kpi)), (scope, kpi)
    assert by_touchpoint.value("csat", "surveys") == 3.5  # a's 5 and c's 2, not the CES
    assert by_stage.value("sales", "all_of_them") == 180


def test_the_map_board(log: EventLog) -> None:
    result = kpis(log.table, journey=journey())
    assert (result.mode, result.by) == ("map", "map")
    statuses = {(r.scope, r.kpi, r.period): (r.value, r.status) for r in result.rows}
    assert statuses[("ads", "reach", None)] == (2, "met")  # a tie meets the target
    assert statuses[("ads", "impressions", D(2026, 1, 1))] == (3, "met")  # a monthly target
    assert statuses[("ads", "impressions", D(2026, 2, 1))] == (0, "missed")
    assert statuses[("social_ad", "ctr", None)][1] == "met"
    assert statuses[("social_ad", "cpc", None)] == (2.5, "at_risk")  # lower is better: 2.5 > 2.3
    assert statuses[("social_ad", "seo_ranking", None)] == (None, "no_data")
    assert statuses[("buy", "sales", None)] == (180, "at_risk")  # within 10% of 200
    assert statuses[("buy", "roas", None)][1] == "met"
    assert statuses[("buy", "cost_per_conversion", None)][1] == "met"
    assert statuses[("buy", "on_time", None)] == (None, "no_data")
    assert statuses[("checkout", "average_order_value", None)] == (60, "missed")
    assert statuses[("after", "csat", None)] == (None, "no_data")
    assert result.summary() == {"met": 5, "at_risk": 2, "missed": 2, "no_data": 3}
    on_time = row_of(result, "on_time", "buy")
    assert (on_time.name, on_time.note) == (
        "On time",
        "defined by the map: not computed from events",
    )
    assert result.text("on_time") is not None
    assert {r.kpi for r in result.latest()} >= {"impressions", "reach"}
    assert len([r for r in result.latest() if r.kpi == "impressions"]) == 1
    by_week = kpis(log.table, journey=journey(), period="week", only=["reach"])
    assert {r.period for r in by_week.rows} >= {D(2026, 1, 5)}


def test_counts_can_be_changed(log: EventLog) -> None:
    result = kpis(
        log.table,
        only=["conversion_rate", "impressions"],
        counts={"conversion": "review_submitted", "impression": "event = 'email_open'"},
    )
    assert result.value("conversion_rate") == 0.25  # b reviewed
    assert result.value("impressions") == 1
    assert dict(result.counts)["conversion"] == "review_submitted"
    assert dict(result.counts)["click"] == DEFAULT_COUNTS["click"]
    with pytest.raises(KpiError, match="unknown count 'visit'"):
        kpis(log.table, counts={"visit": "page_view"})


def test_languages_and_definitions(log: EventLog) -> None:
    result = kpis(log.table, only=["ctr", "nps"], language="pt-BR")
    assert row_of(result, "ctr", "all").name == "Taxa de cliques (CTR)"
    text = result.text("ctr")
    assert text is not None
    assert text.computed.startswith("cliques / impressões")
    assert kpis(log.table, only=["ctr"], language="es").rows[0].name == "Tasa de clics (CTR)"
    frame = result.to_frame()
    assert list(frame.columns[:7]) == [
        "kpi",
        "name",
        "scope_type",
        "scope",
        "scope_name",
        "period",
        "value",
    ]
    assert frame["definition"].str.len().min() > 20
    data = result.to_dict()
    json.dumps(data)
    assert data["definitions"]["nps"]["formula"].startswith("(promotores")
    assert data["rows"][0]["scope_name"] == "Todos os eventos"


def test_empty_log(make_log: MakeLog) -> None:
    events = make_log([]).table
    result = kpis(events, only=["ctr", "sales"])
    assert [(r.value, r.note) for r in result.rows] == [(None, "no events")] * 2
    assert kpis(events, period="month").rows == ()
    assert kpis(events, by="channel").rows == ()
    board = kpis(events, journey=journey())
    assert board.summary()["no_data"] == len(board.rows) > 0
    assert result.chart().data
    assert board.chart().data


def test_amounts_are_summed_exactly_whatever_the_order(make_log: MakeLog) -> None:
    # 0.1 + 0.2 + 0.3 is 0.6000000000000001 or 0.6 in floats depending on the order of
    # addition, which the engine's threads do not fix: revenue and spend must be 0.6 in
    # any order of the rows (summed as exact decimals).
    for values in (("0.1", "0.2", "0.3"), ("0.3", "0.2", "0.1"), ("0.2", "0.3", "0.1")):
        rows = [
            (f"c{k}", minutes(k), "purchase", {"value": value, "cost": value})
            for k, value in enumerate(values)
        ]
        result = kpis(make_log(rows).table, only=["sales", "cost_per_conversion"])
        assert result.value("sales") == 0.6, values
        assert row_of(result, "cost_per_conversion", "all").numerator == 0.6, values


def test_bad_requests(log: EventLog) -> None:
    with pytest.raises(KpiError, match="need a map"):
        kpis(log.table, by="stage")
    with pytest.raises(KpiError, match="unknown KPI"):
        kpis(log.table, only=["ctrr"])
    with pytest.raises(KpiError, match="period must be"):
        kpis(log.table, period="fortnight")  # type: ignore[arg-type]
    with pytest.raises(KpiError, match="--by must be"):
        kpis(log.table, by="device")  # type: ignore[arg-type]


def test_charts(log: EventLog) -> None:
    assert len(kpis(log.table, period="month", only=["ctr", "sales"]).chart().data) == 2
    board = kpis(log.table, journey=journey()).chart()
    (bars,) = board.data
    assert len(bars.y) == len(kpis(log.table, journey=journey()).latest())


# --- the status rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "target", "direction", "tolerance", "expected"),
    [
        (0.03, 0.03, "higher", 0.1, "met"),
        (0.031, 0.03, "higher", 0.1, "met"),
        (0.028, 0.03, "higher", 0.1, "at_risk"),
        (0.027, 0.03, "higher", 0.1, "at_risk"),  # exactly 10% short
        (0.0269, 0.03, "higher", 0.1, "missed"),
        (0.8, 0.8, "lower", 0.1, "met"),
        (0.5, 0.8, "lower", 0.1, "met"),
        (0.88, 0.8, "lower", 0.1, "at_risk"),
        (0.89, 0.8, "lower", 0.1, "missed"),
        (-20, -10, "higher", 0.1, "missed"),  # an NPS below a negative target
        (-10.5, -10, "higher", 0.1, "at_risk"),
        (1, 0, "lower", 0.1, "missed"),  # a zero target leaves no band
        (0, 0, "lower", 0.1, "met"),
        (95, 100, "higher", 0.0, "missed"),
        (60, 100, "higher", 0.5, "at_risk"),
        (None, 100, "higher", 0.1, "no_data"),
        (math.nan, 100, "higher", 0.1, "no_data"),
        (5, None, "higher", 0.1, None),
    ],
)
def test_status(
    value: float | None, target: float | None, direction: Any, tolerance: float, expected: Any
) -> None:
    assert kpi_status(value, target, direction, tolerance=tolerance) == expected


def with_sales_target(target: KpiTarget) -> Journey:
    shop = journey()
    buy = shop.stages[1].model_copy(update={"kpis": [target]})
    return shop.model_copy(update={"stages": [shop.stages[0], buy, shop.stages[2]]})


def test_a_target_direction_overrides_the_catalogue(log: EventLog) -> None:
    lower = with_sales_target(KpiTarget(kpi="sales", target=190, direction="lower"))
    row = row_of(kpis(log.table, journey=lower, only=["sales"]), "sales", "buy")
    assert (row.value, row.direction, row.status) == (180, "lower", "met")
    far = with_sales_target(KpiTarget(kpi="sales", target=250))
    assert row_of(kpis(log.table, journey=far, only=["sales"]), "sales", "buy").status == "missed"
    loose = kpis(log.table, journey=far, only=["sales"], tolerance=0.3)
    assert row_of(loose, "sales", "buy").status == "at_risk"  # 180 is within 30% of 250


# --- the spend table ------------------------------------------------------------------------

SPEND_CSV = """Date,Channel,Campaign,Spend,Impressions,Clicks
2026-01-05,social,spring,10,100,5
2026-01-20,search,,4,,
2026-02-01,social,spring,2,,
"""


@pytest.fixture
def spend_csv(tmp_path: Path) -> Path:
    path = tmp_path / "spend.csv"
    path.write_text(SPEND_CSV, encoding="utf-8")
    return path


def test_spend_table_adds_to_the_events(log: EventLog, spend_csv: Path) -> None:
    result = kpis(log.table, by="channel", spend=spend_csv)
    assert result.value("impressions", "social") == 103
    assert result.value("clicks", "social") == 6
    assert same(result.value("cpm", "social"), 14.5 / 103 * 1000)
    assert result.value("frequency", "social") == 1.5  # the table's impressions have no people
    assert result.value("cpm", "search") is None  # spend without impressions
    assert same(result.value("cost_per_conversion", "social"), 14.5)
    overall = kpis(log.table, spend=spend_csv, only=["roas"])
    assert same(overall.value("roas"), 150 / 18.5)
    months = kpis(log.table, spend=spend_csv, period="month", only=["cpm"])
    assert same(months.value("cpm", period=D(2026, 1, 1)), 16.5 / 103 * 1000)
    stages = kpis(log.table, journey=journey(), by="stage", spend=spend_csv, only=["cpm", "roas"])
    assert same(stages.value("cpm", "ads"), 14.5 / 103 * 1000)  # the social rows only
    assert same(stages.value("roas", "buy"), 150 / 18.5)  # blended: every row


def test_spend_table_from_parquet_and_frames(
    log: EventLog, tmp_path: Path, spend_csv: Path
) -> None:
    table = read_spend(spend_csv)
    assert table.column_names == ["date", "channel", "campaign", "spend", "impressions", "clicks"]
    assert table.column("impressions").to_pylist() == [100, None, None]
    path = tmp_path / "spend.parquet"
    pq.write_table(table, path)
    a = kpis(log.table, by="channel", spend=path, only=["cpm"])
    b = kpis(log.table, by="channel", spend=table.to_pandas(), only=["cpm"])
    assert [r.value for r in a.rows] == [r.value for r in b.rows]
    timestamps = pa.table(
        {"day": pa.array([dt.datetime(2026, 1, 5, 13)]), "channel": ["x"], "cost": [1]}
    )
    assert str(read_spend(timestamps).column("date")[0]) == "2026-01-05"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("date,spend\n2026-01-01,3\n", "missing column.*channel"),
        ("date,channel,spend\n01/02/2026,web,3\n", "row 2: '01/02/2026' is not a date"),
        ("date,channel,spend\n2026-01-01,web,3\n2026-01-02,web,-1\n", "negative"),
        ("date,channel,spend\n2026-01-01,web,3\n2026-01-02,web,1.000,5\n", "cannot be read"),
        ("date,channel,spend\n2026-01-01,web,3\n2026-01-02,web,abc\n", "row 3: spend 'abc'"),
        ("date,channel,spend,cost\n2026-01-01,web,3,4\n", "two columns mean 'spend'"),
    ],
)
def test_bad_spend_tables(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "spend.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KpiError, match=message):
        read_spend(path)


def test_spend_files_that_are_not_tables(tmp_path: Path) -> None:
    with pytest.raises(KpiError, match="not found"):
        read_spend(tmp_path / "nope.csv")
    (tmp_path / "spend.xlsx").write_text("x")
    with pytest.raises(KpiError, match=r"use a \.csv"):
        read_spend(tmp_path / "spend.xlsx")


# --- random logs against the oracle ---------------------------------------------------------

KINDS: list[tuple[str, str]] = [
    ("ad_impression", "social"),
    ("ad_impression", "social"),
    ("ad_click", "social"),
    ("page_view", "web"),
    ("page_view", "app"),
    ("product_view", "web"),
    ("cart_view", "web"),
    ("add_to_cart", "app"),
    ("add_to_cart", "web"),
    ("purchase", "web"),
    ("purchase", "app"),
    ("refund_issued", "billing"),
    ("survey_response", "email"),
    ("referral_click", "referral"),
    ("email_click", "email"),
    ("account_closed", "web"),
    ("review_submitted", "app"),
]


def event_specs_of(customers: str, days: list[int]) -> st.SearchStrategy[Any]:
    """Random events of ``customers`` on ``days`` (from Thursday 1 January)."""
    return st.tuples(
        st.sampled_from(customers),
        st.sampled_from(days),
        st.integers(0, 60),
        st.integers(0, len(KINDS) - 1),
        st.integers(-1, 11),  # score (out of every scale at the ends), or an amount
        st.sampled_from(["csat", "nps", "ces"]),
        st.booleans(),
    )


# Few days, so that a customer's events often fall on the same day, and minutes close
# enough to share a session; weeks and months cross.
event_specs = event_specs_of("abcd", [0, 3, 4, 12, 30, 31, 33, 59])


def random_row(spec: tuple[str, int, int, int, int, str, bool]) -> Any:
    customer, day, minute, kind, number, survey, flag = spec
    event, channel = KINDS[kind]
    moment = dt.datetime(2026, 1, 1, 9) + dt.timedelta(days=day, minutes=minute)
    extra: dict[str, Any] = {"channel": channel}
    if event in ("ad_impression", "ad_click"):
        extra["cost"] = 0.25 * (number + 2)
        extra["campaign"] = "spring" if flag else "winter"
    elif event == "purchase":
        extra["value"] = 10.0 * (number + 2)
    elif event == "refund_issued":
        extra["value"] = -5.0 * (number + 2)
    elif event == "survey_response":
        extra.update(score=number, survey=survey, text="ok" if flag else "")
    return (customer, moment.isoformat() + "Z", event, extra)


@pytest.mark.slow
@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    specs=st.lists(event_specs, min_size=1, max_size=24),
    by=st.sampled_from([None, "channel", "campaign"]),
    period=st.sampled_from([None, "week", "month"]),
)
def test_random_logs_match_the_oracle(
    make_log: MakeLog, specs: list[Any], by: Any, period: Any
) -> None:
    log = make_log([random_row(spec) for spec in specs])
    result = kpis(log.table, by=by, period=period)
    expected = oracle.kpis(log.rows(), by, period)
    assert {(r.scope, r.period) for r in result.rows} == set(expected)
    for row in result.rows:
        want = expected[(row.scope, row.period)][row.kpi]
        assert same(row.value, want), (row.kpi, row.scope, row.period, row.value, want)


# --- a map of one touchpoint per channel: its stages and touchpoints are the channels ---------

BOARD_KPIS = ["ctr", "roas", "bounce_rate", "retention_rate", "cart_abandonment_rate", "nps"]


def channel_map(channels: list[str]) -> Journey:
    """One stage per channel holding one touchpoint bound to that channel only (with a
    target for each of :data:`BOARD_KPIS`, for the board)."""
    return Journey(
        id="channels",
        title="One touchpoint per channel",
        stages=[
            Stage(
                id=f"s-{channel}",
                name=f"Stage {channel}",
                touchpoints=[
                    Touchpoint(
                        id=f"t-{channel}",
                        name=f"Touchpoint {channel}",
                        channel=channel,
                        events=EventBinding(channels=[channel]),
                        kpis=[KpiTarget(kpi=kpi, target=1.0) for kpi in BOARD_KPIS],
                    )
                ],
            )
            for channel in channels
        ],
    )


def assert_scopes_are_the_channels(
    events: Any, channels: list[str], *, period: Any, spend: Any = None
) -> int:
    """Every KPI of every stage and touchpoint of :func:`channel_map`, and of its board,
    equals that channel's KPI by ``by="channel"``, which the engine computes another way
    (a scope column grouped on, where a map's scopes are flags on the events summed per
    scope, visits joined once for all, spend rows charged by the scope's channels).
    Returns how many values (not None) were compared."""
    journey = channel_map(channels)
    expected = {
        (r.kpi, r.scope, r.period): r
        for r in kpis(events, by="channel", period=period, spend=spend).rows
    }
    assert {scope for _, scope, _ in expected} == set(channels)
    compared = 0
    for by in ("touchpoint", "stage", None):
        result = kpis(events, journey=journey, by=by, period=period, spend=spend)
        found = {(r.kpi, r.scope[2:], r.period): r for r in result.rows}
        assert len(found) == len(result.rows)
        if by is None:  # the board: the targets' KPIs of the touchpoints
            assert found.keys() == {key for key in expected if key[0] in BOARD_KPIS}
        else:
            assert found.keys() == expected.keys()
        for key, row in found.items():
            want = expected[key]
            if row.note is not None and row.note.startswith("blended"):
                # A stage or touchpoint without spend of its own is charged the period's
                # whole spend; a channel without any has none.
                assert (want.value, want.note) == (None, "no spend data"), (by, key)
                continue
            got = (row.value, row.numerator, row.denominator)
            wanted = (want.value, want.numerator, want.denominator)
            assert all(same(a, b) for a, b in zip(got, wanted, strict=True)), (by, key, got, wanted)
            assert row.note == want.note, (by, key)
            compared += row.value is not None
    return compared


@pytest.mark.parametrize("period", [None, "month"])
def test_a_map_of_one_touchpoint_per_channel_is_the_channels(
    log: EventLog, spend_csv: Path, period: Any
) -> None:
    channels = sorted({row[3]["channel"] for row in LOG})
    assert assert_scopes_are_the_channels(log.table, channels, period=period) > 50
    # The spend table adds a channel with no events (search) and charges social.
    with_spend = sorted({*channels, "search"})
    assert (
        assert_scopes_are_the_channels(log.table, with_spend, period=period, spend=spend_csv) > 50
    )


# Denser than ``event_specs``: fewer customers and days, so that the scopes' events often
# share a session (a visit, a cart) and a customer (a conversion, a retention base).
dense_specs = event_specs_of("abc", [0, 4, 31, 33])  # a Thursday, the next week, month
spend_specs = st.lists(
    st.tuples(
        st.sampled_from([0, 4, 31, 59]),  # days from 1 January, as the events'
        st.sampled_from(["social", "web", "search"]),
        st.integers(0, 20),
        st.none() | st.integers(0, 50),
    ),
    max_size=3,
)


@pytest.mark.slow
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    specs=st.lists(dense_specs, min_size=1, max_size=24),
    period=st.sampled_from([None, "week", "month"]),
    spend=spend_specs,
)
def test_random_logs_a_map_of_one_touchpoint_per_channel_is_the_channels(
    make_log: MakeLog, specs: list[Any], period: Any, spend: list[Any]
) -> None:
    log = make_log([random_row(spec) for spec in specs])
    table = None
    if spend:
        table = pa.table(
            {
                "date": [(D(2026, 1, 1) + dt.timedelta(days=d)).isoformat() for d, *_ in spend],
                "channel": [channel for _, channel, _, _ in spend],
                "spend": pa.array([float(amount) for _, _, amount, _ in spend]),
                "impressions": pa.array([shown for *_, shown in spend], pa.int64()),
            }
        )
    channels = sorted({KINDS[spec[3]][1] for spec in specs} | {s[1] for s in spend})
    assert_scopes_are_the_channels(log.table, channels, period=period, spend=table)


# --- the demo --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from jornada.demo import create_demo_workspace

    workspace = create_demo_workspace(tmp_path_factory.mktemp("demo") / "ws", customers=800)
    yield workspace
    workspace.close()


@pytest.mark.slow
def test_the_demo_map_board(demo: Any) -> None:
    (entry,) = [m for m in demo.list_maps() if m.id == "b2c-ecommerce"]
    result = kpis(demo.events(), journey=entry.journey)
    assert len(result.rows) == sum(
        len(s.kpis) + sum(len(t.kpis) for t in s.touchpoints) for s in entry.journey.stages
    )
    values = {(r.scope, r.kpi): r for r in result.rows}
    ratios = [r for r in result.rows if r.unit == "ratio" and r.value is not None]
    shares = [r for r in ratios if r.kpi not in ("frequency", "pages_per_visit", "roas")]
    assert shares
    assert all(0 <= r.value <= 1 for r in shares)
    assert 0 < values[("social_ad", "ctr")].value < 0.5
    assert values[("social_ad", "cpm")].value > 0
    assert 0 < values[("checkout", "conversion_rate")].value <= 1
    assert 150 < values[("buy", "average_order_value")].value < 600  # ~310 BRL by design
    assert values[("buy", "sales")].value > 0
    assert 1 <= values[("first_runs", "csat")].value <= 5
    assert 1 <= values[("first_runs", "ces")].value <= 7
    assert values[("colleague_tip", "referrals")].value > 0
    assert values[("running_guide", "time_on_page")].value > 0
    assert values[("running_guide", "seo_ranking")].status == "no_data"
    assert values[("loyalty", "clv")].value > 0
    computed = [r for r in result.rows if r.value is not None]
    assert len(computed) >= 20
    assert all(r.status in ("met", "at_risk", "missed") for r in computed)
    monthly = kpis(
        demo.events(), by="channel", period="month", only=["retention_rate", "churn_rate", "nps"]
    )
    for row in monthly.rows:
        if row.kpi == "retention_rate" and row.value is not None:
            churn = monthly.value("churn_rate", row.scope, row.period)
            assert churn is not None
            assert same(row.value + churn, 1.0)
        if row.kpi == "nps" and row.value is not None:
            assert -100 <= row.value <= 100
    assert monthly.value("nps", "email", D(2026, 3, 1)) is not None


# --- the command ----------------------------------------------------------------------------

FLAGS = ["--customer", "who", "--time", "at", "--event", "name", "--channel", "channel",
         "--value", "value", "--cost", "cost", "--score", "score", "--text", "text"]  # fmt: skip


@pytest.fixture
def log_csv(tmp_path: Path) -> Path:
    path = tmp_path / "events.csv"
    names = ["channel", "value", "cost", "score", "text", "survey", "campaign"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["who", "at", "name", *names])
        for customer, moment, event, extra in LOG:
            writer.writerow([customer, moment, event, *(extra.get(n, "") for n in names)])
    return path


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """A group, as in jornada's app: commands go by name."""

    kpis_cli.register(app)
    return app


def test_command_json(log_csv: Path, tmp_path: Path, spend_csv: Path) -> None:
    runner = CliRunner()
    args = ["kpis", str(log_csv), *FLAGS, "--json", "--kpi", "ctr,sales", "--kpi", "nps"]
    result = runner.invoke(cli(), args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    values = {row["kpi"]: row["value"] for row in data["rows"]}
    assert values == {"ctr": pytest.approx(1 / 3), "sales": 150, "nps": pytest.approx(100 / 3)}
    assert data["definitions"]["ctr"]["computed"].startswith("clicks / impressions")
    assert data["counts"]["impression"] == DEFAULT_COUNTS["impression"]

    map_path = tmp_path / "shop.yaml"
    dump_journey(journey(), map_path)
    csv_path, chart_path = tmp_path / "board.csv", tmp_path / "board.html"
    args = ["kpis", str(log_csv), *FLAGS, "--map", str(map_path), "--spend", str(spend_csv)]
    args += ["--lang", "pt", "--json", "--csv", str(csv_path), "--chart", str(chart_path)]
    result = runner.invoke(cli(), args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["mode"] == "map"
    assert data["language"] == "pt-BR"
    assert sum(data["summary"].values()) == len(data["rows"])
    assert "Receita de vendas" in csv_path.read_text(encoding="utf-8")
    assert chart_path.stat().st_size > 1000

    args = ["kpis", str(log_csv), *FLAGS, "--by", "channel", "--period", "month"]
    args += ["--count", "conversion=review_submitted", "--kpi", "conversion_rate"]
    result = runner.invoke(cli(), args)  # the table for people
    assert result.exit_code == 0, result.output
    assert "Conversion rate" in result.stdout
    assert "web" in result.stdout


def test_command_errors(log_csv: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli(), ["kpis", str(log_csv), *FLAGS, "--by", "stage"])
    assert isinstance(result.exception, KpiError)  # the CLI prints it as one line
    assert "need a map" in str(result.exception)
    result = runner.invoke(cli(), ["kpis", str(log_csv), *FLAGS, "--count", "conversion"])
    assert isinstance(result.exception, KpiError)
    assert "ROLE=STEP" in str(result.exception)
    result = runner.invoke(cli(), ["kpis", str(log_csv), *FLAGS, "--period", "fortnight"])
    assert result.exit_code == 2
    result = runner.invoke(cli(), ["kpis", str(log_csv), *FLAGS, "--lang", "fr"])
    assert result.exit_code == 2


def test_help_shows_an_example() -> None:
    app = cli()
    result = CliRunner().invoke(app, ["kpis", "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout
    command = typer.main.get_command(app).commands["kpis"]  # type: ignore[attr-defined]
    for param in command.params:
        assert param.help, f"kpis {param.name} has no help"
