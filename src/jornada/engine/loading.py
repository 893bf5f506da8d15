"""Loading a source into the event store, in DuckDB: check, quarantine, dedupe, insert.

This module holds the DuckDB SQL of a load; :mod:`jornada.events.load` decides what to
load and reports it. Column names from the user are checked against the source's
columns and quoted as identifiers; values (paths, formats, time zones) travel as
parameters. Nothing here is committed: the caller runs it inside a transaction.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from jornada.engine.backend import Engine, EngineError
from jornada.engine.store import CUSTOMER_KEYS_FROM

__all__ = [
    "RAW",
    "LoadCounts",
    "LoadPlan",
    "SourceKind",
    "copy_source",
    "describe_source",
    "quote_identifier",
    "run_load",
    "run_profile_load",
]

SourceKind = Literal["csv", "parquet", "jsonl", "arrow"]

# The canonical fields a source column can be mapped to, besides the identifiers.
FIELDS = ("id", "customer", "time", "event", "channel", "session", "value", "cost", "text", "score")
NUMERIC_FIELDS = ("value", "cost", "score")


RAW = "__RAW__"
"""Where the raw identifier text goes in a normalisation expression."""


def quote_identifier(name: str) -> str:
    """Quote a column name for DuckDB SQL (double quotes, inner quotes doubled).

    >>> quote_identifier('my "odd" col')
    '"my ""odd"" col"'
    """
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    """A SQL string literal for text jornada controls (never user input)."""
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class LoadPlan:
    """Everything a load needs: where to read, which column is which, how to parse."""

    kind: SourceKind
    location: str  # a file path, or the name of a registered Arrow table
    source_name: str
    columns: Mapping[str, str]  # canonical field (customer, time, ...) -> source column
    identities: Mapping[str, str] = field(default_factory=dict)  # kind -> source column
    time_zone: str = "UTC"
    time_format: str | None = None  # strptime format, "epoch" or "epoch_ms"
    delimiter: str | None = None
    encoding: str = "utf-8"
    id_scope: str | None = None  # prefix of source ids ("crm" makes "17" into "crm:17")
    arrow: pa.Table | None = None


@dataclass(frozen=True)
class LoadCounts:
    rows_read: int
    loaded: int
    duplicates: int
    quarantined: int


def _unnumbered(plan: LoadPlan, rejects: str) -> tuple[str, list[Any]]:
    """A FROM clause reading a CSV, JSON lines or Arrow source as it is."""
    if plan.kind == "csv":
        options = ["all_varchar = true", "header = true", "store_rejects = true"]
        options += [
            f"rejects_table = {_literal(rejects)}",
            f"rejects_scan = {_literal(rejects + '_scan')}",
        ]
        params: list[Any] = [plan.location]
        if plan.delimiter is not None:
            options.append("delim = ?")
            params.append(plan.delimiter)
        options.append("encoding = ?")
        params.append(plan.encoding)
        return f"read_csv(?, {', '.join(options)})", params
    if plan.kind == "jsonl":
        return "read_json(?, format = 'newline_delimited', records = true)", [plan.location]
    return quote_identifier(plan.location), []


def _reader(plan: LoadPlan, rejects: str) -> tuple[str, list[Any]]:
    """A FROM clause reading the source, with ``_row`` = 1-based data row number."""
    if plan.kind == "parquet":
        return (
            "(SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS _row "
            "FROM read_parquet(?, file_row_number = true))",
            [plan.location],
        )
    source, params = _unnumbered(plan, rejects)
    return f"(SELECT *, row_number() OVER () AS _row FROM {source})", params


def describe_source(engine: Engine, plan: LoadPlan) -> list[tuple[str, str]]:
    """The source's columns and DuckDB types, reading only what is needed to know them."""
    if plan.kind == "arrow":
        assert plan.arrow is not None
        engine.duck.register(plan.location, plan.arrow)
    reader, params = _reader(plan, "_describe_rejects")
    rows = engine.sql(f"DESCRIBE SELECT * FROM {reader}", params).fetchall()
    return [(str(name), str(kind)) for name, kind, *_ in rows if name != "_row"]


def _as_text(expr: str, *, dense: bool = False) -> str:
    """The value as trimmed text, NULL when empty: ``nullif(trim(text), '')``.

    ``dense`` (a column with a value on most rows: the keys, an identifier kind's rows):
    the trim is skipped where it cannot change the text. DuckDB's ``trim`` removes Unicode
    space separators (category Zs), which it finds by decoding every character; in ASCII
    text (as many bytes as characters) the one such character is the space, so text that
    neither starts nor ends with one is already trimmed. On present values the check
    costs a quarter of the trim (0.05 against 0.21 CPU-s for two columns of 1M rows); on
    a column of mostly NULLs (the properties) it costs more than the plain trim.

    >>> from jornada.engine import Engine
    >>> Engine.duckdb().sql(f"SELECT {_as_text('x', dense=True)} FROM (VALUES ('a'),"
    ...     " (' a '), (chr(12288) || 'b'), ('  '), (NULL)) AS t(x)").fetchall()
    [('a',), ('a',), ('b',), (None,), (None,)]
    """
    text = f"CAST({expr} AS VARCHAR)"
    if not dense:
        return f"nullif(trim({text}), '')"
    return (
        f"CASE WHEN strlen({text}) = length({text}) AND NOT starts_with({text}, ' ') "
        f"AND NOT ends_with({text}, ' ') THEN nullif({text}, '') "
        f"ELSE nullif(trim({text}), '') END"
    )


