"""The maps of the workspace: the list, one map's page, its JSON twin and its downloads.

=========================  ===============================================
``GET /``                  the list of maps (invalid files listed with their problems)
``GET /maps.json``         the same list as JSON
``GET /maps/{id}``         the map page: header, downloads, the rendered map
``GET /maps/{id}.json``    ``{"id", "map", "problems", ...}``
``GET /maps/{id}.yaml``    downloads: ``.yaml``, ``.svg``, ``.mmd`` (Mermaid),
                           ``.html`` (standalone page)
``GET /static/map.css``    the stylesheet of the rendered map (public)
``GET /maps/new``          the editor's template gallery (editors; drawn by
                           :mod:`jornada.web.routes.editor`)
=========================  ===============================================

Everything but the stylesheet needs a role on the workspace (viewer or more).

Each page's data comes from one function (:func:`maps_data`, :func:`map_data`) that the
HTML page and its ``.json`` twin share.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import TypeAdapter, ValidationError

from jornada import render
from jornada.model import Journey
from jornada.model._base import Identifier
from jornada.model.io import dumps_journey
from jornada.model.problems import Problem
from jornada.model.validation import validate_file
from jornada.web.auth import Access, guard
from jornada.web.pages import page_language, render_page, translator, workspace_of
from jornada.web.routes import READ
from jornada.workspace import MapEntry, Workspace, WorkspaceError

__all__ = ["is_map_id", "map_data", "maps_data", "router"]

router = APIRouter()

VIEWER = [guard(Access.VIEWER)]

_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


@dataclass(frozen=True)
class Download:
    """A format a map can be downloaded in."""

    label: str
    media_type: str
    render: Callable[[Journey], str]


DOWNLOADS: dict[str, Download] = {
    "yaml": Download("YAML", "application/yaml; charset=utf-8", dumps_journey),
    "svg": Download("SVG", "image/svg+xml; charset=utf-8", render.render_svg),
    "mmd": Download("Mermaid", "text/plain; charset=utf-8", render.render_mermaid),
    "html": Download("HTML", "text/html; charset=utf-8", render.render_html),
}
FORMATS = ("json", *DOWNLOADS)


def is_map_id(text: str) -> bool:
    """Whether ``text`` is a well-formed map id (the model's id pattern).

    >>> is_map_id("shop-2024"), is_map_id("../etc"), is_map_id("<script>")
    (True, False, False)
    """
    try:
        _IDENTIFIER.validate_python(text)
    except ValidationError:
        return False
    return True


# --- data shared by the pages and their JSON twins ---------------------------------------


def _problem_data(problem: Problem, path: Path) -> dict[str, object]:
    """A problem as data, naming the file by its name only (no server paths)."""
    full = str(path)

    def hide(text: str | None) -> str | None:
        return text.replace(full, path.name) if text else text

    shown = Problem(
        path.name, problem.line, problem.path, hide(problem.message) or "", hide(problem.hint)
    )
    return {**shown.to_dict(), "text": str(shown)}


def _entry_problems(entry: MapEntry) -> list[dict[str, object]]:
    problems = [_problem_data(problem, entry.path) for problem in entry.report.problems]
    if not is_map_id(entry.id):
        problem = Problem(
            entry.path.name,
            None,
            "",
            "the file name cannot be used as a map id",
            "rename the file: ids use letters, digits, '_', '-' or '.', "
            "start with a letter or digit, max 64",
        )
        problems.insert(0, _problem_data(problem, entry.path))
    return problems


def _summary(journey: Journey) -> dict[str, object]:
    return {
        "title": journey.title,
        "kind": journey.kind,
        "status": journey.status,
        "language": journey.language,
        "stages": len(journey.stages),
        "touchpoints": sum(len(stage.touchpoints) for stage in journey.stages),
    }


def _header(journey: Journey) -> dict[str, object]:
    """What the map page's header shows, beyond the list's summary."""
    return {
        **_summary(journey),
        "description": journey.description,
        "goal": journey.goal,
        "owner": journey.owner,
        "updated": journey.updated.isoformat() if journey.updated else None,
        "version": journey.version,
        "tags": list(journey.tags),
    }


def _entry_data(entry: MapEntry) -> dict[str, object]:
    problems = _entry_problems(entry)
    journey = entry.journey
    summary: dict[str, object] = (
        _summary(journey)
        if journey is not None
        else dict.fromkeys(("kind", "status", "language", "stages", "touchpoints"))
        | {"title": entry.path.name}
    )
    linkable = is_map_id(entry.id)
    return {
        "id": entry.id,
        "file": entry.path.name,
        "valid": not problems,
        **summary,
        "url": f"/maps/{entry.id}" if linkable else None,
        "json_url": f"/maps/{entry.id}.json" if linkable else None,
        "problems": problems,
    }


def maps_data(workspace: Workspace) -> dict[str, Any]:
    """The list of maps: every map file, valid or not, with what the list page shows."""
    maps = [_entry_data(entry) for entry in workspace.list_maps()]
    return {
        "workspace": {"name": workspace.settings.name, "language": workspace.settings.language},
        "maps": maps,
        "count": len(maps),
        "invalid": sum(1 for item in maps if not item["valid"]),
    }


def map_data(entry: MapEntry) -> dict[str, Any]:
    """One map: its data as JSON (the map file's content), its problems and downloads."""
    journey = entry.journey
    formats = FORMATS if journey is not None else ("json",)  # no downloads of a broken map
    return {
        "id": entry.id,
        "file": entry.path.name,
        "valid": journey is not None,
        "summary": _header(journey) if journey is not None else None,
        "map": json.loads(dumps_journey(journey, format="json")) if journey else None,
        "problems": _entry_problems(entry),
        "downloads": {fmt: f"/maps/{entry.id}.{fmt}" for fmt in formats},
    }


# --- routes ------------------------------------------------------------------------------


@router.api_route("/", methods=READ, dependencies=VIEWER)
def index(request: Request) -> Response:
    data = maps_data(workspace_of(request))
    return render_page(request, "maps/index.html", {"data": data}, json_url="/maps.json")


@router.api_route("/maps.json", methods=READ, dependencies=VIEWER)
def index_json(request: Request) -> Response:
    return JSONResponse(maps_data(workspace_of(request)))


@router.api_route("/maps", methods=READ, dependencies=VIEWER)
def maps_redirect() -> Response:
    return RedirectResponse("/", status_code=307)


@router.api_route("/static/map.css", methods=READ, dependencies=[guard(Access.PUBLIC)])
def map_css() -> Response:
    return Response(render.map_stylesheet(), media_type="text/css; charset=utf-8")


@router.api_route("/maps/new", methods=READ, dependencies=[guard(Access.EDITOR)])
def new_map(request: Request) -> Response:
    """The template gallery of the editor (declared here: before ``/maps/{name}``)."""
    from jornada.web.routes.editor import gallery_page  # the editor imports this module

    return gallery_page(request)


def _split(name: str, workspace: Workspace) -> tuple[str, str | None]:
    """``shop.json`` -> (``shop``, ``json``). A format suffix wins, unless only the whole
    name is a map (ids may contain dots)."""
    stem, dot, suffix = name.rpartition(".")
    if not dot or suffix not in FORMATS:
        return name, None
    known = {path.stem for path in workspace.map_files()}
    if stem not in known and name in known:
        return name, None
    return stem, suffix


def _find(request: Request, map_id: str) -> MapEntry:
    """The map ``map_id``, checked; 404 when the id is malformed or unknown."""
    t = translator(page_language(request))
    if not is_map_id(map_id):
        raise HTTPException(404, t("web.error.bad_map_id"))
    try:
        path = workspace_of(request).map_path(map_id)
    except WorkspaceError:  # its message names server paths: not for the client
        raise HTTPException(404, t("web.error.no_map", id=map_id)) from None
    return MapEntry(map_id, path, validate_file(path))


@router.api_route("/maps/{name}", methods=READ, dependencies=VIEWER)
def map_resource(request: Request, name: str) -> Response:
    """The map page, its ``.json`` twin, or a download, by the suffix of ``name``."""
    map_id, fmt = _split(name, workspace_of(request))
    entry = _find(request, map_id)
    data = map_data(entry)
    if fmt == "json":
        return JSONResponse(data)
    journey = entry.journey
    if fmt is None:
        fragment = Markup(render.render_map_fragment(journey)) if journey else None  # noqa: S704 - escaped by the renderer
        return render_page(
            request,
            "maps/map.html",
            {"data": data, "map_html": fragment, "formats": DOWNLOADS},
            json_url=data["downloads"]["json"],
        )
    if journey is None:
        t = translator(page_language(request))
        raise HTTPException(422, t("web.error.map_has_problems", id=map_id))
    download = DOWNLOADS[fmt]
    return Response(
        download.render(journey),
        media_type=download.media_type,
        headers={"Content-Disposition": f'attachment; filename="{map_id}.{fmt}"'},
    )
