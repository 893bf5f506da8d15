"""A stage of the journey and its success milestones."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from jornada.model._base import Identifier, MapModel
from jornada.model.binding import EventBinding
from jornada.model.kpi import KpiTarget
from jornada.model.touchpoint import Touchpoint

__all__ = ["Milestone", "Phase", "Stage"]

Phase = Literal["before", "during", "after"]
"""Where a stage sits relative to the purchase."""


class Milestone(MapModel):
    """A success milestone: an intermediate step that already gives the customer value.

    ``within`` is how long after entering the stage the milestone should be
    reached (``7d``, ``12h``); customers who miss it can be flagged as stalled.

    >>> Milestone(id="first_order", name="First order delivered", within="14d").within
    '14d'
    """

    id: Identifier
    name: str = Field(min_length=1)
    description: str | None = None
    within: str | None = Field(default=None, pattern=r"^[0-9]+(\.[0-9]+)?[smhdw]$")
    events: EventBinding | None = None


class Stage(MapModel):
    """A column of the map: a stage the customer passes, with its touchpoints.

    >>> Stage(id="awareness", name="Awareness", phase="before").phase
    'before'
    """

    id: Identifier
    name: str = Field(min_length=1)
    order: int | None = Field(
        default=None, description="Position on the map; list order is used when absent."
    )
    description: str | None = None
    phase: Phase | None = None
    goal: str | None = Field(default=None, description="What the customer wants from this stage.")
    touchpoints: list[Touchpoint] = Field(default_factory=list)
    milestones: list[Milestone] = Field(default_factory=list)
    kpis: list[KpiTarget] = Field(default_factory=list)
    events: EventBinding | None = Field(
        default=None, description="Events of the stage beyond those of its touchpoints."
    )
    cells: dict[Identifier, str] = Field(default_factory=dict)
