"""render_to_file: the format follows the suffix; PNG and PDF need Chromium."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from jornada.model import Journey
from jornada.render import (
    BrowserUnavailableError,
    UnsupportedFormatError,
    render_html,
    render_pdf,
    render_png,
    render_to_file,
)


@pytest.mark.parametrize("name", ["map.txt", "map.jpeg", "map", "map.html.bak"])
def test_unsupported_suffix(rich_journey: Journey, tmp_path: Path, name: str) -> None:
    with pytest.raises(UnsupportedFormatError) as caught:
        render_to_file(rich_journey, tmp_path / name)
    message = str(caught.value)
    for suffix in (".html", ".svg", ".png", ".pdf", ".mmd"):
        assert suffix in message
    assert isinstance(caught.value, ValueError)
    assert not (tmp_path / name).exists()


def test_text_formats(rich_journey: Journey, tmp_path: Path) -> None:
    html = render_to_file(rich_journey, tmp_path / "out" / "map.html")
    assert html == tmp_path / "out" / "map.html"
    assert html.read_text(encoding="utf-8") == render_html(rich_journey)
    svg = render_to_file(rich_journey, tmp_path / "map.SVG", language="es")
    assert ET.fromstring(svg.read_text(encoding="utf-8")).tag.endswith("svg")
    assert "Después de la compra" in svg.read_text(encoding="utf-8")
    mmd = render_to_file(rich_journey, tmp_path / "map.mmd")
    assert mmd.read_text(encoding="utf-8").startswith("journey\n")


@pytest.mark.parametrize("render", [render_png, render_pdf])
def test_missing_chromium_is_a_clear_error(
    rich_journey: Journey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, render: object
) -> None:
    monkeypatch.setenv("JORNADA_CHROMIUM", str(tmp_path / "no-chromium"))
    with pytest.raises(BrowserUnavailableError) as caught:
        render(rich_journey, tmp_path / "map.out")  # type: ignore[operator]
    message = str(caught.value)
    assert "\n" not in message
    assert "apt-get install chromium" in message
    assert "JORNADA_CHROMIUM" in message
    assert str(tmp_path / "no-chromium") in message


def test_render_to_file_png_without_chromium(
    rich_journey: Journey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JORNADA_CHROMIUM", str(tmp_path / "none"))
    with pytest.raises(BrowserUnavailableError):
        render_to_file(rich_journey, tmp_path / "map.png")
