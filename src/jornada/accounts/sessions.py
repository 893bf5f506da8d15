"""Browser sessions: a random id in an HttpOnly cookie, its SHA-256 in the database.

A session ends when signed out, ``SESSION_IDLE`` after its last request, or
``SESSION_LIFETIME`` after sign-in, whichever comes first. Each carries its own CSRF
token (the synchronizer token of every form and state-changing request).

>>> import tempfile, pathlib
>>> from jornada.accounts.state import AppState
>>> from jornada.accounts.users import add_user
>>> state = AppState.open(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'app.sqlite'}")
>>> ana = add_user(state, "shop", "ana@example.com", role="editor").user
>>> started = start_session(state, ana.id)
>>> principal = resolve_session(state, started.secret, "shop")
>>> principal.user.email, principal.role, principal.csrf_token == started.csrf_token
('ana@example.com', 'editor', True)
>>> end_session(state, started.secret)
>>> resolve_session(state, started.secret, "shop") is None
True
>>> state.close()
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, or_

from jornada.accounts.models import LoginSession, User
from jornada.accounts.state import AppState
from jornada.accounts.users import Principal, user_info

__all__ = [
    "SESSION_IDLE",
    "SESSION_LIFETIME",
    "NewSession",
    "end_session",
    "resolve_session",
    "session_digest",
    "start_session",
]

SESSION_LIFETIME = dt.timedelta(days=14)
SESSION_IDLE = dt.timedelta(days=3)
_TOUCH_EVERY = dt.timedelta(minutes=5)  # at most one write per session per 5 minutes
_MAX_SECRET = 128


@dataclass(frozen=True)
class NewSession:
    """A session just started: ``secret`` goes in the cookie and nowhere else."""

    secret: str
    csrf_token: str
    expires_at: dt.datetime


def session_digest(secret: str) -> str:
    """What the database keeps of a session id."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def start_session(state: AppState, user_id: int) -> NewSession:
    """Start a session for the user (always a new id: no session fixation)."""
    now = state.now()
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = now + SESSION_LIFETIME
    with state.session() as db:
        # Sweep sessions that have ended, so the table does not grow without bound.
        db.execute(
            delete(LoginSession).where(
                or_(LoginSession.expires_at < now, LoginSession.last_seen_at < now - SESSION_IDLE)
            )
        )
        db.add(
            LoginSession(
                id_hash=session_digest(secret),
                user_id=user_id,
                csrf_token=csrf,
                created_at=now,
                last_seen_at=now,
                expires_at=expires,
            )
        )
    return NewSession(secret, csrf, expires)


def resolve_session(state: AppState, secret: str, workspace: str) -> Principal | None:
    """The principal of a live session (with their role on ``workspace``), else ``None``."""
    if not secret or len(secret) > _MAX_SECRET:
        return None
    now = state.now()
    with state.session() as db:
        row = db.get(LoginSession, session_digest(secret))
        if row is None:
            return None
        if row.expires_at <= now or row.last_seen_at + SESSION_IDLE <= now:
            db.delete(row)
            return None
        user = db.get(User, row.user_id)
        if user is None:
            return None
        if now - row.last_seen_at >= _TOUCH_EVERY:
            row.last_seen_at = now
        return Principal(user_info(db, user, workspace), "session", csrf_token=row.csrf_token)


def end_session(state: AppState, secret: str) -> None:
    """Sign out: the session id stops working at once."""
    with state.session() as db:
        db.execute(delete(LoginSession).where(LoginSession.id_hash == session_digest(secret)))
