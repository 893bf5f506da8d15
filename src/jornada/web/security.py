"""Response headers every page carries: a strict Content-Security-Policy and friends.

The app serves all its own assets and has no inline script, so the policy can say
``script-src 'self'``; styles allow ``'unsafe-inline'`` for the ``style=`` attributes
of the rendered map (colours, emotion curve). Everything but ``/static/`` is marked
``Cache-Control: private`` unless the route says otherwise: answers depend on who signed in.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jornada.web.auth import WebError

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "MAX_BODY_BYTES",
    "MAX_ID",
    "SECURITY_HEADERS",
    "BodyLimit",
    "SecurityHeaders",
    "refuse_nul_characters",
]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        # Answers outside /static/ depend on who asks: no shared cache may keep them.
        private = not scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if private and "cache-control" not in headers:
                    headers["Cache-Control"] = "private, no-cache"
            await send(message)

        await self.app(scope, receive, send_with_headers)


MAX_BODY_BYTES = 8 * 1024 * 1024
"""The largest request body outside the upload route (a map, a form, a JSON request)."""

MAX_ID = 2**63 - 1
"""The largest id a route takes (a user, version, comment, load): the databases store
ids as signed 64-bit integers, and a larger number is refused with a 422 rather than
overflowing in the driver (a 500)."""


def refuse_nul_characters(request: Request) -> None:
    """The app-wide dependency refusing a NUL character in a query or path parameter
    (422): the analyses pass parameters to DuckDB as SQL string literals, which end at
    a NUL, so it would fail there with a parser error (a 500). No name has one."""
    params = [*request.query_params.multi_items(), *request.path_params.items()]
    for name, value in params:
        if "\x00" in name or "\x00" in str(value):
            where = name.replace("\x00", "") or "query"
            problem = f"{where}: NUL characters are not allowed"
            raise WebError(422, "invalid_input", "web.error.invalid_input", problems=problem)


class BodyLimit:
    """ASGI middleware refusing request bodies over ``limit`` bytes with a JSON 413,
    by the declared length or, for a body sent in chunks, as soon as it grows past it
    (before any handler has read it all). ``exempt`` paths (the event upload, which
    streams to disk under its own larger limit) pass through.
    """

    def __init__(
        self, app: ASGIApp, *, limit: int = MAX_BODY_BYTES, exempt: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        too_large = False
        answered = False

        async def counted() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    too_large = True
                    raise _TooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            # Whatever the app makes of the interrupted body (a 400, a 500), the answer
            # is ours: 413.
            nonlocal answered
            if too_large:
                if not answered and message["type"] == "http.response.start":
                    answered = True
                    await self._refuse(send)
                return
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not too_large:
                raise
            # the app let the interruption (or what it made of it) escape
            if not answered:
                answered = True
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        megabytes = self.limit // (1024 * 1024)
        body = (
            b'{"error": {"status": 413, "code": "too_large", "message": '
            + f'"the request body is larger than {megabytes} MB"'.encode()
            + b"}}"
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLargeError(Exception):
    """A chunked body grew past the limit."""
