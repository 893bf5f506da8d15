"""Signing in and out, sessions, CSRF, rate limits, API tokens, one's account and the
members page, in process (real app, real app-state database)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from jornada.accounts import AppState, workspace_key
from jornada.accounts.signin import LoginLimits
from jornada.accounts.tokens import create_token
from jornada.accounts.users import find_user
from jornada.i18n import translate
from jornada.web import WebSettings, create_app
from jornada.web.auth import SESSION_COOKIE
from jornada.workspace import Workspace
from tests.web.conftest import PASSWORD, add_member, csrf_of, email_of, sign_in

ClientAs = Callable[[str], TestClient]


def set_cookie(response: object, name: str) -> str:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    found = [header for header in headers if header.startswith(f"{name}=")]
    assert found, f"no Set-Cookie for {name}: {headers}"
    return found[0]


class Clock:
    """A settable "now" for the app state (sessions, tokens, sign-in limits)."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


# --- signing in and out -----------------------------------------------------------------


def test_sign_in_and_out(anonymous: TestClient, state: AppState, workspace: Workspace) -> None:
    add_member(state, workspace, "editor")
    first = anonymous.get("/maps/shop?lang=pt", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/login?next=%2Fmaps%2Fshop%3Flang%3Dpt&lang=pt"
    login_page = anonymous.get(first.headers["location"])
    assert '<html lang="pt-BR">' in login_page.text
    assert 'name="next" value="/maps/shop?lang=pt"' in login_page.text
    assert "Acme CX" not in login_page.text  # the workspace is not shown before signing in

    signed_in = sign_in(anonymous, email_of("editor"), next_url="/maps/shop")
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/maps/shop"
    cookie = set_cookie(signed_in, SESSION_COOKIE)
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see test_cookies_are_secure_over_https
    secret = anonymous.cookies.get(SESSION_COOKIE)
    assert secret

    page = anonymous.get("/maps/shop")
    assert page.status_code == 200
    assert "Acme CX" in page.text
    assert email_of("editor") in page.text
    assert 'action="/logout"' in page.text
    assert '<meta name="csrf-token"' in page.text
    assert find_user(state, email_of("editor")).last_login_at is not None  # type: ignore[union-attr]

    out = anonymous.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["location"] == "/login"
    assert 'jornada_session=""' in set_cookie(out, SESSION_COOKIE)
    # The old session id stops working at once, even if someone kept it.
    with TestClient(anonymous.app) as thief:
        thief.cookies.set(SESSION_COOKIE, secret)
        assert thief.get("/maps/shop.json").status_code == 401


def test_answers_for_a_user_are_not_kept_by_shared_caches(client: TestClient) -> None:
    for url in ("/maps.json", "/maps/shop.svg", "/maps/shop", "/account.json", "/health"):
        assert client.get(url).headers["cache-control"] in {"private, no-cache", "no-store"}, url
    assert "private" not in client.get("/static/app.css").headers.get("cache-control", "")


def test_signed_in_user_skips_the_login_page(client: TestClient) -> None:
    response = client.get("/login?next=/maps/shop", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/maps/shop"


@pytest.mark.parametrize(
    "next_url", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "/logout"]
)
def test_no_redirect_to_another_site(
    anonymous: TestClient, state: AppState, workspace: Workspace, next_url: str
) -> None:
    add_member(state, workspace, "viewer")
    response = sign_in(anonymous, email_of("viewer"), next_url=next_url)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


def test_wrong_password_and_unknown_email_look_the_same(
    anonymous: TestClient, state: AppState, workspace: Workspace
) -> None:
    add_member(state, workspace, "viewer")
    wrong = sign_in(anonymous, email_of("viewer"), "not-the-password")
    unknown = sign_in(anonymous, "nobody@example.com", "not-the-password")
    assert wrong.status_code == unknown.status_code == 400
    message = translate("web.auth.wrong_credentials", "en")
    assert message in wrong.text
    assert message in unknown.text
    assert SESSION_COOKIE not in anonymous.cookies
    empty = anonymous.post(
        "/login",
        data={"email": "", "password": "", "csrf_token": csrf_of(anonymous.get("/login").text)},
    )
    assert empty.status_code == 400
    assert translate("web.auth.missing_credentials", "en") in empty.text


@pytest.mark.slow
def test_sign_in_is_rate_limited_per_account(
    anonymous: TestClient, state: AppState, workspace: Workspace
) -> None:
    clock = Clock()
    state.clock = clock
    add_member(state, workspace, "viewer")
    for _ in range(5):
        assert sign_in(anonymous, email_of("viewer"), "guess-guess").status_code == 400
    # Locked: even the right password is refused, without being checked.
    locked = sign_in(anonymous, email_of("viewer"))
    assert locked.status_code == 429
    assert locked.headers["retry-after"] == str(15 * 60 + 1)
    assert translate("web.auth.rate_limited", "en").format(minutes=16) in locked.text  # 901 s
    assert SESSION_COOKIE not in anonymous.cookies
    # Another account from the same address is not locked.
    add_member(state, workspace, "editor")
    assert sign_in(anonymous, email_of("editor")).status_code == 303
    # When the oldest failure leaves the 15-minute window, the account opens again.
    clock.now += dt.timedelta(minutes=15)
    assert sign_in(anonymous, email_of("viewer")).status_code == 429
    clock.now += dt.timedelta(seconds=1)
    assert sign_in(anonymous, email_of("viewer")).status_code == 303


def test_sign_in_is_rate_limited_per_address(workspace: Workspace, state: AppState) -> None:
    limits = LoginLimits(per_account=100, per_address=3)
    app = create_app(workspace, state=state, settings=WebSettings(login_limits=limits))
    add_member(state, workspace, "viewer")
    with TestClient(app) as client:
        for number in range(3):
            assert sign_in(client, f"guess{number}@example.com", "x" * 10).status_code == 400
        response = sign_in(client, email_of("viewer"))
        assert response.status_code == 429
        assert int(response.headers["retry-after"]) > 0


def test_sessions_end_when_idle(client_as: ClientAs, state: AppState) -> None:
    clock = Clock()
    state.clock = clock
    client = client_as("viewer")
    assert client.get("/maps.json").status_code == 200
    clock.now += dt.timedelta(days=2)
    assert client.get("/maps.json").status_code == 200  # used: the idle timer restarts
    clock.now += dt.timedelta(days=3, minutes=1)
    assert client.get("/maps.json").status_code == 401
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_cookies_are_secure_over_https(workspace: Workspace, state: AppState) -> None:
    add_member(state, workspace, "viewer")
    with TestClient(create_app(workspace, state=state), base_url="https://testserver") as tls:
        page = tls.get("/login")
        assert "Secure" in set_cookie(page, "jornada_csrf")
        assert "Secure" in set_cookie(sign_in(tls, email_of("viewer")), SESSION_COOKIE)
    behind_proxy = create_app(workspace, state=state, settings=WebSettings(behind_tls=True))
    with TestClient(behind_proxy) as proxied:  # plain HTTP from the proxy
        page = proxied.get("/login")
        assert "Secure" in set_cookie(page, "jornada_csrf")
        token = csrf_of(page.text)
        proxied.cookies.set("jornada_csrf", token)  # what the browser, on HTTPS, sends back
        signed_in = proxied.post(
            "/login",
            data={"email": email_of("viewer"), "password": PASSWORD, "csrf_token": token},
            headers={"Origin": "https://testserver"},  # the browser's origin is the proxy's
            follow_redirects=False,
        )
        assert signed_in.status_code == 303
        assert "Secure" in set_cookie(signed_in, SESSION_COOKIE)


# --- CSRF -----------------------------------------------------------------------------


def _csrf_error(response: object) -> None:
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert translate("web.auth.csrf_failed", "en") in response.text  # type: ignore[attr-defined]


def test_login_form_needs_its_csrf_token(
    anonymous: TestClient, state: AppState, workspace: Workspace
) -> None:
    add_member(state, workspace, "viewer")
    form = {"email": email_of("viewer"), "password": PASSWORD}
    anonymous.get("/login")  # sets the CSRF cookie
    _csrf_error(anonymous.post("/login", data=form))
    _csrf_error(anonymous.post("/login", data={**form, "csrf_token": "x" * 43}))
    # A token from another browser (another cookie) does not fit this one.
    with TestClient(anonymous.app) as other:
        foreign = csrf_of(other.get("/login").text)
    _csrf_error(anonymous.post("/login", data={**form, "csrf_token": foreign}))
    assert SESSION_COOKIE not in anonymous.cookies


def test_state_changes_need_the_session_token(client_as: ClientAs, state: AppState) -> None:
    admin = client_as("admin")
    token = csrf_of(admin.get("/members").text)
    form = {"email": "new@example.com", "role": "viewer"}
    _csrf_error(admin.post("/members", data=form))
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    _csrf_error(admin.post("/members", data={**form, "csrf_token": altered}))
    _csrf_error(admin.post("/logout", data={}))
    assert find_user(state, "new@example.com") is None
    assert admin.get("/members.json").status_code == 200  # still signed in
    # The token in a header does as well as in the form (for scripts in the page).
    ok = admin.post("/members", data=form, headers={"X-CSRF-Token": token})
    assert ok.status_code == 201
    # JSON clients get the error as JSON.
    response = admin.post(
        "/account/tokens", data={"name": "x"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
    ],
)
def test_cross_site_requests_are_refused(
    client_as: ClientAs, state: AppState, headers: dict[str, str]
) -> None:
    admin = client_as("admin")
    token = csrf_of(admin.get("/members").text)
    form = {"email": "new@example.com", "role": "viewer", "csrf_token": token}
    _csrf_error(admin.post("/members", data=form, headers=headers))
    assert find_user(state, "new@example.com") is None
    same_site = admin.post("/members", data=form, headers={"Origin": "http://testserver"})
    assert same_site.status_code == 201


# --- API tokens -------------------------------------------------------------------------


def test_api_tokens_from_the_account_page(client_as: ClientAs, state: AppState) -> None:
    editor = client_as("editor")
    page = editor.get("/account")
    made = editor.post(
        "/account/tokens",
        data={"name": "nightly export", "read_only": "true", "csrf_token": csrf_of(page.text)},
    )
    assert made.status_code == 201
    assert made.headers["cache-control"] == "no-store"
    secret = re.search(r"(jrn_[A-Za-z0-9_-]{20,})", made.text)
    assert secret is not None
    listed = editor.get("/account.json").json()
    assert [token["name"] for token in listed["tokens"]] == ["nightly export"]
    assert listed["tokens"][0]["read_only"] is True
    assert secret.group(1) not in editor.get("/account").text  # shown once only

    with TestClient(editor.app) as script:
        bearer = {"Authorization": f"Bearer {secret.group(1)}"}
        assert script.get("/maps.json", headers=bearer).json()["count"] == 1
        assert script.get("/maps/shop", headers=bearer).status_code == 200
        # Read-only: a change is refused (no CSRF token needed to say so).
        refused = script.post("/account/tokens", data={"name": "more"}, headers=bearer)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"

    token_id = listed["tokens"][0]["id"]
    revoke = editor.post(
        f"/account/tokens/{token_id}/revoke",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert revoke.status_code == 303
    with TestClient(editor.app) as script:
        gone = script.get("/maps.json", headers={"Authorization": f"Bearer {secret.group(1)}"})
        assert gone.status_code == 401
        assert gone.json()["error"]["code"] == "invalid_token"
    again = editor.post(
        f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf_of(page.text)}
    )
    assert again.status_code == 404
    # An id past the database's integers is a bad request, not a server error.
    huge = editor.post(f"/account/tokens/{2**63}/revoke", data={"csrf_token": csrf_of(page.text)})
    assert huge.status_code == 422


def test_bearer_tokens(
    client_as: ClientAs, anonymous: TestClient, state: AppState, workspace: Workspace
) -> None:
    clock = Clock()
    state.clock = clock
    key = workspace_key(workspace)
    admin_id = add_member(state, workspace, "admin")
    full = create_token(state, admin_id, "admin script").secret
    short = create_token(state, admin_id, "short", expires_in=dt.timedelta(days=1)).secret
    bearer = {"Authorization": f"Bearer {full}"}

    # A full token needs no CSRF token: browsers never send this header cross-site.
    added = anonymous.post(
        "/members", data={"email": "bot@example.com", "role": "viewer"}, headers=bearer
    )
    assert added.status_code == 201
    assert find_user(state, "bot@example.com", key).role == "viewer"  # type: ignore[union-attr]
    # ... but it cannot change the account (password, more tokens).
    more = anonymous.post("/account/tokens", data={"name": "x"}, headers=bearer)
    assert more.status_code == 403
    assert more.json()["error"]["message"] == translate("web.auth.session_needed", "en")

    # A wrong token is a 401, even with a valid session cookie beside it.
    viewer = client_as("viewer")
    wrong = viewer.get("/maps/shop", headers={"Authorization": "Bearer jrn_nope"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert wrong.headers["content-type"] == "application/json"
    assert viewer.get("/maps/shop").status_code == 200

    assert (
        anonymous.get("/maps.json", headers={"Authorization": f"Bearer {short}"}).status_code == 200
    )
    clock.now += dt.timedelta(days=1)
    expired = anonymous.get("/maps.json", headers={"Authorization": f"Bearer {short}"})
    assert expired.status_code == 401


def test_secrets_are_stored_as_hashes_only(client_as: ClientAs, state: AppState) -> None:
    from sqlalchemy import text

    editor = client_as("editor")
    page = editor.get("/account")
    made = editor.post("/account/tokens", data={"name": "t", "csrf_token": csrf_of(page.text)})
    secret = re.search(r"(jrn_[A-Za-z0-9_-]{20,})", made.text)
    assert secret is not None
    session = editor.cookies[SESSION_COOKIE]
    with state.engine.connect() as connection:
        dump = repr(connection.execute(text("SELECT * FROM api_tokens")).all())
        dump += repr(connection.execute(text("SELECT * FROM login_sessions")).all())
        dump += repr(connection.execute(text("SELECT * FROM users")).all())
    assert secret.group(1) not in dump
    assert session not in dump
    assert PASSWORD not in dump
    assert "$argon2id$" in dump


# --- one's account ----------------------------------------------------------------------


def test_change_password(client_as: ClientAs, state: AppState, workspace: Workspace) -> None:
    editor = client_as("editor")
    with TestClient(editor.app) as elsewhere:  # another browser of the same user
        assert sign_in(elsewhere, email_of("editor")).status_code == 303
        token = csrf_of(editor.get("/account").text)

        wrong = editor.post(
            "/account/password",
            data={
                "current_password": "nope",
                "new_password": "brand-new-pass",
                "csrf_token": token,
            },
        )
        assert wrong.status_code == 400
        assert translate("web.account.wrong_password", "en") in wrong.text
        short = editor.post(
            "/account/password",
            data={"current_password": PASSWORD, "new_password": "short", "csrf_token": token},
        )
        assert short.status_code == 400

        changed = editor.post(
            "/account/password",
            data={
                "current_password": PASSWORD,
                "new_password": "brand-new-pass",
                "csrf_token": token,
            },
        )
        assert changed.status_code == 200
        assert translate("web.account.password_changed", "en") in changed.text
        assert editor.get("/maps.json").status_code == 200  # this session goes on
        assert elsewhere.get("/maps.json").status_code == 401  # the others end

    with TestClient(editor.app) as fresh:
        assert sign_in(fresh, email_of("editor")).status_code == 400
        assert sign_in(fresh, email_of("editor"), "brand-new-pass").status_code == 303


def test_account_page_for_a_user_without_a_role(client_as: ClientAs) -> None:
    outsider = client_as("outsider")
    home = outsider.get("/")
    assert home.status_code == 404
    assert translate("web.auth.no_access", "en") in home.text
    assert "Acme CX" not in home.text
    assert 'href="/account"' in home.text
    account = outsider.get("/account")
    assert account.status_code == 200
    assert translate("web.account.no_role", "en") in account.text
    assert "Acme CX" not in account.text
    data = outsider.get("/account.json").json()
    assert data["role"] is None
    assert data["workspace"] is None
    assert data["user"]["email"] == email_of("outsider")


# --- members (admins) -------------------------------------------------------------------


def test_members_page(client_as: ClientAs, state: AppState, workspace: Workspace) -> None:
    admin = client_as("admin")
    key = workspace_key(workspace)
    page = admin.get("/members")
    token = csrf_of(page.text)
    assert email_of("admin") in page.text

    added = admin.post(
        "/members",
        data={"email": " New.Person@Example.com ", "role": "editor", "csrf_token": token},
    )
    assert added.status_code == 201
    assert added.headers["cache-control"] == "no-store"
    password = re.search(r'<pre class="command secret"><code>([^<]+)</code>', added.text)
    assert password is not None
    newcomer = find_user(state, "new.person@example.com", key)
    assert newcomer is not None
    assert newcomer.role == "editor"
    with TestClient(admin.app) as theirs:
        assert sign_in(theirs, "new.person@example.com", password.group(1)).status_code == 303

    role = admin.post(
        f"/members/{newcomer.id}/role",
        data={"role": "viewer", "csrf_token": token},
        follow_redirects=False,
    )
    assert role.status_code == 303
    assert find_user(state, newcomer.email, key).role == "viewer"  # type: ignore[union-attr]
    members = admin.get("/members.json").json()
    assert {m["email"]: m["role"] for m in members["members"]} == {
        email_of("admin"): "admin",
        "new.person@example.com": "viewer",
    }

    removed = admin.post(
        f"/members/{newcomer.id}/remove", data={"csrf_token": token}, follow_redirects=False
    )
    assert removed.status_code == 303
    assert find_user(state, newcomer.email, key).role is None  # type: ignore[union-attr]
    assert (
        admin.post(f"/members/{newcomer.id}/remove", data={"csrf_token": token}).status_code == 404
    )

    admin_id = members["members"][0]["id"]
    last = admin.post(f"/members/{admin_id}/role", data={"role": "editor", "csrf_token": token})
    assert last.status_code == 409
    assert translate("web.members.last_admin", "en") in last.text
    assert admin.post(f"/members/{admin_id}/remove", data={"csrf_token": token}).status_code == 409
    for action in ("role", "remove"):  # past 64 bits the id used to overflow in SQLite (a 500)
        too_big = admin.post(f"/members/{2**63}/{action}", data={"csrf_token": token})
        assert too_big.status_code == 422

    bad = admin.post(
        "/members", data={"email": "not-an-email", "role": "viewer", "csrf_token": token}
    )
    assert bad.status_code == 400
    assert 'value="not-an-email"' in bad.text  # the form keeps what was typed
    assert (
        admin.post(
            "/members", data={"email": "a@b.c", "role": "owner", "csrf_token": token}
        ).status_code
        == 400
    )


# --- API errors --------------------------------------------------------------------------


def test_api_errors_are_json_with_a_code(client_as: ClientAs, anonymous: TestClient) -> None:
    missing = anonymous.get("/maps/shop.json")
    assert missing.status_code == 401
    assert missing.json()["error"] == {
        "status": 401,
        "code": "not_signed_in",
        "message": translate("web.auth.not_signed_in", "en"),
    }
    viewer = client_as("viewer")
    forbidden = viewer.get("/members.json")
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "forbidden"
    method = viewer.post("/maps.json")
    assert method.status_code == 405
    assert method.json()["error"]["code"] == "method_not_allowed"

    admin = client_as("admin")
    token = csrf_of(admin.get("/members").text)
    bad = admin.post(
        "/members/not-a-number/role",
        data={"role": "viewer", "csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["code"] == "invalid_input"
    assert "user_id" in error["message"]
    assert "Traceback" not in bad.text
    assert "/work" not in bad.text
    assert "site-packages" not in bad.text


def test_a_big_form_must_send_its_token_in_the_header(client_as: ClientAs) -> None:
    """A form over a megabyte is not parsed to find its token (that would spool it to
    disk before any size check): without the header it is refused."""
    admin = client_as("admin")
    token = csrf_of(admin.get("/members").text)
    big = {"email": "new@example.com", "role": "viewer", "csrf_token": token}
    files = {"padding": ("pad.bin", b"x" * (1024 * 1024 + 1), "application/octet-stream")}
    _csrf_error(admin.post("/members", data=big, files=files))
    small = admin.post("/members", data=big, files={"padding": ("pad.bin", b"x")})
    assert small.status_code != 403


def test_request_bodies_are_bounded(client_as: ClientAs) -> None:
    """Over 8 MB a body is refused (413, JSON) by its declared length or, sent in chunks,
    as soon as it grows past the limit; the event upload has its own limit."""
    admin = client_as("admin")
    big = b"x" * (8 * 1024 * 1024 + 1)
    declared = admin.post("/members", content=big, headers={"content-type": "text/plain"})
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "too_large"

    def chunks() -> Iterator[bytes]:
        for _ in range(9):
            yield b"x" * (1024 * 1024)

    token = csrf_of(admin.get("/members").text)
    headers = {"content-type": "application/x-www-form-urlencoded", "x-csrf-token": token}
    chunked = admin.post("/members", content=chunks(), headers=headers)
    assert chunked.status_code == 413
