"""The report printed to PDF by the headless Chromium the map renderer uses (same
executable and flags), offline, A4 landscape with backgrounds; charts are drawn by the
page's own plotly.js before printing."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from jornada.render import BrowserUnavailableError
from jornada.render._browser import CHROMIUM_ARGS, chromium_executable

__all__ = ["print_pdf"]

PRINT_WIDTH: Final = 1100
"""CSS pixels of the page laid out for print (A4 landscape less margins is ~1060)."""
_CHARTS_DRAWN: Final = (
    "() => [...document.querySelectorAll('.rp-chart')].every("
    "n => n.querySelector('.main-svg') !== null)"
)


def print_pdf(html: str, target: Path) -> Path:
    """Print ``html`` to ``target`` (see the module); in a worker thread when this one
    runs an event loop (Playwright's sync API refuses to start inside one)."""
    executable = chromium_executable()

    def work() -> Path:
        with sync_playwright() as playwright:
            try:
                browser = playwright.chromium.launch(
                    executable_path=executable, args=list(CHROMIUM_ARGS)
                )
            except PlaywrightError as error:
                raise BrowserUnavailableError(
                    f"Chromium at {executable} would not start: reinstall it with "
                    "`apt-get install chromium` or set JORNADA_CHROMIUM to a working one"
                ) from error
            try:
                context = browser.new_context(
                    viewport={"width": PRINT_WIDTH, "height": 900}, offline=True
                )
                page = context.new_page()
                page.set_content(html, wait_until="load")
                page.emulate_media(media="print")
                page.wait_for_function(_CHARTS_DRAWN, timeout=60_000)
                page.pdf(
                    path=str(target),
                    format="A4",
                    landscape=True,
                    print_background=True,
                    scale=0.9,
                    margin={"top": "10mm", "right": "10mm", "bottom": "10mm", "left": "10mm"},
                )
                context.close()
            finally:
                browser.close()
        return target

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="jornada-report") as pool:
        return pool.submit(work).result()
