"""KPIs: a map's board computes the measures of all its stages and touchpoints together
(a distinct count per scope from one grouping by customer, the visits from one row per
session with its landing page view's flags, the conversions from each customer's first
event of each scope). Scopes overlap (an event in several touchpoints, a stage holding
its touchpoints' events, a rule on properties): each scope's values on the whole board
must be those of a board holding that scope alone."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jornada.analytics.kpis import kpis
from jornada.model import EventBinding, Journey, KpiTarget, Stage, Touchpoint
from tests.analytics.test_kpis import LOG, MakeLog, dense_specs, random_row, same

WANTED = [
    "frequency",
    "conversion_rate",
    "bounce_rate",
    "pages_per_visit",
    "session_duration",
    "time_on_page",
    "retention_rate",
    "cart_abandonment_rate",
    "sales",
    "csat",
    "ctr",
]
"""KPIs reading the distinct counts, the visits, the conversions and the events' sums."""

TOUCHPOINTS: dict[str, EventBinding] = {
    "web": EventBinding(channels=["web"]),
    "views": EventBinding(names=["page_view", "product_view", "cart_view"]),
    "buy": EventBinding(names=["add_to_cart", "purchase"]),
    "spring": EventBinding(
        names=["ad_impression", "ad_click"], where="properties.campaign = 'spring'"
    ),
    "social": EventBinding(channels=["social"]),
}
STAGES = {"browse": ["web", "views"], "act": ["buy", "spring", "social"]}


def touchpoint(tp: str, *, targets: bool) -> Touchpoint:
    return Touchpoint(
        id=tp,
        name=tp,
        events=TOUCHPOINTS[tp],
        kpis=[KpiTarget(kpi=kpi, target=1.0) for kpi in WANTED] if targets else [],
    )


def whole_map() -> Journey:
    return Journey(
        id="overlapping",
        title="Overlapping scopes",
        stages=[
            Stage(
                id=stage,
                name=stage,
                kpis=[KpiTarget(kpi=kpi, target=1.0) for kpi in WANTED],
                touchpoints=[touchpoint(tp, targets=True) for tp in tps],
            )
            for stage, tps in STAGES.items()
        ],
    )


def alone(scope: str) -> Journey:
    """A map whose board holds ``scope`` (a stage or touchpoint id) alone."""
    if scope in STAGES:
        stage = Stage(
            id=scope,
            name=scope,
            kpis=[KpiTarget(kpi=kpi, target=1.0) for kpi in WANTED],
            touchpoints=[touchpoint(tp, targets=False) for tp in STAGES[scope]],
        )
    else:
        stage = Stage(id="only", name="only", touchpoints=[touchpoint(scope, targets=True)])
    return Journey(id="alone", title="One scope", stages=[stage])


def assert_each_scope_as_alone(table: Any, period: Any = None) -> int:
    board = kpis(table, journey=whole_map(), period=period)
    rows = {(r.scope_type, r.scope, r.kpi, r.period): r for r in board.rows}
    assert len(rows) == len(board.rows)
    assert len({key[:3] for key in rows}) == len(WANTED) * (len(STAGES) + len(TOUCHPOINTS))
    compared = 0
    for scope in [*STAGES, *TOUCHPOINTS]:
        for row in kpis(table, journey=alone(scope), period=period).rows:
            whole = rows[(row.scope_type, row.scope, row.kpi, row.period)]
            got = (whole.value, whole.numerator, whole.denominator, whole.note)
            want = (row.value, row.numerator, row.denominator, row.note)
            assert all(same(a, b) for a, b in zip(got[:3], want[:3], strict=True)), (
                scope,
                row.kpi,
                got,
                want,
            )
            assert got[3] == want[3], (scope, row.kpi, got, want)
            compared += row.value is not None
    return compared


@pytest.mark.parametrize("period", [None, "month"])
def test_each_scope_of_the_board_is_the_scope_alone(make_log: MakeLog, period: Any) -> None:
    log = make_log(LOG)
    assert assert_each_scope_as_alone(log.table, period) > 20


@pytest.mark.slow
@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    specs=st.lists(dense_specs, min_size=1, max_size=24),
    period=st.sampled_from([None, "week", "month"]),
)
def test_random_logs_each_scope_of_the_board_is_the_scope_alone(
    make_log: MakeLog, specs: list[Any], period: Any
) -> None:
    log = make_log([random_row(spec) for spec in specs])
    assert_each_scope_as_alone(log.table, period)
