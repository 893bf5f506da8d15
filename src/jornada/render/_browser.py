"""PNG and PDF: the HTML map printed by headless Chromium through Playwright."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Final, TypeVar

from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from jornada.model import Journey, Language
from jornada.render._errors import BrowserUnavailableError
from jornada.render._html import render_html

__all__ = [
    "CHROMIUM_ARGS",
    "chromium_executable",
    "html_to_pdf",
    "html_to_png",
    "print_document",
    "render_pdf",
    "render_png",
]

DEFAULT_CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ARGS: Final[tuple[str, ...]] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
SCREEN_WIDTH: Final = 1440
SCREEN_HEIGHT: Final = 900
MAX_BITMAP: Final = 16000
"""Chromium's largest screenshot side in device pixels, with some room to spare."""
MM: Final = 96 / 25.4
A3_MARGIN_MM: Final = 8
A3_WIDTH: Final = (420 - 2 * A3_MARGIN_MM) * MM
A3_HEIGHT: Final = (297 - 2 * A3_MARGIN_MM) * MM
SMALLEST_ONE_PAGE_SCALE: Final = 0.55
"""Below this, a map is printed over several pages rather than shrunk onto one."""

T = TypeVar("T")

# Before a map is printed over several pages: walk its blocks the way the printer
# will (a block that does not fit starts a new page; rows never split unless taller
# than a page) and put a copy of the stage header row on top of every page that
# starts inside the grid, so each page says which column is which stage.
_REPEAT_STAGE_HEADERS = """
(pageHeight) => {
  const map = document.querySelector('.jn-map');
  const grid = map && map.querySelector('.jn-grid');
  const header = grid && grid.querySelector(':scope > .jn-row--stages');
  if (!header) return 0;
  const blocks = [...map.querySelectorAll(
    ':scope > .jn-header, :scope > .jn-personas > .jn-persona, :scope > .jn-grid > .jn-row,'
    + ' :scope > .jn-legend')];
  const box = (node) => {
    const rect = node.getBoundingClientRect();
    return [rect.top + window.scrollY, rect.bottom + window.scrollY];
  };
  let pageTop = 0;
  let copies = 0;
  for (const block of blocks) {
    let [top, bottom] = box(block);
    if (bottom - pageTop > pageHeight && top > pageTop + 1) {
      if (block.previousElementSibling === header) {
        [top] = box(header);  // the header row moves along with the first lane
      } else if (block.parentElement === grid && block !== header) {
        const copy = header.cloneNode(true);
        copy.classList.add('jn-row--repeat');
        copy.setAttribute('aria-hidden', 'true');
        block.before(copy);
        copies += 1;
        [top] = box(copy);
        [, bottom] = box(block);
      }
      pageTop = top;
    }
    while (bottom - pageTop > pageHeight) pageTop += pageHeight;
  }
  return copies;
}
"""


def chromium_executable() -> str:
    """The Chromium to drive: ``$JORNADA_CHROMIUM`` or the Debian one."""
    path = os.environ.get("JORNADA_CHROMIUM") or DEFAULT_CHROMIUM
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        raise BrowserUnavailableError(
            f"Chromium not found at {path}: install it with `apt-get install chromium` "
            "or set JORNADA_CHROMIUM to its path"
        )
    return path


