"""The living map's finding rules on hand-made measures, against independent arithmetic
(the bad-week test against scipy's chi-square test of the 2x2 table)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest
from scipy import stats

from jornada.analytics.touchpoints import TouchpointMeasure, TouchpointPeriod, TouchpointTrend
from jornada.living import overlay


def week(n: int) -> dt.date:
    return dt.date(2026, 1, 5) + dt.timedelta(weeks=n)


def test_a_bad_week_is_found_with_its_numbers() -> None:
    # Four ordinary weeks converting 80 of 100, one converting 40 of 100.
    rows = [TouchpointPeriod("checkout", week(n), 100, 80) for n in range(4)]
    rows.append(TouchpointPeriod("checkout", week(4), 100, 40))
    trend = TouchpointTrend("shop", "purchase", "week", tuple(rows))
    found = overlay._period_findings(trend, {"checkout": ("Checkout", "buy")}, week(10))
    assert [f.numbers["period_start"] for f in found] == [week(4).isoformat()]
    numbers = found[0].numbers
    assert numbers["rate"] == 0.4
    assert numbers["other_rate"] == 0.8
    assert found[0].customers == 40  # (0.8 - 0.4) x 100
    # The z-test of two proportions is the uncorrected chi-square test of the 2x2 table.
    table = [[40, 60], [320, 80]]
    _chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
    assert numbers["p_value"] == pytest.approx(p, rel=1e-9)


def test_weeks_still_open_and_small_weeks_are_not_judged() -> None:
    rows = [TouchpointPeriod("checkout", week(n), 100, 80) for n in range(4)]
    rows.append(TouchpointPeriod("checkout", week(4), 100, 10))
    rows.append(TouchpointPeriod("checkout", week(5), 10, 0))  # too few customers
    trend = TouchpointTrend("shop", "purchase", "week", tuple(rows))
    names = {"checkout": ("Checkout", "buy")}
    # The week of week(4) ends after the judged date: its window has not closed.
    assert overlay._period_findings(trend, names, week(4) + dt.timedelta(days=6)) == []
    judged = overlay._period_findings(trend, names, week(10))
    assert [f.numbers["period_start"] for f in judged] == [week(4).isoformat()]


def test_a_mild_dip_is_not_a_bad_week() -> None:
    rows = [TouchpointPeriod("checkout", week(n), 1000, 800) for n in range(4)]
    rows.append(TouchpointPeriod("checkout", week(4), 1000, 700))  # 12.5% lower: under 30%
    trend = TouchpointTrend("shop", "purchase", "week", tuple(rows))
    assert overlay._period_findings(trend, {"checkout": ("Checkout", "buy")}, week(10)) == []


def cell(touchpoint_id: str, customers: int, lost: int) -> overlay.LivingTouchpoint:
    measures = TouchpointMeasure(
        touchpoint_id, touchpoint_id.title(), "buy", True, customers, customers, None, None,
        lost, 0, lost, None, 0, 1000,
    )  # fmt: skip
    return overlay.LivingTouchpoint(touchpoint_id, touchpoint_id.title(), "buy", None,
                                    "assumed", measures, None)  # fmt: skip


def test_journeys_end_where_far_more_unconverted_customers_stop_than_usual() -> None:
    # Lost shares 5%, 10%, 10%, 40%: the median is 10%; 40% is 4x it, and 40 customers
    # are 4% of the 1,000 in the log (at least 1%).
    cells = [cell("a", 100, 5), cell("b", 100, 10), cell("c", 100, 10), cell("d", 100, 40)]
    found = overlay._exit_findings(cells, 1000)
    assert list(found) == ["d"]
    (finding,) = found["d"]
    assert (finding.customers, finding.numbers["rate"], finding.numbers["typical"]) == (
        40,
        0.4,
        0.1,
    )
    assert finding.severity == 5  # 4x the typical share: past both steps (2x, 3x)
    # Too few customers to matter: 9 of 1,000 is under 1%.
    few = [cell("a", 100, 5), cell("b", 100, 10), cell("c", 100, 10), cell("d", 20, 9)]
    assert overlay._exit_findings(few, 1000) == {}


def test_measured_emotion_against_the_design() -> None:
    from jornada.living.sentiment import EmotionMeasure

    def felt(designed: int | None, mean: float, low: float, high: float, n: int = 50) -> Any:
        base = cell("help", 100, 0)
        emotion = EmotionMeasure("help", "Help", n, mean, low, high, n, mean, 0, None)
        return replace(base, designed_emotion=designed, emotion=emotion)

    # Designed +2, measured -1 (interval -1.3..-0.7): a contradiction 3 points wide, and
    # customers feel bad there.
    kinds = {f.kind: f for f in overlay._emotion_findings(felt(2, -1.0, -1.3, -0.7))}
    assert set(kinds) == {"emotion_contradiction", "negative_emotion"}
    assert kinds["emotion_contradiction"].severity == 5  # |−1 − 2| = 3: past 2 and 3
    assert kinds["negative_emotion"].severity == 4  # −1.0: past 1, not 1.5
    # The design inside the measured interval, or too few responses: nothing to say.
    assert overlay._emotion_findings(felt(0, 0.2, -0.1, 0.5)) == []
    assert overlay._emotion_findings(felt(2, -1.0, -1.3, -0.7, n=4)) == []
