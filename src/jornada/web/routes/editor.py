"""The map editor: its JSON API, the editor page and the template gallery.

=================================================  ==========================================
``GET /api/maps/{id}``                             the map as JSON, its problems, its version
``PUT /api/maps/{id}``                             save (validated; a new version) — editor
``DELETE /api/maps/{id}``                          delete the map file (history kept) — editor
``POST /api/maps``                                 create from a template — editor
``POST /api/maps/import``                          create from an uploaded YAML/JSON — editor
``POST /api/maps/{id}/validate``                   check a map (JSON data or YAML/JSON text)
``GET /api/maps/{id}/versions``                    the versions, newest first
``GET /api/maps/{id}/versions/{n}``                one version (text and data)
``POST /api/maps/{id}/versions/{n}/restore``       make version n the current map — editor
``GET /api/maps/{id}/diff?from=&to=``              the changes between versions, in journey
                                                   terms (``to`` omitted: the current map)
``GET|POST /api/maps/{id}/comments``               comments pinned to cells
``POST /api/maps/{id}/comments/{c}/resolve``       resolve a comment — editor
``POST /api/maps/{id}/binding-preview``            events and customers an ``events:`` block
                                                   matches
``GET /maps/{id}/edit``                            the editor page — editor
``GET /maps/new`` (served by the maps router)      the template gallery — editor
``POST /maps/new``                                 the gallery's form: create, then edit
=================================================  ==========================================

Every save writes the map file with :meth:`Workspace.save_map` and stores its YAML text
as a version (author, time) in the app state. The first save of a map that has no
history yet first records the file as it was, so the original can always be restored.

Validation problems come back as ``422`` with ``problems``: each has the ``path`` of the
offending value in the map's JSON (``stages[1].touchpoints[0].emotion.score``), so the
editor can show it at the right cell.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Annotated, Any, cast

from fastapi import APIRouter, Body, File, Form, Query, Request, UploadFile
from fastapi import Path as InPath
from fastapi.responses import JSONResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import BaseModel, Field, ValidationError

from jornada import render
from jornada.accounts import AccountError, Principal
from jornada.accounts.history import (
    VersionInfo,
    add_comment,
    get_version,
    latest_version,
    list_comments,
    list_versions,
    resolve_comment,
    save_version,
)
from jornada.analytics.results import json_ready
from jornada.errors import JornadaError
from jornada.events.binding import binding_filter
from jornada.i18n import messages
from jornada.living.overlay import LivingMap, living_map
from jornada.model import EventBinding, Journey, Language, parse_language
from jornada.model.diff import diff_journeys
from jornada.model.io import MAX_MAP_BYTES, dumps_journey, parse_document
from jornada.model.problems import Problem
from jornada.model.templates import UnknownTemplateError, list_templates, load_template
from jornada.model.validation import ValidationReport, validate_document
from jornada.web.auth import Access, WebError, guard, state_of, workspace_key_of_app
from jornada.web.cache import ResultCache, app_cache, cache_key, engine_lock
from jornada.web.pages import page_language, render_page, translator, workspace_of
from jornada.web.routes import READ
from jornada.web.routes.dashboards import known_data_version
from jornada.web.routes.maps import is_map_id
from jornada.web.security import MAX_ID
from jornada.workspace import Workspace, WorkspaceError

__all__ = ["gallery_page", "measure_living_map", "router"]

router = APIRouter()

Viewer = Annotated[Principal, guard(Access.VIEWER)]
Editor = Annotated[Principal, guard(Access.EDITOR)]
VersionNumber = Annotated[int, InPath(ge=1, le=MAX_ID)]
CommentId = Annotated[int, InPath(ge=1, le=MAX_ID)]
MAX_BODY = MAX_MAP_BYTES
"""The largest request body the editor accepts (a map, as JSON or an upload)."""


# --- request bodies (documented in the OpenAPI schema) -------------------------------


class MapSave(BaseModel):
    """A map to save: its JSON data (the same shape as the map file)."""

    map: dict[str, Any]
    message: str = Field(default="", max_length=500, description="What changed, for the history.")
    base_version: int | None = Field(
        default=None,
        description="The version the edit started from; a newer saved version gives 409.",
    )


class MapCreate(BaseModel):
    """A new map started from a template."""

    template: str = Field(description="A template name, see GET /api/templates.")
    id: str = Field(description="The new map's id (its file name).")
    language: str = Field(default="en", description="en, pt-BR or es")
    title: str | None = Field(default=None, max_length=300)


class MapCheck(BaseModel):
    """A map to check: JSON ``map`` data, or YAML/JSON ``text``."""

    map: dict[str, Any] | None = None
    text: str | None = Field(default=None, max_length=MAX_MAP_BYTES)


class CommentNew(BaseModel):
    cell: str = Field(description="map, persona:ID, stage:ID or stage:ID/touchpoint:ID[/lane:ID]")
    body: str = Field(max_length=4000)


class BindingPreview(BaseModel):
    """An ``events:`` block of a touchpoint, stage or milestone."""

    events: dict[str, Any]


# --- helpers --------------------------------------------------------------------------


def _t(request: Request) -> Any:
    return translator(page_language(request))


def _error(request: Request, status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {"error": {"status": status, "code": code, "message": message}, **extra},
        status_code=status,
    )


def _check_size(request: Request) -> None:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY + 64 * 1024:
        raise WebError(413, "too_large", "web.editor.too_large", limit=MAX_BODY // (1024 * 1024))


def _map_path_or_404(request: Request, map_id: str) -> Any:
    if not is_map_id(map_id):
        raise WebError(404, "not_found", "web.error.bad_map_id")
    try:
        return workspace_of(request).map_path(map_id)
    except WorkspaceError:  # its message names server paths: not for the client
        raise WebError(404, "not_found", "web.error.no_map", id=map_id) from None


def _problems(report: ValidationReport | list[Problem]) -> list[dict[str, object]]:
    found = report.problems if isinstance(report, ValidationReport) else report
    return [
        {"path": problem.path, "message": problem.message, "hint": problem.hint}
        for problem in found
    ]


def _check_text(text: str, source: str = "map") -> ValidationReport:
    return validate_document(parse_document(text, source))


def _check_data(data: dict[str, Any]) -> ValidationReport:
    return _check_text(json.dumps(data, ensure_ascii=False), "map.json")


def _map_json(journey: Journey) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(dumps_journey(journey, format="json"))
    return data


def _key(request: Request) -> str:
    return workspace_key_of_app(request)


def _invalid(request: Request, report: ValidationReport | list[Problem]) -> JSONResponse:
    problems = _problems(report)
    message = _t(request)("web.editor.invalid_map", count=len(problems))
    return _error(request, 422, "invalid_map", message, problems=problems)


def _record_file_first(request: Request, map_id: str) -> None:
    """Before the first save of a map without history, keep the file as it was."""
    state, key = state_of(request), _key(request)
    if latest_version(state, key, map_id) is not None:
        return
    path = _map_path_or_404(request, map_id)
    text = path.read_text("utf-8")
    save_version(state, key, map_id, text, author=None, message="file before the first edit")


def _save(request: Request, journey: Journey, principal: Principal, message: str) -> VersionInfo:
    workspace = workspace_of(request)
    workspace.save_map(journey)
    return save_version(
        state_of(request),
        _key(request),
        journey.id,
        dumps_journey(journey),
        author=principal.user.id,
        message=message,
    )


def _version_journey(request: Request, map_id: str, number: int) -> tuple[VersionInfo, Journey]:
    try:
        version = get_version(state_of(request), _key(request), map_id, number)
    except AccountError:
        raise WebError(404, "not_found", "web.editor.no_version", number=number) from None
    report = _check_text(version.content)
    if report.journey is None:  # a version saved by an older jornada that no longer passes
        raise WebError(409, "conflict", "web.editor.version_invalid", number=number)
    return version, report.journey


# --- the API --------------------------------------------------------------------------


@router.api_route("/api/templates", methods=READ, tags=["maps"])
def templates_json(principal: Viewer) -> JSONResponse:
    """The templates a new map can start from."""
    return JSONResponse({"templates": [info.to_dict() for info in list_templates()]})


@router.api_route("/api/maps/{map_id}", methods=READ, tags=["maps"])
def get_map(request: Request, map_id: str, principal: Viewer) -> JSONResponse:
    """The map as JSON data (``null`` when the file has problems), its problems, and
    the number of its latest version (``null`` before the first save here)."""
    path = _map_path_or_404(request, map_id)
    report = _check_text(path.read_text("utf-8"), path.name)
    latest = latest_version(state_of(request), _key(request), map_id)
    return JSONResponse(
        {
            "id": map_id,
            "map": _map_json(report.journey) if report.journey else None,
            "problems": _problems(report),
            "version": latest.number if latest else None,
        }
    )


@router.put("/api/maps/{map_id}", tags=["maps"])
def put_map(
    request: Request, map_id: str, principal: Editor, body: Annotated[MapSave, Body()]
) -> JSONResponse:
    """Save the map: checked first; saved as a new version with author and time."""
    _check_size(request)
    _map_path_or_404(request, map_id)
    report = _check_data(body.map)
    if report.journey is None:
        return _invalid(request, report)
    journey = report.journey
    if journey.id != map_id:
        problem = Problem("map", None, "id", f"the map id must stay {map_id!r}", None)
        return _invalid(request, [problem])
    state, key = state_of(request), _key(request)
    latest = latest_version(state, key, map_id)
    if body.base_version is not None and latest is not None and latest.number != body.base_version:
        message = _t(request)("web.editor.conflict", number=latest.number, author=latest.author)
        return _error(request, 409, "conflict", message, version=latest.number)
    _record_file_first(request, map_id)
    version = _save(request, journey, principal, body.message)
    return JSONResponse({"id": map_id, "version": version.number, "map": _map_json(journey)})


@router.delete("/api/maps/{map_id}", tags=["maps"])
def delete_map(request: Request, map_id: str, principal: Editor) -> Response:
    """Delete the map file. Its versions stay in the history (a map saved again under
    the same id continues them)."""
    path = _map_path_or_404(request, map_id)
    _record_file_first(request, map_id)
    path.unlink()
    return Response(status_code=204)


def _create(request: Request, journey: Journey, principal: Principal) -> JSONResponse:
    if not is_map_id(journey.id):
        problem = Problem("map", None, "id", "not a map id", "letters, digits, '_', '-', '.'")
        return _invalid(request, [problem])
    if any(path.stem == journey.id for path in workspace_of(request).map_files()):
        message = _t(request)("web.editor.exists", id=journey.id)
        return _error(request, 409, "conflict", message)
    version = _save(request, journey, principal, "created")
    return JSONResponse(
        {
            "id": journey.id,
            "version": version.number,
            "url": f"/maps/{journey.id}",
            "edit_url": f"/maps/{journey.id}/edit",
        },
        status_code=201,
    )


def _from_template(template: str, map_id: str, language: str, title: str | None) -> Journey:
    chosen: Language = parse_language(language)
    journey = load_template(template, chosen)
    changes: dict[str, Any] = {"id": map_id}
    if title and title.strip():
        changes["title"] = title.strip()
    return Journey.model_validate({**journey.model_dump(), **changes})


@router.post("/api/maps", tags=["maps"], status_code=201)
def create_map(
    request: Request, principal: Editor, body: Annotated[MapCreate, Body()]
) -> JSONResponse:
    """Create a map from a template, in a language (``en``, ``pt-BR``, ``es``)."""
    try:
        journey = _from_template(body.template, body.id, body.language, body.title)
    except UnknownTemplateError as error:
        return _error(request, 422, "unknown_template", str(error))
    except ValueError as error:  # a bad language or id
        problem = Problem("map", None, "id", _first_error(error), None)
        return _invalid(request, [problem])
    return _create(request, journey, principal)


def _first_error(error: ValueError) -> str:
    if isinstance(error, ValidationError):
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(error)


@router.post("/api/maps/import", tags=["maps"], status_code=201)
async def import_map(
    request: Request,
    principal: Editor,
    file: Annotated[UploadFile, File(description="A map file, YAML or JSON")],
    id: Annotated[str | None, Form(description="The new map's id; default: the file's")] = None,
) -> JSONResponse:
    """Create a map from an uploaded YAML or JSON file (at most 5 MiB)."""
    _check_size(request)
    raw = await file.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise WebError(413, "too_large", "web.editor.too_large", limit=MAX_BODY // (1024 * 1024))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        problem = Problem("map", None, "", "the file is not UTF-8 text", "save it as UTF-8")
        return _invalid(request, [problem])
    document = parse_document(text, "upload")
    if id and isinstance(document.data, dict):
        document.data["id"] = id
    report = validate_document(document)
    if report.journey is None:
        return _invalid(request, report)
    return _create(request, report.journey, principal)


@router.post("/api/maps/{map_id}/validate", tags=["maps"])
def validate_map(
    request: Request, map_id: str, principal: Viewer, body: Annotated[MapCheck, Body()]
) -> JSONResponse:
    """Check a map without saving it: ``{"valid", "problems", "map"}``. ``map`` is the
    data read (also when it has problems), so an import can show them at their cells."""
    _check_size(request)
    _map_path_or_404(request, map_id)
    if body.text is not None:
        document = parse_document(body.text, "map")
    elif body.map is not None:
        document = parse_document(json.dumps(body.map, ensure_ascii=False), "map.json")
    else:
        return _error(request, 422, "invalid_input", _t(request)("web.editor.nothing_to_check"))
    report = validate_document(document)
    data = _map_json(report.journey) if report.journey else document.data
    return JSONResponse(
        {
            "valid": report.ok,
            "problems": _problems(report),
            "map": data if isinstance(data, dict) else None,
        }
    )


@router.api_route("/api/maps/{map_id}/versions", methods=READ, tags=["history"])
def versions(request: Request, map_id: str, principal: Viewer) -> JSONResponse:
    """The saved versions of the map, newest first (author, time, message)."""
    if not is_map_id(map_id):
        raise WebError(404, "not_found", "web.error.bad_map_id")
    found = list_versions(state_of(request), _key(request), map_id)
    if not found:
        _map_path_or_404(request, map_id)
    return JSONResponse({"id": map_id, "versions": [v.to_dict() for v in found]})


@router.api_route("/api/maps/{map_id}/versions/{number}", methods=READ, tags=["history"])
def version(
    request: Request, map_id: str, number: VersionNumber, principal: Viewer
) -> JSONResponse:
    """One version: its YAML text and its data."""
    if not is_map_id(map_id):
        raise WebError(404, "not_found", "web.error.bad_map_id")
    found, journey = _version_journey(request, map_id, number)
    return JSONResponse(
        {"id": map_id, **found.to_dict(with_content=True), "map": _map_json(journey)}
    )


@router.post("/api/maps/{map_id}/versions/{number}/restore", tags=["history"])
def restore(
    request: Request, map_id: str, number: VersionNumber, principal: Editor
) -> JSONResponse:
    """Make version ``number`` the current map again (saved as a new version)."""
    if not is_map_id(map_id):
        raise WebError(404, "not_found", "web.error.bad_map_id")
    _, journey = _version_journey(request, map_id, number)
    saved = _save(request, journey, principal, f"restored version {number}")
    return JSONResponse({"id": map_id, "version": saved.number, "map": _map_json(journey)})


@router.api_route("/api/maps/{map_id}/diff", methods=READ, tags=["history"])
def diff(
    request: Request,
    map_id: str,
    principal: Viewer,
    from_: Annotated[int, Query(alias="from", ge=1, le=MAX_ID)],
    to: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="default: the current map")
    ] = None,
) -> JSONResponse:
    """What changed from version ``from`` to version ``to``, in journey terms."""
    if not is_map_id(map_id):
        raise WebError(404, "not_found", "web.error.bad_map_id")
    _, before = _version_journey(request, map_id, from_)
    if to is None:
        path = _map_path_or_404(request, map_id)
        report = _check_text(path.read_text("utf-8"), path.name)
        if report.journey is None:
            return _invalid(request, report)
        after = report.journey
    else:
        _, after = _version_journey(request, map_id, to)
    changes = diff_journeys(before, after)
    return JSONResponse(
        {
            "id": map_id,
            "from": from_,
            "to": to,
            "changes": [{**change.to_dict(), "text": str(change)} for change in changes],
        }
    )


@router.api_route("/api/maps/{map_id}/comments", methods=READ, tags=["comments"])
def comments(
    request: Request, map_id: str, principal: Viewer, resolved: bool = True
) -> JSONResponse:
    """The comments pinned to the map's cells, oldest first (``resolved=false``: open ones)."""
    _map_path_or_404(request, map_id)
    found = list_comments(state_of(request), _key(request), map_id, include_resolved=resolved)
    return JSONResponse({"id": map_id, "comments": [c.to_dict() for c in found]})


