"""``jornada living`` (the designed map filled with what customers did), ``jornada
departments`` (the living map per department), ``jornada conformance`` (designed vs
actual) and ``jornada map discover`` (a first map drawn from data; registered on the
``map`` sub-app by :mod:`jornada.cli.map`).

No ``from __future__ import annotations`` here: :func:`analysis_command` hands these
signatures to typer as they are, and typer needs the ``Annotated`` objects themselves.
"""

from pathlib import Path
from typing import Annotated

import typer

from jornada.analytics.attribution import MODELS
from jornada.analytics.results import AnalysisResult
from jornada.cli.analysis import EventSource, analysis_command
from jornada.cli.options import LanguageOption, language_of
from jornada.cli.output import err_console
from jornada.cli.scope import OnlyChannelOption, PeriodOption, SegmentOption, scope_of
from jornada.events.filters import EventScope
from jornada.living.conformance import DEFAULT_TOP, conformance
from jornada.living.departments import departments
from jornada.living.discover import DEFAULT_STAGES, DEFAULT_TOUCHPOINTS, discover_map
from jornada.living.overlay import DEFAULT_ATTRIBUTION_MODEL, LivingMap, living_map
from jornada.living.render import LIVING_SUFFIXES, write_living
from jornada.model.io import dump_journey

__all__ = [
    "conformance_command",
    "departments_command",
    "discover_command",
    "living_command",
    "register",
]

ConversionOption = Annotated[
    str | None,
    typer.Option(
        "--conversion",
        help="What counts as converting: an event name, a touchpoint, stage or milestone id "
        "of the map, or a rule; default: the first bound milestone of the map's purchase "
        "stage.",
    ),
]
ModelOption = Annotated[
    str,
    typer.Option(
        "--model", help=f"Attribution model for each touchpoint's credit: {', '.join(MODELS)}."
    ),
]


def _living(
    source: EventSource, conversion: str | None, model: str, scope: EventScope
) -> LivingMap:
    if source.journey is None:
        raise typer.BadParameter(
            "the living map fills a designed map with data: give --map FILE", param_hint="--map"
        )
    return living_map(
        source.events(),
        source.journey,
        conversion=conversion,
        attribution_model=model,
        scope=scope,
        facts=True,  # a workspace's events (an event file is loaded into one)
    )


def living_command(
    source: EventSource,
    *,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help=f"Draw the living map to this file ({', '.join(LIVING_SUFFIXES)}).",
        ),
    ] = None,
    conversion: ConversionOption = None,
    model: ModelOption = DEFAULT_ATTRIBUTION_MODEL,
    language: LanguageOption = None,
    period: PeriodOption = None,
    segment: SegmentOption = None,
    only_channel: OnlyChannelOption = None,
) -> AnalysisResult:
    """The living map: every stage and touchpoint of the designed map measured on the
    events (customers, reach, conversion, journeys ending there, time to next, attributed
    conversions and value, KPIs against targets, measured vs designed emotion, stalled
    customers), with the findings where the data contradicts the design.

    Example:

      jornada living shop --map maps/b2c-ecommerce.yaml -o living.html

      jornada living shop --map maps/b2c-ecommerce.yaml --period 2026-Q1 --segment "channel = 'app'"
    """
    if output is not None and output.suffix.lower() not in LIVING_SUFFIXES:
        raise typer.BadParameter(
            f"cannot write {output.name!r}: use one of {', '.join(LIVING_SUFFIXES)}",
            param_hint="-o",
        )
    scope = scope_of(period, segment, only_channel)
    living = _living(source, conversion, model, scope)
    if output is not None:
        shown = language_of(language, living.journey.language)
        with err_console().status(f"writing {output}"):
            write_living(living, output, language=shown)
        err_console().print(f"wrote {output}")
    return living


def departments_command(
    source: EventSource,
    *,
    conversion: ConversionOption = None,
    model: ModelOption = DEFAULT_ATTRIBUTION_MODEL,
    period: PeriodOption = None,
    segment: SegmentOption = None,
    only_channel: OnlyChannelOption = None,
) -> AnalysisResult:
    """The living map per department: the touchpoints each department of the map acts
    behind, with their measures, KPIs against targets and the findings there.

    Example:

      jornada departments shop --map maps/b2c-ecommerce.yaml --json
    """
    scope = scope_of(period, segment, only_channel)
    return departments(_living(source, conversion, model, scope))


def conformance_command(
    source: EventSource,
    *,
    top: Annotated[
        int, typer.Option("--top", min=1, help="How many deviating paths to list.")
    ] = DEFAULT_TOP,
    period: PeriodOption = None,
    segment: SegmentOption = None,
    only_channel: OnlyChannelOption = None,
) -> AnalysisResult:
    """Designed vs actual: the share of customers passing the map's stages in the designed
    order, skipped stages, backward moves, loops, events and time outside the map, and the
    most frequent deviating stage paths.

    Example:

      jornada conformance shop --map maps/b2c-ecommerce.yaml --period 2026-03 --json
    """
    scope = scope_of(period, segment, only_channel)
    if source.journey is None:
        raise typer.BadParameter(
            "conformance compares real journeys with a map: give --map FILE", param_hint="--map"
        )
    return conformance(source.events(), source.journey, top=top, scope=scope, facts=True)


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
    """Add ``living``, ``departments`` and ``conformance`` to ``app``."""
    analysis_command(app, "living")(living_command)
    analysis_command(app, "departments")(departments_command)
    analysis_command(app, "conformance")(conformance_command)
