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
from typing import Any, Literal

import pyarrow as pa

from jornada.engine.backend import Engine, EngineError
from jornada.engine.store import CUSTOMER_KEYS_FROM

__all__ = [
    "RAW",
    "LoadCounts",
    "LoadPlan",
    "SourceKind",
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


def _reader(plan: LoadPlan, rejects: str) -> tuple[str, list[Any]]:
    """A FROM clause reading the source, with ``_row`` = 1-based data row number."""
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
        source = f"read_csv(?, {', '.join(options)})"
        return f"(SELECT *, row_number() OVER () AS _row FROM {source})", params
    if plan.kind == "parquet":
        return (
            "(SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS _row "
            "FROM read_parquet(?, file_row_number = true))",
            [plan.location],
        )
    if plan.kind == "jsonl":
        return (
            "(SELECT *, row_number() OVER () AS _row "
            "FROM read_json(?, format = 'newline_delimited', records = true))",
            [plan.location],
        )
    return (f"(SELECT *, row_number() OVER () AS _row FROM {quote_identifier(plan.location)})", [])


def describe_source(engine: Engine, plan: LoadPlan) -> list[tuple[str, str]]:
    """The source's columns and DuckDB types, reading only what is needed to know them."""
    if plan.kind == "arrow":
        assert plan.arrow is not None
        engine.duck.register(plan.location, plan.arrow)
    reader, params = _reader(plan, "_describe_rejects")
    rows = engine.sql(f"DESCRIBE SELECT * FROM {reader}", params).fetchall()
    return [(str(name), str(kind)) for name, kind, *_ in rows if name != "_row"]


def _as_text(expr: str) -> str:
    return f"nullif(trim(CAST({expr} AS VARCHAR)), '')"


def _time_expression(column: str, column_type: str, plan: LoadPlan) -> str:
    """UTC timestamp of a time column, NULL when it cannot be read."""
    tz = _literal(plan.time_zone)
    if column_type.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"CAST({column} AS TIMESTAMP)"  # session time zone is UTC
    if column_type.startswith(("TIMESTAMP", "DATE")):
        return f"CAST(timezone('UTC', timezone({tz}, CAST({column} AS TIMESTAMP))) AS TIMESTAMP)"
    text = _as_text(column)
    if plan.time_format in ("epoch", "epoch_ms"):
        scale = "1000.0" if plan.time_format == "epoch_ms" else "1.0"
        return f"CAST(to_timestamp(TRY_CAST({text} AS DOUBLE) / {scale}) AS TIMESTAMP)"
    if plan.time_format is not None:
        local = f"try_strptime({text}, {_literal(plan.time_format)})"
        has_zone = "%z" in plan.time_format or "%Z" in plan.time_format
        if has_zone:
            return f"CAST({local} AS TIMESTAMP)"
        return f"CAST(timezone('UTC', timezone({tz}, CAST({local} AS TIMESTAMP))) AS TIMESTAMP)"
    # ISO 8601: with an offset (Z, +02:00, -0300) it is absolute; without, local to --tz.
    return (
        f"CASE WHEN regexp_matches({text}, '([zZ]|[+-][0-9]{{2}}(:?[0-9]{{2}})?)$') "
        f"THEN CAST(TRY_CAST({text} AS TIMESTAMPTZ) AS TIMESTAMP) "
        f"ELSE CAST(timezone('UTC', timezone({tz}, TRY_CAST({text} AS TIMESTAMP))) AS TIMESTAMP) END"
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
    return f"TRY_CAST(replace({_as_text(column)}, ',', '.') AS DOUBLE)"


CHECKED = "_load_checked"
"""The narrow rows of the load in progress: a table of the store, not a temporary one
(DuckDB keeps temporary tables uncompressed: at 100M events this one spilled ~18 GB),
created and dropped inside the load's transaction, so never seen committed."""


def run_load(
    engine: Engine,
    plan: LoadPlan,
    *,
    load_id: int,
    first_seq: int,
    source_columns: Sequence[tuple[str, str]],
    normalise: Mapping[str, str],
) -> LoadCounts:
    """Check the source on narrow rows, quarantine bad rows, store the new events.

    Two reads of the source (see docs/decisions/0004-narrow-loads.md): the first keeps
    only the keys and each row's first problem in :data:`CHECKED`; the second writes the
    payload of the rows kept straight into ``events_staged``. ``events_raw`` gets the
    keys (its payload columns stay NULL); the rebuild moves the payload into ``events``.

    ``normalise`` maps identifier kinds (each identity kind) to a SQL expression with
    :data:`RAW` where the raw text goes (the events layer owns the rules). The customer
    key goes to ``events_raw`` only (see :data:`CUSTOMER_KEYS_FROM`).

    No statement of a load needs its rows in the order they were read (``seq`` and
    ``_row`` carry it), so DuckDB may write them as they come: with insertion order kept,
    its inserts and joins buffer rows to restore the order (more memory, more spill).
    """
    with engine.setting("preserve_insertion_order", False):
        return _run_load(
            engine,
            plan,
            load_id=load_id,
            first_seq=first_seq,
            source_columns=source_columns,
            normalise=normalise,
        )


def _run_load(
    engine: Engine,
    plan: LoadPlan,
    *,
    load_id: int,
    first_seq: int,
    source_columns: Sequence[tuple[str, str]],
    normalise: Mapping[str, str],
) -> LoadCounts:
    types = dict(source_columns)
    q = {fld: quote_identifier(col) for fld, col in plan.columns.items()}
    mapped = set(plan.columns.values()) | set(plan.identities.values())
    rest = [name for name, _ in source_columns if name not in mapped]

    def raw(fld: str) -> str:
        return _as_text(q[fld]) if fld in q else "NULL::VARCHAR"

    time_col = q["time"]
    parsed_time = _time_expression(time_col, types[plan.columns["time"]], plan)
    numbers = {
        fld: _number_expression(q[fld], types[plan.columns[fld]]) if fld in q else "NULL::DOUBLE"
        for fld in NUMERIC_FIELDS
    }
    all_columns = [quote_identifier(name) for name, _ in source_columns]
    content = " || chr(31) || ".join(f"coalesce(CAST({c} AS VARCHAR), chr(0))" for c in all_columns)
    content_hash = f"'h' || md5({content})"
    source_id = raw("id")
    if plan.id_scope is not None:
        source_id = f"{_literal(plan.id_scope + ':')} || {source_id}"
    event_id = f"coalesce({source_id}, {content_hash})" if "id" in q else content_hash
    properties = (
        "map_from_entries(list_filter(["
        + ", ".join(f"({_literal(name)}, {_as_text(quote_identifier(name))})" for name in rest)
        + "], lambda e: e[2] IS NOT NULL))"
        if rest
        else "MAP {}::MAP(VARCHAR, VARCHAR)"
    )
    identities = (
        "map_from_entries(list_filter(["
        + ", ".join(
            f"({_literal(kind)}, {_as_text(quote_identifier(col))})"
            for kind, col in plan.identities.items()
        )
        + "], lambda e: e[2] IS NOT NULL))"
        if plan.identities
        else "MAP {}::MAP(VARCHAR, VARCHAR)"
    )
    # The raw identifier texts as plain columns: the identifiers table is made of them.
    identity_columns = "".join(
        f", {_as_text(quote_identifier(col))} AS _identity_{i}"
        for i, col in enumerate(plan.identities.values())
    )
    kept_identities = "".join(f", _identity_{i}" for i in range(len(plan.identities)))
    # The first problem of a row, in column order: missing fields, then unreadable values.
    problems = [
        ("_customer IS NULL", plan.columns["customer"], "missing customer"),
        ("_time_raw IS NULL", plan.columns["time"], "missing time"),
        ("_event IS NULL", plan.columns["event"], "missing event name"),
        ("_ts IS NULL", plan.columns["time"], "unparseable timestamp"),
    ]
    for fld in NUMERIC_FIELDS:
        if fld in q:
            problems.append(
                (f"_{fld}_raw IS NOT NULL AND _{fld} IS NULL", plan.columns[fld], "not a number")
            )
    checked_numbers = "".join(
        f"{raw(fld)} AS _{fld}_raw, {numbers[fld]} AS _{fld}, "
        for fld in NUMERIC_FIELDS
        if fld in q
    )
    problem_case = (
        "CASE "
        + " ".join(
            f"WHEN {cond} THEN {_literal(col)} || chr(30) || {_literal(reason)}"
            for cond, col, reason in problems
        )
        + " END"
    )

    rejects = f"_rejects_{load_id}"
    reader, params = _reader(plan, rejects)
    if plan.kind == "arrow":
        assert plan.arrow is not None
        engine.duck.register(plan.location, plan.arrow)
    engine.sql(f"DROP TABLE IF EXISTS {CHECKED}")
    # First read: narrow rows. ``_read_row`` numbers the rows the reader returns, ``_row``
    # the source's data rows (they differ after a CSV row the reader refused).
    engine.sql(
        f"""
        CREATE TABLE {CHECKED} AS
        SELECT _row, _row AS _read_row, _event_id, _customer, _ts, _event, _session,
               {problem_case} AS _problem{kept_identities}
        FROM (
            SELECT
                _row,
                {event_id} AS _event_id,
                {raw("customer")} AS _customer,
                {raw("time")} AS _time_raw,
                {checked_numbers}
                {parsed_time} AS _ts,
                {raw("event")} AS _event,
                {raw("session")} AS _session{identity_columns}
            FROM {reader} AS src
        )
        """,
        params,
    )
    # Rows the CSV reader itself refused (wrong column count, bad encoding...).
    rejected: list[tuple[int, str | None, str, str]] = []
    if plan.kind == "csv" and engine.has_table(rejects):
        rejected = [
            (int(line), column, str(kind), str(message))
            for line, column, kind, message in engine.sql(
                f"SELECT DISTINCT ON (line) line, column_name, error_type, error_message "
                f"FROM {quote_identifier(rejects)} ORDER BY line"
            ).fetchall()
        ]
    # A good row's data row number from its number in the reader: shifted past the
    # refused rows before it (refused row r_j leaves r_j - j good rows before it).
    shift = "(SELECT count(*) FROM _refused WHERE r - j < {row})"
    if rejected:
        engine.sql("CREATE OR REPLACE TEMP TABLE _refused (r BIGINT, j BIGINT)")
        engine.duck.executemany(
            "INSERT INTO _refused VALUES (?, ?)",
            [(line - 1, j) for j, (line, *_rest) in enumerate(rejected, start=1)],
        )
        engine.sql(f"UPDATE {CHECKED} SET _row = _read_row + {shift.format(row='_read_row')}")
        engine.duck.executemany(
            "INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?)",
            [
                (load_id, plan.source_name, line - 1, column, _reject_reason(kind, message), None)
                for line, column, kind, message in rejected
            ],
        )

    counts = engine.sql(
        f"SELECT count(*), count(*) FILTER (WHERE _problem IS NOT NULL) FROM {CHECKED}"
    ).fetchone()
    assert counts is not None
    parsed_rows, bad_rows = int(counts[0]), int(counts[1])
    if bad_rows:
        # The raw row, as read, for the people who fix the source: read again, only for
        # the rows in quarantine (clean files never pay for this).
        raw_reader, raw_params = _reader(plan, rejects + "_again")
        engine.sql(
            f"""
            INSERT INTO quarantine
            SELECT ?, ?, p._row, split_part(p._problem, chr(30), 1),
                   split_part(p._problem, chr(30), 2), CAST(to_json(src) AS VARCHAR)
            FROM {CHECKED} AS p JOIN {raw_reader} AS src ON src._row = p._read_row
            WHERE p._problem IS NOT NULL ORDER BY p._row
            """,
            [load_id, plan.source_name, *raw_params],
        )

    # Rows not to store: bad, already stored, or a repeat of an id earlier in the source
    # (a row may be listed twice: the anti-joins below do not mind). They are few (none on
    # a clean first load), so they are listed and the second read drops them with an
    # anti-join rather than joining every row it keeps.
    engine.sql(
        f"""
        CREATE OR REPLACE TEMP TABLE _skip AS
        SELECT _read_row FROM {CHECKED} WHERE _problem IS NOT NULL
        UNION ALL
        SELECT p._read_row FROM {CHECKED} AS p SEMI JOIN events_raw AS e
            ON e.event_id = p._event_id
        WHERE p._problem IS NULL
        UNION ALL
        SELECT p._read_row FROM {CHECKED} AS p JOIN (
            SELECT _event_id, min(_row) AS first_row FROM {CHECKED}
            WHERE _problem IS NULL AND hash(_event_id) IN (
                -- Repeated ids found on their 8-byte hashes first: grouping 100M long ids
                -- by their text took gigabytes of memory, and few hashes repeat.
                SELECT hash(_event_id) FROM {CHECKED} WHERE _problem IS NULL
                GROUP BY 1 HAVING count(*) > 1
            )
            GROUP BY _event_id HAVING count(*) > 1
        ) AS d USING (_event_id)
        WHERE p._problem IS NULL AND p._row > d.first_row
        """
    )
    # A clean first load skips nothing: its reads then need no anti-join at all.
    skipped = engine.sql("SELECT count(*) FROM _skip").fetchone()
    dropped = bool(skipped and skipped[0])
    new_rows = (
        f"{CHECKED} AS p ANTI JOIN _skip AS k ON k._read_row = p._read_row" if dropped else CHECKED
    )
    engine.sql(f"CREATE OR REPLACE TEMP VIEW _new AS SELECT * FROM {new_rows}")
    loaded_row = engine.sql(  # an INSERT answers with the number of rows it inserted
        """
        INSERT INTO events_raw
        SELECT _event_id, _customer, _ts, _event, NULL, _session, NULL, NULL, NULL, NULL,
               NULL, NULL, ?, ?, ? + _row
        FROM _new
        """,
        [plan.source_name, load_id, first_seq],
    ).fetchone()
    loaded = int(loaded_row[0]) if loaded_row else 0

    # One statement per kind, each streaming the narrow rows once: the (event, kind,
    # value) rows are written as they are made, never held (at 100M events they are
    # ~200M rows; gathered in one query that used them twice, they spilled past 25 GB).
    # A costly rule (the phone one is a dozen regexes) is worked out once per distinct
    # raw value and joined back; the others (trim, lower) cost less than that join.
    # (One scan for all kinds, a list per row unnested, took more CPU: 3.5 s against
    # 3.0 s at 1M events.) The customer key is not written here: it is ``events_raw``'s
    # ``customer_key`` already, and identity resolution reads it there (a row per event
    # was a third of the identifiers' time: 1,017 s of a 100M load). The store remembers
    # from which load on (:data:`CUSTOMER_KEYS_FROM`): older loads wrote those rows.
    engine.sql(
        "INSERT INTO store_meta VALUES (?, ?) ON CONFLICT DO NOTHING",
        [CUSTOMER_KEYS_FROM, str(load_id)],
    )
    columns = {kind: f"_identity_{i}" for i, kind in enumerate(plan.identities)}
    for kind, column in columns.items():
        rule = normalise[kind]
        if "regexp" in rule.lower():
            engine.sql(
                f"""
                INSERT INTO identifiers
                SELECT p._event_id, {_literal(kind)}, n.value
                FROM _new AS p JOIN (
                    SELECT _raw, {rule.replace(RAW, "_raw")} AS value
                    FROM (SELECT DISTINCT {column} AS _raw FROM {CHECKED})
                ) AS n ON n._raw = p.{column}
                WHERE n.value IS NOT NULL
                """
            )
        else:
            engine.sql(
                f"""
                INSERT INTO identifiers
                SELECT _event_id, {_literal(kind)}, value
                FROM (SELECT _event_id, {rule.replace(RAW, column)} AS value FROM _new)
                WHERE value IS NOT NULL
                """
            )
    engine.sql("DROP VIEW IF EXISTS _new")
    engine.sql(f"DROP TABLE IF EXISTS {CHECKED}")

    # Second read: the payload of the rows kept, straight into its staging table.
    wide_reader, wide_params = _reader(plan, rejects + "_wide")
    row = "src._row" + (" + " + shift.format(row="src._row") if rejected else "")
    not_skipped = "ANTI JOIN _skip AS k ON k._read_row = src._row" if dropped else ""
    engine.sql(
        f"""
        INSERT INTO events_staged
        SELECT ? + {row}, {raw("channel")}, {numbers["value"]}, {numbers["cost"]},
               {raw("text")}, {numbers["score"]}, {properties}, {identities}
        FROM {wide_reader} AS src {not_skipped}
        """,
        [first_seq, *wide_params],
    )

    engine.sql("DROP TABLE IF EXISTS _skip")
    if plan.kind == "csv":
        for suffix in ("", "_again", "_wide"):
            for table in (rejects + suffix, rejects + suffix + "_scan"):
                engine.sql(f"DROP TABLE IF EXISTS {quote_identifier(table)}")
    engine.sql("DROP TABLE IF EXISTS _refused")
    if plan.kind == "arrow":
        engine.duck.unregister(plan.location)

    rows_read = parsed_rows + len(rejected)
    quarantined = bad_rows + len(rejected)
    return LoadCounts(rows_read, loaded, rows_read - loaded - quarantined, quarantined)


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
    with contextlib.suppress(EngineError):
        engine.sql("DROP VIEW IF EXISTS _new")
    for table in (CHECKED, "_skip", "_refused"):
        with contextlib.suppress(EngineError):
            engine.sql(f"DROP TABLE IF EXISTS {table}")
