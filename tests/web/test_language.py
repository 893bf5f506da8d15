"""The interface language: ?lang= > the signed-in user's stored choice > cookie >
Accept-Language > the workspace's language; storing the choice, by form and by JSON."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from jornada.accounts import AppState
from jornada.accounts.tokens import create_token
from jornada.accounts.users import find_user
from jornada.i18n import translate
from jornada.web.language import COOKIE, accepted_languages
from jornada.workspace import Workspace
from tests.web.conftest import PASSWORD, csrf_of, email_of, sign_in, signed_in_client

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


def html_lang(text: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', text)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", []),
        ("en-US,en;q=0.9", ["en"]),
        ("fr-FR, pt-PT;q=0.8, es;q=0.9", ["es", "pt-BR"]),
        ("pt-BR;q=0, es", ["es"]),
        ("*", []),
        ("es;q=abc, en", ["en"]),
    ],
)
def test_accepted_languages(header: str, expected: list[str]) -> None:
    assert accepted_languages(header) == expected


def test_order_of_preference(tmp_path: Path) -> None:
    workspace = Workspace.init(tmp_path / "ws", name="Loja", language="pt-BR")
    with signed_in_client(workspace) as client:
        assert html_lang(client.get("/").text) == "pt-BR"  # the workspace's language
        assert html_lang(client.get("/", headers={"Accept-Language": "es"}).text) == "es"
        chosen = client.get("/?lang=en", headers={"Accept-Language": "es"})
        assert html_lang(chosen.text) == "en"
        assert chosen.cookies.get(COOKIE) == "en"
        # The cookie now beats the header; ?lang= beats the cookie.
        assert html_lang(client.get("/", headers={"Accept-Language": "es"}).text) == "en"
        assert html_lang(client.get("/?lang=es").text) == "es"
        assert html_lang(client.get("/").text) == "es"
        # An unknown ?lang= is ignored.
        assert html_lang(client.get("/?lang=xx").text) == "es"


def test_switcher_and_translated_strings(client: TestClient, anonymous: TestClient) -> None:
    page = client.get("/?lang=pt")
    assert html_lang(page.text) == "pt-BR"
    assert translate("web.maps.title", "pt-BR") in page.text
    # Signed in, the switcher is a form that stores the choice on the account.
    for code in ("en", "pt", "es"):
        assert f'name="language" value="{code}"' in page.text
    assert 'aria-current="true">Português' in page.text
    assert 'name="next" value="/"' in page.text  # back here, without the old ?lang=
    # It comes back to this page, other query parameters kept.
    assert 'name="next" value="/maps/shop?x=1"' in client.get("/maps/shop?x=1&lang=es").text
    # Anonymous, the switcher is links, keeping other query parameters.
    login = anonymous.get("/login?next=/maps&lang=pt")
    assert 'href="/login?next=%2Fmaps&amp;lang=es"' in login.text
    assert 'aria-current="true">Português' in login.text
    assert 'action="/account/language"' not in login.text


def test_every_web_key_is_translated() -> None:
    from jornada.i18n import messages

    english = {key for key in messages("en") if key.startswith("web.")}
    assert english
    for language in ("pt-BR", "es"):
        from jornada.i18n import _read

        own = {key for key in _read(language) if key.startswith("web.")}
        assert english - own == set(), language


def test_pages_use_only_known_keys() -> None:
    from jornada.i18n import messages

    web = Path(__file__).parents[2] / "src" / "jornada" / "web"
    used: set[str] = set()
    for path in web.rglob("*"):
        if path.suffix in {".html", ".py"}:
            used |= set(
                re.findall(r"""\bt\(\s*["']([a-z_]+(?:\.[a-z_]+)+)["']""", path.read_text("utf-8"))
            )
    assert used
    assert used - set(messages("en")) == set()
    for language in ("en", "pt-BR", "es"):
        for prefix, values in (
            ("status.", ("draft", "researched", "live", "archived")),
            ("map.kind.", ("journey", "experience")),
        ):
            for value in values:
                assert prefix + value in messages(language), (language, prefix + value)


# --- the language stored on the account ------------------------------------------------


def switch(client: TestClient, code: str, next_url: str = "/") -> httpx.Response:
    """Press a language of the switcher, as the page's form does."""
    page = client.get(next_url)
    assert 'action="/account/language"' in page.text
    return client.post(
        "/account/language",
        data={"language": code, "next": next_url, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )


def stored_language(state: AppState, who: str) -> str | None:
    user = find_user(state, email_of(who))
    assert user is not None
    return user.language


def test_the_choice_follows_the_user_to_another_browser(
    client_as: Callable[[str], TestClient], state: AppState
) -> None:
    ana, bo = client_as("editor"), client_as("viewer")
    switched = switch(ana, "pt", "/maps/shop?x=1")
    assert switched.status_code == 303
    assert switched.headers["location"] == "/maps/shop?x=1"
    assert switched.cookies.get(COOKIE) == "pt-BR"  # this browser remembers it too
    assert stored_language(state, "editor") == "pt-BR"
    assert html_lang(ana.get("/").text) == "pt-BR"

    # Another browser: no cookie, a browser asking for Spanish. Before signing in it is
    # Spanish; once Ana is signed in, it is her language.
    other = client_as("anonymous")
    assert html_lang(other.get("/login", headers={"Accept-Language": "es"}).text) == "es"
    assert sign_in(other, email_of("editor")).status_code == 303
    assert COOKIE not in other.cookies
    for path in ("/", "/maps/shop", "/account", "/dashboards"):
        page = other.get(path, headers={"Accept-Language": "es"})
        assert page.status_code == 200, path
        assert html_lang(page.text) == "pt-BR", path
    assert translate("web.maps.title", "pt-BR") in other.get("/").text
    # The stored choice beats this browser's cookie as well.
    other.cookies.set(COOKIE, "es")
    assert html_lang(other.get("/").text) == "pt-BR"
    # JSON error messages speak it too.
    missing = other.get("/no/such/page.json")
    assert missing.json()["error"]["message"] == translate("web.error.not_found", "pt-BR")

    # ?lang= wins for one request, and changes nothing stored.
    assert html_lang(other.get("/?lang=es").text) == "es"
    assert html_lang(other.get("/").text) == "pt-BR"
    assert stored_language(state, "editor") == "pt-BR"

    # Bo is unaffected.
    assert stored_language(state, "viewer") is None
    assert html_lang(bo.get("/").text) == "en"
    assert html_lang(bo.get("/", headers={"Accept-Language": "es"}).text) == "es"

    # Signed out, the browser falls back to its own cookie / header: anonymous
    # visitors keep the old behaviour.
    other.cookies.delete(COOKIE)
    out = other.post("/logout", data={"csrf_token": csrf_of(other.get("/").text)})
    assert out.status_code == 200
    assert html_lang(other.get("/login", headers={"Accept-Language": "es"}).text) == "es"
    assert html_lang(other.get("/login?lang=en").text) == "en"
    assert html_lang(other.get("/login", headers={"Accept-Language": "es"}).text) == "en"
    assert stored_language(state, "editor") == "pt-BR"


def test_choosing_again_and_forgetting(
    client_as: Callable[[str], TestClient], state: AppState
) -> None:
    ana = client_as("editor")
    switch(ana, "es")
    switch(ana, "en")
    assert stored_language(state, "editor") == "en"
    account = ana.get("/account")
    assert '<option value="en" lang="en" selected>English</option>' in account.text
    assert ana.get("/account.json").json()["language"] == "en"
    # The account page's empty choice forgets it: the browser's language again.
    forgot = switch(ana, "", "/account")
    assert forgot.status_code == 303
    assert stored_language(state, "editor") is None
    assert COOKIE not in ana.cookies
    assert html_lang(ana.get("/", headers={"Accept-Language": "es"}).text) == "es"
    assert ana.get("/account.json").json()["language"] is None

    # An unknown language: 400, nothing stored; a next outside the app goes home.
    bad = switch(ana, "fr")
    assert bad.status_code == 400
    message = translate("web.account.unknown_language", "en").format(language="fr")
    assert str(escape(message)) in bad.text
    assert stored_language(state, "editor") is None
    token = csrf_of(ana.get("/").text)
    away = ana.post(
        "/account/language",
        data={"language": "es", "next": "//evil.example/", "csrf_token": token},
        follow_redirects=False,
    )
    assert away.headers["location"] == "/"
    # Without the CSRF token, nothing changes.
    refused = ana.post("/account/language", data={"language": "pt"}, follow_redirects=False)
    assert refused.status_code == 403
    assert stored_language(state, "editor") == "es"


def test_the_json_api(client_as: Callable[[str], TestClient], state: AppState) -> None:
    ana, bo = client_as("editor"), client_as("viewer")
    account = ana.get("/account.json").json()
    assert (account["language"], account["languages"]) == (None, ["en", "pt-BR", "es"])
    headers = {"X-CSRF-Token": account["csrf_token"]}

    put = ana.put("/api/account/language", json={"language": "pt"}, headers=headers)
    assert put.status_code == 200
    assert put.json() == {"language": "pt-BR", "languages": ["en", "pt-BR", "es"]}
    assert put.cookies.get(COOKIE) == "pt-BR"
    assert ana.get("/account.json").json()["language"] == "pt-BR"
    assert ana.get("/account.json").json()["user"]["language"] == "pt-BR"
    assert stored_language(state, "viewer") is None

    for bad in ("fr", "pt-PT", "x" * 20):
        refused = ana.put("/api/account/language", json={"language": bad}, headers=headers)
        assert refused.status_code == 400, bad
        error = refused.json()["error"]
        assert (error["status"], error["code"]) == (400, "unknown_language")
        # In the user's (stored) language.
        assert error["message"] == translate("web.account.unknown_language", "pt-BR").format(
            language=bad
        )
    assert (
        ana.put("/api/account/language", json={"language": 3}, headers=headers).status_code == 422
    )
    no_csrf = ana.put("/api/account/language", json={"language": "es"})
    assert (no_csrf.status_code, no_csrf.json()["error"]["code"]) == (403, "csrf_failed")
    assert stored_language(state, "editor") == "pt-BR"

    cleared = ana.put("/api/account/language", json={"language": None}, headers=headers)
    assert cleared.json()["language"] is None
    assert stored_language(state, "editor") is None

    # A script with a token needs no CSRF token; a read-only token changes nothing.
    bo_id = find_user(state, email_of("viewer")).id  # type: ignore[union-attr]
    script = TestClient(bo.app)
    secret = create_token(state, bo_id, "script").secret
    done = script.put(
        "/api/account/language",
        json={"language": "es"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert done.status_code == 200
    assert COOKIE not in done.cookies  # a script is not a browser
    assert stored_language(state, "viewer") == "es"
    assert html_lang(bo.get("/").text) == "es"  # Bo's browser follows
    reader = create_token(state, bo_id, "reader", read_only=True).secret
    read_only = script.put(
        "/api/account/language",
        json={"language": "en"},
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert read_only.status_code == 403
    assert stored_language(state, "viewer") == "es"
    assert stored_language(state, "editor") is None

    # Anonymous (with the sign-in form's CSRF token): 401, as for every other change.
    nobody = client_as("anonymous")
    anonymous_csrf = {"X-CSRF-Token": csrf_of(nobody.get("/login").text)}
    refused = nobody.put("/api/account/language", json={"language": "es"}, headers=anonymous_csrf)
    assert refused.status_code == 401


def test_the_api_is_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    put = paths["/api/account/language"]["put"]
    assert "requestBody" in put
    assert "post" in paths["/account/language"]


@pytest.mark.browser
@pytest.mark.slow
def test_the_choice_follows_the_user_in_a_real_browser(browser: Browser, live_server: str) -> None:
    """Sign in, pick Português, sign out; a new browser (no cookies, English) signing in
    as the same user gets Portuguese pages."""

    def sign_in_as_editor(page: Page) -> None:
        page.goto(f"{live_server}/login", wait_until="networkidle")
        assert page.locator("html").get_attribute("lang") == "en"
        page.get_by_label("E-mail").fill(email_of("editor"))
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live_server}/")

    first = browser.new_context(locale="en-US")
    try:
        page = first.new_page()
        sign_in_as_editor(page)
        page.get_by_role("button", name="Português").click()
        page.wait_for_load_state("networkidle")
        assert page.url == f"{live_server}/"
        assert page.locator("html").get_attribute("lang") == "pt-BR"
        page.get_by_role("button", name=translate("web.nav.sign_out", "pt-BR")).click()
        page.wait_for_url(f"{live_server}/login")
    finally:
        first.close()

    second = browser.new_context(locale="en-US")
    try:
        assert second.cookies() == []
        page = second.new_page()
        sign_in_as_editor(page)
        assert page.locator("html").get_attribute("lang") == "pt-BR"
        heading = page.get_by_role("heading", name=translate("web.maps.title", "pt-BR"))
        assert heading.is_visible()
        current = page.locator('.language-switcher [aria-current="true"]')
        assert current.inner_text() == "Português"
    finally:
        second.close()
