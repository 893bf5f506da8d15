"""The customer a journey is told for."""

from __future__ import annotations

from pydantic import Field

from jornada.model._base import Identifier, MapModel

__all__ = ["Persona"]


class Persona(MapModel):
    """A representative customer: who they are, what they want and what success means to them.

    >>> Persona(id="ana", name="Ana", role="Office manager").role
    'Office manager'
    """

    id: Identifier
    name: str = Field(min_length=1)
    quote: str | None = None
    backstory: str | None = Field(default=None, description="The customer's story, in prose.")
    role: str | None = Field(default=None, description="Job or role.")
    age: str | None = None
    location: str | None = None
    education: str | None = None
    income_band: str | None = None
    goals: list[str] = Field(default_factory=list)
    challenges: list[str] = Field(default_factory=list)
    motivations: list[str] = Field(default_factory=list)
    success: str | None = Field(default=None, description="What success means to this customer.")
    preferred_channels: list[str] = Field(default_factory=list)
    attributes: dict[str, str] = Field(default_factory=dict)
