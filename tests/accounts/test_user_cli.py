"""``jornada user ...`` and the accounts side of ``jornada serve``, through the CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from jornada.accounts import AppState, state_url, workspace_key
from jornada.accounts.bootstrap import DEMO_EMAIL, DEMO_PASSWORD, FIRST_ADMIN_EMAIL
from jornada.accounts.signin import authenticate
from jornada.accounts.tokens import resolve_token
from jornada.accounts.users import find_user
from jornada.cli import run
from jornada.workspace import Workspace
from tests.web.conftest import sign_in


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.delenv("JORNADA_STATE_URL", raising=False)
    return Workspace.init(tmp_path / "shop", name="Shop")


def state_of(workspace: Workspace) -> AppState:
    return AppState.open(state_url(workspace.root))


@pytest.mark.slow
def test_add_list_remove(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(workspace.root)
    assert run(["user", "add", ws, "Ana@Example.com", "--role", "editor", "--name", "Ana"]) == 0
    out = capsys.readouterr()
    password = out.out.strip()
    assert "created ana@example.com: editor on this workspace" in out.err
    assert len(password) == 23
    state = state_of(workspace)
    try:
        assert (
            authenticate(state, workspace_key(workspace), "ana@example.com", password, "cli").role
            == "editor"
        )
    finally:
        state.close()
    assert (workspace.root / "app.sqlite").is_file()  # the default place of the state

    assert run(["user", "add", ws, "bo@example.com", "--role", "admin", "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert (added["email"], added["role"], added["created"]) == ("bo@example.com", "admin", True)
    assert run(["user", "add", ws, "ana@example.com", "--role", "viewer"]) == 0
    assert "updated ana@example.com: viewer" in capsys.readouterr().err

    assert run(["user", "list", ws, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(u["email"], u["name"], u["role"]) for u in listed] == [
        ("ana@example.com", "Ana", "viewer"),
        ("bo@example.com", "", "admin"),
    ]
    assert run(["user", "list", ws]) == 0
    table = capsys.readouterr().out
    assert "ana@example.com" in table
    assert "never" in table

    assert run(["user", "remove", ws, "bo@example.com"]) == 1
    assert "bo@example.com is the last admin" in capsys.readouterr().err
    assert run(["user", "remove", ws, "ana@example.com"]) == 0
    assert "no role on this workspace any more" in capsys.readouterr().err
    assert run(["user", "remove", ws, "ana@example.com", "--delete-account"]) == 0
    state = state_of(workspace)
    try:
        assert find_user(state, "ana@example.com") is None
    finally:
        state.close()
    assert run(["user", "remove", ws, "zed@example.com"]) == 1
    assert "no user 'zed@example.com'" in capsys.readouterr().err


def test_errors_are_one_line(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(workspace.root)
    assert run(["user", "add", ws, "not-an-email"]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: 'not-an-email' is not an e-mail address (like ana@example.com)"
    )
    assert run(["user", "add", ws, "a@b.c", "--role", "owner"]) == 1
    assert "unknown role 'owner'" in capsys.readouterr().err
    assert run(["user", "list", str(workspace.root / "nope")]) == 1
    assert "is not a jornada workspace" in capsys.readouterr().err
    assert run(["user", "list", ws, "--state", "mysql://x@y/z"]) == 1
    assert "lives in SQLite or PostgreSQL" in capsys.readouterr().err


def test_password_from_stdin_and_reset(
    workspace: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = str(workspace.root)
    monkeypatch.setattr("sys.stdin", io.StringIO("chosen-password\n"))
    assert run(["user", "add", ws, "ana@example.com", "--password-stdin"]) == 0
    assert capsys.readouterr().out == ""  # nothing to show: the password was given
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert run(["user", "reset-password", ws, "ana@example.com", "--password-stdin"]) == 1
    assert "at least 8 characters" in capsys.readouterr().err

    assert run(["user", "reset-password", ws, "ana@example.com", "--json"]) == 0
    new = json.loads(capsys.readouterr().out)["password"]
    state = state_of(workspace)
    try:
        assert (
            authenticate(state, workspace_key(workspace), "ana@example.com", new, "cli").email
            == "ana@example.com"
        )
    finally:
        state.close()


def test_token(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(workspace.root)
    assert run(["user", "add", ws, "ana@example.com", "--role", "editor"]) == 0
    capsys.readouterr()
    assert run(["user", "token", ws, "ana@example.com", "--name", "ci", "--read-only"]) == 0
    secret = capsys.readouterr().out.strip()
    assert run(["user", "token", ws, "ana@example.com", "--expires-days", "7", "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["expires_at"] is not None
    assert made["read_only"] is False
    state = state_of(workspace)
    try:
        principal = resolve_token(state, secret, workspace_key(workspace))
        assert principal is not None
        assert principal.read_only
        assert principal.role == "editor"
        assert resolve_token(state, made["token"], workspace_key(workspace)) is not None
    finally:
        state.close()
    assert run(["user", "token", ws, "ana@example.com", "--expires-days", "0"]) == 1


def test_state_option_and_environment(
    workspace: Workspace,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    elsewhere = tmp_path / "shared.sqlite"
    url = f"sqlite:///{elsewhere}"
    assert run(["user", "add", str(workspace.root), "ana@example.com", "--state", url]) == 0
    assert elsewhere.is_file()
    assert not (workspace.root / "app.sqlite").exists()
    monkeypatch.setenv("JORNADA_STATE_URL", url)
    capsys.readouterr()
    assert run(["user", "list", str(workspace.root), "--json"]) == 0
    assert [u["email"] for u in json.loads(capsys.readouterr().out)] == ["ana@example.com"]


def _fake_uvicorn(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    served: dict[str, Any] = {}

    def fake_run(app: FastAPI, *, host: str, port: int) -> None:
        served.update(app=app, host=host, port=port)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    return served


def test_first_run_of_serve_creates_an_admin(
    workspace: Workspace, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    served = _fake_uvicorn(monkeypatch)
    assert run(["serve", str(workspace.root)]) == 0
    err = capsys.readouterr().err
    assert "First run" in err
    assert f"sign in as  {FIRST_ADMIN_EMAIL}" in err
    password = err.split("password    ")[1].split()[0]
    with TestClient(served["app"], base_url="http://127.0.0.1:8000") as client:
        assert sign_in(client, FIRST_ADMIN_EMAIL, password).status_code == 303
        assert client.get("/members.json").json()["members"][0]["role"] == "admin"
    # The second run says nothing about passwords.
    assert run(["serve", str(workspace.root)]) == 0
    err = capsys.readouterr().err
    assert "password" not in err
    assert "serving" in err


@pytest.mark.slow
def test_serve_demo_signs_in_with_the_documented_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JORNADA_STATE_URL", raising=False)
    served = _fake_uvicorn(monkeypatch)
    demo = tmp_path / "demo"
    assert run(["demo", str(demo), "--customers", "0"]) == 0
    assert run(["serve", str(demo), "--demo"]) == 0
    err = capsys.readouterr().err
    assert f"sign in as  {DEMO_EMAIL}" in err
    assert f"password    {DEMO_PASSWORD}" in err
    assert "First run" not in err  # the demo account is the admin
    with TestClient(served["app"], base_url="http://127.0.0.1:8000") as client:
        assert f"Demo: sign in as {DEMO_EMAIL} with the password {DEMO_PASSWORD}." in (
            client.get("/login").text
        )
        assert sign_in(client, DEMO_EMAIL, DEMO_PASSWORD).status_code == 303
        assert client.get("/maps.json").json()["count"] == 2
    assert run(["serve", str(demo), "--demo", "--host", "0.0.0.0"]) == 0
    assert "password is public" in capsys.readouterr().err


def test_add_with_a_language(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    ws = str(workspace.root)
    assert run(["user", "add", ws, "ana@example.com", "--language", "pt", "--json"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert (added["email"], added["language"]) == ("ana@example.com", "pt-BR")
    assert run(["user", "add", ws, "bo@example.com", "--language", "fr"]) == 1
    assert "unknown language 'fr'" in capsys.readouterr().err
    state = state_of(workspace)
    try:
        assert find_user(state, "ana@example.com").language == "pt-BR"  # type: ignore[union-attr]
        assert find_user(state, "bo@example.com") is None
    finally:
        state.close()
