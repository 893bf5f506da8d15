"""The map editor in the Debian Chromium: create from a template, edit, save, restore."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from playwright.sync_api import Browser, Page, expect

from jornada.workspace import Workspace
from tests.web.conftest import PASSWORD, email_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def touchpoint_names(page: Page) -> list[str]:
    return page.locator(".ed-touchpoint .touchpoint-name").evaluate_all(
        "nodes => nodes.map(node => node.value)"
    )


def test_editor_in_a_browser(
    browser: Browser, live_server: str, workspace: Workspace, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        page.goto(f"{live_server}/maps/new", wait_until="networkidle")
        page.get_by_label("E-mail").fill(email_of("editor"))
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server}/maps/new")

        # The gallery: one card per template, each with a drawn preview.
        card = page.locator(".gallery-card").filter(has=page.locator("#tpl-b2c-ecommerce"))
        expect(card.locator(".jn-map")).to_have_count(1)
        card.get_by_label("Map id").fill("trip")
        card.get_by_role("button", name="Create and edit").click()
        page.wait_for_url(f"{live_server}/maps/trip/edit")
        stage_name = page.locator(".ed-stage .stage-name").first
        expect(stage_name).to_have_value("Discover")

        # Rename a stage in place. A redraw half-way (comments arriving, a save) keeps
        # what is being typed and where the caret is.
        stage_name.fill("Find")
        page.evaluate("() => import('/static/editor/editor.js').then((m) => m.refresh())")
        expect(stage_name).to_be_focused()
        expect(stage_name).to_have_value("Find")
        page.keyboard.type(" out")
        stage_name.press("Tab")
        expect(page.locator(".ed-stage .stage-name").first).to_have_value("Find out")
        expect(page.locator("#undo")).to_be_enabled()

        # Move a touchpoint with the keyboard alternative, then by dragging it back.
        before = touchpoint_names(page)
        page.locator(".ed-touchpoint").first.get_by_role("button", name="Move right").click()
        moved = touchpoint_names(page)
        assert moved[:2] == [before[1], before[0]]
        assert moved[2:] == before[2:]
        page.locator(".ed-touchpoint").nth(1).locator(".drag-handle").drag_to(
            page.locator(".ed-touchpoint").first
        )
        assert touchpoint_names(page) == before

        # Drag the first emotion point up to +2.
        point = page.locator(".emotion-point").first
        start = point.get_attribute("aria-valuenow")
        box = point.bounding_box()
        assert box is not None
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x, y - 40, steps=5)
        page.mouse.move(x, y - 200, steps=5)
        page.mouse.up()
        expect(page.locator(".emotion-point").first).to_have_attribute("aria-valuenow", "2")
        assert start != "2"

        # The persona card, the map's title and a stage KPI with a target, in the panels.
        page.get_by_role("tab", name="Persona").click()
        persona_name = page.locator("#panel-persona").get_by_label("Name")
        persona_name.fill("Marina A.")
        persona_name.press("Tab")
        page.get_by_role("tab", name="Map").click()
        title = page.locator("#panel-map").get_by_label("Title")
        title.fill("Running shoes, first pair")
        title.press("Tab")
        expect(page.locator("#editor-title")).to_have_text("Running shoes, first pair")
        page.locator(".ed-stage .stage-name").first.focus()
        page.get_by_role("tab", name="Selected").click()
        page.get_by_role("button", name="KPI with target").click()
        target = page.locator("#panel-item .panel-row").last.get_by_label("Target")
        target.fill("0.25")
        target.press("Tab")
        page.keyboard.press("Escape")

        # Save: a new version, with the edits in the file.
        page.get_by_role("button", name="Save").click()
        expect(page.locator("#status")).to_have_text("Saved as version 2.")
        saved = workspace.load_map("trip")
        assert saved.ordered_stages()[0].name == "Find out"
        first = saved.ordered_stages()[0].touchpoints[0]
        assert first.emotion is not None
        assert first.emotion.score == 2
        assert saved.title == "Running shoes, first pair"
        assert saved.personas[0].name == "Marina A."
        assert [(k.kpi, k.target) for k in saved.ordered_stages()[0].kpis][-1] == (
            "conversion_rate",
            0.25,
        )

        # The living-map overlay on the same grid (no events loaded: zero customers).
        page.get_by_role("button", name="Living map").click()
        expect(page.locator("#status")).to_contain_text(
            "Living map: measured on 0 customers", timeout=60_000
        )
        expect(page.locator(".living-line")).to_have_count(page.locator(".ed-touchpoint").count())
        expect(page.get_by_role("button", name="Living map")).to_have_attribute(
            "aria-pressed", "true"
        )
        page.get_by_role("button", name="Living map").click()
        expect(page.locator(".living-line")).to_have_count(0)

        # The history lists both versions; restoring the first brings the old name back.
        page.get_by_role("tab", name="History").click()
        versions = page.locator(".version")
        expect(versions).to_have_count(2)
        expect(versions.first).to_contain_text("editor@example.com")
        versions.nth(1).get_by_role("button", name="Changes since").click()
        expect(page.locator(".diff-box")).to_contain_text("renamed from 'Discover'")
        shot = tmp_path / "editor.png"
        page.screenshot(path=str(shot), full_page=False)
        versions.nth(1).get_by_role("button", name="Restore").click()
        expect(page.locator("#status")).to_have_text("Version 1 restored (saved as version 3).")
        expect(page.locator(".ed-stage .stage-name").first).to_have_value("Discover")
        expect(page.locator(".version")).to_have_count(3)
        assert workspace.load_map("trip").ordered_stages()[0].name == "Discover"

        # A comment pinned to the selected touchpoint, then resolved.
        page.locator(".ed-touchpoint").first.get_by_role("button", name="Details").click()
        page.get_by_role("tab", name="Comments").click()
        page.locator("#comment-text").fill("Is this ad still running?")
        page.get_by_role("button", name="Add comment").click()
        expect(page.locator(".comment")).to_contain_text("Is this ad still running?")
        expect(page.locator(".ed-touchpoint").first.locator(".comment-badge")).to_have_text("💬 1")
        page.locator(".comment").get_by_role("button", name="Resolve").click()
        expect(page.locator(".comment.is-resolved")).to_have_count(1)
        expect(page.locator(".comment-badge")).to_have_count(0)

        # Importing a file with a problem shows it at its cell, and saves nothing.
        broken = tmp_path / "broken.yaml"
        broken.write_text(
            "id: whatever\ntitle: Imported\nstages:\n  - id: s1\n    name: One\n"
            "    touchpoints:\n      - id: t1\n        name: First\n"
            "        emotion: {score: 1}\n      - id: t2\n        name: Second\n"
            "        emotion: {score: 9}\n"
        )
        page.locator("#import-file").set_input_files(str(broken))
        problem = page.locator("#problem-list li")
        expect(problem).to_have_count(1)
        expect(problem).to_contain_text("stages[0].touchpoints[1].emotion.score")
        expect(page.locator(".ed-emotion.has-problem")).to_have_count(1)
        points = page.locator(".emotion-point")
        expect(points.nth(1)).to_have_class(re.compile(r"\bhas-problem\b"))
        expect(points.first).not_to_have_class(re.compile(r"\bhas-problem\b"))
        expect(page.locator(".ed-touchpoint .touchpoint-name")).to_have_count(2)
        import_shot = tmp_path / "import.png"
        page.screenshot(path=str(import_shot))
        assert workspace.load_map("trip").title != "Imported"
    finally:
        context.close()

    image = Image.open(shot).convert("L")
    assert ImageStat.Stat(image).stddev[0] > 10, "the screenshot is blank"
    assert len(image.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 16
    assert errors == []
