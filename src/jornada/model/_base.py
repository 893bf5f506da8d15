"""Shared building blocks of the journey-map model: the base class and the id type."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

__all__ = ["LANGUAGES", "Identifier", "Language", "MapModel", "parse_language"]

# Ids are the keys other parts of a map (and later the event binding and the
# web editor) refer to, so they are short, stable and safe in URLs and YAML.
Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"),
]

Language = Literal["en", "pt-BR", "es"]
LANGUAGES: tuple[Language, ...] = ("en", "pt-BR", "es")

_LANGUAGE_ALIASES: dict[str, Language] = {
    "en": "en",
    "en-us": "en",
    "en-gb": "en",
    "pt": "pt-BR",
    "pt-br": "pt-BR",
    "pt_br": "pt-BR",
    "es": "es",
    "es-es": "es",
    "es-419": "es",
}


def parse_language(text: str) -> Language:
    """Turn what a user types (``pt``, ``pt_BR``, ``EN``) into one of our languages.

    >>> parse_language("pt")
    'pt-BR'
    """
    try:
        return _LANGUAGE_ALIASES[text.strip().lower()]
    except KeyError:
        known = ", ".join(sorted({"en", "pt", "es"}))
        raise ValueError(f"unknown language {text!r}; use one of {known}") from None


class MapModel(BaseModel):
    """Base of every map element: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        str_strip_whitespace=True,
        # YAML reads `age: 35` as a number; a text field should take it as "35".
        coerce_numbers_to_str=True,
        validate_default=False,
    )

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul_character(cls, value: Any) -> Any:
        # A NUL character is never meaningful in a map, and the engine's SQL parser
        # stops at one inside a literal (a binding's event name, a rule): refused here,
        # where the message can name the cell, rather than as an engine error later.
        texts = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(text, str) and "\x00" in text for text in texts):
            raise ValueError("text holds a NUL character (\\0): remove it")
        return value
