"""What a rendered map shows, worked out once from a journey for every output format.

The HTML and SVG templates only lay out these plain values: all look-ups
(translations, the KPI catalogue, department colours, emotion positions) happen here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from jornada.i18n import messages, translate
from jornada.model import (
    Journey,
    KpiDefinition,
    KpiTarget,
    Lane,
    Language,
    Persona,
    Stage,
    Touchpoint,
)
from jornada.model.catalogue import CatalogueKpi, kpi_catalogue
from jornada.render._format import (
    EMOTION_COLORS,
    PALETTE,
    PHASE_COLORS,
    format_number,
    initials,
    mix,
    parse_hex,
)
from jornada.render._icons import CHANNEL_ICONS, icon_key
from jornada.render._textmetrics import text_width

__all__ = [
    "ChannelView",
    "DepartmentView",
    "EmotionPoint",
    "EmotionView",
    "Item",
    "KpiView",
    "LaneView",
    "MapView",
    "MilestoneView",
    "OpportunityView",
    "PainView",
    "PersonaView",
    "StageView",
    "TouchpointView",
    "build_view",
]

LIST_LANES = ("actions", "questions", "motivations", "thoughts")
EMOTION_KEYS = {
    -2: "emotion.very_negative",
    -1: "emotion.negative",
    0: "emotion.neutral",
    1: "emotion.positive",
    2: "emotion.very_positive",
}
CURRENCY_SYMBOLS = {"BRL": "R$", "USD": "US$", "EUR": "€", "GBP": "£", "MXN": "MX$", "ARS": "AR$"}
SEVERITY_COLORS = {1: "#f2b53c", 2: "#f09a3a", 3: "#ea7a35", 4: "#e0543a", 5: "#c9302c"}


@dataclass(frozen=True)
class ChannelView:
    key: str
    label: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class EmotionView:
    score: int
    score_text: str
    label: str
    color: str


@dataclass(frozen=True)
class DepartmentView:
    id: str
    name: str
    color: str
    background: str
    border: str
    text_color: str
    lead: str | None = None


@dataclass(frozen=True)
class TouchpointView:
    number: int
    id: str
    name: str
    description: str | None
    channel: ChannelView
    meta: tuple[str, ...]
    evidence: str
    evidence_label: str
    personas: tuple[str, ...]
    emotion: EmotionView | None


@dataclass(frozen=True)
class Item:
    text: str
    ref: int | None = None


@dataclass(frozen=True)
class PainView:
    text: str
    severity: int
    color: str
    ref: int | None = None


@dataclass(frozen=True)
class OpportunityView:
    text: str
    impact: int
    effort: int
    quick_win: bool
    ref: int | None = None


@dataclass(frozen=True)
class KpiView:
    id: str
    name: str
    target: str | None
    direction: str | None
    direction_label: str | None
    note: str | None
    ref: int | None = None


@dataclass(frozen=True)
class MilestoneView:
    name: str
    description: str | None
    within: str | None


@dataclass(frozen=True)
class StageView:
    index: int
    number: int
    id: str
    name: str
    description: str | None
    goal: str | None
    phase: str | None
    phase_label: str | None
    phase_color: str
    phase_background: str
    touchpoints: tuple[TouchpointView, ...]


@dataclass(frozen=True)
class Cell:
    """One lane's content in one stage; only the field matching the lane's kind is filled."""

    stage: StageView
    touchpoints: tuple[TouchpointView, ...] = ()
    items: tuple[Item, ...] = ()
    pains: tuple[PainView, ...] = ()
    opportunities: tuple[OpportunityView, ...] = ()
    departments: tuple[DepartmentView, ...] = ()
    kpis: tuple[KpiView, ...] = ()
    milestones: tuple[MilestoneView, ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            self.touchpoints
            or self.items
            or self.pains
            or self.opportunities
            or self.departments
            or self.kpis
            or self.milestones
        )


@dataclass(frozen=True)
class LaneView:
    id: str
    kind: str
    """touchpoints, list, emotion, pain_points, opportunities, departments, kpis,
    milestones or custom."""
    title: str
    cells: tuple[Cell, ...]

    @property
    def empty(self) -> bool:
        return all(cell.empty for cell in self.cells)


@dataclass(frozen=True)
class EmotionPoint:
    x: float
    """0..1 across the stage columns."""
    y: float
    """0 (score +2, top) .. 1 (score -2, bottom)."""
    slot: float
    """The share of the width that belongs to this point (for its label)."""
    number: int
    name: str
    emotion: EmotionView
    above: bool = False
    """Label above the dot (at a positive peak) rather than below it."""


@dataclass(frozen=True)
class PersonaView:
    id: str
    name: str
    initials: str
    quote: str | None
    role: str | None
    facts: tuple[tuple[str, str], ...]
    backstory: str | None
    goals: tuple[str, ...]
    challenges: tuple[str, ...]
    motivations: tuple[str, ...]
    success: str | None
    channels: tuple[ChannelView, ...]
    long_story: bool = False


@dataclass(frozen=True)
class MapView:
    language: Language
    t: Mapping[str, str]
    title: str
    kind_label: str
    description: str | None
    goal: str | None
    status: str
    status_label: str
    owner: str | None
    version: int
    updated: str | None
    tags: tuple[str, ...]
    personas: tuple[PersonaView, ...]
    stages: tuple[StageView, ...]
    lanes: tuple[LaneView, ...]
    emotion_points: tuple[EmotionPoint, ...]
    channels: tuple[ChannelView, ...]
    departments: tuple[DepartmentView, ...]
    emotion_scale: tuple[EmotionView, ...]
    phases: tuple[tuple[str, str, str], ...]
    """(phase, label, colour) of the phases the map uses."""
    lane_ids: frozenset[str] = field(default_factory=frozenset)
    has_refs: bool = False


def _catalogue() -> Mapping[str, CatalogueKpi]:
    """The KPI catalogue, or nothing while its data is missing or broken."""
    try:
        return kpi_catalogue()
    except Exception:
        return {}


MIN_COLUMN = 190
"""The narrowest stage column of the HTML map (``--jn-column-min``), in px."""
LABEL_MIN_WIDTH = 104


def _label_sides(points: list[EmotionPoint], columns: int) -> list[bool]:
    """Whether each emotion label goes above its dot: above at a positive peak, below in a
    trough, and elsewhere on the side that keeps it clear of its left neighbour's label."""
    scores = [p.emotion.score for p in points]
    forced: list[bool | None] = []
    for i, score in enumerate(scores):
        neighbours = scores[max(i - 1, 0) : i] + scores[i + 1 : i + 2]
        if score > 0 and all(score >= s for s in neighbours):
            forced.append(True)
        elif score < 0 and all(score <= s for s in neighbours):
            forced.append(False)
        else:
            forced.append(None)
    above = [bool(f) for f in forced]
    plot = MIN_COLUMN * max(columns, 1)
    widths = [
        min(text_width(p.emotion.label, 11, bold=True) + 10, max(p.slot * plot, LABEL_MIN_WIDTH))
        for p in points
    ]

    def clash(a: int, b: int) -> bool:
        gap = (points[b].x - points[a].x) * plot
        return above[a] == above[b] and gap < (widths[a] + widths[b]) / 2 + 4

    for i in range(1, len(points)):
        if not clash(i - 1, i):
            continue
        if forced[i] is None:
            above[i] = not above[i]
        elif forced[i - 1] is None:
            above[i - 1] = not above[i - 1]
            if i >= 2 and clash(i - 2, i - 1):
                above[i - 1] = not above[i - 1]
    return above


