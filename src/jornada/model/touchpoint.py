"""A touchpoint (or step): one moment where the customer meets the business."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from jornada.model._base import Identifier, MapModel
from jornada.model.binding import EventBinding
from jornada.model.kpi import KpiTarget

__all__ = [
    "Category",
    "Directness",
    "Emotion",
    "Evidence",
    "Medium",
    "Opportunity",
    "PainPoint",
    "Touchpoint",
]

Category = Literal["marketing_reach", "sales_interaction", "customer_initiated", "feedback"]
"""The four kinds of touchpoint the seeds name: marketing reach, sales interactions,
customer-initiated conversations, and feedback about the service or product."""

Directness = Literal["direct", "indirect"]
"""Direct: the business talks to the customer. Indirect: a review, a friend's word."""

Medium = Literal["digital", "physical", "human"]

Evidence = Literal["assumed", "researched", "measured"]
"""How much a cell is known: a team's guess, research (interviews, surveys), or event data."""

Score = Annotated[int, Field(ge=1, le=5)]


class Emotion(MapModel):
    """How the customer feels, from -2 (very negative) to +2 (very positive).

    >>> Emotion(score=-1, label="anxious").score
    -1
    """

    score: int = Field(ge=-2, le=2)
    label: str | None = None


class PainPoint(MapModel):
    """Something that hurts, with a severity from 1 (minor) to 5 (blocks the journey).

    >>> PainPoint(text="Shipping cost shown late", severity=4).severity
    4
    """

    text: str = Field(min_length=1)
    severity: Score = 3
    evidence: str | None = Field(
        default=None,
        description="The numbers behind it, when it was found in event data (living map).",
    )


class Opportunity(MapModel):
    """An improvement the team could make, rated by impact and effort (1..5).

    >>> Opportunity(text="Show shipping cost on the product page", impact=4, effort=2).effort
    2
    """

    text: str = Field(min_length=1)
    impact: Score = 3
    effort: Score = 3


class Touchpoint(MapModel):
    """One touchpoint of a stage, with every lane's content for it.

    >>> Touchpoint(id="ads", name="Online ads", channel="ads").evidence
    'assumed'
    """

    id: Identifier
    name: str = Field(min_length=1)
    description: str | None = None
    channel: str | None = Field(default=None, description="e.g. web, app, email, store, phone.")
    category: Category | None = None
    directness: Directness = "direct"
    medium: Medium | None = None
    departments: list[Identifier] = Field(
        default_factory=list, description="Ids of the departments acting behind the touchpoint."
    )
    personas: list[Identifier] = Field(
        default_factory=list, description="Ids of the personas it applies to (all when empty)."
    )
    actions: list[str] = Field(default_factory=list)
    questions: list[str] = Field(default_factory=list)
    motivations: list[str] = Field(default_factory=list)
    thoughts: list[str] = Field(default_factory=list)
    emotion: Emotion | None = None
    pain_points: list[PainPoint] = Field(default_factory=list)
    opportunities: list[Opportunity] = Field(default_factory=list)
    kpis: list[KpiTarget] = Field(default_factory=list)
    evidence: Evidence = "assumed"
    events: EventBinding | None = None
    cells: dict[Identifier, str] = Field(
        default_factory=dict, description="Text of the map's custom lanes, by lane id."
    )
