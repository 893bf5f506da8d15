"""Users and their roles on workspaces.

Every function opens its own transaction on the :class:`AppState` and returns plain
frozen dataclasses (:class:`UserInfo`), never live ORM objects.

>>> import tempfile, pathlib
>>> from jornada.accounts.state import AppState
>>> state = AppState.open(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'app.sqlite'}")
>>> added = add_user(state, "shop", "Ana@Example.com", role="editor", password="s3cret-pass")
>>> added.user.email, added.user.role, added.created, added.password
('ana@example.com', 'editor', True, None)
>>> [(user.email, user.role) for user in list_members(state, "shop")]
[('ana@example.com', 'editor')]
>>> has_role("viewer", "editor"), has_role("admin", "editor"), has_role("admin", None)
(True, False, False)
>>> set_language(state, added.user.id, "pt").language
'pt-BR'
>>> state.close()
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal, cast

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from jornada.accounts.errors import AccountError, LastAdminError, UnknownUserError
from jornada.accounts.models import ROLES, LoginAttempt, LoginSession, Membership, User
from jornada.accounts.passwords import (
    check_new_password,
    generate_password,
    hash_password,
    verify_password,
)
from jornada.accounts.state import AppState
from jornada.model._base import Language, parse_language

__all__ = [
    "NewUser",
    "Principal",
    "Role",
    "UserInfo",
    "add_user",
    "check_language",
    "delete_user",
    "find_user",
    "get_user",
    "has_role",
    "list_members",
    "list_users",
    "normalize_email",
    "parse_role",
    "remove_member",
    "reset_password",
    "set_language",
    "set_password",
    "set_role",
    "user_by_id",
]

Role = Literal["viewer", "editor", "admin"]
_RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES, start=1)}
# Deliberately loose: one "@" with text on both sides, no spaces. The address is a login
# name (no mail is sent), and "admin@jornada.local" must pass.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
MAX_EMAIL = 254
MAX_NAME = 200


def normalize_email(text: str) -> str:
    """The login name as stored: trimmed, lower-case; an :class:`AccountError` if not an
    e-mail address.

    >>> normalize_email("  Ana@Example.COM ")
    'ana@example.com'
    """
    email = text.strip().lower()
    if not _EMAIL.fullmatch(email) or len(email) > MAX_EMAIL:
        raise AccountError(f"{text.strip()!r} is not an e-mail address (like ana@example.com)")
    return email


def parse_role(text: str) -> Role:
    """A role name, checked.

    >>> parse_role("Editor")
    'editor'
    """
    role = text.strip().lower()
    if role not in _RANK:
        raise AccountError(f"unknown role {text!r}; roles: {', '.join(ROLES)}")
    return cast(Role, role)


def has_role(needed: Role, held: str | None) -> bool:
    """Whether holding ``held`` (or no role) is enough for ``needed``."""
    return held is not None and _RANK.get(held, 0) >= _RANK[needed]


@dataclass(frozen=True)
class UserInfo:
    """A user as the app shows them, with their role on one workspace (or ``None``)."""

    id: int
    email: str
    name: str
    role: Role | None
    created_at: dt.datetime
    last_login_at: dt.datetime | None
    language: Language | None = None
    """The interface language they chose; ``None``: the browser's or the workspace's."""

    def to_dict(self) -> dict[str, object]:
        return {
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at.isoformat(),
            "last_login_at": self.last_login_at.isoformat() if self.last_login_at else None,
            "language": self.language,
        }


@dataclass(frozen=True)
class Principal:
    """Who is making a request: a user, how they proved it, and what they may do.

    ``via`` is ``"session"`` (a browser cookie, which needs the CSRF token) or
    ``"token"`` (an API token, which may be read-only).
    """

    user: UserInfo
    via: Literal["session", "token"]
    csrf_token: str | None = None
    read_only: bool = False

    @property
    def role(self) -> Role | None:
        return self.user.role

    def may(self, needed: Role) -> bool:
        """Whether this principal may do what needs ``needed`` (read-only tokens: read)."""
        if self.read_only and needed != "viewer":
            return False
        return has_role(needed, self.user.role)


@dataclass(frozen=True)
class NewUser:
    """The outcome of :func:`add_user`: ``password`` is set only when one was generated
    (show it once; it is stored only as a hash)."""

    user: UserInfo
    created: bool
    password: str | None


def _role_on(db: Session, user_id: int, workspace: str) -> Role | None:
    role = db.scalar(
        select(Membership.role).where(
            Membership.user_id == user_id, Membership.workspace == workspace
        )
    )
    return cast(Role | None, role)


def _stored_language(value: str | None) -> Language | None:
    """The language column read back; a value this version does not know counts as none."""
    if value is None:
        return None
    try:
        return parse_language(value)
    except ValueError:
        return None


def _info(user: User, role: Role | None) -> UserInfo:
    return UserInfo(
        user.id,
        user.email,
        user.name,
        role,
        user.created_at,
        user.last_login_at,
        _stored_language(user.language),
    )


def user_info(db: Session, user: User, workspace: str | None) -> UserInfo:
    role = _role_on(db, user.id, workspace) if workspace is not None else None
    return _info(user, role)


def check_language(text: str | None) -> Language | None:
    """A language a user may choose (``pt``, ``pt-BR``, ``es``, ``en``), or ``None`` (or
    an empty string) to forget the choice; an :class:`AccountError` otherwise.

    >>> check_language("PT"), check_language(""), check_language(None)
    ('pt-BR', None, None)
    """
    if text is None or not text.strip():
        return None
    try:
        return parse_language(text)
    except ValueError:
        raise AccountError(f"unknown language {text.strip()!r}; languages: en, pt, es") from None


def _user(db: Session, email: str) -> User:
    user = db.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        raise UnknownUserError(
            f"no user {email.strip()!r}; see the users with `jornada user list WORKSPACE`"
        )
    return user


def _check_name(name: str) -> str:
    name = name.strip()
    if len(name) > MAX_NAME:
        raise AccountError(f"a name has at most {MAX_NAME} characters")
    return name


def _admins(db: Session, workspace: str) -> int:
    return (
        db.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.workspace == workspace, Membership.role == "admin")
        )
        or 0
    )


def _keep_an_admin(db: Session, user: User, workspace: str, new_role: Role | None) -> None:
    """Refuse a change that leaves ``workspace`` without an admin."""
    demoted = _role_on(db, user.id, workspace) == "admin" and new_role != "admin"
    if demoted and _admins(db, workspace) <= 1:
        raise LastAdminError(
            f"{user.email} is the last admin of this workspace; make another user admin first"
        )


def add_user(
    state: AppState,
    workspace: str,
    email: str,
    *,
    role: Role = "viewer",
    name: str = "",
    password: str | None = None,
    language: str | None = None,
) -> NewUser:
    """Give ``email`` the ``role`` on ``workspace``, creating the account if needed.

    A new account gets ``password``, or a generated one (returned once in
    :attr:`NewUser.password`), and ``language`` as its interface language. An existing
    account keeps its password, name and language (the language is the user's own
    choice, see :func:`set_language`).
    """
    email = normalize_email(email)
    role = parse_role(role)
    name = _check_name(name)
    chosen = check_language(language)
    if password is not None:
        check_new_password(password)
    now = state.now()
    with state.session() as db:
        user = db.scalar(select(User).where(User.email == email))
        generated = None
        created = user is None
        if user is None:
            if password is None:
                password = generated = generate_password()
            user = User(
                email=email,
                name=name,
                password_hash=hash_password(password),
                created_at=now,
                password_changed_at=now,
                last_login_at=None,
                language=chosen,
            )
            db.add(user)
            db.flush()
        _grant(db, user, workspace, role, now)
        return NewUser(user_info(db, user, workspace), created, generated)


def _grant(db: Session, user: User, workspace: str, role: Role, now: dt.datetime) -> None:
    _keep_an_admin(db, user, workspace, role)
    membership = db.get(Membership, (user.id, workspace))
    if membership is None:
        db.add(Membership(user_id=user.id, workspace=workspace, role=role, granted_at=now))
    elif membership.role != role:
        membership.role = role
        membership.granted_at = now
    db.flush()


def set_role(state: AppState, workspace: str, email: str, role: Role) -> UserInfo:
    """Change (or give) the role of an existing user on ``workspace``."""
    role = parse_role(role)
    with state.session() as db:
        user = _user(db, email)
        _grant(db, user, workspace, role, state.now())
        return user_info(db, user, workspace)


def remove_member(state: AppState, workspace: str, email: str) -> UserInfo:
    """Take away the user's role on ``workspace`` (the account stays)."""
    with state.session() as db:
        user = _user(db, email)
        _keep_an_admin(db, user, workspace, None)
        db.execute(
            delete(Membership).where(
                Membership.user_id == user.id, Membership.workspace == workspace
            )
        )
        return user_info(db, user, workspace)


