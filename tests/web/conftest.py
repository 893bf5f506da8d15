"""Fixtures of the web tests: a real workspace in tmp_path, its app state (users and
roles), in-process clients signed in with each role, and a live server.

``client`` is signed in as an editor of the workspace; ``client_as("viewer")`` gives a
client with another role (``"outsider"``: a user with a role on another workspace
only; ``"anonymous"``: nobody signed in). :func:`sign_in` goes through the real form.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from jornada.accounts import AppState, state_url, workspace_key
from jornada.accounts.sessions import start_session
from jornada.accounts.users import add_user
from jornada.model import Emotion, Journey, PainPoint, Persona, Stage, Touchpoint
from jornada.web import create_app
from jornada.web.auth import SESSION_COOKIE
from jornada.workspace import Workspace

XSS = "<script>alert(1)</script>"
PASSWORD = "correct-horse-42"
"""The password of every user the fixtures create."""
ROLES = ("viewer", "editor", "admin")


def email_of(who: str) -> str:
    return f"{who}@example.com"


def csrf_of(html: str) -> str:
    """The CSRF token of the first form (or the page's meta tag) in ``html``."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(
        r'<meta name="csrf-token" content="([^"]+)"', html
    )
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def sign_in(
    client: TestClient | httpx.Client, email: str, password: str = PASSWORD, next_url: str = "/"
) -> httpx.Response:
    """Sign in through the real form: fetch it (CSRF cookie and token), then post it."""
    page = client.get("/login", params={"next": next_url})
    assert page.status_code == 200, page.text
    return client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "next": next_url,
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )


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
def state(workspace: Workspace) -> Iterator[AppState]:
    """The workspace's app state, where the app keeps it by default (``app.sqlite``)."""
    opened = AppState.open(state_url(workspace.root))
    try:
        yield opened
    finally:
        opened.close()


def add_member(state: AppState, workspace: Workspace, who: str) -> int:
    """Create ``who@example.com`` with the role ``who`` (or, for ``outsider``, a role on
    another workspace only); returns the user id."""
    key = workspace_key(workspace) if who in ROLES else "another-workspace"
    role = who if who in ROLES else "admin"
    added = add_user(state, key, email_of(who), role=role, password=PASSWORD)  # type: ignore[arg-type]
    return added.user.id


@contextmanager
def signed_in_client(workspace: Workspace, who: str = "editor") -> Iterator[TestClient]:
    """A client of a new app on ``workspace``, signed in as ``who`` (for tests that make
    their own workspace)."""
    state = AppState.open(state_url(workspace.root))
    try:
        with TestClient(create_app(workspace, state=state)) as client:
            session = start_session(state, add_member(state, workspace, who))
            client.cookies.set(SESSION_COOKIE, session.secret)
            yield client
    finally:
        state.close()


@pytest.fixture
def client_as(workspace: Workspace, state: AppState) -> Iterator[Callable[[str], TestClient]]:
    """``client_as(who)``: an in-process client signed in as ``who`` (a role, ``outsider``
    or ``anonymous``). The session is started directly (the form has its own tests)."""
    app = create_app(workspace, state=state)
    opened: list[TestClient] = []

    def make(who: str) -> TestClient:
        client = TestClient(app)
        client.__enter__()
        opened.append(client)
        if who != "anonymous":
            session = start_session(state, add_member(state, workspace, who))
            client.cookies.set(SESSION_COOKIE, session.secret)
        return client

    try:
        yield make
    finally:
        for client in opened:
            client.__exit__(None, None, None)


@pytest.fixture
def client(client_as: Callable[[str], TestClient]) -> TestClient:
    """Signed in as an editor of the workspace."""
    return client_as("editor")


@pytest.fixture
def anonymous(client_as: Callable[[str], TestClient]) -> TestClient:
    return client_as("anonymous")


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` on a real uvicorn server on a free loopback port, in a thread; yields
    its base URL and stops the server on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none")
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


@pytest.fixture
def live_server(workspace: Workspace, state: AppState) -> Iterator[str]:
    """A real uvicorn server (:func:`serving`); yields its base URL.
    ``editor@example.com`` (password :data:`PASSWORD`) is an editor of its workspace."""
    add_member(state, workspace, "editor")
    with serving(create_app(workspace, state=state)) as url:
        yield url
