"""The journey map: the document jornada reads, checks, draws and (later) fills with data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Literal

from pydantic import Field

from jornada.model._base import Identifier, Language, MapModel
from jornada.model.kpi import KpiDefinition
from jornada.model.lanes import Lane, default_lanes
from jornada.model.persona import Persona
from jornada.model.stage import Stage
from jornada.model.touchpoint import Touchpoint

__all__ = ["Department", "Journey", "JourneyKind", "Status"]

JourneyKind = Literal["journey", "experience"]
"""``journey``: the holistic map from first contact to advocacy. ``experience``: one
interaction mapped step by step (a support contact, a store visit)."""

Status = Literal["draft", "researched", "live", "archived"]


class Department(MapModel):
    """A team acting behind the touchpoints (the backstage of the map).

    >>> Department(id="support", name="Customer support").name
    'Customer support'
    """

    id: Identifier
    name: str = Field(min_length=1)
    description: str | None = None
    lead: str | None = None
    color: str | None = Field(default=None, pattern=r"^#[0-9a-fA-F]{6}$")


class Journey(MapModel):
    """A customer journey map.

    >>> j = Journey(id="shop", title="Buying shoes online", stages=[Stage(id="a", name="Awareness")])
    >>> [s.id for s in j.ordered_stages()]
    ['a']
    """

    id: Identifier
    title: str = Field(min_length=1)
    kind: JourneyKind = "journey"
    description: str | None = Field(default=None, description="The scenario the map tells.")
    goal: str | None = Field(default=None, description="What success means to the customer.")
    status: Status = "draft"
    owner: str | None = None
    language: Language = "en"
    currency: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code of money values and targets (BRL, EUR, USD...).",
    )
    tags: list[str] = Field(default_factory=list)
    version: int = Field(default=1, ge=1)
    updated: dt.date | None = None
    personas: list[Persona] = Field(default_factory=list)
    departments: list[Department] = Field(default_factory=list)
    stages: list[Stage] = Field(default_factory=list)
    kpis: list[KpiDefinition] = Field(
        default_factory=list, description="KPIs this map defines beyond the catalogue."
    )
    lanes: list[Lane] = Field(
        default_factory=list, description="Rows of the grid, in order; empty means the defaults."
    )

    def ordered_stages(self) -> list[Stage]:
        """Stages left to right: by ``order`` when given, else by position in the file."""
        indexed = list(enumerate(self.stages))
        indexed.sort(key=lambda pair: pair[1].order if pair[1].order is not None else pair[0])
        return [stage for _, stage in indexed]

    def visible_lanes(self) -> list[Lane]:
        """The lanes drawn, top to bottom."""
        return [lane for lane in (self.lanes or default_lanes()) if not lane.hidden]

    def iter_touchpoints(self) -> Iterator[tuple[Stage, Touchpoint]]:
        """Every touchpoint with its stage, in map order."""
        for stage in self.ordered_stages():
            for touchpoint in stage.touchpoints:
                yield stage, touchpoint

    def department(self, department_id: str) -> Department | None:
        return next((d for d in self.departments if d.id == department_id), None)
