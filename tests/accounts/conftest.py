"""Fixtures of the accounts tests: an app state on a fresh SQLite file with a settable
clock, and a real PostgreSQL server of our own (as in ``tests/events``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from jornada.accounts import AppState


class Clock:
    """A settable "now" (aware UTC) for :attr:`AppState.clock`."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(tmp_path: Path, clock: Clock) -> Iterator[AppState]:
    opened = AppState.open(f"sqlite:///{tmp_path / 'app.sqlite'}")
    opened.clock = clock
    try:
        yield opened
    finally:
        opened.close()
