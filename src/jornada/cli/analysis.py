"""What every analysis command shares: the event source and its column flags, the map,
and the outputs (``--json``, ``--csv FILE``, ``--chart FILE.html``).

An analysis command declares only its own options and takes ``source: EventSource``;
:func:`analysis_command` adds the shared ones to its signature (typer reads them from it)::

    @analysis_command(app, "funnel")
    def funnel_command(source: EventSource, steps: ...) -> AnalysisResult:
        return funnel(source.events(), ...)
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from jornada.analytics.results import AnalysisResult
from jornada.cli import source as flags
from jornada.cli.output import err_console, out_console, print_json
from jornada.events.load import ColumnMapping
from jornada.model import Journey
from jornada.model.validation import load_journey
from jornada.workspace import Workspace

__all__ = ["EventSource", "analysis_command"]


@dataclass
class EventSource:
    """The workspace (or event file) an analysis runs on, and the map bound to it."""

    workspace: Workspace
    journey: Journey | None

    def events(self) -> Any:
        return self.workspace.events()


# The column flags of an event file (the loader's mapping), with their defaults.
_COLUMN_FLAGS: dict[str, tuple[Any, Any]] = {
    "customer": (flags.CustomerOption, None),
    "time": (flags.TimeOption, None),
    "event": (flags.EventOption, None),
    "channel": (flags.ChannelOption, None),
    "session": (flags.SessionOption, None),
    "value": (flags.ValueOption, None),
    "cost": (flags.CostOption, None),
    "text": (flags.TextOption, None),
    "score": (flags.ScoreOption, None),
    "id": (flags.IdOption, None),
    "identity": (flags.IdentityOption, None),
    "tz": (flags.TzOption, "UTC"),
    "time_format": (flags.TimeFormatOption, None),
    "delimiter": (flags.DelimiterOption, None),
    "encoding": (flags.EncodingOption, "utf-8"),
}

_SHARED: list[inspect.Parameter] = [
    inspect.Parameter(
        "source_path",
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        annotation=Annotated[
            Path,
            typer.Argument(
                metavar="SOURCE",
                help="A workspace directory, or an event file with the column flags.",
            ),
        ],
    ),
    *(
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
        )
        for name, (annotation, default) in _COLUMN_FLAGS.items()
    ),
    *(
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
        )
        for name, annotation, default in (
            (
                "map_path",
                Annotated[
                    Path | None,
                    typer.Option(
                        "--map", help="A journey map whose touchpoints and stages can be steps."
                    ),
                ],
                None,
            ),
            (
                "json_output",
                Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")],
                False,
            ),
            (
                "csv_path",
                Annotated[
                    Path | None, typer.Option("--csv", help="Write the result table as CSV.")
                ],
                None,
            ),
            (
                "chart_path",
                Annotated[
                    Path | None,
                    typer.Option(
                        "--chart", help="Write an interactive chart (self-contained HTML)."
                    ),
                ],
                None,
            ),
        )
    ),
]


def _open(source_path: Path, options: dict[str, Any]) -> EventSource:
    columns = {name: options[name] for name in _COLUMN_FLAGS}
    mapping: ColumnMapping | None = None
    if source_path.is_file():
        mapping = flags.build_mapping(**columns)
    else:
        # A workspace knows its columns: a column flag would be silently ignored (and
        # ``--channel web`` read as "only web" would give an unfiltered answer).
        given = [
            name
            for name, (_, default) in _COLUMN_FLAGS.items()
            if columns[name] not in (default, [])
        ]
        if given:
            shown = ", ".join("--" + name.replace("_", "-") for name in given)
            raise typer.BadParameter(
                f"{shown}: column flags describe an event file, and {source_path} is a "
                "workspace whose columns are already mapped; drop them (to keep some "
                "channels' events, use --only-channel where the command offers it)",
                param_hint="SOURCE",
            )
    with err_console().status("reading events"):
        workspace = flags.open_source(source_path, mapping)
    journey = load_journey(options["map_path"]) if options["map_path"] else None
    return EventSource(workspace, journey)


def _emit(result: AnalysisResult, options: dict[str, Any]) -> None:
    if options["csv_path"] is not None:
        result.write_csv(options["csv_path"])
        err_console().print(f"wrote {options['csv_path']}")
    if options["chart_path"] is not None:
        result.write_chart(options["chart_path"])
        err_console().print(f"wrote {options['chart_path']}")
    if options["json_output"]:
        print_json(result.to_dict())
    elif options["csv_path"] is None and options["chart_path"] is None:
        out_console().print(result)


_OPTIONAL_SOURCE = _SHARED[0].replace(
    default=None,
    annotation=Annotated[
        Path | None,
        typer.Argument(
            metavar="[SOURCE]",
            help="A workspace directory, or an event file with the column flags.",
            show_default=False,
        ),
    ],
)


def analysis_command(
    app: typer.Typer, name: str, *, epilog: str | None = None, source_optional: bool = False
) -> Callable[[Callable[..., AnalysisResult]], Callable[..., None]]:
    """Register an analysis: the command's own options plus the shared source and outputs.

    With ``source_optional`` SOURCE may be left out and the function gets ``None`` (for
    an analysis that can also read its input elsewhere, e.g. a path table file).
    """

    def register(function: Callable[..., AnalysisResult]) -> Callable[..., None]:
        own = list(inspect.signature(function).parameters.values())[1:]  # drop `source`
        shared_names = {p.name for p in _SHARED}

        @functools.wraps(function)
        def command(**kwargs: Any) -> None:
            options = {key: kwargs.pop(key) for key in list(kwargs) if key in shared_names}
            source_path = options.pop("source_path")
            if source_path is None:
                _emit(function(None, **kwargs), options)
                return
            source = _open(source_path, options)
            try:
                _emit(function(source, **kwargs), options)
            finally:
                source.workspace.close()

        positional = [p for p in own if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        keyword = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for p in own
            if p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD
        ]
        first = _OPTIONAL_SOURCE if source_optional else _SHARED[0]
        command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [first, *positional, *_SHARED[1:], *keyword], return_annotation=None
        )
        app.command(name, epilog=epilog)(command)
        return command

    return register