def _absolute(tstz: str) -> str:
    """A TIMESTAMPTZ as a UTC TIMESTAMP: the cast's value in a UTC session, from its
    microseconds (the cast works through a calendar: ~0.3 CPU-s per 1M rows). Infinite
    times, which the arithmetic makes NULL, still take the cast (``coalesce`` reads its
    second argument only for the rows still NULL)."""
    return f"coalesce(make_timestamp(epoch_us({tstz})), CAST({tstz} AS TIMESTAMP))"


def _from_local(timestamp: str, plan: LoadPlan) -> str:
    """A TIMESTAMP local to the plan's time zone as a UTC TIMESTAMP (in UTC, itself)."""
    converted = (
        f"CAST(timezone('UTC', timezone({_literal(plan.time_zone)}, {timestamp})) AS TIMESTAMP)"
    )
    if plan.time_zone != "UTC":
        return converted
    return f"coalesce(make_timestamp(epoch_us({timestamp})), {converted})"


def _time_expression(column: str, column_type: str, plan: LoadPlan) -> str:
    """UTC timestamp of a time column, NULL when it cannot be read."""
    if column_type.startswith("TIMESTAMP WITH TIME ZONE"):
        return _absolute(column)
    if column_type.startswith(("TIMESTAMP", "DATE")):
        return _from_local(f"CAST({column} AS TIMESTAMP)", plan)
    text = _as_text(column, dense=True)
    if plan.time_format in ("epoch", "epoch_ms"):
        scale = "1000.0" if plan.time_format == "epoch_ms" else "1.0"
        return _absolute(f"to_timestamp(TRY_CAST({text} AS DOUBLE) / {scale})")
    if plan.time_format is not None:
        local = f"try_strptime({text}, {_literal(plan.time_format)})"
        if "%z" in plan.time_format or "%Z" in plan.time_format:
            return _absolute(local)
        return _from_local(f"CAST({local} AS TIMESTAMP)", plan)
    # ISO 8601: with an offset (Z, +02:00, -0300) it is absolute; without, local to --tz.
    return (
        f"CASE WHEN regexp_matches({text}, '([zZ]|[+-][0-9]{{2}}(:?[0-9]{{2}})?)$') "
        f"THEN {_absolute(f'TRY_CAST({text} AS TIMESTAMPTZ)')} "
        f"ELSE {_from_local(f'TRY_CAST({text} AS TIMESTAMP)', plan)} END"
    )


def _number_expression(column: str, column_type: str) -> str:
    if column_type in (
        "DOUBLE",
        "FLOAT",
        "BIGINT",
        "INTEGER",
        "SMALLINT",
        "TINYINT",
        "HUGEINT",
        "UBIGINT",
        "UINTEGER",
    ) or column_type.startswith("DECIMAL"):
        return f"CAST({column} AS DOUBLE)"
    return f"TRY_CAST(replace({_as_text(column, dense=True)}, ',', '.') AS DOUBLE)"


SOURCE = "_load_source"
"""A copy of a text source (CSV, JSON lines, Arrow) with its row numbers, read by every
pass of the load instead of the source (see :func:`_stage`)."""

REJECTS = "_load_rejects"
"""The CSV reader's table of the rows it refused (and ``REJECTS + "_scan"``)."""

BAD = "_load_bad"
DROPPED = "_load_dropped"
REFUSED = "_load_refused"

_STAGE_SHARE = 5
"""A text source is copied into memory when it is at most this fraction of the engine's
memory limit (the copy takes about twice the file's size: 368 MB for a 175 MB CSV), into
the store otherwise."""


def _source_bytes(plan: LoadPlan) -> int | None:
    if plan.kind == "arrow":
        return plan.arrow.nbytes if plan.arrow is not None else None
    try:
        return Path(plan.location).stat().st_size
    except OSError:
        return None


