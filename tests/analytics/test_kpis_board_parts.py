"""KPIs: a map's board asks each scope for the measures of its own KPIs only, and the
engine then leaves out what no KPI reads (the visits' times without ``session_duration``,
the visits' sessions without ``bounce_rate``...). Each KPI alone on the board must give
the value the channels give, which are computed with every measure."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jornada.analytics.kpis import kpis
from jornada.model import EventBinding, Journey, KpiTarget, Stage, Touchpoint
from tests.analytics.test_kpis import KINDS, LOG, MakeLog, dense_specs, random_row, same

# The tiny log with a response of every kind on each side of every scale's bounds.
SCORED: list[Any] = [
    *LOG,
    *(
        ("e", f"2026-01-{10 + k:02d}T09:00:00Z", "survey_response",
         {"channel": "email", "score": score, "survey": survey})
        for k, (survey, score) in enumerate(
            [("csat", 4), ("csat", 1), ("csat", 6), ("nps", 0), ("nps", 7), ("nps", 11),
             ("ces", 7), ("ces", 8), ("ces", 0)]
        )
    ),
]  # fmt: skip

# Each visits measure alone and together, the events part's sums by role, retention.
ALONE = [
    ["time_on_page"],
    ["bounce_rate"],
    ["pages_per_visit"],
    ["session_duration"],
    ["time_on_page", "session_duration"],
    ["ctr", "cpc", "csat", "csat_satisfied", "nps", "ces", "feedback_count"],
    ["average_order_value", "sales", "engagement_rate", "frequency"],
    ["retention_rate", "churn_rate"],
]


def board_of(channels: list[str], wanted: list[str]) -> Journey:
    """One stage per channel holding one touchpoint bound to that channel, each with a
    target for every KPI of ``wanted`` (on the touchpoint, and on the stage)."""
    targets = [KpiTarget(kpi=kpi, target=1.0) for kpi in wanted]
    return Journey(
        id="channels",
        title="One touchpoint per channel",
        stages=[
            Stage(
                id=f"s-{channel}",
                name=f"Stage {channel}",
                kpis=targets,
                touchpoints=[
                    Touchpoint(
                        id=f"t-{channel}",
                        name=f"Touchpoint {channel}",
                        events=EventBinding(channels=[channel]),
                        kpis=targets,
                    )
                ],
            )
            for channel in channels
        ],
    )


def assert_board_is_the_channels(
    events: Any, channels: list[str], wanted: list[str], expected: dict[Any, Any] | None = None
) -> int:
    """Every value of the board of ``wanted`` for ``channels`` equals that channel's value
    (by ``by`` channel, or ``expected``); returns how many values were compared. A board
    of some channels only matters: the scopes then miss some events (a retention base's
    customer active the next month in another channel only)."""
    if expected is None:
        expected = {(r.kpi, r.scope): r for r in kpis(events, by="channel").rows}
    board = kpis(events, journey=board_of(channels, wanted))
    assert {(r.kpi, r.scope[2:]) for r in board.rows} == {
        (kpi, channel) for kpi in wanted for channel in channels
    }
    compared = 0
    for row in board.rows:
        want = expected[(row.kpi, row.scope[2:])]
        got = (row.value, row.numerator, row.denominator)
        wanted_values = (want.value, want.numerator, want.denominator)
        assert all(same(a, b) for a, b in zip(got, wanted_values, strict=True)), (
            row.kpi,
            row.scope,
            got,
            wanted_values,
        )
        compared += row.value is not None
    return compared


@pytest.mark.parametrize("wanted", ALONE, ids="+".join)
def test_each_kpi_alone_on_the_board_is_the_channels(make_log: MakeLog, wanted: list[str]) -> None:
    log = make_log(SCORED)
    channels = sorted({row[3]["channel"] for row in SCORED})
    expected = {(r.kpi, r.scope): r for r in kpis(log.table, by="channel").rows}
    assert assert_board_is_the_channels(log.table, channels, wanted, expected) > 0
    for channel in channels:
        assert_board_is_the_channels(log.table, [channel], wanted, expected)


@pytest.mark.slow
@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    specs=st.lists(dense_specs, min_size=1, max_size=24),
    wanted=st.sampled_from(ALONE),
)
def test_random_logs_each_kpi_alone_on_the_board_is_the_channels(
    make_log: MakeLog, specs: list[Any], wanted: list[str]
) -> None:
    log = make_log([random_row(spec) for spec in specs])
    channels = sorted({KINDS[spec[3]][1] for spec in specs})
    expected = {(r.kpi, r.scope): r for r in kpis(log.table, by="channel").rows}
    assert_board_is_the_channels(log.table, channels, wanted, expected)
    assert_board_is_the_channels(log.table, channels[:1], wanted, expected)


def test_counts_on_event_names_only(make_log: MakeLog) -> None:
    """Every count a rule on the event name (none reads properties or text): no flag is
    gated on (event, channel). This raised a TypeError (an empty reduce) before."""
    log = make_log(SCORED)
    counts = {
        "csat": "survey_response",
        "nps": "survey_response",
        "ces": "survey_response",
        "feedback": "review_submitted",
    }
    result = kpis(log.table, counts=counts, only=["csat", "feedback_count", "ctr"])
    # Every survey response counts as a CSAT one: those scored 1 to 5 are a's 5 and 3,
    # c's 2, e's 4 and 1.
    assert same(result.value("csat"), (5 + 3 + 2 + 4 + 1) / 5)
    assert result.value("feedback_count") == 1  # b's review
    assert same(result.value("ctr"), 1 / 3)
