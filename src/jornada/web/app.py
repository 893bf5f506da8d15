"""``create_app(workspace)``: the FastAPI application serving one workspace.

The workspace sits on ``app.state.workspace``, the app state (users, roles, tokens)
on ``app.state.accounts``; each noun has its router module in ``jornada.web.routes``
(the map editor and dashboards add theirs the same way). Every route declares who may
use it with :func:`jornada.web.auth.guard`; a route without a guard stops the app
from starting, so nothing is ever served by accident.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from jornada.__about__ import __version__
from jornada.accounts import AppState, state_url, workspace_key
from jornada.web.auth import WebSettings, protect_unsafe_requests, route_access
from jornada.web.errors import ErrorBoundary, http_exception_handler, validation_error_handler
from jornada.web.routes import (
    accounts,
    api_docs,
    dashboards,
    editor,
    health,
    loads,
    maps,
    members,
)
from jornada.web.security import BodyLimit, SecurityHeaders, refuse_nul_characters
from jornada.workspace import Workspace

__all__ = ["LOOPBACK_HOSTS", "STATIC_DIR", "api_routes", "create_app"]

STATIC_DIR = Path(__file__).parent / "static"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def create_app(
    workspace: Workspace,
    *,
    state: AppState | None = None,
    allowed_hosts: Sequence[str] | None = None,
    settings: WebSettings | None = None,
) -> FastAPI:
    """The web app for ``workspace``: sign-in, map list, map pages, JSON twins, downloads.

    ``state`` holds the users and roles (default: the workspace's ``app.sqlite``, or
    ``$JORNADA_STATE_URL``), migrated when opened. ``allowed_hosts`` lists the host names
    the app answers to (any when ``None``); other ``Host`` headers get a 400. A server on
    a loopback address should accept only :data:`LOOPBACK_HOSTS`, so that a web page
    using DNS rebinding cannot read the maps.
    """
    app = FastAPI(
        title="jornada",
        version=__version__,
        # FastAPI's docs load Swagger UI from a CDN; routes/api_docs.py serves /docs and
        # /openapi.json itself, so the app works offline.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(refuse_nul_characters), Depends(protect_unsafe_requests)],
    )
    app.state.workspace = workspace
    app.state.accounts = state or AppState.open(state_url(workspace.root))
    app.state.workspace_key = workspace_key(workspace)
    app.state.web_settings = settings or WebSettings()
    app.add_exception_handler(HTTPException, http_exception_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    # Bodies are bounded before any handler reads them; the event upload streams to disk
    # under its own, larger limit (routes/loads.py).
    app.add_middleware(BodyLimit, exempt=("/api/loads",))
    # Added last = outermost: the headers go on every response, 500s included.
    app.add_middleware(ErrorBoundary)
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.add_middleware(SecurityHeaders)
    app.include_router(health.router)
    app.include_router(api_docs.router)
    app.include_router(accounts.router)
    app.include_router(members.router)
    app.include_router(maps.router)  # before the /static mount: it serves /static/map.css
    app.include_router(editor.router)
    app.include_router(dashboards.router)
    app.include_router(loads.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _check_every_route_is_guarded(app)
    app.openapi = lambda: api_docs.openapi_schema(app)  # type: ignore[method-assign]
    return app


def api_routes(app: FastAPI) -> list[APIRoute]:
    """Every endpoint route of ``app``, included routers flattened.

    FastAPI >= 0.16x keeps an included router as one entry of ``app.routes``;
    ``iter_route_contexts`` walks into it (older versions list the routes themselves).
    """
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # an older FastAPI: app.routes is flat
        return [route for route in app.routes if isinstance(route, APIRoute)]
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            found.append(route)
    return found


def _check_every_route_is_guarded(app: FastAPI) -> None:
    for route in api_routes(app):
        if len(route_access(route)) != 1:
            raise RuntimeError(
                f"route {route.path} must declare exactly one guard(Access...), "
                f"has {route_access(route)}"
            )