def _stage(
    engine: Engine, plan: LoadPlan, rejects: str, columns: Sequence[str]
) -> tuple[str, list[Any]]:
    """The numbered rows of the source, for every pass of the load: Parquet as it is, a
    text source copied once into :data:`SOURCE`.

    Each pass of a CSV, JSON lines or Arrow source would parse it again. The copy is
    read in parallel, as Parquet is, and numbered by its row ids: written with insertion
    order kept, a new table's rows are in read order and its row ids consecutive, so the
    data row number is the row id less the first one. (``row_number() OVER ()`` numbered
    them on one thread, and the read under it too. A source with a column named
    ``rowid``, which would hide the row ids, is still numbered that way.) Reading every
    column once also keeps DuckDB 1.5's CSV reader consistent: a pass that reads only
    some columns does not refuse a row for bad text in another (so passes would disagree
    on the rows), and with rows to refuse it failed on such a pass ("INTERNAL Error:
    Attempted to access index 4 within vector of size 4"), invalidating the database.
    The copy is a temporary table (in memory) when the source is small beside the memory
    limit, else a table of the store (compressed, on disk), created and dropped inside
    the load's transaction.
    """
    if plan.kind == "parquet":
        return _reader(plan, rejects)
    temporary = "TEMP " if _copied_in_memory(engine, plan) else ""
    engine.sql(f"DROP TABLE IF EXISTS {SOURCE}")

    def numbered() -> tuple[str, list[Any]]:
        engine.sql(f"DROP TABLE IF EXISTS {SOURCE}")
        reader, params = _reader(plan, rejects)
        engine.sql(f"CREATE {temporary}TABLE {SOURCE} AS SELECT * FROM {reader}", params)
        return f"(SELECT * FROM {SOURCE})", []

    if any(name.lower() == "rowid" for name in columns):  # it would hide the row ids
        return numbered()
    source, params = _unnumbered(plan, rejects)
    # Read in parallel with the rows kept in read order: the copy's row ids are then the
    # rows' positions, consecutive from wherever DuckDB starts them (a table created in
    # a transaction numbers its rows from a large base until it commits).
    with engine.setting("preserve_insertion_order", True):
        engine.sql(f"CREATE {temporary}TABLE {SOURCE} AS SELECT * FROM {source}", params)
    span = engine.sql(f"SELECT min(rowid), max(rowid), count(*) FROM {SOURCE}").fetchone()
    first, last, rows = span if span is not None else (None, None, 0)
    if rows and last - first + 1 != rows:
        # A fresh table's row ids have no gaps in DuckDB 1.5; should a release change
        # that, the rows are numbered the slow, certain way rather than misnumbered.
        return numbered()
    return f"(SELECT *, rowid - {int(first or 0) - 1} AS _row FROM {SOURCE})", []


def copy_source(
    engine: Engine, plan: LoadPlan, source_columns: Sequence[tuple[str, str]]
) -> tuple[str, list[Any]] | None:
    """The numbered copy of a text source small enough to be copied into memory (see
    :func:`_stage`), made before the load's transaction; None when the load reads the
    source itself (Parquet) or copies it into the store, in its transaction.

    A temporary table is no part of the store, so it need not be made inside the load's
    transaction; made there, it is transaction-local, and the passes read it more
    slowly: the keys of 1M CSV rows took 0.95-2.3 CPU-s (5 of 7 runs over 1.7) from a
    copy made in the transaction, 0.93-1.07 from one committed (DuckDB 1.5). The caller drops it
    (:func:`drop_temporary`) whatever happens to the load.
    """
    if plan.kind == "parquet" or not _copied_in_memory(engine, plan):
        return None
    if plan.kind == "arrow":
        assert plan.arrow is not None
        engine.duck.register(plan.location, plan.arrow)
    with engine.setting("preserve_insertion_order", False):
        return _stage(engine, plan, REJECTS, [name for name, _ in source_columns])


def _copied_in_memory(engine: Engine, plan: LoadPlan) -> bool:
    size, limit = _source_bytes(plan), engine.memory_limit_bytes()
    return size is not None and limit is not None and size * _STAGE_SHARE <= limit


def _filters_kept_above(engine: Engine) -> contextlib.AbstractContextManager[None]:
    """DuckDB's filter pushdown off, for a statement that filters on values it computes:
    pushed under the projection, the filter computes them again (the time parse, the
    number checks: the keys of 1M CSV rows took 4.9 CPU-s with the pushdown, 1.3
    without; an identifier kind's rows 0.73 against 0.59). No such statement reads a
    table a pushed filter would prune."""
    return engine.setting("disabled_optimizers", "filter_pushdown")


_MAP_SHAPES = 32
"""At most this many shapes (which of a map's entries a row has) get a map built from a
struct (see :class:`_MapEntries`); rows of any other shape take the general path."""

_SHAPE_SAMPLE = 65_536
"""The rows whose shapes are counted to choose them: a sample suffices, since a rarer
shape is still built right, only the slower way."""

_SHAPE_TEXT_BYTES = 1_000
"""Maps whose texts average more bytes a row than this take the general path: there the
per-row check is small beside handling the text, while the shapes' ``CASE`` copies each
batch of maps once more (2,048 rows of 10 kB texts: 20 MB a copy; a file of such rows
needed a memory limit of 192 MB instead of 100 MB)."""


