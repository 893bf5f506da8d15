"""The map templates jornada ships render in every format (without a browser)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from importlib import resources

import pytest

from jornada.model import LANGUAGES, Journey, Language
from jornada.render import render_html, render_mermaid, render_svg


def _templates() -> list[str]:
    folder = resources.files("jornada.model").joinpath("templates")
    try:
        names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".en.yaml"))
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [name.removesuffix(".en.yaml") for name in names]


def load(name: str, language: Language) -> Journey:
    from jornada.model.templates import load_template

    return load_template(name, language)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", _templates() or ["b2c-ecommerce"])
def test_template_renders(name: str, language: Language) -> None:
    try:
        journey = load(name, language)
    except (ImportError, FileNotFoundError) as missing:
        pytest.skip(f"template {name} not available: {missing}")
    html = render_html(journey)
    assert (
        journey.title.replace("'", "&#39;").replace("&", "&amp;") in html or journey.title in html
    )
    for stage in journey.ordered_stages():
        assert "jn-stage-name" in html
        assert stage.id
    svg = render_svg(journey)
    ET.fromstring(svg)
    assert render_mermaid(journey).count("    section ") == len(journey.stages)