def delete_user(state: AppState, email: str) -> None:
    """Delete the account: its roles, tokens and sessions go with it."""
    with state.session() as db:
        user = _user(db, email)
        for membership in list(user.memberships):
            _keep_an_admin(db, user, membership.workspace, None)
        db.delete(user)


def find_user(state: AppState, email: str, workspace: str | None = None) -> UserInfo | None:
    """The user with ``email`` (with their role on ``workspace``), or ``None``."""
    with state.session() as db:
        user = db.scalar(select(User).where(User.email == normalize_email(email)))
        return user_info(db, user, workspace) if user is not None else None


def user_by_id(state: AppState, user_id: int, workspace: str | None = None) -> UserInfo | None:
    """The user with this id (with their role on ``workspace``), or ``None``."""
    with state.session() as db:
        user = db.get(User, user_id)
        return user_info(db, user, workspace) if user is not None else None


def get_user(state: AppState, email: str, workspace: str | None = None) -> UserInfo:
    """The user with ``email``; an :class:`UnknownUserError` when there is none."""
    with state.session() as db:
        return user_info(db, _user(db, email), workspace)


def list_members(state: AppState, workspace: str) -> list[UserInfo]:
    """The users holding a role on ``workspace``, by e-mail."""
    with state.session() as db:
        rows = db.execute(
            select(User, Membership.role)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.workspace == workspace)
            .order_by(User.email)
        ).all()
        return [_info(user, cast(Role, role)) for user, role in rows]