def _humanize(identifier: str) -> str:
    """A readable title for a custom lane without one: ``channels_used`` → ``Channels used``."""
    text = re.sub(r"[_.\-]+", " ", identifier).strip()
    return text[:1].upper() + text[1:] if text else identifier


def _signed(score: int) -> str:
    return f"+{score}" if score > 0 else ("−" + str(-score) if score < 0 else "0")


class _Builder:
    def __init__(self, journey: Journey, language: Language) -> None:
        self.journey = journey
        self.language = language
        self.t = messages(language)
        self.catalogue = _catalogue()
        self.definitions: dict[str, KpiDefinition] = {k.id: k for k in journey.kpis}
        self.departments = self._departments()
        self.numbers: dict[tuple[str, str], int] = {}
        for number, (stage, touchpoint) in enumerate(journey.iter_touchpoints(), start=1):
            self.numbers.setdefault((stage.id, touchpoint.id), number)

    def tr(self, key: str) -> str:
        return translate(key, self.language)

    # --- small pieces -------------------------------------------------------------------

    def channel(self, channel: str | None) -> ChannelView:
        key = icon_key(channel)
        text = (channel or "").strip()
        named = "channel." + re.sub(r"[\s\-/]+", "_", text.lower())
        if not text or text.lower() == key:
            label = self.tr(f"channel.{key}")
        elif named in self.t:
            label = self.t[named]
        elif text.islower():
            label = text[0].upper() + text[1:]
        else:
            label = text
        return ChannelView(key=key, label=label, paths=CHANNEL_ICONS[key])

    def emotion(self, score: int, label: str | None) -> EmotionView:
        return EmotionView(
            score=score,
            score_text=_signed(score),
            label=label or self.tr(EMOTION_KEYS[score]),
            color=EMOTION_COLORS[score],
        )

    def _departments(self) -> dict[str, DepartmentView]:
        views: dict[str, DepartmentView] = {}
        chosen = {d.color.lower() for d in self.journey.departments if d.color}
        free = [c for c in PALETTE if c not in chosen] or list(PALETTE)
        next_free = 0
        for department in self.journey.departments:
            color = department.color if parse_hex(department.color) else None
            if color is None:
                color = free[next_free % len(free)]
                next_free += 1
            views[department.id] = self._department_view(
                department.id, department.name, color, department.lead
            )
        return views

    @staticmethod
    def _department_view(
        department_id: str, name: str, color: str, lead: str | None = None
    ) -> DepartmentView:
        return DepartmentView(
            id=department_id,
            name=name,
            color=mix(color, "#000000", 0.0),
            background=mix(color, "#ffffff", 0.88),
            border=mix(color, "#ffffff", 0.6),
            text_color=mix(color, "#0f172a", 0.45),
            lead=lead,
        )

    def department(self, department_id: str) -> DepartmentView:
        known = self.departments.get(department_id)
        if known is not None:
            return known
        return self._department_view(department_id, department_id, "#64748b")

    def kpi(self, target: KpiTarget, ref: int | None) -> KpiView:
        entry = self.catalogue.get(target.kpi)
        definition = self.definitions.get(target.kpi)
        if entry is not None:
            name = entry.name.get(self.language)
        elif definition is not None:
            name = definition.name
        else:
            name = target.kpi
        unit = (
            target.unit
            or (entry.unit if entry else None)
            or (definition.unit if definition else None)
        )
        direction = (
            target.direction
            or (entry.direction if entry else None)
            or (definition.direction if definition else None)
        )
        # ``period`` and the map's ``currency`` are newer model fields: read them defensively.
        period = getattr(target, "period", None)
        note = " · ".join(
            text
            for text in (self.tr(f"kpi.period.{period}") if period else None, target.note)
            if text
        )
        return KpiView(
            id=target.kpi,
            name=name,
            target=None if target.target is None else self.amount(target.target, unit),
            direction=direction,
            direction_label=self.tr(f"kpi.{direction}_is_better") if direction else None,
            note=note or None,
            ref=ref,
        )

    def amount(self, value: float, unit: str | None) -> str:
        """A KPI target with its unit: ratios as percentages, seconds as s/min/h."""
        number = self._number
        currency = getattr(self.journey, "currency", None)
        if isinstance(currency, str) and currency and unit in ("currency", currency):
            symbol = CURRENCY_SYMBOLS.get(currency)
            money = format_number(value, self.language, money=True)
            return f"{symbol} {money}" if symbol else f"{money} {currency}"
        if unit in (None, "", "count", "score", "rank", "currency"):
            return number(value)
        if unit == "ratio":
            # A share (conversion rate) reads as a percentage; a multiple (pages per
            # visit, return on ad spend) as a plain number.
            return number(value * 100, 1) + "%" if 0 <= value <= 1 else number(value)
        if unit in ("%", "percent", "pct"):
            return number(value, 1) + "%"
        if unit == "seconds":
            if abs(value) >= 7200:
                return number(value / 3600, 1) + " h"
            if abs(value) >= 120:
                return number(value / 60, 1) + " min"
            return number(value, 1) + " " + self.tr("unit.seconds")
        return f"{number(value)} {unit}"

    def _number(self, value: float, decimals: int = 2) -> str:
        return format_number(value, self.language, decimals=decimals)

    # --- the map ------------------------------------------------------------------------

    def touchpoint(self, stage: Stage, touchpoint: Touchpoint) -> TouchpointView:
        meta: list[str] = []
        if touchpoint.category:
            meta.append(self.tr(f"category.{touchpoint.category}"))
        if touchpoint.medium:
            meta.append(self.tr(f"medium.{touchpoint.medium}"))
        if touchpoint.directness == "indirect":
            meta.append(self.tr("directness.indirect"))
        personas: tuple[str, ...] = ()
        if len(self.journey.personas) > 1 and touchpoint.personas:
            names = {p.id: p.name for p in self.journey.personas}
            personas = tuple(names.get(pid, pid) for pid in touchpoint.personas)
        emotion = touchpoint.emotion
        return TouchpointView(
            number=self.numbers[(stage.id, touchpoint.id)],
            id=touchpoint.id,
            name=touchpoint.name,
            description=touchpoint.description,
            channel=self.channel(touchpoint.channel),
            meta=tuple(meta),
            evidence=touchpoint.evidence,
            evidence_label=self.tr(f"evidence.{touchpoint.evidence}"),
            personas=personas,
            emotion=self.emotion(emotion.score, emotion.label) if emotion else None,
        )

    def stage(self, index: int, stage: Stage) -> StageView:
        color = PHASE_COLORS.get(stage.phase, PHASE_COLORS[None])
        return StageView(
            index=index,
            number=index + 1,
            id=stage.id,
            name=stage.name,
            description=stage.description,
            goal=stage.goal,
            phase=stage.phase,
            phase_label=self.tr(f"phase.{stage.phase}") if stage.phase else None,
            phase_color=color,
            phase_background=mix(color, "#ffffff", 0.86),
            touchpoints=tuple(self.touchpoint(stage, tp) for tp in stage.touchpoints),
        )

    def cell(self, lane: Lane, stage: Stage, view: StageView) -> Cell:
        several = len(stage.touchpoints) > 1
        pairs = [
            (tp, view.touchpoints[i].number if several else None)
            for i, tp in enumerate(stage.touchpoints)
        ]
        lane_id = lane.id
        if lane_id == "touchpoints":
            return Cell(stage=view, touchpoints=view.touchpoints)
        if lane_id in LIST_LANES:
            items = tuple(Item(text, ref) for tp, ref in pairs for text in getattr(tp, lane_id))
            return Cell(stage=view, items=items)
        if lane_id == "pain_points":
            pains = tuple(
                PainView(p.text, p.severity, SEVERITY_COLORS[p.severity], ref)
                for tp, ref in pairs
                for p in tp.pain_points
            )
            return Cell(stage=view, pains=pains)
        if lane_id == "opportunities":
            opportunities = tuple(
                OpportunityView(o.text, o.impact, o.effort, o.impact >= 4 and o.effort <= 2, ref)
                for tp, ref in pairs
                for o in tp.opportunities
            )
            return Cell(stage=view, opportunities=opportunities)
        if lane_id == "departments":
            seen: dict[str, DepartmentView] = {}
            for tp, _ in pairs:
                for department_id in tp.departments:
                    seen.setdefault(department_id, self.department(department_id))
            return Cell(stage=view, departments=tuple(seen.values()))
        if lane_id == "kpis":
            kpis = [self.kpi(k, None) for k in stage.kpis]
            kpis += [self.kpi(k, ref) for tp, ref in pairs for k in tp.kpis]
            return Cell(stage=view, kpis=tuple(kpis))
        if lane_id == "milestones":
            milestones = tuple(
                MilestoneView(m.name, m.description, self._within(m.within))
                for m in stage.milestones
            )
            return Cell(stage=view, milestones=milestones)
        if lane_id == "emotion":
            return Cell(stage=view)
        items_list: list[Item] = []
        if lane_id in stage.cells:
            items_list.append(Item(stage.cells[lane_id]))
        items_list += [Item(tp.cells[lane_id], ref) for tp, ref in pairs if lane_id in tp.cells]
        return Cell(stage=view, items=tuple(items_list))

    def _within(self, within: str | None) -> str | None:
        if not within:
            return None
        match = re.match(r"^([0-9.]+)([smhdw])$", within)
        if match is None:
            return within
        amount = self._number(float(match.group(1)))
        return f"{self.tr('milestone.within')} {amount} {self.tr('duration.' + match.group(2))}"

    def lane(self, lane: Lane, stages: list[Stage], views: tuple[StageView, ...]) -> LaneView:
        if lane.is_builtin:
            title = lane.title or self.tr(f"lane.{lane.id}")
            kind = "list" if lane.id in LIST_LANES else lane.id
        else:
            title = lane.title or _humanize(lane.id)
            kind = "custom"
        cells = tuple(self.cell(lane, s, v) for s, v in zip(stages, views, strict=True))
        return LaneView(id=lane.id, kind=kind, title=title, cells=cells)

    def emotion_points(self, views: tuple[StageView, ...]) -> tuple[EmotionPoint, ...]:
        points: list[EmotionPoint] = []
        columns = len(views)
        for view in views:
            count = len(view.touchpoints)
            for position, tp in enumerate(view.touchpoints):
                if tp.emotion is None:
                    continue
                points.append(
                    EmotionPoint(
                        x=(view.index + (position + 0.5) / count) / columns,
                        y=(2 - tp.emotion.score) / 4,
                        slot=1 / (columns * count),
                        number=tp.number,
                        name=tp.name,
                        emotion=tp.emotion,
                    )
                )
        sides = _label_sides(points, columns)
        return tuple(replace(p, above=above) for p, above in zip(points, sides, strict=True))

    def persona(self, persona: Persona) -> PersonaView:
        facts: list[tuple[str, str]] = []
        for key in ("age", "location", "education", "income_band"):
            value = getattr(persona, key)
            if value:
                facts.append((self.tr(f"persona.{key}"), value))
        facts += [(_humanize(k), v) for k, v in persona.attributes.items()]
        return PersonaView(
            id=persona.id,
            name=persona.name,
            initials=initials(persona.name),
            quote=persona.quote,
            role=persona.role,
            facts=tuple(facts),
            backstory=persona.backstory,
            goals=tuple(persona.goals),
            challenges=tuple(persona.challenges),
            motivations=tuple(persona.motivations),
            success=persona.success,
            channels=tuple(self.channel(c) for c in persona.preferred_channels),
            long_story=len(persona.backstory or "") > 280,
        )

    def build(self) -> MapView:
        journey = self.journey
        stages = journey.ordered_stages()
        views = tuple(self.stage(i, s) for i, s in enumerate(stages))
        lanes = tuple(self.lane(lane, stages, views) for lane in journey.visible_lanes())
        channels: dict[str, ChannelView] = {}
        for view in views:
            for tp in view.touchpoints:
                channels.setdefault(tp.channel.key, self.channel(tp.channel.key))
        used_departments: dict[str, DepartmentView] = {}
        for _, touchpoint in journey.iter_touchpoints():
            for department_id in touchpoint.departments:
                used_departments.setdefault(department_id, self.department(department_id))
        for department_id, department in self.departments.items():
            used_departments.setdefault(department_id, department)
        phases = tuple(
            (phase, self.tr(f"phase.{phase}"), PHASE_COLORS[phase])
            for phase in ("before", "during", "after")
            if any(s.phase == phase for s in stages)
        )
        return MapView(
            language=self.language,
            t=self.t,
            title=journey.title,
            kind_label=self.tr(f"map.kind.{journey.kind}"),
            description=journey.description,
            goal=journey.goal,
            status=journey.status,
            status_label=self.tr(f"status.{journey.status}"),
            owner=journey.owner,
            version=journey.version,
            updated=journey.updated.isoformat() if journey.updated else None,
            tags=tuple(journey.tags),
            personas=tuple(self.persona(p) for p in journey.personas),
            stages=views,
            lanes=lanes,
            emotion_points=self.emotion_points(views),
            channels=tuple(channels.values()),
            departments=tuple(used_departments.values()),
            emotion_scale=tuple(self.emotion(s, None) for s in (2, 1, 0, -1, -2)),
            phases=phases,
            lane_ids=frozenset(lane.id for lane in lanes),
            has_refs=any(len(s.touchpoints) > 1 for s in stages),
        )


def build_view(journey: Journey, language: Language | None = None) -> MapView:
    """Everything the templates draw for ``journey`` in ``language`` (default: the map's)."""
    return _Builder(journey, language or journey.language).build()
