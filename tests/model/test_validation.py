"""Every kind of validation problem is reported with file, line, path, message and hint."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from jornada.model.io import parse_document, read_document
from jornada.model.problems import MapFileError
from jornada.model.validation import load_journey, parse_journey_text, validate_document

VALID = """\
id: shop
title: Buying running shoes
departments:
  - id: marketing
    name: Marketing
personas:
  - id: ana
    name: Ana
stages:
  - id: awareness
    name: Awareness
    touchpoints:
      - id: ads
        name: Online ads
        departments: [marketing]
        personas: [ana]
        emotion: {score: 1, label: curious}
        kpis:
          - kpi: ctr
            target: 0.02
  - id: purchase
    name: Purchase
    touchpoints:
      - id: checkout
        name: Checkout
"""


def problems_of(text: str) -> list[tuple[int | None, str, str]]:
    report = validate_document(parse_document(textwrap.dedent(text), "map.yaml"))
    return [(p.line, p.path, p.message) for p in report.problems]


def test_valid_map_has_no_problems() -> None:
    report = validate_document(parse_document(VALID, "map.yaml"))
    assert report.ok
    assert report.journey is not None
    assert [s.id for s in report.journey.stages] == ["awareness", "purchase"]


def test_emotion_out_of_range_names_line_path_and_hint() -> None:
    text = VALID.replace("score: 1,", "score: 5,")
    report = validate_document(parse_document(text, "map.yaml"))
    assert len(report.problems) == 1
    problem = report.problems[0]
    assert problem.file == "map.yaml"
    assert problem.line == 17
    assert problem.path == "stages[0].touchpoints[0].emotion.score"
    assert "less than or equal to 2" in problem.message
    assert "got 5" in problem.message
    assert problem.hint is not None
    assert "-2" in problem.hint
    assert str(problem).startswith("map.yaml:17: stages[0].touchpoints[0].emotion.score: ")


def test_a_nul_character_is_refused_at_its_cell() -> None:
    # YAML's "\\0" escape makes a NUL, which the engine's SQL parser would choke on.
    text = VALID.replace("name: Checkout", 'name: Checkout\n        events: {names: ["buy\\0now"]}')
    report = validate_document(parse_document(text, "map.yaml"))
    assert [(p.path, p.message) for p in report.problems] == [
        (
            "stages[1].touchpoints[0].events.names",
            "value error, text holds a NUL character (\\0): remove it",
        )
    ]
    assert report.journey is None


def test_unknown_field_lists_known_fields() -> None:
    text = VALID.replace(
        "        name: Checkout\n", "        name: Checkout\n        chanel: web\n"
    )
    [problem] = validate_document(parse_document(text, "map.yaml")).problems
    assert (problem.line, problem.path, problem.message) == (
        26,
        "stages[1].touchpoints[0].chanel",
        "unknown field",
    )
    assert problem.hint is not None
    assert "channel" in problem.hint


def test_wrong_type_and_missing_field() -> None:
    text = VALID.replace("  - id: purchase\n    name: Purchase\n", "  - id: purchase\n")
    text = text.replace("target: 0.02", "target: high")
    found = problems_of(text)
    assert (21, "stages[1].name", "field required") in found
    assert any(
        path == "stages[0].touchpoints[0].kpis[0].target" and line == 20 for line, path, _ in found
    )


def test_duplicate_ids_are_reported_at_the_second_occurrence() -> None:
    text = VALID.replace("      - id: checkout", "      - id: ads")
    assert problems_of(text) == [
        (24, "stages[1].touchpoints[0].id", "duplicate touchpoint id 'ads'")
    ]


def test_duplicate_stage_ids() -> None:
    text = VALID.replace("  - id: purchase", "  - id: awareness")
    assert problems_of(text) == [(21, "stages[1].id", "duplicate stage id 'awareness'")]


def test_unknown_references() -> None:
    text = VALID.replace("departments: [marketing]", "departments: [sales]")
    text = text.replace("personas: [ana]", "personas: [bob]").replace("kpi: ctr", "kpi: happiness")
    report = validate_document(parse_document(text, "map.yaml"))
    messages = {p.path: (p.line, p.message, p.hint) for p in report.problems}
    assert messages["stages[0].touchpoints[0].departments[0]"][:2] == (
        15,
        "unknown department 'sales'",
    )
    assert "marketing" in (messages["stages[0].touchpoints[0].departments[0]"][2] or "")
    assert messages["stages[0].touchpoints[0].personas[0]"][:2] == (16, "unknown persona 'bob'")
    assert messages["stages[0].touchpoints[0].kpis[0].kpi"][:2] == (19, "unknown KPI 'happiness'")


def test_a_map_defined_kpi_is_known() -> None:
    text = (
        VALID.replace("kpi: ctr", "kpi: demo_requests")
        + "kpis:\n  - id: demo_requests\n    name: Demo requests\n"
    )
    assert problems_of(text) == []


def test_empty_stage_and_empty_map() -> None:
    text = VALID.replace("    touchpoints:\n      - id: checkout\n        name: Checkout\n", "")
    assert problems_of(text) == [(21, "stages[1].touchpoints", "the stage has no touchpoints")]
    assert problems_of("id: x\ntitle: X\n") == [(1, "stages", "the map has no stages")]


def test_custom_lane_cells_must_be_declared() -> None:
    text = VALID.replace(
        "        name: Checkout\n", "        name: Checkout\n        cells: {channels_used: web}\n"
    )
    assert problems_of(text) == [
        (
            26,
            "stages[1].touchpoints[0].cells.channels_used",
            "text for lane 'channels_used', which the map does not declare",
        )
    ]
    declared = (
        text + "lanes:\n  - id: touchpoints\n  - id: channels_used\n    title: Channels used\n"
    )
    assert problems_of(declared) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: [unclosed\n", "not valid YAML/JSON"),
        ("- just\n- a list\n", "a map is a mapping of fields"),
        ("", "a map is a mapping of fields (id, title, stages, ...), found nothing"),
        ("id: shop\nid: again\ntitle: T\n", "the key 'id' appears twice"),
        ("\tid: tab\n", "not valid YAML/JSON"),
        ('{"id": "shop", "title": ', "not valid JSON"),
        ("!!python/object:os.system {}\n", "not valid YAML/JSON"),
    ],
)
def test_malformed_documents_give_problems_not_tracebacks(text: str, message: str) -> None:
    report = validate_document(parse_document(text, "bad.yaml"))
    assert not report.ok
    assert any(message in p.message for p in report.problems), report.problems


def test_yes_and_no_stay_text() -> None:
    journey = parse_journey_text(VALID.replace("name: Checkout", "name: no"))
    assert journey.stages[1].touchpoints[0].name == "no"


def test_numbers_in_text_fields_are_read_as_text() -> None:
    journey = parse_journey_text(VALID.replace("    name: Ana\n", "    name: Ana\n    age: 35\n"))
    assert journey.personas[0].age == "35"


def test_binary_and_non_utf8_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    [problem] = read_document(junk).problems
    assert problem.file == str(junk)
    assert problem.message == "not UTF-8 text"
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("id: x\ntitle: Jornada de compra\nstages: []\n# açúcar\n".encode("latin-1"))
    [problem] = read_document(latin).problems
    assert problem.line == 4
    assert "UTF-8" in (problem.hint or "")
    nul = tmp_path / "nul.yaml"
    nul.write_bytes(b"id: x\n\x00")
    assert read_document(nul).problems[0].message.startswith("binary content")
    missing = tmp_path / "missing.yaml"
    assert "cannot read the file" in read_document(missing).problems[0].message


def test_load_journey_raises_one_error_listing_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(VALID.replace("score: 1", "score: 9").replace("kpi: ctr", "kpi: nope"), "utf-8")
    with pytest.raises(MapFileError) as caught:
        load_journey(path)
    # Shape errors stop before cross-checks, so the user fixes them first.
    assert [p.path for p in caught.value.problems] == ["stages[0].touchpoints[0].emotion.score"]
    assert f"{path}:17:" in str(caught.value)


def test_json_maps_validate_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text(
        '{\n  "id": "j",\n  "title": "J",\n  "stages": [\n    {"id": "s", "name": "S", "touchpoints": [{"id": "t", "name": "T", "evidence": "guessed"}]}\n  ]\n}\n'
    )
    report = validate_document(read_document(path))
    [problem] = report.problems
    assert problem.path == "stages[0].touchpoints[0].evidence"
    assert problem.line == 5
    assert "'assumed', 'researched' or 'measured'" in problem.message
