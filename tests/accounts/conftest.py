"""Fixtures of the accounts tests: an app state on a fresh SQLite file with a settable
clock, and a real PostgreSQL server of our own (as in ``tests/events``)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from jornada.accounts import AppState

POSTGRES_BIN = Path("/usr/lib/postgresql")


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


@pytest.fixture
def postgres() -> Iterator[str]:
    """A PostgreSQL server on a Unix socket for one test; yields its URL."""
    versions = sorted(POSTGRES_BIN.glob("*/bin/initdb"))
    if not versions:
        pytest.skip("PostgreSQL is not installed (scripts/test.sh installs it)")
    bin_dir = versions[-1].parent
    # Not under pytest's temporary directory: that one is private to root, and the
    # server runs as the postgres user.
    base = Path(tempfile.mkdtemp(prefix="jornada-pg-accounts-"))
    data, sockets = base / "data", base / "sock"
    sockets.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    port = "54330"  # only names the socket file in our own directory: no clash possible
    subprocess.run(
        [
            *as_user,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-w",
            "-l",
            str(base / "log"),
            "-o",
            f"-p {port} -k {sockets} -c listen_addresses='' -c fsync=off",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@/postgres?host={sockets}&port={port}"
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)
