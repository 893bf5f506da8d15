"""Event logs for analysis tests, loaded the real way (CSV file → workspace store)."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

from jornada.engine import Engine
from jornada.engine.store import ensure_store
from jornada.events.load import ColumnMapping, load_events

LogRow = tuple[str, str, str] | tuple[str, str, str, dict[str, Any]]
"""(customer, ISO time, event) or (customer, ISO time, event, extra columns)."""

BASE = dt.datetime(2026, 1, 1)


def minutes(n: float) -> str:
    """An ISO time ``n`` minutes after 2026-01-01 00:00 UTC (handy for hand-made logs)."""
    return (BASE + dt.timedelta(minutes=n)).isoformat() + "Z"


class EventLog:
    """A loaded log: ``table`` is the Ibis ``events`` table, ``rows()`` its rows as dicts."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.table = engine.table("events")

    def rows(self) -> list[dict[str, Any]]:
        return self.engine.to_arrow(self.table).to_pylist()


@pytest.fixture
def make_log(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[Sequence[LogRow]], EventLog]]:
    """Build an event log from rows: written to CSV, loaded through the real loader
    (so sessions and per-event facts are those the product computes)."""
    engines: list[Engine] = []

    def build(rows: Sequence[LogRow], *, session_gap_seconds: int = 1800) -> EventLog:
        extra_names = sorted({name for row in rows if len(row) == 4 for name in row[3]})  # type: ignore[misc]
        path = tmp_path_factory.mktemp("log") / "events.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["customer", "ts", "event", *extra_names])
            for row in rows:
                extra = row[3] if len(row) == 4 else {}  # type: ignore[misc]
                writer.writerow([row[0], row[1], row[2], *(extra.get(n, "") for n in extra_names)])
        engine = Engine.duckdb()
        ensure_store(engine)
        columns = {
            n: n
            for n in extra_names
            if n in ("channel", "value", "cost", "score", "text", "session")
        }
        mapping = ColumnMapping(customer="customer", time="ts", event="event", **columns)
        if rows:
            load_events(engine, path, mapping, session_gap_seconds=session_gap_seconds)
        engines.append(engine)
        return EventLog(engine)

    yield build
    for engine in engines:
        engine.close()
