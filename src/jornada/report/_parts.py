"""What a report is made of: sections holding tables, charts and claims.

Tables keep their raw values (what ``to_dict`` gives) and a kind per column (how the HTML
writes them for the reader's language). A claim is a sentence with the numbers behind it
and ``target``: the anchor of the table row (or section) those numbers are shown in.

>>> table = Table("t", "Stages", (Column("stage", "Stage"), Column("n", "Customers", "count")),
...               (("Buy", 10),), row_ids=("t-buy",))
>>> table.to_dict()["rows"], table.shape
([{'stage': 'Buy', 'n': 10}], (1, 2))
>>> Table("d", "Days", (Column("day", "Day", "date"),), ((dt.date(2026, 3, 2),),)).to_dict()["rows"]
[{'day': '2026-03-02'}]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import plotly.graph_objects as go

from jornada.analytics.results import AnalysisResult, json_ready
from jornada.report._format import CellKind

__all__ = [
    "Chart",
    "Claim",
    "Column",
    "Opportunity",
    "OpportunityKind",
    "Section",
    "Table",
]

OpportunityKind = Literal["stage_gap", "bad_week", "journeys_end_here", "bad_period", "unreached"]


def _plain(value: Any) -> Any:
    """Dates as ISO text (the rest is :func:`json_ready`'s job)."""
    return value.isoformat() if isinstance(value, dt.date) else value


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: CellKind = "text"


@dataclass(frozen=True)
class Table:
    """Rows of raw values under labelled columns; ``row_ids`` are anchors claims link to."""

    id: str
    caption: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    row_ids: tuple[str | None, ...] = ()

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.rows), len(self.columns))

    def row_id(self, index: int) -> str | None:
        return self.row_ids[index] if index < len(self.row_ids) else None

    def to_dict(self) -> dict[str, Any]:
        keys = [c.key for c in self.columns]
        ready: dict[str, Any] = json_ready(
            {
                "id": self.id,
                "caption": self.caption,
                "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in self.columns],
                "rows": [dict(zip(keys, map(_plain, row), strict=True)) for row in self.rows],
            }
        )
        return ready


@dataclass(frozen=True)
class Chart:
    """An interactive Plotly figure (drawn from the embedded plotly.js in the HTML)."""

    id: str
    title: str
    figure: go.Figure = field(compare=False, repr=False)


@dataclass(frozen=True)
class Claim:
    """A statement of the report and the numbers behind it, shown at ``target``."""

    id: str
    text: str
    target: str
    numbers: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        ready: dict[str, Any] = json_ready(
            {"id": self.id, "text": self.text, "target": self.target, "numbers": dict(self.numbers)}
        )
        return ready


@dataclass(frozen=True)
class Opportunity:
    """An improvement, ranked by the customers it would win back (``value``: their money,
    when the data has conversion values), with the numbers behind the estimate."""

    kind: OpportunityKind
    stage_id: str
    touchpoint_id: str | None
    customers: float
    value: float | None
    claim: Claim

    def to_dict(self) -> dict[str, Any]:
        ready: dict[str, Any] = json_ready(
            {
                "kind": self.kind,
                "stage_id": self.stage_id,
                "touchpoint_id": self.touchpoint_id,
                "customers": self.customers,
                "value": self.value,
                "claim": self.claim.to_dict(),
            }
        )
        return ready


@dataclass(frozen=True)
class Section:
    """One part of the report: its tables, charts and claims, the analyses behind them,
    notes (such as why an analysis could not run) and, for the living map and the persona,
    an HTML fragment made by a renderer of ours (trusted: its text is escaped there)."""

    id: str
    title: str
    analyses: Mapping[str, AnalysisResult] = field(default_factory=dict, compare=False)
    intro: str = ""
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()
    claims: tuple[Claim, ...] = ()
    notes: tuple[str, ...] = ()
    fragment: str | None = field(default=None, compare=False, repr=False)

    def table(self, table_id: str) -> Table:
        return next(t for t in self.tables if t.id == table_id)

    def to_dict(self, *, analyses: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "intro": self.intro,
            "notes": list(self.notes),
            "tables": [t.to_dict() for t in self.tables],
            "charts": [{"id": c.id, "title": c.title} for c in self.charts],
            "claims": [c.to_dict() for c in self.claims],
        }
        if analyses:
            data["analyses"] = {name: result.to_dict() for name, result in self.analyses.items()}
        return data
