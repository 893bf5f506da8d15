"""The funnel builder in the Debian Chromium: pick steps, run, see a chart; quiet and
self-contained (Plotly served by the app, no CSP violation, no foreign request)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image, ImageStat
from playwright.sync_api import Browser

from jornada.demo.generator import LOAD_MAPPING, generate_dataset
from jornada.events.load import ColumnMapping
from jornada.model.templates import load_template
from jornada.workspace import Workspace
from tests.web.conftest import PASSWORD, email_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """The live server's workspace: a small generated shop and its map."""
    ws = Workspace.init(tmp_path / "ws", name="Shop")
    ws.save_map(load_template("b2c-ecommerce", "en"))
    data = generate_dataset(tmp_path / "data", customers=300, seed=5)
    ws.load(data.events_path, ColumnMapping(**LOAD_MAPPING))
    return ws


def test_run_a_funnel_in_the_builder(browser: Browser, live_server: str, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    console_errors: list[str] = []
    page_errors: list[str] = []
    requests: list[str] = []
    page.on(
        "console", lambda message: message.type == "error" and console_errors.append(message.text)
    )
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.on("request", lambda request: requests.append(request.url))
    shot = tmp_path / "funnel.png"
    try:
        page.goto(f"{live_server}/dashboards/funnel", wait_until="networkidle")
        page.get_by_label("E-mail").fill(email_of("editor"))
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server}/dashboards/funnel")
        page.wait_for_load_state("networkidle")
        assert page.get_by_role("heading", name="Funnel builder").is_visible()

        for step in ("product_view", "add_to_cart", "purchase"):
            page.locator("#step-choice").select_option(step)
            page.get_by_role("button", name="Add step").click()
        assert page.locator("#step-list li").count() == 3
        page.get_by_label("Window").fill("30d")
        page.get_by_role("button", name="Run funnel").click()

        chart = page.locator('.dash-panel[data-kind="chart"] .dash-chart[data-drawn="true"]')
        chart.wait_for(timeout=30_000)
        page.locator(".dash-panel[data-kind='table'] table").wait_for(timeout=30_000)
        assert page.locator(".dash-chart .main-svg").count() >= 1
        table = page.locator(".dash-panel[data-kind='table'] table")
        assert table.locator("tbody tr").count() == 3
        assert "product_view" in table.inner_text()
        # The state is in the URL, and the CSV link follows it.
        assert "steps=product_view" in page.url
        csv = page.locator(".dash-panel[data-kind='table'] .dash-csv")
        assert "format=csv" in (csv.get_attribute("href") or "")
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(shot), full_page=True)

        # Reloading the shared URL draws the same funnel without clicking.
        page.reload(wait_until="networkidle")
        chart.wait_for(timeout=30_000)
        assert page.locator("#step-list li").count() == 3
    finally:
        context.close()

    image = Image.open(shot).convert("L")
    assert image.width >= 1200
    assert ImageStat.Stat(image).stddev[0] > 10, "the screenshot is blank"
    assert len(image.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 16
    assert console_errors == []
    assert page_errors == []
    server = urlsplit(live_server).netloc
    foreign = [
        u
        for u in requests
        if urlsplit(u).scheme not in {"data", "blob"} and urlsplit(u).netloc != server
    ]
    assert foreign == []
    assert any("/static/vendor/plotly.js" in u for u in requests)
    assert any("/api/analyses/funnel?" in u and "format=plotly" in u for u in requests)


def test_upload_an_event_file_and_watch_it_load(
    browser: Browser, live_server: str, tmp_path: Path
) -> None:
    events = tmp_path / "more events.csv"
    events.write_text(
        "user,ts,name\n"
        "new-1,2026-07-01T10:00:00,product_view\n"
        "new-1,2026-07-01T10:02:00,purchase\n"
        "new-2,yesterday,product_view\n",
        encoding="utf-8",
    )
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{live_server}/loads", wait_until="networkidle")
        page.get_by_label("E-mail").fill(email_of("editor"))
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server}/loads")
        page.get_by_label("Event file").set_input_files(str(events))
        page.get_by_label("Customer").fill("user")
        page.get_by_label("Time", exact=True).fill("ts")
        page.get_by_label("Event", exact=True).fill("name")
        page.get_by_role("button", name="Upload and load").click()
        status = page.locator("#upload-status")
        status.get_by_text("Loaded 2 events").wait_for(timeout=30_000)
        assert "1 quarantined" in status.inner_text()
        assert "resolving identities" in page.locator("#upload-steps").inner_text()
        page.get_by_role("link", name="Refresh the page").click()
        page.wait_for_load_state("networkidle")
        quarantine = page.locator("#quarantine")
        assert "more events.csv" in quarantine.inner_text()
        assert "yesterday" in quarantine.inner_text()
        assert page.locator("tbody tr", has_text="more events.csv").count() >= 2
    finally:
        context.close()
    assert errors == []
