"""Errors as responses a person can read: JSON on ``.json`` URLs, a friendly page otherwise.

No traceback, exception text or file-system path reaches the client: unexpected
errors are logged on the server and answered with a plain 500 page.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jornada.web.pages import page_language, render_page, translator

__all__ = ["ErrorBoundary", "error_response", "http_exception_handler", "wants_json"]

logger = logging.getLogger("jornada.web")


def wants_json(request: Request) -> bool:
    """JSON URLs end in ``.json`` (as every page's JSON twin does)."""
    return request.url.path.endswith(".json")


def error_response(request: Request, status_code: int, message: str) -> Response:
    """The error as JSON ``{"error": {"status", "message"}}`` or as an HTML page."""
    if wants_json(request):
        return JSONResponse(
            {"error": {"status": status_code, "message": message}}, status_code=status_code
        )
    try:
        return render_page(
            request,
            "error.html",
            {"status": status_code, "message": message},
            status_code=status_code,
        )
    except Exception:
        logger.exception("cannot render the error page")
        return PlainTextResponse(f"{status_code} {message}", status_code=status_code)


def _default_message(request: Request, status_code: int) -> str:
    try:
        t = translator(page_language(request))
    except Exception:  # the error page must not fail on a broken message file
        logger.exception("cannot translate the error message")
        return HTTPStatus(status_code).phrase
    if status_code == HTTPStatus.NOT_FOUND:
        return t("web.error.not_found")
    if status_code >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return t("web.error.internal")
    return HTTPStatus(status_code).phrase


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Answer an ``HTTPException``; Starlette's bare phrases become friendly messages."""
    assert isinstance(exc, HTTPException)
    detail = exc.detail
    if not isinstance(detail, str) or detail == HTTPStatus(exc.status_code).phrase:
        detail = _default_message(request, exc.status_code)
    response = error_response(request, exc.status_code, detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


class ErrorBoundary:
    """ASGI middleware turning an unexpected exception into a logged, generic 500 response.

    It sits inside the security-headers middleware, so even a 500 carries those headers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            logger.exception("error while answering %s %s", scope["method"], scope["path"])
            if started:
                raise
            request = Request(scope)
            status = HTTPStatus.INTERNAL_SERVER_ERROR
            response = error_response(request, status, _default_message(request, status))
            await response(scope, receive, send)
