"""The KPI and touchpoint catalogues: complete, translated and consistent with the seeds."""

from __future__ import annotations

import re
from importlib import resources

import pytest
import yaml

from jornada.model import LANGUAGES
from jornada.model.catalogue import (
    CatalogueKpi,
    CatalogueTouchpoint,
    kpi_catalogue,
    touchpoint_catalogue,
)

# The KPIs the domain sources list per lifecycle stage (the seeds' "decide what to
# measure" section), under the ids maps use.
SEED_KPIS_BY_STAGE: dict[str, tuple[str, ...]] = {
    "awareness": (
        "impressions",
        "cpm",
        "reach",
        "seo_ranking",
        "bounce_rate",
        "time_on_page",
        "pages_per_visit",
    ),
    "consideration": ("clicks", "ctr", "cpc", "engagement_rate"),
    "conversion": ("conversion_rate", "sales", "cost_per_conversion"),
    "retention": ("retention_rate", "csat", "clv", "feedback_count"),
    "advocacy": ("referrals",),
}
# The seeds list NPS under both retention and advocacy.
SEED_KPIS_ANY_STAGE = {"nps": {"retention", "advocacy"}}
OTHER_REQUIRED_KPIS = ("ces", "churn_rate")
EXTRA_KPIS = (
    "frequency",
    "roas",
    "repeat_purchase_rate",
    "first_response_time",
    "resolution_time",
    "activation_rate",
    "renewal_rate",
)
ALL_REQUIRED_KPIS = (
    *(kpi for kpis in SEED_KPIS_BY_STAGE.values() for kpi in kpis),
    *SEED_KPIS_ANY_STAGE,
    *OTHER_REQUIRED_KPIS,
    *EXTRA_KPIS,
)

# Names that are the same word in every language (acronyms kept as-is in the trade).
SAME_NAME_EVERYWHERE = {"nps"}

LOWER_IS_BETTER = {
    "cpm",
    "cpc",
    "seo_ranking",
    "bounce_rate",
    "cost_per_conversion",
    "churn_rate",
    "cart_abandonment_rate",
    "first_response_time",
    "resolution_time",
}

# The seeds' before / during / after purchase table, as catalogue ids.
SEED_TOUCHPOINTS: dict[str, tuple[str, ...]] = {
    "before": (
        "social_media",
        "online_ads",
        "company_blog",
        "company_events",
        "customer_reviews",
        "testimonials",
        "word_of_mouth",
        "community_involvement",
        "phone_system",
        "direct_mail",
        "point_of_sale",
    ),
    "during": (
        "sales_support_conversations",
        "product_catalogue",
        "store_or_office",
        "promo_stands",
        "landing_pages",
        "company_website",
        "checkout_flow",
        "ecommerce_site_app",
    ),
    "after": (
        "after_sale_service",
        "onboarding",
        "customer_service_channels",
        "billing",
        "thank_you_cards",
        "loyalty_programme",
        "transactional_emails",
        "newsletter",
        "help_center",
        "community_forum",
        "satisfaction_surveys",
        "upsell_cross_sell_emails",
        "subscription_renewal",
    ),
}


