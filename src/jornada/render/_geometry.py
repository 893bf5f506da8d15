"""Shapes shared by the HTML and SVG maps."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from jornada.render._templates import number

__all__ = ["curve_path"]


def curve_path(points: Sequence[tuple[float, float]]) -> str:
    """A smooth SVG path through ``points`` (left to right): each segment is a cubic
    whose handles are horizontal, so the curve never overshoots a point.

    >>> curve_path([(0, 10), (100, 30)])
    'M0 10C50 10 50 30 100 30'
    """
    if not points:
        return ""
    x0, y0 = points[0]
    parts = [f"M{number(x0)} {number(y0)}"]
    for (xa, ya), (xb, yb) in pairwise(points):
        middle = xa + (xb - xa) / 2
        parts.append(
            f"C{number(middle)} {number(ya)} {number(middle)} {number(yb)} "
            f"{number(xb)} {number(yb)}"
        )
    return "".join(parts)
