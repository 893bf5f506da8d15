"""The interface language stored on a user: set, checked, forgotten, and the migration
that adds it to an app database that already has users."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from jornada.accounts import AccountError, AppState
from jornada.accounts.passwords import hash_password
from jornada.accounts.signin import authenticate
from jornada.accounts.state import head_revision, migration_config
from jornada.accounts.users import (
    add_user,
    find_user,
    list_members,
    set_language,
)


def test_set_check_and_forget(state: AppState) -> None:
    ana = add_user(state, "shop", "ana@example.com", password="s3cret-pass").user
    bo = add_user(state, "shop", "bo@example.com", password="s3cret-pass", language="es").user
    assert (ana.language, bo.language) == (None, "es")
    assert set_language(state, ana.id, "PT").language == "pt-BR"
    assert set_language(state, ana.id, "pt_BR").language == "pt-BR"
    with pytest.raises(AccountError, match="unknown language 'fr'"):
        set_language(state, ana.id, "fr")
    found = find_user(state, "ana@example.com", "shop")
    assert found is not None
    assert (found.language, found.role) == ("pt-BR", "viewer")  # the failed call changed nothing
    assert found.to_dict()["language"] == "pt-BR"
    assert [(u.email, u.language) for u in list_members(state, "shop")] == [
        ("ana@example.com", "pt-BR"),
        ("bo@example.com", "es"),
    ]
    # What signing in returns carries it, so the app can use it at once.
    signed_in = authenticate(state, "shop", "ana@example.com", "s3cret-pass", "test")
    assert signed_in.language == "pt-BR"
    assert set_language(state, ana.id, "").language is None
    assert set_language(state, bo.id, None).language is None
    # add_user leaves an existing account's choice alone (it is the user's own).
    set_language(state, ana.id, "es")
    add_user(state, "bank", "ana@example.com", role="editor", language="en")
    assert find_user(state, "ana@example.com").language == "es"  # type: ignore[union-attr]
    with pytest.raises(AccountError, match="unknown language"):
        add_user(state, "shop", "cy@example.com", language="klingon")
    assert find_user(state, "cy@example.com") is None


def test_a_value_this_version_does_not_know_counts_as_none(state: AppState) -> None:
    ana = add_user(state, "shop", "ana@example.com", password="s3cret-pass").user
    with state.engine.begin() as connection:  # e.g. written by a newer jornada
        connection.execute(text("UPDATE users SET language = 'fr' WHERE id = :id"), {"id": ana.id})
    assert find_user(state, "ana@example.com").language is None  # type: ignore[union-attr]


def test_the_migration_upgrades_a_database_with_users(tmp_path: Path) -> None:
    """An app database of the previous release (revision 0002) with a user, a role and a
    session: brought to head, everything is still there and the user has no language."""
    url = f"sqlite:///{tmp_path / 'app.sqlite'}"
    old = AppState.open(url, migrate=False)
    config = migration_config()
    with old.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002_map_history")
    assert "language" not in {c["name"] for c in inspect(old.engine).get_columns("users")}
    # Rows written the way 0002's schema wants them (the models already know the column).
    now = dt.datetime(2026, 1, 1, 12)
    with old.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, email, name, password_hash, created_at, "
                "password_changed_at) VALUES (7, 'ana@example.com', 'Ana', :hash, :now, :now)"
            ),
            {"hash": hash_password("s3cret-pass"), "now": now},
        )
        connection.execute(
            text(
                "INSERT INTO memberships (user_id, workspace, role, granted_at) "
                "VALUES (7, 'shop', 'admin', :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO login_sessions (id_hash, user_id, csrf_token, created_at, "
                "last_seen_at, expires_at) VALUES ('h', 7, 'c', :now, :now, :now)"
            ),
            {"now": now},
        )
    old.close()

    state = AppState.open(url)  # opening migrates
    try:
        assert state.revision() == head_revision() == "0003_user_language"
        ana = find_user(state, "ana@example.com", "shop")
        assert ana is not None
        assert (ana.id, ana.name, ana.role, ana.language) == (7, "Ana", "admin", None)
        assert authenticate(state, "shop", "ana@example.com", "s3cret-pass", "t").id == 7
        assert set_language(state, 7, "es").language == "es"
        with state.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM login_sessions")).scalar() == 1

        # And back: the column goes, the user, their role and session stay (on SQLite a
        # table copy would have cascaded the delete to every membership).
        with state.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0002_map_history")
        assert "language" not in {c["name"] for c in inspect(state.engine).get_columns("users")}
        with state.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM memberships")).scalar() == 1
            assert connection.execute(text("SELECT count(*) FROM login_sessions")).scalar() == 1
        state.migrate()
        assert find_user(state, "ana@example.com").language is None  # type: ignore[union-attr]
    finally:
        state.close()
