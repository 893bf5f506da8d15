"""The jornada web app: the workspace's maps as pages, each with a JSON twin.

``create_app(workspace)`` builds the FastAPI application; ``serve`` runs it with uvicorn.
Everything the pages need (CSS, icons) is served by the app itself, so it works offline.
"""

from __future__ import annotations

from jornada.web.app import LOOPBACK_HOSTS, create_app
from jornada.workspace import Workspace

__all__ = ["create_app", "serve"]


def serve(workspace: Workspace, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``workspace`` at ``http://host:port/`` until interrupted.

    On a loopback address the app answers only to loopback host names.
    """
    import uvicorn

    loopback = host in {"127.0.0.1", "localhost", "::1"}
    app = create_app(workspace, allowed_hosts=LOOPBACK_HOSTS if loopback else None)
    uvicorn.run(app, host=host, port=port)
