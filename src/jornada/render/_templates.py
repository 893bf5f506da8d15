"""The Jinja2 environment of the HTML and SVG templates (autoescaping always on)."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

__all__ = ["environment", "number"]


def number(value: float) -> str:
    """A coordinate for SVG and CSS: at most two decimals, no trailing zeros.

    >>> number(12.0), number(3.14159), number(-0.001)
    ('12', '3.14', '0')
    """
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


@cache
def environment() -> Environment:
    """Templates from ``jornada/render/templates``; every ``{{ value }}`` is escaped."""
    env = Environment(
        loader=PackageLoader("jornada.render", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["n"] = number
    return env
