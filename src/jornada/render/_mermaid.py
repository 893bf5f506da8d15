"""The map as a Mermaid ``journey`` diagram (for Markdown files, wikis and pull requests)."""

from __future__ import annotations

import re

from jornada.model import Journey

__all__ = ["mermaid_text", "render_mermaid"]

# Mermaid's journey lexer ends a name at ':', '#', ';' or a newline, starts a comment
# at '%%' or '#', reads ',' as an actor separator, and takes a line starting with one
# of its keywords (in any case) as that statement. Lookalike characters keep the
# text readable without breaking the diagram; '<' and '>' are replaced too, so no
# markup can reach a renderer that treats labels as HTML.
_REPLACEMENTS = str.maketrans(
    {
        ":": "\u2236",  # RATIO, looks like a colon
        "#": "\u266f",  # MUSIC SHARP SIGN, looks like '#'
        ";": ",",
        "<": "\u2039",
        ">": "\u203a",
        "{": "(",
        "}": ")",
        "`": "'",
        '"': "\u201d",
    }
)
_KEYWORD = re.compile(r"^(journey|title|section|acctitle|accdescr)\b", re.IGNORECASE)


def mermaid_text(text: str, *, actor: bool = False) -> str:
    """``text`` made safe to stand as a Mermaid journey title, section, task or actor.

    >>> mermaid_text("Step 1: pay; #2")
    'Step 1∶ pay, ♯2'
    """
    clean = " ".join(text.split()).translate(_REPLACEMENTS)
    clean = re.sub(r"%+", "%", clean)
    if actor:
        clean = clean.replace(",", " ")
        clean = " ".join(clean.split())
    if _KEYWORD.match(clean):
        clean = "\u200b" + clean  # a zero-width space keeps it from reading as a keyword
    return clean or "-"


def render_mermaid(journey: Journey) -> str:
    """A Mermaid ``journey`` diagram: a section per stage, a task per touchpoint scored
    1..5 from its emotion (-2..+2, neutral when unknown), with its departments as actors."""
    lines = ["journey", f"    title {mermaid_text(journey.title)}"]
    for stage in journey.ordered_stages():
        lines.append(f"    section {mermaid_text(stage.name)}")
        for touchpoint in stage.touchpoints:
            score = touchpoint.emotion.score + 3 if touchpoint.emotion else 3
            actors = []
            for department_id in touchpoint.departments:
                department = journey.department(department_id)
                name = department.name if department else department_id
                actors.append(mermaid_text(name, actor=True))
            task = f"      {mermaid_text(touchpoint.name)}: {score}"
            if actors:
                task += ": " + ", ".join(actors)
            lines.append(task)
    return "\n".join(lines) + "\n"
