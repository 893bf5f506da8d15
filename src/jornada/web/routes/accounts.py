"""Signing in and out, and one's own account: password and API tokens.

=====================================  ==================================================
``GET /login``                         the sign-in form (``?next=/maps/shop`` to return)
``POST /login``                        sign in: ``email``, ``password``, ``next``
``POST /logout``                       sign out (ends the session at once)
``GET /account``                       your account: role here, API tokens, password
``GET /account.json``                  the same as JSON (with the CSRF token for scripts)
``POST /account/password``             change your password (``current_password``,
                                       ``new_password``); your other sessions end
``POST /account/tokens``               create an API token (``name``, ``read_only``,
                                       ``expires_days``); its secret is shown once
``POST /account/tokens/{id}/revoke``   delete one of your tokens
``POST /account/language``             the language switcher's form: store your interface
                                       language (``language``: en, pt, es, or empty to
                                       follow the browser again), back to ``next``
``PUT /api/account/language``          the same for scripts: ``{"language": "pt"}``
=====================================  ==================================================

Password and token changes need a browser session: an API token cannot change a
password or make more tokens. The language is only a preference, so a (read-write)
token may set it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Form, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from jornada.accounts import AccountError, Principal, RateLimitedError
from jornada.accounts.passwords import MIN_PASSWORD, check_new_password
from jornada.accounts.sessions import end_session, session_digest, start_session
from jornada.accounts.signin import (
    InvalidCredentialsError,
    authenticate,
    check_rate_limit,
    record_attempt,
)
from jornada.accounts.tokens import NewToken, create_token, list_tokens, revoke_token
from jornada.accounts.users import check_password, set_language, set_password
from jornada.model import LANGUAGES, Language
from jornada.web.auth import (
    ANONYMOUS_CSRF_COOKIE,
    SESSION_COOKIE,
    Access,
    WebError,
    anonymous_csrf_token,
    clear_session_cookie,
    client_address,
    current_principal,
    forbidden,
    guard,
    safe_next,
    set_anonymous_csrf_cookie,
    set_session_cookie,
    settings_of,
    state_of,
)
from jornada.web.language import COOKIE as LANGUAGE_COOKIE
from jornada.web.language import language_name, set_language_cookie, url_code
from jornada.web.pages import page_language, render_page, translator, workspace_of
from jornada.web.routes import READ
from jornada.web.security import MAX_ID

__all__ = ["account_data", "router"]

router = APIRouter()

SignedIn = Annotated[Principal, guard(Access.SIGNED_IN)]
MAX_TOKEN_DAYS = 3650


# --- signing in and out ----------------------------------------------------------------


def _login_page(
    request: Request,
    *,
    next_url: str,
    email: str = "",
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    token, new = anonymous_csrf_token(request)
    response = render_page(
        request,
        "accounts/login.html",
        {
            "next_url": next_url,
            "email": email,
            "error": error,
            "form_token": token,
            "demo_account": settings_of(request).demo_account,
        },
        status_code=status_code,
    )
    if new:
        set_anonymous_csrf_cookie(response, request, token)
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers or {})
    return response


@router.api_route("/login", methods=READ, dependencies=[guard(Access.PUBLIC)])
def login_page(request: Request, next: str = "/") -> Response:
    next_url = safe_next(next)
    if current_principal(request) is not None:
        return RedirectResponse(next_url, status_code=303)
    return _login_page(request, next_url=next_url)


@router.post("/login", dependencies=[guard(Access.PUBLIC)])
def login(
    request: Request,
    email: Annotated[str, Form(max_length=300)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    t = translator(page_language(request))
    next_url = safe_next(next)
    if not email.strip() or not password:
        return _login_page(
            request,
            next_url=next_url,
            email=email,
            error=t("web.auth.missing_credentials"),
            status_code=400,
        )
    state = state_of(request)
    key = request.app.state.workspace_key
    try:
        user = authenticate(
            state,
            key,
            email,
            password,
            client_address(request),
            settings_of(request).login_limits,
        )
    except RateLimitedError as error:
        minutes = max(1, -(-error.retry_after // 60))
        return _login_page(
            request,
            next_url=next_url,
            email=email,
            error=t("web.auth.rate_limited", minutes=minutes),
            status_code=429,
            headers={"Retry-After": str(error.retry_after)},
        )
    except InvalidCredentialsError:
        return _login_page(
            request,
            next_url=next_url,
            email=email,
            error=t("web.auth.wrong_credentials"),
            # 400, not 401: a 401 promises a WWW-Authenticate challenge; this is a form.
            status_code=400,
        )
    session = start_session(state, user.id)
    response = RedirectResponse(next_url, status_code=303)
    set_session_cookie(response, request, session.secret)
    response.delete_cookie(ANONYMOUS_CSRF_COOKIE, path="/")
    return response


@router.post("/logout", dependencies=[guard(Access.PUBLIC)])
def logout(request: Request) -> Response:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        end_session(state_of(request), secret)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request)
    return response


# --- one's account ---------------------------------------------------------------------


def account_data(request: Request, principal: Principal) -> dict[str, Any]:
    """What ``/account`` shows: the user, their role here, their tokens."""
    tokens = list_tokens(state_of(request), principal.user.id)
    return {
        "user": principal.user.to_dict(),
        "role": principal.role,
        "workspace": workspace_of(request).settings.name if principal.role else None,
        "signed_in_with": principal.via,
        "tokens": [token.to_dict() for token in tokens],
        "csrf_token": principal.csrf_token,
        # The language the user chose (null: the browser's or the workspace's) and
        # the ones they may choose (PUT /api/account/language).
        "language": principal.user.language,
        "languages": list(LANGUAGES),
    }


def _account_page(
    request: Request,
    principal: Principal,
    *,
    notice: str | None = None,
    error: str | None = None,
    new_token: NewToken | None = None,
    status_code: int = 200,
) -> Response:
    response = render_page(
        request,
        "accounts/account.html",
        {
            "data": account_data(request, principal),
            "notice": notice,
            "error": error,
            "new_token": new_token,
            "min_password": MIN_PASSWORD,
            "language_choices": [(code, url_code(code), language_name(code)) for code in LANGUAGES],
        },
        status_code=status_code,
        json_url="/account.json",
    )
    if new_token is not None:  # a secret on the page: keep it out of every cache
        response.headers["Cache-Control"] = "no-store"
    return response


@router.api_route("/account", methods=READ)
def account(request: Request, principal: SignedIn, changed: str | None = None) -> Response:
    t = translator(page_language(request))
    notice = t("web.account.password_changed") if changed == "password" else None
    return _account_page(request, principal, notice=notice)


@router.api_route("/account.json", methods=READ)
def account_json(request: Request, principal: SignedIn) -> Response:
    return JSONResponse(account_data(request, principal))


def _browser_only(principal: Principal) -> None:
    if principal.via != "session":
        raise forbidden("web.auth.session_needed")


@router.post("/account/password")
def change_password(
    request: Request,
    principal: SignedIn,
    current_password: Annotated[str, Form(max_length=2000)] = "",
    new_password: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    _browser_only(principal)
    t = translator(page_language(request))
    state = state_of(request)
    address = client_address(request)
    try:
        # A stolen session must not become a way to guess the password.
        check_rate_limit(state, principal.user.email, address, settings_of(request).login_limits)
    except RateLimitedError as error:
        minutes = max(1, -(-error.retry_after // 60))
        return _account_page(
            request,
            principal,
            error=t("web.auth.rate_limited", minutes=minutes),
            status_code=429,
        )
    if not check_password(state, principal.user.id, current_password):
        record_attempt(state, principal.user.email, address, succeeded=False)
        return _account_page(
            request, principal, error=t("web.account.wrong_password"), status_code=400
        )
    try:
        check_new_password(new_password)
    except AccountError:
        return _account_page(
            request,
            principal,
            error=t("web.account.password_rules", min=MIN_PASSWORD),
            status_code=400,
        )
    secret = request.cookies.get(SESSION_COOKIE, "")
    set_password(state, principal.user.id, new_password, keep_session=session_digest(secret))
    return RedirectResponse("/account?changed=password", status_code=303)


@router.post("/account/tokens")
def new_token(
    request: Request,
    principal: SignedIn,
    name: Annotated[str, Form(max_length=200)] = "",
    read_only: Annotated[bool, Form()] = False,
    expires_days: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    _browser_only(principal)
    t = translator(page_language(request))
    lifetime: dt.timedelta | None = None
    if expires_days.strip():
        if not expires_days.strip().isdigit() or not 1 <= int(expires_days) <= MAX_TOKEN_DAYS:
            return _account_page(
                request,
                principal,
                error=t("web.account.token_days", max=MAX_TOKEN_DAYS),
                status_code=400,
            )
        lifetime = dt.timedelta(days=int(expires_days))
    try:
        made = create_token(
            state_of(request), principal.user.id, name, read_only=read_only, expires_in=lifetime
        )
    except AccountError:
        return _account_page(request, principal, error=t("web.account.token_name"), status_code=400)
    return _account_page(request, principal, new_token=made, status_code=201)


@router.post("/account/tokens/{token_id}/revoke")
def revoke(
    request: Request,
    principal: SignedIn,
    token_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> Response:
    _browser_only(principal)
    revoked = revoke_token(state_of(request), principal.user.id, token_id)
    if not revoked:
        raise WebError(404, "not_found", "web.account.no_token")
    return RedirectResponse("/account", status_code=303)


# --- one's interface language ----------------------------------------------------------


class LanguageChoice(BaseModel):
    """The interface language to store on your account."""

    language: str | None = Field(
        max_length=20,
        description="en, pt (pt-BR) or es; null (or empty) to follow the browser again.",
    )


def _store_language(
    request: Request, principal: Principal, language: str | None
) -> Language | None:
    """Store ``language`` on the principal's account and return it as stored; a 400
    ``unknown_language`` for a language the interface does not speak."""
    try:
        return set_language(state_of(request), principal.user.id, language).language
    except AccountError:
        shown = (language or "").strip()[:20]
        raise WebError(
            400, "unknown_language", "web.account.unknown_language", language=shown
        ) from None


def _remember_in_browser(
    response: Response, principal: Principal, language: Language | None
) -> None:
    # The browser remembers the choice too, so the pages stay in that language after
    # signing out; forgetting the choice forgets it here as well.
    if principal.via != "session":
        return
    if language is not None:
        set_language_cookie(response, language)
    else:
        response.delete_cookie(LANGUAGE_COOKIE, samesite="lax", httponly=True)


@router.post("/account/language")
def choose_language(
    request: Request,
    principal: SignedIn,
    language: Annotated[str, Form(max_length=20)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Store your interface language (the language switcher of a signed-in browser):
    ``language`` is en, pt or es, or empty to follow the browser again. Answers with a
    redirect to ``next``."""
    stored = _store_language(request, principal, language)
    response = RedirectResponse(safe_next(next), status_code=303)
    _remember_in_browser(response, principal, stored)
    return response


@router.put("/api/account/language", tags=["account"])
def put_language(
    request: Request, principal: SignedIn, body: Annotated[LanguageChoice, Body()]
) -> JSONResponse:
    """Store your interface language, used on every page you open from any browser
    (``?lang=`` still wins for one page). Answers ``{"language": "pt-BR", "languages":
    [...]}``; 400 ``unknown_language`` for a language the interface does not speak."""
    stored = _store_language(request, principal, body.language)
    response = JSONResponse({"language": stored, "languages": list(LANGUAGES)})
    _remember_in_browser(response, principal, stored)
    return response
