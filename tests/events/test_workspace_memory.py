"""A workspace's memory limit reaches its engine; a wrong size is refused with its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from jornada.engine import Engine
from jornada.workspace import Workspace, WorkspaceError


def test_memory_limit_setting_reaches_the_engine(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    Workspace.init(root).update_settings(memory_limit="1.5GB")
    workspace = Workspace.open(root)
    row = workspace.engine.sql("SELECT current_setting('memory_limit')").fetchone()
    workspace.close()
    assert row is not None
    # DuckDB reports 1.5 GB (10^9 bytes) in GiB.
    assert row[0] == "1.3 GiB"


def test_default_memory_limit_is_the_engines_own(tmp_path: Path) -> None:
    workspace = Workspace.init(tmp_path / "ws")
    assert workspace.settings.memory_limit is None
    row = workspace.engine.sql("SELECT current_setting('memory_limit')").fetchone()
    workspace.close()
    plain = Engine.duckdb().sql("SELECT current_setting('memory_limit')").fetchone()
    assert row is not None
    assert row == plain


def test_a_memory_limit_that_is_not_a_size_is_refused_at_its_place(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    Workspace.init(root)
    config = root / "jornada.toml"
    # at the top: below a [table] header the key would belong to that table
    config.write_text('memory_limit = "lots"\n' + config.read_text("utf-8"), "utf-8")
    with pytest.raises(WorkspaceError, match=r"jornada\.toml: memory_limit: .*'4GB'"):
        Workspace.open(root)
    with pytest.raises(WorkspaceError, match="is not a size"):
        Workspace.init(tmp_path / "other").update_settings(memory_limit="4 gallons")


def test_a_memory_limit_too_small_to_open_the_store_is_refused(tmp_path: Path) -> None:
    workspace = Workspace.init(tmp_path / "ws")
    for tiny in ("0MB", "1B", "99MB", "0.05GiB"):
        with pytest.raises(WorkspaceError, match="too small"):
            workspace.update_settings(memory_limit=tiny)
    workspace.update_settings(memory_limit="100MB")
    row = Workspace.open(tmp_path / "ws").engine.sql("SELECT count(*) FROM events").fetchone()
    assert row == (0,)
