"""Who may do what: every route of the app × anonymous / viewer / editor / admin / a user
of another workspace, with the exact status each one gets.

The rules below are written by hand, independently of the guards in the code. Every
route of ``app.routes`` must have a rule (a new route without one fails
:func:`test_every_route_has_a_rule`), and every rule must name a real route.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount

from jornada.accounts import AppState, workspace_key
from jornada.accounts.history import add_comment, list_comments, save_version
from jornada.accounts.sessions import start_session
from jornada.accounts.tokens import create_token
from jornada.accounts.users import add_user, find_user, list_users, set_language, set_role
from jornada.model.io import dumps_journey
from jornada.web import create_app
from jornada.web.app import api_routes
from jornada.web.auth import SESSION_COOKIE, Access, route_access
from jornada.workspace import Workspace
from tests.web.conftest import PASSWORD, add_member, csrf_of, small_journey

WHO = ("anonymous", "outsider", "viewer", "editor", "admin")
TARGET = "target@example.com"  # the member the admin routes act on


@dataclass(frozen=True)
class Call:
    """One request of the matrix: ``path`` (filled by ``prepare``) and a form, a JSON
    body (its strings filled by ``prepare`` too) or files to upload."""

    path: str
    form: dict[str, str] | None = None
    json: dict[str, Any] | None = None
    files: dict[str, tuple[str, bytes]] | None = None


def target_role(world: dict[str, Any]) -> str | None:
    found = find_user(world["state"], TARGET, workspace_key(world["workspace"]))
    assert found is not None
    return found.role


Effect = Callable[[dict[str, Any], bool], None]
"""Checks what a call changed, given whether it was allowed."""


def target_becomes(role: str | None) -> Effect:
    def check(world: dict[str, Any], allowed: bool) -> None:
        assert target_role(world) == (role if allowed else "viewer")

    return check


def own_language_becomes(language: str) -> Effect:
    """Only the caller's stored language changed (``_prepare`` cleared them all)."""

    def check(world: dict[str, Any], allowed: bool) -> None:
        stored = {user.email: user.language for user in list_users(world["state"])}
        caller = f"{world['who']}@example.com"
        assert stored == {
            email: language if allowed and email == caller else None for email in stored
        }

    return check


@dataclass(frozen=True)
class Rule:
    access: Access
    ok: int  # the status of a request that is allowed
    calls: tuple[Call, ...]
    # Status for some identities when it differs from ``ok`` (e.g. /login when signed in).
    special: dict[str, int] = field(default_factory=dict)
    effect: Effect | None = None


# (method, route path) -> rule. GET rules cover HEAD too.
RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/health"): Rule(Access.PUBLIC, 200, (Call("/health"),)),
    ("GET", "/openapi.json"): Rule(Access.PUBLIC, 200, (Call("/openapi.json"),)),
    ("GET", "/docs"): Rule(Access.PUBLIC, 200, (Call("/docs"),)),
    ("GET", "/static/map.css"): Rule(Access.PUBLIC, 200, (Call("/static/map.css"),)),
    ("GET", "/static"): Rule(Access.PUBLIC, 200, (Call("/static/app.css"),)),
    ("GET", "/login"): Rule(
        Access.PUBLIC,
        200,
        (Call("/login"),),
        special={who: 303 for who in WHO if who != "anonymous"},
    ),
    # Wrong password for an unknown account: nobody signs in, everybody gets a 400 page.
    ("POST", "/login"): Rule(
        Access.PUBLIC,
        400,
        (Call("/login", {"email": "nobody@example.com", "password": "wrong-password"}),),
    ),
    ("POST", "/logout"): Rule(Access.PUBLIC, 303, (Call("/logout", {}),)),
    ("GET", "/account"): Rule(Access.SIGNED_IN, 200, (Call("/account"),)),
    ("GET", "/account.json"): Rule(Access.SIGNED_IN, 200, (Call("/account.json"),)),
    # A wrong current password: refused with 400, nothing changes.
    ("POST", "/account/password"): Rule(
        Access.SIGNED_IN,
        400,
        (Call("/account/password", {"current_password": "nope", "new_password": "x" * 12}),),
    ),
    ("POST", "/account/tokens"): Rule(
        Access.SIGNED_IN, 201, (Call("/account/tokens", {"name": "matrix"}),)
    ),
    ("POST", "/account/tokens/{token_id}/revoke"): Rule(
        Access.SIGNED_IN, 303, (Call("/account/tokens/{own_token}/revoke", {}),)
    ),
    # Anyone signed in, whatever their role, sets their own language and nobody else's.
    ("POST", "/account/language"): Rule(
        Access.SIGNED_IN,
        303,
        (Call("/account/language", {"language": "pt", "next": "/"}),),
        effect=own_language_becomes("pt-BR"),
    ),
    ("PUT", "/api/account/language"): Rule(
        Access.SIGNED_IN,
        200,
        (Call("/api/account/language", json={"language": "es"}),),
        effect=own_language_becomes("es"),
    ),
    ("GET", "/members"): Rule(Access.ADMIN, 200, (Call("/members"),)),
    ("GET", "/members.json"): Rule(Access.ADMIN, 200, (Call("/members.json"),)),
    ("POST", "/members"): Rule(
        Access.ADMIN,
        303,
        (Call("/members", {"email": TARGET, "role": "editor"}),),
        effect=target_becomes("editor"),
    ),
    ("POST", "/members/{user_id}/role"): Rule(
        Access.ADMIN,
        303,
        (Call("/members/{target}/role", {"role": "admin"}),),
        effect=target_becomes("admin"),
    ),
    ("POST", "/members/{user_id}/remove"): Rule(
        Access.ADMIN,
        303,
        (Call("/members/{target}/remove", {}),),
        effect=target_becomes(None),
    ),
    ("GET", "/"): Rule(Access.VIEWER, 200, (Call("/"), Call("/?lang=pt"))),
    ("GET", "/maps.json"): Rule(Access.VIEWER, 200, (Call("/maps.json"),)),
    ("GET", "/maps"): Rule(Access.VIEWER, 307, (Call("/maps"),)),
    ("GET", "/maps/{name}"): Rule(
        Access.VIEWER,
        200,
        (Call("/maps/shop"), Call("/maps/shop.json"), Call("/maps/shop.svg")),
    ),
}