@router.post("/api/maps/{map_id}/comments", tags=["comments"], status_code=201)
def comment(
    request: Request, map_id: str, principal: Viewer, body: Annotated[CommentNew, Body()]
) -> JSONResponse:
    """Pin a comment to a cell (viewers may comment: commenting does not change the map)."""
    _map_path_or_404(request, map_id)
    try:
        added = add_comment(
            state_of(request), _key(request), map_id, body.cell, body.body, author=principal.user.id
        )
    except AccountError as error:
        return _error(request, 422, "invalid_input", str(error))
    return JSONResponse(added.to_dict(), status_code=201)


@router.post("/api/maps/{map_id}/comments/{comment_id}/resolve", tags=["comments"])
def resolve(
    request: Request, map_id: str, comment_id: CommentId, principal: Editor
) -> JSONResponse:
    """Mark a comment resolved."""
    _map_path_or_404(request, map_id)
    try:
        done = resolve_comment(
            state_of(request), _key(request), map_id, comment_id, author=principal.user.id
        )
    except AccountError:
        raise WebError(404, "not_found", "web.editor.no_comment") from None
    return JSONResponse(done.to_dict())


@router.post("/api/maps/{map_id}/binding-preview", tags=["maps"])
def binding_preview(
    request: Request, map_id: str, principal: Viewer, body: Annotated[BindingPreview, Body()]
) -> JSONResponse:
    """How many loaded events and customers an ``events:`` block matches, and the most
    frequent event names among them. A rule that cannot be read is a 422 saying why."""
    _map_path_or_404(request, map_id)
    try:
        binding = EventBinding.model_validate(body.events)
    except ValidationError as error:
        return _error(request, 422, "invalid_rule", _first_error(error))
    with workspace_of(request).lock:
        return _preview(request, binding)


