"""Fixtures shared by the whole test suite.

``browser`` gives a Playwright ``Browser`` on the Debian Chromium (or
``$JORNADA_CHROMIUM``). The Chromium process is started once per session with
jornada's flags; each test connects to it over the DevTools protocol with its own
short Playwright session. (A Playwright sync session held open for the whole run
would leave an asyncio loop "running" in the main thread, and every later test that
calls ``asyncio.run`` would fail.)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from playwright.sync_api import Browser, expect, sync_playwright

# The test browser runs with the flags the renderer uses (offline-safe, no sandbox as root).
from jornada.render._browser import CHROMIUM_ARGS

# CI runs the browser tests beside others on two cores: a page may take more than
# Playwright's default 5 s to show what a test waits for.
expect.set_options(timeout=20_000)

# Property tests generate whole maps and event logs; on 2 shared cores generation can
# be slow, which says nothing about the code under test.
settings.register_profile(
    "jornada",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("jornada")


@pytest.fixture(scope="session")
def chromium_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The DevTools WebSocket address of a Chromium started for this test session."""
    executable = os.environ.get("JORNADA_CHROMIUM") or "/usr/bin/chromium"
    if not Path(executable).is_file():
        pytest.skip(f"no Chromium at {executable}: apt-get install chromium")
    home = tmp_path_factory.mktemp("chromium")
    log = home / "stderr.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [
                executable,
                *CHROMIUM_ARGS,
                "--remote-debugging-port=0",
                f"--user-data-dir={home / 'profile'}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            found = re.search(r"DevTools listening on (ws://\S+)", log.read_text(errors="replace"))
            if found:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Chromium did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.05)
        yield found.group(1)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def browser(chromium_endpoint: str) -> Iterator[Browser]:
    """A Playwright browser on the session's Chromium; contexts made with it are closed
    after the test."""
    with sync_playwright() as playwright:
        connected = playwright.chromium.connect_over_cdp(chromium_endpoint)
        try:
            yield connected
        finally:
            for context in connected.contexts[1:]:
                context.close()
            connected.close()


POSTGRES_BIN = Path("/usr/lib/postgresql")


@pytest.fixture
def postgres() -> Iterator[str]:
    """A real PostgreSQL server of our own on a Unix socket, for the length of one test;
    yields its URL (the loaders' and the app state's tests use it)."""
    versions = sorted(POSTGRES_BIN.glob("*/bin/initdb"))
    if not versions:
        pytest.skip("PostgreSQL is not installed (scripts/test.sh installs it)")
    bin_dir = versions[-1].parent
    # Not under pytest's temporary directory: that one is private to root, and the
    # server runs as the postgres user.
    base = Path(tempfile.mkdtemp(prefix="jornada-pg-"))
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
