"""Reading a table of another database as Arrow, through ADBC drivers.

DuckDB's own scanners would need extensions downloaded at run time, which an offline
machine cannot do; SQLAlchemy hands rows to Python one by one. The ADBC drivers for
PostgreSQL and SQLite (Apache Arrow's) return Arrow batches directly.

>>> import sqlite3, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "crm.db"
>>> with sqlite3.connect(path) as db:
...     _ = db.execute("CREATE TABLE visits (who TEXT, at TEXT)")
>>> read_database_table(f"sqlite:///{path}", "visits").column_names
['who', 'at']
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa

from jornada.errors import JornadaError

__all__ = ["DatabaseSourceError", "is_database_url", "read_database_table"]

_SCHEMES = ("postgresql", "postgres", "sqlite")


class DatabaseSourceError(JornadaError):
    """A database source that cannot be read: bad URL, no such table, refused connection."""


def is_database_url(text: str) -> bool:
    """Whether a SOURCE argument names a database rather than a file."""
    return urlsplit(text).scheme.split("+")[0] in _SCHEMES


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


@contextlib.contextmanager
def _connect(url: str) -> Iterator[Any]:
    scheme = urlsplit(url).scheme.split("+")[0]
    try:
        if scheme == "sqlite":
            import adbc_driver_sqlite.dbapi as sqlite

            path = url.split("://", 1)[1]
            path = path[1:] if path.startswith("/") else path  # sqlite:///abs/path -> /abs/path
            connection = sqlite.connect(path)
        else:
            import adbc_driver_postgresql.dbapi as postgresql

            connection = postgresql.connect(url.replace("postgres://", "postgresql://", 1))
    except Exception as error:  # the drivers raise their own error classes
        message = str(error).splitlines()[0]
        raise DatabaseSourceError(f"cannot connect to {_redact(url)}: {message}") from None
    try:
        yield connection
    finally:
        connection.close()


def _schema_and_table(table: str) -> tuple[str | None, str]:
    if "." in table:
        schema, name = table.split(".", 1)
        return schema, name
    return None, table


def read_database_table(url: str, table: str) -> pa.Table:
    """The whole of ``table`` as Arrow. The table name is checked against the database's
    catalogue and quoted, never pasted raw into SQL."""
    schema, name = _schema_and_table(table)
    with _connect(url) as connection:
        objects = connection.adbc_get_objects(depth="tables").read_all().to_pylist()
        found: list[tuple[str | None, str]] = [
            (db_schema["db_schema_name"], entry["table_name"])
            for catalog in objects
            for db_schema in catalog["catalog_db_schemas"] or []
            for entry in db_schema["db_schema_tables"] or []
        ]
        matches = [(s, t) for s, t in found if t == name and (schema is None or s == schema)]
        if not matches:
            known = ", ".join(
                sorted({t if not s or s in ("public", "main") else f"{s}.{t}" for s, t in found})
            )
            raise DatabaseSourceError(
                f"no table {table!r} in {_redact(url)}; tables: {known or 'none'}"
            )
        found_schema, found_name = matches[0]
        qualified = (
            f"{_quote(found_schema)}.{_quote(found_name)}"
            if found_schema and schema is not None
            else _quote(found_name)
        )
        cursor = connection.cursor()
        try:
            cursor.execute(f"SELECT * FROM {qualified}")  # noqa: S608 - a catalogued, quoted name
            result: pa.Table = cursor.fetch_arrow_table()
        except Exception as error:
            message = str(error).splitlines()[0]
            raise DatabaseSourceError(f"cannot read {table!r}: {message}") from None
        finally:
            cursor.close()
    return result
