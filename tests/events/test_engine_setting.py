"""Engine.setting: a DuckDB setting for the length of a block, put back afterwards."""

from __future__ import annotations

import pytest

from jornada.engine import Engine
from jornada.engine.backend import EngineError


def current(engine: Engine, name: str) -> object:
    row = engine.sql("SELECT current_setting(?)", [name]).fetchone()
    assert row is not None
    return row[0]


def test_a_setting_is_put_back_after_the_block_and_after_a_failure() -> None:
    engine = Engine.duckdb(memory_limit="1GiB")
    before = current(engine, "memory_limit")
    with engine.setting("memory_limit", "512MB"):
        assert current(engine, "memory_limit") != before
    assert current(engine, "memory_limit") == before
    seen: list[object] = []

    def fail_inside() -> None:
        with engine.setting("preserve_insertion_order", False):
            seen.append(current(engine, "preserve_insertion_order"))
            engine.sql("SELECT * FROM no_such_table")

    with pytest.raises(EngineError):
        fail_inside()
    assert seen == [False]
    assert current(engine, "preserve_insertion_order") is True


def test_only_setting_names_reach_the_sql() -> None:
    engine = Engine.duckdb()
    with (
        pytest.raises(EngineError, match="not a setting name"),
        engine.setting("threads = 1; DROP TABLE x", 1),
    ):
        pass


def test_the_blocks_own_error_shows_when_the_transaction_is_aborted() -> None:
    """Inside a transaction the failure aborted, DuckDB refuses to put the setting back;
    the error raised is still the block's, and the engine works once it is rolled back."""
    engine = Engine.duckdb()
    engine.sql("BEGIN TRANSACTION")
    with (
        pytest.raises(EngineError, match="boom"),
        engine.setting("preserve_insertion_order", False),
    ):
        engine.sql("SELECT error('boom')")  # a failure at run time aborts the transaction
    engine.sql("ROLLBACK")
    assert engine.sql("SELECT 1").fetchone() == (1,)
