"""The API described: ``GET /openapi.json`` (OpenAPI 3) and ``GET /docs``, a page that
lists every endpoint with its parameters, drawn by the app itself.

FastAPI's own ``/docs`` loads Swagger UI's scripts from a CDN, and jornada works
offline, so the page here is plain HTML from the same schema. Both are public: the
schema describes the API, not any workspace's data.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse

from jornada.__about__ import __version__
from jornada.web.auth import Access, guard
from jornada.web.pages import render_page
from jornada.web.routes import READ

__all__ = ["openapi_schema", "router"]

router = APIRouter()


def openapi_schema(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI schema, built once. Read routes answer GET and HEAD; the schema
    lists them once, as GET (two methods of one route would share an operation id)."""
    if app.openapi_schema is None:
        from jornada.web.app import api_routes  # the app module imports this one

        routes = []
        for route in api_routes(app):
            methods = route.methods or set()
            if "HEAD" in methods and len(methods) > 1:
                route = copy.copy(route)
                route.methods = methods - {"HEAD"}
            routes.append(route)
        app.openapi_schema = get_openapi(
            title="jornada",
            version=__version__,
            description="Customer journey maps and journey analytics. Sign in, or send "
            "`Authorization: Bearer <token>` (`jornada user token`).",
            routes=routes,
        )
    return app.openapi_schema


@router.api_route(
    "/openapi.json", methods=READ, dependencies=[guard(Access.PUBLIC)], include_in_schema=False
)
def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(openapi_schema(request.app))


_METHODS = ("get", "post", "put", "patch", "delete")


@router.api_route(
    "/docs", methods=READ, dependencies=[guard(Access.PUBLIC)], include_in_schema=False
)
def docs(request: Request) -> HTMLResponse:
    """Every endpoint, grouped by its first path segment, with its parameters."""
    schema = openapi_schema(request.app)
    endpoints = []
    for path, item in sorted(schema.get("paths", {}).items()):
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            endpoints.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": [
                        {
                            "name": p.get("name"),
                            "where": p.get("in"),
                            "required": bool(p.get("required")),
                            "description": p.get("description", ""),
                        }
                        for p in operation.get("parameters", [])
                    ],
                    "body": "requestBody" in operation,
                }
            )
    return render_page(
        request,
        "api_docs.html",
        {"endpoints": endpoints, "version": schema.get("info", {}).get("version")},
        json_url="/openapi.json",
    )