def _fresh_exists(world: dict[str, Any]) -> bool:
    return any(path.stem == world["fresh"] for path in world["workspace"].map_files())


def fresh_title_becomes(title: str) -> Effect:
    def check(world: dict[str, Any], allowed: bool) -> None:
        journey = world["workspace"].load_map(world["fresh"])
        assert (journey.title == title) == allowed

    return check


def fresh_deleted(world: dict[str, Any], allowed: bool) -> None:
    assert _fresh_exists(world) != allowed


def new_map_created(world: dict[str, Any], allowed: bool) -> None:
    assert any(path.stem == world["new"] for path in world["workspace"].map_files()) == allowed


def comment_resolved(world: dict[str, Any], allowed: bool) -> None:
    comments = list_comments(world["state"], workspace_key(world["workspace"]), "shop")
    found = next(comment for comment in comments if comment.id == world["comment"])
    assert found.resolved == allowed


SMALL_MAP = "id: shop\ntitle: T\nstages:\n  - id: a\n    name: A\n    touchpoints:\n      - id: b\n        name: B\n"

RULES.update(
    {
        ("GET", "/api/templates"): Rule(Access.VIEWER, 200, (Call("/api/templates"),)),
        ("GET", "/api/maps/{map_id}"): Rule(Access.VIEWER, 200, (Call("/api/maps/shop"),)),
        ("PUT", "/api/maps/{map_id}"): Rule(
            Access.EDITOR,
            200,
            (
                Call(
                    "/api/maps/{fresh}",
                    json={
                        "map": {
                            "id": "{fresh}",
                            "title": "Edited",
                            "stages": [
                                {"id": "a", "name": "A", "touchpoints": [{"id": "b", "name": "B"}]}
                            ],
                        }
                    },
                ),
            ),
            effect=fresh_title_becomes("Edited"),
        ),
        ("DELETE", "/api/maps/{map_id}"): Rule(
            Access.EDITOR, 204, (Call("/api/maps/{fresh}"),), effect=fresh_deleted
        ),
        ("POST", "/api/maps"): Rule(
            Access.EDITOR,
            201,
            (Call("/api/maps", json={"template": "b2b-saas", "id": "{new}", "language": "es"}),),
            effect=new_map_created,
        ),
        ("POST", "/api/maps/import"): Rule(
            Access.EDITOR,
            201,
            (
                Call(
                    "/api/maps/import",
                    form={"id": "{new}"},
                    files={"file": ("m.yaml", SMALL_MAP.encode())},
                ),
            ),
            effect=new_map_created,
        ),
        ("POST", "/api/maps/{map_id}/validate"): Rule(
            Access.VIEWER, 200, (Call("/api/maps/shop/validate", json={"text": SMALL_MAP}),)
        ),
        ("GET", "/api/maps/{map_id}/versions"): Rule(
            Access.VIEWER, 200, (Call("/api/maps/shop/versions"),)
        ),
        ("GET", "/api/maps/{map_id}/versions/{number}"): Rule(
            Access.VIEWER, 200, (Call("/api/maps/shop/versions/1"),)
        ),
        ("POST", "/api/maps/{map_id}/versions/{number}/restore"): Rule(
            Access.EDITOR, 200, (Call("/api/maps/shop/versions/1/restore", json={}),)
        ),
        ("GET", "/api/maps/{map_id}/diff"): Rule(
            Access.VIEWER, 200, (Call("/api/maps/shop/diff?from=1"),)
        ),
        ("GET", "/api/maps/{map_id}/comments"): Rule(
            Access.VIEWER, 200, (Call("/api/maps/shop/comments"),)
        ),
        # Commenting does not change the map: viewers may comment.
        ("POST", "/api/maps/{map_id}/comments"): Rule(
            Access.VIEWER,
            201,
            (Call("/api/maps/shop/comments", json={"cell": "map", "body": "matrix"}),),
        ),
        ("POST", "/api/maps/{map_id}/comments/{comment_id}/resolve"): Rule(
            Access.EDITOR,
            200,
            (Call("/api/maps/shop/comments/{comment}/resolve", json={}),),
            effect=comment_resolved,
        ),
        ("POST", "/api/maps/{map_id}/binding-preview"): Rule(
            Access.VIEWER,
            200,
            (Call("/api/maps/shop/binding-preview", json={"events": {"names": ["purchase"]}}),),
        ),
        # The map has no bound touchpoint: a member learns that (422), nobody else does.
        ("GET", "/api/maps/{map_id}/living"): Rule(
            Access.VIEWER, 422, (Call("/api/maps/shop/living"),)
        ),
        # A format that does not exist (printing is tested in test_editor_api): members
        # get a 404 after the guard, others the guard's answer.
        ("GET", "/maps/{map_id}/export/{fmt}"): Rule(
            Access.VIEWER, 404, (Call("/maps/shop/export/gif"),)
        ),
        ("GET", "/maps/{map_id}/edit"): Rule(Access.EDITOR, 200, (Call("/maps/shop/edit"),)),
        ("GET", "/maps/new"): Rule(Access.EDITOR, 200, (Call("/maps/new"),)),
        ("POST", "/maps/new"): Rule(
            Access.EDITOR,
            303,
            (Call("/maps/new", {"template": "b2b-saas", "id": "{new}"}),),
            effect=new_map_created,
        ),
    }
)

