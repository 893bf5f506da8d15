"""Loading events from files and databases into a workspace: atomic, idempotent, counted.

Every row read ends up in exactly one place: loaded, duplicate (already stored, or the
same event twice in the source) or quarantine (with row, column and reason), so
``loaded + duplicates + quarantined == rows_read`` always.

>>> import tempfile, pathlib
>>> from jornada.engine import Engine
>>> from jornada.engine.store import ensure_store
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "e.csv").write_text("user,when,what\\nu1,2026-01-01T10:00:00Z,visit\\n,2026-01-01,visit\\n")
>>> engine = Engine.duckdb(); ensure_store(engine)
>>> load_events(engine, folder / "e.csv", ColumnMapping(customer="user", time="when", event="what")).to_dict()
{'source': 'e.csv', 'load_id': 1, 'rows_read': 2, 'loaded': 1, 'duplicates': 0, 'quarantined': 1}
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

import ibis
import pyarrow as pa
import sqlglot
from pydantic import BaseModel, ConfigDict, Field

from jornada.engine import Engine, EngineError
from jornada.engine.loading import (
    RAW,
    LoadPlan,
    SourceKind,
    check_time_zone,
    copy_source,
    describe_source,
    drop_temporary,
    run_load,
    run_profile_load,
)
from jornada.engine.store import mark_rebuild_pending, rebuild_derived, rebuild_pending
from jornada.errors import JornadaError
from jornada.events.identity import normalize_identifier

__all__ = [
    "ColumnMapping",
    "LoadError",
    "LoadResult",
    "detect_kind",
    "load_events",
    "load_profiles",
]

Progress = Callable[[str], None]

_SUFFIX_KINDS: dict[str, SourceKind | Literal["excel"]] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".xlsx": "excel",
    ".xlsm": "excel",
}


@cache
def _normalisation_sql(kind: str, country_code: str) -> str:
    """DuckDB SQL of :func:`jornada.events.identity.normalize_identifier` for one kind, with
    :data:`RAW` where the raw text goes: one normalisation rule, written once in Ibis."""
    raw = ibis.table({"raw": "string"}, name="raw_identifiers")
    query = ibis.to_sql(
        raw.select(value=normalize_identifier(kind, raw.raw, default_country_code=country_code)),
        dialect="duckdb",
    )
    expression = sqlglot.parse_one(query, read="duckdb").expressions[0].this
    for column in list(expression.find_all(sqlglot.exp.Column)):
        column.replace(sqlglot.exp.Var(this=RAW))
    text: str = expression.sql(dialect="duckdb")
    return text


def _normalisations(kinds: list[str], country_code: str) -> dict[str, str]:
    return {kind: _normalisation_sql(kind, country_code) for kind in ["customer", *kinds]}


class LoadError(JornadaError):
    """A source that cannot be loaded at all (unreadable, a column missing...)."""


class ColumnMapping(BaseModel):
    """Which source column is which canonical field, and how to read times.

    Saved in ``jornada.toml`` under ``[mappings.NAME]`` and reused with ``--mapping NAME``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    customer: str = Field(description="The customer key column (the source's own id).")
    time: str
    event: str
    channel: str | None = None
    session: str | None = None
    value: str | None = None
    cost: str | None = None
    text: str | None = None
    score: str | None = None
    id: str | None = Field(default=None, description="A unique event id column, if any.")
    id_scope: str | None = Field(
        default=None,
        description="Prefix of the source's event ids, so that two systems that number "
        "their events alike (1, 2, 3...) do not collide; ids are global when absent.",
    )
    identities: dict[str, str] = Field(
        default_factory=dict, description="More identifier columns by kind: email, phone..."
    )
    tz: str = Field(default="UTC", description="Time zone of times written without offset.")
    time_format: str | None = Field(
        default=None, description="strptime format, or epoch / epoch_ms; ISO 8601 when absent."
    )
    delimiter: str | None = None
    encoding: str = "utf-8"
    country_code: str = Field(default="55", pattern=r"^[0-9]{1,3}$")

    def field_columns(self) -> dict[str, str]:
        names = (
            "id",
            "customer",
            "time",
            "event",
            "channel",
            "session",
            "value",
            "cost",
            "text",
            "score",
        )
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


