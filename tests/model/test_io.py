"""Load → save → load is lossless, and saving is stable (same map, same bytes)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jornada.model import (
    Department,
    Emotion,
    EventBinding,
    Journey,
    KpiDefinition,
    KpiTarget,
    Lane,
    Milestone,
    Opportunity,
    PainPoint,
    Persona,
    Stage,
    Touchpoint,
)
from jornada.model.io import dump_journey, dumps_journey
from jornada.model.validation import load_journey, parse_journey_text

# Any text a person might type, including YAML's special characters, quotes,
# newlines, emoji and words YAML 1.1 would turn into booleans (not NUL: maps refuse it).
TEXT = (
    st.one_of(
        st.text(
            st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
            min_size=1,
            max_size=20,
        ),
        st.sampled_from(
            [
                "no",
                "yes",
                "on",
                "null",
                "~",
                "1.0",
                "2026-01-01",
                "- x",
                "a: b",
                "#c",
                "'q'",
                '"d"',
                "açaí ✓",
            ]
        ),
    )
    .map(str.strip)
    .filter(bool)
)
IDS = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)
SMALL = st.integers(1, 5)


def unique_ids(n_max: int) -> st.SearchStrategy[list[str]]:
    return st.lists(IDS, max_size=n_max, unique=True)


@st.composite
def journeys(draw: st.DrawFn) -> Journey:
    department_ids = draw(unique_ids(3))
    departments = [
        Department(id=d, name=draw(TEXT), color=draw(st.none() | st.just("#12ab9f")))
        for d in department_ids
    ]
    personas = [
        Persona(
            id=p,
            name=draw(TEXT),
            quote=draw(st.none() | TEXT),
            goals=draw(st.lists(TEXT, max_size=2)),
            attributes=draw(st.dictionaries(IDS, TEXT, max_size=2)),
        )
        for p in draw(unique_ids(2))
    ]
    lanes = [
        Lane(id="touchpoints"),
        Lane(id="emotion", hidden=draw(st.booleans())),
        Lane(id="notes", title="Notes"),
    ]
    all_ids = draw(st.lists(IDS, min_size=2, max_size=12, unique=True))
    stage_count = draw(st.integers(1, max(1, len(all_ids) // 2)))
    stage_ids, touchpoint_ids = all_ids[:stage_count], all_ids[stage_count:]
    stages = []
    for index, stage_id in enumerate(stage_ids):
        mine = touchpoint_ids[index::stage_count] or []
        touchpoints = [
            Touchpoint(
                id=t,
                name=draw(TEXT),
                channel=draw(st.none() | st.sampled_from(["web", "email", "store"])),
                category=draw(st.none() | st.sampled_from(["marketing_reach", "feedback"])),
                directness=draw(st.sampled_from(["direct", "indirect"])),
                departments=draw(st.lists(st.sampled_from(department_ids), unique=True))
                if department_ids
                else [],
                actions=draw(st.lists(TEXT, max_size=2)),
                thoughts=draw(st.lists(TEXT, max_size=1)),
                emotion=draw(
                    st.none() | st.builds(Emotion, score=st.integers(-2, 2), label=st.none() | TEXT)
                ),
                pain_points=draw(
                    st.lists(st.builds(PainPoint, text=TEXT, severity=SMALL), max_size=2)
                ),
                opportunities=draw(
                    st.lists(
                        st.builds(Opportunity, text=TEXT, impact=SMALL, effort=SMALL), max_size=1
                    )
                ),
                kpis=draw(
                    st.lists(
                        st.builds(
                            KpiTarget,
                            kpi=st.sampled_from(["ctr", "csat"]),
                            target=st.none() | st.floats(-1e6, 1e6),
                        ),
                        max_size=1,
                    )
                ),
                evidence=draw(st.sampled_from(["assumed", "researched", "measured"])),
                events=draw(
                    st.none()
                    | st.builds(
                        EventBinding,
                        names=st.lists(IDS, min_size=1, max_size=2),
                        where=st.none() | TEXT,
                    )
                ),
                cells=draw(st.dictionaries(st.just("notes"), TEXT, max_size=1)),
            )
            for t in mine
        ]
        stages.append(
            Stage(
                id=stage_id,
                name=draw(TEXT),
                order=draw(st.none() | st.just(index * 10)),
                phase=draw(st.none() | st.sampled_from(["before", "during", "after"])),
                description=draw(st.none() | TEXT),
                touchpoints=touchpoints,
                milestones=draw(
                    st.lists(
                        st.builds(
                            Milestone,
                            id=st.just(f"m-{stage_id}"),
                            name=TEXT,
                            within=st.none() | st.just("7d"),
                        ),
                        max_size=1,
                    )
                ),
            )
        )
    return Journey(
        id=draw(IDS),
        title=draw(TEXT),
        kind=draw(st.sampled_from(["journey", "experience"])),
        description=draw(st.none() | TEXT),
        status=draw(st.sampled_from(["draft", "researched", "live", "archived"])),
        language=draw(st.sampled_from(["en", "pt-BR", "es"])),
        tags=draw(st.lists(TEXT, max_size=2)),
        version=draw(st.integers(1, 50)),
        updated=draw(st.none() | st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1))),
        personas=personas,
        departments=departments,
        stages=stages,
        kpis=[KpiDefinition(id="demo_requests", name="Demo requests")],
        lanes=lanes,
    )


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(journeys())
def test_yaml_round_trip_is_lossless(journey: Journey) -> None:
    text = dumps_journey(journey)
    assert parse_journey_text(text, "generated.yaml") == journey
    assert dumps_journey(parse_journey_text(text)) == text


@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(journeys())
def test_json_round_trip_is_lossless(journey: Journey) -> None:
    assert parse_journey_text(dumps_journey(journey, format="json"), "generated.json") == journey


def test_saved_files_keep_the_model_field_order(tmp_path: Path) -> None:
    journey = Journey(
        id="shop",
        title="Shop",
        status="live",
        stages=[
            Stage(
                id="s",
                name="S",
                touchpoints=[Touchpoint(id="t", name="Checkout", emotion=Emotion(score=-1))],
            )
        ],
        departments=[Department(id="d", name="D")],
    )
    path = tmp_path / "shop.yaml"
    dump_journey(journey, path)
    assert path.read_text("utf-8") == (
        "id: shop\n"
        "title: Shop\n"
        "status: live\n"
        "departments:\n"
        "  - id: d\n"
        "    name: D\n"
        "stages:\n"
        "  - id: s\n"
        "    name: S\n"
        "    touchpoints:\n"
        "      - id: t\n"
        "        name: Checkout\n"
        "        emotion:\n"
        "          score: -1\n"
    )
    assert load_journey(path) == journey
    assert not list(tmp_path.glob(".*.tmp")), "the atomic write left its temporary file"


def test_multiline_text_is_written_as_a_block() -> None:
    journey = Journey(id="j", title="J", description="first line\nsecond line")
    assert "description: |-\n  first line\n  second line\n" in dumps_journey(journey)
