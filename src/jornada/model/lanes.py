"""The rows of the swimlane grid. Lanes are data: a map may hide, reorder or add lanes."""

from __future__ import annotations

from typing import Final

from pydantic import Field

from jornada.model._base import Identifier, MapModel

__all__ = ["BUILTIN_LANES", "Lane", "default_lanes"]

BUILTIN_LANES: Final[tuple[str, ...]] = (
    "touchpoints",
    "actions",
    "questions",
    "motivations",
    "thoughts",
    "emotion",
    "pain_points",
    "opportunities",
    "departments",
    "kpis",
    "milestones",
)
"""Lanes jornada fills from the map's fields; any other lane id is a custom lane whose
text comes from the ``cells`` of touchpoints and stages."""


class Lane(MapModel):
    """One row of the map.

    >>> Lane(id="channels_used", title="Channels used").is_builtin
    False
    """

    id: Identifier
    title: str | None = Field(
        default=None, description="Heading shown; built-in lanes default to a translated title."
    )
    hidden: bool = False

    @property
    def is_builtin(self) -> bool:
        return self.id in BUILTIN_LANES


def default_lanes() -> list[Lane]:
    """The lanes of a map that does not list its own, in the order they are drawn."""
    return [Lane(id=lane_id) for lane_id in BUILTIN_LANES]
