"""Who is asking, and may they: sign-in cookies, API tokens, roles, CSRF.

Every route declares who may use it with one guard, ``guard(Access.VIEWER)`` and so on
(:func:`create_app <jornada.web.app.create_app>` refuses a route without one):

===============  ============================================================
``PUBLIC``       anyone (sign-in page, health, stylesheets)
``SIGNED_IN``    any signed-in user, with or without a role here (their account)
``VIEWER``       a role on the workspace: viewer, editor or admin
``EDITOR``       editor or admin (changes the workspace)
``ADMIN``        admin (members and roles)
===============  ============================================================

Answers when the guard says no: not signed in -> a redirect to ``/login`` (pages) or
401 (JSON, API); signed in without a role here -> 404, the same answer as for a page
that does not exist, so nothing about the workspace leaks; a role too weak -> 403.

A browser proves itself with the ``jornada_session`` cookie (HttpOnly, SameSite=Lax,
Secure over HTTPS), whose state-changing requests also need the session's CSRF token
(form field ``csrf_token`` or header ``X-CSRF-Token``) and a same-origin ``Origin``. A
script sends ``Authorization: Bearer jrn_...`` and needs no CSRF token (a browser never
adds that header to a cross-site request by itself).
"""

from __future__ import annotations

import enum
import hmac
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

from fastapi import Depends
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from jornada.accounts import AppState, Principal
from jornada.accounts.sessions import SESSION_LIFETIME, resolve_session
from jornada.accounts.signin import LoginLimits
from jornada.accounts.tokens import resolve_token
from jornada.workspace import Workspace

__all__ = [
    "ANONYMOUS_CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SAFE_METHODS",
    "SESSION_COOKIE",
    "Access",
    "WebError",
    "WebSettings",
    "anonymous_csrf_token",
    "clear_session_cookie",
    "client_address",
    "current_principal",
    "guard",
    "principal_of",
    "protect_unsafe_requests",
    "route_access",
    "safe_next",
    "set_session_cookie",
    "settings_of",
    "state_of",
    "workspace_key_of_app",
]

SESSION_COOKIE = "jornada_session"
ANONYMOUS_CSRF_COOKIE = "jornada_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_FORM_BYTES = 1024 * 1024
"""The largest form whose CSRF token is read from a field; bigger ones (uploads) must
send it in the ``X-CSRF-Token`` header."""


class Access(enum.Enum):
    """Who may use a route (see the module's table)."""

    PUBLIC = "public"
    SIGNED_IN = "signed-in"
    VIEWER = "viewer"
    EDITOR = "editor"
    ADMIN = "admin"


@dataclass(frozen=True)
class WebSettings:
    """How the app treats its clients.

    ``behind_tls``: a TLS proxy forwards to this server, so cookies get the ``Secure``
    flag and an ``https://`` origin is the app's own (the proxy must pass ``Host``).
    """

    behind_tls: bool = False
    login_limits: LoginLimits = field(default_factory=LoginLimits)
    demo_account: tuple[str, str] | None = None
    """(e-mail, password) shown on the sign-in page: only for ``jornada serve --demo``."""


class WebError(HTTPException):
    """An HTTP error whose message is a translated UI string (``key``, ``params``) and
    whose JSON form carries a machine-readable ``code``."""

    def __init__(
        self,
        status_code: int,
        code: str,
        key: str,
        *,
        headers: dict[str, str] | None = None,
        **params: object,
    ) -> None:
        super().__init__(status_code, detail=key, headers=headers)
        self.code = code
        self.key = key
        self.params = params


def not_signed_in() -> WebError:
    return WebError(
        401, "not_signed_in", "web.auth.not_signed_in", headers={"WWW-Authenticate": "Bearer"}
    )


