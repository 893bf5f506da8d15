"""The ``events`` block of a touchpoint, stage or milestone: which events it is.

The shape is validated here; the rule text in ``where`` is parsed and compiled
to engine expressions by the events layer, never pasted into SQL.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from jornada.model._base import MapModel

__all__ = ["EventBinding"]


class EventBinding(MapModel):
    """Events that belong to a touchpoint: any of ``names`` on any of ``channels``,
    further restricted by an optional ``where`` rule.

    >>> EventBinding(names=["checkout_started"], where="properties.device = 'mobile'").names
    ['checkout_started']
    """

    names: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    where: str | None = Field(
        default=None,
        description="A rule on event fields and properties, e.g. "
        "\"properties.page starts with '/checkout' and value > 10\".",
    )

    @model_validator(mode="after")
    def _says_something(self) -> EventBinding:
        if not (self.names or self.channels or self.where):
            raise ValueError("an events block needs at least one of names, channels or where")
        return self