def _preview(request: Request, binding: EventBinding) -> JSONResponse:
    workspace = workspace_of(request)
    table = workspace.events()
    try:
        condition = binding_filter(binding, table)
    except JornadaError as error:
        return _error(request, 422, "invalid_rule", str(error))
    matched = table.filter(condition)
    engine = workspace.engine
    counts = engine.to_arrow(
        matched.aggregate(
            events=matched.count(),
            customers=matched["customer_id"].nunique(),
        )
    ).to_pylist()[0]
    totals = engine.to_arrow(
        table.aggregate(events=table.count(), customers=table["customer_id"].nunique())
    ).to_pylist()[0]
    top = (
        matched.group_by("event")
        .aggregate(events=matched.count())
        .order_by([matched.count().desc(), "event"])
        .limit(5)
    )
    return JSONResponse(
        {
            "events": int(counts["events"] or 0),
            "customers": int(counts["customers"] or 0),
            "total_events": int(totals["events"] or 0),
            "total_customers": int(totals["customers"] or 0),
            "top_events": [
                {"event": row["event"], "events": int(row["events"])}
                for row in engine.to_arrow(top).to_pylist()
            ],
        }
    )


_PRINTS = {"png": ("image/png", render.render_png), "pdf": ("application/pdf", render.render_pdf)}


