"""Options shared by several commands, declared once (the events' scope options are in
:mod:`jornada.cli.scope`: they need the events layer, these do not)."""

from __future__ import annotations

from typing import Annotated

import typer

from jornada.model import Language, parse_language

__all__ = ["JsonOption", "LanguageOption", "language_of"]

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
LanguageOption = Annotated[
    str | None,
    typer.Option("--lang", "-l", help="Language: en, pt (Brazilian Portuguese) or es."),
]


def language_of(text: str | None, default: Language = "en") -> Language:
    if text is None:
        return default
    try:
        return parse_language(text)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--lang") from None
