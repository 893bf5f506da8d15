"""Writing a map to a file, the format chosen by the file's suffix."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Final

from jornada.model import Journey, Language
from jornada.render._browser import render_pdf, render_png
from jornada.render._errors import UnsupportedFormatError
from jornada.render._html import render_html
from jornada.render._mermaid import render_mermaid
from jornada.render._svg import render_svg

__all__ = ["SUFFIXES", "render_to_file"]

_TEXT: Final[dict[str, Callable[[Journey, Language | None], str]]] = {
    ".html": lambda journey, language: render_html(journey, language=language),
    ".svg": lambda journey, language: render_svg(journey, language=language),
    ".mmd": lambda journey, language: render_mermaid(journey),
}
_BINARY: Final[dict[str, Callable[..., Path]]] = {".png": render_png, ".pdf": render_pdf}
SUFFIXES: Final[tuple[str, ...]] = (".html", ".svg", ".png", ".pdf", ".mmd")


def render_to_file(
    journey: Journey, path: str | os.PathLike[str], *, language: Language | None = None
) -> Path:
    """Write the map to ``path`` in the format its suffix names (.html .svg .png .pdf .mmd)
    and return the path."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in SUFFIXES:
        shown = repr(suffix) if suffix else "(no suffix)"
        raise UnsupportedFormatError(
            f"cannot write {target.name!r}: unsupported format {shown}; "
            f"use one of {', '.join(SUFFIXES)}"
        )
    if suffix in _BINARY:
        _BINARY[suffix](journey, target, language=language)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(_TEXT[suffix](journey, language), encoding="utf-8")
    return target
