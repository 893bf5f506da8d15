"""The report printed to PDF by the headless Chromium the map renderer uses (same
executable and flags), offline, A4 landscape with backgrounds; charts are drawn by the
page's own plotly.js before printing."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from jornada.render._browser import print_document

__all__ = ["print_pdf"]

PRINT_WIDTH: Final = 1100
"""CSS pixels of the page laid out for print (A4 landscape less margins is ~1060)."""
_CHARTS_DRAWN: Final = (
    "() => [...document.querySelectorAll('.rp-chart')].every("
    "n => n.querySelector('.main-svg') !== null)"
)


def print_pdf(html: str, target: Path) -> Path:
    """Print ``html`` to ``target`` (see the module)."""
    return print_document(html, target, width=PRINT_WIDTH, ready=_CHARTS_DRAWN)
