"""The map as a standalone SVG: the layout is computed here, the template only draws shapes.

Text is wrapped with Arial metrics (``_textmetrics``), so the drawing needs no
browser and opens in any SVG viewer or editor: no ``foreignObject``, no script.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jornada.model import Journey, Language
from jornada.render._geometry import curve_path
from jornada.render._templates import environment, number
from jornada.render._textmetrics import text_width, wrap
from jornada.render._view import (
    Cell,
    ChannelView,
    DepartmentView,
    LaneView,
    MapView,
    PersonaView,
    StageView,
    build_view,
)

__all__ = ["render_svg"]

FONT = (
    "-apple-system, BlinkMacSystemFont, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, "
    "'Noto Sans', 'Liberation Sans', sans-serif"
)
MARGIN = 36.0
LANE_WIDTH = 160.0
COLUMN = 232.0
PAD = 12.0
INK = "#0f172a"
TEXT = "#1e293b"
BODY = "#334155"
SUBTLE = "#475569"
MUTED = "#64748b"
FAINT = "#94a3b8"
LINE = "#e2e8f0"
LINE_SOFT = "#eef2f6"
SUNKEN = "#f8fafc"
ACCENT = "#4f46e5"
EMOTION_HEIGHT = 222.0
PLOT_TOP = 50.0
PLOT_BOTTOM = 52.0
LANE_ACCENTS = {
    "touchpoints": "#6366f1",
    "list": "#94a3b8",
    "emotion": "#e2b93b",
    "pain_points": "#e0543a",
    "opportunities": "#16a34a",
    "departments": "#0891b2",
    "kpis": "#7c3aed",
    "milestones": "#ca8a04",
    "custom": "#64748b",
}
FLAG = ("M5 21V4", "M5 4.5c4-2.5 7 2.5 13 0v9c-6 2.5-9-2.5-13 0")


# --- shapes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str = "none"
    stroke: str = "none"
    rx: float = 0
    stroke_width: float = 1
    dash: str | None = None
    opacity: float = 1
    kind: str = "rect"


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    """Baseline of the first line."""
    lines: tuple[str, ...]
    size: float
    fill: str = TEXT
    weight: int = 400
    line_height: float = 0
    anchor: str = "start"
    italic: bool = False
    spacing: float = 0
    kind: str = "text"


@dataclass(frozen=True)
class Circle:
    cx: float
    cy: float
    r: float
    fill: str = "none"
    stroke: str = "none"
    stroke_width: float = 1
    dash: str | None = None
    opacity: float = 1
    kind: str = "circle"


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str = LINE
    stroke_width: float = 1
    dash: str | None = None
    kind: str = "line"


@dataclass(frozen=True)
class Path:
    d: str
    fill: str = "none"
    stroke: str = "none"
    stroke_width: float = 1
    kind: str = "path"


@dataclass(frozen=True)
class Icon:
    x: float
    y: float
    size: float
    paths: tuple[str, ...]
    color: str
    kind: str = "icon"

    @property
    def scale(self) -> float:
        return round(self.size / 24, 4)


@dataclass(frozen=True)
class GroupStart:
    clip: str
    kind: str = "group_start"


@dataclass(frozen=True)
class GroupEnd:
    kind: str = "group_end"


Shape = Rect | Text | Circle | Line | Path | Icon | GroupStart | GroupEnd


@dataclass
class Canvas:
    shapes: list[Shape] = field(default_factory=list)

    def add(self, shape: Shape) -> None:
        self.shapes.append(shape)

    def text(
        self,
        x: float,
        top: float,
        lines: list[str],
        size: float,
        *,
        fill: str = TEXT,
        weight: int = 400,
        line_height: float | None = None,
        anchor: str = "start",
        italic: bool = False,
        spacing: float = 0,
    ) -> float:
        """Draw ``lines`` with their box's top at ``top``; returns the box's height."""
        height = line_height or round(size * 1.4, 1)
        if lines:
            baseline = top + (height - size) / 2 + size * 0.8
            self.add(
                Text(x, baseline, tuple(lines), size, fill, weight, height, anchor, italic, spacing)
            )
        return height * len(lines)

    def badge(self, x: float, top: float, label: str, fill: str, color: str) -> float:
        """A small rounded number badge; returns its width."""
        width = max(17.0, text_width(label, 10, bold=True) + 8)
        self.add(Rect(x, top, width, 17, fill=fill, rx=5))
        self.add(Text(x + width / 2, top + 12.2, (label,), 10, color, 700, 17, "middle"))
        return width

    def dots(self, x: float, middle: float, value: int, color: str) -> float:
        for i in range(5):
            self.add(Circle(x + 3 + i * 8.5, middle, 3, fill=color if i < value else LINE))
        return 5 * 8.5

    def pill(
        self, x: float, top: float, label: str, *, fill: str, color: str, stroke: str = "none"
    ) -> float:
        width = text_width(label, 9.5, bold=True) + 14
        self.add(Rect(x, top, width, 17, fill=fill, stroke=stroke, rx=8.5))
        self.add(Text(x + width / 2, top + 12, (label,), 9.5, color, 700, 17, "middle"))
        return width

    def chip(self, x: float, top: float, department: DepartmentView) -> float:
        width = text_width(department.name, 11.5, bold=True) + 29
        self.add(
            Rect(
                x,
                top,
                width,
                22,
                fill=department.background,
                stroke=department.border,
                rx=11,
            )
        )
        self.add(Circle(x + 11.5, top + 11, 3.5, fill=department.color))
        self.add(Text(x + 20, top + 15, (department.name,), 11.5, department.text_color, 600))
        return width

    def evidence(self, cx: float, cy: float, level: str) -> None:
        if level == "assumed":
            self.add(
                Circle(cx, cy, 4.5, fill="#ffffff", stroke=FAINT, stroke_width=1.5, dash="2 1.6")
            )
        elif level == "researched":
            self.add(Circle(cx, cy, 4.5, fill="#ffffff", stroke=ACCENT, stroke_width=1.5))
            self.add(Path(f"M{cx} {cy - 4.5}A4.5 4.5 0 0 0 {cx} {cy + 4.5}z", fill=ACCENT))
        else:
            self.add(Circle(cx, cy, 4.5, fill=ACCENT, stroke=ACCENT, stroke_width=1.5))


def _upper(text: str) -> str:
    return text.upper()


# --- layout -----------------------------------------------------------------------------


class _Layout:
    def __init__(self, view: MapView) -> None:
        self.v = view
        self.t = view.t
        self.c = Canvas()
        self.columns = max(len(view.stages), 1)
        self.grid_width = LANE_WIDTH + COLUMN * self.columns
        self.width = self.grid_width + 2 * MARGIN
        self.plot = (0.0, 100.0)
        self.grid_box = (MARGIN, 0.0, self.grid_width, 0.0)

    # header ---------------------------------------------------------------------------

    def header(self, top: float) -> float:
        c, v = self.c, self.v
        x = MARGIN
        left_width = min(self.grid_width * 0.58, 820)
        y = top
        kind = _upper(v.kind_label)
        c.text(x, y, [kind], 11, fill=ACCENT, weight=600, spacing=0.8)
        status_x = x + text_width(kind, 11, bold=True) + len(kind) * 0.8 + 10
        c.pill(status_x, y - 1, _upper(v.status_label), fill="#eef2ff", color="#4338ca")
        y += 22
        y += c.text(x, y, wrap(v.title, left_width, 27, bold=True), 27, fill=INK, weight=700)
        if v.description:
            y += 6
            lines = wrap(v.description, left_width, 14)
            y += c.text(x, y, lines, 14, fill=SUBTLE, line_height=20)
        if v.goal:
            y += 10
            label = _upper(self.t["map.goal"])
            label_width = text_width(label, 10, bold=True) + 10
            lines = wrap(v.goal, left_width - label_width - 24, 13, bold=True)
            height = 18 * len(lines) + 14
            c.add(Rect(x, y, left_width, height, fill="#f5f7ff", rx=8))
            c.text(x + 12, y + 7, [label], 10, fill=ACCENT, weight=600, line_height=18)
            c.text(
                x + 12 + label_width, y + 7, lines, 13, fill="#312e81", weight=600, line_height=18
            )
            y += height
        left_bottom = y

        facts: list[tuple[str, str]] = []
        if v.owner:
            facts.append((self.t["map.owner"], v.owner))
        facts.append((self.t["map.version"], str(v.version)))
        if v.updated:
            facts.append((self.t["map.updated"], v.updated))
        if v.tags:
            facts.append((self.t["map.tags"], " · ".join(v.tags)))
        right = MARGIN + self.grid_width
        fx = right
        for label, value in reversed(facts):
            width = max(text_width(_upper(label), 10, bold=True), text_width(value, 13, bold=True))
            fx -= width
            c.text(fx, top, [_upper(label)], 10, fill=FAINT, weight=600, line_height=14)
            c.text(fx, top + 16, [value], 13, fill=TEXT, weight=600, line_height=18)
            fx -= 28
        return max(left_bottom, top + 36) - top

    # persona --------------------------------------------------------------------------

    def persona(self, p: PersonaView, top: float) -> float:
        c = self.c
        x0 = MARGIN
        id_width = 290.0
        blocks: list[tuple[str, list[tuple[str, object]]]] = []
        if p.backstory:
            blocks.append(("story", [(self.t["persona.backstory"], p.backstory)]))
        for key, values in (
            ("goals", p.goals),
            ("challenges", p.challenges),
            ("motivations", p.motivations),
        ):
            if values:
                blocks.append((key, [(self.t[f"persona.{key}"], list(values))]))
        tail: list[tuple[str, object]] = []
        if p.success:
            tail.append((self.t["persona.success"], p.success))
        if p.channels:
            tail.append((self.t["persona.preferred_channels"], p.channels))
        if tail:
            blocks.append(("success", tail))
        weights = [2 if key == "story" and p.long_story else 1 for key, _ in blocks]
        unit = (self.grid_width - id_width) / max(sum(weights), 1)
        starts = [x0 + id_width + unit * sum(weights[:i]) for i in range(len(blocks))]

        # First lay out into a scratch canvas to learn the height, then draw the card.
        scratch = Canvas()
        saved, self.c = self.c, scratch
        heights = [self._persona_identity(p, x0, top, id_width)]
        bullet_colors = {"goals": "#a5b4fc", "challenges": "#fca5a5", "motivations": "#fcd34d"}
        for index, (key, sections) in enumerate(blocks):
            width = unit * weights[index]
            heights.append(
                self._persona_block(sections, starts[index], top, width, bullet_colors.get(key))
            )
        self.c = saved
        height = max(heights)
        c.add(Rect(x0, top, self.grid_width, height, fill="#ffffff", stroke=LINE, rx=14))
        c.add(Path(self._left_rounded(x0, top, id_width, height, 14), fill="#f5f7ff"))
        for bx in starts:
            c.add(Line(bx, top + 1, bx, top + height - 1, stroke=LINE_SOFT))
        c.shapes.extend(scratch.shapes)
        c.add(Rect(x0, top, self.grid_width, height, stroke=LINE, rx=14))
        return height

    @staticmethod
    def _left_rounded(x: float, y: float, w: float, h: float, r: float) -> str:
        return (
            f"M{x + r} {y}H{x + w}V{y + h}H{x + r}A{r} {r} 0 0 1 {x} {y + h - r}"
            f"V{y + r}A{r} {r} 0 0 1 {x + r} {y}z"
        )

    def _persona_identity(self, p: PersonaView, x0: float, top: float, width: float) -> float:
        c = self.c
        x = x0 + 20
        y = top + 20
        c.add(Circle(x + 26, y + 26, 26, fill="#6d5ef3"))
        c.text(x + 26, y + 16, [p.initials], 18, fill="#ffffff", weight=700, anchor="middle")
        tx = x + 66
        text_w = width - 86
        ty = y + 2
        ty += c.text(tx, ty, [_upper(self.t["persona.title"])], 10, fill=FAINT, weight=600)
        ty += c.text(tx, ty, wrap(p.name, text_w, 18, bold=True), 18, fill=INK, weight=700)
        if p.role:
            ty += c.text(tx, ty, wrap(p.role, text_w, 13), 13, fill=SUBTLE, line_height=18)
        y = max(y + 56, ty) + 10
        if p.facts:
            fx = x
            for label, value in p.facts:
                w = max(text_width(_upper(label), 10, bold=True), text_width(value, 12, bold=True))
                if fx + w > x0 + width - 20 and fx > x:
                    fx = x
                    y += 36
                c.text(fx, y, [_upper(label)], 10, fill=FAINT, weight=600, line_height=14)
                c.text(fx, y + 15, [value], 12, fill=TEXT, weight=600, line_height=16)
                fx += w + 18
            y += 42
        if p.quote:
            lines = wrap(p.quote, width - 57, 13.5)
            height = c.text(x + 14, y, lines, 13.5, fill=BODY, italic=True, line_height=19)
            c.add(Rect(x, y + 2, 3, height - 2, fill="#a5b4fc", rx=1.5))
            y += height + 4
        return y + 16 - top

    def _persona_block(
        self,
        sections: list[tuple[str, object]],
        x0: float,
        top: float,
        width: float,
        bullet: str | None,
    ) -> float:
        c = self.c
        x = x0 + 20
        inner = width - 40
        y = top + 20
        for index, (title, content) in enumerate(sections):
            if index:
                y += 12
            y += c.text(x, y, [_upper(title)], 10, fill=FAINT, weight=600) + 6
            if isinstance(content, str):
                y += c.text(x, y, wrap(content, inner, 12.5), 12.5, fill=BODY, line_height=18)
            elif isinstance(content, tuple):
                y = self._channel_chips(content, x, y, inner)
            elif isinstance(content, list):
                for item in content:
                    lines = wrap(str(item), inner - 14, 12.5)
                    c.add(Circle(x + 4.5, y + 9, 2.5, fill=bullet or FAINT))
                    y += c.text(x + 14, y, lines, 12.5, fill=BODY, line_height=18) + 5
        return y + 16 - top

    def _channel_chips(
        self, channels: tuple[object, ...], x: float, y: float, width: float
    ) -> float:
        c = self.c
        cx = x
        for channel in channels:
            if not isinstance(channel, ChannelView):
                continue
            w = text_width(channel.label, 11.5, bold=True) + 32
            if cx + w > x + width and cx > x:
                cx = x
                y += 28
            c.add(Rect(cx, y, w, 22, fill="#f1f5f9", rx=11))
            c.add(Icon(cx + 7, y + 4, 14, channel.paths, ACCENT))
            c.text(cx + 25, y, [channel.label], 11.5, fill=BODY, weight=600, line_height=22)
            cx += w + 6
        return y + 22

    # grid -----------------------------------------------------------------------------

    def col_x(self, index: int) -> float:
        return MARGIN + LANE_WIDTH + index * COLUMN

    def stage_header(self, stages: tuple[StageView, ...], top: float) -> float:
        scratch = Canvas()
        saved, self.c = self.c, scratch
        height = 0.0
        for s in stages:
            height = max(height, self._stage(s, top))
        self.c = saved
        height = max(height, 90.0)
        for s in stages:
            x = self.col_x(s.index)
            self.c.add(Rect(x, top, COLUMN, height, fill=s.phase_background))
            self.c.add(Rect(x, top, COLUMN, 4, fill=s.phase_color))
            if s.index:
                self.c.add(Line(x, top + 4, x, top + height, stroke=LINE))
        self.c.shapes.extend(scratch.shapes)
        return height

    def _stage(self, s: StageView, top: float) -> float:
        c = self.c
        x = self.col_x(s.index) + 16
        inner = COLUMN - 32
        y = top + 16
        c.text(x, y, [f"{s.number:02d}"], 11, fill=s.phase_color, weight=700, line_height=17)
        if s.phase_label:
            label = _upper(s.phase_label)
            width = text_width(label, 9.5, bold=True) + 14
            c.pill(
                x + inner - width,
                y,
                label,
                fill="#ffffff",
                color=s.phase_color,
                stroke=s.phase_color,
            )
        y += 24
        y += c.text(
            x, y, wrap(s.name, inner, 16, bold=True), 16, fill=INK, weight=700, line_height=20
        )
        if s.description:
            y += 4
            y += c.text(x, y, wrap(s.description, inner, 12), 12, fill=SUBTLE, line_height=17)
        if s.goal:
            y += 8
            y += c.text(x, y, [_upper(self.t["stage.goal"])], 10, fill=FAINT, weight=600)
            y += c.text(x, y, wrap(s.goal, inner, 12), 12, fill=BODY, line_height=17)
        return y + 14 - top

    def lane(self, lane: LaneView, top: float, last: bool) -> float:
        if lane.kind == "emotion":
            height = EMOTION_HEIGHT
            body = Canvas()
            saved, self.c = self.c, body
            self._emotion(top)
            self.c = saved
        else:
            body = Canvas()
            saved, self.c = self.c, body
            height = 0.0
            for cell in lane.cells:
                height = max(height, self._cell(lane, cell, top))
            self.c = saved
            height = max(height, 52.0)
        c = self.c
        grid_right = MARGIN + self.grid_width
        if lane.kind == "touchpoints":
            c.add(Rect(self.col_x(0), top, COLUMN * self.columns, height, fill="#fbfcfd"))
        c.add(Rect(MARGIN, top, LANE_WIDTH, height, fill=SUNKEN))
        c.add(Line(MARGIN + LANE_WIDTH, top, MARGIN + LANE_WIDTH, top + height, stroke=LINE))
        if lane.kind != "emotion":
            for index in range(1, self.columns):
                x = self.col_x(index)
                c.add(Line(x, top, x, top + height, stroke=LINE_SOFT))
        title_lines = wrap(_upper(lane.title), LANE_WIDTH - 50, 11, bold=True)
        title_height = len(title_lines) * 15
        c.add(Rect(MARGIN + 16, top + 15, 3, title_height, fill=LANE_ACCENTS.get(lane.kind, MUTED)))
        c.text(
            MARGIN + 29,
            top + 15,
            title_lines,
            11,
            fill=SUBTLE,
            weight=700,
            line_height=15,
            spacing=0.6,
        )
        if lane.kind == "emotion":
            plot_height = EMOTION_HEIGHT - PLOT_TOP - PLOT_BOTTOM
            for e in self.v.emotion_scale:
                y = top + PLOT_TOP + (2 - e.score) / 4 * plot_height
                c.add(
                    Text(
                        MARGIN + LANE_WIDTH - 12,
                        y + 4,
                        (e.score_text,),
                        10.5,
                        e.color,
                        700,
                        0,
                        "end",
                    )
                )
        c.shapes.extend(body.shapes)
        if not last:
            c.add(Line(MARGIN, top + height, grid_right, top + height, stroke=LINE))
        return height

    def _cell(self, lane: LaneView, cell: Cell, top: float) -> float:
        x = self.col_x(cell.stage.index) + PAD
        width = COLUMN - 2 * PAD
        y = top + PAD
        kind = lane.kind
        if kind == "touchpoints":
            y = self._touchpoints(cell, x, y, width)
        elif kind in ("list", "custom"):
            y = self._items(lane, cell, x, y, width)
        elif kind == "pain_points":
            y = self._pains(cell, x, y, width)
        elif kind == "opportunities":
            y = self._opportunities(cell, x, y, width)
        elif kind == "departments":
            y = self._chips(cell.departments, x, y, width)
        elif kind == "kpis":
            y = self._kpis(cell, x, y, width)
        elif kind == "milestones":
            y = self._milestones(cell, x, y, width)
        return y - top + PAD

    def _touchpoints(self, cell: Cell, x: float, y: float, width: float) -> float:
        c = self.c
        stage = cell.stage
        for index, tp in enumerate(cell.touchpoints):
            if index:
                y += 8
            inner = width - 22
            scratch = Canvas()
            saved, self.c = self.c, scratch
            ty = y + 9
            scratch.add(Rect(x + 11, ty, 24, 24, fill=stage.phase_background, rx=7))
            scratch.add(Icon(x + 15.5, ty + 4.5, 15, tp.channel.paths, stage.phase_color))
            channel = _upper(tp.channel.label)
            while len(channel) > 1 and text_width(channel, 10, bold=True) > inner - 50:
                channel = channel[:-2] + "…"
            scratch.text(
                x + 42,
                ty,
                [channel],
                10,
                fill=stage.phase_color,
                weight=700,
                line_height=24,
                spacing=0.5,
            )
            scratch.evidence(x + width - 16, ty + 12, tp.evidence)
            ty += 30
            number = str(tp.number)
            badge = scratch.badge(x + 11, ty + 0.5, number, INK, "#ffffff")
            name_lines = wrap(tp.name, inner - badge - 6, 13, bold=True)
            ty += scratch.text(
                x + 11 + badge + 6, ty, name_lines, 13, fill=INK, weight=600, line_height=17
            )
            if tp.description:
                ty += 3
                ty += scratch.text(
                    x + 11, ty, wrap(tp.description, inner, 12), 12, fill=SUBTLE, line_height=17
                )
            meta = [" · ".join(tp.meta)] if tp.meta else []
            if tp.personas:
                meta.append(f"{self.t['touchpoint.personas']}: {', '.join(tp.personas)}")
            for text in meta:
                ty += 5
                ty += scratch.text(
                    x + 11,
                    ty,
                    wrap(text, inner, 10.5, bold=True),
                    10.5,
                    fill=MUTED,
                    weight=600,
                    line_height=15,
                )
            height = ty + 10 - y
            self.c = saved
            c.add(Rect(x, y + 1, width, height, fill="#e9edf3", rx=10))
            c.add(Rect(x, y, width, height, fill="#ffffff", stroke=LINE, rx=10))
            c.shapes.extend(scratch.shapes)
            y += height
        return y

    def _ref(self, ref: int | None, x: float, y: float) -> float:
        if ref is None:
            return 0
        return self.c.badge(x, y + 0.5, str(ref), LINE, BODY) + 6

    def _items(self, lane: LaneView, cell: Cell, x: float, y: float, width: float) -> float:
        c = self.c
        thoughts = lane.id == "thoughts"
        color = "#1e3a8a" if lane.id == "questions" else BODY
        weight = 500 if lane.id == "questions" else 400
        for index, item in enumerate(cell.items):
            if index:
                y += 6
            if thoughts:
                indent = 0.0 if item.ref is None else 23.0
                lines = wrap(item.text, width - 20 - indent, 12.5)
                height = len(lines) * 18 + 12
                c.add(Rect(x, y, width, height, fill="#f1f5f9", rx=10))
                self._ref(item.ref, x + 10, y + 6)
                c.text(x + 10 + indent, y + 6, lines, 12.5, fill=BODY, italic=True, line_height=18)
                y += height
                continue
            if item.ref is None and lane.kind == "list":
                c.add(Circle(x + 5.5, y + 9, 2.5, fill=FAINT))
                indent = 17.0
            else:
                indent = self._ref(item.ref, x, y)
            lines = wrap(item.text, width - indent, 12.5)
            y += c.text(x + indent, y, lines, 12.5, fill=color, weight=weight, line_height=18)
        return y

    def _meter(self, x: float, y: float, label: str, value: int, color: str) -> float:
        text = _upper(label)
        self.c.text(x, y, [text], 9.5, fill=MUTED, weight=600, line_height=14, spacing=0.4)
        offset = text_width(text, 9.5, bold=True) + len(text) * 0.4 + 6
        return offset + self.c.dots(x + offset, y + 7, value, color)

    def _pains(self, cell: Cell, x: float, y: float, width: float) -> float:
        c = self.c
        for index, pain in enumerate(cell.pains):
            if index:
                y += 8
            scratch = Canvas()
            saved, self.c = self.c, scratch
            indent = self._ref(pain.ref, x + 11, y + 8)
            lines = wrap(pain.text, width - 21 - indent, 12.5)
            ty = (
                y + 8 + scratch.text(x + 11 + indent, y + 8, lines, 12.5, fill=TEXT, line_height=18)
            )
            ty += 5
            self._meter(x + 11, ty, self.t["pain.severity"], pain.severity, pain.color)
            ty += 14 + 8
            self.c = saved
            self._accent_card(x, y, width, ty - y, "#fff7f5", pain.color)
            c.shapes.extend(scratch.shapes)
            y = ty
        return y

    def _accent_card(self, x: float, y: float, w: float, h: float, fill: str, accent: str) -> None:
        """A rounded card with a 3px coloured left edge, like CSS ``border-left``."""
        self.c.add(Rect(x, y, w, h, fill=fill, rx=8))
        r = min(8.0, h / 2)
        d = (
            f"M{number(x + r)} {number(y)}A{number(r)} {number(r)} 0 0 0 {number(x)} {number(y + r)}"
            f"V{number(y + h - r)}A{number(r)} {number(r)} 0 0 0 {number(x + r)} {number(y + h)}"
            f"A{number(r - 3)} {number(r)} 0 0 1 {number(x + 3)} {number(y + h - r)}"
            f"V{number(y + r)}A{number(r - 3)} {number(r)} 0 0 1 {number(x + r)} {number(y)}z"
        )
        self.c.add(Path(d, fill=accent))

    def _opportunities(self, cell: Cell, x: float, y: float, width: float) -> float:
        c = self.c
        for index, o in enumerate(cell.opportunities):
            if index:
                y += 8
            scratch = Canvas()
            saved, self.c = self.c, scratch
            indent = self._ref(o.ref, x + 11, y + 8)
            lines = wrap(o.text, width - 21 - indent, 12.5)
            ty = (
                y + 8 + scratch.text(x + 11 + indent, y + 8, lines, 12.5, fill=TEXT, line_height=18)
            )
            ty += 5
            used = self._meter(x + 11, ty, self.t["opportunity.impact"], o.impact, "#16a34a")
            effort_label = _upper(self.t["opportunity.effort"])
            effort_width = text_width(effort_label, 9.5, bold=True) + 6 + 5 * 8.5 + 12
            if 11 + used + 12 + effort_width <= width - 8:
                self._meter(x + 11 + used + 12, ty, self.t["opportunity.effort"], o.effort, MUTED)
            else:
                ty += 16
                self._meter(x + 11, ty, self.t["opportunity.effort"], o.effort, MUTED)
            ty += 14
            if o.quick_win:
                label = _upper(self.t["opportunity.quick_win"])
                pill = text_width(label, 9.5, bold=True) + 14
                ty += 4
                scratch.pill(x + width - 8 - pill, ty, label, fill="#16a34a", color="#ffffff")
                ty += 17
            ty += 8
            self.c = saved
            self._accent_card(x, y, width, ty - y, "#f3fbf5", "#16a34a")
            c.shapes.extend(scratch.shapes)
            y = ty
        return y

    def _chips(
        self, departments: tuple[DepartmentView, ...], x: float, y: float, width: float
    ) -> float:
        if not departments:
            return y
        cx = x
        for department in departments:
            w = text_width(department.name, 11.5, bold=True) + 29
            if cx + w > x + width and cx > x:
                cx = x
                y += 28
            self.c.chip(cx, y, department)
            cx += w + 6
        return y + 22

    def _kpis(self, cell: Cell, x: float, y: float, width: float) -> float:
        c = self.c
        for index, k in enumerate(cell.kpis):
            if index:
                y += 6
                c.add(Line(x, y, x + width, y, stroke=LINE, dash="3 3"))
                y += 7
            target_width = 0.0
            if k.target is not None:
                arrow = {"higher": "↑ ", "lower": "↓ "}.get(k.direction or "", "")
                label = arrow + k.target
                target_width = text_width(label, 12, bold=True) + 14
                c.add(Rect(x + width - target_width, y, target_width, 19, fill="#f5f3ff", rx=6))
                c.text(
                    x + width - target_width / 2,
                    y,
                    [label],
                    12,
                    fill="#5b21b6",
                    weight=700,
                    line_height=19,
                    anchor="middle",
                )
            indent = self._ref(k.ref, x, y + 1)
            lines = wrap(k.name, width - indent - target_width - 8, 12.5, bold=True)
            y += max(
                c.text(x + indent, y + 1, lines, 12.5, fill=TEXT, weight=600, line_height=18), 19
            )
            if k.note:
                y += c.text(x, y, wrap(k.note, width, 11.5), 11.5, fill=MUTED, line_height=16)
        return y

    def _milestones(self, cell: Cell, x: float, y: float, width: float) -> float:
        c = self.c
        for index, ms in enumerate(cell.milestones):
            if index:
                y += 8
            c.add(Icon(x, y + 1, 16, FLAG, "#ca8a04"))
            inner = width - 24
            y += c.text(
                x + 24,
                y,
                wrap(ms.name, inner, 12.5, bold=True),
                12.5,
                fill=TEXT,
                weight=600,
                line_height=18,
            )
            if ms.within:
                y += c.text(x + 24, y, [ms.within], 11, fill="#a16207", weight=600, line_height=16)
            if ms.description:
                y += c.text(
                    x + 24, y, wrap(ms.description, inner, 11.5), 11.5, fill=MUTED, line_height=16
                )
        return y

    def _emotion(self, top: float) -> None:
        c = self.c
        left = self.col_x(0)
        width = COLUMN * self.columns
        plot_top = top + PLOT_TOP
        plot_height = EMOTION_HEIGHT - PLOT_TOP - PLOT_BOTTOM
        self.plot = (plot_top, plot_top + plot_height)
        middle = plot_top + plot_height / 2
        c.add(Rect(left, plot_top, width, plot_height / 2, fill="#f2f9f4"))
        c.add(Rect(left, middle, width, plot_height / 2, fill="#fdf3f2"))
        for index in range(1, self.columns):
            x = self.col_x(index)
            c.add(Line(x, top, x, top + EMOTION_HEIGHT, stroke=LINE_SOFT))
        c.add(Line(left, middle, left + width, middle, stroke="#cbd5e1", dash="4 4"))
        points = [(left + p.x * width, plot_top + p.y * plot_height) for p in self.v.emotion_points]
        if points:
            c.add(Path(curve_path(points), stroke="url(#jn-emotion-gradient)", stroke_width=3))
        for p, (px, py) in zip(self.v.emotion_points, points, strict=True):
            c.add(Circle(px, py + 1, 11.5, fill=INK, opacity=0.15))
            c.add(Circle(px, py, 11, fill=p.emotion.color, stroke="#ffffff", stroke_width=2))
            c.add(Text(px, py + 3.6, (str(p.number),), 10, "#ffffff", 700, 0, "middle"))
            label_width = max(p.slot * width, 104) - 8
            lines = wrap(p.emotion.label, label_width - 4, 11, bold=True)
            height = len(lines) * 14 + 2
            box_width = max(text_width(line, 11, bold=True) for line in lines) + 10
            ly = py - 14 - height if p.above else py + 14
            c.add(
                Rect(px - box_width / 2, ly, box_width, height, fill="#ffffff", rx=5, opacity=0.85)
            )
            c.text(px, ly + 1, lines, 11, fill=BODY, weight=600, line_height=14, anchor="middle")

    # legend ---------------------------------------------------------------------------

    def legend(self, top: float) -> float:
        c, v, t = self.c, self.v, self.t
        groups: list[tuple[str, list[tuple[str, object, str]]]] = []
        if "emotion" in v.lane_ids:
            groups.append(
                (
                    t["emotion.title"],
                    [("dot", e.color, f"{e.score_text} {e.label}") for e in v.emotion_scale],
                )
            )
        if "touchpoints" in v.lane_ids:
            groups.append(
                (
                    t["evidence.title"],
                    [
                        ("evidence", level, t[f"evidence.{level}"])
                        for level in ("assumed", "researched", "measured")
                    ],
                )
            )
        if "pain_points" in v.lane_ids:
            groups.append((t["lane.pain_points"], [("dots", "#ea7a35", t["pain.severity_scale"])]))
        if "opportunities" in v.lane_ids:
            groups.append(
                (
                    t["lane.opportunities"],
                    [
                        ("text", None, t["opportunity.scale"]),
                        (
                            "pill",
                            t["opportunity.quick_win"],
                            f"{t['opportunity.impact']} ≥ 4 · {t['opportunity.effort']} ≤ 2",
                        ),
                    ],
                )
            )
        if v.phases:
            groups.append(
                (t["phase.title"], [("dot", color, label) for _, label, color in v.phases])
            )
        if v.channels:
            groups.append((t["legend.channels"], [("icon", ch, ch.label) for ch in v.channels]))
        if v.departments and "departments" in v.lane_ids:
            groups.append((t["lane.departments"], [("chip", d, "") for d in v.departments]))
        if v.has_refs:
            groups.append((t["touchpoint.title"], [("ref", "1", t["legend.touchpoint_numbers"])]))

        inner_left = MARGIN + 18
        inner_right = MARGIN + self.grid_width - 18
        scratch = Canvas()
        saved, self.c = self.c, scratch
        y = top + 16
        y += (
            scratch.text(
                inner_left, y, [_upper(t["legend.title"])], 12, fill=SUBTLE, weight=700, spacing=0.6
            )
            + 6
        )
        gx = inner_left
        row_height = 0.0
        for title, entries in groups:
            width, height = self._legend_group(title, entries, gx, y, dry_run=True)
            if gx + width > inner_right and gx > inner_left:
                gx = inner_left
                y += row_height + 14
                row_height = 0
            self._legend_group(title, entries, gx, y, dry_run=False)
            gx += width + 36
            row_height = max(row_height, height)
        y += row_height + 16
        self.c = saved
        c.add(Rect(MARGIN, top, self.grid_width, y - top, fill=SUNKEN, stroke=LINE, rx=14))
        c.shapes.extend(scratch.shapes)
        credit = t["map.generated_by"]
        c.add(Text(inner_right, top + 28, (credit,), 10.5, FAINT, 400, 0, "end"))
        return y - top

    def _legend_group(
        self,
        title: str,
        entries: list[tuple[str, object, str]],
        x: float,
        y: float,
        *,
        dry_run: bool,
    ) -> tuple[float, float]:
        scratch = Canvas()
        saved, self.c = self.c, scratch
        max_width = 520.0
        scratch.text(x, y, [_upper(title)], 10, fill=FAINT, weight=600, line_height=14, spacing=0.8)
        title_width = text_width(_upper(title), 10, bold=True) + len(title) * 0.8
        ey = y + 20
        ex = x
        used = title_width
        for kind, data, label in entries:
            w = self._legend_entry(kind, data, label, ex, ey, measure=True)
            if ex + w > x + max_width and ex > x:
                ex = x
                ey += 22
            self._legend_entry(kind, data, label, ex, ey, measure=False)
            ex += w + 14
            used = max(used, ex - x - 14)
        self.c = saved
        if not dry_run:
            self.c.shapes.extend(scratch.shapes)
        return used, ey + 20 - y

    def _legend_entry(
        self, kind: str, data: object, label: str, x: float, y: float, *, measure: bool
    ) -> float:
        c = self.c if not measure else Canvas()
        saved, self.c = self.c, c
        offset = 0.0
        middle = y + 9
        if kind == "dot" and isinstance(data, str):
            c.add(Circle(x + 5, middle, 5, fill=data))
            offset = 16
        elif kind == "evidence" and isinstance(data, str):
            c.evidence(x + 5, middle, data)
            offset = 16
        elif kind == "dots" and isinstance(data, str):
            offset = c.dots(x, middle, 3, data) + 8
        elif kind == "pill" and isinstance(data, str):
            offset = c.pill(x, y + 0.5, _upper(data), fill="#16a34a", color="#ffffff") + 6
        elif kind == "icon" and isinstance(data, ChannelView):
            c.add(Icon(x, y + 1, 16, data.paths, ACCENT))
            offset = 22
        elif kind == "chip" and isinstance(data, DepartmentView):
            offset = c.chip(x, y - 2, data)
        elif kind == "ref" and isinstance(data, str):
            offset = c.badge(x, y + 0.5, data, LINE, BODY) + 6
        if label:
            c.text(x + offset, y, [label], 11.5, fill=BODY, line_height=18)
            offset += text_width(label, 11.5)
        self.c = saved
        return offset

    # whole map ------------------------------------------------------------------------

    def build(self) -> tuple[float, float]:
        v = self.v
        y = MARGIN
        y += self.header(y) + 24
        for persona in v.personas:
            y += self.persona(persona, y) + 14
        if v.personas:
            y += 10
        if v.stages:
            grid_top = y
            body = Canvas()
            saved, self.c = self.c, body
            y += self.stage_header(v.stages, y)
            self.c.add(Rect(MARGIN, grid_top, LANE_WIDTH, y - grid_top, fill=SUNKEN))
            self.c.add(Line(MARGIN, y, MARGIN + self.grid_width, y, stroke=LINE))
            self.c.add(Line(MARGIN + LANE_WIDTH, grid_top, MARGIN + LANE_WIDTH, y, stroke=LINE))
            corner = [f"{_upper(v.t['map.stages'])} →", f"{_upper(v.t['map.lanes'])} ↓"]
            self.c.text(
                MARGIN + 16, y - 44, corner, 10, fill=FAINT, weight=600, line_height=15, spacing=0.8
            )
            for index, lane in enumerate(v.lanes):
                y += self.lane(lane, y, last=index == len(v.lanes) - 1)
            self.c = saved
            self.c.add(Rect(MARGIN, grid_top, self.grid_width, y - grid_top, fill="#ffffff", rx=14))
            self.c.add(GroupStart("jn-grid-clip"))
            self.c.shapes.extend(body.shapes)
            self.c.add(GroupEnd())
            self.grid_box = (MARGIN, grid_top, self.grid_width, y - grid_top)
            self.c.add(Rect(MARGIN, grid_top, self.grid_width, y - grid_top, stroke=LINE, rx=14))
        else:
            self.grid_box = (MARGIN, y, self.grid_width, 0)
            height = 80.0
            self.c.add(Rect(MARGIN, y, self.grid_width, height, stroke=LINE, rx=14, dash="4 4"))
            self.c.text(
                MARGIN + self.grid_width / 2,
                y + 30,
                [v.t["map.empty"]],
                13,
                fill=MUTED,
                anchor="middle",
            )
            y += height
        if v.stages:
            y += 20
            y += self.legend(y)
        return self.width, y + MARGIN


def render_svg(journey: Journey, *, language: Language | None = None) -> str:
    """A standalone SVG drawing of the map (layout computed here, text wrapped, the emotion
    curve as a path through its points). ``language`` defaults to the map's own."""
    view = build_view(journey, language)
    layout = _Layout(view)
    width, height = layout.build()
    return (
        environment()
        .get_template("map.svg.j2")
        .render(
            m=view,
            t=view.t,
            width=width,
            height=height,
            shapes=layout.c.shapes,
            grid=layout.grid_box,
            plot=layout.plot,
            font=FONT,
        )
    )
