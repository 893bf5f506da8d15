"""Loading events from the browser (or a script), and what the loads did.

==================================  ==========================================================
``GET /loads``                      the data page: upload form, load history, quarantine
``GET /loads.json``                 its JSON twin
``GET /api/loads``                  the load history (newest first)
``POST /api/loads``                 upload an event file and load it in the background
                                    (editor); answers 202 with the job's status URL
``GET /api/loads/quarantine``       quarantined rows: load, source, row, column, reason
``GET /api/loads/{job}``            a load job: status, progress steps, the maps measured after it
==================================  ==========================================================

An upload is the file itself as the request body (``Content-Type:
application/octet-stream``, the column mapping in the query string) or a
``multipart/form-data`` form with a ``file`` field (the mapping in form fields); the
mapping is either a saved one (``mapping=NAME``) or the columns (``customer``,
``time``, ``event``, ``channel``...). The body is streamed to a file of our own naming
in the workspace's ``.uploads/`` directory, never to a path the client chooses, and
refused with 413 beyond the size limit (``[web] max_upload_mb`` in ``jornada.toml``,
default 200 MB). The load then runs in a thread, holding the engine lock: it reports
its steps (``reading``, ``parsing``, ``resolving identities``) to the job, and when it
ends, cached analysis results of older data are dropped. Then, still in that thread, every
valid saved map is measured on the new data into the living-map cache (the job's
``measuring`` and ``maps_measured``): the first view of a living map after a load is
instant, and its tables are kept in the store for the report (decision 0007).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import secrets
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import ibis
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from jornada.analytics.results import json_ready
from jornada.errors import JornadaError
from jornada.events.load import ColumnMapping
from jornada.web.auth import Access, WebError, guard
from jornada.web.cache import engine_lock, forget_older_everywhere
from jornada.web.pages import render_page, workspace_of
from jornada.web.routes import READ
from jornada.web.routes.editor import measure_living_map
from jornada.web.security import MAX_ID
from jornada.workspace import Workspace

__all__ = [
    "DEFAULT_MAX_UPLOAD_MB",
    "UPLOAD_DIR",
    "UPLOAD_SUFFIXES",
    "LoadJob",
    "max_upload_bytes",
    "router",
]

router = APIRouter()
logger = logging.getLogger("jornada.web")

DEFAULT_MAX_UPLOAD_MB = 200
UPLOAD_DIR = ".uploads"
UPLOAD_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq", ".jsonl", ".ndjson", ".json", ".xlsx")
"""The event files the loader reads, by name."""
MAPPING_FIELDS = (
    "customer",
    "time",
    "event",
    "channel",
    "session",
    "value",
    "cost",
    "text",
    "score",
    "id",
    "tz",
    "time_format",
    "delimiter",
)
PER_PAGE = 50
_CHUNK = 1 << 20
_JOBS_KEPT = 50
_GUARD = threading.Lock()


def max_upload_bytes(request: Request) -> int:
    """The upload limit: ``app.state.max_upload_bytes`` if set, else ``[web]
    max_upload_mb`` of ``jornada.toml``, else :data:`DEFAULT_MAX_UPLOAD_MB`."""
    given = getattr(request.app.state, "max_upload_bytes", None)
    if given is not None:
        return int(given)
    extra: dict[str, Any] = workspace_of(request).settings.model_extra or {}
    web = extra.get("web")
    megabytes = web.get("max_upload_mb") if isinstance(web, dict) else None
    if isinstance(megabytes, int | float) and megabytes > 0:
        return int(megabytes * 1024 * 1024)
    return DEFAULT_MAX_UPLOAD_MB * 1024 * 1024


# --- jobs ------------------------------------------------------------------------------------


@dataclass
class LoadJob:
    """A load running (or run) in the background."""

    id: str
    source: str
    status: Literal["queued", "running", "done", "failed"] = "queued"
    steps: list[str] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    finished: float | None = None
    measuring: bool = False
    maps_measured: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.id,
            "source": self.source,
            "status": self.status,
            "steps": list(self.steps),
            "result": self.result,
            "error": self.error,
            "started": self.started,
            "finished": self.finished,
            "measuring": self.measuring,
            "maps_measured": list(self.maps_measured),
            "status_url": f"/api/loads/{self.id}",
        }


def _jobs(request: Request) -> OrderedDict[str, LoadJob]:
    state = request.app.state
    with _GUARD:
        jobs = getattr(state, "load_jobs", None)
        if jobs is None:
            jobs = state.load_jobs = OrderedDict()
        return cast(OrderedDict[str, LoadJob], jobs)


def _run_job(request: Request, job: LoadJob, path: Path, mapping: ColumnMapping) -> None:
    """The body of a load thread: load, then drop the cached results of older data (the
    dashboards' analyses, the editor's living maps: every cache of the app), then measure
    the saved maps on the new data."""
    state, workspace = request.app.state, workspace_of(request)
    try:
        with engine_lock(workspace):
            job.status = "running"
            result = workspace.load(
                path, mapping, source_name=job.source, progress=job.steps.append
            )
            version = workspace.data_version
        state.known_data_version, state.known_data_version_at = version, time.monotonic()
        forget_older_everywhere(state, version)
        job.result = result.to_dict()
        job.measuring = True  # before "done": a client sees both at once
        job.status = "done"
    except JornadaError as error:
        job.error = _client_message(str(error), workspace, path, job.source)
        job.status = "failed"
    except Exception:
        logger.exception("load of %s failed", job.source)
        job.error = "the load failed on the server; the details are in the server log"
        job.status = "failed"
    finally:
        job.finished = time.time()
        path.unlink(missing_ok=True)
    if job.status != "done":
        return
    try:
        _measure_maps(state, workspace, job, version)
    except Exception:  # the load has succeeded: its job stays done
        logger.exception("measuring the maps after the load of %s failed", job.source)
    finally:
        job.measuring = False


def _measure_maps(state: Any, workspace: Workspace, job: LoadJob, version: int) -> None:
    """Measure every valid saved map on data version ``version`` into the living-map
    cache, one map at a time under the engine lock (a request for a map being measured
    waits for that measure instead of making its own). A map that cannot be measured is
    logged and skipped: the load itself has succeeded. The workspace's
    ``bind_maps_after_load = false`` turns it off, as it does for ``jornada load``."""
    if not workspace.settings.bind_maps_after_load:
        return
    for entry in workspace.list_maps():
        if entry.report.journey is None or workspace.data_version != version:
            continue  # an invalid map, or a newer load already (its own job measures)
        try:
            measure_living_map(state, workspace, entry.report.journey, version)
        except JornadaError as error:
            logger.info("map %s not measured after the load: %s", entry.id, error)
            continue
        job.maps_measured.append(entry.id)


def _client_message(text: str, workspace: Workspace, path: Path, source: str) -> str:
    """An error for the client: the upload's own name instead of the server's paths."""
    text = text.replace(str(path), source).replace(path.name, source)
    for root in {str(workspace.root.resolve()), str(workspace.root)}:
        text = text.replace(root + "/", "").replace(root, "the workspace")
    return text.splitlines()[0][:1000] if text else "the load failed"


# --- upload ----------------------------------------------------------------------------------


def _safe_name(filename: str) -> str:
    """The client's file name, for messages and the load history only (never a path).

    >>> _safe_name("../../etc/passwd.csv"), _safe_name("C:\\\\data\\\\ev\\x00.csv")
    ('passwd.csv', 'ev.csv')
    """
    name = re.split(r"[\\/]", filename)[-1]
    name = "".join(char for char in name if char.isprintable())
    return name.strip()[:200] or "upload"


def _suffix(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise WebError(
            415,
            "unsupported_media_type",
            "web.loads.error.suffix",
            suffixes=", ".join(UPLOAD_SUFFIXES),
        )
    return suffix


def _mapping(request: Request, values: dict[str, str]) -> ColumnMapping:
    name = values.get("mapping", "").strip()
    workspace = workspace_of(request)
    if name:
        if name not in workspace.settings.mappings:
            known = ", ".join(sorted(workspace.settings.mappings)) or "-"
            raise WebError(400, "bad_request", "web.loads.error.no_mapping", name=name, known=known)
        return workspace.settings.mappings[name]
    given = {key: values[key].strip() for key in MAPPING_FIELDS if values.get(key, "").strip()}
    missing = [key for key in ("customer", "time", "event") if key not in given]
    if missing:
        raise WebError(400, "bad_request", "web.loads.error.mapping", missing=", ".join(missing))
    try:
        return ColumnMapping(**given)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise WebError(
            400,
            "bad_request",
            "web.loads.error.mapping_invalid",
            problem=f"{where}: {first['msg']}",
        ) from None


def _upload_dir(workspace: Workspace) -> Path:
    directory = workspace.root / UPLOAD_DIR
    directory.mkdir(mode=0o700, exist_ok=True)
    return directory


def _too_large(limit: int) -> WebError:
    return WebError(413, "too_large", "web.loads.error.too_large", mb=math.ceil(limit / 2**20))


async def _save(request: Request, chunks: AsyncIterator[bytes], limit: int, suffix: str) -> Path:
    """Write ``chunks`` to a new file of our naming in ``.uploads/``; 413 (and nothing
    kept) past ``limit`` bytes."""
    directory = _upload_dir(workspace_of(request))
    descriptor, name = tempfile.mkstemp(dir=directory, prefix="upload-", suffix=suffix)
    path = Path(name)
    size = 0
    try:
        with os.fdopen(descriptor, "wb") as handle:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                handle.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


async def _chunks_of(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(_CHUNK):
        yield chunk


async def _receive_upload(
    request: Request, filename: str | None
) -> tuple[str, ColumnMapping, Path]:
    """The upload's name, its mapping, and the file it was saved to."""
    limit = max_upload_bytes(request)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    values = {key: value for key, value in request.query_params.items() if key != "filename"}
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        # A form is parsed whole before we see it: only a declared, bounded size is read.
        if declared is None:
            raise WebError(411, "length_required", "web.loads.error.length")
        form = await request.form(max_files=1, max_fields=40)
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise WebError(400, "bad_request", "web.loads.error.no_file")
        values.update({k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"})
        name = _safe_name(file.filename or "upload")
        column_mapping = _mapping(request, values)
        path = await _save(request, _chunks_of(file), limit, _suffix(name))
    else:
        if not filename:
            raise WebError(400, "bad_request", "web.loads.error.no_filename")
        name = _safe_name(filename)
        suffix = _suffix(name)
        column_mapping = _mapping(request, values)
        path = await _save(request, request.stream(), limit, suffix)
    return name, column_mapping, path


_UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "description": "The event file itself (or a multipart form with a `file` field "
        "and the mapping fields).",
        "required": True,
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        **{name: {"type": "string"} for name in ("mapping", *MAPPING_FIELDS)},
                    },
                    "required": ["file"],
                }
            },
        },
    }
}


