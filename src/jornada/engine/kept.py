"""Kept tables: an analysis' intermediate table, stored with the events it was made of.

An analysis that reads the same intermediate table many times (the stage tables: every
event labelled with its stage and touchpoint) computes it once per run and keeps it in
a temporary table (:meth:`ibis.expr.types.Table.cache`). :func:`kept_table` goes one
step further when asked, on a workspace's DuckDB store: the table is stored in the
database under a name made of a digest of its SQL, so the next run of the same query
on the same events (the next living map of the same map version, the report after it)
reads it instead of computing it again. Labelling 10M events takes about 3 CPU-seconds;
reading the stored labels a tenth of that.

The stored tables are a cache, never the truth:

- their name is the digest of the SQL that made them, so a changed map or setting is a
  different query and another table (a query reading a temporary table or an in-memory
  one has no stable SQL: it is kept in a temporary table as before);
- :func:`forget_kept` drops them all, and every replacement of a stored table
  (:func:`replace_table`: the rebuild after each load, ``materialise_events``,
  ``materialise_customers``) calls it in its transaction, so no kept table outlives the
  data it was made of;
- at most :data:`KEPT_LIMIT` are stored (the oldest made go first);
- other backends (Spark), read-only databases and databases that are not a jornada
  store use Ibis' cache, released at the end of the ``with`` block.

>>> import ibis
>>> from jornada.engine import Engine
>>> from jornada.engine.store import ensure_store
>>> engine = Engine.duckdb(); ensure_store(engine)
>>> events = engine.table("events")
>>> with kept_table(events.select("customer_id", "ts"), store="yes") as kept:
...     first = kept.get_name()
>>> with kept_table(events.select("customer_id", "ts"), store="reuse") as kept:
...     first == kept.get_name(), first.startswith("_kept_")
(True, True)
>>> forget_kept(engine); engine.has_table(first)
False
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final, Literal

import duckdb
import ibis
import ibis.expr.operations as ops

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from jornada.engine.backend import Engine

__all__ = ["KEPT_LIMIT", "StoreMode", "forget_kept", "kept_table", "replace_table"]

StoreMode = Literal["no", "reuse", "yes"]
"""Where :func:`kept_table` keeps a table: ``no``, a temporary table; ``reuse``, the stored
table when there is one, else a temporary table (nothing written: a one-off run, such
as a report, does not pay for writing); ``yes``, the stored table, made when missing."""

KEPT_LIMIT: Final = 24
"""The stored tables a database holds at most: a living map stores 8 (about 9% of the
store at 10M events), so the last three versions of a map are kept."""

_PREFIX: Final = "_kept_"
_REGISTRY: Final = "kept_tables"
_FORMAT: Final = "1"
"""Part of every digest: a new format of kept tables makes the old ones unreachable."""
_TEMPORARY = itertools.count()
"""Numbers the temporary tables (see :func:`_temporary`)."""


def _storable(expr: ir.Table) -> bool:
    """True when ``expr`` reads only tables stored in the database (its SQL then names
    the same data in every process)."""
    node = expr.op()
    if node.find((ops.InMemoryTable, ops.SQLQueryResult, ops.SQLStringView)):
        return False
    for table in node.find(ops.DatabaseTable):
        if table.namespace.catalog == "temp" or table.name.startswith("ibis_"):
            return False
    return True


def _store_connection(expr: ir.Table) -> duckdb.DuckDBPyConnection | None:
    """The DuckDB connection of ``expr`` when it reads a jornada store that can be
    written, else None."""
    try:
        backend = expr._find_backend()
    except Exception:
        return None
    if getattr(backend, "name", None) != "duckdb":
        return None
    con: duckdb.DuckDBPyConnection = backend.con
    try:
        [(read_only, meta)] = con.execute(
            "SELECT current_setting('access_mode') = 'read_only', "
            "(SELECT count(*) FROM duckdb_tables() WHERE table_name = 'store_meta' "
            "AND database_name = current_database() AND schema_name = 'main')"
        ).fetchall()
    except duckdb.Error:
        return None
    if read_only or not meta:
        return None
    return con


def _register_memtables(expr: ir.Table) -> None:
    """Hand ``expr``'s in-memory tables to its backend. Ibis 12 does it before running a
    query but not before caching one on PySpark, whose cache then fails with "table or
    view not found" for an expression reading a memtable (the churn triggers' windows)."""
    if not expr.op().find(ops.InMemoryTable):
        return
    try:
        backend = expr._find_backend()
    except Exception:  # no single backend: the cache will say what is wrong
        return
    hooks = getattr(backend, "_run_pre_execute_hooks", None)
    if callable(hooks):
        hooks(expr)


