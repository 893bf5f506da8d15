"""The map templates: every one loads in every language, is complete, consistent and
has the same skeleton in English, Portuguese and Spanish."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

import pytest

from jornada.model import LANGUAGES, Journey, KpiTarget, Language
from jornada.model.catalogue import kpi_catalogue, touchpoint_catalogue
from jornada.model.templates import (
    TemplateInfo,
    UnknownTemplateError,
    list_templates,
    load_template,
)
from jornada.model.validation import parse_journey_text

TEMPLATES = ("b2b-saas", "b2c-ecommerce", "omnichannel-retail", "support-experience")
KINDS = {
    "b2b-saas": "journey",
    "b2c-ecommerce": "journey",
    "omnichannel-retail": "journey",
    "support-experience": "experience",
}
CASES = [(name, language) for name in TEMPLATES for language in LANGUAGES]
# Channels beyond the touchpoint catalogue's that templates may use.
EXTRA_CHANNELS = {"sms", "video", "field"}
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


@cache
def _template(name: str, language: Language) -> Journey:
    """Loaded once per test session: the tests only read it."""
    return load_template(name, language)


def _kpi_targets(journey: Journey) -> list[tuple[str, KpiTarget]]:
    found: list[tuple[str, KpiTarget]] = []
    for stage in journey.stages:
        found.extend((stage.id, target) for target in stage.kpis)
        for touchpoint in stage.touchpoints:
            found.extend((touchpoint.id, target) for target in touchpoint.kpis)
    return found


def _skeleton(journey: Journey) -> dict[str, Any]:
    """Everything of a map that is not human text: it must not change with the language."""
    return {
        "id": journey.id,
        "kind": journey.kind,
        "status": journey.status,
        "tags": journey.tags,
        "personas": [
            (p.id, p.name, p.age, len(p.goals), len(p.challenges), p.preferred_channels)
            for p in journey.personas
        ],
        "departments": [(d.id, d.color) for d in journey.departments],
        "kpis": [(k.id, k.unit, k.direction) for k in journey.kpis],
        "lanes": [lane.id for lane in journey.lanes],
        "stages": [
            {
                "id": s.id,
                "phase": s.phase,
                "kpis": [(k.kpi, k.target, k.unit, k.direction, k.note is None) for k in s.kpis],
                "milestones": [(m.id, m.within, m.events) for m in s.milestones],
                "events": s.events,
                "touchpoints": [
                    {
                        "id": t.id,
                        "channel": t.channel,
                        "category": t.category,
                        "directness": t.directness,
                        "medium": t.medium,
                        "departments": t.departments,
                        "personas": t.personas,
                        "lists": [
                            len(t.actions),
                            len(t.questions),
                            len(t.motivations),
                            len(t.thoughts),
                        ],
                        "emotion": t.emotion.score if t.emotion else None,
                        "pains": [p.severity for p in t.pain_points],
                        "opportunities": [(o.impact, o.effort) for o in t.opportunities],
                        "kpis": [(k.kpi, k.target, k.unit, k.direction) for k in t.kpis],
                        "evidence": t.evidence,
                        "events": t.events,
                    }
                    for t in s.touchpoints
                ],
            }
            for s in journey.stages
        ],
    }


def _texts(journey: Journey) -> list[str]:
    """Sentences of the map, in a fixed order, for comparing translations."""
    texts = [journey.title, journey.description or "", journey.goal or ""]
    for persona in journey.personas:
        texts += [persona.quote or "", persona.backstory or "", persona.success or ""]
        texts += persona.goals + persona.challenges + persona.motivations
    for stage in journey.stages:
        texts.append(stage.goal or "")
        for t in stage.touchpoints:
            texts += t.actions + t.questions + t.thoughts
            texts += [p.text for p in t.pain_points] + [o.text for o in t.opportunities]
    return texts


# ------------------------------------------------------------------ listing


def test_list_templates() -> None:
    infos = list_templates()
    assert [info.name for info in infos] == list(TEMPLATES)
    for info in infos:
        assert isinstance(info, TemplateInfo)
        assert info.languages == LANGUAGES
        assert info.kind == KINDS[info.name]
        assert set(info.title) == set(LANGUAGES)
        assert set(info.description) == set(LANGUAGES)
        assert all(info.description.values())
        assert len(set(info.title.values())) == 3, "titles should be translated"
        journey = load_template(info.name, "es")
        assert info.title["es"] == journey.title
        assert info.stage_count == len(journey.stages)
        assert hash(info) == hash(info)
        assert info.to_dict()["title"] == dict(info.title)


def test_template_folder_holds_only_template_files() -> None:
    folder = resources.files("jornada.model").joinpath("templates")
    names = sorted(entry.name for entry in folder.iterdir() if entry.name != "__pycache__")
    assert "__init__.py" not in names, "templates/ must stay a data folder, not a package"
    expected = sorted(f"{name}.{lang}.yaml" for name in TEMPLATES for lang in LANGUAGES)
    assert names == expected


def test_unknown_template_lists_the_available_ones() -> None:
    with pytest.raises(UnknownTemplateError) as caught:
        load_template("b2c-ecomerce", "en")
    message = str(caught.value)
    assert all(name in message for name in TEMPLATES)
    assert isinstance(caught.value, ValueError)
    with pytest.raises(UnknownTemplateError, match="not available in"):
        load_template("b2b-saas", "fr")  # type: ignore[arg-type]
    with pytest.raises(UnknownTemplateError):
        load_template("../catalogues/kpis", "en")


def test_language_aliases_are_accepted() -> None:
    assert load_template("b2b-saas", "pt").language == "pt-BR"  # type: ignore[arg-type]


def test_load_returns_a_fresh_map_each_time() -> None:
    first = load_template("b2c-ecommerce", "en")
    first.stages.pop()
    assert len(load_template("b2c-ecommerce", "en").stages) == len(first.stages) + 1


# ------------------------------------------------------ one template, one language


@pytest.mark.parametrize(("name", "language"), CASES)
def test_template_loads_and_is_complete(name: str, language: Language) -> None:
    journey = _template(name, language)
    assert journey.id == name
    assert journey.language == language
    assert journey.kind == KINDS[name]
    assert journey.status == "draft"
    for text in (journey.title, journey.description, journey.goal):
        assert text

    assert len(journey.personas) >= 1
    for persona in journey.personas:
        for text_field in ("quote", "backstory", "role", "education", "income_band", "success"):
            assert getattr(persona, text_field), (persona.id, text_field)
        assert len(persona.backstory or "") > 300, "a backstory is a story, not a line"
        for items in (persona.goals, persona.challenges, persona.motivations):
            assert items, persona.id
        assert persona.preferred_channels

    assert len(journey.departments) >= 4
    assert 4 <= len(journey.stages) <= 6
    for stage in journey.stages:
        assert stage.phase in {"before", "during", "after"}, stage.id
        assert stage.goal, stage.id
        assert 2 <= len(stage.touchpoints) <= 4, stage.id
        for t in stage.touchpoints:
            where = f"{stage.id}/{t.id}"
            for value in (t.channel, t.category, t.medium, t.departments):
                assert value, where
            for lane in (t.actions, t.questions, t.motivations, t.thoughts):
                assert lane, where
            for rated in (t.pain_points, t.opportunities):
                assert rated, where
            assert t.emotion is not None, where
            assert t.emotion.label, where
            assert t.evidence == "assumed", where
            assert t.events is not None, where
            assert t.events.names, where
    order = {"before": 0, "during": 1, "after": 2}
    phases = [order[stage.phase or ""] for stage in journey.stages]
    assert phases == sorted(phases), phases
    assert set(phases) == {0, 1, 2}


@pytest.mark.parametrize(("name", "language"), CASES)
def test_template_references_resolve(name: str, language: Language) -> None:
    journey = _template(name, language)
    department_ids = {d.id for d in journey.departments}
    persona_ids = {p.id for p in journey.personas}
    kpi_ids = set(kpi_catalogue()) | {k.id for k in journey.kpis}
    used_departments: set[str] = set()
    for _, t in journey.iter_touchpoints():
        assert set(t.departments) <= department_ids, (t.id, t.departments)
        assert set(t.personas) <= persona_ids, (t.id, t.personas)
        used_departments |= set(t.departments)
    assert used_departments == department_ids, "every department should act somewhere"
    for owner, target in _kpi_targets(journey):
        assert target.kpi in kpi_ids, (owner, target.kpi)
    # Custom KPIs exist to be used, and must not shadow catalogue ones.
    used = {target.kpi for _, target in _kpi_targets(journey)}
    for kpi in journey.kpis:
        assert kpi.id not in kpi_catalogue(), kpi.id
        assert kpi.id in used, kpi.id


@pytest.mark.parametrize(("name", "language"), CASES)
def test_template_ids_are_unique(name: str, language: Language) -> None:
    journey = _template(name, language)
    groups = {
        "stage": [s.id for s in journey.stages],
        "touchpoint": [t.id for _, t in journey.iter_touchpoints()],
        "milestone": [m.id for s in journey.stages for m in s.milestones],
        "department": [d.id for d in journey.departments],
        "persona": [p.id for p in journey.personas],
        "kpi": [k.id for k in journey.kpis],
    }
    for kind, ids in groups.items():
        assert len(ids) == len(set(ids)), (kind, ids)


@pytest.mark.parametrize(("name", "language"), CASES)
def test_template_passes_the_map_checks(name: str, language: Language) -> None:
    """The full validator (shape and cross-references) accepts the file as written."""
    folder = resources.files("jornada.model").joinpath("templates")
    text = folder.joinpath(f"{name}.{language}.yaml").read_text("utf-8")
    assert parse_journey_text(text, f"{name}.{language}.yaml") == _template(name, language)


@pytest.mark.parametrize(("name", "language"), CASES)
def test_template_values_are_plausible(name: str, language: Language) -> None:
    journey = _template(name, language)
    catalogue = kpi_catalogue()
    for owner, target in _kpi_targets(journey):
        value = target.target
        assert value is not None, (owner, target.kpi)
        assert value >= 0 or target.kpi == "nps", (owner, target.kpi, value)
        entry = catalogue.get(target.kpi)
        unit = entry.unit if entry else next(k.unit for k in journey.kpis if k.id == target.kpi)
        if unit == "ratio" and target.kpi not in {"frequency", "pages_per_visit", "roas"}:
            assert 0 <= value <= 1, (owner, target.kpi, value)
        if target.kpi == "csat":
            assert 1 <= value <= 5, (owner, value)
        if target.kpi == "ces":
            assert 1 <= value <= 7, (owner, value)
        if target.kpi == "nps":
            assert -100 <= value <= 100, (owner, value)

    channels = {entry.channel for entry in touchpoint_catalogue().values()} | EXTRA_CHANNELS
    for _, t in journey.iter_touchpoints():
        assert t.channel in channels, (t.id, t.channel)
        assert t.events is not None
        assert all(SNAKE.match(event) for event in t.events.names), t.events.names
        assert set(t.events.channels) <= channels, (t.id, t.events.channels)
        for pain in t.pain_points:
            assert 1 <= pain.severity <= 5

    milestones = [m for s in journey.stages for m in s.milestones]
    assert len(milestones) >= 3
    for milestone in milestones:
        assert milestone.within, milestone.id
        assert milestone.events is not None, milestone.id
        assert milestone.events.names, milestone.id
        assert all(SNAKE.match(event) for event in milestone.events.names)


# --------------------------------------------------------- across languages


@pytest.mark.parametrize("name", TEMPLATES)
@pytest.mark.parametrize("language", ["pt-BR", "es"])
def test_languages_share_the_skeleton(name: str, language: Language) -> None:
    english = _template(name, "en")
    other = _template(name, language)
    assert _skeleton(other) == _skeleton(english)


@pytest.mark.parametrize("name", TEMPLATES)
@pytest.mark.parametrize("language", ["pt-BR", "es"])
def test_languages_are_really_translated(name: str, language: Language) -> None:
    english = _texts(_template(name, "en"))
    other = _texts(_template(name, language))
    assert len(other) == len(english)
    untranslated = [text for en, text in zip(english, other, strict=True) if en == text and en]
    assert not untranslated
    stage_names = [s.name for s in _template(name, language).stages]
    english_names = [s.name for s in _template(name, "en").stages]
    assert sum(a != b for a, b in zip(stage_names, english_names, strict=True)) >= 3


# ------------------------------------------------------------------ the demo


def test_demo_map_has_a_real_dip_at_checkout_and_delivery() -> None:
    journey = _template("b2c-ecommerce", "en")
    scores = {
        stage.id: [t.emotion.score for t in stage.touchpoints if t.emotion]
        for stage in journey.stages
    }
    assert min(scores["buy"]) == -2
    assert min(scores["delivery"]) == -2
    first, last = journey.stages[0].id, journey.stages[-1].id
    assert sum(scores[first]) > 0
    assert sum(scores[last]) > 0
    assert max(scores[last]) == 2
    severe = [p for _, t in journey.iter_touchpoints() for p in t.pain_points if p.severity >= 4]
    assert len(severe) >= 5
    touchpoints = {t.id for _, t in journey.iter_touchpoints()}
    assert len(touchpoints) >= 15
    assert {"checkout", "home_delivery"} <= touchpoints
