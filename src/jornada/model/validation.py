"""Checking a journey map: the model's own rules plus the cross-checks between its parts.

>>> from jornada.model.io import parse_document
>>> doc = parse_document("id: shop\\ntitle: Shop\\nstages:\\n  - id: a\\n    name: A\\n", "shop.yaml")
>>> [str(p) for p in validate_document(doc).problems]
['shop.yaml:4: stages[0].touchpoints: the stage has no touchpoints (hint: add at least one touchpoint, or remove the stage)']
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from jornada.model.catalogue import kpi_catalogue
from jornada.model.io import Document, parse_document, read_document
from jornada.model.journey import Journey
from jornada.model.kpi import KpiTarget
from jornada.model.problems import MapFileError, Problem

__all__ = [
    "ValidationReport",
    "load_journey",
    "parse_journey_text",
    "validate_document",
    "validate_file",
]


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of checking one map file: the journey when it is valid, and the problems."""

    source: str
    journey: Journey | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.source,
            "valid": self.ok,
            "problems": [problem.to_dict() for problem in self.problems],
        }


def _path_of(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path = f"{path}[{part}]" if isinstance(part, int) else (f"{path}.{part}" if path else part)
    return path


def _field_names(model_path: str) -> list[str]:
    """Known field names at a location, for the hint of an unknown-field error."""
    from jornada.model import stage as stage_module
    from jornada.model import touchpoint as touchpoint_module
    from jornada.model.binding import EventBinding
    from jornada.model.journey import Department
    from jornada.model.kpi import KpiDefinition
    from jornada.model.lanes import Lane
    from jornada.model.persona import Persona

    last = model_path.rsplit(".", 1)[-1].split("[", 1)[0]
    by_key: dict[str, Any] = {
        "": Journey,
        "stages": stage_module.Stage,
        "touchpoints": touchpoint_module.Touchpoint,
        "milestones": stage_module.Milestone,
        "personas": Persona,
        "departments": Department,
        "lanes": Lane,
        "events": EventBinding,
        "emotion": touchpoint_module.Emotion,
        "pain_points": touchpoint_module.PainPoint,
        "opportunities": touchpoint_module.Opportunity,
    }
    if last == "kpis":
        model = KpiDefinition if model_path.startswith("kpis") else KpiTarget
    else:
        model = by_key.get(last if "." in model_path or "[" in model_path else "", Journey)
    return list(model.model_fields)


def _hint(error: ErrorDetails, path: str) -> str | None:
    kind = error["type"]
    field = path.rsplit(".", 1)[-1]
    if kind == "extra_forbidden":
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        return "known fields here: " + ", ".join(_field_names(parent))
    if kind == "missing":
        return f"add `{field}:`"
    if field == "score" and ".emotion" in path:
        return "emotion runs from -2 (very negative) through 0 (neutral) to +2 (very positive)"
    if field in {"severity", "impact", "effort"}:
        return f"{field} is a whole number from 1 (low) to 5 (high)"
    if kind == "string_pattern_mismatch" and field in {"id", "departments", "personas"}:
        return "ids use letters, digits, '_', '-' or '.', start with a letter or digit, max 64"
    if kind == "string_pattern_mismatch" and field == "within":
        return "write a duration like 7d, 12h, 30m or 2w"
    if kind == "literal_error":
        return None  # pydantic's message already lists the allowed values
    if kind in {"list_type", "dict_type", "model_type"}:
        return "check the indentation: this should be a list" if kind == "list_type" else None
    return None


def _message(error: ErrorDetails) -> str:
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] in {"less_than_equal", "greater_than_equal"}:
        return f"{message[0].lower()}{message[1:]}, got {error['input']!r}"
    return message[0].lower() + message[1:]


def _schema_problems(error: ValidationError, document: Document) -> list[Problem]:
    problems = []
    for detail in error.errors(include_url=False):
        path = _path_of(detail["loc"])
        problems.append(
            Problem(
                document.source,
                document.line_of(path),
                path,
                _message(detail),
                _hint(detail, path),
            )
        )
    return problems


