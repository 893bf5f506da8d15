"""The report as one HTML page: CSS and plotly.js inline, charts drawn from JSON embedded
in the page, nothing fetched from anywhere. Text is escaped by Jinja2 (autoescaping on);
only our own renderers' fragments and the figures' JSON go in as they are."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from jornada.living.render import living_stylesheet, scope_text
from jornada.report._format import cell, money
from jornada.report._parts import Section, Table
from jornada.report._sections import Texts

if TYPE_CHECKING:
    from jornada.report.build import Report

__all__ = ["render_report", "report_stylesheet"]


@dataclass(frozen=True)
class _Cell:
    text: str
    kind: str
    href: str | None = None


@dataclass(frozen=True)
class _Row:
    id: str | None
    cells: tuple[_Cell, ...]


@dataclass(frozen=True)
class _TableView:
    id: str
    caption: str
    columns: tuple[Any, ...]
    rows: tuple[_Row, ...]


@dataclass(frozen=True)
class _ChartView:
    id: str
    title: str
    json: Markup


@dataclass(frozen=True)
class _SectionView:
    id: str
    title: str
    intro: str
    notes: tuple[str, ...]
    claims: tuple[Any, ...]
    charts: tuple[_ChartView, ...]
    tables: tuple[_TableView, ...]
    fragment: Markup | None


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("jornada.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=True,
    )


@cache
def report_stylesheet() -> str:
    """The report's CSS followed by the living map's (the report embeds that map)."""
    own = resources.files("jornada.report").joinpath("templates", "report.css").read_text("utf-8")
    return own + "\n" + living_stylesheet()


@cache
def _plotly_js() -> str:
    script: str = get_plotlyjs()
    return script


def _script_json(data: str) -> Markup:
    """JSON safe inside a ``<script>`` element: no ``</`` can close it early."""
    return Markup(data.replace("</", "<\\/").replace("<!--", "<\\!--"))  # noqa: S704


def _table(table: Table, report: Report, links: dict[str, str]) -> _TableView:
    rows = []
    for index, values in enumerate(table.rows):
        row_id = table.row_id(index)
        cells = tuple(
            _Cell(
                cell(value, column.kind, report.language, currency=report.journey.currency),
                column.kind,
                links.get(row_id) if row_id and column.key in ("opportunity", "finding") else None,
            )
            for column, value in zip(table.columns, values, strict=True)
        )
        rows.append(_Row(row_id, cells))
    return _TableView(table.id, table.caption, table.columns, tuple(rows))


def _section(section: Section, report: Report) -> _SectionView:
    links = (
        {claim.id: claim.target for claim in section.claims}
        if section.id == "opportunities"
        else {}
    )
    return _SectionView(
        id=section.id,
        title=section.title,
        intro=section.intro,
        notes=section.notes,
        claims=section.claims,
        charts=tuple(
            _ChartView(chart.id, chart.title, _script_json(chart.figure.to_json()))
            for chart in section.charts
        ),
        tables=tuple(_table(table, report, links) for table in section.tables),
        fragment=Markup(section.fragment) if section.fragment else None,  # noqa: S704
    )


def _personas(report: Report) -> list[dict[str, Any]]:
    t = Texts(report.language)
    return [
        {
            "name": p.name,
            "role": p.role,
            "quote": p.quote,
            "backstory": p.backstory,
            "lists": [
                (t("persona.goals"), p.goals),
                (t("persona.challenges"), p.challenges),
                (t("persona.motivations"), p.motivations),
                (t("persona.channels"), p.preferred_channels),
            ],
        }
        for p in report.journey.personas
    ]


def render_report(report: Report) -> str:
    """The whole page (see the module)."""
    t = Texts(report.language)
    meta = t(
        "meta",
        generated=cell(report.generated.date(), "date", report.language),
        journey=report.journey.id,
    )
    context = {
        "language": report.language,
        "title": report.title,
        "meta": meta,
        "scope": scope_text(report.scope, report.language),
        "contents": t("contents"),
        "stylesheet": Markup(report_stylesheet()),  # noqa: S704
        "plotly_js": Markup(_plotly_js()),  # noqa: S704
        "sections": [_section(s, report) for s in report.sections],
        "personas": _personas(report),
        "goal": report.journey.goal,
        "goal_label": t("story.goal"),
        "separators": Markup(json.dumps(".," if report.language == "en" else ",.")),  # noqa: S704
        "money": money,
    }
    return _environment().get_template("report.html.j2").render(context)
