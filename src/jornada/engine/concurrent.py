"""Run an analysis on its own connection to the same DuckDB database, beside another.

A report's analyses spend part of their time in Python (compiling expressions, fitting
models, drawing charts) with one core idle, and part in the engine's queries. Two of
them, each on its own connection, keep both cores busy: DuckDB runs queries of several
connections at once (on its one pool of threads, within its one memory limit).

:func:`own_connection` gives a table whose expressions run on a new connection (a DuckDB
cursor: the same database, its own session and temporary tables), or None when that
cannot be done (another backend, or a table that reads the first connection's temporary
tables): the caller then runs the analysis where it is.

>>> from jornada.engine import Engine
>>> engine = Engine.duckdb()
>>> _ = engine.sql("CREATE TABLE t AS SELECT range AS x FROM range(5)")
>>> with own_connection(engine.table("t").filter(lambda t: t.x > 1)) as mine:
...     int(mine.count().execute())
3
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import duckdb
import ibis.expr.operations as ops
import ibis.expr.types as ir
from ibis.backends.duckdb import Backend as DuckDBBackend

__all__ = ["interrupt", "is_interruption", "own_connection"]


@contextlib.contextmanager
def own_connection(table: ir.Table) -> Iterator[ir.Table | None]:
    """``table`` bound to a new connection to its DuckDB database (closed on leaving the
    block), or None when it cannot be (not DuckDB, or reading temporary tables only its
    connection sees)."""
    node = table.op()
    tables = node.find(ops.DatabaseTable)
    backends = {id(t.source): t.source for t in tables}
    if len(backends) != 1:
        yield None
        return
    [backend] = backends.values()
    if not isinstance(backend, DuckDBBackend) or _reads_temporary(backend, tables):
        yield None
        return
    sibling = DuckDBBackend.from_connection(backend.con.cursor())
    try:
        # The same tables by name, on the new connection: every expression built on the
        # result (and every query it runs) uses that connection.
        yield node.replace({t: t.copy(source=sibling) for t in tables}).to_expr()
    finally:
        sibling.disconnect()


def _reads_temporary(backend: DuckDBBackend, tables: Sequence[ops.DatabaseTable]) -> bool:
    """Whether one of ``tables`` is a temporary table or view of ``backend``'s connection
    (those are the connection's own; an Ibis cached table is one)."""
    names = sorted({t.name for t in tables})
    [(count,)] = backend.con.execute(
        "SELECT (SELECT count(*) FROM duckdb_tables() WHERE temporary AND list_contains($1, "
        "table_name)) + (SELECT count(*) FROM duckdb_views() WHERE temporary AND "
        "list_contains($1, view_name))",
        [names],
    ).fetchall()
    return bool(count)


def interrupt(table: ir.Table) -> None:
    """Stop the query running on ``table``'s connection, if any: it raises in the thread
    that runs it (a caller leaving on an error stops the analysis beside it this way
    instead of waiting for its end)."""
    backend = table._find_backend()
    if isinstance(backend, DuckDBBackend):
        backend.con.interrupt()


def is_interruption(error: BaseException) -> bool:
    """Whether ``error`` is the engine's answer to an interrupted query (Ctrl-C during a
    query, or :func:`interrupt`): DuckDB raises its own error, not KeyboardInterrupt.

    >>> is_interruption(RuntimeError("Query interrupted")), is_interruption(ValueError("x"))
    (True, False)
    """
    return isinstance(error, duckdb.InterruptException) or (
        isinstance(error, RuntimeError) and str(error) == "Query interrupted"
    )
