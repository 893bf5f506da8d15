"""A CSV is copied in parallel, in read order, and numbered by the copy's row ids
(``engine/loading.py``, ``_stage``): across a file that DuckDB reads in several pieces,
each stored event keeps its data row number and each refused or bad line its own."""

from __future__ import annotations

from pathlib import Path

from jornada.engine import Engine
from jornada.engine.store import ensure_store
from jornada.events.load import ColumnMapping, load_events

MAPPING = ColumnMapping(customer="user", time="when", event="what", id="n", value="amount")
ROWS = 4_000
REFUSED = {1_200: "{n},u1,2026-01-01T00:00:00Z,visit,1,{pad},EXTRA\n"}  # a column too many
BAD = {2_500: "{n},,2026-01-01T00:00:00Z,visit,1,{pad}\n", 3_999: "{n},u1,later,visit,1,{pad}\n"}


def write(path: Path) -> Path:
    """ROWS data rows of about 10 kB (40 MB: read in several pieces), id ``n`` = row."""
    lines = ["n,user,when,what,amount,note\n"]
    for n in range(1, ROWS + 1):
        line = (
            REFUSED.get(n) or BAD.get(n) or "{n},u{c},2026-01-01T{h:02d}:00:00Z,visit,{n},{pad}\n"
        )
        lines.append(line.format(n=n, c=n % 7, h=n % 24, pad="x" * 10_000))
    path.write_text("".join(lines))
    return path


def test_rows_keep_their_numbers_across_a_file_read_in_pieces(tmp_path: Path) -> None:
    engine = Engine.duckdb()
    ensure_store(engine)
    result = load_events(engine, write(tmp_path / "big.csv"), MAPPING)
    assert (result.rows_read, result.loaded, result.duplicates, result.quarantined) == (
        ROWS,
        ROWS - 3,
        0,
        3,
    )
    quarantined = engine.sql(
        'SELECT "row", "column", reason FROM quarantine ORDER BY "row"'
    ).fetchall()
    assert quarantined == [
        (1_200, None, "more columns than the header"),
        (2_500, "user", "missing customer"),
        (3_999, "when", "unparseable timestamp"),
    ]
    # Every stored event's sequence number is its data row, which its id also says.
    wrong = engine.sql(
        "SELECT count(*) FROM events WHERE seq <> CAST(event_id AS BIGINT) OR value <> seq"
    ).fetchone()
    assert wrong == (0,)
    stored = engine.sql("SELECT count(*), min(seq), max(seq) FROM events").fetchone()
    assert stored == (ROWS - 3, 1, ROWS)


def test_a_source_column_named_rowid_is_a_column_like_any_other(tmp_path: Path) -> None:
    # It would hide DuckDB's row ids: such a source is numbered as it is read instead.
    path = tmp_path / "rowid.csv"
    path.write_text(
        "rowid,user,when,what\n"
        "9,u1,2026-01-01T10:00:00Z,visit\n"
        "8,,2026-01-01T11:00:00Z,visit\n"
        "7,u2,2026-01-01T12:00:00Z,buy\n"
    )
    engine = Engine.duckdb()
    ensure_store(engine)
    result = load_events(engine, path, ColumnMapping(customer="user", time="when", event="what"))
    assert (result.loaded, result.quarantined) == (2, 1)
    assert engine.sql('SELECT "row" FROM quarantine').fetchall() == [(2,)]
    assert engine.sql("SELECT seq, properties['rowid'] FROM events ORDER BY seq").fetchall() == [
        (1, "9"),
        (3, "7"),
    ]