@dataclass(frozen=True)
class LoadResult:
    """What one load did. ``loaded + duplicates + quarantined == rows_read``."""

    source: str
    load_id: int
    rows_read: int
    loaded: int
    duplicates: int
    quarantined: int
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "load_id": self.load_id,
            "rows_read": self.rows_read,
            "loaded": self.loaded,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
        }

    def __str__(self) -> str:
        return (
            f"{self.source}: {self.rows_read} rows read, {self.loaded} loaded, "
            f"{self.duplicates} duplicates, {self.quarantined} quarantined"
        )


def detect_kind(path: Path) -> SourceKind | Literal["excel"]:
    """The reader for a file, from its suffix."""
    try:
        return _SUFFIX_KINDS[path.suffix.lower()]
    except KeyError:
        known = ", ".join(sorted(_SUFFIX_KINDS))
        raise LoadError(f"{path}: unknown file type {path.suffix!r}; use one of {known}") from None


def _excel_as_arrow(path: Path) -> pa.Table:
    """Read the first sheet of a workbook as text columns (cells keep their printed form)."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds on a damaged workbook
        raise LoadError(f"{path}: not a readable Excel workbook ({error})") from None
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        raise LoadError(f"{path}: the first sheet is empty")
    names = [str(h) if h is not None else f"column_{i + 1}" for i, h in enumerate(header)]
    columns: list[list[str | None]] = [[] for _ in names]
    for row in rows:
        for i in range(len(names)):
            cell = row[i] if i < len(row) else None
            columns[i].append(
                None
                if cell is None
                else cell.isoformat()
                if hasattr(cell, "isoformat")
                else str(cell)
            )
    workbook.close()
    return pa.table(
        {name: pa.array(values, pa.string()) for name, values in zip(names, columns, strict=True)}
    )


def plan_for(source: Path | pa.Table, mapping: ColumnMapping, *, source_name: str) -> LoadPlan:
    """The load plan of a file or an Arrow table (from a database or a notebook)."""
    common: dict[str, Any] = {
        "source_name": source_name,
        "columns": mapping.field_columns(),
        "identities": dict(mapping.identities),
        "time_zone": mapping.tz,
        "time_format": mapping.time_format,
        "encoding": mapping.encoding,
        "id_scope": mapping.id_scope,
    }
    if isinstance(source, pa.Table):
        return LoadPlan(kind="arrow", location="_arrow_source", arrow=source, **common)
    kind = detect_kind(source)
    if kind == "excel":
        return LoadPlan(
            kind="arrow", location="_arrow_source", arrow=_excel_as_arrow(source), **common
        )
    delimiter = mapping.delimiter
    if delimiter is None and source.suffix.lower() == ".tsv":
        delimiter = "\t"
    return LoadPlan(kind=kind, location=str(source), delimiter=delimiter, **common)


def load_events(
    engine: Engine,
    source: Path | pa.Table,
    mapping: ColumnMapping,
    *,
    source_name: str | None = None,
    session_gap_seconds: int = 1800,
    progress: Progress | None = None,
    after_insert: Callable[[Engine], None] | None = None,
) -> LoadResult:
    """Load one source into the store, all or nothing.

    The new raw events, identifiers, quarantine rows and load record commit together;
    then ``after_insert`` (the workspace's identity resolution) runs and ``events`` and
    ``customers`` are rebuilt (see :func:`jornada.engine.store.rebuild_derived`), unless
    the load added no event.
    """
    say = progress or (lambda _step: None)
    started = time.perf_counter()
    if isinstance(source, Path):
        if not source.exists():
            raise LoadError(f"{source}: no such file")
        name = source_name or source.name
    else:
        name = source_name or "table"
    if not check_time_zone(engine, mapping.tz):
        raise LoadError(
            f"unknown time zone {mapping.tz!r}; use a name like UTC or America/Sao_Paulo"
        )

    say("reading")
    plan = plan_for(source, mapping, source_name=name)
    try:
        columns = describe_source(engine, plan)
    except EngineError as error:
        raise LoadError(f"{name}: cannot read it as {plan.kind}: {error}") from None
    available = [column for column, _ in columns]
    wanted = {**plan.columns, **{f"identity {k}": v for k, v in plan.identities.items()}}
    for field_name, column in wanted.items():
        if column not in available:
            raise LoadError(
                f"{name}: no column {column!r} for {field_name}; the columns are: {', '.join(available)}"
            )

    # A text source's copy in memory is no part of the store: it is made before the
    # transaction, where its passes read it faster (see copy_source). Every work table
    # is dropped after the transaction, whatever happened (a drop inside a failed one
    # would be rolled back with it).
    try:
        try:
            copied = copy_source(engine, plan, columns)
            with engine.transaction():
                next_ids = engine.sql(
                    "SELECT (SELECT coalesce(max(load_id), 0) FROM loads) + 1, "
                    "(SELECT coalesce(max(seq), 0) FROM events_raw)"
                ).fetchone()
                assert next_ids is not None
                load_id, last_seq = int(next_ids[0]), int(next_ids[1])
                say("parsing")
                normalise = _normalisations(list(mapping.identities), mapping.country_code)
                counts = run_load(
                    engine,
                    plan,
                    load_id=load_id,
                    first_seq=last_seq,
                    source_columns=columns,
                    normalise=normalise,
                    copied=copied,
                )
                engine.sql(
                    "INSERT INTO loads VALUES (?, ?, ?, now()::TIMESTAMP, ?, ?, ?, ?, ?)",
                    [
                        load_id,
                        name,
                        _fingerprint(source),
                        counts.rows_read,
                        counts.loaded,
                        counts.duplicates,
                        counts.quarantined,
                        mapping.model_dump_json(exclude_defaults=True),
                    ],
                )
                # A load that adds no event (the same file again, or only bad rows)
                # changes nothing the rebuild makes: it is not paid again (at 10M events,
                # a minute), and what was kept of the events still holds.
                if counts.loaded:
                    mark_rebuild_pending(engine)
        except EngineError as error:
            raise LoadError(f"{name}: {error}") from None
    finally:
        drop_temporary(engine)
    if rebuild_pending(engine):  # this load's, or one a killed process left
        say("resolving identities")
        rebuild_derived(engine, resolve=after_insert, session_gap_seconds=session_gap_seconds)
    return LoadResult(
        name,
        load_id,
        counts.rows_read,
        counts.loaded,
        counts.duplicates,
        counts.quarantined,
        time.perf_counter() - started,
    )


def load_profiles(
    engine: Engine,
    source: Path,
    *,
    id_column: str,
    identities: dict[str, str],
    country_code: str = "55",
    after_insert: Callable[[Engine], None] | None = None,
    session_gap_seconds: int = 1800,
) -> int:
    """Load a customer file (CRM export): one row per customer with its id, identifier
    columns (email, phone...) linked to each other, and attributes (segment, city...).
    Loading the same file again replaces its profiles. Returns the profiles stored."""
    if not source.exists():
        raise LoadError(f"{source}: no such file")
    mapping = ColumnMapping(
        customer=id_column, time=id_column, event=id_column, identities=identities
    )
    plan = plan_for(source, mapping, source_name=source.name)
    try:
        columns = describe_source(engine, plan)
    except EngineError as error:
        raise LoadError(f"{source.name}: cannot read it as {plan.kind}: {error}") from None
    available = [name for name, _ in columns]
    for what, column in {
        "id": id_column,
        **{f"identity {k}": v for k, v in identities.items()},
    }.items():
        if column not in available:
            raise LoadError(
                f"{source.name}: no column {column!r} for {what}; the columns are: {', '.join(available)}"
            )
    normalise = _normalisations(list(identities), country_code)
    with engine.transaction():
        try:
            stored = run_profile_load(
                engine, plan, id_column=id_column, source_columns=columns, normalise=normalise
            )
        except EngineError as error:
            raise LoadError(f"{source.name}: {error}") from None
        mark_rebuild_pending(engine)
    rebuild_derived(engine, resolve=after_insert, session_gap_seconds=session_gap_seconds)
    return stored


def _fingerprint(source: Path | pa.Table) -> str:
    if isinstance(source, Path):
        stat = source.stat()
        return f"{stat.st_size}:{int(stat.st_mtime)}"
    return f"arrow:{source.num_rows}"
