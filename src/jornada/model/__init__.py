"""Journey maps as data: the pure model (no engine, no I/O beyond files)."""

from jornada.model._base import LANGUAGES, Language, parse_language
from jornada.model.binding import EventBinding
from jornada.model.journey import Department, Journey, JourneyKind, Status
from jornada.model.kpi import Direction, KpiDefinition, KpiTarget, Period
from jornada.model.lanes import BUILTIN_LANES, Lane, default_lanes
from jornada.model.persona import Persona
from jornada.model.stage import Milestone, Phase, Stage
from jornada.model.touchpoint import (
    Category,
    Directness,
    Emotion,
    Evidence,
    Medium,
    Opportunity,
    PainPoint,
    Touchpoint,
)

__all__ = [
    "BUILTIN_LANES",
    "LANGUAGES",
    "Category",
    "Department",
    "Direction",
    "Directness",
    "Emotion",
    "EventBinding",
    "Evidence",
    "Journey",
    "JourneyKind",
    "KpiDefinition",
    "KpiTarget",
    "Lane",
    "Language",
    "Medium",
    "Milestone",
    "Opportunity",
    "PainPoint",
    "Period",
    "Persona",
    "Phase",
    "Stage",
    "Status",
    "Touchpoint",
    "default_lanes",
    "parse_language",
]
