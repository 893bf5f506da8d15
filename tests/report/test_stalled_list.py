"""The report's stalled customers, held as rows and made into objects on first use: the
same list, counts and JSON as the stage analysis's own."""

from __future__ import annotations

from typing import cast

from jornada.analytics.stages import find_stalled
from jornada.model import Journey
from jornada.report import Report
from jornada.report._stalled import StalledList
from jornada.workspace import Workspace


def test_the_rows_are_the_stalled_customers(
    report: Report, demo: Workspace, journey: Journey
) -> None:
    found = cast(StalledList, report.section("stalled").analyses["stalled"])
    assert isinstance(found, StalledList)
    alone = find_stalled(demo.events(), journey)
    assert found.counts() == alone.counts()
    assert found.to_dict() == alone.to_dict()
    assert found.to_frame().equals(alone.to_frame())
    assert found.customers == alone.customers
    assert len(found.customers) == found.rows.num_rows > 0


def test_the_table_counts_each_reason(report: Report) -> None:
    found = cast(StalledList, report.section("stalled").analyses["stalled"])
    counts = found.counts()
    table = report.section("stalled").table("stalled-table")
    stalled_column = [c.key for c in table.columns].index("stalled")
    for stage_id, row in zip((sid for sid, _ in found.thresholds), table.rows, strict=True):
        per_reason = counts[stage_id]
        # a customer may have several reasons: at least as many reasons as customers
        assert sum(per_reason.values()) >= row[stalled_column]
        assert (sum(per_reason.values()) == 0) == (row[stalled_column] == 0)
