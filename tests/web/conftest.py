"""Fixtures of the web tests: a real workspace in tmp_path, an in-process client, a live server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from jornada.model import Emotion, Journey, PainPoint, Persona, Stage, Touchpoint
from jornada.web import create_app
from jornada.workspace import Workspace

XSS = "<script>alert(1)</script>"


def small_journey(
    *, map_id: str = "shop", title: str = "Buying shoes online", touchpoint: str = "Online ads"
) -> Journey:
    """A small valid map: two stages, three touchpoints."""
    return Journey(
        id=map_id,
        title=title,
        description="Ana finds, buys and receives a pair of running shoes.",
        goal="Get the right shoes quickly and without surprises.",
        status="live",
        owner="CX team",
        tags=["ecommerce"],
        personas=[Persona(id="ana", name="Ana", role="Runner")],
        stages=[
            Stage(
                id="awareness",
                name="Awareness",
                touchpoints=[
                    Touchpoint(
                        id="ads",
                        name=touchpoint,
                        channel="ads",
                        actions=["Sees an ad"],
                        emotion=Emotion(score=1, label="curious"),
                    ),
                    Touchpoint(id="friend", name="A friend's tip", directness="indirect"),
                ],
            ),
            Stage(
                id="purchase",
                name="Purchase",
                touchpoints=[
                    Touchpoint(
                        id="checkout",
                        name="Checkout",
                        channel="web",
                        emotion=Emotion(score=-1, label="anxious"),
                        pain_points=[PainPoint(text="Shipping cost shown late", severity=4)],
                    )
                ],
            ),
        ],
    )


BROKEN_MAP = """\
id: broken
title: A broken map
stages:
  - id: awareness
    name: Awareness
    touchpoints:
      - id: ads
        name: Ads
        emotion:
          score: 7
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A workspace with one valid map (``shop``)."""
    ws = Workspace.init(tmp_path / "ws", name="Acme CX")
    ws.save_map(small_journey())
    return ws


@pytest.fixture
def client(workspace: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(workspace)) as test_client:
        yield test_client


@pytest.fixture
def live_server(workspace: Workspace) -> Iterator[str]:
    """A real uvicorn server on a free loopback port, in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(workspace), log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
