"""The catalogues maps draw on: KPIs and touchpoints, in English, Portuguese and Spanish.

The data lives in ``catalogues/*.yaml`` beside this module; this module reads and
checks it once and offers typed look-ups.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import Field, TypeAdapter

from jornada.model._base import Identifier, Language, MapModel
from jornada.model.kpi import Direction
from jornada.model.stage import Phase
from jornada.model.touchpoint import Category, Directness, Medium

__all__ = [
    "CatalogueKpi",
    "CatalogueTouchpoint",
    "KpiMeasure",
    "Localized",
    "kpi_catalogue",
    "touchpoint_catalogue",
]

TypicalStage = Literal["awareness", "consideration", "conversion", "retention", "advocacy"]


class Localized(MapModel):
    """A text in each of the three languages jornada speaks."""

    en: str = Field(min_length=1)
    pt_br: str = Field(min_length=1, alias="pt-BR")
    es: str = Field(min_length=1)

    def get(self, language: Language) -> str:
        """The text in ``language``.

        >>> Localized.model_validate({"en": "Reach", "pt-BR": "Alcance", "es": "Alcance"}).get("pt-BR")
        'Alcance'
        """
        return {"en": self.en, "pt-BR": self.pt_br, "es": self.es}[language]


class KpiMeasure(MapModel):
    """How jornada computes a KPI from events: ``numerator / denominator × scale``, over
    base measures named in :mod:`jornada.analytics.kpis` (a count KPI has no denominator).

    >>> KpiMeasure(numerator="spend", denominator="impressions", scale=1000).scale
    1000.0
    """

    numerator: Identifier
    denominator: Identifier | None = None
    scale: float = 1.0
    computed: Localized | None = Field(
        default=None, description="What jornada computes, in words (the shown definition)."
    )


class CatalogueKpi(MapModel):
    """A KPI jornada knows: what it means, how it is computed, which way is good.

    ``measure`` is absent for KPIs the event log alone cannot give (an SEO ranking).
    """

    id: Identifier
    name: Localized
    definition: Localized
    formula: Localized
    unit: Literal["count", "ratio", "currency", "seconds", "score", "rank"]
    direction: Direction
    stage: TypicalStage
    measure: KpiMeasure | None = None


class CatalogueTouchpoint(MapModel):
    """A touchpoint seen in many businesses, placed before, during or after the purchase."""

    id: Identifier
    name: Localized
    phase: Phase
    category: Category
    channel: str
    directness: Directness = "direct"
    medium: Medium


def _read(name: str) -> object:
    text = resources.files("jornada.model").joinpath("catalogues", name).read_text("utf-8")
    return yaml.safe_load(text)


@cache
def kpi_catalogue() -> dict[str, CatalogueKpi]:
    """Every catalogue KPI by id.

    >>> kpi_catalogue()["ctr"].direction
    'higher'
    """
    kpis = TypeAdapter(list[CatalogueKpi]).validate_python(_read("kpis.yaml"))
    return {kpi.id: kpi for kpi in kpis}


@cache
def touchpoint_catalogue() -> dict[str, CatalogueTouchpoint]:
    """Every catalogue touchpoint by id, in before/during/after order."""
    entries = TypeAdapter(list[CatalogueTouchpoint]).validate_python(_read("touchpoints.yaml"))
    return {entry.id: entry for entry in entries}
