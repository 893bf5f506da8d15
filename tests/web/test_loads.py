"""Uploading event files: streamed to the workspace, bounded, loaded in the background,
with the history, the quarantine and the cache invalidated by each load."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from jornada.events.load import ColumnMapping
from jornada.model import Journey
from jornada.web.cache import engine_lock
from jornada.web.routes.loads import PER_PAGE, UPLOAD_DIR
from jornada.workspace import Workspace
from tests.web.conftest import csrf_of, small_journey

HEADER = "user,ts,name,via\n"
MAPPING = {"customer": "user", "time": "ts", "event": "name", "channel": "via"}


def events_csv(rows: list[tuple[str, str, str, str]], bad: int = 0) -> bytes:
    """A CSV of ``rows`` (user, ts, name, via), then ``bad`` rows with unreadable times."""
    lines = [",".join(row) for row in rows]
    lines += [f"bad{i},not-a-time,view,web" for i in range(bad)]
    return (HEADER + "\n".join(lines) + "\n").encode()


SHOP = [
    ("u1", "2026-01-01T10:00:00", "view", "web"),
    ("u1", "2026-01-01T10:05:00", "cart", "web"),
    ("u1", "2026-01-01T10:09:00", "purchase", "web"),
    ("u2", "2026-01-02T09:00:00", "view", "app"),
    ("u2", "2026-01-02T09:30:00", "cart", "app"),
    ("u3", "2026-01-03T12:00:00", "view", "web"),
]
MORE = [
    ("u2", "2026-01-04T08:00:00", "purchase", "app"),
    ("u4", "2026-01-04T09:00:00", "view", "web"),
    ("u4", "2026-01-04T09:01:00", "cart", "web"),
    ("u4", "2026-01-04T09:02:00", "purchase", "web"),
]


def csrf(client: TestClient) -> str:
    return csrf_of(client.get("/loads").text)


def upload(client: TestClient, body: bytes, filename: str = "events.csv", **params: str) -> Any:
    return client.post(
        "/api/loads",
        params={"filename": filename, **(params or MAPPING)},
        content=body,
        headers={"Content-Type": "application/octet-stream", "X-CSRF-Token": csrf(client)},
    )


def wait(client: TestClient, response: Any) -> dict[str, Any]:
    """The finished job of an accepted upload (its maps measured too)."""
    assert response.status_code == 202, response.text
    url = response.json()["status_url"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(url).json()
        if job["status"] in ("done", "failed") and not job["measuring"]:
            return job
        time.sleep(0.05)
    raise AssertionError("the load did not finish in 30 s")


def uploads_left(workspace: Workspace) -> list[Path]:
    directory = workspace.root / UPLOAD_DIR
    return sorted(directory.iterdir()) if directory.exists() else []


def test_upload_loads_in_the_background(client: TestClient, workspace: Workspace) -> None:
    job = wait(client, upload(client, events_csv(SHOP, bad=2)))
    assert job["status"] == "done", job
    assert job["steps"][:2] == ["reading", "parsing"]
    assert "resolving identities" in job["steps"]
    assert job["result"] == {
        "source": "events.csv",
        "load_id": 1,
        "rows_read": 8,
        "loaded": 6,
        "duplicates": 0,
        "quarantined": 2,
    }
    assert uploads_left(workspace) == []  # the upload is deleted once loaded
    history = client.get("/api/loads").json()["loads"]
    assert [load["source"] for load in history] == ["events.csv"]
    assert history[0]["mapping"]["customer"] == "user"
    quarantine = client.get("/api/loads/quarantine").json()
    assert quarantine["total"] == 2
    row = quarantine["rows"][0]
    assert row["source"] == "events.csv"
    assert row["column"] == "ts"
    assert row["reason"]
    assert row["row"] is not None
    page = client.get("/loads")
    assert page.status_code == 200
    assert 'aria-current="page">Data' in page.text
    assert "not-a-time" in page.text
    # Re-loading the same file changes nothing: every row is a duplicate or bad again.
    again = wait(client, upload(client, events_csv(SHOP, bad=2)))
    assert again["result"]["loaded"] == 0
    assert again["result"]["duplicates"] == 6


def test_after_a_load_the_saved_maps_are_measured(client: TestClient, workspace: Workspace) -> None:
    data = small_journey().model_dump(mode="json", exclude_none=True)
    data["stages"][0]["touchpoints"][0]["events"] = {"names": ["view"]}
    data["stages"][1]["touchpoints"][0]["events"] = {"names": ["purchase"]}
    workspace.save_map(Journey.model_validate(data))
    workspace.save_map(small_journey(map_id="unbound"))  # cannot be measured: skipped
    job = wait(client, upload(client, events_csv(SHOP)))
    assert job["status"] == "done", job
    assert job["maps_measured"] == ["shop"]
    # The first view of the living map is the measure the load made, from the cache ...
    first = client.get("/api/maps/shop/living")
    assert first.status_code == 200, first.text
    assert first.headers["x-jornada-cache"] == "hit"
    assert first.json()["total_customers"] == 3
    # ... and its tables are kept in the store for the report and the next process.
    with engine_lock(workspace):
        [(kept,)] = workspace.engine.sql("SELECT count(*) FROM kept_tables").fetchall()
    assert kept > 0
    # A new load measures again, on its own data.
    again = wait(client, upload(client, events_csv(MORE), filename="more.csv"))
    assert again["maps_measured"] == ["shop"]
    second = client.get("/api/maps/shop/living")
    assert second.headers["x-jornada-cache"] == "hit"
    assert second.json()["total_customers"] == 4


def test_the_setting_turns_the_measuring_after_a_load_off(
    client: TestClient, workspace: Workspace
) -> None:
    data = small_journey().model_dump(mode="json", exclude_none=True)
    data["stages"][0]["touchpoints"][0]["events"] = {"names": ["view"]}
    workspace.save_map(Journey.model_validate(data))
    workspace.update_settings(bind_maps_after_load=False)
    job = wait(client, upload(client, events_csv(SHOP)))
    assert job["status"] == "done", job
    assert job["maps_measured"] == []
    first = client.get("/api/maps/shop/living")
    assert first.status_code == 200, first.text
    assert first.headers["x-jornada-cache"] == "miss"


def test_a_load_invalidates_cached_results(client: TestClient, workspace: Workspace) -> None:
    wait(client, upload(client, events_csv(SHOP)))
    url = "/api/analyses/funnel?steps=view,cart,purchase"
    first = client.get(url)
    assert first.headers["x-jornada-cache"] == "miss"
    assert [step["paths"] for step in first.json()["steps"]] == [3, 2, 1]
    second = client.get(url)
    assert second.headers["x-jornada-cache"] == "hit"
    assert second.json() == first.json()
    csv = client.get(url + "&format=csv")  # other formats share the cached result
    assert csv.headers["x-jornada-cache"] == "hit"
    # Equal requests written differently share the entry.
    assert (
        client.get("/api/analyses/funnel?steps=view&steps=cart,purchase").headers["x-jornada-cache"]
        == "hit"
    )

    job = wait(client, upload(client, events_csv(MORE), filename="more.csv"))
    assert job["status"] == "done"
    third = client.get(url)
    assert third.headers["x-jornada-cache"] == "miss"
    assert int(third.headers["x-jornada-data-version"]) > int(
        first.headers["x-jornada-data-version"]
    )
    assert [step["paths"] for step in third.json()["steps"]] == [4, 3, 3]


def test_multipart_form_with_a_saved_mapping(client: TestClient, workspace: Workspace) -> None:
    workspace.save_mapping("shop", ColumnMapping(**MAPPING))
    response = client.post(
        "/api/loads",
        data={"mapping": "shop", "csrf_token": csrf(client)},
        files={"file": ("shop.csv", events_csv(SHOP), "text/csv")},
    )
    job = wait(client, response)
    assert job["status"] == "done", job
    assert job["result"]["loaded"] == 6
    assert job["source"] == "shop.csv"


def test_too_large_is_refused_and_nothing_is_kept(client: TestClient, workspace: Workspace) -> None:
    client.app.state.max_upload_bytes = 200  # type: ignore[attr-defined]
    body = events_csv(SHOP * 10)
    assert len(body) > 200
    declared = upload(client, body)
    assert declared.status_code == 413
    error = declared.json()["error"]
    assert error["code"] == "too_large"
    assert "jornada load" in error["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the size is counted as it streams
        for start in range(0, len(body), 64):
            yield body[start : start + 64]

    streamed = client.post(
        "/api/loads",
        params={"filename": "events.csv", **MAPPING},
        content=chunks(),
        headers={"Content-Type": "application/octet-stream", "X-CSRF-Token": csrf(client)},
    )
    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 413
    form = client.post(
        "/api/loads",
        data={**MAPPING, "csrf_token": csrf(client)},
        files={"file": ("events.csv", body, "text/csv")},
    )
    assert form.status_code == 413
    assert uploads_left(workspace) == []
    assert client.get("/api/loads").json()["loads"] == []
    # Under the limit, the same upload goes through.
    client.app.state.max_upload_bytes = 10_000  # type: ignore[attr-defined]
    assert wait(client, upload(client, body))["status"] == "done"


def test_the_client_never_chooses_a_path(client: TestClient, workspace: Workspace) -> None:
    outside = workspace.root.parent / "escaped.csv"
    job = wait(client, upload(client, events_csv(SHOP), filename="../escaped.csv"))
    assert job["status"] == "done"
    assert job["source"] == "escaped.csv"
    assert not outside.exists()
    job = wait(client, upload(client, events_csv(MORE), filename="..\\..\\x\\y.csv"))
    assert job["source"] == "y.csv"
    assert not any(path.name.endswith("y.csv") for path in workspace.root.parent.rglob("*"))
    assert uploads_left(workspace) == []


@pytest.mark.parametrize(
    ("filename", "params", "status", "words"),
    [
        ("events.exe", MAPPING, 415, ".csv"),
        ("events.csv", {"customer": "user"}, 400, "time, event"),
        ("events.csv", {"mapping": "nope"}, 400, "nope"),
        ("events.csv", {**MAPPING, "tz": "Mars/Olympus"}, 202, ""),
    ],
)
def test_bad_uploads(
    client: TestClient,
    workspace: Workspace,
    filename: str,
    params: dict[str, str],
    status: int,
    words: str,
) -> None:
    response = upload(client, events_csv(SHOP), filename, **params)
    assert response.status_code == status, response.text
    if status == 202:  # accepted, then the load itself refuses it, clearly
        job = wait(client, response)
        assert job["status"] == "failed"
        assert "time zone" in job["error"]
        assert str(workspace.root) not in job["error"]
    else:
        assert words in response.json()["error"]["message"]
    assert uploads_left(workspace) == []


def test_a_failed_load_names_the_upload_not_the_server_path(
    client: TestClient, workspace: Workspace
) -> None:
    job = wait(client, upload(client, events_csv(SHOP), customer="who", time="ts", event="name"))
    assert job["status"] == "failed"
    assert "no column 'who'" in job["error"]
    assert "events.csv" in job["error"]
    assert UPLOAD_DIR not in job["error"]
    assert str(workspace.root) not in job["error"]


def test_quarantine_is_paginated(client: TestClient) -> None:
    wait(client, upload(client, events_csv(SHOP, bad=PER_PAGE + 5)))
    first = client.get("/api/loads/quarantine").json()
    second = client.get("/api/loads/quarantine?page=2").json()
    assert first["total"] == PER_PAGE + 5
    assert first["pages"] == 2
    assert len(first["rows"]) == PER_PAGE
    assert len(second["rows"]) == 5
    rows = [row["row"] for row in first["rows"] + second["rows"]]
    assert rows == sorted(rows)
    assert client.get("/api/loads/quarantine?load_id=99").json()["total"] == 0
    page = client.get("/loads?page=2")
    assert "Page 2 of 2" in page.text
    assert client.get("/api/loads/quarantine?page=0").status_code == 422
    # past 64 bits the id used to overflow in DuckDB (a 500)
    too_big = client.get(f"/api/loads/quarantine?load_id={2**63}")
    assert too_big.status_code == 422
    assert too_big.json()["error"]["code"] == "invalid_input"


def test_viewers_see_loads_but_cannot_upload(client_as: Any) -> None:
    viewer = client_as("viewer")
    page = viewer.get("/loads")
    assert page.status_code == 200
    assert 'id="upload-form"' not in page.text
    assert "editor role" in page.text
    response = viewer.post(
        "/api/loads",
        params={"filename": "e.csv", **MAPPING},
        content=events_csv(SHOP),
        headers={"X-CSRF-Token": csrf_of(page.text)},
    )
    assert response.status_code == 403
    assert viewer.get("/api/loads").json()["loads"] == []


def test_cached_results_are_served_while_a_load_holds_the_engine(
    client: TestClient, workspace: Workspace
) -> None:
    """A load holds the engine lock from start to end; cached answers do not wait."""
    wait(client, upload(client, events_csv(SHOP)))
    url = "/api/analyses/funnel?steps=view,cart"
    assert client.get(url).status_code == 200
    holding, release = threading.Event(), threading.Event()

    def load_in_progress() -> None:
        with engine_lock(workspace):
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=load_in_progress)
    thread.start()
    try:
        assert holding.wait(5)
        time.sleep(1.1)  # past the data version's time to live: it cannot be re-read now
        started = time.monotonic()
        response = client.get(url)
        assert time.monotonic() - started < 1
        assert response.headers["x-jornada-cache"] == "hit"
    finally:
        release.set()
        thread.join(10)
