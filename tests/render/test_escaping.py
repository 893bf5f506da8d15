"""Text from a map is always text: escaped in HTML and SVG, defused in Mermaid."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from markupsafe import escape

from jornada.model import Journey
from jornada.render import render_html, render_map_fragment, render_mermaid, render_svg

from .conftest import make_rich_journey


def hostile(field: str) -> str:
    return f"<script>alert({field})</script> \"{field}\" & '{field}' &amp;"


# Every user-text field of a map that the map drawing shows, by a short name.
SHOWN = [
    "title", "description", "goal", "owner", "tag",
    "p_name", "p_quote", "p_backstory", "p_role", "p_age", "p_location", "p_education",
    "p_income", "p_goal", "p_challenge", "p_motivation", "p_success", "p_channel",
    "pattrkey", "p_attr_value",
    "d_name",
    "k_name",
    "lane_title",
    "s_name", "s_description", "s_goal", "s_cell",
    "t_name", "t_description", "t_channel", "t_action", "t_question", "t_motivation",
    "t_thought", "t_emotion", "t_pain", "t_opportunity", "t_kpi_note", "t_kpi_unit",
    "t_cell", "m_name", "m_description",
]  # fmt: skip


def hostile_journey() -> Journey:
    h = hostile
    data: dict[str, Any] = {
        "id": "xss",
        "title": h("title"),
        "description": h("description"),
        "goal": h("goal"),
        "owner": h("owner"),
        "tags": [h("tag")],
        "personas": [
            {
                "id": "p",
                "name": h("p_name"),
                "quote": h("p_quote"),
                "backstory": h("p_backstory"),
                "role": h("p_role"),
                "age": h("p_age"),
                "location": h("p_location"),
                "education": h("p_education"),
                "income_band": h("p_income"),
                "goals": [h("p_goal")],
                "challenges": [h("p_challenge")],
                "motivations": [h("p_motivation")],
                "success": h("p_success"),
                "preferred_channels": [h("p_channel")],
                "attributes": {h("pattrkey"): h("p_attr_value")},
            }
        ],
        "departments": [
            {"id": "d", "name": h("d_name"), "lead": h("d_lead"), "description": h("d_desc")}
        ],
        "kpis": [{"id": "own_kpi", "name": h("k_name")}],
        "lanes": [
            *(
                {"id": lane}
                for lane in (
                    "touchpoints",
                    "actions",
                    "questions",
                    "motivations",
                    "thoughts",
                    "emotion",
                    "pain_points",
                    "opportunities",
                    "departments",
                    "kpis",
                    "milestones",
                )
            ),
            {"id": "extra", "title": h("lane_title")},
        ],
        "stages": [
            {
                "id": "s",
                "name": h("s_name"),
                "description": h("s_description"),
                "goal": h("s_goal"),
                "phase": "during",
                "cells": {"extra": h("s_cell")},
                "kpis": [{"kpi": "own_kpi", "target": 3}],
                "milestones": [{"id": "m", "name": h("m_name"), "description": h("m_description")}],
                "touchpoints": [
                    {
                        "id": "t",
                        "name": h("t_name"),
                        "description": h("t_description"),
                        "channel": h("t_channel"),
                        "departments": ["d"],
                        "actions": [h("t_action")],
                        "questions": [h("t_question")],
                        "motivations": [h("t_motivation")],
                        "thoughts": [h("t_thought")],
                        "emotion": {"score": -1, "label": h("t_emotion")},
                        "pain_points": [{"text": h("t_pain")}],
                        "opportunities": [{"text": h("t_opportunity")}],
                        "kpis": [
                            {
                                "kpi": "own_kpi",
                                "target": 1,
                                "note": h("t_kpi_note"),
                                "unit": h("t_kpi_unit"),
                            }
                        ],
                        "cells": {"extra": h("t_cell")},
                    },
                    {"id": "t2", "name": "<script>alert(1)</script>"},
                ],
            }
        ],
    }
    return Journey.model_validate(data)


@pytest.fixture
def journey(fixed_catalogue: None) -> Journey:
    return hostile_journey()


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("render", [render_html, render_map_fragment], ids=["page", "fragment"])
def test_html_escapes_every_field(journey: Journey, render: Any) -> None:
    html = render(journey)
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for field in SHOWN:
        assert str(escape(hostile(field))) in html, f"{field} is not shown escaped"
    # Text that only goes into attributes (the department lead's tooltip) is escaped too.
    assert str(escape(hostile("d_lead"))) in html


def test_svg_escapes_every_field(journey: Journey) -> None:
    svg = render_svg(journey)
    assert "<script" not in svg.lower()
    root = ET.fromstring(svg)  # well-formed XML, whatever the text
    assert not [e for e in root.iter() if e.tag.rsplit("}", 1)[-1] in {"script", "foreignObject"}]
    texts = [_squeeze("".join(element.itertext())) for element in root.iter()]
    everything = "|".join(texts)
    assert "<script>alert(1)</script>" in everything  # as text content, not as markup
    for field in SHOWN:
        if field == "t_channel":
            continue  # shortened to fit the card's top row
        wanted = _squeeze(hostile(field))
        if field in {"lane_title", "pattrkey"}:
            wanted = wanted.upper()  # headings set in capitals
        assert wanted in everything, f"{field} is not shown as text"


def test_mermaid_defuses_every_field(journey: Journey) -> None:
    text = render_mermaid(journey)
    lines = text.splitlines()
    assert lines[0] == "journey"
    assert "<" not in text
    assert ">" not in text
    assert "#" not in text
    assert ";" not in text
    assert "%%" not in text
    title, *rest = lines[1:]
    assert title.startswith("    title ")
    for line in rest:
        if line.startswith("    section "):
            assert ":" not in line
        else:
            assert re.fullmatch(r"      [^:#;\n]+: [1-5](: [^:#;\n,]+(, [^:#;\n,]+)*)?", line), line


def test_quotes_and_ampersands_in_ordinary_text() -> None:
    journey = make_rich_journey().model_copy(update={"title": 'Tom & Jerry\'s "best" shop'})
    html = render_html(journey)
    assert "Tom &amp; Jerry&#39;s &#34;best&#34; shop" in html
    svg = render_svg(journey)
    assert "Tom &amp; Jerry&#39;s &#34;best&#34; shop" in svg
    ET.fromstring(svg)
