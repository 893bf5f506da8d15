"""The living map drawn: the designed grid with each cell's measures, evidence, KPIs and
findings, and the designed and measured emotion curves side by side (inline SVG).

:func:`render_living_fragment` gives one ``<div class="jl-living">`` to embed in a page
that includes :func:`living_stylesheet` (the report does this);
:func:`render_living_html` a standalone page (CSS inlined, no scripts, nothing fetched);
:func:`write_living` writes ``.html``, ``.pdf`` (A3 landscape) or ``.png`` (headless
Chromium, as the map renderer does). Text from the map is always escaped (Jinja2 with
autoescaping on). Labels come from :mod:`jornada.i18n` (keys ``living.*``); numbers,
percentages and dates are written as readers of the language write them.

>>> print(format_percent(0.1234, "pt-BR"), format_percent(0.5, "es"), format_count(12345, "en"))
12,3% 50 % 12,345
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from jornada.analytics.kpis import KpiValue
from jornada.errors import JornadaError
from jornada.events.filters import EventScope
from jornada.i18n import translate
from jornada.living.overlay import Finding, LivingMap, LivingStage, LivingTouchpoint
from jornada.living.sentiment import EmotionMeasure
from jornada.model import Language
from jornada.render import html_to_pdf, html_to_png

__all__ = [
    "LIVING_SUFFIXES",
    "LivingRenderError",
    "finding_text",
    "format_count",
    "format_date",
    "format_decimal",
    "format_percent",
    "format_seconds",
    "living_stylesheet",
    "render_living_fragment",
    "render_living_html",
    "scope_text",
    "write_living",
]

LIVING_SUFFIXES: Final = (".html", ".pdf", ".png")
_SWAP: Final = str.maketrans(",.", ".,")
_MONTHS_EN: Final = (
    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()  # noqa: SIM905
)
SVG_WIDTH: Final = 1000
SVG_HEIGHT: Final = 220
_TOP: Final = 20
_UNIT: Final = 40  # SVG units per emotion point: +2..-2 spans 160 units.


class LivingRenderError(JornadaError):
    """The living map cannot be written where or how it was asked."""


# --- numbers and dates for a language ------------------------------------------------------


def format_decimal(value: float, language: Language, decimals: int = 1) -> str:
    """``value`` with ``decimals`` decimals and the language's separators.

    >>> format_decimal(1234.56, "en"), format_decimal(1234.56, "pt-BR", 2)
    ('1,234.6', '1.234,56')
    """
    text = f"{value:,.{decimals}f}"
    if text.startswith("-") and float(text.replace(",", "")) == 0:
        text = text[1:]
    return text if language == "en" else text.translate(_SWAP)


def format_count(value: float, language: Language) -> str:
    """A whole number with thousands separators (``12.345`` in pt-BR and es)."""
    return format_decimal(round(value), language, 0)


def format_percent(share: float | None, language: Language) -> str:
    """A share as a percentage with one decimal (Spanish puts a space before ``%``);
    an empty string for no value."""
    if share is None or math.isnan(share):
        return ""
    text = format_decimal(share * 100, language, 1)
    if text[-2:] in (".0", ",0"):
        text = text[:-2]
    return f"{text} %" if language == "es" else f"{text}%"


def format_seconds(seconds: float | None, language: Language) -> str:
    """A duration in the largest fitting unit (min, h, d) with one decimal.

    >>> format_seconds(5400, "pt-BR"), format_seconds(30, "en"), format_seconds(None, "es")
    ('1,5 h', '30 s', '')
    """
    if seconds is None or math.isnan(seconds):
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            text = format_decimal(seconds / size, language, 1)
            if text[-2:] in (".0", ",0"):
                text = text[:-2]
            return f"{text} {unit}"
    return f"{round(seconds)} s"


def format_date(day: dt.date | dt.datetime | None, language: Language) -> str:
    """A date: ``2 Mar 2026`` in English, ``02/03/2026`` in pt-BR and es.

    >>> format_date(dt.date(2026, 3, 2), "en"), format_date(dt.date(2026, 3, 2), "es")
    ('2 Mar 2026', '02/03/2026')
    """
    if day is None:
        return ""
    if language == "en":
        return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def _signed(value: float, language: Language) -> str:
    text = format_decimal(value, language, 1)
    return text if text.startswith("-") else f"+{text}"


def _kpi_value(value: float | None, unit: str, language: Language) -> str:
    if value is None or math.isnan(value):
        return "–"
    if unit == "ratio" and 0 <= value <= 1:
        return format_percent(value, language)
    if unit == "seconds":
        return format_seconds(value, language)
    if unit == "count":
        return format_count(value, language)
    return format_decimal(value, language, 2)


# --- the view: every text the template shows, already formatted -----------------------------


@dataclass(frozen=True)
class _Measure:
    label: str
    value: str
    key: str


@dataclass(frozen=True)
class _Kpi:
    name: str
    value: str
    target: str
    status: str
    status_label: str


@dataclass(frozen=True)
class _FindingView:
    kind: str
    kind_label: str
    severity: int
    text: str
    where: str
    stage_id: str
    touchpoint_id: str | None


@dataclass(frozen=True)
class _Cell:
    id: str
    name: str
    evidence: str
    evidence_label: str
    sample: str
    measures: tuple[_Measure, ...]
    designed_emotion: str
    measured_emotion: str
    kpis: tuple[_Kpi, ...]
    findings: tuple[_FindingView, ...]
    flagged: bool


@dataclass(frozen=True)
class _Column:
    id: str
    name: str
    measures: tuple[_Measure, ...]
    milestones: tuple[_Measure, ...]
    kpis: tuple[_Kpi, ...]
    cells: tuple[_Cell, ...]


@dataclass(frozen=True)
class _Point:
    x: float
    y: float
    low: float | None = None
    high: float | None = None
    title: str = ""


@dataclass(frozen=True)
class _Curve:
    designed: tuple[_Point, ...]
    measured: tuple[_Point, ...]
    stage_lines: tuple[float, ...]
    labels: tuple[_Point, ...]


def _t(language: Language) -> Callable[..., str]:
    def t(key: str, **values: Any) -> str:
        text = translate(f"living.{key}", language)
        return text.format(**values) if values else text

    return t


def scope_text(scope: EventScope, language: Language) -> str | None:
    """What a scoped result measured, in ``language`` (None when it measured everything).

    >>> scope = EventScope(dt.date(2026, 1, 1), dt.date(2026, 3, 31), ("app", "web"),
    ...                    "properties.plan = 'pro'")
    >>> scope_text(scope, "pt-BR")
    "Medido em: 01/01/2026 a 31/03/2026 · canais app, web · clientes com um evento que atende a properties.plan = 'pro'"
    >>> scope_text(EventScope(date_to=dt.date(2026, 3, 31)), "en")
    'Measured on: until 31 Mar 2026'
    """
    if scope.everything:
        return None
    t = _t(language)
    start, end = format_date(scope.date_from, language), format_date(scope.date_to, language)
    parts = []
    if scope.date_from and scope.date_to:
        parts.append(t("scope.period", start=start, end=end))
    elif scope.date_from:
        parts.append(t("scope.since", start=start))
    elif scope.date_to:
        parts.append(t("scope.until", end=end))
    if scope.channels:
        parts.append(t("scope.channels", channels=", ".join(scope.channels)))
    if scope.segment:
        parts.append(t("scope.segment", rule=scope.segment))
    return t("scope", scope=" · ".join(parts))


def finding_text(finding: Finding, living: LivingMap, language: Language) -> str:
    """The finding in ``language`` from its numbers (the English message otherwise)."""
    t = _t(language)
    name = _place(finding, living)
    n = finding.numbers
    try:
        if finding.kind == "unreached":
            return t("finding.unreached.text", name=name)
        if finding.kind == "emotion_contradiction":
            return t(
                "finding.emotion_contradiction.text",
                name=name,
                designed=_signed(float(n["designed"]), language),
                measured=_signed(float(n["measured"]), language),
                responses=format_count(n["responses"], language),
            )
        if finding.kind == "negative_emotion":
            return t(
                "finding.negative_emotion.text",
                name=name,
                measured=_signed(float(n["measured"]), language),
                responses=format_count(n["responses"], language),
            )
        if finding.kind == "journeys_end_here":
            return t(
                "finding.journeys_end_here.text",
                name=name,
                rate=format_percent(n["rate"], language),
                typical=format_percent(n["typical"], language),
                customers=format_count(n["stopped"], language),
            )
        if finding.kind == "bad_period":
            return t(
                "finding.bad_period.text",
                name=name,
                start=format_date(dt.date.fromisoformat(n["period_start"]), language),
                rate=format_percent(n["rate"], language),
                other=format_percent(n["other_rate"], language),
                lost=format_count(finding.customers, language),
            )
    except (KeyError, TypeError, ValueError):
        pass
    return finding.message


def _place(finding: Finding, living: LivingMap) -> str:
    for stage in living.stages:
        if finding.touchpoint_id is None and stage.stage_id == finding.stage_id:
            return stage.name
        for tp in stage.touchpoints:
            if tp.touchpoint_id == finding.touchpoint_id:
                return tp.name
    return finding.touchpoint_id or finding.stage_id


def _finding_view(finding: Finding, living: LivingMap, language: Language) -> _FindingView:
    t = _t(language)
    stage_name = next((s.name for s in living.stages if s.stage_id == finding.stage_id), "")
    return _FindingView(
        kind=finding.kind,
        kind_label=t(f"finding.{finding.kind}"),
        severity=finding.severity,
        text=finding_text(finding, living, language),
        where=stage_name,
        stage_id=finding.stage_id,
        touchpoint_id=finding.touchpoint_id,
    )


def _kpis(rows: Sequence[KpiValue], language: Language) -> tuple[_Kpi, ...]:
    return tuple(
        _Kpi(
            name=row.name,
            value=_kpi_value(row.value, row.unit, language),
            target="" if row.target is None else _kpi_value(row.target, row.unit, language),
            status=row.status or "none",
            status_label=translate(f"kpi.status.{row.status}", language) if row.status else "",
        )
        for row in rows
    )


def _emotion_text(emotion: EmotionMeasure | None, language: Language) -> str:
    if emotion is None or emotion.emotion is None:
        return ""
    t = _t(language)
    text = _signed(emotion.emotion, language)
    if not math.isnan(emotion.low) and not math.isnan(emotion.high):
        low, high = _signed(emotion.low, language), _signed(emotion.high, language)
        text += f" [{low}; {high}]"
    return f"{text} · {t('sample', n=format_count(emotion.responses, language))}"


def _cell(tp: LivingTouchpoint, living: LivingMap, language: Language) -> _Cell:
    t = _t(language)
    m = tp.measures
    measures = [
        _Measure(t("customers"), format_count(m.customers, language), "customers"),
        _Measure(t("reach"), format_percent(m.reach, language), "reach"),
    ]
    if m.conversion_rate is not None:
        measures.append(
            _Measure(t("conversion"), format_percent(m.conversion_rate, language), "conversion")
        )
    ended = f"{format_count(m.exits, language)}"
    if m.lost is not None:
        ended += f" · {t('lost', n=format_count(m.lost, language))}"
    measures.append(_Measure(t("exits"), ended, "exits"))
    measures.append(
        _Measure(
            t("time_to_next"), format_seconds(m.median_seconds_to_next, language) or "–", "time"
        )
    )
    if tp.attributed_conversions is not None:
        credited = format_decimal(tp.attributed_conversions, language, 1)
        if tp.attributed_value is not None:
            credited += f" · {format_decimal(tp.attributed_value, language, 2)}"
        measures.append(_Measure(t("attributed"), credited, "attributed"))
    findings = tuple(_finding_view(f, living, language) for f in tp.findings)
    return _Cell(
        id=tp.touchpoint_id,
        name=tp.name,
        evidence=tp.evidence,
        evidence_label=translate(f"evidence.{tp.evidence}", language),
        sample=t("sample", n=format_count(m.customers, language)),
        measures=tuple(measures),
        designed_emotion="" if tp.designed_emotion is None else f"{tp.designed_emotion:+d}",
        measured_emotion=_emotion_text(tp.emotion, language),
        kpis=_kpis(tp.kpis, language),
        findings=findings,
        flagged=bool(findings),
    )


def _column(stage: LivingStage, living: LivingMap, language: Language) -> _Column:
    t = _t(language)
    s = stage.summary
    measures = [
        _Measure(t("reached"), format_count(s.reached, language), "reached"),
        _Measure(t("currently_in"), format_count(s.currently_in, language), "currently_in"),
    ]
    if s.conversion_to_next is not None:
        measures.append(
            _Measure(
                t("conversion_to_next"), format_percent(s.conversion_to_next, language), "next"
            )
        )
    measures.append(
        _Measure(t("dwell"), format_seconds(s.median_dwell_seconds, language) or "–", "dwell")
    )
    measures.append(_Measure(t("stalled"), format_count(s.stalled, language), "stalled"))
    milestones = tuple(
        _Measure(
            m.name,
            f"{format_count(m.reached, language)} / {format_count(m.entered, language)}",
            m.milestone_id,
        )
        for m in s.milestones
        if m.bound
    )
    return _Column(
        id=stage.stage_id,
        name=stage.name,
        measures=tuple(measures),
        milestones=milestones,
        kpis=_kpis(stage.kpis, language),
        cells=tuple(_cell(tp, living, language) for tp in stage.touchpoints),
    )


def _y(score: float) -> float:
    return _TOP + (2 - max(-2.0, min(2.0, score))) * _UNIT


def _curve(living: LivingMap, language: Language) -> _Curve:
    """Points per touchpoint: each stage an equal column, its touchpoints spread in it."""
    designed: list[_Point] = []
    measured: list[_Point] = []
    lines: list[float] = []
    labels: list[_Point] = []
    width = SVG_WIDTH / max(1, len(living.stages))
    for i, stage in enumerate(living.stages):
        if i:
            lines.append(round(i * width, 2))
        labels.append(_Point(round((i + 0.5) * width, 2), SVG_HEIGHT - 4, title=stage.name))
        count = max(1, len(stage.touchpoints))
        for j, tp in enumerate(stage.touchpoints):
            x = round(i * width + (j + 0.5) * width / count, 2)
            if tp.designed_emotion is not None:
                designed.append(
                    _Point(x, _y(tp.designed_emotion), title=f"{tp.name}: {tp.designed_emotion:+d}")
                )
            e = tp.emotion
            if e is not None and e.emotion is not None:
                bounded = not (math.isnan(e.low) or math.isnan(e.high))
                measured.append(
                    _Point(
                        x,
                        round(_y(e.emotion), 2),
                        round(_y(e.high), 2) if bounded else None,
                        round(_y(e.low), 2) if bounded else None,
                        f"{tp.name}: {_emotion_text(e, language)}",
                    )
                )
    return _Curve(tuple(designed), tuple(measured), tuple(lines), tuple(labels))


def _polyline(points: Sequence[_Point]) -> str:
    return " ".join(f"{p.x:g},{p.y:g}" for p in points)


def _context(living: LivingMap, language: Language) -> dict[str, Any]:
    t = _t(language)
    shape = living.conformance
    summary = [
        _Measure(t("customers"), format_count(living.total_customers, language), "customers"),
        _Measure(t("events"), format_count(living.total_events, language), "events"),
    ]
    if shape.customers:
        summary.append(
            _Measure(
                t("in_order"), format_percent(shape.in_order / shape.customers, language), "order"
            )
        )
    if shape.events:
        summary.append(
            _Measure(
                t("unmapped"),
                format_percent(shape.unmapped_events / shape.events, language),
                "unmapped",
            )
        )
    curve = _curve(living, language)
    return {
        "t": t,
        "language": language,
        "title": living.journey.title,
        "date_range": t(
            "date_range",
            start=format_date(living.first_seen, language),
            end=format_date(living.last_seen, language),
        )
        if living.first_seen and living.last_seen
        else t("no_data"),
        "scope": scope_text(living.scope, language),
        "conversion": living.conversion,
        "model": translate(f"living.model.{living.attribution_model}", language),
        "summary": summary,
        "findings": [_finding_view(f, living, language) for f in living.findings],
        "columns": [_column(stage, living, language) for stage in living.stages],
        "curve": curve,
        "designed_line": _polyline(curve.designed),
        "measured_line": _polyline(curve.measured),
        "scale": [(score, _y(score)) for score in (2, 1, 0, -1, -2)],
        "svg_width": SVG_WIDTH,
        "svg_height": SVG_HEIGHT,
        "stages": len(living.stages),
    }


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("jornada.living", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@cache
def living_stylesheet() -> str:
    """The CSS of the living map (every rule scoped to ``.jl-living`` / ``.jl-page``)."""
    return resources.files("jornada.living").joinpath("templates", "living.css").read_text("utf-8")


def render_living_fragment(living: LivingMap, *, language: Language = "en") -> str:
    """The living map as one ``<div class="jl-living">`` (no scripts, no inline styles) to
    embed in a page that includes :func:`living_stylesheet`."""
    return _environment().get_template("living.html.j2").render(_context(living, language))


def render_living_html(living: LivingMap, *, language: Language = "en") -> str:
    """A complete, self-contained HTML5 page of the living map: CSS inlined, no scripts,
    nothing fetched from anywhere."""
    fragment = Markup(render_living_fragment(living, language=language))  # noqa: S704
    stylesheet = Markup(living_stylesheet())  # noqa: S704
    return (
        _environment()
        .get_template("page.html.j2")
        .render(
            fragment=fragment,
            stylesheet=stylesheet,
            language=language,
            title=f"{_t(language)('title')}: {living.journey.title}",
        )
    )


# --- files -----------------------------------------------------------------------------------


def write_living(
    living: LivingMap, path: str | os.PathLike[str], *, language: Language = "en"
) -> Path:
    """Write the living map to ``path``: ``.html`` (standalone), ``.pdf`` (A3 landscape,
    shrunk to the page width) or ``.png`` (full page at 1440 px); return the path."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in LIVING_SUFFIXES:
        shown = repr(suffix) if suffix else "(no suffix)"
        raise LivingRenderError(
            f"cannot write {target.name!r}: unsupported format {shown}; "
            f"use one of {', '.join(LIVING_SUFFIXES)}"
        )
    html = render_living_html(living, language=language)
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".html":
        target.write_text(html, encoding="utf-8")
        return target
    if suffix == ".pdf":
        html_to_pdf(html, target)
    else:
        html_to_png(html, target)
    return target
