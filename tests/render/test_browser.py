"""PNG and PDF through the Debian Chromium, and the map's key labels visible in a browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from playwright.sync_api import Browser, expect

from jornada.model import Journey
from jornada.render import render_html, render_pdf, render_png, render_to_file

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _assert_picture(path: Path, *, min_width: int) -> None:
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        assert min_width <= width <= 20_000
        assert height > 600
        rgb = image.convert("RGB")
        small = rgb.resize((width // 4, height // 4))
        colours = small.getcolors(maxcolors=1 << 20) or []
        assert len(colours) > 500, "too few colours: the picture looks blank"
        stats = ImageStat.Stat(rgb.convert("L"))
        assert stats.stddev[0] > 10, "the picture is nearly uniform"


def _pdf_pages(path: Path) -> int:
    data = path.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    return len(re.findall(rb"/Type\s*/Page(?!s)", data))


def test_png_and_pdf(rich_journey: Journey, tmp_path: Path) -> None:
    png = render_png(rich_journey, tmp_path / "map.png")
    _assert_picture(png, min_width=1440)
    pdf = render_pdf(rich_journey, tmp_path / "map.pdf")
    assert _pdf_pages(pdf) >= 1
    assert _pdf_pages(render_to_file(rich_journey, tmp_path / "via-suffix.pdf")) >= 1


def test_png_while_another_playwright_session_runs(
    browser: Browser, rich_journey: Journey, tmp_path: Path
) -> None:
    # The `browser` fixture holds a sync Playwright session open in this thread.
    png = render_png(rich_journey, tmp_path / "inside.png", language="es")
    _assert_picture(png, min_width=1440)


def test_key_labels_are_visible(browser: Browser, rich_journey: Journey) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, offline=True)
    try:
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.set_content(render_html(rich_journey), wait_until="load")
        expect(page.get_by_role("heading", name=rich_journey.title)).to_be_visible()
        expect(page.get_by_text("Ana Souza", exact=True)).to_be_visible()
        for stage in rich_journey.ordered_stages():
            expect(page.get_by_text(stage.name, exact=True)).to_be_visible()
        for label in ("Touchpoints", "Emotion", "Pain points", "Backstage processes", "Legend"):
            expect(page.get_by_text(label, exact=True).first).to_be_visible()
        expect(page.get_by_text("Shipping cost shown only at the last step")).to_be_visible()
        expect(page.get_by_text("Annoyed", exact=True)).to_be_visible()
        # Hidden lanes stay hidden; equal columns keep the emotion points over their stages.
        assert page.locator('[data-lane="motivations"]').count() == 0
        widths = page.locator(".jn-stage").evaluate_all(
            "nodes => nodes.map(n => Math.round(n.getBoundingClientRect().width))"
        )
        assert max(widths) - min(widths) <= 1
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= 1440, "the sample map should fit a 1440px screen"
        assert all(url.startswith(("about:", "data:")) for url in requests), requests
    finally:
        context.close()


def test_the_b2c_template_prints(tmp_path: Path) -> None:
    try:
        from jornada.model.templates import load_template

        journey = load_template("b2c-ecommerce", "en")
    except (ImportError, FileNotFoundError, LookupError) as missing:
        pytest.skip(f"b2c-ecommerce template not available: {missing}")
    png = render_png(journey, tmp_path / "b2c.png")
    _assert_picture(png, min_width=1440)
    assert _pdf_pages(render_pdf(journey, tmp_path / "b2c.pdf")) >= 1
