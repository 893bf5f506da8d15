"""Touchpoint measures: a hand-computed log, random logs against the oracle."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jornada.analytics.touchpoints import touchpoint_measures, touchpoint_trend
from jornada.model import EventBinding, Journey, Stage, Touchpoint
from tests.analytics.conftest import EventLog, minutes
from tests.oracles import touchpoints as oracle

MakeLog = Callable[..., EventLog]


def shop_map() -> Journey:
    """'site' matches visits and carts on the web; 'basket' all carts (so a web cart is
    the site's: the first touchpoint in map order wins); 'survey' has scores; 'help' is
    unbound."""
    return Journey(
        id="shop",
        title="Shop",
        stages=[
            Stage(
                id="look",
                name="Look",
                touchpoints=[
                    Touchpoint(
                        id="site",
                        name="Site",
                        events=EventBinding(names=["visit", "cart"], channels=["web"]),
                    ),
                    Touchpoint(id="help", name="Help"),
                ],
            ),
            Stage(
                id="buy",
                name="Buy",
                touchpoints=[
                    Touchpoint(id="basket", name="Basket", events=EventBinding(names=["cart"])),
                    Touchpoint(id="survey", name="Survey", events=EventBinding(names=["survey"])),
                ],
            ),
        ],
    )


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None or math.isnan(a) or math.isnan(b):
        return (a is None or math.isnan(a)) and (b is None or math.isnan(b))
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def test_hand_computed_log(make_log: MakeLog) -> None:
    web, app = {"channel": "web"}, {"channel": "app"}
    log = make_log(
        [
            ("a", minutes(0), "visit", web),
            ("a", minutes(10), "cart", app),  # basket
            ("a", minutes(40), "purchase", web),
            ("a", minutes(50), "survey", {"channel": "email", "score": "4"}),
            ("b", minutes(0), "visit", web),
            ("b", minutes(20), "cart", web),  # site (first in map order), then b stops
            ("c", minutes(5), "survey", {"channel": "email", "score": "2"}),
        ]
    )
    result = touchpoint_measures(log.table, shop_map(), conversion="purchase")
    site, help_, basket, survey = result.touchpoints
    assert (site.events, site.customers, site.exits, site.converted, site.lost) == (3, 2, 1, 1, 1)
    assert site.median_seconds_to_next == 900.0  # gaps 10 and 20 minutes; b's cart ends
    assert site.reach == 2 / 3
    assert (help_.bound, help_.events, help_.customers) == (False, 0, 0)
    assert (basket.events, basket.customers, basket.converted, basket.exits) == (1, 1, 1, 0)
    assert basket.median_seconds_to_next == 1800.0
    assert (survey.scores, survey.score_mean, survey.exits, survey.converted) == (2, 3.0, 2, 0)
    assert result.to_dict()["touchpoints"][0]["conversion_rate"] == 0.5
    assert list(result.to_frame()["touchpoint_id"]) == ["site", "help", "basket", "survey"]
    assert result.chart().data


def test_without_conversion_the_conversion_columns_are_empty(make_log: MakeLog) -> None:
    log = make_log([("a", minutes(0), "visit", {"channel": "web"})])
    site = touchpoint_measures(log.table, shop_map()).touchpoint("site")
    assert (site.converted, site.lost, site.median_seconds_to_next) == (None, None, None)


log_rows = st.lists(
    st.tuples(
        st.sampled_from("abcd"),
        st.integers(0, 48).map(lambda h: minutes(h * 60)),  # whole hours: ties are common
        st.sampled_from(("visit", "cart", "purchase", "survey", "other")),
        st.fixed_dictionaries(
            {
                "channel": st.sampled_from(("web", "app")),
                "score": st.sampled_from(("", "1", "5")),
            }
        ),
    ),
    max_size=20,
)


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=log_rows)
def test_random_logs_match_the_oracle(make_log: MakeLog, rows: list[Any]) -> None:
    log = make_log(rows)
    result = touchpoint_measures(log.table, shop_map(), conversion="purchase")
    touchpoints: list[tuple[str, Callable[[Any], bool]]] = [
        ("site", lambda e: e["event"] in ("visit", "cart") and e["channel"] == "web"),
        ("help", lambda e: False),
        ("basket", lambda e: e["event"] == "cart"),
        ("survey", lambda e: e["event"] == "survey"),
    ]
    purchase = lambda e: e["event"] == "purchase"  # noqa: E731
    expected = oracle.touchpoint_measures(log.rows(), touchpoints, purchase)
    for within in (None, 3 * 3600.0):
        trend = touchpoint_trend(
            log.table, shop_map(), conversion="purchase", period="day", within_seconds=within
        )
        got = {(r.touchpoint_id, r.period_start): (r.customers, r.converted) for r in trend.rows}
        day = lambda e: e["ts"].date()  # noqa: E731
        assert got == oracle.touchpoint_trend(log.rows(), touchpoints, purchase, day, within)
    for measure in result.touchpoints:
        want = expected[measure.touchpoint_id]
        assert (measure.events, measure.customers, measure.exits) == (
            want["events"],
            want["customers"],
            want["exits"],
        ), measure.touchpoint_id
        assert (measure.converted, measure.lost) == (want["converted"], want["lost"])
        assert measure.scores == want["scores"]
        assert close(measure.score_mean, want["score_mean"])
        assert close(measure.median_seconds_to_next, want["median"])
        assert close(measure.p90_seconds_to_next, want["p90"])
