"""``jornada stages``, ``jornada stalled``: where customers are in a map's stages, and who
has stalled.

No ``from __future__ import annotations`` here: :func:`analysis_command` hands this
module's signatures to typer as they are, and typer needs the ``Annotated`` objects
themselves (postponed, string annotations would lose every option's help).
"""

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer

from jornada.analytics.results import AnalysisResult
from jornada.analytics.stages import DEFAULT_PERCENTILE, analyse_stages, find_stalled
from jornada.cli.analysis import EventSource, analysis_command
from jornada.cli.output import err_console
from jornada.model import Journey

__all__ = ["register"]

_TIME_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


def _percentile(percentile: float) -> float:
    """Checked before the events are read: a bad value fails at once."""
    if not 0 < percentile <= 100:
        raise typer.BadParameter("give a percentile above 0, at most 100")
    return percentile


PercentileOption = Annotated[
    float,
    typer.Option(
        "--percentile",
        callback=_percentile,
        help="A customer is slow when in a stage longer than this percentile of the dwell "
        "time of those who moved on (nearest rank).",
    ),
]
AsOfOption = Annotated[
    dt.datetime | None,
    typer.Option(
        "--as-of",
        formats=_TIME_FORMATS,
        help="Measure as of this UTC time (events after it are ignored); default: the last event.",
    ),
]


def _journey(source: EventSource) -> Journey:
    if source.journey is None:
        raise typer.BadParameter("stages are those of a map: give --map FILE", param_hint="--map")
    return source.journey


def stages_command(
    source: EventSource,
    *,
    percentile: PercentileOption = DEFAULT_PERCENTILE,
    as_of: AsOfOption = None,
) -> AnalysisResult:
    """Per stage of a map: customers reached and currently in, conversion to the next
    stage, median and p80 dwell, milestones with shares, stalled customers.

    Example:

      jornada stages events.csv --customer user_id --time ts --event name --map shop.yaml
    """
    return analyse_stages(source.events(), _journey(source), percentile=percentile, as_of=as_of)


def stalled_command(
    source: EventSource,
    *,
    percentile: PercentileOption = DEFAULT_PERCENTILE,
    as_of: AsOfOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the list to this file: CSV, or JSON when the name ends in .json.",
        ),
    ] = None,
) -> AnalysisResult:
    """Customers stalled in their current stage: slower than the percentile of those who
    moved on, or a milestone missed within its window. Lists customer, stage, days in
    stage, last touchpoint, last event time and reason.

    Example:

      jornada stalled shop --map maps/shop.yaml --percentile 90 --out stalled.csv
    """
    result = find_stalled(source.events(), _journey(source), percentile=percentile, as_of=as_of)
    if out is not None:
        if out.suffix.lower() == ".json":
            text = json.dumps(result.to_dict()["customers"], ensure_ascii=False, indent=2)
            out.write_text(text + "\n", encoding="utf-8")
        else:
            result.write_csv(out)
        err_console().print(f"wrote {out} ({len(result.customers):,} customers)")
    return result


def register(app: typer.Typer) -> None:
    """Add ``stages`` and ``stalled`` to ``app``."""
    analysis_command(app, "stages")(stages_command)
    analysis_command(app, "stalled")(stalled_command)
