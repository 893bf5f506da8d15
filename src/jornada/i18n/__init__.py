"""User-interface strings in English, Brazilian Portuguese and Spanish.

The texts live in ``messages/<language>.yaml`` beside this module as flat
``key: text`` pairs with generic dotted keys (``lane.actions``, ``phase.before``,
``evidence.measured``) so that the renderer, the CLI and the web app share them.

>>> translate("lane.actions", "pt-BR")
'Ações'
>>> translate("no.such.key", "es")
'no.such.key'
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType

import yaml

from jornada.model._base import LANGUAGES, Language

__all__ = ["LANGUAGES", "Language", "messages", "translate"]

_FALLBACK: Language = "en"


@cache
def _read(language: Language) -> Mapping[str, str]:
    """The strings written for ``language`` alone (no fallback), checked to be flat text."""
    text = resources.files(__name__).joinpath("messages", f"{language}.yaml").read_text("utf-8")
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ValueError(f"messages/{language}.yaml must be a mapping of key: text")
    checked: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError(f"messages/{language}.yaml: {key!r} must map a text key to a text")
        checked[key] = value
    return MappingProxyType(checked)


@cache
def messages(language: Language) -> Mapping[str, str]:
    """Every UI string in ``language``, with English filling any gap (read-only).

    >>> messages("es")["phase.after"]
    'Después de la compra'
    """
    merged = dict(_read(_FALLBACK))
    if language != _FALLBACK:
        merged.update(_read(language))
    return MappingProxyType(merged)


def translate(key: str, language: Language) -> str:
    """The UI string ``key`` in ``language``; English when missing there, else the key itself."""
    return messages(language).get(key, key)