@router.api_route("/maps/{map_id}/export/{fmt}", methods=READ, tags=["maps"])
def export_print(request: Request, map_id: str, fmt: str, principal: Viewer) -> Response:
    """The saved map as a PNG picture or an A3 PDF (printed by headless Chromium)."""
    if fmt not in _PRINTS:
        raise WebError(404, "not_found", "web.error.not_found")
    path = _map_path_or_404(request, map_id)
    report = _check_text(path.read_text("utf-8"), path.name)
    if report.journey is None:
        raise WebError(422, "invalid_map", "web.error.map_has_problems", id=map_id)
    media_type, printer = _PRINTS[fmt]
    with tempfile.TemporaryDirectory(prefix="jornada-export-") as folder:
        target = Path(folder) / f"{map_id}.{fmt}"
        try:
            printer(report.journey, target)
        except render.BrowserUnavailableError:
            raise WebError(503, "unavailable", "web.editor.no_browser") from None
        content = target.read_bytes()
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{map_id}.{fmt}"'},
    )


_LIVING_FIELDS = (
    "customers",
    "reach",
    "exit_rate",
    "conversion_rate",
    "median_seconds_to_next",
    "designed_emotion",
    "measured_emotion",
    "emotion_responses",
    "evidence",
    "findings",
)


