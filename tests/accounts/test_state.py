"""The app-state database: migrations match the models, run on open, on SQLite and on a
real PostgreSQL server; where the state lives; clear errors for bad URLs."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from jornada.accounts import AccountError, AppState, state_url
from jornada.accounts.models import Base
from jornada.accounts.sessions import resolve_session, start_session
from jornada.accounts.signin import InvalidCredentialsError, authenticate
from jornada.accounts.state import VERSION_TABLE, head_revision, migration_config
from jornada.accounts.tokens import create_token, resolve_token
from jornada.accounts.users import add_user, delete_user, list_members

TABLES = {"users", "memberships", "api_tokens", "login_sessions", "login_attempts"}


def differences(state: AppState) -> list[object]:
    """What Alembic's autogenerate would write to bring the database to the models."""
    with state.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        return list(compare_metadata(context, Base.metadata))


def test_models_match_the_migrations(state: AppState) -> None:
    assert state.revision() == head_revision()
    assert set(inspect(state.engine).get_table_names()) >= TABLES
    assert differences(state) == []
    # The comparison does see a difference when there is one.
    with state.engine.begin() as connection:
        connection.execute(text("DROP INDEX ix_login_attempts_email_at"))
        connection.execute(text("ALTER TABLE users ADD COLUMN stray TEXT"))
    found = repr(differences(state))
    assert "ix_login_attempts_email_at" in found
    assert "stray" in found


def test_migrations_run_once_and_go_both_ways(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.sqlite'}"
    first = AppState.open(url)
    add_user(first, "shop", "ana@example.com", password="s3cret-pass")
    first.close()
    again = AppState.open(url)  # nothing to migrate: the data is still there
    assert [user.email for user in list_members(again, "shop")] == ["ana@example.com"]
    assert again.revision() == head_revision()
    config = migration_config()
    with again.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert TABLES.isdisjoint(inspect(again.engine).get_table_names())
    assert again.revision() is None
    again.migrate()
    assert differences(again) == []
    again.close()


def test_where_the_state_lives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JORNADA_STATE_URL", raising=False)
    root = tmp_path / "ws"
    root.mkdir()
    assert state_url(root) == f"sqlite:///{root.resolve() / 'app.sqlite'}"
    monkeypatch.setenv("JORNADA_STATE_URL", "postgresql://app@db/jornada")
    assert state_url(root) == "postgresql://app@db/jornada"
    assert state_url(root, "sqlite:////srv/state.sqlite") == "sqlite:////srv/state.sqlite"

    opened = AppState.open(f"sqlite:///{root / 'app.sqlite'}")
    opened.close()
    mode = stat.S_IMODE((root / "app.sqlite").stat().st_mode)
    assert mode == 0o600  # password hashes: readable by the owner only


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a database URL"),
        ("mysql://app@db/jornada", "lives in SQLite or PostgreSQL"),
        ("sqlite:////no/such/directory/app.sqlite", "does not exist"),
        (
            "postgresql://app:hunter2@/jornada?host=/no/such/socket/dir",
            r"cannot open the app state postgresql://app:\*\*\*@/jornada\?host=.*: .*No such file",
        ),
    ],
)
def test_bad_urls_are_clear_errors(url: str, message: str) -> None:
    with pytest.raises(AccountError, match=message) as error:
        AppState.open(url)
    assert "hunter2" not in str(error.value)


@pytest.mark.slow
def test_on_postgresql(postgres: str) -> None:
    state = AppState.open(postgres)
    try:
        assert state.engine.dialect.name == "postgresql"
        assert state.revision() == head_revision()
        assert differences(state) == []
        ana = add_user(state, "shop", "ana@example.com", role="admin", password="s3cret-pass")
        add_user(state, "shop", "bo@example.com", role="viewer", password="other-pass")
        signed_in = authenticate(state, "shop", "ana@example.com", "s3cret-pass", "10.0.0.1")
        assert signed_in.role == "admin"
        assert signed_in.last_login_at is not None
        assert signed_in.last_login_at.tzinfo is not None
        with pytest.raises(InvalidCredentialsError):
            authenticate(state, "shop", "bo@example.com", "wrong", "10.0.0.1")
        session = start_session(state, ana.user.id)
        principal = resolve_session(state, session.secret, "shop")
        assert principal is not None
        assert principal.role == "admin"
        token = create_token(state, ana.user.id, "ci", read_only=True)
        assert resolve_token(state, token.secret, "shop") is not None
        delete_user(state, "bo@example.com")
        assert [member.email for member in list_members(state, "shop")] == ["ana@example.com"]
        # Reopening runs no migration twice.
        state.close()
        state = AppState.open(postgres)
        assert resolve_session(state, session.secret, "shop") is not None
    finally:
        state.close()