@router.post(
    "/api/loads",
    dependencies=[guard(Access.EDITOR)],
    status_code=202,
    summary="Upload an event file and load it in the background",
    tags=["loads"],
    openapi_extra=_UPLOAD_DOC,
    responses={
        400: {"description": "A bad or missing column mapping."},
        411: {"description": "A form without Content-Length."},
        413: {"description": "The file is larger than the limit."},
        415: {"description": "Not an event file the loader reads."},
    },
)
async def upload(
    request: Request,
    filename: Annotated[
        str | None, Query(max_length=255, description="The file's name (raw body uploads).")
    ] = None,
    mapping: Annotated[str | None, Query(max_length=64, description="A saved mapping.")] = None,
    customer: Annotated[str | None, Query(max_length=200)] = None,
    time_column: Annotated[str | None, Query(alias="time", max_length=200)] = None,
    event: Annotated[str | None, Query(max_length=200)] = None,
    channel: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    name, column_mapping, path = await _receive_upload(request, filename)
    job = LoadJob(secrets.token_urlsafe(12), name)
    jobs = _jobs(request)
    with _GUARD:
        jobs[job.id] = job
        while len(jobs) > _JOBS_KEPT:
            jobs.popitem(last=False)
    threading.Thread(
        target=_run_job,
        args=(request, job, path, column_mapping),
        name=f"load-{job.id}",
        daemon=True,
    ).start()
    return _json(job.to_dict(), status_code=202)


# --- history and quarantine ----------------------------------------------------------------------


def _json(data: Any, *, status_code: int = 200) -> Response:
    body = json.dumps(json_ready(data), ensure_ascii=False, default=str)
    return Response(body, status_code=status_code, media_type="application/json")


def load_history(workspace: Workspace) -> list[dict[str, Any]]:
    """Every load, newest first (without the mapping's JSON text: it is parsed)."""
    with engine_lock(workspace):
        loads = workspace.engine.table("loads")
        frame = loads.order_by(ibis.desc("load_id")).limit(500).to_pandas()
    history = []
    for row in json_ready(frame.to_dict("records")):
        try:
            row["mapping"] = json.loads(row["mapping"])
        except (TypeError, ValueError):
            row["mapping"] = None
        history.append(row)
    return history


def quarantine_page(workspace: Workspace, page: int, load_id: int | None = None) -> dict[str, Any]:
    """One page of quarantined rows (newest load first, then by row)."""
    with engine_lock(workspace):
        table = workspace.engine.table("quarantine")
        if load_id is not None:
            table = table.filter(table.load_id == ibis.literal(load_id))
        total = int(table.count().to_pandas())
        ordered = table.order_by([ibis.desc("load_id"), "row"])
        frame = ordered.limit(PER_PAGE, offset=(page - 1) * PER_PAGE).to_pandas()
    pages = max(1, math.ceil(total / PER_PAGE))
    return {
        "page": page,
        "pages": pages,
        "per_page": PER_PAGE,
        "total": total,
        "load_id": load_id,
        "rows": json_ready(frame.to_dict("records")),
    }


def loads_data(request: Request, page: int = 1) -> dict[str, Any]:
    workspace = workspace_of(request)
    jobs = [job.to_dict() for job in reversed(_jobs(request).values())]
    return {
        "loads": load_history(workspace),
        "quarantine": quarantine_page(workspace, page),
        "jobs": jobs[:10],
        "mappings": sorted(workspace.settings.mappings),
        "max_upload_bytes": max_upload_bytes(request),
        "suffixes": list(UPLOAD_SUFFIXES),
    }


PageQuery = Annotated[int, Query(ge=1, le=1_000_000, description="Page of the quarantine.")]


@router.api_route("/loads", methods=READ, dependencies=[guard(Access.VIEWER)])
def loads_page(request: Request, page: PageQuery = 1) -> Response:
    data = loads_data(request, page)
    principal = getattr(request.state, "principal", None)
    may_upload = principal is not None and principal.may("editor") and not principal.read_only
    return render_page(
        request,
        "loads/index.html",
        {
            "data": data,
            "section": "data",
            "may_upload": may_upload,
            "max_mb": math.ceil(data["max_upload_bytes"] / 2**20),
            "fields": MAPPING_FIELDS,
        },
        json_url="/loads.json",
    )


@router.api_route("/loads.json", methods=READ, dependencies=[guard(Access.VIEWER)])
def loads_json(request: Request, page: PageQuery = 1) -> Response:
    return _json(loads_data(request, page))


@router.api_route(
    "/api/loads",
    methods=READ,
    dependencies=[guard(Access.VIEWER)],
    summary="The load history",
    tags=["loads"],
)
def loads_api(request: Request) -> Response:
    return _json({"loads": load_history(workspace_of(request))})


@router.api_route(
    "/api/loads/quarantine",
    methods=READ,
    dependencies=[guard(Access.VIEWER)],
    summary="Quarantined rows: load, source, row, column, reason",
    tags=["loads"],
)
def quarantine_api(
    request: Request,
    page: PageQuery = 1,
    load_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only this load's rows.")
    ] = None,
) -> Response:
    return _json(quarantine_page(workspace_of(request), page, load_id))


@router.api_route(
    "/api/loads/{job}",
    methods=READ,
    dependencies=[guard(Access.VIEWER)],
    summary="A load job: status and progress",
    tags=["loads"],
)
def job_api(request: Request, job: str) -> Response:
    found = _jobs(request).get(job)
    if found is None:
        raise WebError(404, "not_found", "web.loads.error.no_job")
    return _json(found.to_dict())
