"""Sessions and API tokens: lifetimes, revocation, what is stored."""

from __future__ import annotations

import datetime as dt

import pytest

from jornada.accounts import AccountError, AppState
from jornada.accounts.sessions import (
    SESSION_IDLE,
    SESSION_LIFETIME,
    end_session,
    resolve_session,
    session_digest,
    start_session,
)
from jornada.accounts.tokens import create_token, list_tokens, resolve_token, revoke_token
from jornada.accounts.users import add_user, delete_user, set_password
from tests.accounts.conftest import Clock


def test_a_session_lives_while_used_up_to_its_lifetime(state: AppState, clock: Clock) -> None:
    ana = add_user(state, "shop", "ana@example.com", role="editor").user
    session = start_session(state, ana.id)
    assert session.secret != session.csrf_token
    used = 0.0
    # Used every two days, the session lives until its absolute lifetime.
    while used + 2 < SESSION_LIFETIME.days:
        clock.advance(days=2)
        used += 2
        assert resolve_session(state, session.secret, "shop") is not None, used
    clock.advance(days=SESSION_LIFETIME.days - used)
    assert resolve_session(state, session.secret, "shop") is None


def test_an_idle_session_ends(state: AppState, clock: Clock) -> None:
    ana = add_user(state, "shop", "ana@example.com").user
    session = start_session(state, ana.id)
    clock.advance(seconds=SESSION_IDLE.total_seconds() - 1)
    assert resolve_session(state, session.secret, "shop") is not None
    clock.advance(seconds=SESSION_IDLE.total_seconds())
    assert resolve_session(state, session.secret, "shop") is None


def test_sessions_end_on_sign_out_password_change_and_deletion(state: AppState) -> None:
    ana = add_user(state, "shop", "ana@example.com").user
    add_user(state, "shop", "bo@example.com", role="admin")
    one, two, three = (start_session(state, ana.id) for _ in range(3))
    end_session(state, one.secret)
    assert resolve_session(state, one.secret, "shop") is None
    set_password(state, ana.id, "new-password", keep_session=session_digest(two.secret))
    assert resolve_session(state, two.secret, "shop") is not None
    assert resolve_session(state, three.secret, "shop") is None
    delete_user(state, "ana@example.com")
    assert resolve_session(state, two.secret, "shop") is None
    for nonsense in ("", "x", "y" * 500):
        assert resolve_session(state, nonsense, "shop") is None


def test_tokens(state: AppState, clock: Clock) -> None:
    ana = add_user(state, "shop", "ana@example.com", role="editor").user
    bo = add_user(state, "shop", "bo@example.com", role="admin").user
    made = create_token(state, ana.id, "  ci  ")
    assert made.info.name == "ci"
    principal = resolve_token(state, made.secret, "shop")
    assert principal is not None
    assert (principal.user.email, principal.via, principal.read_only) == (
        "ana@example.com",
        "token",
        False,
    )
    assert principal.may("editor")
    assert not principal.may("admin")
    assert resolve_token(state, made.secret, "elsewhere").role is None  # type: ignore[union-attr]
    clock.advance(minutes=10)
    resolve_token(state, made.secret, "shop")
    assert list_tokens(state, ana.id)[0].last_used_at == clock.now

    assert not revoke_token(state, bo.id, made.info.id)  # not bo's token
    assert resolve_token(state, made.secret, "shop") is not None
    assert revoke_token(state, ana.id, made.info.id)
    assert resolve_token(state, made.secret, "shop") is None

    for bad in ("", "jrn_", made.secret[:-1], "Bearer " + made.secret, "x" * 200):
        assert resolve_token(state, bad, "shop") is None
    with pytest.raises(AccountError, match="name"):
        create_token(state, ana.id, "   ")
    with pytest.raises(AccountError, match="positive"):
        create_token(state, ana.id, "ci", expires_in=dt.timedelta(0))
