"""``jornada attribution``: which channels, events or touchpoints earn the conversions.

It runs on a workspace or an event file (the shared column flags, via
:func:`~jornada.cli.analysis.analysis_command`), or with ``--paths FILE`` on an
aggregated path table exported by another tool (then SOURCE is left out).
"""

# No ``from __future__ import annotations``: analysis_command re-signs the command and
# typer must see the option annotations as objects, not strings.
from pathlib import Path
from typing import Annotated

import typer

from jornada.analytics.attribution import (
    AttributionResult,
    AttributionSettings,
    Touch,
    attribute,
    attribution,
    parse_position_weights,
    read_path_table,
)
from jornada.cli.analysis import EventSource, analysis_command
from jornada.cli.output import err_console

__all__ = ["register"]

_STEP = "an event name, a touchpoint or stage id of --map, or a rule"

_EPILOG = (
    "Examples:\n\n"
    "  jornada attribution shop --conversion purchase --lookback 30d\n\n"
    "  jornada attribution shop --conversion purchase --touch touchpoint --map "
    "shop/maps/b2c-ecommerce.yaml --model markov,shapley --order 2 --ci\n\n"
    "  jornada attribution events.csv --customer user --time ts --event name --channel via "
    "--conversion purchase --json\n\n"
    "  jornada attribution --paths Data.csv --conversions-col total_conversions "
    "--nulls-col total_null --value-col total_conversion_value --sep '>'"
)

_PANEL = "Path table (--paths)"
_MODEL_NAMES = ("first_touch", "last_touch", "linear", "position_based", "time_decay", "markov")


def attribution_command(
    source: EventSource | None,
    conversion: Annotated[
        str | None,
        typer.Option("--conversion", help=f"What a conversion is: {_STEP}."),
    ] = None,
    touch: Annotated[
        Touch,
        typer.Option(
            "--touch",
            help="What a touch is credited to: its channel, its event name, or the "
            "touchpoint of --map it matches.",
            case_sensitive=False,
        ),
    ] = Touch.channel,
    only: Annotated[
        str | None,
        typer.Option(
            "--only", help=f"Only these events are touches ({_STEP}); default: all others."
        ),
    ] = None,
    lookback: Annotated[
        str,
        typer.Option(
            "--lookback",
            help="Touches count up to this long before the conversion: 30d, 12h; 'none' "
            "for no limit.",
        ),
    ] = "30d",
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            help=f"Models to run, comma-separated or repeated: {', '.join(_MODEL_NAMES)}, "
            "shapley; default: all.",
        ),
    ] = None,
    order: Annotated[
        int, typer.Option("--order", min=1, max=4, help="Order of the Markov chain (1-4).")
    ] = 1,
    keep_repeats: Annotated[
        bool,
        typer.Option(
            "--keep-repeats",
            help="Markov: keep repeated touches of one channel as self-transitions "
            "(default: merge them).",
        ),
    ] = False,
    position: Annotated[
        str,
        typer.Option("--position", help="Position-based weights first/middle/last, in %."),
    ] = "40/20/40",
    half_life: Annotated[
        str, typer.Option("--half-life", help="Time decay: a touch this much older counts half.")
    ] = "7d",
    ci: Annotated[
        bool,
        typer.Option("--ci", help="Add 95% bootstrap intervals of each channel's share."),
    ] = False,
    ci_samples: Annotated[
        int, typer.Option("--ci-samples", min=2, help="Bootstrap samples for --ci.")
    ] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    export_paths: Annotated[
        Path | None,
        typer.Option("--export-paths", help="Also write the path table built (CSV)."),
    ] = None,
    paths: Annotated[
        Path | None,
        typer.Option(
            "--paths",
            help="Read an aggregated path table (CSV or Parquet) instead of events.",
            rich_help_panel=_PANEL,
        ),
    ] = None,
    path_col: Annotated[
        str, typer.Option("--path-col", help="Column of the paths.", rich_help_panel=_PANEL)
    ] = "path",
    conversions_col: Annotated[
        str,
        typer.Option(
            "--conversions-col",
            help="Column of the conversions of each path.",
            rich_help_panel=_PANEL,
        ),
    ] = "total_conversions",
    nulls_col: Annotated[
        str,
        typer.Option(
            "--nulls-col",
            help="Column of the paths without conversion ('' when there is none).",
            rich_help_panel=_PANEL,
        ),
    ] = "total_null",
    value_col: Annotated[
        str | None,
        typer.Option(
            "--value-col",
            help="Column of the conversion value of each path.",
            rich_help_panel=_PANEL,
        ),
    ] = None,
    sep: Annotated[
        str,
        typer.Option("--sep", help="Separator of the channels in a path.", rich_help_panel=_PANEL),
    ] = ">",
) -> AttributionResult:
    """Attribute conversions to channels (events, touchpoints): first and last touch,
    linear, position-based, time decay, Markov chain (exact removal effects) and
    Shapley values, with conversion value when the events have one."""
    if paths is not None:
        if source is not None:
            raise typer.BadParameter("give SOURCE or --paths FILE, not both", param_hint="SOURCE")
        table = read_path_table(
            paths,
            path_col=path_col,
            conversions_col=conversions_col,
            nulls_col=nulls_col or None,
            value_col=value_col,
            sep=sep,
        )
        return attribute(
            table,
            models=model,
            ci=ci,
            ci_samples=ci_samples,
            settings=AttributionSettings(
                source=str(paths),
                order=order,
                repeats="keep" if keep_repeats else "drop",
                position_weights=parse_position_weights(position),
                seed=seed,
            ),
        )
    if source is None:
        raise typer.BadParameter(
            "give SOURCE (a workspace or an event file), or --paths FILE", param_hint="SOURCE"
        )
    if conversion is None:
        raise typer.BadParameter(f"give the conversion: {_STEP}", param_hint="--conversion")
    result = attribution(
        source.events(),
        conversion=conversion,
        touch=touch,
        only=only,
        lookback=None if lookback.strip().lower() in ("none", "all") else lookback,
        models=model,
        order=order,
        repeats="keep" if keep_repeats else "drop",
        position_weights=parse_position_weights(position),
        half_life=half_life,
        ci=ci,
        ci_samples=ci_samples,
        seed=seed,
        journey=source.journey,
        engine=source.workspace.engine,
    )
    if export_paths is not None and result.paths is not None:
        result.paths.to_frame().to_csv(export_paths, index=False)
        err_console().print(f"wrote {result.paths.size:,} paths to {export_paths}")
    return result


def register(app: typer.Typer) -> None:
    """Add ``jornada attribution`` to ``app`` (SOURCE may be left out with ``--paths``)."""
    analysis_command(app, "attribution", epilog=_EPILOG, source_optional=True)(attribution_command)
