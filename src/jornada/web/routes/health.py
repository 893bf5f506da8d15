"""``GET /health``: is the app up, and which version is it."""

from __future__ import annotations

from fastapi import APIRouter

from jornada.__about__ import __version__
from jornada.web.auth import Access, guard
from jornada.web.routes import READ

__all__ = ["health", "router"]

router = APIRouter()


@router.api_route("/health", methods=READ, dependencies=[guard(Access.PUBLIC)])
def health() -> dict[str, str]:
    """``{"status": "ok", "version": ...}``."""
    return {"status": "ok", "version": __version__}
