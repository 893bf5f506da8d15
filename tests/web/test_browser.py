"""The map page in the Debian Chromium: drawn, readable, quiet, and self-contained."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image, ImageStat
from playwright.sync_api import Browser

from tests.web.conftest import PASSWORD, email_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_map_page_in_a_browser(browser: Browser, live_server: str, tmp_path: Path) -> None:
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
    try:
        # Not signed in: the app sends the browser to the sign-in form, then back.
        page.goto(f"{live_server}/maps/shop", wait_until="networkidle")
        assert page.url == f"{live_server}/login?next=%2Fmaps%2Fshop"
        page.get_by_label("E-mail").fill(email_of("editor"))
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state("networkidle")
        assert page.get_by_role("alert").inner_text() == "Wrong e-mail or password."
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server}/maps/shop")
        # The refused attempt was a 400 (Chromium reports it); from here on, silence.
        assert all("status of 400" in error for error in console_errors)
        console_errors.clear()
        cookies = {cookie["name"]: cookie for cookie in context.cookies()}
        assert cookies["jornada_session"]["httpOnly"]
        assert cookies["jornada_session"]["sameSite"] == "Lax"

        for url in (f"{live_server}/", f"{live_server}/maps/shop"):
            response = page.goto(url, wait_until="networkidle")
            assert response is not None
            assert response.status == 200
        shot = tmp_path / "map.png"
        page.screenshot(path=str(shot), full_page=True)

        assert page.get_by_role("heading", name="Buying shoes online").is_visible()
        assert page.get_by_text("Awareness", exact=True).first.is_visible()
        assert page.get_by_text("Purchase", exact=True).first.is_visible()

        # Sign out from the header: back to the form, and the pages are closed again.
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(f"{live_server}/login")
        page.goto(f"{live_server}/", wait_until="networkidle")
        assert page.url.startswith(f"{live_server}/login")
    finally:
        context.close()

    image = Image.open(shot).convert("L")
    assert image.width >= 1200
    stats = ImageStat.Stat(image)
    assert stats.stddev[0] > 10, "the screenshot is blank"
    assert len(image.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 16

    assert console_errors == []
    assert page_errors == []
    server = urlsplit(live_server).netloc
    foreign = [
        u for u in requests if urlsplit(u).scheme not in {"data"} and urlsplit(u).netloc != server
    ]
    assert foreign == []
    assert any(u.endswith("/static/map.css") or "/static/map.css?" in u for u in requests)
