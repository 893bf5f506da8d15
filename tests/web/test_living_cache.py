"""The editor's living-map cache on a real server: one entry per map design and data
version, and a load drops the entries of the older data (not left for the LRU bound)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI

from jornada.accounts import AppState
from jornada.events.load import ColumnMapping
from jornada.model import Journey
from jornada.web import create_app
from jornada.workspace import Workspace
from tests.web.conftest import (
    add_member,
    csrf_of,
    email_of,
    serving,
    sign_in,
    small_journey,
)

HEADER = "user,ts,name,via\n"
FIRST = """\
u1,2026-01-01T10:00:00,view,web
u1,2026-01-01T10:09:00,purchase,web
u2,2026-01-02T09:00:00,view,app
"""
MORE = """\
u3,2026-01-04T09:00:00,view,web
u3,2026-01-04T09:02:00,purchase,web
"""


def bound_journey(map_id: str) -> Journey:
    """The conftest's small map, its ads bound to views and its checkout to purchases."""
    data = small_journey(map_id=map_id).model_dump()
    data["stages"][0]["touchpoints"][0]["events"] = {"names": ["view"]}
    data["stages"][1]["touchpoints"][0]["events"] = {"names": ["purchase"]}
    return Journey.model_validate(data)


@pytest.fixture
def served(workspace: Workspace, state: AppState, tmp_path: Path) -> Iterator[tuple[str, FastAPI]]:
    """The app on a real uvicorn server (as ``live_server``), with events loaded and two
    bound maps; yields the base URL and the app (to look into its cache)."""
    source = tmp_path / "first.csv"
    source.write_text(HEADER + FIRST)
    workspace.load(source, ColumnMapping(customer="user", time="ts", event="name", channel="via"))
    workspace.save_map(bound_journey("shop"))
    workspace.save_map(bound_journey("store"))
    add_member(state, workspace, "editor")
    app = create_app(workspace, state=state)
    with serving(app) as url:
        yield url, app


def load_through_the_app(http: httpx.Client, body: str) -> dict[str, Any]:
    """Upload ``body`` (CSV rows) as a load, wait for it to finish (the saved maps
    measured after it too) and return the job."""
    response = http.post(
        "/api/loads",
        params={"filename": "more.csv", "customer": "user", "time": "ts", "event": "name"},
        content=(HEADER + body).encode(),
        headers={
            "Content-Type": "application/octet-stream",
            "X-CSRF-Token": csrf_of(http.get("/loads").text),
        },
    )
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = http.get(response.json()["status_url"]).json()
        if job["status"] in ("done", "failed") and not job["measuring"]:
            assert job["status"] == "done", job
            return cast(dict[str, Any], job)
        time.sleep(0.05)
    raise AssertionError("the load did not finish in 30 s")


def test_a_load_drops_the_living_maps_of_older_data(served: tuple[str, FastAPI]) -> None:
    url, app = served
    with httpx.Client(base_url=url, timeout=60) as http:
        assert sign_in(http, email_of("editor")).status_code == 303
        shop = http.get("/api/maps/shop/living")
        assert shop.headers["X-Jornada-Cache"] == "miss"
        assert shop.json()["touchpoints"]["checkout"]["customers"] == 1
        assert http.get("/api/maps/shop/living").headers["X-Jornada-Cache"] == "hit"
        assert http.get("/api/maps/store/living").headers["X-Jornada-Cache"] == "miss"
        cache = app.state.living_cache
        assert len(cache) == 2  # one per map, of the first data version

        job = load_through_the_app(http, MORE)
        # The load dropped both maps' entries of the older data (the editor's cache, not
        # only the dashboards' that the load route owns), then measured both maps on the
        # new data: the next views are hits with the new numbers.
        assert sorted(job["maps_measured"]) == ["shop", "store"]
        assert len(cache) == 2  # the new version's two (the older two would make four)
        again = http.get("/api/maps/shop/living")
        assert again.headers["X-Jornada-Cache"] == "hit"
        assert again.json()["touchpoints"]["checkout"]["customers"] == 2
        assert http.get("/api/maps/store/living").json() == again.json() | {"id": "store"}
        assert len(cache) == 2
