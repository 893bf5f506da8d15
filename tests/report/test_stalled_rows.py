"""The report's stalled customers are the stage tables' own, held as rows and made into
objects on first use: the same list, counts and JSON as :func:`find_stalled`."""

from __future__ import annotations

from typing import cast

from jornada.analytics.stages import StalledCustomers, find_stalled
from jornada.model import Journey
from jornada.report import Report
from jornada.workspace import Workspace


def test_the_rows_are_the_stalled_customers(
    report: Report, demo: Workspace, journey: Journey
) -> None:
    found = cast(StalledCustomers, report.section("stalled").analyses["stalled"])
    alone = find_stalled(demo.events(), journey)
    assert found == alone
    assert "customers" not in vars(alone), "no objects until someone reads them"
    assert found.counts() == alone.counts()
    assert found.to_dict() == alone.to_dict()
    assert found.to_frame().equals(alone.to_frame())
    assert found.customers == alone.customers
    assert len(found.customers) == found.rows.num_rows > 0


def test_the_counts_from_the_rows_are_those_of_the_customers(report: Report) -> None:
    found = cast(StalledCustomers, report.section("stalled").analyses["stalled"])
    counted: dict[str, dict[str, int]] = {stage_id: {} for stage_id, _ in found.thresholds}
    for customer in found.customers:  # the objects, one by one
        for reason in customer.reasons:
            per_reason = counted[customer.stage_id]
            per_reason[reason] = per_reason.get(reason, 0) + 1
    assert found.counts() == counted
    assert any(counted.values())


def test_the_table_counts_each_reason(report: Report) -> None:
    found = cast(StalledCustomers, report.section("stalled").analyses["stalled"])
    counts = found.counts()
    table = report.section("stalled").table("stalled-table")
    stalled_column = [c.key for c in table.columns].index("stalled")
    for stage_id, row in zip((sid for sid, _ in found.thresholds), table.rows, strict=True):
        per_reason = counts[stage_id]
        # a customer may have several reasons: at least as many reasons as customers
        assert sum(per_reason.values()) >= row[stalled_column]
        assert (sum(per_reason.values()) == 0) == (row[stalled_column] == 0)
