"""Small formatting helpers: numbers per language, colours, initials."""

from __future__ import annotations

import re

from jornada.model import Language

__all__ = [
    "EMOTION_COLORS",
    "PALETTE",
    "PHASE_COLORS",
    "format_number",
    "initials",
    "mix",
    "parse_hex",
]

PALETTE: tuple[str, ...] = (
    "#2563eb",
    "#7c3aed",
    "#db2777",
    "#ea580c",
    "#059669",
    "#0891b2",
    "#ca8a04",
    "#4f46e5",
    "#be123c",
    "#0d9488",
)
"""Department colours for departments that do not choose their own."""

EMOTION_COLORS: dict[int, str] = {
    -2: "#d9453d",
    -1: "#f08a3e",
    0: "#e2b93b",
    1: "#8cbf4a",
    2: "#2e9e5b",
}

PHASE_COLORS: dict[str | None, str] = {
    "before": "#3b82f6",
    "during": "#8b5cf6",
    "after": "#14b8a6",
    None: "#64748b",
}

_SWAP_SEPARATORS = str.maketrans(",.", ".,")
_HEX = re.compile(r"^#([0-9a-fA-F]{6})$")


def parse_hex(color: str | None) -> tuple[int, int, int] | None:
    """``#rrggbb`` as a tuple, or None for anything else."""
    if color is None:
        return None
    match = _HEX.match(color)
    if match is None:
        return None
    value = match.group(1)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def mix(color: str, other: str, amount: float) -> str:
    """``color`` moved ``amount`` (0..1) of the way towards ``other``, as ``#rrggbb``.

    >>> mix("#000000", "#ffffff", 0.5)
    '#808080'
    """
    a = parse_hex(color) or (100, 116, 139)
    b = parse_hex(other) or (255, 255, 255)
    channels = (round(x + (y - x) * amount) for x, y in zip(a, b, strict=True))
    return "#" + "".join(f"{c:02x}" for c in channels)


def format_number(
    value: float, language: Language, *, decimals: int = 2, money: bool = False
) -> str:
    """A number the way readers of ``language`` write it, without trailing zeros
    (money keeps both decimals unless it is a whole amount).

    >>> format_number(1234.5, "en"), format_number(1234.5, "pt-BR"), format_number(3.0, "es")
    ('1,234.5', '1.234,5', '3')
    >>> format_number(1234.5, "pt-BR", money=True), format_number(20.0, "en", money=True)
    ('1.234,50', '20')
    """
    text = f"{value:,.{decimals}f}"
    whole_or_not_money = not money or value == int(value)
    if "." in text and whole_or_not_money:
        text = text.rstrip("0").rstrip(".")
    if text in {"-0", ""}:
        text = "0"
    if language != "en":
        text = text.translate(_SWAP_SEPARATORS)
    return text


def initials(name: str) -> str:
    """Up to two initials of a name, for an avatar.

    >>> initials("Ana Souza"), initials("bob")
    ('AS', 'B')
    """
    words = [w for w in re.split(r"\s+", name.strip()) if w and w[0].isalnum()]
    if not words:
        return name.strip()[:1].upper() or "?"
    if len(words) == 1:
        return words[0][0].upper()
    return (words[0][0] + words[-1][0]).upper()
