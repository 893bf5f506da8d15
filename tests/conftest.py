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
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from playwright.sync_api import Browser, sync_playwright

# The test browser runs with the flags the renderer uses (offline-safe, no sandbox as root).
from jornada.render._browser import CHROMIUM_ARGS

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
