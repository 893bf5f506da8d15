"""``create_app(workspace)``: the FastAPI application serving one workspace.

The workspace object sits on ``app.state.workspace``; each noun has its router module in
``jornada.web.routes`` (accounts, the map editor and dashboards add theirs the same way).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from jornada.__about__ import __version__
from jornada.web.errors import ErrorBoundary, http_exception_handler
from jornada.web.routes import health, maps
from jornada.web.security import SecurityHeaders
from jornada.workspace import Workspace

__all__ = ["LOOPBACK_HOSTS", "STATIC_DIR", "create_app"]

STATIC_DIR = Path(__file__).parent / "static"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def create_app(workspace: Workspace, *, allowed_hosts: Sequence[str] | None = None) -> FastAPI:
    """The web app for ``workspace``: map list, map pages, JSON twins and downloads.

    ``allowed_hosts`` lists the host names the app answers to (any when ``None``);
    other ``Host`` headers get a 400. A server on a loopback address should accept only
    :data:`LOOPBACK_HOSTS`, so that a web page using DNS rebinding cannot read the maps.
    """
    app = FastAPI(
        title="jornada",
        version=__version__,
        # No interactive API docs: they load scripts from a CDN, and the app works offline.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.workspace = workspace
    app.add_exception_handler(HTTPException, http_exception_handler)
    # Added last = outermost: the headers go on every response, 500s included.
    app.add_middleware(ErrorBoundary)
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.add_middleware(SecurityHeaders)
    app.include_router(health.router)
    app.include_router(maps.router)  # before the /static mount: it serves /static/map.css
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
