"""KPIs as a map uses them: a reference to the catalogue with a target, or a custom definition."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from jornada.model._base import Identifier, MapModel

__all__ = ["Direction", "KpiDefinition", "KpiTarget", "Period"]

Direction = Literal["higher", "lower"]
"""Which way is good: ``higher`` (conversion rate) or ``lower`` (bounce rate, CPC)."""

Period = Literal["day", "week", "month", "quarter", "year"]


class KpiTarget(MapModel):
    """A KPI a stage or touchpoint is measured by, with the team's target.

    ``kpi`` names an entry of the KPI catalogue (``jornada.model.catalogue``) or
    a KPI the map defines itself in ``Journey.kpis``.

    >>> KpiTarget(kpi="conversion_rate", target=0.03, direction="higher").target
    0.03
    """

    kpi: Identifier
    target: float | None = None
    unit: str | None = None
    direction: Direction | None = Field(
        default=None, description="Overrides the catalogue's good direction when set."
    )
    period: Period | None = Field(
        default=None, description="The period the target is for (a monthly sales target...)."
    )
    note: str | None = None


class KpiDefinition(MapModel):
    """A KPI that is not in the catalogue, defined by the map that uses it.

    >>> KpiDefinition(id="demo_requests", name="Demo requests", unit="count").direction
    'higher'
    """

    id: Identifier
    name: str = Field(min_length=1)
    definition: str | None = None
    formula: str | None = None
    unit: str | None = None
    direction: Direction = "higher"
