"""The language of the interface: ``?lang=`` beats the cookie, which beats the
browser's Accept-Language, which beats the workspace's language.

>>> accepted_languages("es-MX,es;q=0.9,en;q=0.8")
['es', 'en']
>>> accepted_languages("fr, pt-PT;q=0.5")
['pt-BR']
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request

from jornada.model import LANGUAGES, Language, parse_language

__all__ = [
    "COOKIE",
    "LanguageOption",
    "accepted_languages",
    "language_options",
    "query_language",
    "request_language",
    "url_code",
]

COOKIE = "jornada_lang"
QUERY = "lang"

_NAMES: dict[Language, str] = {"en": "English", "pt-BR": "Português", "es": "Español"}
_URL_CODES: dict[Language, str] = {"en": "en", "pt-BR": "pt", "es": "es"}


def _parse(text: str) -> Language | None:
    """A language from a tag, trying the primary subtag (``pt-PT`` -> ``pt``) as well."""
    for candidate in (text, text.split("-", 1)[0], text.split("_", 1)[0]):
        try:
            return parse_language(candidate)
        except ValueError:
            continue
    return None


def url_code(language: Language) -> str:
    """The short code used in ``?lang=`` links: ``en``, ``pt`` or ``es``."""
    return _URL_CODES[language]


def accepted_languages(header: str) -> list[Language]:
    """Our languages named by an Accept-Language header, best first."""
    weighted: list[tuple[float, int, Language]] = []
    for position, part in enumerate(header.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        language = _parse(tag.strip()) if tag.strip() not in {"", "*"} else None
        if language is not None and quality > 0:
            weighted.append((-quality, position, language))
    result: list[Language] = []
    for _, _, language in sorted(weighted):
        if language not in result:
            result.append(language)
    return result


def query_language(request: Request) -> Language | None:
    """The language asked for with ``?lang=``, when it is one we have."""
    value = request.query_params.get(QUERY)
    return _parse(value) if value else None


def request_language(request: Request, default: Language) -> Language:
    """The interface language for ``request``; ``default`` is the workspace's language."""
    chosen = query_language(request)
    if chosen is not None:
        return chosen
    cookie = request.cookies.get(COOKIE)
    if cookie and (from_cookie := _parse(cookie)) is not None:
        return from_cookie
    accepted = accepted_languages(request.headers.get("accept-language", ""))
    return accepted[0] if accepted else default


@dataclass(frozen=True)
class LanguageOption:
    """One entry of the language switcher."""

    code: Language
    label: str
    url: str
    current: bool


def language_options(request: Request, current: Language) -> list[LanguageOption]:
    """The switcher: this page in each language (other query parameters kept)."""
    options = []
    for language in LANGUAGES:
        params = dict(request.query_params)
        params[QUERY] = url_code(language)
        url = f"{request.url.path}?{urlencode(params)}"
        options.append(LanguageOption(language, _NAMES[language], url, language == current))
    return options