@dataclass(frozen=True)
class _MapEntries:
    """A ``MAP(VARCHAR, VARCHAR)`` of a row's present values (trimmed, not empty) under
    their keys, in key order, from source columns.

    The general path, ``map_from_entries`` of the entries filtered by a lambda, costs
    about 0.6 µs a row in DuckDB 1.5 beyond building the list (it checks every row's keys
    for duplicates and NULLs): 0.6 of the ~1.1 CPU-s the properties of 1M demo rows took.
    A struct cast to a map, whose keys are the struct's (unique by construction), is
    ~10x cheaper but keeps NULL values as entries. A row's shape is the bit set of its
    present entries, and rows share few shapes (19 for the demo's 19 properties, 7 for
    its 4 identifier kinds); for each frequent shape the map is cast from a struct of
    just those entries. Each value's text is a column of the inner projection
    (``{prefix}{i}``), computed once for the shape, the branch and the general path.
    """

    prefix: str
    pairs: tuple[tuple[str, str], ...]  # (key, source column)

    def texts(self) -> list[str]:
        return [
            f"{_as_text(quote_identifier(column))} AS {self.prefix}{i}"
            for i, (_, column) in enumerate(self.pairs)
        ]

    def text_bytes(self) -> str:
        return " + ".join(f"coalesce(strlen({self.prefix}{i}), 0)" for i in range(len(self.pairs)))

    def shape(self) -> str | None:
        """The row's shape as an integer (bit i: entry i present); None when shapes
        cannot be used: more entries than a BIGINT has bits, or keys a struct refuses
        (its field names are case-insensitive and not empty; DuckDB's readers already
        rename such columns, so this guards sources that reach it some other way)."""
        keys = [key for key, _ in self.pairs]
        if not keys or len(keys) > 62 or len({key.lower() for key in keys}) < len(keys):
            return None
        if any(not key for key in keys):
            return None
        return " + ".join(
            f"({self.prefix}{i} IS NOT NULL)::BIGINT * {1 << i}" for i in range(len(keys))
        )

    def map(self, shapes: Sequence[int]) -> str:
        if not self.pairs:
            return "MAP {}::MAP(VARCHAR, VARCHAR)"
        listed = ", ".join(
            f"({_literal(key)}, {self.prefix}{i})" for i, (key, _) in enumerate(self.pairs)
        )
        general = f"map_from_entries(list_filter([{listed}], lambda e: e[2] IS NOT NULL))"
        if not shapes:
            return general
        branches = []
        for shape in shapes:
            fields = ", ".join(
                f"{_literal(key)}: {self.prefix}{i}"
                for i, (key, _) in enumerate(self.pairs)
                if shape >> i & 1
            )
            made = (
                f"CAST({{{fields}}} AS MAP(VARCHAR, VARCHAR))"
                if fields
                else "MAP {}::MAP(VARCHAR, VARCHAR)"
            )
            branches.append(f"WHEN {int(shape)} THEN {made}")
        return f"CASE {self.prefix}shape {' '.join(branches)} ELSE {general} END"


@dataclass(frozen=True)
class _Sql:
    """The SQL expressions of one load, over a source row ``src`` (``src._row``: its data
    row number)."""

    event_id: str
    source_id: str | None  # the id column's text (scoped), when there is one
    keys: str  # the key columns, named _event_id, _customer, _time_raw, _ts, ...
    good: str  # true when the row has no problem (over the key columns)
    problem: str  # the row's first problem as "column<RS>reason", NULL when none
    payload: str  # channel, value, cost, text, score and the maps' texts, named (_insert_staged)
    maps: tuple[_MapEntries, _MapEntries]  # the properties and the identities
    identities: dict[str, str]  # kind -> raw text of the row's identifier of that kind
    identity_columns: dict[str, str]  # kind -> its source column, quoted


