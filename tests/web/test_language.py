"""The interface language: ?lang= > cookie > Accept-Language > the workspace's language."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from jornada.i18n import translate
from jornada.web.language import COOKIE, accepted_languages
from jornada.workspace import Workspace
from tests.web.conftest import signed_in_client


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


def test_switcher_and_translated_strings(client: TestClient) -> None:
    page = client.get("/?lang=pt")
    assert html_lang(page.text) == "pt-BR"
    assert translate("web.maps.title", "pt-BR") in page.text
    for code in ("en", "pt", "es"):
        assert f'href="/?lang={code}"' in page.text
    assert 'aria-current="true">Português' in page.text
    # The switcher keeps other query parameters.
    assert 'href="/maps/shop?x=1&amp;lang=es"' in client.get("/maps/shop?x=1").text


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
