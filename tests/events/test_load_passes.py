"""A load writes its tables straight from the source, in passes (``engine/loading.py``):
the same rows, quarantine, identifiers and counts whether a text source is copied into
memory once or read again at each pass, whether ids are complete, partly missing or
absent, and whatever the reader refuses."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jornada.engine import Engine
from jornada.engine.store import ensure_store
from jornada.events.load import ColumnMapping, LoadError, LoadResult, load_events

MAPPING = ColumnMapping(
    customer="user",
    time="when",
    event="what",
    value="amount",
    id="n",
    identities={"email": "mail", "phone": "tel"},
)
HEADER = b"n,user,when,what,amount,mail,tel,note\n"
LINES = [
    b"1,u1,2026-01-01T10:00:00Z,visit,,Ana@X.com,(31) 99876-5432,{pad}\n",
    b"2,u2,2026-01-01T10:00:00Z,visit,1,,,{pad},EXTRA\n",  # refused: a column too many
    b"3,,2026-01-01T10:00:00Z,visit,,bia@x.com,,{pad}\n",  # no customer
    b"4,u3,2026-01-01T11:00:00Z,buy,12\xff,,,{pad}\n",  # refused: not UTF-8
    b"5,u3,yesterday,buy,12,,,{pad}\n",  # bad time
    b",u3,2026-01-01T12:00:00Z,buy,3,cid@x.com,,{pad}\n",  # no id: a content hash
    b"1,u1,2026-01-01T13:00:00Z,visit,,other@x.com,,{pad}\n",  # id 1 again: a duplicate
    b"6,u4,2026-01-01T14:00:00Z,buy,a lot,,,{pad}\n",  # not a number
    b" ,u4,2026-01-01T15:00:00Z,visit,,dee@x.com,+55 31 998765432,{pad}\n",  # blank id
    b"7,u4,2026-01-01T15:00:00Z,visit,2,,,{pad}\n",  # same time as the row before
]


def write(path: Path, fillers: int) -> Path:
    """The dirty lines, a short note on each, then ``fillers`` clean rows with 10 kB notes."""
    filler = b"f%d,u9,2026-02-01T00:00:00Z,visit,,,," + b"x" * 10_000 + b"\n"
    path.write_bytes(
        HEADER
        + b"".join(line.replace(b"{pad}", b"note") for line in LINES)
        + b"".join(filler % i for i in range(fillers))
    )
    return path


def load(engine: Engine, path: Path) -> tuple[LoadResult, str]:
    """Load ``path``; also say where the load copied the source: "memory" or "store"."""
    sent: list[str] = []
    with engine.tracing(sent.append):
        result = load_events(engine, path, MAPPING)
    copies = [q for q in sent if "TABLE _load_source AS" in q]
    assert len(copies) == 1
    return result, "memory" if "TEMP TABLE" in copies[0] else "store"


def counts(result: LoadResult) -> tuple[int, int, int, int]:
    return (result.rows_read, result.loaded, result.duplicates, result.quarantined)


def contents(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    queries = {
        "events": "SELECT event_id, customer_id, ts, event, value, seq, "
        "length(properties['note']), identifiers FROM events ORDER BY seq",
        "quarantine": 'SELECT "row", "column", reason, raw FROM quarantine ORDER BY "row", raw',
        "identifiers": "SELECT event_id, kind, value FROM identifiers ORDER BY ALL",
        "staged": "SELECT count(*) FROM events_staged",
        "loads": "SELECT rows_read, loaded, duplicates, quarantined FROM loads ORDER BY load_id",
    }
    return {name: engine.sql(query).fetchall() for name, query in queries.items()}


def test_a_copy_in_the_store_loads_what_a_copy_in_memory_loads(tmp_path: Path) -> None:
    # 128 MB is about the least DuckDB loads these rows with; a file over a fifth of it
    # is copied into the store, the same file under the default limit into memory.
    path = write(tmp_path / "dirty.csv", fillers=3_000)
    engines = {"store": Engine.duckdb(memory_limit="128MB"), "memory": Engine.duckdb()}
    seen = {}
    for name, engine in engines.items():
        ensure_store(engine)
        copies = [load(engine, path)[1], load(engine, path)[1]]
        assert copies == [name, name]
        seen[name] = contents(engine)
    assert seen["store"] == seen["memory"]
    stored = seen["memory"]
    assert stored["loads"] == [(3010, 3004, 1, 5), (3010, 0, 3005, 5)]
    assert stored["staged"] == [(0,)]
    # Each row once, numbered as in the file: rows the reader refused (2, 4) keep theirs.
    assert [row[:3] for row in stored["quarantine"][::2]] == [
        (2, None, "more columns than the header"),
        (3, "user", "missing customer"),
        (4, "amount", "not valid text in the file's encoding (use --encoding)"),
        (5, "when", "unparseable timestamp"),
        (8, "amount", "not a number"),
    ]
    assert json.loads(str(stored["quarantine"][2][3]))["n"] == "3"
    events = stored["events"]
    assert [(e[0], e[5]) for e in events[:4]] == [
        ("1", 1),
        (events[1][0], 6),  # no id: a content hash
        (events[2][0], 9),  # a blank id: a content hash too
        ("7", 10),  # same time as row 9: after it
    ]
    assert str(events[1][0]).startswith("h")
    assert str(events[2][0]).startswith("h")
    assert [e[5] for e in events[4:]] == list(range(11, 3011))
    assert {e[6] for e in events[4:]} == {10_000}
    # The identifiers of the rows kept, under their events' ids; the repeated id 1's
    # e-mail (other@x.com) is not among them.
    assert stored["identifiers"] == sorted(
        [
            ("1", "email", "ana@x.com"),
            ("1", "phone", "5531998765432"),
            (events[1][0], "email", "cid@x.com"),
            (events[2][0], "email", "dee@x.com"),
            (events[2][0], "phone", "5531998765432"),
        ]
    )


def parquet(path: Path, ids: list[str | None], mails: list[str | None]) -> Path:
    hours = range(len(ids))
    pq.write_table(
        pa.table(
            {
                "n": pa.array(ids, pa.string()),
                "user": ["u1"] * len(ids),
                "when": [dt.datetime(2026, 1, 1, h, tzinfo=dt.UTC) for h in hours],
                "what": ["visit"] * len(ids),
                "mail": pa.array(mails, pa.string()),
            }
        ),
        path,
    )
    return path


@pytest.mark.parametrize("missing", [False, True])
def test_parquet_ids_complete_or_partly_missing(tmp_path: Path, missing: bool) -> None:
    """Rows with their id take it; a row without one takes a content hash, and its
    identifiers follow it (the rows with ids are written first, then the others)."""
    ids = ["a", None if missing else "b", "c", "a"]
    path = parquet(tmp_path / "e.parquet", ids, ["x@y.com", "z@y.com", None, "w@y.com"])
    engine = Engine.duckdb()
    ensure_store(engine)
    mapping = ColumnMapping(
        customer="user", time="when", event="what", id="n", identities={"email": "mail"}
    )
    result = load_events(engine, path, mapping)
    assert counts(result) == (4, 3, 1, 0)
    stored = engine.sql("SELECT event_id, seq FROM events ORDER BY seq").fetchall()
    second = str(stored[1][0])
    assert [row[1] for row in stored] == [1, 2, 3]
    assert second.startswith("h") if missing else second == "b"
    assert engine.sql("SELECT event_id, value FROM identifiers ORDER BY value").fetchall() == [
        ("a", "x@y.com"),
        (second, "z@y.com"),
    ]
    again = load_events(engine, path, mapping)
    assert counts(again) == (4, 0, 4, 0)
    assert engine.sql("SELECT count(*) FROM identifiers").fetchall() == [(2,)]


def test_content_hash_ids_repeated_rows_keep_one_set_of_identifiers(tmp_path: Path) -> None:
    """Without an id column the id is the row's content: a repeated row is a duplicate,
    and its identifiers are written once (taken from the stored keys)."""
    path = tmp_path / "e.csv"
    path.write_text(
        "user,when,what,mail\n"
        "u1,2026-01-01T10:00:00Z,visit,a@x.com\n"
        "u1,2026-01-01T10:00:00Z,visit,a@x.com\n"
        "u2,2026-01-01T11:00:00Z,visit,B@x.com\n"
        ",2026-01-01T11:00:00Z,visit,c@x.com\n"
    )
    engine = Engine.duckdb()
    ensure_store(engine)
    mapping = ColumnMapping(
        customer="user", time="when", event="what", identities={"email": "mail"}
    )
    assert counts(load_events(engine, path, mapping)) == (4, 2, 1, 1)
    assert engine.sql(
        "SELECT e.customer_key, i.value FROM identifiers AS i JOIN events_raw AS e "
        "USING (event_id) ORDER BY ALL"
    ).fetchall() == [("u1", "a@x.com"), ("u2", "b@x.com")]
    assert counts(load_events(engine, path, mapping)) == (4, 0, 3, 1)
    assert engine.sql("SELECT count(*) FROM identifiers").fetchall() == [(2,)]


def work_tables(engine: Engine) -> list[str]:
    rows = engine.sql(
        "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '\\_load\\_%' ESCAPE '\\' "
        "ORDER BY 1"
    ).fetchall()
    return [str(name) for (name,) in rows]


def test_a_copy_in_memory_is_made_before_the_transaction_and_dropped_after(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "dirty.csv", fillers=20)
    engine = Engine.duckdb()
    ensure_store(engine)
    sent: list[str] = []
    with engine.tracing(sent.append):
        result = load_events(engine, path, MAPPING)
    assert counts(result) == (30, 24, 1, 5)
    copy = next(i for i, q in enumerate(sent) if "TEMP TABLE _load_source AS" in q)
    begin = next(i for i, q in enumerate(sent) if q.upper().startswith("BEGIN"))
    assert copy < begin
    assert work_tables(engine) == []

    # A load failing inside its transaction (a time format DuckDB refuses) stores
    # nothing and leaves no copy behind; the next load does not trip over one.
    bad = MAPPING.model_copy(update={"time_format": "%Q"})
    with pytest.raises(LoadError):
        load_events(engine, path, bad)
    assert work_tables(engine) == []
    assert engine.sql("SELECT count(*) FROM loads").fetchall() == [(1,)]
    assert counts(load_events(engine, path, MAPPING)) == (30, 0, 25, 5)