# Dashboards, the analysis API and loads. The matrix workspace has no events: an allowed
# analysis request gets 409 (no events yet), which still proves the guard let it through.
_ANALYSIS_CALLS = {
    "funnel": "funnel?steps=purchase",
    "transitions": "transitions",
    "sankey": "sankey",
    "variants": "variants",
    "step-matrix": "step-matrix",
    "retention": "retention",
    "lifecycle": "lifecycle",
    "time-to-convert": "time-to-convert?conversion=purchase",
    "touches": "touches?conversion=purchase",
    "stages": "stages?map=shop",
    "stalled": "stalled?map=shop",
    "attribution": "attribution?conversion=purchase",
    "kpis": "kpis",
    "clv": "clv",
    "churn": "churn",
}
RULES.update(
    {
        ("GET", f"/api/analyses/{name}"): Rule(
            Access.VIEWER, 409, (Call(f"/api/analyses/{call}"), Call(f"/api/analyses/{call}"))
        )
        for name, call in _ANALYSIS_CALLS.items()
    }
)
RULES.update(
    {
        ("GET", "/dashboards"): Rule(Access.VIEWER, 200, (Call("/dashboards"),)),
        ("GET", "/dashboards.json"): Rule(Access.VIEWER, 200, (Call("/dashboards.json"),)),
        ("GET", "/dashboards/{name}"): Rule(
            Access.VIEWER, 200, (Call("/dashboards/funnel"), Call("/dashboards/stalled.json"))
        ),
        ("GET", "/static/vendor/plotly.js"): Rule(
            Access.PUBLIC, 200, (Call("/static/vendor/plotly.js"),)
        ),
        ("GET", "/loads"): Rule(Access.VIEWER, 200, (Call("/loads"), Call("/loads?page=2"))),
        ("GET", "/loads.json"): Rule(Access.VIEWER, 200, (Call("/loads.json"),)),
        ("GET", "/api/loads"): Rule(Access.VIEWER, 200, (Call("/api/loads"),)),
        ("GET", "/api/loads/quarantine"): Rule(
            Access.VIEWER, 200, (Call("/api/loads/quarantine?page=1"),)
        ),
        ("GET", "/api/loads/{job}"): Rule(Access.VIEWER, 404, (Call("/api/loads/no-such-job"),)),
        # Not an event file: refused before anything is written or loaded (415); only
        # editors and admins get that far.
        ("POST", "/api/loads"): Rule(
            Access.EDITOR,
            415,
            (
                Call(
                    "/api/loads",
                    form={"customer": "c", "time": "t", "event": "e"},
                    files={"file": ("events.exe", b"c,t,e\n")},
                ),
            ),
        ),
    }
)

