"""Map versions and comments in the app state: numbering, authors, isolation between
workspaces and maps, and the migration that adds them."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from jornada.accounts import AccountError, AppState
from jornada.accounts.history import (
    UnknownCommentError,
    UnknownVersionError,
    add_comment,
    get_version,
    latest_version,
    list_comments,
    list_versions,
    resolve_comment,
    save_version,
)
from jornada.accounts.state import migration_config
from jornada.accounts.users import add_user, delete_user
from tests.accounts.conftest import Clock


def test_versions_are_numbered_per_map_and_workspace(state: AppState, clock: Clock) -> None:
    ana = add_user(state, "shop", "ana@example.com", role="editor", password="s3cret-pass")
    assert latest_version(state, "shop", "cx") is None
    first = save_version(state, "shop", "cx", "v1", author=ana.user.id, message="first")
    clock.advance(minutes=5)
    second = save_version(state, "shop", "cx", "v2", author=None)
    other_map = save_version(state, "shop", "other", "o1", author=None)
    other_workspace = save_version(state, "bank", "cx", "b1", author=None)
    assert (first.number, second.number, other_map.number, other_workspace.number) == (1, 2, 1, 1)
    assert first.author == "ana@example.com"
    assert second.author is None
    assert (second.created_at - first.created_at).total_seconds() == 300
    assert [(v.number, v.content) for v in list_versions(state, "shop", "cx")] == [
        (2, "v2"),
        (1, "v1"),
    ]
    assert get_version(state, "bank", "cx", 1).content == "b1"
    latest = latest_version(state, "shop", "cx")
    assert latest is not None
    assert latest.number == 2
    with pytest.raises(UnknownVersionError, match="map 'cx' has no version 3"):
        get_version(state, "shop", "cx", 3)
    long = save_version(state, "shop", "cx", "v3", author=None, message="m" * 900)
    assert len(long.message) == 500
    assert long.to_dict()["number"] == 3
    assert "content" not in long.to_dict()
    assert long.to_dict(with_content=True)["content"] == "v3"


def test_the_history_names_authors_after_their_account_is_gone(state: AppState) -> None:
    bo = add_user(state, "shop", "bo@example.com", role="editor", password="s3cret-pass")
    add_user(state, "shop", "admin@example.com", role="admin", password="s3cret-pass")
    save_version(state, "shop", "cx", "v1", author=bo.user.id)
    note = add_comment(state, "shop", "cx", "map", "hello", author=bo.user.id)
    delete_user(state, "bo@example.com")
    assert list_versions(state, "shop", "cx")[0].author == "bo@example.com"
    assert list_comments(state, "shop", "cx")[0].author == "bo@example.com"
    assert list_comments(state, "shop", "cx")[0].id == note.id


def test_comments_are_pinned_and_resolved_once(state: AppState, clock: Clock) -> None:
    ana = add_user(state, "shop", "ana@example.com", role="editor", password="s3cret-pass")
    cell = "stage:buy/touchpoint:pay/lane:pain_points"
    first = add_comment(state, "shop", "cx", cell, "  Too slow  ", author=None)
    clock.advance(minutes=1)
    second = add_comment(state, "shop", "cx", "persona:marina", "Age?", author=ana.user.id)
    add_comment(state, "shop", "other", "map", "elsewhere", author=None)
    assert first.body == "Too slow"
    assert [c.id for c in list_comments(state, "shop", "cx")] == [first.id, second.id]

    clock.advance(hours=1)
    done = resolve_comment(state, "shop", "cx", first.id, author=ana.user.id)
    assert done.resolved
    assert done.resolved_by == "ana@example.com"
    assert done.resolved_at == clock.now
    clock.advance(hours=1)
    again = resolve_comment(state, "shop", "cx", first.id, author=None)
    assert again.resolved_at == done.resolved_at  # the first resolution stands
    assert again.resolved_by == "ana@example.com"
    assert [c.id for c in list_comments(state, "shop", "cx", include_resolved=False)] == [second.id]
    with pytest.raises(UnknownCommentError):
        resolve_comment(state, "shop", "other", first.id, author=None)  # not this map's comment

    for bad_cell in ("stages[0]", "stage:", "stage:a/lane:b/lane:c", "x" * 301, "touchpoint:a"):
        with pytest.raises(AccountError, match="is not a cell of a map"):
            add_comment(state, "shop", "cx", bad_cell, "text", author=None)
    with pytest.raises(AccountError, match="needs some text"):
        add_comment(state, "shop", "cx", "map", "  ", author=None)
    with pytest.raises(AccountError, match="at most 4000"):
        add_comment(state, "shop", "cx", "map", "x" * 4001, author=None)


def test_the_history_migration_goes_both_ways(tmp_path: Path) -> None:
    state = AppState.open(f"sqlite:///{tmp_path / 'app.sqlite'}")
    save_version(state, "shop", "cx", "v1", author=None)
    config = migration_config()
    with state.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001_accounts")
    tables = set(inspect(state.engine).get_table_names())
    assert {"map_versions", "map_comments"}.isdisjoint(tables)
    assert "users" in tables
    state.migrate()
    assert {"map_versions", "map_comments"} <= set(inspect(state.engine).get_table_names())
    assert list_versions(state, "shop", "cx") == []
    state.close()