def list_users(state: AppState, workspace: str | None = None) -> list[UserInfo]:
    """Every account of the app state (with their role on ``workspace``), by e-mail."""
    with state.session() as db:
        users = db.scalars(select(User).order_by(User.email)).all()
        return [user_info(db, user, workspace) for user in users]


def set_language(state: AppState, user_id: int, language: str | None) -> UserInfo:
    """Store the user's interface language (``None`` forgets it); an
    :class:`AccountError` for a language the interface does not speak."""
    chosen = check_language(language)
    with state.session() as db:
        user = db.get(User, user_id)
        if user is None:
            raise UnknownUserError("this account no longer exists")
        user.language = chosen
        return user_info(db, user, None)


def set_password(
    state: AppState, user_id: int, password: str, *, keep_session: str | None = None
) -> None:
    """Store a new password; every session of the user ends, except ``keep_session``
    (the SHA-256 id of the session that made the change)."""
    check_new_password(password)
    now = state.now()
    with state.session() as db:
        user = db.get(User, user_id)
        if user is None:
            raise UnknownUserError("this account no longer exists")
        user.password_hash = hash_password(password)
        user.password_changed_at = now
        ended = delete(LoginSession).where(LoginSession.user_id == user_id)
        if keep_session is not None:
            ended = ended.where(LoginSession.id_hash != keep_session)
        db.execute(ended)


def reset_password(state: AppState, email: str, password: str | None = None) -> str:
    """Give ``email`` a new password (generated unless given) and return it. Their
    sessions end and their failed sign-ins are forgotten, so they can sign in at once."""
    chosen = password if password is not None else generate_password()
    user = get_user(state, email)
    set_password(state, user.id, chosen)
    with state.session() as db:
        db.execute(delete(LoginAttempt).where(LoginAttempt.email == user.email))
    return chosen


def check_password(state: AppState, user_id: int, password: str) -> bool:
    """Whether ``password`` is the user's current password."""
    with state.session() as db:
        user = db.get(User, user_id)
        return user is not None and verify_password(user.password_hash, password)
