"""Loading: every row accounted for, bad rows quarantined with row/column/reason, reloads idempotent."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jornada.engine import Engine
from jornada.engine.store import ensure_store
from jornada.events.load import ColumnMapping, LoadError, load_events

MAPPING = ColumnMapping(customer="user", time="when", event="what", value="amount")


@pytest.fixture
def engine() -> Engine:
    engine = Engine.duckdb()
    ensure_store(engine)
    return engine


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def stored(engine: Engine, sql: str) -> list[tuple[object, ...]]:
    return engine.sql(sql).fetchall()


def test_each_bad_row_is_quarantined_with_row_column_and_reason(
    engine: Engine, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "events.csv",
        ["user", "when", "what", "amount", "page"],
        [
            ["u1", "2026-01-01T10:00:00Z", "visit", "", "/"],  # row 1: fine
            ["", "2026-01-01T10:00:00Z", "visit", "", "/"],  # row 2: no customer
            ["u2", "", "visit", "", "/"],  # row 3: no time
            ["u2", "yesterday", "visit", "", "/"],  # row 4: bad time
            ["u2", "2026-01-01T11:00:00Z", " ", "", "/"],  # row 5: no event
            ["u2", "2026-01-01T11:00:00Z", "buy", "12,5", "/cart"],  # row 6: decimal comma is fine
            ["u2", "2026-01-01T11:00:00Z", "buy", "a lot", "/cart"],  # row 7: bad number
            ["u1", "2026-01-01T10:00:00Z", "visit", "", "/"],  # row 8: same as row 1
        ],
    )
    result = load_events(engine, path, MAPPING)
    assert result.to_dict() == {
        "source": "events.csv",
        "load_id": 1,
        "rows_read": 8,
        "loaded": 2,
        "duplicates": 1,
        "quarantined": 5,
    }
    assert stored(engine, 'SELECT "row", "column", reason FROM quarantine ORDER BY "row"') == [
        (2, "user", "missing customer"),
        (3, "when", "missing time"),
        (4, "when", "unparseable timestamp"),
        (5, "what", "missing event name"),
        (7, "amount", "not a number"),
    ]
    [raw] = stored(engine, 'SELECT raw FROM quarantine WHERE "row" = 7')[0]
    assert json.loads(str(raw))["amount"] == "a lot"
    assert stored(
        engine, "SELECT customer_id, event, value, properties['page'] FROM events ORDER BY seq"
    ) == [
        ("u1", "visit", None, "/"),
        ("u2", "buy", 12.5, "/cart"),
    ]


def test_rows_the_csv_reader_refuses_are_counted_and_numbered(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(
        b"user,when,what\n"
        b"u1,2026-01-01T10:00:00Z,visit\n"
        b"u2,2026-01-01T10:00:00Z,visit,EXTRA\n"  # row 2: a column too many
        b"u3,2026-01-01T10:00:00Z,v\xff\xfesit\n"  # row 3: not UTF-8
        b"u4,2026-01-01T10:00:00Z,\n"  # row 4: no event
        b"u5,2026-01-01T10:00:00Z,visit\n"
    )
    result = load_events(engine, path, ColumnMapping(customer="user", time="when", event="what"))
    assert (result.rows_read, result.loaded, result.duplicates, result.quarantined) == (5, 2, 0, 3)
    rows = stored(engine, 'SELECT "row", reason FROM quarantine ORDER BY "row"')
    assert [r for r, _ in rows] == [2, 3, 4]
    assert "more columns" in str(rows[0][1])
    assert "encoding" in str(rows[1][1])
    assert rows[2][1] == "missing event name"


def test_reloading_the_same_file_adds_nothing(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "e.csv",
        ["user", "when", "what", "amount", "mail"],
        [
            ["u1", "2026-01-01T10:00:00Z", "visit", "", "a@x.org"],
            ["", "x", "y", "", ""],
            ["u1", "2026-01-02", "buy", "3", "A@x.org "],
        ],
    )
    mapping = MAPPING.model_copy(update={"identities": {"email": "mail"}})
    first = load_events(engine, path, mapping)
    second = load_events(engine, path, mapping)
    assert (first.loaded, first.quarantined) == (2, 1)
    assert (second.loaded, second.duplicates, second.quarantined) == (0, 2, 1)
    assert stored(engine, "SELECT count(*) FROM events") == [(2,)]
    assert stored(engine, "SELECT count(*) FROM events_raw") == [(2,)]
    # One e-mail row per event; the customer keys are read from events_raw.
    assert stored(engine, "SELECT kind, value FROM identifiers") == [("email", "a@x.org")] * 2


def test_a_load_that_adds_nothing_rebuilds_nothing(engine: Engine, tmp_path: Path) -> None:
    """The same file again, or a file of bad rows only, leaves ``events`` as it was (the
    same table, not a rebuilt copy): at 10M events a rebuild takes a minute, and it
    would forget what was kept of the events. A file with a new event rebuilds."""
    header = ["user", "when", "what", "amount"]
    path = write_csv(tmp_path / "e.csv", header, [["u1", "2026-01-01", "visit", ""]])
    load_events(engine, path, MAPPING)

    def events_table() -> object:
        return stored(engine, "SELECT table_oid FROM duckdb_tables() WHERE table_name = 'events'")

    before = events_table()
    assert load_events(engine, path, MAPPING).duplicates == 1
    bad = write_csv(tmp_path / "bad.csv", header, [["", "2026-01-02", "visit", ""]])
    assert load_events(engine, bad, MAPPING).quarantined == 1
    assert events_table() == before
    assert stored(engine, "SELECT count(*) FROM store_meta WHERE key = 'rebuild_pending'") == [(0,)]
    new = write_csv(tmp_path / "new.csv", header, [["u2", "2026-01-03", "buy", "2"]])
    assert load_events(engine, new, MAPPING).loaded == 1
    assert events_table() != before
    assert stored(engine, "SELECT customer_id, event FROM events ORDER BY ts") == [
        ("u1", "visit"),
        ("u2", "buy"),
    ]


def test_a_first_load_of_bad_rows_only_leaves_an_empty_events_table(
    engine: Engine, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "bad.csv", ["user", "when", "what", "amount"], [["", "x", "", ""]])
    assert load_events(engine, path, MAPPING).quarantined == 1
    assert stored(engine, "SELECT count(*) FROM events") == [(0,)]


def test_an_id_column_decides_duplicates(engine: Engine, tmp_path: Path) -> None:
    mapping = ColumnMapping(customer="user", time="when", event="what", id="event_id")
    path = write_csv(
        tmp_path / "e.csv",
        ["event_id", "user", "when", "what"],
        [
            ["a", "u1", "2026-01-01", "visit"],
            ["a", "u1", "2026-01-02", "visit"],
            ["b", "u1", "2026-01-02", "visit"],
        ],
    )
    result = load_events(engine, path, mapping)
    assert (result.loaded, result.duplicates) == (2, 1)
    assert stored(engine, "SELECT event_id, ts FROM events ORDER BY seq") == [
        ("a", dt.datetime(2026, 1, 1)),
        ("b", dt.datetime(2026, 1, 2)),
    ]


@pytest.mark.parametrize(
    ("text", "tz", "time_format", "expected"),
    [
        ("2026-03-01T10:00:00Z", "UTC", None, dt.datetime(2026, 3, 1, 10)),
        ("2026-03-01T10:00:00-03:00", "UTC", None, dt.datetime(2026, 3, 1, 13)),
        ("2026-03-01 10:00:00+0530", "UTC", None, dt.datetime(2026, 3, 1, 4, 30)),
        ("2026-03-01 10:00:00", "America/Sao_Paulo", None, dt.datetime(2026, 3, 1, 13)),
        ("2026-07-01 10:00", "Europe/Madrid", None, dt.datetime(2026, 7, 1, 8)),  # summer time
        ("2026-01-01 10:00", "Europe/Madrid", None, dt.datetime(2026, 1, 1, 9)),
        ("2026-03-01", "UTC", None, dt.datetime(2026, 3, 1)),
        ("01/03/2026 10:00", "America/Sao_Paulo", "%d/%m/%Y %H:%M", dt.datetime(2026, 3, 1, 13)),
        ("1772359200", "UTC", "epoch", dt.datetime(2026, 3, 1, 10)),
        ("1772359200000", "UTC", "epoch_ms", dt.datetime(2026, 3, 1, 10)),
        ("2026-03-01T10:00:00.123456Z", "UTC", None, dt.datetime(2026, 3, 1, 10, 0, 0, 123456)),
    ],
)
def test_times_are_read_into_utc(
    engine: Engine,
    tmp_path: Path,
    text: str,
    tz: str,
    time_format: str | None,
    expected: dt.datetime,
) -> None:
    path = write_csv(tmp_path / "t.csv", ["user", "when", "what"], [["u1", text, "visit"]])
    mapping = ColumnMapping(
        customer="user", time="when", event="what", tz=tz, time_format=time_format
    )
    assert load_events(engine, path, mapping).loaded == 1
    assert stored(engine, "SELECT ts FROM events") == [(expected,)]


def test_unknown_time_zone_and_missing_column_are_clear_errors(
    engine: Engine, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "t.csv", ["user", "when", "what"], [["u1", "2026-01-01", "visit"]])
    with pytest.raises(LoadError, match="unknown time zone 'Mars/Olympus'"):
        load_events(
            engine,
            path,
            ColumnMapping(customer="user", time="when", event="what", tz="Mars/Olympus"),
        )
    with pytest.raises(
        LoadError, match="no column 'kind' for event; the columns are: user, when, what"
    ):
        load_events(engine, path, ColumnMapping(customer="user", time="when", event="kind"))
    with pytest.raises(LoadError, match="no such file"):
        load_events(engine, tmp_path / "missing.csv", MAPPING)
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"this is not parquet")
    with pytest.raises(LoadError, match="cannot read it as parquet"):
        load_events(engine, junk, MAPPING)
    assert stored(engine, "SELECT count(*) FROM loads") == [(0,)]


def test_parquet_jsonl_excel_and_tsv_sources(engine: Engine, tmp_path: Path) -> None:
    table = pa.table(
        {
            "user": ["p1", "p2"],
            "when": pa.array(
                [
                    dt.datetime(2026, 1, 1, 10, tzinfo=dt.UTC),
                    dt.datetime(2026, 1, 1, 11, tzinfo=dt.UTC),
                ],
                pa.timestamp("us", tz="UTC"),
            ),
            "what": ["visit", "buy"],
            "amount": [None, 9.5],
            "device": ["ios", "web"],
        }
    )
    pq.write_table(table, tmp_path / "e.parquet")
    assert load_events(engine, tmp_path / "e.parquet", MAPPING).loaded == 2

    lines = [
        {"user": "j1", "when": "2026-01-02T00:00:00Z", "what": "visit", "amount": 1, "tags": "x"}
    ]
    (tmp_path / "e.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert load_events(engine, tmp_path / "e.jsonl", MAPPING).loaded == 1

    openpyxl = pytest.importorskip("openpyxl")
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["user", "when", "what", "amount"])
    sheet.append(["x1", dt.datetime(2026, 1, 3, 9, 30), "visit", 2])
    sheet.append([None, dt.datetime(2026, 1, 3, 9, 30), "visit", 2])
    workbook.save(tmp_path / "e.xlsx")
    result = load_events(engine, tmp_path / "e.xlsx", MAPPING)
    assert (result.loaded, result.quarantined) == (1, 1)

    (tmp_path / "e.tsv").write_bytes(
        "user\twhen\twhat\tamount\nçé\t2026-01-04\tvisit\t\n".encode("latin-1")
    )
    mapping = MAPPING.model_copy(update={"encoding": "latin-1"})
    assert load_events(engine, tmp_path / "e.tsv", mapping).loaded == 1

    assert stored(engine, "SELECT customer_id, ts, properties FROM events ORDER BY ts") == [
        ("p1", dt.datetime(2026, 1, 1, 10), {"device": "ios"}),
        ("p2", dt.datetime(2026, 1, 1, 11), {"device": "web"}),
        ("j1", dt.datetime(2026, 1, 2), {"tags": "x"}),
        ("x1", dt.datetime(2026, 1, 3, 9, 30), {}),
        ("çé", dt.datetime(2026, 1, 4), {}),
    ]


def test_sessions_facts_and_ties_keep_input_order(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "s.csv",
        ["user", "when", "what"],
        [
            ["u1", "2026-01-01T10:00:00Z", "b"],
            ["u1", "2026-01-01T10:00:00Z", "a"],  # same time: stays after "b"
            ["u1", "2026-01-01T10:30:00Z", "c"],  # exactly 30 minutes later: same session
            ["u1", "2026-01-01T11:00:01Z", "d"],  # 30 min 1 s later: a new session
            ["u2", "2026-01-01T09:00:00Z", "a"],
        ],
    )
    load_events(engine, path, ColumnMapping(customer="user", time="when", event="what"))
    assert stored(
        engine,
        "SELECT customer_id, event, idx, next_event, session_id, session_idx FROM events ORDER BY customer_id, idx",
    ) == [
        ("u1", "b", 0, "a", "u1#1", 0),
        ("u1", "a", 1, "c", "u1#1", 1),
        ("u1", "c", 2, "d", "u1#1", 2),
        ("u1", "d", 3, None, "u1#2", 0),
        ("u2", "a", 0, None, "u2#1", 0),
    ]


# --- the counting invariant on random dirty files, against a pure-Python oracle ---------

CELL = st.sampled_from(
    ["", " ", "u1", "u2", "2026-01-01", "2026-01-01T10:00:00Z", "bad", "7", "x,y", '"q"', "é"]
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.lists(CELL, min_size=4, max_size=4), max_size=25), twice=st.booleans())
def test_every_row_is_loaded_duplicate_or_quarantined(
    rows: list[list[str]], twice: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    engine = Engine.duckdb()
    ensure_store(engine)
    path = write_csv(
        tmp_path_factory.mktemp("dirty") / "e.csv", ["user", "when", "what", "amount"], rows
    )

    def problem(row: list[str]) -> bool:
        user, when, what, amount = (cell.strip() for cell in row)
        parseable = when in ("2026-01-01", "2026-01-01T10:00:00Z")
        number_ok = (
            amount == "" or amount.replace(",", ".").lstrip("-").replace(".", "", 1).isdigit()
        )
        return not user or not when or not what or not parseable or not number_ok

    good = [tuple(row) for row in rows if not problem(row)]
    expected_loaded = len(dict.fromkeys(good))
    result = load_events(engine, path, MAPPING)
    assert result.rows_read == len(rows)
    assert result.loaded + result.duplicates + result.quarantined == result.rows_read
    assert result.quarantined == len(rows) - len(good)
    assert result.loaded == expected_loaded
    if twice:
        again = load_events(engine, path, MAPPING)
        assert (again.rows_read, again.loaded, again.quarantined) == (
            len(rows),
            0,
            result.quarantined,
        )
    assert stored(engine, "SELECT count(*) FROM events") == [(expected_loaded,)]


def test_identifiers_are_stored_normalised(engine: Engine, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "ids.csv",
        ["user", "when", "what", "mail", "tel"],
        [
            ["d1", "2026-01-01", "visit", " Ana@Example.COM ", "(31) 99876-5432"],
            ["d2", "2026-01-02", "visit", "ana@example.com", "+55 31 998765432"],
            ["d3", "2026-01-03", "visit", "", "123"],
        ],
    )
    mapping = ColumnMapping(
        customer="user", time="when", event="what", identities={"email": "mail", "phone": "tel"}
    )
    load_events(engine, path, mapping)
    assert stored(
        engine, "SELECT DISTINCT kind, value FROM identifiers WHERE kind <> 'customer' ORDER BY ALL"
    ) == [
        ("email", "ana@example.com"),
        ("phone", "5531998765432"),
    ]


def test_an_id_scope_keeps_two_systems_ids_apart(engine: Engine, tmp_path: Path) -> None:
    rows = [["1", "u1", "2026-01-01", "visit"], ["2", "u1", "2026-01-02", "visit"]]
    shop = write_csv(tmp_path / "shop.csv", ["n", "user", "when", "what"], rows)
    crm = write_csv(
        tmp_path / "crm.csv", ["n", "user", "when", "what"], [["1", "u9", "2026-02-01", "call"]]
    )
    mapping = ColumnMapping(customer="user", time="when", event="what", id="n")
    assert load_events(engine, shop, mapping.model_copy(update={"id_scope": "shop"})).loaded == 2
    # Without a scope, the CRM's event "1" would be taken for the shop's event "1".
    assert load_events(engine, crm, mapping).duplicates == 0
    assert load_events(engine, crm, mapping.model_copy(update={"id_scope": "crm"})).loaded == 1
    assert stored(engine, "SELECT event_id FROM events ORDER BY event_id") == [
        ("1",),
        ("crm:1",),
        ("shop:1",),
        ("shop:2",),
    ]
