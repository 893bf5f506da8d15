"""The public face of jornada.render."""

from __future__ import annotations

import inspect

import jornada.render as render

PUBLIC = {
    "SUFFIXES",
    "BrowserUnavailableError",
    "UnsupportedFormatError",
    "map_stylesheet",
    "render_html",
    "render_map_fragment",
    "render_mermaid",
    "html_to_pdf",
    "html_to_png",
    "render_pdf",
    "render_png",
    "render_svg",
    "render_to_file",
}


def test_all_is_the_public_api() -> None:
    assert set(render.__all__) == PUBLIC
    for name in render.__all__:
        assert getattr(render, name) is not None
        assert not name.startswith("_")


def test_signatures() -> None:
    for name in ("render_html", "render_map_fragment", "render_svg"):
        parameters = inspect.signature(getattr(render, name)).parameters
        assert list(parameters) == ["journey", "language"]
        assert parameters["language"].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters["language"].default is None
    for name in ("render_png", "render_pdf", "render_to_file"):
        parameters = inspect.signature(getattr(render, name)).parameters
        assert list(parameters) == ["journey", "path", "language"]
        assert parameters["language"].kind is inspect.Parameter.KEYWORD_ONLY
    assert list(inspect.signature(render.render_mermaid).parameters) == ["journey"]
    assert list(inspect.signature(render.map_stylesheet).parameters) == []


def test_error_types() -> None:
    assert issubclass(render.UnsupportedFormatError, ValueError)
    assert issubclass(render.BrowserUnavailableError, Exception)
    assert render.SUFFIXES == (".html", ".svg", ".png", ".pdf", ".mmd")