def _isolated(work: Callable[[], T]) -> T:
    """Run ``work`` here, or in a worker thread when this thread runs an event loop
    (Playwright's sync API refuses to start inside one, e.g. in a web handler or while
    another sync Playwright session is open)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="jornada-render") as pool:
        return pool.submit(work).result()


@contextmanager
def _browser() -> Iterator[Browser]:
    executable = chromium_executable()
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(
                executable_path=executable, args=list(CHROMIUM_ARGS)
            )
        except PlaywrightError as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else "no reason"
            raise BrowserUnavailableError(
                f"Chromium at {executable} would not start ({reason}): reinstall it with "
                "`apt-get install chromium` or set JORNADA_CHROMIUM to a working one"
            ) from error
        try:
            yield browser
        finally:
            browser.close()


def _open(browser: Browser, html: str, width: float, scale: float = 1) -> Page:
    context = browser.new_context(
        viewport={"width": round(width), "height": SCREEN_HEIGHT},
        device_scale_factor=scale,
        offline=True,
    )
    page = context.new_page()
    page.set_content(html, wait_until="load")
    return page


def _size(page: Page) -> tuple[int, int]:
    width, height = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    return int(width), int(height)


def _pdf_scale(page: Page) -> float:
    """The print scale: the map's width onto the page, and its height too while the text
    stays readable (a narrower scale lays the map out wider, hence shorter)."""
    width, _ = _size(page)
    width_scale = min(1.0, A3_WIDTH / max(width, 1))

    def fits(scale: float) -> bool:
        page.set_viewport_size({"width": round(A3_WIDTH / scale), "height": SCREEN_HEIGHT})
        _, height = _size(page)
        return height * scale <= A3_HEIGHT

    if fits(width_scale):
        return width_scale
    low, high = SMALLEST_ONE_PAGE_SCALE, width_scale
    if low >= high or not fits(low):
        page.set_viewport_size({"width": round(A3_WIDTH / width_scale), "height": SCREEN_HEIGHT})
        return width_scale
    for _ in range(6):
        middle = (low + high) / 2
        if fits(middle):
            low = middle
        else:
            high = middle
    fits(low)
    return low


def _target(path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def html_to_png(html: str, path: str | os.PathLike[str]) -> Path:
    """A full-page screenshot of ``html`` at a 1440px wide window (2× pixel density while
    the picture stays within Chromium's limits), offline."""
    target = _target(path)

    def work() -> Path:
        with _browser() as browser:
            probe = _open(browser, html, SCREEN_WIDTH)
            width, height = _size(probe)
            probe.context.close()
            scale = 2 if max(width, height) * 2 <= MAX_BITMAP else 1
            page = _open(browser, html, SCREEN_WIDTH, scale)
            page.screenshot(path=str(target), full_page=True, type="png")
            page.context.close()
        return target

    return _isolated(work)


def html_to_pdf(
    html: str, path: str | os.PathLike[str], *, repeat_stage_headers: bool = False
) -> Path:
    """``html`` printed on A3 landscape with backgrounds, offline: shrunk to the page
    width, and onto one page when that keeps it readable, else over as many pages as it
    needs (``repeat_stage_headers``: a journey map's stage row on every page)."""
    target = _target(path)

    def work() -> Path:
        with _browser() as browser:
            page = _open(browser, html, A3_WIDTH)
            page.emulate_media(media="print")
            scale = _pdf_scale(page)
            if repeat_stage_headers:
                page.evaluate(_REPEAT_STAGE_HEADERS, A3_HEIGHT / scale * 0.97)
            margin = f"{A3_MARGIN_MM}mm"
            page.pdf(
                path=str(target),
                format="A3",
                landscape=True,
                print_background=True,
                scale=max(0.1, min(scale, 2.0)),
                margin={"top": margin, "right": margin, "bottom": margin, "left": margin},
            )
            page.context.close()
        return target

    return _isolated(work)


def print_document(
    html: str,
    path: str | os.PathLike[str],
    *,
    page_format: str = "A4",
    width: int = 1100,
    scale: float = 0.9,
    margin_mm: float = 10,
    ready: str | None = None,
) -> Path:
    """A long document (a report) printed to a landscape PDF, offline: laid out ``width``
    CSS pixels wide, in print media, once the JavaScript predicate ``ready`` holds
    (e.g. its charts are drawn; up to a minute)."""
    target = _target(path)

    def work() -> Path:
        with _browser() as browser:
            page = _open(browser, html, width)
            page.emulate_media(media="print")
            if ready is not None:
                page.wait_for_function(ready, timeout=60_000)
            margin = f"{margin_mm}mm"
            page.pdf(
                path=str(target),
                format=page_format,
                landscape=True,
                print_background=True,
                scale=scale,
                margin={"top": margin, "right": margin, "bottom": margin, "left": margin},
            )
            page.context.close()
        return target

    return _isolated(work)


def render_png(
    journey: Journey, path: str | os.PathLike[str], *, language: Language | None = None
) -> Path:
    """The HTML map as a PNG (see :func:`html_to_png`)."""
    return html_to_png(render_html(journey, language=language), path)


def render_pdf(
    journey: Journey, path: str | os.PathLike[str], *, language: Language | None = None
) -> Path:
    """The HTML map as an A3 landscape PDF (see :func:`html_to_pdf`)."""
    return html_to_pdf(render_html(journey, language=language), path, repeat_stage_headers=True)