def invalid_token() -> WebError:
    return WebError(
        401,
        "invalid_token",
        "web.auth.invalid_token",
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def no_access() -> WebError:
    return WebError(404, "not_found", "web.auth.no_access")


def forbidden(key: str = "web.auth.forbidden") -> WebError:
    return WebError(403, "forbidden", key)


def csrf_failed() -> WebError:
    return WebError(403, "csrf_failed", "web.auth.csrf_failed")


# --- app-wide objects -----------------------------------------------------------------


def state_of(request: Request) -> AppState:
    return cast(AppState, request.app.state.accounts)


def settings_of(request: Request) -> WebSettings:
    return cast(WebSettings, request.app.state.web_settings)


def workspace_key_of_app(request: Request) -> str:
    return cast(str, request.app.state.workspace_key)


def _workspace(request: Request) -> Workspace:
    return cast(Workspace, request.app.state.workspace)


def client_address(request: Request) -> str:
    """The client's address (behind a proxy: as uvicorn's ``--proxy-headers`` sees it)."""
    return request.client.host if request.client else "unknown"


# --- who is asking ---------------------------------------------------------------------

_UNRESOLVED = object()


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip()


def principal_of(request: Request) -> Principal | None:
    """Who sent ``request``: a bearer token wins over the session cookie; ``None`` when
    anonymous. An unknown bearer token raises a 401 (it never falls back to a cookie).
    Resolved once per request."""
    cached = getattr(request.state, "principal", _UNRESOLVED)
    if cached is not _UNRESOLVED:
        return cast(Principal | None, cached)
    state, key = state_of(request), workspace_key_of_app(request)
    token = _bearer(request)
    principal: Principal | None
    if token is not None:
        principal = resolve_token(state, token, key)
        if principal is None:
            raise invalid_token()
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        principal = resolve_session(state, cookie, key) if cookie else None
    request.state.principal = principal
    return principal


def current_principal(request: Request) -> Principal | None:
    """:func:`principal_of` for drawing a page: never raises (an error page must render)."""
    try:
        return principal_of(request)
    except Exception:
        return None


def _guard(access: Access) -> Callable[[Request], Principal | None]:
    def check(request: Request) -> Principal | None:
        principal = principal_of(request)
        if access is Access.PUBLIC:
            return principal
        if principal is None:
            raise not_signed_in()
        if access is Access.SIGNED_IN:
            return principal
        needed = cast(Any, access.value)
        if principal.role is None:
            raise no_access()
        if not principal.may(needed):
            if principal.read_only:
                raise forbidden("web.auth.read_only_token")
            raise forbidden("web.auth.role_too_weak")
        return principal

    check.__name__ = f"allow_{access.name.lower()}"
    check.access = access  # type: ignore[attr-defined]
    return check


_GUARDS = {access: _guard(access) for access in Access}


def guard(access: Access) -> Any:
    """The dependency a route declares to say who may use it (one per route)::

        @router.get("/members", dependencies=[guard(Access.ADMIN)])

    or, to receive the principal: ``principal: Annotated[Principal, guard(Access.ADMIN)]``.
    """
    return Depends(_GUARDS[access])


def route_access(route: APIRoute) -> list[Access]:
    """The access levels a route declares (a well-formed route declares exactly one)."""
    found: list[Access] = []
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        access = getattr(dependant.call, "access", None)
        if isinstance(access, Access):
            found.append(access)
        pending.extend(dependant.dependencies)
    return sorted(set(found), key=list(Access).index)


# --- CSRF ------------------------------------------------------------------------------


def _same_origin(request: Request) -> bool:
    """Whether the request's ``Origin`` (or, lacking it, ``Referer``) is this app.

    Browsers send ``Origin`` with every cross-site POST; a request with neither header
    did not come from another site's page (it still needs the CSRF token).
    """
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if referer is None:
            return True
        origin = referer
    if origin == "null":
        return False
    parts = urlsplit(origin)
    schemes = {request.url.scheme}
    if settings_of(request).behind_tls:
        schemes.add("https")
    host = request.headers.get("host", "")
    return parts.scheme in schemes and parts.netloc.lower() == host.lower() and bool(host)


async def _submitted_token(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(_FORMS):
        # Parsing a form spools it to disk before any route can check its size: only
        # small forms carry the token in a field; uploads send the header.
        length = request.headers.get("content-length", "")
        if not length.isdigit() or int(length) > MAX_FORM_BYTES:
            return None
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def protect_unsafe_requests(request: Request) -> AsyncIterator[None]:
    """The app-wide dependency: every state-changing request from a browser carries the
    right CSRF token and a same-origin ``Origin``; read-only tokens change nothing.

    A form parsed for its token is closed when the request ends, however it ends: its
    files are spooled temporary files, and a request refused here (or by a guard), or
    sent to a route without ``Form`` parameters, has nobody else to close them.
    """
    try:
        await _check_unsafe_request(request)
        yield
    finally:
        parsed = getattr(request, "_form", None)  # Starlette's cache of request.form()
        if parsed is not None:
            await parsed.close()


async def _check_unsafe_request(request: Request) -> None:
    if request.method in SAFE_METHODS:
        return
    principal = await run_in_threadpool(principal_of, request)
    if principal is not None and principal.via == "token":
        if principal.read_only:
            raise forbidden("web.auth.read_only_token")
        return
    if not _same_origin(request):
        raise csrf_failed()
    expected = (
        principal.csrf_token
        if principal is not None
        else request.cookies.get(ANONYMOUS_CSRF_COOKIE)
    )
    given = await _submitted_token(request)
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise csrf_failed()


def anonymous_csrf_token(request: Request) -> tuple[str, bool]:
    """The CSRF token of a not-yet-signed-in browser (double-submit cookie) and whether
    it is new (then the response must set :data:`ANONYMOUS_CSRF_COOKIE`)."""
    existing = request.cookies.get(ANONYMOUS_CSRF_COOKIE)
    if existing and 20 <= len(existing) <= 128:
        return existing, False
    return secrets.token_urlsafe(32), True


# --- cookies and redirects -------------------------------------------------------------


def _secure(request: Request) -> bool:
    return settings_of(request).behind_tls or request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, secret: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )


def set_anonymous_csrf_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        ANONYMOUS_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=_secure(request), path="/"
    )


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of this app, never another site.

    >>> safe_next("/maps/shop?lang=pt"), safe_next("//evil.example"), safe_next("https://x.y/")
    ('/maps/shop?lang=pt', '/', '/')
    >>> safe_next("/\\\\evil.example"), safe_next("/login"), safe_next(None)
    ('/', '/', '/')
    """
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(char) < 32 or ord(char) == 127 for char in value) or len(value) > 2000:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in {"/login", "/logout"}:
        return "/"
    return value