def _duplicates(items: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """(id, path) pairs whose id was already seen; the later one is reported."""
    seen: set[str] = set()
    for item_id, path in items:
        if item_id in seen:
            yield item_id, path
        seen.add(item_id)


def _cross_check(journey: Journey) -> Iterator[tuple[str, str, str | None]]:
    """(path, message, hint) for every inconsistency between parts of a valid-shaped map."""
    if not journey.stages:
        yield "stages", "the map has no stages", "add at least one stage with a touchpoint"

    groups: dict[str, list[tuple[str, str]]] = {
        "persona": [(p.id, f"personas[{i}].id") for i, p in enumerate(journey.personas)],
        "department": [(d.id, f"departments[{i}].id") for i, d in enumerate(journey.departments)],
        "stage": [(s.id, f"stages[{i}].id") for i, s in enumerate(journey.stages)],
        "KPI": [(k.id, f"kpis[{i}].id") for i, k in enumerate(journey.kpis)],
        "lane": [(lane.id, f"lanes[{i}].id") for i, lane in enumerate(journey.lanes)],
        # Touchpoint and milestone ids are unique across the whole map: event
        # bindings and the analyses refer to them without naming the stage.
        "touchpoint": [
            (t.id, f"stages[{i}].touchpoints[{j}].id")
            for i, s in enumerate(journey.stages)
            for j, t in enumerate(s.touchpoints)
        ],
        "milestone": [
            (m.id, f"stages[{i}].milestones[{j}].id")
            for i, s in enumerate(journey.stages)
            for j, m in enumerate(s.milestones)
        ],
    }
    for kind, items in groups.items():
        for item_id, path in _duplicates(items):
            yield path, f"duplicate {kind} id {item_id!r}", f"give each {kind} its own id"

    orders = [
        (str(s.order), f"stages[{i}].order")
        for i, s in enumerate(journey.stages)
        if s.order is not None
    ]
    for order, path in _duplicates(orders):
        yield path, f"two stages have order {order}", "give each stage a different order"

    department_ids = {d.id for d in journey.departments}
    persona_ids = {p.id for p in journey.personas}
    kpi_ids = set(kpi_catalogue()) | {k.id for k in journey.kpis}
    custom_lanes = {lane.id for lane in journey.lanes if not lane.is_builtin}

    def known(kind: str, ids: set[str]) -> str:
        return f"known {kind}: " + (", ".join(sorted(ids)) if ids else "none; define them first")

    def check_kpis(kpis: list[KpiTarget], path: str) -> Iterator[tuple[str, str, str | None]]:
        for k, target in enumerate(kpis):
            if target.kpi not in kpi_ids:
                yield (
                    f"{path}.kpis[{k}].kpi",
                    f"unknown KPI {target.kpi!r}",
                    "use a catalogue id (`jornada kpis --catalogue` lists them) "
                    "or define it in the map's `kpis:`",
                )

    def check_cells(cells: dict[str, str], path: str) -> Iterator[tuple[str, str, str | None]]:
        for lane_id in cells:
            if lane_id not in custom_lanes:
                yield (
                    f"{path}.cells.{lane_id}",
                    f"text for lane {lane_id!r}, which the map does not declare",
                    f"add `- id: {lane_id}` under `lanes:`",
                )

    for i, stage in enumerate(journey.stages):
        stage_path = f"stages[{i}]"
        if not stage.touchpoints:
            yield (
                f"{stage_path}.touchpoints",
                "the stage has no touchpoints",
                "add at least one touchpoint, or remove the stage",
            )
        yield from check_kpis(stage.kpis, stage_path)
        yield from check_cells(stage.cells, stage_path)
        for j, touchpoint in enumerate(stage.touchpoints):
            path = f"{stage_path}.touchpoints[{j}]"
            for d, department in enumerate(touchpoint.departments):
                if department not in department_ids:
                    yield (
                        f"{path}.departments[{d}]",
                        f"unknown department {department!r}",
                        known("departments", department_ids),
                    )
            for p, persona in enumerate(touchpoint.personas):
                if persona not in persona_ids:
                    yield (
                        f"{path}.personas[{p}]",
                        f"unknown persona {persona!r}",
                        known("personas", persona_ids),
                    )
            yield from check_kpis(touchpoint.kpis, path)
            yield from check_cells(touchpoint.cells, path)

    for i, lane in enumerate(journey.lanes):
        if not lane.is_builtin and lane.title is None:
            yield (
                f"lanes[{i}].title",
                "a custom lane needs a title",
                f"add `title:` to lane {lane.id!r}",
            )


def validate_document(document: Document) -> ValidationReport:
    """Check a parsed document: shape first, then cross-references."""
    if document.problems and document.data is None:
        return ValidationReport(document.source, None, document.problems)
    problems = list(document.problems)
    if not isinstance(document.data, dict):
        found = "nothing" if document.data is None else type(document.data).__name__
        problems.append(
            Problem(
                document.source,
                1,
                "",
                f"a map is a mapping of fields (id, title, stages, ...), found {found}",
                "start from `jornada map new --template b2c-ecommerce`",
            )
        )
        return ValidationReport(document.source, None, tuple(problems))
    try:
        journey = Journey.model_validate(document.data)
    except ValidationError as error:
        problems.extend(_schema_problems(error, document))
        return ValidationReport(document.source, None, tuple(problems))
    for path, message, hint in _cross_check(journey):
        problems.append(Problem(document.source, document.line_of(path), path, message, hint))
    return ValidationReport(document.source, None if problems else journey, tuple(problems))


def validate_file(path: Path) -> ValidationReport:
    """Read and check one map file; never raises on bad content."""
    return validate_document(read_document(path))


def load_journey(path: Path) -> Journey:
    """Read a valid map file, or raise :class:`MapFileError` listing every problem."""
    report = validate_file(path)
    if report.journey is None:
        raise MapFileError(list(report.problems))
    return report.journey


def parse_journey_text(text: str, source: str = "<text>") -> Journey:
    """Parse and check map text (YAML or JSON), or raise :class:`MapFileError`."""
    report = validate_document(parse_document(text, source))
    if report.journey is None:
        raise MapFileError(list(report.problems))
    return report.journey