ALLOWED: dict[Access, set[str]] = {
    Access.PUBLIC: set(WHO),
    Access.SIGNED_IN: {"outsider", "viewer", "editor", "admin"},
    Access.VIEWER: {"viewer", "editor", "admin"},
    Access.EDITOR: {"editor", "admin"},
    Access.ADMIN: {"admin"},
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app serves, included routers walked into; HEAD folds
    into GET."""
    found: set[tuple[str, str]] = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            for method in context.methods or ():
                found.add(("GET" if method == "HEAD" else method, context.path))
        elif isinstance(route, Mount):
            found.add(("GET", context.path))
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")
    return found


def expected_status(rule: Rule, who: str, method: str, is_json: bool) -> int:
    if who in rule.special:
        return rule.special[who]
    if who in ALLOWED[rule.access]:
        return rule.ok
    if who == "anonymous":
        # Pages send a browser to the sign-in form; JSON and changes get a 401.
        return 303 if method in {"GET", "HEAD"} and not is_json else 401
    if who == "outsider":
        return 404  # a user without a role here learns nothing about the workspace
    return 403


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One workspace, one app, and a user of each kind (created once: hashing is slow)."""
    root = tmp_path_factory.mktemp("matrix")
    workspace = Workspace.init(root / "ws", name="Secret Workspace Name")
    workspace.save_map(small_journey())
    state = AppState.open(f"sqlite:///{root / 'app.sqlite'}")
    ids = {who: add_member(state, workspace, who) for who in WHO if who != "anonymous"}
    # Version 1 of the map, for the history routes.
    save_version(
        state, workspace_key(workspace), "shop", dumps_journey(small_journey()), author=None
    )
    app = create_app(workspace, state=state)
    try:
        yield {"workspace": workspace, "state": state, "app": app, "ids": ids}
    finally:
        state.close()


def _client(world: dict[str, Any], who: str) -> tuple[TestClient, str]:
    """A client for ``who`` with a fresh session (so /logout cannot spoil the next call),
    and the CSRF token its forms carry."""
    client = TestClient(world["app"])
    if who == "anonymous":
        return client, csrf_of(client.get("/login").text)
    session = start_session(world["state"], world["ids"][who])
    client.cookies.set(SESSION_COOKIE, session.secret)
    return client, session.csrf_token


def _prepare(world: dict[str, Any], who: str, path: str) -> str:
    state: AppState = world["state"]
    key = workspace_key(world["workspace"])
    # The target member exists, as a viewer, before each call.
    target = add_user(state, key, TARGET, role="viewer", password=PASSWORD).user.id
    set_role(state, key, TARGET, "viewer")
    # Nobody has chosen a language before each call.
    world["who"] = who
    for user in list_users(state):
        set_language(state, user.id, None)
    values: dict[str, object] = {"target": target}
    # A map of its own for each call that changes or deletes one, and an unused id.
    world["counter"] = world.get("counter", 0) + 1
    world["fresh"] = values["fresh"] = f"fresh-{world['counter']}"
    world["workspace"].save_map(small_journey(map_id=world["fresh"]))
    world["new"] = values["new"] = f"new-{world['counter']}"
    world["comment"] = values["comment"] = add_comment(
        state, key, "shop", "map", "to resolve", author=None
    ).id
    if "{own_token}" in path:
        owner = world["ids"].get(who) or world["ids"]["viewer"]
        values["own_token"] = create_token(state, owner, "to revoke").info.id
    return path.format(**values)


def test_every_route_has_a_rule(world: dict[str, Any]) -> None:
    served = app_routes(world["app"])
    assert served - set(RULES) == set(), "routes without a rule in this test"
    assert set(RULES) - served == set(), "rules for routes that do not exist"


def test_declared_guards_match_the_rules(world: dict[str, Any]) -> None:
    routes = api_routes(world["app"])
    assert len(routes) > 10
    for route in routes:
        for method in route.methods:
            rule = RULES[("GET" if method == "HEAD" else method, route.path)]
            assert route_access(route) == [rule.access], route.path


@pytest.mark.parametrize("route", sorted(RULES), ids=lambda route: f"{route[0]} {route[1]}")
def test_matrix(world: dict[str, Any], route: tuple[str, str]) -> None:
    method, _ = route
    rule = RULES[route]
    methods = ("GET", "HEAD") if method == "GET" else (method,)
    failures = []
    for call in rule.calls:
        for who in WHO:
            for verb in methods:
                client, csrf = _client(world, who)
                path = _prepare(world, who, call.path)
                if call.json is not None:
                    response = client.request(
                        verb,
                        path,
                        json=_filled(call.json, world),
                        headers={"X-CSRF-Token": csrf},
                        follow_redirects=False,
                    )
                elif call.form is not None:
                    response = client.request(
                        verb,
                        path,
                        data={**_filled(call.form, world), "csrf_token": csrf},
                        files=call.files,
                        follow_redirects=False,
                    )
                else:
                    headers = {} if verb in {"GET", "HEAD"} else {"X-CSRF-Token": csrf}
                    response = client.request(verb, path, headers=headers, follow_redirects=False)
                is_json = path.split("?")[0].endswith(".json") or path.startswith("/api/")
                want = expected_status(rule, who, verb, is_json)
                if response.status_code != want:
                    failures.append(f"{who} {verb} {path}: {response.status_code}, want {want}")
                    continue
                _check_body(response, who, want, verb, is_json)
                if rule.effect is not None:
                    rule.effect(world, who in ALLOWED[rule.access])
    assert failures == []


def _filled(value: Any, world: dict[str, Any]) -> Any:
    """``value`` with ``{fresh}``/``{new}`` in its strings replaced by this call's ids."""
    if isinstance(value, str):
        return value.replace("{fresh}", world["fresh"]).replace("{new}", world["new"])
    if isinstance(value, dict):
        return {key: _filled(item, world) for key, item in value.items()}
    if isinstance(value, list):
        return [_filled(item, world) for item in value]
    return value


def _check_body(response: Any, who: str, status: int, verb: str, is_json: bool) -> None:
    text = response.text
    if status == 303 and who == "anonymous" and verb in {"GET", "HEAD"}:
        location = response.headers["location"]
        assert location.startswith("/login?next=") or location == "/login", location
    if status in {401, 403, 404} and who in {"anonymous", "outsider"}:
        # Nothing of the workspace reaches someone without a role on it.
        assert "Secret Workspace Name" not in text
        assert "Buying shoes online" not in text
    if status >= 400 and is_json and verb != "HEAD":
        error = response.json()["error"]
        assert error["status"] == status
        assert error["code"]
        assert error["message"]
    if status == 401 and is_json:
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_outsider_gets_the_same_answer_for_existing_and_missing_maps(
    world: dict[str, Any],
) -> None:
    """No way to tell, without a role, whether a map exists."""
    client, _ = _client(world, "outsider")
    for existing, missing in (("/maps/shop", "/maps/nope"), ("/maps/shop.json", "/maps/nope.json")):
        a, b = client.get(existing), client.get(missing)
        # The pages differ only in their own URL (the language links point back to it).
        assert a.status_code == b.status_code == 404
        assert a.text.replace("/maps/shop", "/maps/nope") == b.text


def test_a_route_without_a_guard_stops_the_app(world: dict[str, Any]) -> None:
    app = create_app(world["workspace"], state=world["state"])

    @app.get("/unguarded")
    def unguarded() -> dict[str, str]:
        return {}

    from jornada.web.app import _check_every_route_is_guarded

    with pytest.raises(RuntimeError, match="/unguarded must declare exactly one guard"):
        _check_every_route_is_guarded(app)


@pytest.mark.parametrize(
    ("who", "path", "csrf_ok"),
    [
        ("editor", "/api/maps", False),  # refused by the CSRF check, which parsed the form
        ("viewer", "/api/maps", True),  # the CSRF check passes, the guard refuses
        ("editor", "/logout", True),  # a route without Form parameters
    ],
)
def test_a_form_read_for_its_csrf_token_is_closed(
    client_as: Callable[[str], TestClient], who: str, path: str, csrf_ok: bool
) -> None:
    """The spooled files of a multipart form are closed however the request ends (the
    fuzzer found them left to the garbage collector)."""
    client = client_as(who)
    token = csrf_of(client.get("/account").text) if csrf_ok else "wrong"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = client.post(
            path,
            data={"csrf_token": token},
            files={"file": ("a.csv", b"a,b\n1,2\n")},
            follow_redirects=False,
        )
        assert response.status_code == (303 if path == "/logout" else 403)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
