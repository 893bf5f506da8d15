"""What a step of an analysis can be: an event name, a touchpoint, stage or bound milestone
of a map, or a rule.

>>> from jornada.engine import Engine
>>> engine = Engine.duckdb()
>>> events = engine.con.sql("SELECT 'cart' AS event, 'web' AS channel, MAP {'page': '/c'} AS properties")
>>> step = resolve_step("cart", events)
>>> step.label, step.kind
('cart', 'event')
>>> resolve_step("channel = 'web'", events).kind
'rule'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from jornada.events.binding import binding_filter, stage_filter, touchpoint_filter
from jornada.events.rules import compile_rule
from jornada.model import Journey

__all__ = ["Step", "resolve_step", "resolve_steps"]

StepKind = Literal["event", "touchpoint", "stage", "milestone", "rule"]

_EVENT_NAME = re.compile(r"^[^\s=<>!()'\"]+$")


@dataclass(frozen=True)
class Step:
    """A resolved step: its label for people and the condition selecting its events."""

    label: str
    kind: StepKind
    condition: Any  # an Ibis BooleanValue over the events table


def resolve_step(text: str, events: Any, journey: Journey | None = None) -> Step:
    """Resolve one step. A bound map's stage, touchpoint and (bound) milestone ids win, in
    that order, over event names; text with spaces, quotes or operators is a rule;
    anything else is an event name."""
    text = text.strip()
    if journey is not None:
        stage = next((s for s in journey.stages if s.id == text), None)
        if stage is not None:
            return Step(stage.name, "stage", stage_filter(stage, events))
        # Only the filter asked for (building every touchpoint's, compiling each where
        # rule, to test one id cost each step a pass over the whole map); the name is the
        # id's first touchpoint's.
        condition = touchpoint_filter(journey, text, events)
        if condition is not None:
            name = next(t.name for _, t in journey.iter_touchpoints() if t.id == text)
            return Step(name, "touchpoint", condition)
        for stage in journey.ordered_stages():
            for milestone in stage.milestones:
                if milestone.id == text and milestone.events is not None:
                    context = f"milestone {milestone.id!r}"
                    condition = binding_filter(milestone.events, events, context=context)
                    return Step(milestone.name, "milestone", condition)
    if _EVENT_NAME.match(text):
        return Step(text, "event", events.event == text)
    return Step(text, "rule", compile_rule(text, events))


def resolve_steps(texts: list[str], events: Any, journey: Journey | None = None) -> list[Step]:
    return [resolve_step(text, events, journey) for text in texts]
