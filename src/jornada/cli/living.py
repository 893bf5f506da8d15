"""``jornada conformance`` (designed vs actual) and ``jornada map discover`` (a first map
drawn from data; registered on the ``map`` sub-app by :mod:`jornada.cli.map`).

No ``from __future__ import annotations`` here: :func:`analysis_command` hands these
signatures to typer as they are, and typer needs the ``Annotated`` objects themselves.
"""

from pathlib import Path
from typing import Annotated

import typer

from jornada.analytics.results import AnalysisResult
from jornada.cli.analysis import EventSource, analysis_command
from jornada.cli.options import LanguageOption, language_of
from jornada.cli.output import err_console
from jornada.living.conformance import DEFAULT_TOP, conformance
from jornada.living.discover import DEFAULT_STAGES, DEFAULT_TOUCHPOINTS, discover_map
from jornada.model.io import dump_journey

__all__ = ["conformance_command", "discover_command", "register"]


def conformance_command(
    source: EventSource,
    *,
    top: Annotated[
        int, typer.Option("--top", min=1, help="How many deviating paths to list.")
    ] = DEFAULT_TOP,
) -> AnalysisResult:
    """Designed vs actual: the share of customers passing the map's stages in the designed
    order, skipped stages, backward moves, loops, events and time outside the map, and the
    most frequent deviating stage paths.

    Example:

      jornada conformance shop --map maps/b2c-ecommerce.yaml --json
    """
    if source.journey is None:
        raise typer.BadParameter(
            "conformance compares real journeys with a map: give --map FILE", param_hint="--map"
        )
    return conformance(source.events(), source.journey, top=top)


def discover_command(
    source: EventSource,
    *,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="The draft map file to write (.yaml or .json)."),
    ],
    stages: Annotated[
        int, typer.Option("--stages", min=1, max=20, help="How many stages to group into.")
    ] = DEFAULT_STAGES,
    touchpoints: Annotated[
        int,
        typer.Option(
            "--touchpoints", min=1, max=200, help="How many of the most common events to keep."
        ),
    ] = DEFAULT_TOUCHPOINTS,
    language: LanguageOption = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> AnalysisResult:
    """Draw a first journey map from the data alone: the most common events as touchpoints
    (with their channels, bound by event name), grouped into stages ordered by where they
    typically come in customers' paths. A draft for the team to rename and complete.

    Example:

      jornada map discover events.csv --customer user --time ts --event name -o draft.yaml
    """
    if source.journey is not None:
        raise typer.BadParameter(
            "discover draws a map from the data alone; leave out --map", param_hint="--map"
        )
    if output.exists() and not force:
        raise typer.BadParameter(f"{output} exists; use --force to overwrite", param_hint="-o")
    draft = discover_map(
        source.events(),
        stages=stages,
        touchpoints=touchpoints,
        language=language_of(language),
        journey_id=_journey_id(output),
    )
    dump_journey(draft.journey, output)
    err_console().print(
        f"wrote {output} ({len(draft.journey.stages)} stages, {len(draft.touchpoints)} touchpoints)"
    )
    return draft


def _journey_id(output: Path) -> str:
    """The draft's id from its file name (``draft.yaml`` → ``draft``) when it is a valid id."""
    stem = "".join(c if c.isalnum() or c in "_.-" else "_" for c in output.stem)[:64]
    return stem if stem[:1].isalnum() else "discovered"


def register(app: typer.Typer) -> None:
    """Add ``conformance`` to ``app``."""
    analysis_command(app, "conformance")(conformance_command)
