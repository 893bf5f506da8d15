"""The Mermaid journey diagram."""

from __future__ import annotations

import re

import pytest

from jornada.model import Journey
from jornada.render import render_mermaid
from jornada.render._mermaid import mermaid_text


def test_structure_of_the_sample_map(rich_journey: Journey) -> None:
    lines = render_mermaid(rich_journey).splitlines()
    assert lines[:3] == [
        "journey",
        "    title Buying a home espresso machine online",
        "    section Discover",
    ]
    sections = [line[len("    section ") :] for line in lines if line.startswith("    section ")]
    assert sections == [s.name for s in rich_journey.ordered_stages()]
    tasks = [line.strip() for line in lines if line.startswith("      ")]
    assert len(tasks) == sum(len(s.touchpoints) for s in rich_journey.stages)
    assert "Instagram ad: 4: Marketing" in tasks  # emotion +1 → 4
    assert "Friend's recommendation: 5" in tasks  # +2 → 5, no department, no actors
    assert "Checkout: 1: E-commerce, Sales" in tasks  # -2 → 1, departments by name
    assert "Product page: 3: E-commerce" in tasks  # emotion 0 → 3


def test_score_defaults_to_neutral_without_emotion() -> None:
    journey = Journey.model_validate(
        {
            "id": "j",
            "title": "T",
            "stages": [{"id": "a", "name": "A", "touchpoints": [{"id": "x", "name": "X"}]}],
        }
    )
    assert render_mermaid(journey) == "journey\n    title T\n    section A\n      X: 3\n"


def test_stage_order_and_unknown_departments() -> None:
    journey = Journey.model_validate(
        {
            "id": "j",
            "title": "T",
            "stages": [
                {"id": "b", "name": "Second", "order": 2},
                {
                    "id": "a",
                    "name": "First",
                    "order": 1,
                    "touchpoints": [{"id": "x", "name": "X", "departments": ["ghost"]}],
                },
            ],
        }
    )
    lines = render_mermaid(journey).splitlines()
    assert lines[2:] == ["    section First", "      X: 3: ghost", "    section Second"]


@pytest.mark.parametrize(
    ("text", "forbidden"),
    [
        ("Step 1: pay", ":"),
        ("Line one\nline two", "\n"),
        ("Order #42", "#"),
        ("a; b", ";"),
        ("100%% sure", "%%"),
        ("<b>bold</b>", "<"),
    ],
)
def test_text_that_would_break_mermaid_is_replaced(text: str, forbidden: str) -> None:
    clean = mermaid_text(text)
    assert forbidden not in clean
    assert clean.strip() == clean
    assert clean


def test_keywords_and_actor_commas() -> None:
    assert not re.match(r"(?i)section\b", mermaid_text("Section A"))
    assert not re.match(r"(?i)title\b", mermaid_text("title deeds"))
    assert mermaid_text("Sales, EMEA", actor=True) == "Sales EMEA"
    journey = Journey.model_validate(
        {
            "id": "j",
            "title": "Journey: the best",
            "departments": [{"id": "d", "name": "R&D, Labs: core"}],
            "stages": [
                {
                    "id": "a",
                    "name": "Title: intro",
                    "touchpoints": [
                        {"id": "x", "name": "Journey planner", "departments": ["d"]},
                    ],
                }
            ],
        }
    )
    lines = render_mermaid(journey).splitlines()
    assert lines[1] == "    title \u200bJourney∶ the best"
    assert lines[2] == "    section \u200bTitle∶ intro"
    assert lines[3] == "      \u200bJourney planner: 3: R&D Labs∶ core"
