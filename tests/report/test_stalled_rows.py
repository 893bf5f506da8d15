"""The report's stalled customers are counted in the engine on the stage tables (the page
shows counts; at 100M events fetching every stalled customer took the report past 9 GB):
the same counts per stage and reason as :func:`find_stalled`'s customers."""

from __future__ import annotations

from jornada.analytics.stages import StageAnalysis, StageTables, find_stalled
from jornada.model import Journey
from jornada.report import Report
from jornada.report._sections import stalled_counts
from jornada.workspace import Workspace


def _analysis(report: Report) -> StageAnalysis:
    analysis = report.section("stalled").analyses["stages"]
    assert isinstance(analysis, StageAnalysis)
    return analysis


def test_the_counts_are_those_of_the_stalled_customers(
    report: Report, demo: Workspace, journey: Journey
) -> None:
    percentile = _analysis(report).percentile
    alone = find_stalled(demo.events(), journey, percentile=percentile)
    counted: dict[str, dict[str, int]] = {}
    for customer in alone.customers:  # the objects, one by one
        for reason in customer.reasons:
            per_reason = counted.setdefault(customer.stage_id, {})
            per_reason[reason] = per_reason.get(reason, 0) + 1
    assert any(counted.values()), "the demo has stalled customers"
    with StageTables(demo.events(), journey) as tables:
        assert stalled_counts(tables.stalled_table(percentile)) == counted


def test_the_table_shows_each_stage_and_reason(
    report: Report, demo: Workspace, journey: Journey
) -> None:
    analysis = _analysis(report)
    counts = find_stalled(demo.events(), journey, percentile=analysis.percentile).counts()
    table = report.section("stalled").table("stalled-table")
    keys = [c.key for c in table.columns]
    for stage, row in zip(analysis.stages, table.rows, strict=True):
        assert row[keys.index("stalled")] == stage.stalled
        per_reason = counts[stage.stage_id]
        # a customer may have several reasons: at least as many reasons as customers
        assert sum(per_reason.values()) >= stage.stalled
        assert (sum(per_reason.values()) == 0) == (stage.stalled == 0)
        reasons = row[keys.index("reasons")]
        assert (reasons is None) == (not per_reason)
        for n in per_reason.values():
            assert f"{n:,}" in (reasons or "")