def _load_sql(
    plan: LoadPlan,
    source_columns: Sequence[tuple[str, str]],
    *,
    ids_complete: bool = False,
) -> _Sql:
    """The expressions of a load. ``ids_complete``: every row has its id (no content
    hash needed, so a pass reads only the columns it uses)."""
    types = dict(source_columns)
    q = {fld: quote_identifier(col) for fld, col in plan.columns.items()}
    mapped = set(plan.columns.values()) | set(plan.identities.values())
    rest = [name for name, _ in source_columns if name not in mapped]

    def raw(fld: str) -> str:
        return _as_text(q[fld], dense=True) if fld in q else "NULL::VARCHAR"

    parsed_time = _time_expression(q["time"], types[plan.columns["time"]], plan)
    numbers = {
        fld: _number_expression(q[fld], types[plan.columns[fld]]) if fld in q else "NULL::DOUBLE"
        for fld in NUMERIC_FIELDS
    }
    # A typed number column never fails its cast: only text ones are checked.
    checked = [fld for fld in NUMERIC_FIELDS if fld in q and numbers[fld].startswith("TRY_CAST")]
    all_columns = [quote_identifier(name) for name, _ in source_columns]
    content = " || chr(31) || ".join(f"coalesce(CAST({c} AS VARCHAR), chr(0))" for c in all_columns)
    content_hash = f"'h' || md5({content})"
    source_id = raw("id")
    if plan.id_scope is not None:
        source_id = f"{_literal(plan.id_scope + ':')} || {source_id}"
    event_id = (
        content_hash
        if "id" not in q
        else source_id
        if ids_complete
        else f"coalesce({source_id}, {content_hash})"
    )

    keys = ", ".join(
        [
            f"{event_id} AS _event_id",
            *([f"{source_id} AS _source_id"] if "id" in q else []),
            f"{raw('customer')} AS _customer",
            f"{raw('time')} AS _time_raw",
            f"{parsed_time} AS _ts",
            f"{raw('event')} AS _event",
            f"{raw('session')} AS _session",
            *(f"{raw(fld)} AS _{fld}_raw, {numbers[fld]} AS _{fld}" for fld in checked),
        ]
    )
    # The first problem of a row, in column order: missing fields, then unreadable values.
    problems = [
        ("_customer IS NULL", plan.columns["customer"], "missing customer"),
        ("_time_raw IS NULL", plan.columns["time"], "missing time"),
        ("_event IS NULL", plan.columns["event"], "missing event name"),
        ("_ts IS NULL", plan.columns["time"], "unparseable timestamp"),
    ]
    problems += [
        (f"_{fld}_raw IS NOT NULL AND _{fld} IS NULL", plan.columns[fld], "not a number")
        for fld in checked
    ]
    problem = (
        "CASE "
        + " ".join(
            f"WHEN {cond} THEN {_literal(col)} || chr(30) || {_literal(reason)}"
            for cond, col, reason in problems
        )
        + " END"
    )
    # No condition is ever NULL (each is IS [NOT] NULL), so NOT is exact. A missing time
    # is an unparsed one too: the good rows need not look at the raw text.
    good = " AND ".join(f"NOT ({cond})" for cond, *_ in problems if cond != "_time_raw IS NULL")
    properties = _MapEntries("_p", tuple((name, name) for name in rest))
    identity_map = _MapEntries("_i", tuple(plan.identities.items()))
    payload = ", ".join(
        [
            f"{raw('channel')} AS _channel",
            f"{numbers['value']} AS _value",
            f"{numbers['cost']} AS _cost",
            f"{raw('text')} AS _text",
            f"{numbers['score']} AS _score",
            *properties.texts(),
            *identity_map.texts(),
        ]
    )
    columns = {kind: quote_identifier(col) for kind, col in plan.identities.items()}
    identities = {kind: _as_text(col, dense=True) for kind, col in columns.items()}
    return _Sql(
        event_id,
        source_id if "id" in q else None,
        keys,
        good,
        problem,
        payload,
        (properties, identity_map),
        identities,
        columns,
    )


def run_load(
    engine: Engine,
    plan: LoadPlan,
    *,
    load_id: int,
    first_seq: int,
    source_columns: Sequence[tuple[str, str]],
    normalise: Mapping[str, str],
    copied: tuple[str, list[Any]] | None = None,
) -> LoadCounts:
    """Check the source, quarantine bad rows, store the new events, without an
    intermediate table (see docs/decisions/0004-narrow-loads.md):

    1. the keys of the good rows straight into ``events_raw`` (its payload columns NULL);
    2. the payload of every row read straight into ``events_staged``: the rows it wrote
       are the rows read, so a clean source (as many good rows as rows) is known to be
       clean without another pass;
    3. only when some rows were bad: their problems and raw rows into ``quarantine``;
    4. ids repeated in the source or already stored, found on the keys just written
       (on 8-byte hashes first); the rows of steps 3 and 4 are then deleted from
       ``events_raw`` and ``events_staged`` (none on a clean first load);
    5. the identifiers of the rows kept into ``identifiers``, one statement per kind.

    Parquet is read at each step (its reader numbers the rows); any other source is
    copied once, numbered, and the copy read (see :func:`_stage`): ``copied``, the copy
    :func:`copy_source` made before the transaction, when there is one.

    ``normalise`` maps identifier kinds (each identity kind) to a SQL expression with
    :data:`RAW` where the raw text goes (the events layer owns the rules). The customer
    key goes to ``events_raw`` only (see :data:`CUSTOMER_KEYS_FROM`).

    No statement of a load needs its rows in the order they were read (``seq`` carries
    it), so DuckDB may write them as they come: with insertion order kept, its inserts
    and joins buffer rows to restore the order (more memory, more spill).
    """
    rejects = REJECTS
    params = [plan.source_name, load_id, first_seq]
    with engine.setting("preserve_insertion_order", False):
        if copied is None:
            if plan.kind == "arrow":  # copy_source registered it when it copied it
                assert plan.arrow is not None
                engine.duck.register(plan.location, plan.arrow)
            copied = _stage(engine, plan, rejects, [name for name, _ in source_columns])
        reader, reader_params = copied
        # Rows the CSV reader refused (wrong column count, bad encoding...): the rows after
        # them are numbered past them (``_row`` is the data row number).
        rejected = _refused_rows(engine, plan, rejects)
        if rejected:
            reader = (
                f"(SELECT src.* REPLACE (src._row + coalesce(s.n, 0) AS _row) "
                f"FROM {reader} AS src ASOF LEFT JOIN {REFUSED} AS s ON src._row > s.t)"
            )
            engine.duck.executemany(
                "INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (load_id, plan.source_name, line - 1, column, _reject_reason(kind, text), None)
                    for line, column, kind, text in rejected
                ],
            )

        # The keys of the good rows. With an id column, the rows with their id first: a
        # row without one takes a content hash (every column read and hashed), which a
        # clean source never needs; such rows, if any, follow once the count says so.
        sql = _load_sql(plan, source_columns, ids_complete=True)
        has_ids = sql.source_id is not None
        kept = _insert_keys(
            engine,
            sql,
            reader,
            [*params, *reader_params],
            "_source_id IS NOT NULL" if has_ids else None,
        )

        parsed = _insert_staged(engine, sql, reader, reader_params, first_seq)

        if parsed > kept and has_ids:
            sql = _load_sql(plan, source_columns, ids_complete=False)
            hashed = _insert_keys(
                engine, sql, reader, [*params, *reader_params], "_source_id IS NULL"
            )
            kept += hashed
            if not hashed:  # every row has its id after all
                sql = _load_sql(plan, source_columns, ids_complete=True)
        if parsed > kept:
            # The raw row, as read, for the people who fix the source (the rows' other
            # columns are evaluated for these rows only: the filter is pushed under them).
            engine.sql(
                f"""
                CREATE OR REPLACE TEMP TABLE {BAD} AS
                SELECT _row, {sql.problem} AS _problem, _raw
                FROM (
                    SELECT src._row AS _row, CAST(to_json(src) AS VARCHAR) AS _raw, {sql.keys}
                    FROM {reader} AS src
                )
                WHERE NOT ({sql.good})
                """,
                reader_params,
            )
            engine.sql(
                f"""
                INSERT INTO quarantine
                SELECT ?, ?, _row, split_part(_problem, chr(30), 1),
                       split_part(_problem, chr(30), 2), _raw
                FROM {BAD} ORDER BY _row
                """,
                [load_id, plan.source_name],
            )
        duplicates = _drop_rows(engine, first_seq=first_seq, bad=parsed > kept)

        # The customer key is not written to ``identifiers``: it is ``events_raw``'s
        # ``customer_key`` already, and identity resolution reads it there (a row per
        # event was a third of the identifiers' time: 1,017 s of a 100M load). The store
        # remembers from which load on (:data:`CUSTOMER_KEYS_FROM`).
        engine.sql(
            "INSERT INTO store_meta VALUES (?, ?) ON CONFLICT DO NOTHING",
            [CUSTOMER_KEYS_FROM, str(load_id)],
        )
        if sql.identities:
            _insert_identifiers(
                engine,
                sql,
                normalise,
                reader,
                reader_params,
                first_seq,
                dropped=bool(duplicates or parsed > kept),
            )

        _drop_work_tables(engine, plan, rejects)

    rows_read = parsed + len(rejected)
    quarantined = parsed - kept + len(rejected)
    return LoadCounts(rows_read, kept - duplicates, duplicates, quarantined)


