"""Rough text widths for laying out SVG text without a browser.

Widths are Arial's (Liberation Sans has the same metrics), in thousandths of the
font size, with a small safety margin for fonts that run a little wider.
"""

from __future__ import annotations

import unicodedata
from functools import cache

__all__ = ["text_width", "wrap"]

_ASCII = "".join(chr(code) for code in range(32, 127))
_REGULAR = (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
)  # fmt: skip
_BOLD = (
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
)  # fmt: skip
_REGULAR_WIDTHS = dict(zip(_ASCII, _REGULAR, strict=True))
_BOLD_WIDTHS = dict(zip(_ASCII, _BOLD, strict=True))
_OTHER = {
    "—": 1000, "–": 556, "“": 333, "”": 333, "‘": 222, "’": 222, "…": 1000, "·": 278,
    "→": 1000, "↓": 500, "↑": 500, "−": 584, "≥": 549, "≤": 549, "€": 556, "£": 556,
    "°": 400, "×": 584, "\u00a0": 278,
}  # fmt: skip
_MARGIN = 1.04


@cache
def _char_width(char: str, bold: bool) -> int:
    table = _BOLD_WIDTHS if bold else _REGULAR_WIDTHS
    if char in table:
        return table[char]
    if char in _OTHER:
        return _OTHER[char]
    base = unicodedata.normalize("NFD", char)[:1]
    if base in table:
        return table[base]
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 1000
    if unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 600


def text_width(text: str, size: float, *, bold: bool = False) -> float:
    """The width of ``text`` set in ``size`` px.

    >>> round(text_width("Hello", 10))
    24
    """
    return sum(_char_width(c, bold) for c in text) * size / 1000 * _MARGIN


def _split_word(word: str, width: float, size: float, bold: bool) -> list[str]:
    pieces: list[str] = []
    current = ""
    for char in word:
        if current and text_width(current + char, size, bold=bold) > width:
            pieces.append(current)
            current = char
        else:
            current += char
    if current:
        pieces.append(current)
    return pieces


def wrap(text: str, width: float, size: float, *, bold: bool = False) -> list[str]:
    """``text`` broken into lines no wider than ``width``; newlines in it are kept.

    >>> wrap("the quick brown fox", 60, 12)
    ['the quick', 'brown fox']
    """
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}" if current else word
            if text_width(candidate, size, bold=bold) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            if text_width(word, size, bold=bold) <= width:
                current = word
            else:
                *full, current = _split_word(word, width, size, bold)
                lines.extend(full)
        lines.append(current)
    return lines