@router.api_route("/api/maps/{map_id}/living", methods=READ, tags=["maps"])
def living(request: Request, map_id: str, principal: Viewer) -> JSONResponse:
    """The living-map overlay of the saved map: per touchpoint, the customers who
    reached it, reach, exit and conversion rates, the measured emotion beside the
    designed one, its evidence and how many findings it raised."""
    path = _map_path_or_404(request, map_id)
    report = _check_text(path.read_text("utf-8"), path.name)
    if report.journey is None:
        return _invalid(request, report)
    try:
        measured, hit = measure_living_map(
            request.app.state, workspace_of(request), report.journey, known_data_version(request)
        )
    except JornadaError as error:
        return _error(request, 422, "cannot_measure", str(error))
    frame = measured.to_frame()
    rows = frame.to_dict(orient="records") if len(frame) else []
    messages_by_tp: dict[str, list[str]] = {}
    for finding in measured.findings:
        if finding.touchpoint_id:
            messages_by_tp.setdefault(finding.touchpoint_id, []).append(finding.message)
    touchpoints = {
        str(row["touchpoint_id"]): {
            **{name: row.get(name) for name in _LIVING_FIELDS},
            "finding_messages": messages_by_tp.get(str(row["touchpoint_id"]), []),
        }
        for row in rows
    }
    return JSONResponse(
        json_ready(
            {
                "id": map_id,
                "total_customers": measured.total_customers,
                "total_events": measured.total_events,
                "touchpoints": touchpoints,
            }
        ),
        headers={"X-Jornada-Cache": "hit" if hit else "miss"},
    )


