"""Ready-made journey maps to start from, in English, Portuguese (Brazil) and Spanish.

The maps live as YAML files in the ``templates/`` folder beside this module, one
file per template and language: ``<name>.<language>.yaml`` (for example
``b2c-ecommerce.pt-BR.yaml``). The three language versions of a template share
every id and number; only the human text is translated, so maps started from
different languages can be compared.

>>> [info.name for info in list_templates()]
['b2b-saas', 'b2c-ecommerce', 'omnichannel-retail', 'support-experience']
>>> load_template("support-experience", "es").kind
'experience'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from types import MappingProxyType

from jornada.errors import JornadaError
from jornada.model._base import LANGUAGES, Language, parse_language
from jornada.model.journey import Journey, JourneyKind
from jornada.model.validation import parse_journey_text

__all__ = ["TemplateInfo", "UnknownTemplateError", "list_templates", "load_template"]

_FILE_NAME = re.compile(r"^(?P<name>[a-z0-9][a-z0-9-]*)\.(?P<language>en|pt-BR|es)\.ya?ml$")


class UnknownTemplateError(JornadaError, ValueError):
    """There is no template with that name (or not in that language).

    >>> try:
    ...     load_template("nope")
    ... except UnknownTemplateError as error:
    ...     print(error)
    unknown template 'nope'; available: b2b-saas, b2c-ecommerce, omnichannel-retail, support-experience
    """


@dataclass(frozen=True)
class TemplateInfo:
    """What a template is, without handing out the map itself.

    ``title`` and ``description`` hold the text in each language the template
    is written in.

    >>> info = next(i for i in list_templates() if i.name == "b2c-ecommerce")
    >>> info.kind, info.stage_count, info.languages
    ('journey', 6, ('en', 'pt-BR', 'es'))
    >>> info.title["pt-BR"]
    'Compra de tênis de corrida on-line'
    """

    name: str
    languages: tuple[Language, ...]
    kind: JourneyKind
    title: Mapping[Language, str] = field(hash=False)
    description: Mapping[Language, str] = field(hash=False)
    stage_count: int

    def to_dict(self) -> dict[str, object]:
        """Plain data for JSON output.

        >>> sorted(list_templates()[0].to_dict())
        ['description', 'kind', 'languages', 'name', 'stage_count', 'title']
        """
        return {
            "name": self.name,
            "languages": list(self.languages),
            "kind": self.kind,
            "title": dict(self.title),
            "description": dict(self.description),
            "stage_count": self.stage_count,
        }


def _folder() -> Traversable:
    return resources.files("jornada.model").joinpath("templates")


@cache
def _index() -> dict[str, dict[Language, Traversable]]:
    """Template files by name and language, names sorted, languages in jornada's order."""
    found: dict[str, dict[Language, Traversable]] = {}
    for entry in _folder().iterdir():
        match = _FILE_NAME.match(entry.name)
        if match is None or not entry.is_file():
            continue
        language = parse_language(match["language"])
        found.setdefault(match["name"], {})[language] = entry
    return {
        name: {language: files[language] for language in LANGUAGES if language in files}
        for name, files in sorted(found.items())
    }


def _parse(name: str, language: Language, entry: Traversable) -> Journey:
    return parse_journey_text(entry.read_text("utf-8"), f"template {name} ({language})")


@cache
def _infos() -> tuple[TemplateInfo, ...]:
    infos = []
    for name, files in _index().items():
        journeys = {language: _parse(name, language, entry) for language, entry in files.items()}
        first = next(iter(journeys.values()))
        infos.append(
            TemplateInfo(
                name=name,
                languages=tuple(journeys),
                kind=first.kind,
                title=MappingProxyType({lang: j.title for lang, j in journeys.items()}),
                description=MappingProxyType(
                    {lang: j.description or "" for lang, j in journeys.items()}
                ),
                stage_count=len(first.stages),
            )
        )
    return tuple(infos)


def list_templates() -> list[TemplateInfo]:
    """Every template, sorted by name.

    >>> {info.name: info.kind for info in list_templates()}["support-experience"]
    'experience'
    """
    return list(_infos())


def load_template(name: str, language: Language = "en") -> Journey:
    """A fresh journey map from template ``name``, in ``language``.

    Raises :class:`UnknownTemplateError` when there is no such template or it is
    not written in ``language``.

    >>> journey = load_template("b2c-ecommerce", "pt-BR")
    >>> journey.language, journey.stages[0].name
    ('pt-BR', 'Descoberta')
    """
    index = _index()
    files = index.get(name)
    if files is None:
        available = ", ".join(index) or "none"
        raise UnknownTemplateError(f"unknown template {name!r}; available: {available}")
    if language not in files:
        with suppress(ValueError):  # tolerate what a person types: "pt", "pt_BR", "EN"
            language = parse_language(language)
    entry = files.get(language)
    if entry is None:
        available = ", ".join(files)
        raise UnknownTemplateError(
            f"template {name!r} is not available in {language!r}; available: {available}"
        )
    return _parse(name, language, entry)
