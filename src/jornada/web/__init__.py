"""The jornada web app: the workspace's maps as pages, each with a JSON twin, behind a
sign-in (users, roles per workspace and API tokens live in :mod:`jornada.accounts`).

``create_app(workspace)`` builds the FastAPI application; ``serve`` runs it with uvicorn.
Everything the pages need (CSS, icons) is served by the app itself, so it works offline.
"""

from __future__ import annotations

from jornada.accounts import AppState
from jornada.web.app import LOOPBACK_HOSTS, create_app
from jornada.web.auth import WebSettings
from jornada.workspace import Workspace

__all__ = ["LOOPBACK_ADDRESSES", "LOOPBACK_HOSTS", "WebSettings", "create_app", "serve"]

LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "localhost", "::1"})


def serve(
    workspace: Workspace,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    state: AppState | None = None,
    settings: WebSettings | None = None,
) -> None:
    """Serve ``workspace`` at ``http://host:port/`` until interrupted.

    On a loopback address the app answers only to loopback host names. ``state`` holds
    the accounts (default: the workspace's ``app.sqlite``); ``settings`` say, for
    instance, that a TLS proxy forwards to this server (cookies become ``Secure``).
    """
    import uvicorn

    loopback = host in LOOPBACK_ADDRESSES
    app = create_app(
        workspace,
        state=state,
        allowed_hosts=LOOPBACK_HOSTS if loopback else None,
        settings=settings,
    )
    uvicorn.run(app, host=host, port=port)
