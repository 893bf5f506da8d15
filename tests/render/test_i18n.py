"""The UI strings: every key in every language, and the fallbacks."""

from __future__ import annotations

import re

import pytest
import yaml

from jornada.i18n import LANGUAGES, messages, translate
from jornada.i18n import _read as read_own
from jornada.model import BUILTIN_LANES


def test_every_key_exists_in_all_three_languages() -> None:
    keys = {language: set(read_own(language)) for language in LANGUAGES}
    assert keys["en"], "no English strings"
    for language in LANGUAGES:
        assert keys[language] == keys["en"], (
            f"{language}: missing {sorted(keys['en'] - keys[language])}, "
            f"extra {sorted(keys[language] - keys['en'])}"
        )


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_text_is_empty_or_untrimmed(language: str) -> None:
    for key, text in read_own(language).items():  # type: ignore[arg-type]
        assert text, f"{language}: {key!r} is empty"
        assert text.strip() == text, f"{language}: {key!r} is {text!r}"
        assert re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+)+", key), f"bad key {key!r}"


def test_the_renderer_finds_the_keys_it_needs() -> None:
    english = messages("en")
    needed = [f"lane.{lane}" for lane in BUILTIN_LANES]
    needed += [f"phase.{p}" for p in ("before", "during", "after")]
    needed += [
        f"category.{c}"
        for c in ("marketing_reach", "sales_interaction", "customer_initiated", "feedback")
    ]
    needed += [f"evidence.{e}" for e in ("assumed", "researched", "measured")]
    needed += ["directness.direct", "directness.indirect"]
    needed += [f"medium.{m}" for m in ("digital", "physical", "human")]
    needed += [f"status.{s}" for s in ("draft", "researched", "live", "archived")]
    needed += ["persona.title", "persona.goals", "persona.success", "persona.backstory"]
    missing = [key for key in needed if key not in english]
    assert not missing


def test_translate_falls_back_to_english_then_to_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    assert translate("lane.actions", "en") == "Actions"
    assert translate("lane.actions", "pt-BR") == "Ações"
    assert translate("lane.actions", "es") == "Acciones"
    assert translate("phase.before", "es") == "Antes de la compra"
    assert translate("no.such.key", "pt-BR") == "no.such.key"

    def only_english(language: str) -> dict[str, str]:
        return {"lane.actions": "Actions"} if language == "en" else {}

    messages.cache_clear()
    monkeypatch.setattr("jornada.i18n._read", only_english)
    try:
        assert translate("lane.actions", "es") == "Actions"
    finally:
        messages.cache_clear()


def test_messages_are_read_only() -> None:
    with pytest.raises(TypeError):
        messages("en")["lane.actions"] = "x"  # type: ignore[index]


def test_message_files_are_plain_yaml_mappings() -> None:
    from importlib import resources

    for language in LANGUAGES:
        text = resources.files("jornada.i18n").joinpath("messages", f"{language}.yaml")
        data = yaml.safe_load(text.read_text("utf-8"))
        assert isinstance(data, dict)
        assert all(isinstance(v, str) for v in data.values())
