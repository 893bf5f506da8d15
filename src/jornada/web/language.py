"""The language of the interface: ``?lang=`` beats the language a signed-in user chose
(stored on their account, so it follows them to any browser), which beats the cookie,
which beats the browser's Accept-Language, which beats the workspace's language.

``?lang=`` alone changes the page and the cookie, never the account: a shared link must
not change anybody's setting. A signed-in user's switcher posts the choice to
``/account/language``, which stores it (see :mod:`jornada.web.routes.accounts`).

>>> accepted_languages("es-MX,es;q=0.9,en;q=0.8")
['es', 'en']
>>> accepted_languages("fr, pt-PT;q=0.5")
['pt-BR']
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from jornada.model import LANGUAGES, Language, parse_language

__all__ = [
    "COOKIE",
    "LanguageOption",
    "accepted_languages",
    "here_without_language",
    "language_name",
    "language_options",
    "query_language",
    "request_language",
    "set_language_cookie",
    "url_code",
]

COOKIE = "jornada_lang"
COOKIE_SECONDS = 365 * 24 * 3600
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


def language_name(language: Language) -> str:
    """The language's name in itself, as the switcher shows it: ``Português``."""
    return _NAMES[language]


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


def set_language_cookie(response: Response, language: Language) -> None:
    """Remember ``language`` in this browser (for a year)."""
    response.set_cookie(COOKIE, language, max_age=COOKIE_SECONDS, samesite="lax", httponly=True)


def query_language(request: Request) -> Language | None:
    """The language asked for with ``?lang=``, when it is one we have."""
    value = request.query_params.get(QUERY)
    return _parse(value) if value else None


def request_language(
    request: Request, default: Language, *, user_language: Language | None = None
) -> Language:
    """The interface language for ``request``; ``default`` is the workspace's language,
    ``user_language`` the one the signed-in user chose (if any)."""
    chosen = query_language(request)
    if chosen is not None:
        return chosen
    if user_language is not None:
        return user_language
    cookie = request.cookies.get(COOKIE)
    if cookie and (from_cookie := _parse(cookie)) is not None:
        return from_cookie
    accepted = accepted_languages(request.headers.get("accept-language", ""))
    return accepted[0] if accepted else default


@dataclass(frozen=True)
class LanguageOption:
    """One entry of the language switcher: a link (``url``), or for a signed-in user a
    button posting ``value`` to ``/account/language``."""

    code: Language
    label: str
    url: str
    current: bool

    @property
    def value(self) -> str:
        return url_code(self.code)


def here_without_language(request: Request) -> str:
    """This page's path and query without ``?lang=``: where the switcher's form returns
    (with ``lang`` left in, the old choice would win over the new one)."""
    params = [(key, value) for key, value in request.query_params.multi_items() if key != QUERY]
    return request.url.path + (f"?{urlencode(params)}" if params else "")


def language_options(request: Request, current: Language) -> list[LanguageOption]:
    """The switcher: this page in each language (other query parameters kept)."""
    options = []
    for language in LANGUAGES:
        params = dict(request.query_params)
        params[QUERY] = url_code(language)
        url = f"{request.url.path}?{urlencode(params)}"
        options.append(LanguageOption(language, language_name(language), url, language == current))
    return options
