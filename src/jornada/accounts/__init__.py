"""The app state: users, their roles per workspace, API tokens, sessions, sign-in limits.

SQLAlchemy 2 models (:mod:`.models`) with Alembic migrations shipped in this package and
run on open (:class:`AppState`); SQLite by default, PostgreSQL by URL. Passwords are
Argon2id hashes (:mod:`.passwords`). The web app and ``jornada user`` both use these
functions; nothing here knows about HTTP.

>>> workspace_key_of(None, "/srv/journeys/shop")
'shop'
>>> workspace_key_of("a1b2c3", "/srv/journeys/shop")
'a1b2c3'
"""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from jornada.accounts.errors import (
    AccountError,
    LastAdminError,
    RateLimitedError,
    UnknownUserError,
)
from jornada.accounts.state import STATE_ENV, AppState, state_url
from jornada.accounts.users import Principal, Role, UserInfo

if TYPE_CHECKING:
    from jornada.workspace import Workspace

__all__ = [
    "STATE_ENV",
    "AccountError",
    "AppState",
    "LastAdminError",
    "Principal",
    "RateLimitedError",
    "Role",
    "UnknownUserError",
    "UserInfo",
    "state_url",
    "workspace_key",
    "workspace_key_of",
]


def workspace_key_of(stable_id: Any, root: str | PurePath) -> str:
    """The key roles are stored under: the workspace's ``id`` from ``jornada.toml`` when
    it has one, else the name of its directory."""
    if isinstance(stable_id, str) and stable_id.strip():
        return stable_id.strip()
    return PurePath(root).name


def workspace_key(workspace: Workspace) -> str:
    """The key of ``workspace``'s roles in the app state (see :func:`workspace_key_of`)."""
    return workspace_key_of(
        getattr(workspace.settings, "id", None), workspace.root.expanduser().resolve()
    )
