"""Golden HTML and SVG of the sample map."""

from __future__ import annotations

import pytest

from jornada.model import Journey
from jornada.render import render_html, render_mermaid, render_svg

from .snapshots import SNAPSHOTS, assert_snapshot


def test_html_snapshot(rich_journey: Journey) -> None:
    assert_snapshot("espresso.en.html", render_html(rich_journey))


def test_html_snapshot_in_portuguese(rich_journey: Journey) -> None:
    assert_snapshot("espresso.pt-BR.html", render_html(rich_journey, language="pt-BR"))


def test_svg_snapshot(rich_journey: Journey) -> None:
    assert_snapshot("espresso.en.svg", render_svg(rich_journey))


def test_svg_snapshot_in_spanish(rich_journey: Journey) -> None:
    assert_snapshot("espresso.es.svg", render_svg(rich_journey, language="es"))


def test_mermaid_snapshot(rich_journey: Journey) -> None:
    assert_snapshot("espresso.mmd", render_mermaid(rich_journey))


def test_a_missing_snapshot_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JORNADA_UPDATE_SNAPSHOTS", raising=False)
    assert not (SNAPSHOTS / "no-such.html").exists()
    with pytest.raises(pytest.fail.Exception, match="missing"):
        assert_snapshot("no-such.html", "<p>x</p>")


def test_a_changed_rendering_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JORNADA_UPDATE_SNAPSHOTS", raising=False)
    with pytest.raises(pytest.fail.Exception, match="differs"):
        assert_snapshot("espresso.mmd", "journey\n")
