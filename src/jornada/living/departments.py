"""The department view of a living map: for each department of the map, the touchpoints
it acts behind (each touchpoint's ``departments:`` list) with their measures, KPIs
against targets and the findings raised there.

Nothing is measured here: every number is the living map's (a touchpoint shared by two
departments appears under both). Touchpoints that name no department are listed under
``department_id=None`` at the end; a department a touchpoint names but the map does not
declare gets its id as name.

>>> from jornada.model import Department, Journey, Stage, Touchpoint
>>> shop = Journey(id="shop", title="Shop", departments=[Department(id="it", name="IT")],
...     stages=[Stage(id="buy", name="Buy", touchpoints=[
...         Touchpoint(id="pay", name="Pay", departments=["it", "finance"]),
...         Touchpoint(id="ask", name="Ask")])])
>>> [(d.department_id, d.name, [t.touchpoint_id for t in d.touchpoints])
...  for d in department_groups(shop)]
[('it', 'IT', ['pay']), ('finance', 'finance', ['pay']), (None, None, ['ask'])]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from rich.table import Table

from jornada.analytics.kpis import KpiValue
from jornada.analytics.results import AnalysisResult, json_ready
from jornada.living.overlay import Finding, LivingMap, LivingTouchpoint
from jornada.model import Journey

__all__ = [
    "DepartmentGroup",
    "DepartmentView",
    "DepartmentsResult",
    "department_groups",
    "departments",
]


@dataclass(frozen=True)
class _Ref:
    touchpoint_id: str
    stage_id: str


@dataclass(frozen=True)
class DepartmentGroup:
    """A department and the ids of the touchpoints it acts behind (from the map alone)."""

    department_id: str | None
    name: str | None
    lead: str | None
    touchpoints: tuple[_Ref, ...]


def department_groups(journey: Journey) -> list[DepartmentGroup]:
    """The map's departments in its order, then undeclared ones in order of first use,
    then the touchpoints without a department (``department_id=None``) if any."""
    declared = {d.id: d for d in journey.departments}
    owned: dict[str | None, list[_Ref]] = {d.id: [] for d in journey.departments}
    seen: set[str] = set()
    for stage, tp in journey.iter_touchpoints():
        if tp.id in seen:
            continue
        seen.add(tp.id)
        ref = _Ref(tp.id, stage.id)
        for department_id in dict.fromkeys(tp.departments) or [None]:
            owned.setdefault(department_id, []).append(ref)
    if None in owned:
        owned[None] = owned.pop(None)  # the unassigned go last
    groups = []
    for department_id, refs in owned.items():
        department = declared.get(department_id) if department_id is not None else None
        groups.append(
            DepartmentGroup(
                department_id=department_id,
                name=department.name if department else department_id,
                lead=department.lead if department else None,
                touchpoints=tuple(refs),
            )
        )
    return groups


@dataclass(frozen=True)
class DepartmentView:
    """One department with its touchpoints as the living map measured them."""

    department_id: str | None
    name: str | None
    lead: str | None
    touchpoints: tuple[LivingTouchpoint, ...]

    @property
    def kpis(self) -> tuple[KpiValue, ...]:
        return tuple(k for tp in self.touchpoints for k in tp.kpis)

    @property
    def findings(self) -> tuple[Finding, ...]:
        ranked = sorted(
            (f for tp in self.touchpoints for f in tp.findings),
            key=lambda f: (-f.severity, -f.customers),
        )
        return tuple(ranked)

    def kpi_summary(self) -> dict[str, int]:
        """How many of its KPIs with a target are met, at risk, missed or without data."""
        counts = {"met": 0, "at_risk": 0, "missed": 0, "no_data": 0}
        for k in self.kpis:
            if k.status is not None:
                counts[k.status] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "department_id": self.department_id,
            "name": self.name,
            "lead": self.lead,
            "kpi_summary": self.kpi_summary(),
            "touchpoints": [tp.to_dict() for tp in self.touchpoints],
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class DepartmentsResult(AnalysisResult):
    """Per department, its touchpoints' measures, KPIs and findings: see the module."""

    journey_id: str
    departments: tuple[DepartmentView, ...]
    living: LivingMap | None = field(default=None, repr=False, compare=False)

    def department(self, department_id: str | None) -> DepartmentView:
        return next(d for d in self.departments if d.department_id == department_id)

    def to_frame(self) -> pd.DataFrame:
        """One row per department and touchpoint."""
        rows = []
        for d in self.departments:
            for tp in d.touchpoints:
                m = tp.measures
                rows.append(
                    {
                        "department_id": d.department_id,
                        "department": d.name,
                        "stage_id": tp.stage_id,
                        "touchpoint_id": tp.touchpoint_id,
                        "touchpoint": tp.name,
                        "customers": m.customers,
                        "reach": m.reach,
                        "conversion_rate": m.conversion_rate,
                        "exits": m.exits,
                        "lost": m.lost,
                        "median_seconds_to_next": m.median_seconds_to_next,
                        "attributed_conversions": tp.attributed_conversions,
                        "kpis_met": sum(k.status == "met" for k in tp.kpis),
                        "kpis_off_target": sum(k.status in ("at_risk", "missed") for k in tp.kpis),
                        "findings": len(tp.findings),
                    }
                )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        ready: dict[str, Any] = json_ready(
            {
                "journey_id": self.journey_id,
                "scope": self.living.scope.to_dict() if self.living is not None else None,
                "departments": [d.to_dict() for d in self.departments],
            }
        )
        return ready

    def chart(self) -> go.Figure:
        """Per department: its KPIs by status (stacked) and its findings."""
        names = [d.name or "—" for d in self.departments]
        figure = go.Figure()
        colours = {
            "met": "#2e7d32",
            "at_risk": "#f9a825",
            "missed": "#c62828",
            "no_data": "#9e9e9e",
        }
        for status, colour in colours.items():
            figure.add_trace(
                go.Bar(
                    name=f"KPIs {status.replace('_', ' ')}",
                    x=names,
                    y=[d.kpi_summary()[status] for d in self.departments],
                    marker_color=colour,
                )
            )
        figure.add_trace(
            go.Scatter(
                name="findings",
                x=names,
                y=[len(d.findings) for d in self.departments],
                mode="markers",
                marker={"size": 14, "symbol": "diamond", "color": "#111827"},
            )
        )
        figure.update_layout(barmode="stack", title=f"Departments of {self.journey_id}")
        return figure

    def __rich__(self) -> Table:
        table = Table("department", "touchpoint", "customers", "KPIs", "findings", box=None)
        for d in self.departments:
            for tp in d.touchpoints:
                statuses = ", ".join(
                    f"{k.name}: {k.status.replace('_', ' ')}" for k in tp.kpis if k.status
                )
                table.add_row(
                    d.name or "(none)",
                    tp.name,
                    f"{tp.measures.customers:,}",
                    statuses,
                    "; ".join(f.message for f in tp.findings),
                )
        table.title = f"Departments of {self.journey_id}"
        return table


def departments(living: LivingMap) -> DepartmentsResult:
    """The department view of ``living`` (see the module)."""
    views = [
        DepartmentView(
            department_id=group.department_id,
            name=group.name,
            lead=group.lead,
            touchpoints=tuple(living.touchpoint(ref.touchpoint_id) for ref in group.touchpoints),
        )
        for group in department_groups(living.journey)
    ]
    return DepartmentsResult(living.journey.id, tuple(views), living)
