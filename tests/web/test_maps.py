"""The map list, map pages, their JSON twins and downloads, in process (TestClient)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from jornada.model.io import dumps_journey
from jornada.workspace import Workspace
from tests.web.conftest import BROKEN_MAP, XSS, signed_in_client, small_journey


def test_health(client: TestClient) -> None:
    from jornada import __version__

    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


def test_index_lists_maps(client: TestClient, workspace: Workspace) -> None:
    workspace.save_map(small_journey(map_id="onboarding", title="Onboarding a new client"))
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Buying shoes online" in page.text
    assert "Onboarding a new client" in page.text
    assert 'href="/maps/shop"' in page.text
    assert "Acme CX" in page.text  # the workspace name in the header
    assert 'href="/maps.json"' in page.text

    data = client.get("/maps.json").json()
    assert data["workspace"] == {"name": "Acme CX", "language": "en"}
    assert data["count"] == 2
    assert data["invalid"] == 0
    shop = next(item for item in data["maps"] if item["id"] == "shop")
    assert shop == {
        "id": "shop",
        "file": "shop.yaml",
        "valid": True,
        "title": "Buying shoes online",
        "kind": "journey",
        "status": "live",
        "language": "en",
        "stages": 2,
        "touchpoints": 3,
        "url": "/maps/shop",
        "json_url": "/maps/shop.json",
        "problems": [],
    }


def test_maps_redirects_to_the_list(client: TestClient) -> None:
    response = client.get("/maps", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/"


def test_empty_workspace_shows_how_to_create_a_map(tmp_path: Path) -> None:
    workspace = Workspace.init(tmp_path / "empty", name="Empty")
    with signed_in_client(workspace) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert "jornada map new" in page.text
        assert client.get("/maps.json").json()["maps"] == []


def test_map_page(client: TestClient) -> None:
    page = client.get("/maps/shop")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Buying shoes online</h1>" in text
    assert "Ana finds, buys and receives" in text
    assert "Get the right shoes quickly" in text
    assert "Awareness" in text
    assert "Checkout" in text
    for fmt in ("yaml", "svg", "mmd", "html", "json"):
        assert f'href="/maps/shop.{fmt}"' in text
    assert 'href="/static/map.css' in text
    assert 'href="/static/app.css' in text


def test_stylesheets_are_served(client: TestClient) -> None:
    for url in ("/static/map.css", "/static/app.css"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith("text/css")
        assert "{" in response.text


def test_map_json_is_the_map_data(client: TestClient, workspace: Workspace) -> None:
    data = client.get("/maps/shop.json").json()
    assert data["id"] == "shop"
    assert data["valid"] is True
    assert data["problems"] == []
    assert data["map"] == json.loads(dumps_journey(workspace.load_map("shop"), format="json"))
    assert data["summary"]["title"] == "Buying shoes online"
    assert data["downloads"]["svg"] == "/maps/shop.svg"


def test_downloads(client: TestClient, workspace: Workspace) -> None:
    yaml_download = client.get("/maps/shop.yaml")
    assert yaml_download.status_code == 200
    assert yaml_download.headers["content-disposition"] == 'attachment; filename="shop.yaml"'
    assert yaml.safe_load(yaml_download.text)["title"] == "Buying shoes online"
    assert yaml_download.text == dumps_journey(workspace.load_map("shop"))

    svg = client.get("/maps/shop.svg")
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in svg.text

    mermaid = client.get("/maps/shop.mmd")
    assert mermaid.status_code == 200
    assert mermaid.headers["content-type"].startswith("text/plain")
    assert "Awareness" in mermaid.text

    html = client.get("/maps/shop.html")
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert html.headers["content-disposition"] == 'attachment; filename="shop.html"'
    assert "Buying shoes online" in html.text
    assert "/static/" not in html.text  # standalone: nothing fetched from the app


def test_ids_may_contain_dots(client: TestClient, workspace: Workspace) -> None:
    workspace.save_map(small_journey(map_id="shop.v2", title="Shop, second take"))
    assert "Shop, second take" in client.get("/maps/shop.v2").text
    assert client.get("/maps/shop.v2.json").json()["id"] == "shop.v2"
    assert client.get("/maps/shop.json").json()["id"] == "shop"


def test_unknown_map_is_a_friendly_404(client: TestClient) -> None:
    page = client.get("/maps/nope")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "nope" in page.text
    assert 'href="/"' in page.text

    for url in ("/maps/nope.json", "/no/such/page.json"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.headers["content-type"] == "application/json"
        error = response.json()["error"]
        assert error["status"] == 404
        assert isinstance(error["message"], str)
        assert error["message"]

    assert client.get("/maps/nope.svg").status_code == 404
    other = client.get("/no/such/page")
    assert other.status_code == 404
    assert other.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "url",
    [
        "/maps/..%2F..%2Fjornada.toml",
        "/maps/..%2Fjornada.toml.json",
        "/maps/%2E%2E",
        "/maps/-leading-dash.json",
        "/maps/has%20space",
        "/maps/%3Cscript%3Ealert(1)%3C%2Fscript%3E.json",
        "/maps/" + "x" * 65,
    ],
)
def test_malformed_map_ids_are_rejected(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 404
    assert "format_version" not in response.text  # jornada.toml is never served
    assert "<script>alert" not in response.text
    if url.endswith(".json"):
        assert response.json()["error"]["status"] == 404


def test_invalid_map_file_is_listed_with_its_problems(
    client: TestClient, workspace: Workspace
) -> None:
    (workspace.maps_dir / "broken.yaml").write_text(BROKEN_MAP, encoding="utf-8")
    (workspace.maps_dir / "not yaml.yaml").write_text("a: [1,\n", encoding="utf-8")
    root = str(workspace.root)

    index = client.get("/")
    assert index.status_code == 200
    assert "Buying shoes online" in index.text  # the valid map is still there
    assert "broken.yaml:10: stages[0].touchpoints[0].emotion.score:" in index.text
    assert 'href="/maps/broken"' in index.text
    assert "not yaml.yaml" in index.text  # listed, though its name is not an id
    assert root not in index.text

    listing = client.get("/maps.json")
    assert root not in listing.text
    data = listing.json()
    assert data["invalid"] == 2
    broken = next(item for item in data["maps"] if item["id"] == "broken")
    assert broken["valid"] is False
    assert broken["title"] == "broken.yaml"
    problem = broken["problems"][0]
    assert problem["file"] == "broken.yaml"
    assert problem["line"] == 10
    assert problem["path"] == "stages[0].touchpoints[0].emotion.score"
    unnamed = next(item for item in data["maps"] if item["file"] == "not yaml.yaml")
    assert unnamed["url"] is None
    assert any("map id" in p["message"] for p in unnamed["problems"])

    page = client.get("/maps/broken")
    assert page.status_code == 200
    assert "broken.yaml:10: stages[0].touchpoints[0].emotion.score:" in page.text
    assert root not in page.text

    twin = client.get("/maps/broken.json")
    assert twin.status_code == 200
    assert twin.json()["map"] is None
    assert twin.json()["problems"][0]["line"] == 10
    assert root not in twin.text

    download = client.get("/maps/broken.svg")
    assert download.status_code == 422
    assert root not in download.text


def test_script_in_map_text_shows_as_text(tmp_path: Path) -> None:
    workspace = Workspace.init(tmp_path / "ws", name=XSS)
    workspace.save_map(small_journey(map_id="xss", title=XSS, touchpoint=XSS))
    # A broken file whose problem names an unknown field called <script>...
    (workspace.maps_dir / "bad.yaml").write_text(f"id: bad\ntitle: Bad\n'{XSS}': 1\n")
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    with signed_in_client(workspace) as client:
        urls = ("/", "/maps/xss", "/maps/xss.html", "/maps/xss.svg", "/maps/bad", "/maps/nope")
        for url in urls:
            response = client.get(url)
            assert XSS not in response.text, url
            assert escaped in response.text, url
        assert f"bad.yaml:3: {escaped}: unknown field" in client.get("/maps/bad").text
        assert client.get("/maps/xss.json").json()["map"]["title"] == XSS


SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/maps.json",
        "/maps/shop",
        "/maps/shop.json",
        "/maps/shop.svg",
        "/maps/shop.html",
        "/health",
        "/static/app.css",
        "/static/map.css",
        "/maps/nope",
        "/maps/nope.json",
    ],
)
def test_security_headers(client: TestClient, url: str) -> None:
    response = client.get(url)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (url, name)


def test_pages_have_no_inline_script(client: TestClient) -> None:
    for url in ("/", "/maps/shop", "/maps/nope"):
        text = client.get(url).text
        for tag in re.findall(r"<script\b[^>]*>", text, flags=re.IGNORECASE):
            assert "src=" in tag, (url, tag)
        assert not re.search(r"\son[a-z]+\s*=", text, flags=re.IGNORECASE), url


def test_unexpected_error_reveals_nothing(
    client: TestClient,
    workspace: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from jornada.web.routes import maps

    secret = f"boom in {workspace.root}"

    def explode(*args: object, **kwargs: object) -> str:
        raise RuntimeError(secret)

    monkeypatch.setattr(maps.render, "render_map_fragment", explode)
    with caplog.at_level("ERROR", logger="jornada.web"):
        response = client.get("/maps/shop")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "boom" not in response.text
    assert str(workspace.root) not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value
    assert "boom" in caplog.text  # the details go to the server log

    monkeypatch.setattr(maps, "map_data", explode)
    response = client.get("/maps/shop.json")
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "status": 500,
            "code": "internal",
            "message": response.json()["error"]["message"],
        }
    }
    assert "boom" not in response.text


def test_api_docs_are_served_by_the_app(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    assert "/api/analyses/funnel" in schema["paths"]
    assert "/api/maps/{map_id}" in schema["paths"]
    # listed once, as GET: HEAD twins would repeat the operation ids
    assert all("head" not in item for item in schema["paths"].values())
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/api/analyses/funnel" in page.text
    assert 'src="http' not in page.text  # nothing loaded from elsewhere
    assert "<script" not in page.text.lower()
    assert client.get("/redoc").status_code == 404


def test_head_requests(client: TestClient) -> None:
    for url in ("/", "/health", "/maps/shop", "/maps/shop.json", "/static/app.css"):
        response = client.head(url)
        assert response.status_code == 200, url
        assert response.content == b""
        assert response.headers["x-frame-options"] == "DENY"
