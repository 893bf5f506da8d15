"""KPIs: the paths of the engine half that the tiny log alone does not choose.

The kept events carry their roles and scopes as bits of integer columns, and group
customers on the store's ``customer_no`` when the table has it; a plain table (no
``customer_no``, no session facts) and a map with more flags than one column holds
must give the same KPIs."""

from __future__ import annotations

import math
from typing import Any

import pytest

from jornada.analytics._kpi_measures import ROLES
from jornada.analytics.kpis import KpiResult, kpis
from jornada.model import EventBinding, Journey, KpiTarget, Stage, Touchpoint
from tests.analytics.test_kpis import LOG, MakeLog, journey


def assert_same(result: KpiResult, expected: KpiResult, name: str = "") -> None:
    got, want = result.to_dict(), expected.to_dict()
    assert len(got["rows"]) == len(want["rows"]), name
    for row, other in zip(got["rows"], want["rows"], strict=True):
        for name, value in row.items():
            if isinstance(value, float) and isinstance(other[name], float):
                assert math.isclose(value, other[name], rel_tol=1e-12), (row, other)
            else:
                assert value == other[name], (name, row, other)
    assert got["summary"] == want["summary"]


@pytest.mark.parametrize("by", [None, "channel", "campaign", "stage", "touchpoint", "map"])
@pytest.mark.parametrize("period", [None, "month"])
def test_plain_tables_give_the_store_kpis(make_log: MakeLog, by: Any, period: Any) -> None:
    """Without ``customer_no`` (text ids), with a ``customer_no`` that is not the store's
    (text), and without the session facts: the same KPIs as on the store's table."""
    table = make_log(LOG).table
    assert table.schema()["customer_no"].is_integer()
    plain = {
        "no customer_no": table.drop("customer_no"),
        "text customer_no": table.mutate(customer_no=table.customer_no.cast("string")),
        "no facts": table.drop("customer_no", "session_last", "session_start", "session_next_ts"),
    }
    scope = None if by == "map" else by
    expected = kpis(table, journey=journey(), by=scope, period=period)
    assert expected.rows
    assert any(row.value for row in expected.rows)
    for name, other in plain.items():
        result = kpis(other, journey=journey(), by=scope, period=period)
        assert_same(result, expected, name)


def crowded(extra: int) -> Journey:
    """The tiny map's stages after a stage of ``extra`` touchpoints bound to events that
    never happen: each one a flag of its own, so the real scopes' flags (and a rule on
    properties) land in a second integer column."""
    small = journey()
    unused = [
        Touchpoint(id=f"unused_{k}", name=f"Unused {k}", events=EventBinding(names=[f"nope_{k}"]))
        for k in range(extra)
    ]
    surveys = Touchpoint(
        id="csat_survey",
        name="CSAT survey",
        events=EventBinding(names=["survey_response"], where="properties.survey = 'csat'"),
        kpis=[KpiTarget(kpi="csat", target=4.0), KpiTarget(kpi="feedback_count", target=1)],
    )
    stages = [
        Stage(id="noise", name="Noise", touchpoints=unused),
        *small.stages[:-1],
        Stage(id="after", name="After", touchpoints=[surveys], kpis=small.stages[-1].kpis),
    ]
    return small.model_copy(update={"stages": stages})


def test_more_flags_than_one_column_holds(make_log: MakeLog) -> None:
    table = make_log(LOG).table
    few, many = crowded(0), crowded(70)
    assert len(ROLES) + 70 > 62  # the bits of one int64 column (see _kpi_measures._BITS)
    expected = kpis(table, journey=few)
    result = kpis(table, journey=many)
    assert_same(result, expected)
    survey = {row.kpi: row.value for row in result.rows if row.scope == "csat_survey"}
    assert survey == {"csat": 3.5, "feedback_count": 1.0}  # a's 5 and c's 2; a's comment
    for by in ("stage", "touchpoint"):
        only = ["csat", "ctr", "sales", "impressions", "conversion_rate"]
        kept = kpis(table, journey=many, by=by, only=only)
        alone = kpis(table, journey=few, by=by, only=only)
        noise = ("unused_", "noise")  # bound to nothing in one map, to no event in the other
        real = [
            [(r.scope, r.kpi, r.value) for r in found.rows if not r.scope.startswith(noise)]
            for found in (kept, alone)
        ]
        assert real[0] == real[1]
        assert ("after" if by == "stage" else "csat_survey", "csat", 3.5) in real[0]
        # A scope bound to no event counts nothing (its bit is its own).
        assert {r.value for r in kept.rows if r.scope.startswith(noise)} <= {0.0, None}