def _insert_keys(
    engine: Engine, sql: _Sql, reader: str, params: list[Any], only: str | None
) -> int:
    """Insert the keys of the source's good rows (``only`` those too) into ``events_raw``,
    ``seq`` from the source's data row number; returns how many."""
    with _filters_kept_above(engine):
        inserted = engine.sql(
            f"""
            INSERT INTO events_raw
            SELECT _event_id, _customer, _ts, _event, NULL, _session, NULL, NULL, NULL, NULL,
                   NULL, NULL, ?, ?, ? + _row
            FROM (SELECT src._row AS _row, {sql.keys} FROM {reader} AS src)
            WHERE {sql.good}{f" AND {only}" if only else ""}
            """,
            params,
        ).fetchone()
    return int(inserted[0]) if inserted else 0


def _insert_staged(
    engine: Engine, sql: _Sql, reader: str, params: list[Any], first_seq: int
) -> int:
    """Insert the payload of every row read into ``events_staged``; returns how many.

    Each map's frequent shapes are counted first on the source's first rows (see
    :class:`_MapEntries`), an inexpensive read: the scan stops at the sample."""
    texts = f"(SELECT src._row AS _row, {sql.payload} FROM {{}} AS src)"
    sample = texts.format(f"(SELECT * FROM {reader} AS src LIMIT {_SHAPE_SAMPLE})")
    shapes: list[str] = []
    maps: list[str] = []
    for entries in sql.maps:
        shape = entries.shape()
        frequent: list[int] = []
        if shape is not None:
            counted = engine.sql(
                f"SELECT s, n, sum(b) OVER () / sum(n) OVER () FROM ("
                f"SELECT {shape} AS s, count(*) AS n, sum({entries.text_bytes()}) AS b "
                f"FROM {sample} GROUP BY s) ORDER BY n DESC, s LIMIT {_MAP_SHAPES}",
                params,
            ).fetchall()
            if counted and counted[0][2] <= _SHAPE_TEXT_BYTES:
                frequent = [int(value) for value, _, _ in counted]
                shapes.append(f"{shape} AS {entries.prefix}shape")
        maps.append(entries.map(frequent))
    rows = texts.format(reader)
    if shapes:
        rows = f"(SELECT *, {', '.join(shapes)} FROM {rows})"
    inserted = engine.sql(
        f"INSERT INTO events_staged SELECT ? + _row, _channel, _value, _cost, _text, _score, "
        f"{', '.join(maps)} FROM {rows}",
        [first_seq, *params],
    ).fetchone()
    return int(inserted[0]) if inserted else 0


