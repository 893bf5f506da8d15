"""The report in Chromium: it opens offline with no console errors and no requests, every
chart is drawn, every claim's link lands on its numbers; and it prints to PDF."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from jornada.report import Report, write_report

pytestmark = pytest.mark.browser


def test_report_opens_offline_without_errors(
    browser: Browser, report: Report, report_html: str
) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, offline=True)
    try:
        page = context.new_page()
        problems: list[str] = []
        requests: list[str] = []
        page.on(
            "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
        )
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on("request", lambda request: requests.append(request.url))
        page.set_content(report_html, wait_until="load")
        charts = [c.id for s in report.sections for c in s.charts]
        assert len(charts) >= 6
        drawn = page.evaluate(
            "ids => ids.map(id => document.getElementById(id).querySelector('.main-svg') !== null)",
            charts,
        )
        assert all(drawn), dict(zip(charts, drawn, strict=True))
        headings = page.locator("section.rp-section > h2").all_inner_texts()
        assert headings == [s.title for s in report.sections]
        # The living map's own fragment is inside, drawn by its renderer.
        assert page.locator("#living-map .jl-living").count() == 1
        # Following the first opportunity's link lands on the row with its numbers.
        first = report.opportunities[0]
        page.locator(f'#opportunity-table a[href="#{first.claim.target}"]').first.click()
        assert page.evaluate("location.hash") == f"#{first.claim.target}"
        assert page.locator(f"#{first.claim.target}").is_visible()
        assert problems == []
        assert all(url.startswith(("about:", "data:")) for url in requests), requests
    finally:
        context.close()


@pytest.mark.slow
def test_report_prints_to_pdf(report: Report, tmp_path: Path) -> None:
    target = write_report(report, tmp_path / "report.pdf")
    data = target.read_bytes()
    assert data.startswith(b"%PDF-")
    assert data.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page(?!s)", data)) >= len(report.sections) - 1