LIVING_CACHE_ENTRIES = 16
"""Living maps kept in memory (one per map design and data version)."""


def measure_living_map(
    state: Any, workspace: Workspace, journey: Journey, version: int
) -> tuple[LivingMap, bool]:
    """The living map of ``journey`` on data version ``version`` from the app's cache of
    measured living maps (``state``'s, made on first use), measured on a miss; and
    whether it was a hit. The map's route and the measuring after each load share it.

    Measuring a whole map takes seconds (tens at 10M events): kept until the map or the
    data changes, so toggling the overlay, or a colleague opening it, is instant.
    """
    design = hashlib.sha256(journey.model_dump_json().encode("utf-8")).hexdigest()
    key = cache_key("living", {"map": design}, version=version)

    def measure() -> LivingMap:
        with engine_lock(workspace):
            return living_map(workspace.events(), journey, facts=True)

    cache = cast(ResultCache[LivingMap], app_cache(state, "living_cache", LIVING_CACHE_ENTRIES))
    # A load makes the maps measured on older data unreachable: dropped now, not kept
    # (each a whole map's measures) until sixteen newer ones push them out.
    cache.forget_older(version)
    return cache.get_or_compute(key, measure)


# --- pages ----------------------------------------------------------------------------


def _editor_messages(language: Language) -> dict[str, str]:
    """The editor's UI strings, for its scripts (``web.editor.js.*`` keys)."""
    prefix = "web.editor.js."
    found = messages(language)
    shown = {
        key.removeprefix(prefix): text for key, text in found.items() if key.startswith(prefix)
    }
    shown.update({key: text for key, text in found.items() if key.startswith("lane.")})
    return shown