def _refused_rows(
    engine: Engine, plan: LoadPlan, rejects: str
) -> list[tuple[int, str | None, str, str]]:
    """The rows the CSV reader refused (line, column, kind, message), one per line.

    The rows it returns are numbered as it returns them; their data row numbers skip
    the refused ones. The j-th refused row r_j leaves t_j = r_j - j rows before it, so a
    row the reader numbered k is data row k + (the greatest j with t_j < k): the
    thresholds go into :data:`REFUSED` as (t, n), n the greatest j of each t.
    """
    if plan.kind != "csv" or not engine.has_table(rejects):
        return []
    rejected = [
        (int(line), column, str(kind), str(message))
        for line, column, kind, message in engine.sql(
            f"SELECT DISTINCT ON (line) line, column_name, error_type, error_message "
            f"FROM {quote_identifier(rejects)} ORDER BY line"
        ).fetchall()
    ]
    if rejected:
        thresholds = {line - 1 - j: j for j, (line, *_rest) in enumerate(rejected, start=1)}
        engine.sql(f"CREATE OR REPLACE TEMP TABLE {REFUSED} (t BIGINT, n BIGINT)")
        engine.duck.executemany(f"INSERT INTO {REFUSED} VALUES (?, ?)", list(thresholds.items()))
    return rejected


def _drop_rows(engine: Engine, *, first_seq: int, bad: bool) -> int:
    """Delete the rows not to keep from ``events_raw`` and ``events_staged``: the bad ones
    (listed in :data:`BAD`), and the ids already stored or repeated earlier in the source
    (a row may be listed twice). Returns the number of duplicates."""
    parts = [
        # Repeated ids found on their 8-byte hashes first: grouping 100M long ids by
        # their text took gigabytes of memory, and few hashes repeat.
        """
        SELECT n.seq FROM events_raw AS n JOIN (
            SELECT event_id, min(seq) AS first_seq FROM events_raw
            WHERE seq > $first AND hash(event_id) IN (
                SELECT hash(event_id) FROM events_raw WHERE seq > $first
                GROUP BY 1 HAVING count(*) > 1
            )
            GROUP BY event_id HAVING count(*) > 1
        ) AS d USING (event_id)
        WHERE n.seq > d.first_seq
        """
    ]
    if first_seq > 0:  # events stored before: a first load has nothing to compare with
        parts.append(
            "SELECT n.seq FROM events_raw AS n SEMI JOIN "
            "(SELECT event_id FROM events_raw WHERE seq <= $first) AS o USING (event_id) "
            "WHERE n.seq > $first"
        )
    if bad:
        parts.append(f"SELECT $first + _row FROM {BAD}")
    engine.sql(
        f"CREATE OR REPLACE TEMP TABLE {DROPPED} AS " + " UNION ALL ".join(parts),
        {"first": first_seq},
    )
    listed = engine.sql(f"SELECT count(*) FROM {DROPPED}").fetchone()
    if not (listed and listed[0]):
        return 0
    deleted = engine.sql(
        f"DELETE FROM events_raw WHERE seq IN (SELECT seq FROM {DROPPED})"
    ).fetchone()
    engine.sql(f"DELETE FROM events_staged WHERE seq IN (SELECT seq FROM {DROPPED})")
    return int(deleted[0]) if deleted else 0


def _insert_identifiers(
    engine: Engine,
    sql: _Sql,
    normalise: Mapping[str, str],
    reader: str,
    reader_params: list[Any],
    first_seq: int,
    *,
    dropped: bool,
) -> None:
    """Every identifier of the rows kept, normalised, one statement per kind.

    Each statement writes the (event, kind, value) rows as it makes them, never holding
    them (at 100M events they are ~200M rows; gathered in a query that used them twice,
    they spilled past 25 GB). The event id comes with the row when the source has an id
    column; a content hash (every column read and hashed) is taken from ``events_raw``
    instead, joined on ``seq``, which also leaves out the rows not kept. (One statement
    for all kinds, a list of them per row unnested, took 2.3 CPU-s at 1M events against
    1.5 for the four.) Rows without the kind's column are left out before anything is
    computed for them: every rule makes nothing of nothing, and most kinds are on few
    rows (e-mail, phone and CRM id on 19%, 0.9% and 0.2% of the demo's).
    """
    for kind, text in sql.identities.items():
        rule = normalise[kind].replace(RAW, "_raw")
        present = f"{sql.identity_columns[kind]} IS NOT NULL"
        raw = f"(SELECT *, {text} AS _raw FROM {reader} AS src WHERE {present})"
        if sql.source_id is None:
            query = f"""
                INSERT INTO identifiers
                SELECT r.event_id, {_literal(kind)}, i.value
                FROM (SELECT ? + src._row AS seq, {rule} AS value FROM {raw} AS src) AS i
                JOIN events_raw AS r USING (seq)
                WHERE i.value IS NOT NULL AND r.seq > ?
                """
            params = [first_seq, *reader_params, first_seq]
        else:
            kept = f"ANTI JOIN {DROPPED} AS d ON d.seq = p._seq" if dropped else ""
            query = f"""
                INSERT INTO identifiers
                SELECT _event_id, {_literal(kind)}, value
                FROM (
                    SELECT ? + src._row AS _seq, {sql.event_id} AS _event_id, {rule} AS value
                    FROM {raw} AS src
                ) AS p {kept}
                WHERE value IS NOT NULL
                """
            params = [first_seq, *reader_params]
        with contextlib.nullcontext() if sql.source_id is None else _filters_kept_above(engine):
            engine.sql(query, params)


