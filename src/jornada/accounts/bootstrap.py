"""The first admin of a workspace, and the documented account of the demo.

>>> import tempfile, pathlib
>>> from jornada.accounts.state import AppState
>>> state = AppState.open(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'app.sqlite'}")
>>> first = ensure_admin(state, "shop")
>>> first.email, first.created, len(first.password)
('admin@jornada.local', True, 23)
>>> ensure_admin(state, "shop") is None  # the workspace has an admin now
True
>>> demo = ensure_demo_account(state, "shop")
>>> demo.email, demo.password
('demo@jornada.local', 'jornada-demo')
>>> state.close()
"""

from __future__ import annotations

from dataclasses import dataclass

from jornada.accounts.state import AppState
from jornada.accounts.users import add_user, find_user, list_members

__all__ = [
    "DEMO_EMAIL",
    "DEMO_PASSWORD",
    "FIRST_ADMIN_EMAIL",
    "Credentials",
    "ensure_admin",
    "ensure_demo_account",
]

FIRST_ADMIN_EMAIL = "admin@jornada.local"
DEMO_EMAIL = "demo@jornada.local"
DEMO_PASSWORD = "jornada-demo"  # noqa: S105 - documented in the README: the demo is for one machine


@dataclass(frozen=True)
class Credentials:
    """How to sign in. ``password`` is ``None`` when an existing account was reused
    (its password is unchanged and unknown to us)."""

    email: str
    password: str | None
    created: bool


def ensure_admin(state: AppState, workspace: str) -> Credentials | None:
    """Make sure ``workspace`` has an admin: ``None`` when it has one; otherwise
    ``admin@jornada.local`` becomes its admin, created with a random password (returned
    once) when the account does not exist yet."""
    if any(member.role == "admin" for member in list_members(state, workspace)):
        return None
    added = add_user(state, workspace, FIRST_ADMIN_EMAIL, role="admin", name="Admin")
    return Credentials(FIRST_ADMIN_EMAIL, added.password, added.created)


def ensure_demo_account(state: AppState, workspace: str) -> Credentials:
    """The demo account (``demo@jornada.local`` / ``jornada-demo``), admin of the demo
    workspace. An existing account keeps its role and password."""
    existing = find_user(state, DEMO_EMAIL, workspace)
    if existing is not None and existing.role is not None:
        return Credentials(DEMO_EMAIL, DEMO_PASSWORD, False)
    added = add_user(
        state,
        workspace,
        DEMO_EMAIL,
        role="admin",
        name="Demo",
        password=DEMO_PASSWORD if existing is None else None,
    )
    return Credentials(DEMO_EMAIL, DEMO_PASSWORD, added.created)
