"""The rebuild joins each event's payload from where it is held (docs/decisions/0004,
tenth session): rows inserted whole into ``events_raw`` keep their own payload beside
loaded ones, in one statement and in ranges; a store whose raw rows hold no payload
takes all of it from staging and ``events``."""

from __future__ import annotations

from pathlib import Path

import pytest

from jornada.engine import Engine
from jornada.engine.store import ensure_store, materialise_events
from jornada.events.load import load_events
from tests.events.test_load_narrow import COMPARED, FIRST, MAPPING, rows, write

WHOLE = (
    "INSERT INTO events_raw VALUES ('w1', 'z9', TIMESTAMP '2026-01-03 08:00:00', 'visit', "
    "'shop', NULL, 3.5, 0.25, 'hello', 0.9, MAP {'page': '/w'}, MAP {'email': 'z@x.com'}, "
    "'whole', 7, 1000)"
)


def payload(engine: Engine) -> list[tuple[object, ...]]:
    return rows(
        engine,
        "SELECT event_id, channel, value, cost, text, score, properties, identifiers "
        "FROM events ORDER BY event_id",
    )


@pytest.mark.parametrize("range_rows", [None, 1, 2])
def test_rows_inserted_whole_keep_their_payload_beside_loaded_ones(
    tmp_path: Path, range_rows: int | None
) -> None:
    engine = Engine.duckdb()
    ensure_store(engine)
    load_events(engine, write(tmp_path / "first.csv", FIRST), MAPPING)
    loaded = payload(engine)
    assert all(row[6] for row in loaded if row[1] == "web")  # the pages are there
    engine.sql(WHOLE)
    materialise_events(engine, session_gap_seconds=1800, range_rows=range_rows)
    expected = sorted(
        [*loaded, ("w1", "shop", 3.5, 0.25, "hello", 0.9, {"page": "/w"}, {"email": "z@x.com"})],
        key=lambda row: str(row[0]),
    )
    assert payload(engine) == expected
    # Rebuilt again (the loaded payload now read from ``events``): the same.
    materialise_events(engine, session_gap_seconds=1800, range_rows=range_rows)
    assert payload(engine) == expected


@pytest.mark.parametrize("range_rows", [None, 2])
def test_a_store_without_raw_payload_rebuilds_the_same_rows(
    tmp_path: Path, range_rows: int | None
) -> None:
    engine = Engine.duckdb()
    ensure_store(engine)
    load_events(engine, write(tmp_path / "first.csv", FIRST), MAPPING)
    whole = rows(engine, f"SELECT {COMPARED} FROM events")
    assert rows(engine, "SELECT count(properties) FROM events_raw") == [(0,)]
    materialise_events(engine, session_gap_seconds=1800, range_rows=range_rows)
    assert rows(engine, f"SELECT {COMPARED} FROM events") == whole
