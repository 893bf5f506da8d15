"""The app served by a real uvicorn server over loopback HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from jornada.web import serve
from jornada.workspace import Workspace
from tests.web.conftest import email_of, sign_in


def test_pages_over_http(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=10) as http:
        health = http.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"

        # Not signed in: pages send to the sign-in form, JSON says 401.
        assert http.get("/").headers["location"] == "/login?next=%2F"
        assert http.get("/maps/shop.json").status_code == 401
        signed_in = sign_in(http, email_of("editor"))
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/"

        index = http.get("/")
        assert index.status_code == 200
        assert "Buying shoes online" in index.text
        assert index.headers["x-frame-options"] == "DENY"

        page = http.get("/maps/shop")
        assert page.status_code == 200
        assert "Awareness" in page.text

        assert http.get("/maps/shop.json").json()["id"] == "shop"
        assert http.get("/static/map.css").status_code == 200
        missing = http.get("/maps/nope.json")
        assert missing.status_code == 404
        assert missing.json()["error"]["status"] == 404


def test_loopback_server_rejects_other_host_names(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 must not read the maps."""
    served: dict[str, Any] = {}

    def fake_run(app: FastAPI, *, host: str, port: int) -> None:
        served.update(app=app, host=host, port=port)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    serve(workspace, port=8123)
    assert (served["host"], served["port"]) == ("127.0.0.1", 8123)
    with TestClient(served["app"], base_url="http://127.0.0.1:8123") as client:
        assert client.get("/login").status_code == 200
        assert client.get("/login", headers={"Host": "localhost:8123"}).status_code == 200
        assert client.get("/login", headers={"Host": "[::1]:8123"}).status_code == 200
        assert client.get("/login").status_code == 200
        rebound = client.get("/maps/shop.json", headers={"Host": "evil.example:8123"})
        assert rebound.status_code == 400
        assert "Buying shoes" not in rebound.text
        assert rebound.headers["x-frame-options"] == "DENY"

    serve(workspace, host="0.0.0.0", port=8124)  # a LAN server answers to any name
    with TestClient(served["app"], base_url="http://jornada.lan") as client:
        assert client.get("/login").status_code == 200
