"""API tokens for scripts: ``Authorization: Bearer jrn_...``.

A token acts as its user, with the user's role on the workspace; a read-only token
only reads. The secret is shown once, when created; the database keeps its SHA-256.

>>> import tempfile, pathlib
>>> from jornada.accounts.state import AppState
>>> from jornada.accounts.users import add_user
>>> state = AppState.open(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'app.sqlite'}")
>>> ana = add_user(state, "shop", "ana@example.com", role="editor").user
>>> made = create_token(state, ana.id, "nightly export", read_only=True)
>>> made.secret.startswith("jrn_"), made.info.prefix == made.secret[:10]
(True, True)
>>> principal = resolve_token(state, made.secret, "shop")
>>> principal.user.email, principal.may("viewer"), principal.may("editor")
('ana@example.com', True, False)
>>> revoke_token(state, ana.id, made.info.id), resolve_token(state, made.secret, "shop")
(True, None)
>>> state.close()
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select

from jornada.accounts.errors import AccountError
from jornada.accounts.models import ApiToken, User
from jornada.accounts.state import AppState
from jornada.accounts.users import Principal, user_info

__all__ = [
    "TOKEN_PREFIX",
    "NewToken",
    "TokenInfo",
    "create_token",
    "list_tokens",
    "resolve_token",
    "revoke_token",
]

TOKEN_PREFIX = "jrn_"  # noqa: S105 - a prefix, not a secret
_SHOWN = 10  # characters of the token kept to tell tokens apart in lists
_TOUCH_EVERY = dt.timedelta(minutes=5)
_MAX_SECRET = 128
MAX_TOKEN_NAME = 100


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never its secret."""

    id: int
    name: str
    prefix: str
    read_only: bool
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    expires_at: dt.datetime | None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "read_only": self.read_only,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


@dataclass(frozen=True)
class NewToken:
    info: TokenInfo
    secret: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _info(token: ApiToken) -> TokenInfo:
    return TokenInfo(
        token.id,
        token.name,
        token.prefix,
        token.read_only,
        token.created_at,
        token.last_used_at,
        token.expires_at,
    )


def create_token(
    state: AppState,
    user_id: int,
    name: str,
    *,
    read_only: bool = False,
    expires_in: dt.timedelta | None = None,
) -> NewToken:
    """A new token for the user; its secret is in the result and nowhere else."""
    name = name.strip()
    if not name or len(name) > MAX_TOKEN_NAME:
        raise AccountError(f"give the token a name of 1 to {MAX_TOKEN_NAME} characters")
    if expires_in is not None and expires_in <= dt.timedelta(0):
        raise AccountError("a token's lifetime must be positive")
    now = state.now()
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with state.session() as db:
        if db.get(User, user_id) is None:
            raise AccountError("this account no longer exists")
        token = ApiToken(
            user_id=user_id,
            name=name,
            token_hash=_digest(secret),
            prefix=secret[:_SHOWN],
            read_only=read_only,
            created_at=now,
            last_used_at=None,
            expires_at=now + expires_in if expires_in is not None else None,
        )
        db.add(token)
        db.flush()
        return NewToken(_info(token), secret)


def list_tokens(state: AppState, user_id: int) -> list[TokenInfo]:
    """The user's tokens, newest first."""
    with state.session() as db:
        tokens = db.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user_id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
        return [_info(token) for token in tokens]


def revoke_token(state: AppState, user_id: int, token_id: int) -> bool:
    """Delete one of the user's tokens; ``False`` when the user has no such token."""
    with state.session() as db:
        deleted = db.execute(
            delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
        )
        return bool(getattr(deleted, "rowcount", 0))


def resolve_token(state: AppState, secret: str, workspace: str) -> Principal | None:
    """The principal a token stands for (role on ``workspace``), or ``None`` when the
    token is unknown, revoked or expired."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > _MAX_SECRET:
        return None
    now = state.now()
    with state.session() as db:
        token = db.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(secret)))
        if token is None or (token.expires_at is not None and token.expires_at <= now):
            return None
        user = db.get(User, token.user_id)
        if user is None:
            return None
        if token.last_used_at is None or now - token.last_used_at >= _TOUCH_EVERY:
            token.last_used_at = now
        return Principal(user_info(db, user, workspace), "token", read_only=token.read_only)
