"""Connecting to a backend, running expressions, tracing the SQL sent.

>>> engine = Engine.duckdb()  # in memory
>>> engine.sql("select 42 as answer").fetchall()
[(42,)]
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import duckdb
import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from duckdb import DuckDBPyConnection

from jornada.errors import JornadaError

__all__ = ["Engine", "EngineError"]

BackendKind = Literal["duckdb", "pyspark", "other"]


STORAGE_VERSION = "v1.5.0"
"""The storage format of new database files. DuckDB writes new files readable by 0.10.2
unless told otherwise; the 1.5 format compresses strings and nested columns with less
work and in less space: a 1M-event load took 3.10-3.64 CPU-s against 3.76-4.39 (its
rebuild 6.8-7.0 against 7.6-8.4), its store 117 against 134 MB. jornada requires
DuckDB 1.5 or later, which reads it; older DuckDB tools do not."""


class EngineError(JornadaError):
    """The backend refused or failed a query; the message says which and why."""


_MEMORY_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_MEMORY_UNITS |= {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


class Engine:
    """An Ibis connection plus what jornada needs around it: tracing, transactions,
    and (on DuckDB) raw SQL for loading."""

    def __init__(self, con: ibis.BaseBackend, *, kind: BackendKind) -> None:
        self.con = con
        self.kind: BackendKind = kind
        self._tracers: list[Callable[[str], None]] = []
        self._transaction_depth = 0

    def __repr__(self) -> str:
        return f"Engine(kind={self.kind!r})"

    @classmethod
    def duckdb(
        cls,
        path: Path | None = None,
        *,
        read_only: bool = False,
        threads: int | None = None,
        memory_limit: str | None = None,
    ) -> Engine:
        """Open (or create) a DuckDB database file; in memory when ``path`` is None.

        A new file is written in DuckDB 1.5's storage format (:data:`STORAGE_VERSION`);
        an existing file keeps the format it has."""
        config: dict[str, Any] = {"storage_compatibility_version": STORAGE_VERSION}
        if threads is not None:
            config["threads"] = threads
        if memory_limit is not None:
            config["memory_limit"] = memory_limit
        try:
            con = ibis.duckdb.connect(
                database=str(path) if path is not None else ":memory:",
                read_only=read_only,
                **config,
            )
        except duckdb.Error as error:
            raise EngineError(f"cannot open {path}: {error}") from None
        # DuckDB draws its own progress bar on stdout; jornada reports progress itself.
        con.con.execute("SET enable_progress_bar = false")
        return cls(con, kind="duckdb")

    @classmethod
    def from_ibis(cls, con: ibis.BaseBackend) -> Engine:
        """Wrap an Ibis connection made elsewhere (a Spark session, a warehouse)."""
        name = str(getattr(con, "name", "other"))
        kind: BackendKind = (
            "duckdb" if name == "duckdb" else "pyspark" if name == "pyspark" else "other"
        )
        return cls(con, kind=kind)

    # --- running -----------------------------------------------------------------

    def table(self, name: str) -> ir.Table:
        return self.con.table(name)

    def has_table(self, name: str) -> bool:
        return name in self.con.list_tables()

    def execute(self, expr: ir.Expr) -> Any:
        """Run an expression: a table gives a pandas DataFrame, a scalar a Python value."""
        self._trace(expr)
        return expr.execute()

    def to_pandas(self, expr: ir.Table) -> pd.DataFrame:
        self._trace(expr)
        frame: pd.DataFrame = expr.to_pandas()
        return frame

    def to_arrow(self, expr: ir.Table) -> pa.Table:
        self._trace(expr)
        return expr.to_pyarrow()

    # --- DuckDB only ---------------------------------------------------------------

    @property
    def duck(self) -> DuckDBPyConnection:
        """The raw DuckDB connection, for loading; other backends have none."""
        if self.kind != "duckdb":
            raise EngineError(f"this needs the DuckDB engine, not {self.kind}")
        raw: DuckDBPyConnection = self.con.con
        return raw

    def sql(
        self, query: str, params: list[Any] | dict[str, Any] | None = None
    ) -> DuckDBPyConnection:
        """Run DuckDB SQL written by jornada (never user text: values go in ``params``)."""
        for tracer in self._tracers:
            tracer(query)
        try:
            return self.duck.execute(query, params)
        except duckdb.Error as error:
            raise EngineError(str(error).splitlines()[0]) from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: a load killed half-way leaves the database as before.

        Blocks nest: an inner block joins the outer transaction (identity resolution
        runs on its own, and inside a load), so only the outermost block commits.
        """
        if self._transaction_depth:
            self._transaction_depth += 1
            try:
                yield
            finally:
                self._transaction_depth -= 1
            return
        self.sql("BEGIN TRANSACTION")
        self._transaction_depth = 1
        try:
            yield
        except BaseException:
            self._transaction_depth = 0
            with contextlib.suppress(EngineError):
                self.sql("ROLLBACK")
            raise
        self._transaction_depth = 0
        self.sql("COMMIT")

    def memory_limit_bytes(self) -> float | None:
        """The engine's memory limit in bytes, read from what DuckDB shows ("1.8 GiB");
        None when there is none or its form is not known here.

        >>> Engine.duckdb(memory_limit="2GB").memory_limit_bytes()  # shown as 1.8 GiB
        1932735283.2
        """
        row = self.sql("SELECT current_setting('memory_limit')").fetchone()
        number, _, unit = str(row[0] if row else "").strip().partition(" ")
        try:
            return float(number) * _MEMORY_UNITS[unit.strip().upper()]
        except (ValueError, KeyError):
            return None

    @contextlib.contextmanager
    def setting(self, name: str, value: bool | int | str) -> Iterator[None]:
        """DuckDB setting ``name`` at ``value`` inside the block, then back to what it was
        (even when the block fails). What it was is what DuckDB shows: a memory size comes
        back to a tenth of its unit (1GB is shown, and put back, as 953.6 MiB).

        >>> engine = Engine.duckdb()
        >>> with engine.setting("preserve_insertion_order", False):
        ...     engine.sql("SELECT current_setting('preserve_insertion_order')").fetchone()
        (False,)
        >>> engine.sql("SELECT current_setting('preserve_insertion_order')").fetchone()
        (True,)
        """
        if not name.replace("_", "").isalnum():  # names come from our code; still checked
            raise EngineError(f"not a setting name: {name!r}")
        row = self.sql("SELECT current_setting(?)", [name]).fetchone()
        before = row[0] if row is not None else None
        self.sql(f"SET {name} = ?", [value])
        try:
            yield
        except BaseException:
            # In a transaction the failure aborted, DuckDB refuses the SET too: the error
            # on its way out is the one to show (out of memory, a bad row...), not that.
            with contextlib.suppress(EngineError):
                self._put_back(name, before)
            raise
        self._put_back(name, before)

    def _put_back(self, name: str, before: object) -> None:
        if before is None:
            self.sql(f"RESET {name}")
        else:
            self.sql(f"SET {name} = ?", [before])

    # --- tracing -------------------------------------------------------------------

    @contextlib.contextmanager
    def tracing(self, tracer: Callable[[str], None]) -> Iterator[None]:
        """Call ``tracer`` with the SQL of every query run inside the block (``--trace-sql``)."""
        self._tracers.append(tracer)
        try:
            yield
        finally:
            self._tracers.remove(tracer)

    def _trace(self, expr: ir.Expr) -> None:
        if self._tracers:
            query = str(ibis.to_sql(expr, dialect=self.con.name))
            for tracer in self._tracers:
                tracer(query)

    def close(self) -> None:
        self.con.disconnect()
