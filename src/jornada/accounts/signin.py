"""Signing in with an e-mail and a password, rate-limited per account and per address.

After ``per_account`` failed attempts on one e-mail (since its last success), or
``per_address`` failed attempts from one client address, within ``window``, further
attempts are refused with a :class:`RateLimitedError` until the oldest counted failure
leaves the window; the password is not even checked meanwhile, so guessing stops.

>>> import tempfile, pathlib
>>> from jornada.accounts.state import AppState
>>> from jornada.accounts.users import add_user
>>> state = AppState.open(f"sqlite:///{pathlib.Path(tempfile.mkdtemp()) / 'app.sqlite'}")
>>> _ = add_user(state, "shop", "ana@example.com", password="s3cret-pass")
>>> authenticate(state, "shop", "ana@example.com", "s3cret-pass", "10.0.0.1").role
'viewer'
>>> authenticate(state, "shop", "ana@example.com", "guess", "10.0.0.1")
Traceback (most recent call last):
...
jornada.accounts.signin.InvalidCredentialsError: wrong e-mail or password
>>> state.close()
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from jornada.accounts.errors import AccountError, RateLimitedError
from jornada.accounts.models import LoginAttempt, User
from jornada.accounts.passwords import (
    MAX_PASSWORD,
    hash_password,
    needs_rehash,
    spend_verification_time,
    verify_password,
)
from jornada.accounts.state import AppState
from jornada.accounts.users import MAX_EMAIL, UserInfo, user_info

__all__ = ["InvalidCredentialsError", "LoginLimits", "authenticate", "check_rate_limit"]


class InvalidCredentialsError(AccountError):
    """The e-mail or the password is wrong (which one is not said)."""


@dataclass(frozen=True)
class LoginLimits:
    """How many failed sign-ins are allowed within ``window``."""

    per_account: int = 5
    per_address: int = 20
    window: dt.timedelta = dt.timedelta(minutes=15)


def _login_name(text: str) -> str:
    # Not validated as an e-mail: a malformed name is simply a failed attempt.
    return text.strip().lower()[:MAX_EMAIL]


def _failures_since(
    db: Session, column: InstrumentedAttribute[str], value: str, since: dt.datetime
) -> list[dt.datetime]:
    return list(
        db.scalars(
            select(LoginAttempt.at)
            .where(column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.at >= since)
            .order_by(LoginAttempt.at)
        )
    )


def _wait(failures: list[dt.datetime], limit: int, window: dt.timedelta, now: dt.datetime) -> int:
    """Seconds until fewer than ``limit`` of ``failures`` remain in the window (0: none)."""
    if len(failures) < limit:
        return 0
    # A failure counts while ``at >= now - window``: it stops counting strictly after
    # ``at + window``, hence the first whole second past that instant.
    frees_at = failures[len(failures) - limit] + window
    return max(1, math.floor((frees_at - now).total_seconds()) + 1)


def check_rate_limit(
    state: AppState, email: str, address: str, limits: LoginLimits = LoginLimits()
) -> None:
    """Raise :class:`RateLimitedError` when ``email`` or ``address`` is locked out now."""
    email = _login_name(email)
    now = state.now()
    start = now - limits.window
    with state.session() as db:
        # Old attempts are of no further use: forget them (the table stays small).
        db.execute(delete(LoginAttempt).where(LoginAttempt.at < start))
        last_success = db.scalar(
            select(func.max(LoginAttempt.at)).where(
                LoginAttempt.email == email, LoginAttempt.succeeded.is_(True)
            )
        )
        since = max(start, last_success) if last_success is not None else start
        account = _failures_since(db, LoginAttempt.email, email, since)
        from_address = _failures_since(db, LoginAttempt.address, address, start)
    wait = max(
        _wait(account, limits.per_account, limits.window, now),
        _wait(from_address, limits.per_address, limits.window, now),
    )
    if wait:
        minutes = math.ceil(wait / 60)
        raise RateLimitedError(
            f"too many failed sign-ins; try again in {minutes} minute{'s' * (minutes != 1)}",
            retry_after=wait,
        )


def record_attempt(state: AppState, email: str, address: str, *, succeeded: bool) -> None:
    with state.session() as db:
        db.add(
            LoginAttempt(
                email=_login_name(email), address=address, at=state.now(), succeeded=succeeded
            )
        )


def authenticate(
    state: AppState,
    workspace: str,
    email: str,
    password: str,
    address: str,
    limits: LoginLimits = LoginLimits(),
) -> UserInfo:
    """The user whose e-mail and password these are, with their role on ``workspace``.

    Raises :class:`RateLimitedError` (locked out: the password is not checked) or
    :class:`InvalidCredentialsError` (wrong e-mail or password: the attempt counts).
    """
    check_rate_limit(state, email, address, limits)
    name = _login_name(email)
    password = password[:MAX_PASSWORD]
    with state.session() as db:
        found = db.scalar(select(User.id).where(User.email == name))
        stored = db.scalar(select(User.password_hash).where(User.id == found)) if found else None
    # The slow hash check runs outside any transaction (no lock held while it works).
    if stored is None:
        spend_verification_time(password)
        matched = False
    else:
        matched = verify_password(stored, password)
    record_attempt(state, name, address, succeeded=matched)
    if not matched or found is None:
        raise InvalidCredentialsError("wrong e-mail or password")
    now = state.now()
    with state.session() as db:
        user = db.get(User, found)
        if user is None:  # deleted meanwhile
            raise InvalidCredentialsError("wrong e-mail or password")
        user.last_login_at = now
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        return user_info(db, user, workspace)
