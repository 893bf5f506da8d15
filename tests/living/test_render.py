"""Drawing the living map: a golden fragment on a small fixed log, escaping, languages,
files, and the standalone page in Chromium (no console errors, no requests)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from jornada.living.overlay import LivingMap, living_map
from jornada.living.render import (
    LivingRenderError,
    living_stylesheet,
    render_living_fragment,
    render_living_html,
    write_living,
)
from jornada.model import Department, Emotion, EventBinding, Journey, Milestone, Stage, Touchpoint
from tests.living.conftest import Row, Store
from tests.render.snapshots import assert_snapshot


def _journey(name: str = "Checkout") -> Journey:
    return Journey(
        id="tiny",
        title="Tiny shop",
        departments=[Department(id="web", name="Web team")],
        stages=[
            Stage(
                id="look",
                name="Look",
                touchpoints=[
                    Touchpoint(
                        id="ad",
                        name="Ad",
                        emotion=Emotion(score=1),
                        events=EventBinding(names=["ad_click"]),
                        departments=["web"],
                    ),
                    Touchpoint(
                        id="page",
                        name="Product page",
                        emotion=Emotion(score=2),
                        events=EventBinding(names=["page_view", "survey_response"]),
                    ),
                ],
            ),
            Stage(
                id="buy",
                name="Buy",
                phase="during",
                milestones=[
                    Milestone(id="bought", name="Bought", events=EventBinding(names=["purchase"]))
                ],
                touchpoints=[
                    Touchpoint(
                        id="pay",
                        name=name,
                        emotion=Emotion(score=-1),
                        events=EventBinding(names=["checkout", "purchase"]),
                        departments=["web"],
                    ),
                    Touchpoint(
                        id="ghost",
                        name="Phone line",
                        events=EventBinding(names=["call"]),
                    ),
                ],
            ),
        ],
    )


def _rows() -> list[Row]:
    rows = []
    for i in range(12):
        c = f"c{i:02d}"
        rows.append(Row(c, i * 60, "ad_click", "social"))
        rows.append(Row(c, i * 60 + 5, "page_view", "web"))
        if i % 2 == 0:
            rows.append(Row(c, i * 60 + 9, "checkout", "web"))
        if i % 4 == 0:
            rows.append(Row(c, i * 60 + 12, "purchase", "web"))
        if i % 3 == 0:
            rows.append(
                Row(
                    c,
                    i * 60 + 20,
                    "survey_response",
                    "web",
                    score=4.0 + (i % 2),
                    properties={"survey": "csat"},
                )
            )
    return rows


@pytest.fixture(scope="module")
def store() -> Store:
    return Store()


def _living(store: Store, journey: Journey) -> LivingMap:
    log = store.load(_rows())
    return living_map(log.table, journey, conversion="purchase")


@pytest.fixture(scope="module")
def tiny(store: Store) -> LivingMap:
    return _living(store, _journey())


def test_golden_fragment(tiny: LivingMap) -> None:
    assert_snapshot("living/tiny.en.html", render_living_fragment(tiny, language="en"))
    assert_snapshot("living/tiny.pt-BR.html", render_living_fragment(tiny, language="pt-BR"))


def test_fragment_content(tiny: LivingMap) -> None:
    html = render_living_fragment(tiny)
    assert html.startswith('<div class="jl-living"')
    assert "<script" not in html
    assert "style=" not in html
    # The cell that nobody reaches is flagged, with its finding.
    ghost = re.search(r'<article class="([^"]*)" data-touchpoint="ghost">', html)
    assert ghost is not None
    assert "jl-cell--flagged" in ghost.group(1)
    assert 'data-kind="unreached"' in html
    # Measures, evidence, the data's date range, both curves.
    assert "Journeys ending here" in html
    assert "Attributed conversions" in html
    assert "Measured · n = 12" in html
    assert "Data from 1 Jan 2026 to 1 Jan 2026" in html
    assert "jl-curve--designed" in html
    assert "jl-curve--measured" in html


def test_languages_format_numbers_and_labels(tiny: LivingMap) -> None:
    pt = render_living_fragment(tiny, language="pt-BR")
    es = render_living_fragment(tiny, language="es")
    assert "Mapa vivo" in pt
    assert "Dados de 01/01/2026 a 01/01/2026" in pt
    assert "Alcance" in pt
    assert "Hallazgos" in es
    assert "100%" in pt
    assert "100 %" in es


def test_map_text_is_escaped(store: Store) -> None:
    hostile = _living(store, _journey('<script>alert("x")</script> & co'))
    html = render_living_html(hostile)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in html


def test_standalone_page_and_stylesheet(tiny: LivingMap, tmp_path: Path) -> None:
    page = render_living_html(tiny, language="es")
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="es">' in page
    assert living_stylesheet() in page
    assert all(
        line.lstrip().startswith(".jl-") or not line.lstrip().startswith(".")
        for line in living_stylesheet().splitlines()
    ), "every rule is scoped to the living map"
    written = write_living(tiny, tmp_path / "living.html")
    assert written.read_text(encoding="utf-8") == render_living_html(tiny)
    with pytest.raises(LivingRenderError, match=r"unsupported format '\.svg'"):
        write_living(tiny, tmp_path / "living.svg")


@pytest.mark.browser
@pytest.mark.slow
def test_page_opens_in_chromium_without_errors_or_requests(
    browser: Browser, tiny: LivingMap
) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, offline=True)
    try:
        page = context.new_page()
        errors: list[str] = []
        requests: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.set_content(render_living_html(tiny), wait_until="load")
        assert page.get_by_role("heading", name="Tiny shop").is_visible()
        assert page.locator(".jl-stage").count() == 2
        assert page.locator(".jl-cell--flagged").count() >= 1
        assert page.locator("svg.jl-curves circle").count() >= 3
        assert errors == []
        assert all(url.startswith(("about:", "data:")) for url in requests), requests
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.slow
def test_pdf_and_png(tiny: LivingMap, tmp_path: Path) -> None:
    pdf = write_living(tiny, tmp_path / "living.pdf")
    assert pdf.read_bytes().startswith(b"%PDF-")
    png = write_living(tiny, tmp_path / "living.png")
    assert png.read_bytes().startswith(b"\x89PNG")