def _drop_work_tables(engine: Engine, plan: LoadPlan, rejects: str) -> None:
    for table in (SOURCE, BAD, DROPPED, REFUSED):
        engine.sql(f"DROP TABLE IF EXISTS {table}")
    if plan.kind == "csv":
        for table in (rejects, rejects + "_scan"):
            engine.sql(f"DROP TABLE IF EXISTS {quote_identifier(table)}")
    if plan.kind == "arrow":
        engine.duck.unregister(plan.location)


def run_profile_load(
    engine: Engine,
    plan: LoadPlan,
    *,
    id_column: str,
    source_columns: Sequence[tuple[str, str]],
    normalise: Mapping[str, str],
) -> int:
    """Replace the profiles of ``plan.source_name`` with the rows of a customer file.

    Every column but the id and the identifiers becomes a profile attribute; each
    identifier on a row links to the others (identity resolution reads ``profiles``).
    Returns the number of profiles stored.
    """
    identity_columns = set(plan.identities.values())
    rest = [
        name for name, _ in source_columns if name != id_column and name not in identity_columns
    ]
    attributes = (
        "map_from_entries(list_filter(["
        + ", ".join(f"({_literal(name)}, {_as_text(quote_identifier(name))})" for name in rest)
        + "], lambda e: e[2] IS NOT NULL))"
        if rest
        else "MAP {}::MAP(VARCHAR, VARCHAR)"
    )
    reader, params = _reader(plan, "_profile_rejects")
    if plan.kind == "arrow":
        assert plan.arrow is not None
        engine.duck.register(plan.location, plan.arrow)
    engine.sql("DELETE FROM customer_profiles WHERE source = ?", [plan.source_name])
    engine.sql("DELETE FROM profiles WHERE source = ?", [plan.source_name])
    engine.sql(
        f"""
        CREATE OR REPLACE TEMP TABLE _profile_rows AS
        SELECT {_as_text(quote_identifier(id_column))} AS profile_id, {attributes} AS attributes,
               {", ".join(f"{_as_text(quote_identifier(col))} AS {quote_identifier('_id_' + kind)}" for kind, col in plan.identities.items()) or "NULL AS _none"}
        FROM {reader} AS src
        WHERE {_as_text(quote_identifier(id_column))} IS NOT NULL
        """,
        params,
    )
    engine.sql(
        "INSERT INTO customer_profiles SELECT profile_id, attributes, ? FROM _profile_rows",
        [plan.source_name],
    )
    selects = [
        f"SELECT profile_id, {_literal(kind)}, "
        f"{normalise[kind].replace(RAW, quote_identifier('_id_' + kind))}, ? "
        "FROM _profile_rows"
        for kind in plan.identities
    ]
    if selects:
        engine.sql(
            "INSERT INTO profiles SELECT * FROM ("
            + " UNION ALL ".join(selects)
            + ") AS p(profile_id, kind, value, source) WHERE value IS NOT NULL",
            [plan.source_name] * len(selects),
        )
    row = engine.sql("SELECT count(*) FROM _profile_rows").fetchone()
    engine.sql("DROP TABLE IF EXISTS _profile_rows")
    for table in ("_profile_rejects", "_profile_rejects_scan"):
        engine.sql(f"DROP TABLE IF EXISTS {table}")
    if plan.kind == "arrow":
        engine.duck.unregister(plan.location)
    return int(row[0]) if row else 0


def _reject_reason(kind: str, message: str) -> str:
    reasons = {
        "INVALID ENCODING": "not valid text in the file's encoding (use --encoding)",
        "TOO MANY COLUMNS": "more columns than the header",
        "MISSING COLUMNS": "fewer columns than the header",
        "UNQUOTED VALUE": "a quote inside an unquoted value",
        "LINE SIZE OVER MAXIMUM": "line too long",
    }
    return reasons.get(kind, message.splitlines()[0] if message else kind.lower())


def check_time_zone(engine: Engine, zone: str) -> bool:
    row = engine.sql("SELECT count(*) FROM pg_timezone_names() WHERE name = ?", [zone]).fetchone()
    return bool(row and row[0])


def drop_temporary(engine: Engine) -> None:
    for table in (SOURCE, BAD, DROPPED, REFUSED, REJECTS, REJECTS + "_scan"):
        with contextlib.suppress(EngineError):
            engine.sql(f"DROP TABLE IF EXISTS {table}")
