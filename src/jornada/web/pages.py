"""HTML pages: one Jinja environment (autoescape always on) and the chrome every page shares.

A route computes its data with a plain function, returns it as JSON on its ``.json``
URL, and hands the same data to :func:`render_page` for the HTML page.

The chrome shows the workspace's name only to a user with a role on it, and the
signed-in user's menu (account, members for admins, sign out) with the session's CSRF
token in each form and in ``<meta name="csrf-token">`` for scripts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import cast

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from jornada.__about__ import __version__
from jornada.i18n import translate
from jornada.model import Language
from jornada.web.auth import current_principal
from jornada.web.language import (
    here_without_language,
    language_options,
    query_language,
    request_language,
    set_language_cookie,
)
from jornada.workspace import Workspace

__all__ = [
    "TEMPLATES_DIR",
    "Translator",
    "page_language",
    "render_page",
    "translator",
    "workspace_of",
]

TEMPLATES_DIR = Path(__file__).parent / "templates"

Translator = Callable[..., str]

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
)


def workspace_of(request: Request) -> Workspace:
    """The workspace the app serves (set by :func:`jornada.web.app.create_app`)."""
    return cast(Workspace, request.app.state.workspace)


def page_language(request: Request) -> Language:
    """The interface language: see :mod:`jornada.web.language` for the order."""
    principal = current_principal(request)
    return request_language(
        request,
        workspace_of(request).settings.language,
        user_language=principal.user.language if principal is not None else None,
    )


def translator(language: Language) -> Translator:
    """``t(key, **params)`` for templates: the message in ``language``, filled in."""

    def t(key: str, **params: object) -> str:
        text = translate(key, language)
        return text.format(**params) if params else text

    return t


def render_page(
    request: Request,
    template: str,
    context: Mapping[str, object],
    *,
    status_code: int = 200,
    json_url: str | None = None,
) -> HTMLResponse:
    """Render ``template`` inside the shared layout, in the request's language.

    A valid ``?lang=`` is remembered in a cookie, so the choice follows the user around.
    """
    language = page_language(request)
    principal = current_principal(request)
    sees_workspace = principal is not None and principal.role is not None
    page_context: dict[str, object] = {
        "lang": language,
        "t": translator(language),
        "workspace_name": workspace_of(request).settings.name if sees_workspace else None,
        "principal": principal,
        "csrf_token": principal.csrf_token if principal is not None else None,
        "version": __version__,
        "language_options": language_options(request, language),
        # A signed-in browser's switcher is a form that stores the choice on the account.
        "language_form_next": (
            here_without_language(request)
            if principal is not None and principal.via == "session"
            else None
        ),
        "json_url": json_url,
        **context,
    }
    response = templates.TemplateResponse(request, template, page_context, status_code=status_code)
    response.headers["Vary"] = "Accept-Language, Cookie"
    response.headers["Cache-Control"] = "private, no-cache"
    chosen = query_language(request)
    if chosen is not None:
        set_language_cookie(response, chosen)
    return response
