"""The map as an HTML document or fragment."""

from __future__ import annotations

from functools import cache
from importlib import resources

from markupsafe import Markup

from jornada.model import Journey, Language
from jornada.render._geometry import curve_path
from jornada.render._templates import environment
from jornada.render._view import MapView, build_view

__all__ = ["map_stylesheet", "render_html", "render_map_fragment"]


@cache
def map_stylesheet() -> str:
    """The CSS of the map (every rule scoped to ``.jn-map`` / ``.jn-page``)."""
    return resources.files("jornada.render").joinpath("templates", "map.css").read_text("utf-8")


def _context(view: MapView) -> dict[str, object]:
    points = [(p.x * 1000, p.y * 100) for p in view.emotion_points]
    return {"m": view, "t": view.t, "emotion_path": curve_path(points)}


def render_map_fragment(journey: Journey, *, language: Language | None = None) -> str:
    """The map (header, persona cards, swimlane grid, legend) as one ``<div class="jn-map">``
    to embed in a page that links :func:`map_stylesheet`."""
    view = build_view(journey, language)
    return environment().get_template("map.html.j2").render(_context(view))


def render_html(journey: Journey, *, language: Language | None = None) -> str:
    """A complete, self-contained HTML5 document of the map: CSS inlined, no scripts,
    nothing fetched from anywhere. ``language`` defaults to the map's own."""
    view = build_view(journey, language)
    # The stylesheet is our own file, not user text: it must reach <style> unescaped.
    stylesheet = Markup(map_stylesheet())  # noqa: S704
    context = {**_context(view), "stylesheet": stylesheet}
    return environment().get_template("page.html.j2").render(context)
