"""The members of the workspace and their roles (admins only).

=================================  ======================================================
``GET /members``                   who has a role here, and forms to change it
``GET /members.json``              the same as JSON
``POST /members``                  give ``email`` the ``role`` (``viewer``, ``editor``,
                                   ``admin``); a new account gets a password shown once
``POST /members/{id}/role``        change a member's role
``POST /members/{id}/remove``      take a member's role away (the account stays)
=================================  ======================================================

The last admin of a workspace can be neither demoted nor removed (409).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from jornada.accounts import AccountError, LastAdminError, Principal
from jornada.accounts.models import ROLES
from jornada.accounts.users import (
    NewUser,
    add_user,
    list_members,
    normalize_email,
    parse_role,
    remove_member,
    set_role,
    user_by_id,
)
from jornada.web.auth import Access, WebError, guard, state_of, workspace_key_of_app
from jornada.web.pages import page_language, render_page, translator, workspace_of
from jornada.web.routes import READ
from jornada.web.security import MAX_ID

__all__ = ["members_data", "router"]

router = APIRouter()

Admin = Annotated[Principal, guard(Access.ADMIN)]
UserId = Annotated[int, Path(ge=1, le=MAX_ID)]


def members_data(request: Request) -> dict[str, Any]:
    """The workspace's members with their roles, and the roles one can give."""
    members = list_members(state_of(request), workspace_key_of_app(request))
    return {
        "workspace": workspace_of(request).settings.name,
        "roles": list(ROLES),
        "members": [{"id": member.id, **member.to_dict()} for member in members],
        "admins": sum(1 for member in members if member.role == "admin"),
    }


def _members_page(
    request: Request,
    principal: Principal,
    *,
    notice: str | None = None,
    error: str | None = None,
    added: NewUser | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    response = render_page(
        request,
        "accounts/members.html",
        {
            "data": members_data(request),
            "me": principal.user.id,
            "notice": notice,
            "error": error,
            "added": added,
            "form": form or {"email": "", "role": "viewer"},
        },
        status_code=status_code,
        json_url="/members.json",
    )
    if added is not None and added.password is not None:
        response.headers["Cache-Control"] = "no-store"  # a password on the page
    return response


@router.api_route("/members", methods=READ)
def members(request: Request, principal: Admin, saved: str | None = None) -> Response:
    t = translator(page_language(request))
    return _members_page(request, principal, notice=t("web.members.saved") if saved else None)


@router.api_route("/members.json", methods=READ)
def members_json(request: Request, principal: Admin) -> Response:
    return JSONResponse(members_data(request))


@router.post("/members")
def add_member(
    request: Request,
    principal: Admin,
    email: Annotated[str, Form(max_length=300)] = "",
    role: Annotated[str, Form(max_length=20)] = "viewer",
) -> Response:
    t = translator(page_language(request))
    form = {"email": email, "role": role}
    try:
        normalize_email(email)
    except AccountError:
        return _members_page(
            request,
            principal,
            error=t("web.members.bad_email"),
            form=form,
            status_code=400,
        )
    try:
        chosen = parse_role(role)
    except AccountError:
        return _members_page(
            request, principal, error=t("web.members.bad_role"), form=form, status_code=400
        )
    try:
        added = add_user(state_of(request), workspace_key_of_app(request), email, role=chosen)
    except LastAdminError:
        return _members_page(
            request, principal, error=t("web.members.last_admin"), form=form, status_code=409
        )
    if added.created:
        return _members_page(request, principal, added=added, status_code=201)
    return RedirectResponse("/members?saved=1", status_code=303)


def _member_email(request: Request, user_id: int) -> str:
    """The e-mail of a member of this workspace; 404 for anyone else."""
    found = user_by_id(state_of(request), user_id, workspace_key_of_app(request))
    if found is None or found.role is None:
        raise WebError(404, "not_found", "web.members.no_member")
    return found.email


@router.post("/members/{user_id}/role")
def change_role(
    request: Request,
    principal: Admin,
    user_id: UserId,
    role: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    t = translator(page_language(request))
    email = _member_email(request, user_id)
    try:
        chosen = parse_role(role)
    except AccountError:
        return _members_page(request, principal, error=t("web.members.bad_role"), status_code=400)
    try:
        set_role(state_of(request), workspace_key_of_app(request), email, chosen)
    except LastAdminError:
        return _members_page(request, principal, error=t("web.members.last_admin"), status_code=409)
    # An admin who made themselves an editor can no longer see this page.
    where = "/members?saved=1" if user_id != principal.user.id or chosen == "admin" else "/"
    return RedirectResponse(where, status_code=303)


@router.post("/members/{user_id}/remove")
def remove(request: Request, principal: Admin, user_id: UserId) -> Response:
    t = translator(page_language(request))
    email = _member_email(request, user_id)
    try:
        remove_member(state_of(request), workspace_key_of_app(request), email)
    except LastAdminError:
        return _members_page(request, principal, error=t("web.members.last_admin"), status_code=409)
    where = "/members?saved=1" if user_id != principal.user.id else "/"
    return RedirectResponse(where, status_code=303)
