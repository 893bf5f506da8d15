"""The editor's JSON API, in process: save with validation errors at their cells,
versions, restore, diff, comments, create/import/delete, and the binding preview on
real loaded events."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jornada.accounts import AppState, workspace_key
from jornada.accounts.history import list_versions
from jornada.accounts.tokens import create_token
from jornada.events.load import ColumnMapping
from jornada.model.io import MAX_MAP_BYTES
from jornada.workspace import Workspace
from tests.web.conftest import XSS, csrf_of

Clients = Callable[[str], TestClient]


def csrf(client: TestClient) -> dict[str, str]:
    """The ``X-CSRF-Token`` header of ``client``'s session (read from a page's meta tag)."""
    return {"X-CSRF-Token": csrf_of(client.get("/maps/shop").text)}


def current(client: TestClient, map_id: str = "shop") -> dict[str, Any]:
    response = client.get(f"/api/maps/{map_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_save_makes_versions_with_author_and_writes_the_file(
    client: TestClient, workspace: Workspace, state: AppState
) -> None:
    loaded = current(client)
    assert loaded["version"] is None
    data = loaded["map"]
    data["stages"][0]["name"] = "Discover"
    data["stages"][0]["touchpoints"][0]["emotion"]["score"] = 2

    response = client.put(
        "/api/maps/shop", json={"map": data, "message": "rename"}, headers=csrf(client)
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 2

    journey = workspace.load_map("shop")
    assert journey.stages[0].name == "Discover"
    assert journey.stages[0].touchpoints[0].emotion is not None
    assert journey.stages[0].touchpoints[0].emotion.score == 2
    history = client.get("/api/maps/shop/versions").json()["versions"]
    assert [(v["number"], v["author"], v["message"]) for v in history] == [
        (2, "editor@example.com", "rename"),
        (1, None, "file before the first edit"),
    ]
    stored = list_versions(state, workspace_key(workspace), "shop")
    assert "name: Discover" in stored[0].content
    assert "name: Awareness" in stored[1].content
    assert current(client)["version"] == 2


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (
            lambda m: m["stages"][1]["touchpoints"][0]["emotion"].update(score=5),
            "stages[1].touchpoints[0].emotion.score",
        ),
        (
            lambda m: m["stages"][0]["touchpoints"][1].update(name=""),
            "stages[0].touchpoints[1].name",
        ),
        (lambda m: m["stages"][1].update(touchpoints=[]), "stages[1].touchpoints"),
        (
            lambda m: m["stages"][0]["touchpoints"][0].update(departments=["nobody"]),
            "stages[0].touchpoints[0].departments[0]",
        ),
    ],
)
def test_validation_errors_name_the_cell(
    client: TestClient, workspace: Workspace, change: Callable[[dict[str, Any]], None], path: str
) -> None:
    before = (workspace.maps_dir / "shop.yaml").read_text()
    data = current(client)["map"]
    change(data)
    response = client.put("/api/maps/shop", json={"map": data}, headers=csrf(client))
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "invalid_map"
    assert path in [problem["path"] for problem in body["problems"]]
    assert all(problem["message"] for problem in body["problems"])
    # Nothing saved: the file is untouched and there is no version.
    assert (workspace.maps_dir / "shop.yaml").read_text() == before
    assert client.get("/api/maps/shop/versions").json()["versions"] == []


def test_the_id_of_a_map_cannot_change_and_stale_edits_conflict(client: TestClient) -> None:
    data = current(client)["map"]
    renamed = {**data, "id": "other"}
    response = client.put("/api/maps/shop", json={"map": renamed}, headers=csrf(client))
    assert response.status_code == 422
    assert [p["path"] for p in response.json()["problems"]] == ["id"]

    first = client.put(
        "/api/maps/shop", json={"map": data, "base_version": None}, headers=csrf(client)
    )
    assert first.json()["version"] == 2
    stale = client.put(
        "/api/maps/shop", json={"map": data, "base_version": 1}, headers=csrf(client)
    )
    assert stale.status_code == 409
    assert stale.json()["version"] == 2
    fresh = client.put(
        "/api/maps/shop", json={"map": data, "base_version": 2}, headers=csrf(client)
    )
    assert fresh.json()["version"] == 3


def test_a_browser_session_needs_the_csrf_token_a_script_does_not(
    client: TestClient, workspace: Workspace, state: AppState
) -> None:
    data = current(client)["map"]
    assert client.put("/api/maps/shop", json={"map": data}).status_code == 403
    assert (
        client.put(
            "/api/maps/shop", json={"map": data}, headers={"X-CSRF-Token": "forged"}
        ).status_code
        == 403
    )
    editor_id = json.loads(client.get("/account.json").text)["user"]["email"]
    assert editor_id == "editor@example.com"
    from jornada.accounts.users import find_user

    user = find_user(state, "editor@example.com", workspace_key(workspace))
    assert user is not None
    token = create_token(state, user.id, "script").secret
    script = TestClient(client.app)
    response = script.put(
        "/api/maps/shop", json={"map": data}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    read_only = create_token(state, user.id, "ro", read_only=True).secret
    refused = script.put(
        "/api/maps/shop", json={"map": data}, headers={"Authorization": f"Bearer {read_only}"}
    )
    assert refused.status_code == 403


def test_restore_and_diff_in_journey_terms(client: TestClient, workspace: Workspace) -> None:
    data = current(client)["map"]
    data["stages"][0]["name"] = "Discover"
    client.put("/api/maps/shop", json={"map": data}, headers=csrf(client))
    data["stages"][0]["touchpoints"].append({"id": "search", "name": "Web search"})
    client.put("/api/maps/shop", json={"map": data}, headers=csrf(client))

    changes = client.get("/api/maps/shop/diff", params={"from": 1, "to": 3}).json()["changes"]
    kinds = sorted(change["kind"] for change in changes)
    assert kinds == ["stage_renamed", "touchpoint_added"]
    assert any("renamed from 'Awareness'" in change["text"] for change in changes)
    to_current = client.get("/api/maps/shop/diff", params={"from": 3}).json()["changes"]
    assert to_current == []

    old = client.get("/api/maps/shop/versions/1").json()
    assert old["number"] == 1
    assert old["map"]["stages"][0]["name"] == "Awareness"
    assert "name: Awareness" in old["content"]

    restored = client.post("/api/maps/shop/versions/1/restore", headers=csrf(client))
    assert restored.status_code == 200
    assert restored.json()["version"] == 4
    journey = workspace.load_map("shop")
    assert journey.stages[0].name == "Awareness"
    assert [tp.id for tp in journey.stages[0].touchpoints] == ["ads", "friend"]
    history = client.get("/api/maps/shop/versions").json()["versions"]
    assert history[0]["message"] == "restored version 1"
    assert client.get("/api/maps/shop/diff", params={"from": 1}).json()["changes"] == []

    assert client.get("/api/maps/shop/versions/99").status_code == 404
    assert (
        client.post("/api/maps/shop/versions/99/restore", headers=csrf(client)).status_code == 404
    )
    assert client.get("/api/maps/shop/diff", params={"from": 0}).status_code == 422


def test_create_from_a_template_in_a_language(client: TestClient, workspace: Workspace) -> None:
    headers = csrf(client)
    response = client.post(
        "/api/maps",
        json={"template": "b2c-ecommerce", "id": "tenis", "language": "pt-BR"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    assert response.json()["edit_url"] == "/maps/tenis/edit"
    journey = workspace.load_map("tenis")
    assert journey.id == "tenis"
    assert journey.language == "pt-BR"
    assert journey.title == "Compra de tênis de corrida on-line"
    assert client.get("/api/maps/tenis/versions").json()["versions"][0]["number"] == 1

    again = client.post(
        "/api/maps", json={"template": "b2c-ecommerce", "id": "tenis"}, headers=headers
    )
    assert again.status_code == 409
    unknown = client.post("/api/maps", json={"template": "nope", "id": "x1"}, headers=headers)
    assert unknown.status_code == 422
    assert "available" in unknown.json()["error"]["message"]
    bad_id = client.post(
        "/api/maps", json={"template": "b2b-saas", "id": "../etc"}, headers=headers
    )
    assert bad_id.status_code == 422
    assert not (workspace.root / "etc.yaml").exists()
    titled = client.post(
        "/api/maps",
        json={"template": "b2b-saas", "id": "saas", "language": "es", "title": XSS},
        headers=headers,
    )
    assert titled.status_code == 201
    assert workspace.load_map("saas").title == XSS
    page = client.get("/maps/saas/edit")
    assert XSS not in page.text  # escaped in the page


VALID_UPLOAD = b"id: up\ntitle: Uploaded\nstages:\n  - id: a\n    name: A\n    touchpoints:\n      - id: b\n        name: B\n"


JSON_UPLOAD = {
    "title": "J",
    "stages": [{"id": "a", "name": "A", "touchpoints": [{"id": "b", "name": "B"}]}],
}


def test_import_an_uploaded_file(client: TestClient, workspace: Workspace) -> None:
    headers = csrf(client)
    ok = client.post("/api/maps/import", files={"file": ("m.yaml", VALID_UPLOAD)}, headers=headers)
    assert ok.status_code == 201, ok.text
    assert workspace.load_map("up").title == "Uploaded"
    renamed = client.post(
        "/api/maps/import",
        files={"file": ("m.json", json.dumps({**JSON_UPLOAD, "id": "x"}).encode())},
        data={"id": "from-json"},
        headers=headers,
    )
    assert renamed.status_code == 201
    assert workspace.load_map("from-json").title == "J"

    broken = VALID_UPLOAD.replace(b"name: B", b"name: B\n        emotion: {score: 9}")
    bad = client.post("/api/maps/import", files={"file": ("m.yaml", broken)}, headers=headers)
    assert bad.status_code == 422
    assert [p["path"] for p in bad.json()["problems"]] == ["stages[0].touchpoints[0].emotion.score"]
    huge = b"# " + b"x" * (MAX_MAP_BYTES + 10)
    too_big = client.post("/api/maps/import", files={"file": ("m.yaml", huge)}, headers=headers)
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "too_large"
    not_text = client.post(
        "/api/maps/import", files={"file": ("m.yaml", b"\xff\xfe\x00")}, headers=headers
    )
    assert not_text.status_code == 422


def test_validate_shows_problems_with_the_data_read(client: TestClient) -> None:
    headers = csrf(client)
    text = VALID_UPLOAD.decode().replace("name: B", "name: B\n        emotion: {score: 9}")
    checked = client.post("/api/maps/shop/validate", json={"text": text}, headers=headers).json()
    assert checked["valid"] is False
    assert checked["problems"][0]["path"] == "stages[0].touchpoints[0].emotion.score"
    assert checked["map"]["stages"][0]["touchpoints"][0]["emotion"]["score"] == 9
    good = client.post(
        "/api/maps/shop/validate", json={"map": current(client)["map"]}, headers=headers
    ).json()
    assert good == {"valid": True, "problems": [], "map": current(client)["map"]}
    syntax = client.post("/api/maps/shop/validate", json={"text": "a: [\n"}, headers=headers).json()
    assert syntax["valid"] is False
    assert "not valid YAML" in syntax["problems"][0]["message"]
    empty = client.post("/api/maps/shop/validate", json={}, headers=headers)
    assert empty.status_code == 422


def test_delete_keeps_the_history(client: TestClient, workspace: Workspace) -> None:
    headers = csrf(client)
    assert client.delete("/api/maps/shop", headers=headers).status_code == 204
    assert workspace.map_files() == []
    assert client.get("/api/maps/shop").status_code == 404
    assert client.delete("/api/maps/shop", headers=headers).status_code == 404
    versions = client.get("/api/maps/shop/versions").json()["versions"]
    assert [v["number"] for v in versions] == [1]
    assert client.get("/api/maps/nope/versions").status_code == 404


def test_comments_pinned_to_cells(client_as: Clients) -> None:
    viewer, editor = client_as("viewer"), client_as("editor")
    cell = "stage:awareness/touchpoint:ads/lane:actions"
    added = viewer.post(
        "/api/maps/shop/comments",
        json={"cell": cell, "body": "  Is this true?  "},
        headers=csrf(viewer),
    )
    assert added.status_code == 201
    comment = added.json()
    assert (comment["cell"], comment["body"], comment["author"], comment["resolved"]) == (
        cell,
        "Is this true?",
        "viewer@example.com",
        False,
    )
    editor.post(
        "/api/maps/shop/comments", json={"cell": "map", "body": "Second"}, headers=csrf(editor)
    )
    listed = editor.get("/api/maps/shop/comments").json()["comments"]
    assert [c["body"] for c in listed] == ["Is this true?", "Second"]

    # Only editors resolve.
    path = f"/api/maps/shop/comments/{comment['id']}/resolve"
    assert viewer.post(path, headers=csrf(viewer)).status_code == 403
    resolved = editor.post(path, headers=csrf(editor)).json()
    assert resolved["resolved"] is True
    assert resolved["resolved_by"] == "editor@example.com"
    still_open = editor.get("/api/maps/shop/comments", params={"resolved": "false"}).json()
    assert [c["body"] for c in still_open["comments"]] == ["Second"]
    assert (
        editor.post("/api/maps/shop/comments/999/resolve", headers=csrf(editor)).status_code == 404
    )

    for bad in ({"cell": "stages[0]", "body": "x"}, {"cell": "map", "body": "   "}):
        refused = editor.post("/api/maps/shop/comments", json=bad, headers=csrf(editor))
        assert refused.status_code == 422
    too_long = editor.post(
        "/api/maps/shop/comments", json={"cell": "map", "body": "x" * 4001}, headers=csrf(editor)
    )
    assert too_long.status_code == 422


EVENTS_CSV = """\
user,ts,name,channel
ana,2026-01-01T10:00:00,page_view,web
ana,2026-01-01T10:05:00,purchase,web
bo,2026-01-02T09:00:00,page_view,app
bo,2026-01-02T09:10:00,purchase,app
bo,2026-01-03T09:10:00,purchase,app
cy,2026-01-04T12:00:00,chat_started,phone
"""


@pytest.fixture
def loaded(workspace: Workspace, tmp_path: Path) -> Workspace:
    source = tmp_path / "events.csv"
    source.write_text(EVENTS_CSV)
    workspace.load(
        source, ColumnMapping(customer="user", time="ts", event="name", channel="channel")
    )
    return workspace


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ({"names": ["purchase"]}, (3, 2, [("purchase", 3)])),
        ({"names": ["purchase"], "channels": ["web"]}, (1, 1, [("purchase", 1)])),
        ({"where": "channel = 'app'"}, (3, 1, [("purchase", 2), ("page_view", 1)])),
        ({"names": ["nothing"]}, (0, 0, [])),
        (
            {"where": "event != 'zzz'"},
            (6, 3, [("page_view", 2), ("purchase", 3), ("chat_started", 1)]),
        ),
    ],
)
def test_binding_preview_counts_events_and_customers(
    client: TestClient, loaded: Workspace, events: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    response = client.post(
        "/api/maps/shop/binding-preview", json={"events": events}, headers=csrf(client)
    )
    assert response.status_code == 200, response.text
    found = response.json()
    # By hand from EVENTS_CSV.
    assert (found["events"], found["customers"]) == expected[:2]
    assert (found["total_events"], found["total_customers"]) == (6, 3)
    top = [(row["event"], row["events"]) for row in found["top_events"]]
    assert sorted(top) == sorted(expected[2])
    assert [count for _, count in top] == sorted((count for _, count in top), reverse=True)


def test_binding_preview_explains_bad_rules(client: TestClient, loaded: Workspace) -> None:
    for events, pattern in (
        ({"where": "value >"}, r"expected a value"),
        ({"where": "nosuchfield = 1"}, r"nosuchfield"),
        ({"names": ["purchase"], "colour": 1}, r"colour"),
        ({}, r"at least one of names, channels or where"),
    ):
        response = client.post(
            "/api/maps/shop/binding-preview", json={"events": events}, headers=csrf(client)
        )
        assert response.status_code == 422, (events, response.text)
        assert response.json()["error"]["code"] == "invalid_rule"
        assert re.search(pattern, response.json()["error"]["message"])


def test_editor_page_and_gallery(client_as: Clients) -> None:
    editor = client_as("editor")
    page = editor.get("/maps/shop/edit?lang=pt")
    assert page.status_code == 200
    assert '<script type="module" src="/static/editor/main.js' in page.text
    # No inline script: only the JSON messages block, which a browser does not run.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert [attrs for attrs, body in scripts if body.strip()] == [
        ' type="application/json" id="editor-messages"'
    ]
    messages = json.loads(
        re.search(r'id="editor-messages">(.*?)</script>', page.text, re.S).group(1)
    )  # type: ignore[union-attr]
    assert messages["save" if "save" in messages else "saved"].startswith("Salvo")
    assert messages["lane.actions"]
    for asset in (
        "/static/editor/main.js",
        "/static/editor/editor.js",
        "/static/editor/panels.js",
        "/static/editor/api.js",
        "/static/editor/editor.css",
    ):
        assert editor.get(asset).status_code == 200, asset

    gallery = editor.get("/maps/new")
    assert gallery.status_code == 200
    assert gallery.text.count('class="gallery-card') == 4
    assert gallery.text.count('class="jn-map') >= 4
    created = editor.post(
        "/maps/new",
        data={
            "template": "support-experience",
            "id": "help",
            "language": "es",
            "csrf_token": csrf_of(gallery.text),
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    assert created.headers["location"] == "/maps/help/edit"
    bad = editor.post(
        "/maps/new",
        data={
            "template": "support-experience",
            "id": "no way",
            "csrf_token": csrf_of(gallery.text),
        },
    )
    assert bad.status_code == 422
    assert "não é um id de mapa" in bad.text  # the language chosen with ?lang=pt

    # The map page links to the editor for editors only.
    assert 'href="/maps/shop/edit"' in editor.get("/maps/shop").text
    assert 'href="/maps/shop/edit"' not in client_as("viewer").get("/maps/shop").text


def test_living_overlay_measures_the_saved_map(client: TestClient, loaded: Workspace) -> None:
    unbound = client.get("/api/maps/shop/living")
    assert unbound.status_code == 422
    assert "bound to events" in unbound.json()["error"]["message"]
    data = current(client)["map"]
    data["stages"][0]["touchpoints"][0]["events"] = {"names": ["page_view"]}
    data["stages"][1]["touchpoints"][0]["events"] = {"names": ["purchase"]}
    client.put("/api/maps/shop", json={"map": data}, headers=csrf(client))

    living = client.get("/api/maps/shop/living").json()
    assert (living["total_customers"], living["total_events"]) == (3, 6)
    by_id = living["touchpoints"]
    # By hand: page_view by ana and bo, purchase by ana and bo; the friend's tip unbound.
    assert (by_id["ads"]["customers"], by_id["checkout"]["customers"]) == (2, 2)
    assert by_id["ads"]["reach"] == pytest.approx(2 / 3)
    assert by_id["friend"]["customers"] == 0
    assert by_id["ads"]["evidence"] == "measured"

    # Measured once per design and data version: the same answer from the cache, a new
    # measure when the map's bindings change.
    first = client.get("/api/maps/shop/living")
    assert first.headers["X-Jornada-Cache"] == "hit"
    assert first.json() == living
    data["stages"][1]["touchpoints"][0]["events"] = {"names": ["gift_card"]}  # nobody
    client.put("/api/maps/shop", json={"map": data}, headers=csrf(client))
    changed = client.get("/api/maps/shop/living")
    assert changed.headers["X-Jornada-Cache"] == "miss"
    assert changed.json()["touchpoints"]["checkout"]["customers"] == 0
    assert changed.json()["touchpoints"]["ads"]["customers"] == 2


@pytest.mark.slow
def test_png_and_pdf_exports(client: TestClient) -> None:
    pdf = client.get("/maps/shop/export/pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert 'filename="shop.pdf"' in pdf.headers["content-disposition"]
    png = client.get("/maps/shop/export/png")
    assert png.content.startswith(b"\x89PNG")
    assert client.get("/maps/shop/export/gif").status_code == 404
    assert client.get("/maps/nope/export/pdf").status_code == 404


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/api/maps/shop/versions/{big}"),
        ("POST", "/api/maps/shop/versions/{big}/restore"),
        ("GET", "/api/maps/shop/diff?from={big}"),
        ("GET", "/api/maps/shop/diff?from=1&to={big}"),
        ("POST", "/api/maps/shop/comments/{big}/resolve"),
        ("GET", "/api/maps/shop/versions/0"),
    ],
)
def test_ids_out_of_range_are_refused_not_a_server_error(
    client: TestClient, method: str, url: str
) -> None:
    """A version or comment number past 64 bits used to overflow in SQLite (a 500)."""
    response = client.request(method, url.format(big=2**63), headers=csrf(client))
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_input"