def _ensure_registry(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS {_REGISTRY} (name VARCHAR, made TIMESTAMP)")


@contextlib.contextmanager
def kept_table(expr: ir.Table, *, store: StoreMode = "no") -> Iterator[ir.Table]:
    """``expr`` computed once, as a table, for the ``with`` block: the table stored in the
    database under the digest of its SQL as ``store`` says (:data:`StoreMode`) when the
    database allows it (see the module), otherwise a temporary table dropped at the end
    of the block."""
    con = _store_connection(expr) if store != "no" and _storable(expr) else None
    if con is None:
        with _temporary(expr) as cached:
            yield cached
        return
    backend = expr._find_backend()
    sql = str(backend.compile(expr))
    name = _PREFIX + hashlib.sha256(f"{_FORMAT}\n{sql}".encode()).hexdigest()[:32]
    _ensure_registry(con)
    found = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? "
        "AND database_name = current_database() AND schema_name = 'main'",
        [name],
    ).fetchone()
    if not (found and found[0]):
        if store == "reuse":
            with _temporary(expr) as cached:
                yield cached
            return
        with _transaction(con):  # a table is registered whole or not at all
            con.execute(f'CREATE TABLE "{name}" AS {sql}')
            con.execute(f"INSERT INTO {_REGISTRY} VALUES (?, now()::TIMESTAMP)", [name])
            _evict(con, keep=name)
    yield backend.table(name)


@contextlib.contextmanager
def _temporary(expr: ir.Table) -> Iterator[ir.Table]:
    """``expr`` in a temporary table of the caller's own, dropped at the end of the block.

    Ibis hands equal expressions one cached table, and the first release drops it: two
    callers caching the same query (two StageTables of the same events and map, one
    inside the other's ``with`` block) would drop each other's table. A condition true
    everywhere, numbered per call, keeps the expressions apart."""
    number = next(_TEMPORARY)
    private = expr.filter(ibis.literal(number, type="int64") == number)
    _register_memtables(private)
    with private.cache() as cached:
        yield cached


@contextlib.contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """A transaction of its own, or the caller's when one is open (it commits or rolls
    back the whole)."""
    try:
        con.execute("BEGIN TRANSACTION")
    except duckdb.TransactionException:
        yield
        return
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _evict(con: duckdb.DuckDBPyConnection, *, keep: str) -> None:
    """Drop the oldest stored tables beyond :data:`KEPT_LIMIT` (never ``keep``)."""
    old = con.execute(
        f"SELECT name FROM {_REGISTRY} WHERE name <> ? ORDER BY made DESC, name "
        f"OFFSET {KEPT_LIMIT - 1}",
        [keep],
    ).fetchall()
    for (name,) in old:
        _drop(con, str(name))


def _drop(con: duckdb.DuckDBPyConnection, name: str) -> None:
    # Names come from the registry, which holds only names made here (a prefix and a
    # hex digest): quoting them is enough.
    if not name.startswith(_PREFIX) or not name[len(_PREFIX) :].isalnum():
        raise ValueError(f"not a kept table: {name!r}")
    con.execute(f'DROP TABLE IF EXISTS "{name}"')
    con.execute(f"DELETE FROM {_REGISTRY} WHERE name = ?", [name])


def replace_table(engine: Engine, name: str, new: str) -> None:
    """Replace the stored table ``name`` by the table ``new`` (renamed), and forget the
    kept tables (made of what ``name`` held). Joins the caller's transaction, if any.
    ``name`` and ``new`` are jornada's own table names, never user text."""
    forget_kept(engine)
    engine.sql(f"DROP TABLE IF EXISTS {name}")
    engine.sql(f"ALTER TABLE {new} RENAME TO {name}")


def forget_kept(engine: Engine) -> None:
    """Drop every stored table (the events they were made of are changing). Joins the
    caller's transaction, if any."""
    if engine.kind != "duckdb":
        return
    con = engine.duck
    _ensure_registry(con)
    for (name,) in con.execute(f"SELECT name FROM {_REGISTRY}").fetchall():
        _drop(con, str(name))
