"""Users, roles per workspace, passwords (Argon2id, never in clear), bootstrap accounts."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from jornada.accounts import AccountError, AppState, LastAdminError, UnknownUserError
from jornada.accounts.bootstrap import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    FIRST_ADMIN_EMAIL,
    ensure_admin,
    ensure_demo_account,
)
from jornada.accounts.models import ApiToken, LoginSession, Membership
from jornada.accounts.passwords import hash_password, needs_rehash, verify_password
from jornada.accounts.sessions import resolve_session, start_session
from jornada.accounts.signin import InvalidCredentialsError, authenticate
from jornada.accounts.tokens import create_token
from jornada.accounts.users import (
    add_user,
    delete_user,
    find_user,
    has_role,
    list_members,
    list_users,
    normalize_email,
    remove_member,
    reset_password,
    set_role,
)


def test_add_user_creates_once_and_grants_per_workspace(state: AppState) -> None:
    first = add_user(state, "shop", "Ana@Example.com", role="editor", name="Ana")
    assert first.created
    assert first.password is not None  # generated, shown once
    assert len(first.password) == 23
    again = add_user(state, "support", "ana@example.com", role="viewer", name="Other")
    assert not again.created
    assert again.password is None
    assert again.user.name == "Ana"  # an existing account keeps its name and password
    assert find_user(state, "ANA@example.com", "shop").role == "editor"  # type: ignore[union-attr]
    assert find_user(state, "ana@example.com", "support").role == "viewer"  # type: ignore[union-attr]
    assert find_user(state, "ana@example.com", "elsewhere").role is None  # type: ignore[union-attr]
    authenticate(state, "shop", "ana@example.com", first.password, "10.0.0.1")
    assert [user.email for user in list_users(state)] == ["ana@example.com"]


def test_passwords_are_argon2id_hashes(state: AppState) -> None:
    add_user(state, "shop", "ana@example.com", password="s3cret-pass")
    with state.engine.connect() as connection:
        stored = connection.execute(text("SELECT password_hash FROM users")).scalar_one()
    assert stored.startswith("$argon2id$")
    assert "s3cret-pass" not in stored
    assert verify_password(stored, "s3cret-pass")
    assert not verify_password(stored, "s3cret-pasS")
    assert not verify_password("not a hash", "s3cret-pass")
    assert hash_password("same") != hash_password("same")  # salted
    assert not needs_rehash(stored)
    assert needs_rehash("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo")


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "at least 8"), (" " * 9, "only spaces"), ("x" * 1025, "at most 1024")],
)
def test_weak_passwords_are_refused(state: AppState, password: str, message: str) -> None:
    with pytest.raises(AccountError, match=message):
        add_user(state, "shop", "ana@example.com", password=password)
    assert find_user(state, "ana@example.com") is None


@pytest.mark.parametrize("email", ["ana", "ana@", "@example.com", "a b@example.com", ""])
def test_email_must_look_like_one(email: str) -> None:
    with pytest.raises(AccountError, match="not an e-mail address"):
        normalize_email(email)


def test_roles(state: AppState) -> None:
    assert [has_role("editor", held) for held in (None, "viewer", "editor", "admin")] == [
        False,
        False,
        True,
        True,
    ]
    with pytest.raises(AccountError, match="unknown role 'owner'; roles: viewer, editor, admin"):
        add_user(state, "shop", "ana@example.com", role="owner")  # type: ignore[arg-type]
    add_user(state, "shop", "ana@example.com", role="admin")
    add_user(state, "shop", "bo@example.com", role="viewer")
    assert set_role(state, "shop", "bo@example.com", "editor").role == "editor"
    with pytest.raises(UnknownUserError, match=r"no user 'cy@example\.com'"):
        set_role(state, "shop", "cy@example.com", "viewer")


def test_a_workspace_keeps_an_admin(state: AppState) -> None:
    add_user(state, "shop", "ana@example.com", role="admin")
    add_user(state, "shop", "bo@example.com", role="editor")
    with pytest.raises(LastAdminError, match=r"ana@example\.com is the last admin"):
        set_role(state, "shop", "ana@example.com", "editor")
    with pytest.raises(LastAdminError):
        remove_member(state, "shop", "ana@example.com")
    with pytest.raises(LastAdminError):
        delete_user(state, "ana@example.com")
    set_role(state, "shop", "bo@example.com", "admin")
    remove_member(state, "shop", "ana@example.com")  # now there is another admin
    assert [(u.email, u.role) for u in list_members(state, "shop")] == [("bo@example.com", "admin")]
    assert find_user(state, "ana@example.com") is not None  # the account stays


def test_deleting_a_user_takes_everything_of_theirs(state: AppState) -> None:
    ana = add_user(state, "shop", "ana@example.com", role="editor").user
    add_user(state, "support", "ana@example.com", role="viewer")
    add_user(state, "shop", "bo@example.com", role="admin")
    start_session(state, ana.id)
    create_token(state, ana.id, "ci")
    delete_user(state, "ana@example.com")
    assert find_user(state, "ana@example.com") is None
    with state.session() as db:
        for table in (Membership, LoginSession, ApiToken):
            assert (
                db.scalar(select(func.count()).select_from(table).where(table.user_id == ana.id))
                == 0
            )


@pytest.mark.slow
def test_reset_password_ends_sessions_and_lockouts(state: AppState) -> None:
    ana = add_user(state, "shop", "ana@example.com", password="s3cret-pass").user
    session = start_session(state, ana.id)
    for _ in range(5):
        with pytest.raises(InvalidCredentialsError):
            authenticate(state, "shop", "ana@example.com", "guess-guess", "10.0.0.1")
    new = reset_password(state, "ana@example.com")
    assert resolve_session(state, session.secret, "shop") is None
    assert (
        authenticate(state, "shop", "ana@example.com", new, "10.0.0.1").email == "ana@example.com"
    )
    chosen = reset_password(state, "ana@example.com", "chosen-password")
    assert chosen == "chosen-password"
    with pytest.raises(InvalidCredentialsError):
        authenticate(state, "shop", "ana@example.com", new, "10.0.0.1")


def test_first_admin_and_demo_account(state: AppState) -> None:
    first = ensure_admin(state, "shop")
    assert first is not None
    assert (first.email, first.created) == (FIRST_ADMIN_EMAIL, True)
    assert first.password is not None
    assert authenticate(state, "shop", FIRST_ADMIN_EMAIL, first.password, "::1").role == "admin"
    assert ensure_admin(state, "shop") is None
    # Another workspace on the same state reuses the account (its password unchanged).
    other = ensure_admin(state, "support")
    assert other is not None
    assert (other.created, other.password) == (False, None)
    assert find_user(state, FIRST_ADMIN_EMAIL, "support").role == "admin"  # type: ignore[union-attr]

    demo = ensure_demo_account(state, "demo")
    assert (demo.email, demo.password, demo.created) == (DEMO_EMAIL, DEMO_PASSWORD, True)
    assert authenticate(state, "demo", DEMO_EMAIL, DEMO_PASSWORD, "::1").role == "admin"
    set_role(state, "demo", FIRST_ADMIN_EMAIL, "admin")
    set_role(state, "demo", DEMO_EMAIL, "viewer")
    assert not ensure_demo_account(state, "demo").created
    assert find_user(state, DEMO_EMAIL, "demo").role == "viewer"  # type: ignore[union-attr]