@router.api_route("/maps/{map_id}/edit", methods=READ)
def edit_page(request: Request, map_id: str, principal: Editor) -> Response:
    """The editor page: the grid, filled in by ``/static/editor/editor.js``."""
    path = _map_path_or_404(request, map_id)
    report = _check_text(path.read_text("utf-8"), path.name)
    language = page_language(request)
    return render_page(
        request,
        "editor/edit.html",
        {
            "map_id": map_id,
            "title": report.journey.title if report.journey else map_id,
            "valid": report.ok,
            "messages": _editor_messages(language),
            "formats": {
                "YAML": f"/maps/{map_id}.yaml",
                "JSON": f"/maps/{map_id}.json",
                "SVG": f"/maps/{map_id}.svg",
                "HTML": f"/maps/{map_id}.html",
                "Mermaid": f"/maps/{map_id}.mmd",
                "PNG": f"/maps/{map_id}/export/png",
                "PDF": f"/maps/{map_id}/export/pdf",
            },
        },
        json_url=f"/api/maps/{map_id}",
    )


@functools.cache
def _template_preview(name: str, language: Language) -> Markup:
    """A template drawn (templates ship with jornada: drawn once per process)."""
    # The renderer escapes every text of the map.
    return Markup(render.render_map_fragment(load_template(name, language)))  # noqa: S704


def gallery_data(language: Language) -> list[dict[str, Any]]:
    """The templates with a small rendered preview each, in ``language`` when the
    template has it."""
    items = []
    for info in list_templates():
        chosen = language if language in info.languages else info.languages[0]
        items.append(
            {
                **info.to_dict(),
                "shown_title": info.title.get(chosen, info.name),
                "shown_description": info.description.get(chosen, ""),
                "language": chosen,
                "preview": _template_preview(info.name, chosen),
            }
        )
    return items


def gallery_page(request: Request, *, error: str | None = None, status_code: int = 200) -> Response:
    """The template gallery (``GET /maps/new``, routed by the maps router)."""
    language = page_language(request)
    return render_page(
        request,
        "editor/gallery.html",
        {"templates": gallery_data(language), "error": error, "chosen_language": language},
        status_code=status_code,
    )


@router.post("/maps/new")
def create_from_gallery(
    request: Request,
    principal: Editor,
    template: Annotated[str, Form()],
    id: Annotated[str, Form()],
    language: Annotated[str, Form()] = "en",
    title: Annotated[str, Form()] = "",
) -> Response:
    """The gallery's form: create the map, then open it in the editor."""
    t = _t(request)
    map_id = id.strip()
    if not is_map_id(map_id):
        return gallery_page(request, error=t("web.editor.bad_id"), status_code=422)
    try:
        journey = _from_template(template, map_id, language, title)
    except (UnknownTemplateError, ValueError):
        return gallery_page(request, error=t("web.editor.bad_template"), status_code=422)
    if any(path.stem == map_id for path in workspace_of(request).map_files()):
        return gallery_page(request, error=t("web.editor.exists", id=map_id), status_code=409)
    _save(request, journey, principal, "created")
    return RedirectResponse(f"/maps/{map_id}/edit", status_code=303)
