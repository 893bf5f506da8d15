"""Reading and writing journey map files (YAML or JSON), keeping track of line numbers.

Reading never raises a traceback at the user: every problem becomes a
:class:`~jornada.model.problems.Problem` naming the file, the line and the path in
the document. Writing keeps the model's field order, so diffs stay small.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from jornada.model.journey import Journey
from jornada.model.problems import MapFileError, Problem

__all__ = [
    "Document",
    "dump_journey",
    "dumps_journey",
    "parse_document",
    "read_document",
]

# A map file larger than this is almost surely not a map (or an attack on the parser).
MAX_MAP_BYTES = 5 * 1024 * 1024


class _MapLoader(yaml.SafeLoader):
    """SafeLoader whose booleans are only ``true``/``false`` (YAML 1.2 style).

    YAML 1.1 reads ``no``, ``on`` or ``off`` as booleans, so a touchpoint called
    "No" would silently become ``False``; map text is text.
    """


_MapLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_MapLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


@dataclass(frozen=True)
class Document:
    """A parsed map file: its data and where each path of it sits in the file."""

    source: str
    data: object
    lines: dict[str, int] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()

    def line_of(self, path: str) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = _parent(path)


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


def _join(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _index_lines(
    node: yaml.Node, path: str, lines: dict[str, int], problems: list[Problem], source: str
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                problems.append(
                    Problem(
                        source,
                        key_node.start_mark.line + 1,
                        _join(path, key),
                        f"the key {key!r} appears twice",
                        "keep one of them: YAML would silently keep only the last",
                    )
                )
            seen.add(key)
            _index_lines(value_node, _join(path, key), lines, problems, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, _join(path, index), lines, problems, source)


def parse_document(text: str, source: str = "<text>") -> Document:
    """Parse YAML or JSON text into a :class:`Document`; syntax errors become problems.

    >>> doc = parse_document("id: shop\\ntitle: Shop\\nstages:\\n  - id: a\\n")
    >>> doc.line_of("stages[0].id")
    4
    """
    if text.lstrip().startswith(("{", "[")):
        return _parse_json(text, source)
    try:
        loader = _MapLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        message = (error.problem or str(error)).strip()
        return Document(
            source,
            None,
            problems=(
                Problem(
                    source,
                    line,
                    "",
                    f"not valid YAML/JSON: {message}",
                    "check indentation, colons and quotes on that line",
                ),
            ),
        )
    except yaml.YAMLError as error:
        return Document(
            source,
            None,
            problems=(Problem(source, None, "", f"not valid YAML/JSON: {error}", None),),
        )
    lines: dict[str, int] = {}
    problems: list[Problem] = []
    if node is not None:
        _index_lines(node, "", lines, problems, source)
    return Document(source, data, lines, tuple(problems))


def _parse_json(text: str, source: str) -> Document:
    """JSON is read by the JSON parser (YAML refuses some characters JSON allows raw);
    line numbers come from YAML's view of the same text when it can give them."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return Document(
            source,
            None,
            problems=(
                Problem(
                    source,
                    error.lineno,
                    "",
                    f"not valid JSON: {error.msg} (column {error.colno})",
                    "check commas, brackets and quotes on that line",
                ),
            ),
        )
    lines: dict[str, int] = {}
    problems: list[Problem] = []
    try:
        node = yaml.compose(text, Loader=_MapLoader)
    except yaml.YAMLError:
        node = None
    if node is not None:
        _index_lines(node, "", lines, problems, source)
    return Document(source, data, lines, tuple(problems))


def read_document(path: Path) -> Document:
    """Read a map file from disk into a :class:`Document` (problems instead of exceptions)."""
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_MAP_BYTES:
            return Document(
                source,
                None,
                problems=(
                    Problem(
                        source,
                        None,
                        "",
                        f"file is {size} bytes; a map file may be at most {MAX_MAP_BYTES}",
                        "is this really a journey map?",
                    ),
                ),
            )
        raw = path.read_bytes()
    except OSError as error:
        return Document(
            source,
            None,
            problems=(Problem(source, None, "", f"cannot read the file: {error.strerror}", None),),
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        return Document(
            source,
            None,
            problems=(
                Problem(
                    source,
                    line,
                    "",
                    "not UTF-8 text",
                    "save the file as UTF-8 (map files are YAML or JSON text)",
                ),
            ),
        )
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        return Document(
            source,
            None,
            problems=(
                Problem(source, line, "", "binary content (NUL bytes)", "is this a map file?"),
            ),
        )
    return parse_document(text, source)


def _prune(value: Any) -> Any:
    """Drop empty lists/dicts and ``None`` so files list only what the author wrote."""
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v is not None and v != [] and v != {}}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


class _MapDumper(yaml.SafeDumper):
    """Block style, text as literal blocks when it spans lines, no line folding."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent list items under their key, as people write YAML by hand.
        super().increase_indent(flow, False)


# Characters YAML would normalise or refuse when written raw: they go in double
# quotes, where YAML escapes them, so the text reads back exactly as written.
_NEEDS_ESCAPES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\r\u2028\u2029\ufeff\ud800-\udfff]")


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    if _NEEDS_ESCAPES.search(text):
        style: str | None = '"'
    elif "\n" in text:
        style = "|"  # the emitter falls back to quotes when a block cannot hold the text
    else:
        style = None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_MapDumper.add_representer(str, _represent_str)


def journey_to_data(journey: Journey) -> dict[str, Any]:
    """The journey as plain data in field order, without defaults or empty fields."""
    data: dict[str, Any] = _prune(
        journey.model_dump(mode="python", exclude_defaults=True, by_alias=True)
    )
    return data


def dumps_journey(journey: Journey, *, format: str = "yaml") -> str:
    """Serialise a journey as YAML (default) or JSON text, in a stable key order.

    >>> from jornada.model import Journey
    >>> print(dumps_journey(Journey(id="j", title="Journey")), end="")
    id: j
    title: Journey
    """
    data = journey_to_data(journey)
    if format == "json":
        return json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n"
    if format != "yaml":
        raise ValueError(f"unknown format {format!r}; use yaml or json")
    return yaml.dump(
        data,
        Dumper=_MapDumper,
        sort_keys=False,
        allow_unicode=True,
        width=10_000,
        default_flow_style=False,
    )


def dump_journey(journey: Journey, path: Path) -> None:
    """Write a journey to ``path`` (JSON when it ends in ``.json``), atomically."""
    text = dumps_journey(journey, format="json" if path.suffix.lower() == ".json" else "yaml")
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def raise_for_problems(problems: tuple[Problem, ...] | list[Problem]) -> None:
    if problems:
        raise MapFileError(list(problems))