def _raw(name: str) -> list[dict[str, object]]:
    text = resources.files("jornada.model").joinpath("catalogues", name).read_text("utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, list)
    return data


# --------------------------------------------------------------------- KPIs


def test_kpi_catalogue_loads() -> None:
    catalogue = kpi_catalogue()
    assert len(catalogue) >= len(ALL_REQUIRED_KPIS)
    assert all(isinstance(kpi, CatalogueKpi) for kpi in catalogue.values())
    assert all(kpi_id == kpi.id for kpi_id, kpi in catalogue.items())


def test_kpi_ids_are_unique_in_the_file() -> None:
    ids = [str(entry["id"]) for entry in _raw("kpis.yaml")]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


@pytest.mark.parametrize("kpi_id", ALL_REQUIRED_KPIS)
def test_required_kpi_is_present(kpi_id: str) -> None:
    assert kpi_id in kpi_catalogue()


@pytest.mark.parametrize(
    ("kpi_id", "stage"),
    [(kpi, stage) for stage, kpis in SEED_KPIS_BY_STAGE.items() for kpi in kpis],
)
def test_seed_kpi_sits_in_the_seed_stage(kpi_id: str, stage: str) -> None:
    assert kpi_catalogue()[kpi_id].stage == stage


def test_nps_sits_in_a_seed_stage() -> None:
    for kpi_id, stages in SEED_KPIS_ANY_STAGE.items():
        assert kpi_catalogue()[kpi_id].stage in stages


@pytest.mark.parametrize("kpi_id", sorted(kpi_catalogue()))
def test_kpi_is_translated(kpi_id: str) -> None:
    kpi = kpi_catalogue()[kpi_id]
    for text in (kpi.name, kpi.definition, kpi.formula):
        for language in LANGUAGES:
            assert text.get(language).strip(), (kpi_id, language)
    for language in ("pt-BR", "es"):
        # Definitions are sentences: a copy of the English means it was not translated.
        assert kpi.definition.get(language) != kpi.definition.en, (kpi_id, language)
        if kpi_id not in SAME_NAME_EVERYWHERE:
            assert kpi.name.get(language) != kpi.name.en, (kpi_id, language)
    assert kpi.definition.get("pt-BR") != kpi.definition.get("es"), kpi_id


@pytest.mark.parametrize("kpi_id", sorted(kpi_catalogue()))
def test_kpi_definition_is_computable(kpi_id: str) -> None:
    """Rates and averages say what is divided by what; counts say what is counted."""
    kpi = kpi_catalogue()[kpi_id]
    for language in LANGUAGES:
        formula = kpi.formula.get(language)
        if kpi.unit in {"ratio", "score", "rank"}:
            assert "/" in formula, (kpi_id, language, formula)
        if kpi.unit == "currency":
            assert re.search(r"/|\bsum|\bsoma|\bsuma", formula), (kpi_id, language, formula)
        if kpi.unit == "seconds":
            assert re.search(r"median|mediana|/", formula), (kpi_id, language, formula)
        assert len(kpi.definition.get(language)) >= 30, (kpi_id, language)


@pytest.mark.parametrize("kpi_id", sorted(kpi_catalogue()))
def test_kpi_direction(kpi_id: str) -> None:
    expected = "lower" if kpi_id in LOWER_IS_BETTER else "higher"
    assert kpi_catalogue()[kpi_id].direction == expected


def test_kpi_units() -> None:
    catalogue = kpi_catalogue()
    assert catalogue["seo_ranking"].unit == "rank"
    assert {catalogue[k].unit for k in ("time_on_page", "first_response_time")} == {"seconds"}
    assert {catalogue[k].unit for k in ("ctr", "conversion_rate", "churn_rate")} == {"ratio"}
    assert {catalogue[k].unit for k in ("csat", "nps", "ces")} == {"score"}
    assert {catalogue[k].unit for k in ("cpm", "cpc", "clv")} == {"currency"}
    assert {catalogue[k].unit for k in ("impressions", "referrals", "feedback_count")} == {"count"}


# --------------------------------------------------------------- touchpoints


def test_touchpoint_catalogue_loads() -> None:
    catalogue = touchpoint_catalogue()
    assert all(isinstance(entry, CatalogueTouchpoint) for entry in catalogue.values())
    ids = [str(entry["id"]) for entry in _raw("touchpoints.yaml")]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    assert list(catalogue) == ids


@pytest.mark.parametrize("phase", ["before", "during", "after"])
def test_touchpoint_catalogue_covers_the_seed_column(phase: str) -> None:
    catalogue = touchpoint_catalogue()
    missing = [tp for tp in SEED_TOUCHPOINTS[phase] if tp not in catalogue]
    assert not missing
    misplaced = [tp for tp in SEED_TOUCHPOINTS[phase] if catalogue[tp].phase != phase]
    assert not misplaced


def test_touchpoint_catalogue_is_in_purchase_order() -> None:
    order = {"before": 0, "during": 1, "after": 2}
    phases = [order[entry.phase] for entry in touchpoint_catalogue().values()]
    assert phases == sorted(phases)


def test_touchpoint_catalogue_uses_every_category_and_medium() -> None:
    entries = touchpoint_catalogue().values()
    assert {e.category for e in entries} == {
        "marketing_reach",
        "sales_interaction",
        "customer_initiated",
        "feedback",
    }
    assert {e.medium for e in entries} == {"digital", "physical", "human"}
    # Reviews and a friend's word are the seeds' examples of indirect touchpoints.
    catalogue = touchpoint_catalogue()
    assert catalogue["customer_reviews"].directness == "indirect"
    assert catalogue["word_of_mouth"].directness == "indirect"
    assert catalogue["online_ads"].directness == "direct"


@pytest.mark.parametrize("touchpoint_id", sorted(touchpoint_catalogue()))
def test_touchpoint_entry(touchpoint_id: str) -> None:
    entry = touchpoint_catalogue()[touchpoint_id]
    assert re.fullmatch(r"[a-z][a-z_]{1,15}", entry.channel), entry.channel
    for language in LANGUAGES:
        assert entry.name.get(language).strip()
    assert entry.name.get("pt-BR") != entry.name.en or entry.name.es != entry.name.en
