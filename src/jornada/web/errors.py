"""Errors as responses a person can read: JSON for API clients, a friendly page otherwise.

API clients get ``{"error": {"status": 404, "code": "not_found", "message": "..."}}``:
``status`` repeats the HTTP status, ``code`` is a stable machine-readable name
(:data:`CODES`, or a specific one such as ``csrf_failed`` or ``invalid_token``) and
``message`` a sentence for a person, in the request's language. A request is an API
request when its path ends in ``.json`` (every page's JSON twin) or starts with
``/api/``, when it carries ``Authorization: Bearer``, or when it prefers JSON
(``Accept: application/json``).

No traceback, exception text or file-system path reaches the client: unexpected
errors are logged on the server and answered with a plain 500.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from urllib.parse import urlencode

from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jornada.web.auth import SAFE_METHODS, WebError
from jornada.web.pages import page_language, render_page, translator

__all__ = [
    "CODES",
    "ErrorBoundary",
    "error_response",
    "http_exception_handler",
    "validation_error_handler",
    "wants_json",
]

CODES: dict[int, str] = {
    400: "bad_request",
    401: "not_signed_in",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
    500: "internal",
}
"""The ``code`` of an error response, by status, unless the error names its own."""

logger = logging.getLogger("jornada.web")


def wants_json(request: Request) -> bool:
    """Whether ``request`` comes from an API client (see the module's docstring)."""
    path = request.url.path
    if path.endswith(".json") or path.startswith("/api/"):
        return True
    if request.headers.get("authorization", "").lower().startswith("bearer "):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(
    request: Request, status_code: int, message: str, *, code: str | None = None
) -> Response:
    """The error as JSON ``{"error": {"status", "code", "message"}}`` or as an HTML page."""
    if wants_json(request):
        body = {"status": status_code, "code": code or CODES.get(status_code, "error")}
        return JSONResponse({"error": {**body, "message": message}}, status_code=status_code)
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
    if status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        return t("web.error.method_not_allowed")
    if status_code >= HTTPStatus.INTERNAL_SERVER_ERROR:
        return t("web.error.internal")
    return HTTPStatus(status_code).phrase


def _sign_in_redirect(request: Request) -> Response:
    """Send a browser to the sign-in page, to come back here afterwards."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    params = {"next": here}
    if "lang" in request.query_params:  # the sign-in page in the language asked for
        params["lang"] = request.query_params["lang"]
    return RedirectResponse("/login?" + urlencode(params), status_code=303)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Answer an ``HTTPException``; Starlette's bare phrases become friendly messages.

    A browser that is not signed in and asks for a page goes to the sign-in page.
    """
    assert isinstance(exc, HTTPException)
    code: str | None = None
    if isinstance(exc, WebError):
        if (
            exc.code == "not_signed_in"
            and request.method in SAFE_METHODS
            and not wants_json(request)
        ):
            return _sign_in_redirect(request)
        detail = translator(page_language(request))(exc.key, **exc.params)
        code = exc.code
    else:
        detail = exc.detail
        if not isinstance(detail, str) or detail == HTTPStatus(exc.status_code).phrase:
            detail = _default_message(request, exc.status_code)
    response = error_response(request, exc.status_code, detail, code=code)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    """A request FastAPI could not parse: 422 naming each bad field (never its value)."""
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors()[:5]:
        where = ".".join(
            str(part) for part in error.get("loc", ()) if part not in {"body", "query", "path"}
        )
        problems.append(
            f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg"))
        )
    t = translator(page_language(request))
    message = t("web.error.invalid_input", problems="; ".join(problems))
    return error_response(request, 422, message)


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
