"""The report's stalled customers: fetched once as an Arrow table, made into objects only
when someone reads them.

The report shows the stalled customers counted per stage and reason; the list itself
(hundreds of thousands of customers at 10M events) is kept behind the section for the
JSON twin and the API. Building one :class:`~jornada.analytics.stages.StalledCustomer`
per row took most of the report's stalled step (about 4 of 5 CPU-seconds at 10M events,
against 0.7 for the query), so :class:`StalledList` holds the rows and builds
:class:`~jornada.analytics.stages.StalledCustomers` on first use; the counts come from
the table directly.

>>> import datetime as dt, pyarrow as pa
>>> t = dt.datetime(2026, 1, 1)
>>> rows = pa.table({"customer_id": ["a", "b"], "customer_key": [None, "k"],
...     "stage_id": ["buy", "buy"], "stage_name": ["Buy", "Buy"], "entered_at": [t, t],
...     "seconds_in_stage": [90000, 86400], "threshold_seconds": [3600, 3600],
...     "last_touchpoint_id": [None, None], "last_touchpoint_name": [None, None],
...     "last_event_at": [t, t], "reason": ["slow; missed milestone paid", "slow"]})
>>> found = StalledList(rows, "shop", t, 80.0, (("look", None), ("buy", 3600)))
>>> found.counts()["buy"] == {"slow": 2, "missed milestone paid": 1}
True
>>> found.counts() == found.result.counts()
True
>>> found.result.customers[0].reasons, found.to_dict()["customers"][1]["customer_key"]
(('slow', 'missed milestone paid'), 'k')
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import pyarrow as pa
from rich.table import Table

from jornada.analytics.results import AnalysisResult
from jornada.analytics.stages import StalledCustomer, StalledCustomers

__all__ = ["REASON_SEPARATOR", "StalledList"]

REASON_SEPARATOR = "; "
"""How :meth:`~jornada.analytics.stages.StageTables.stalled_table` joins a customer's reasons."""


class StalledList(AnalysisResult):
    """The stalled customers of :meth:`~jornada.analytics.stages.StageTables.stalled_table`
    (its rows, in its order), with the thresholds used: equal to, and read like, the
    :class:`~jornada.analytics.stages.StalledCustomers` that
    :meth:`~jornada.analytics.stages.StageTables.stalled` returns (see the module)."""

    def __init__(
        self,
        rows: pa.Table,
        journey_id: str,
        as_of: dt.datetime | None,
        percentile: float,
        thresholds: tuple[tuple[str, int | None], ...],
    ) -> None:
        self.rows = rows
        self.journey_id = journey_id
        self.as_of = as_of
        self.percentile = percentile
        self.thresholds = thresholds

    @cached_property
    def result(self) -> StalledCustomers:
        """The customers as objects, built on first use (column by column: reading an
        Arrow table row by row as dicts costs as much again)."""
        columns = {name: self.rows.column(name).to_pylist() for name in _COLUMNS}
        customers = tuple(
            StalledCustomer(
                customer_id=customer_id,
                customer_key=customer_key,
                stage_id=stage_id,
                stage_name=stage_name,
                entered_at=entered_at,
                seconds_in_stage=int(seconds),
                threshold_seconds=threshold,
                last_touchpoint_id=touchpoint_id,
                last_touchpoint_name=touchpoint_name,
                last_event_at=last_event_at,
                reasons=tuple(reason.split(REASON_SEPARATOR)),
            )
            for (
                customer_id,
                customer_key,
                stage_id,
                stage_name,
                entered_at,
                seconds,
                threshold,
                touchpoint_id,
                touchpoint_name,
                last_event_at,
                reason,
            ) in zip(*columns.values(), strict=True)
        )
        return StalledCustomers(
            journey_id=self.journey_id,
            as_of=self.as_of,
            percentile=self.percentile,
            thresholds=self.thresholds,
            customers=customers,
        )

    @property
    def customers(self) -> tuple[StalledCustomer, ...]:
        return self.result.customers

    def counts(self) -> dict[str, dict[str, int]]:
        """Stalled customers per stage id and reason, as
        :meth:`~jornada.analytics.stages.StalledCustomers.counts` (from the table: one
        row per stage and combination of reasons)."""
        counts: dict[str, dict[str, int]] = {stage_id: {} for stage_id, _ in self.thresholds}
        grouped = self.rows.group_by(["stage_id", "reason"]).aggregate([([], "count_all")])
        for row in grouped.to_pylist():
            per_reason = counts.setdefault(row["stage_id"], {})
            for reason in row["reason"].split(REASON_SEPARATOR):
                per_reason[reason] = per_reason.get(reason, 0) + row["count_all"]
        return counts

    def to_frame(self) -> pd.DataFrame:
        return self.result.to_frame()

    def to_dict(self) -> dict[str, Any]:
        return self.result.to_dict()

    def chart(self) -> go.Figure:
        return self.result.chart()

    def __rich__(self) -> Table:
        return self.result.__rich__()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StalledList):
            other = other.result
        return self.result == other

    __hash__ = None  # type: ignore[assignment]  # compared by value, like the dataclass


_COLUMNS = (
    "customer_id",
    "customer_key",
    "stage_id",
    "stage_name",
    "entered_at",
    "seconds_in_stage",
    "threshold_seconds",
    "last_touchpoint_id",
    "last_touchpoint_name",
    "last_event_at",
    "reason",
)
