"""The properties and identities maps a load writes: each row's present values (trimmed,
not empty) under their keys, in column order, whether its shape (which entries it has)
is among the frequent ones the load builds from a struct or a rare one that takes the
general path (``engine/loading.py``, ``_MapEntries``)."""

from __future__ import annotations

import random
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from jornada.engine import Engine, loading
from jornada.engine.store import ensure_store
from jornada.events.load import ColumnMapping, load_events

PROPERTIES = ("page", "Topic", "odd key", "it's", "campaign", "rating")
KINDS = {"email": "mail", "phone": "tel", "device": "dev"}
MAPPING = ColumnMapping(customer="user", time="when", event="what", id="n", identities=KINDS)
VALUES = ("a", " b ", "  ", "", "\u3000c\u3000", "dé", None, None, None)


def table(rows: int, *, typed_rating: bool) -> pa.Table:
    """Random presence on every map column, so that rows take many shapes (2^9 possible):
    blank values count as absent, padded ones are trimmed."""
    pick = random.Random(7)
    columns: dict[str, list[object]] = {
        "n": [str(i) for i in range(rows)],
        "user": [f"u{i % 50}" for i in range(rows)],
        "when": [f"2026-01-{1 + i % 28:02d}T10:00:00Z" for i in range(rows)],
        "what": ["visit"] * rows,
    }
    for name in (*PROPERTIES, *KINDS.values()):
        if name == "rating" and typed_rating:
            columns[name] = [pick.choice((None, None, 3, 12)) for _ in range(rows)]
        else:
            columns[name] = [pick.choice(VALUES) for _ in range(rows)]
    return pa.table(columns)


def expected(source: pa.Table, keys: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    """The oracle: per event id, the (key, trimmed text) of its present values."""
    made: dict[str, list[tuple[str, str]]] = {}
    rows = source.to_pylist()
    for row in rows:
        entries = []
        for key, column in keys.items():
            value = row[column]
            text = None if value is None else str(value).strip(" \u3000")
            if text:
                entries.append((key, text))
        made[row["n"]] = entries
    return made


def stored(engine: Engine, column: str) -> dict[str, list[tuple[str, str]]]:
    rows = engine.sql(f"SELECT event_id, map_entries({column}) FROM events").fetchall()
    return {
        event_id: [(entry["key"], entry["value"]) for entry in entries]
        for event_id, entries in rows
    }


@pytest.mark.parametrize("kind", ["csv", "parquet", "arrow"])
@pytest.mark.parametrize("sample", [40, 100_000])
def test_maps_are_the_present_values_whatever_the_shape(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, sample: int
) -> None:
    # A small sample and few shapes: most rows take the general path, the others a
    # struct; with the whole file sampled, only the rarest take the general path.
    monkeypatch.setattr(loading, "_SHAPE_SAMPLE", sample)
    monkeypatch.setattr(loading, "_MAP_SHAPES", 4 if sample < 100 else 32)
    source = table(600, typed_rating=kind != "csv")
    path: Path | pa.Table
    if kind == "csv":
        path = tmp_path / "e.csv"
        pacsv.write_csv(source, path)
    elif kind == "parquet":
        path = tmp_path / "e.parquet"
        pq.write_table(source, path)
    else:
        path = source
    engine = Engine.duckdb()
    ensure_store(engine)
    sent: list[str] = []
    with engine.tracing(sent.append):
        result = load_events(engine, path, MAPPING)
    assert (result.rows_read, result.loaded, result.quarantined) == (600, 600, 0)
    staged = next(q for q in sent if q.startswith("INSERT INTO events_staged"))
    assert "CASE _pshape WHEN" in staged
    assert "CASE _ishape WHEN" in staged

    assert stored(engine, "properties") == expected(source, {p: p for p in PROPERTIES})
    assert stored(engine, "identifiers") == expected(source, KINDS)


def load_staged(tmp_path: Path, source: pa.Table) -> tuple[Engine, str]:
    """Load ``source`` from a Parquet file; the engine and its staged payload statement."""
    path = tmp_path / "e.parquet"
    pq.write_table(source, path)
    engine = Engine.duckdb()
    ensure_store(engine)
    sent: list[str] = []
    with engine.tracing(sent.append):
        load_events(engine, path, MAPPING)
    return engine, next(q for q in sent if q.startswith("INSERT INTO events_staged"))


def test_more_properties_than_a_shape_has_bits_take_the_general_path(tmp_path: Path) -> None:
    base = table(300, typed_rating=True)
    names = [f"p{i}" for i in range(70)]
    pick = random.Random(3)
    source = base.select(["n", "user", "when", "what", *KINDS.values()])
    for name in names:
        source = source.append_column(name, pa.array([pick.choice(VALUES) for _ in range(300)]))
    engine, staged = load_staged(tmp_path, source)
    assert "_pshape" not in staged
    assert "CASE _ishape WHEN" in staged
    assert stored(engine, "properties") == expected(source, {p: p for p in names})
    assert stored(engine, "identifiers") == expected(source, KINDS)


def test_long_texts_take_the_general_path(tmp_path: Path) -> None:
    """Properties of 2 kB a row: the shapes' saving is small beside the text, their copy
    of each batch of maps is not."""
    source = table(300, typed_rating=True)
    long = pa.array([None if i % 3 else "x" * 6_000 for i in range(300)])
    source = source.set_column(source.schema.get_field_index("page"), "page", long)
    engine, staged = load_staged(tmp_path, source)
    assert "_pshape" not in staged
    assert "CASE _ishape WHEN" in staged
    assert stored(engine, "properties") == expected(source, {p: p for p in PROPERTIES})
