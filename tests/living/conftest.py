"""Event logs for the living-map tests: the analysis fixtures (CSV through the real
loader) and a reusable in-memory store for property tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import pytest

from jornada.engine import Engine
from jornada.engine.store import ensure_store, materialise_events
from jornada.workspace import Workspace
from tests.analytics.conftest import BASE, EventLog, make_log  # make_log: a fixture

__all__ = ["Row", "Store", "at", "make_log"]


def at(n: float) -> dt.datetime:
    """The naive UTC time ``n`` minutes after the base."""
    return BASE + dt.timedelta(minutes=n)


@dataclass(frozen=True)
class Row:
    """One event for :class:`Store` (times in minutes after the base)."""

    customer: str
    minute: float
    event: str
    channel: str | None = None
    text: str | None = None
    score: float | None = None
    properties: Mapping[str, str] = field(default_factory=dict)
    session: str | None = None  # the source's session id (None: cut by the time gaps)


class Store:
    """One in-memory store reused by every example of a property test: rows go straight
    into ``events_raw`` and the product's ``materialise_events`` derives the customer,
    ``idx``, sessions and the other facts (the CSV loader costs more than the analyses)."""

    def __init__(self) -> None:
        self.engine = Engine.duckdb()
        ensure_store(self.engine)

    def load(self, rows: Sequence[Row], *, session_gap_seconds: int = 1800) -> EventLog:
        self.engine.sql("DELETE FROM events_raw")
        self.engine.duck.executemany(
            "INSERT INTO events_raw VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, "
            "MAP(?::VARCHAR[], ?::VARCHAR[]), NULL, 'test', 1, ?)",
            [
                [
                    f"e{seq}",
                    row.customer,
                    at(row.minute),
                    row.event,
                    row.channel,
                    row.session,
                    row.text,
                    row.score,
                    list(row.properties),
                    list(row.properties.values()),
                    seq,
                ]
                for seq, row in enumerate(rows)
            ],
        )
        materialise_events(self.engine, session_gap_seconds=session_gap_seconds)
        return EventLog(self.engine)


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The demo workspace (maps, events and the CRM file) with 800 customers, shared by
    the tests here: read it, do not change it."""
    from jornada.demo import create_demo_workspace

    workspace = create_demo_workspace(tmp_path_factory.mktemp("demo") / "ws", customers=800)
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    made = Store()
    yield made
    made.engine.close()
