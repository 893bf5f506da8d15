"""``jornada retention``, ``jornada lifecycle``: who comes back, period after period."""

# No ``from __future__ import annotations``: analysis_command re-signs the commands, and
# typer must see the option annotations as objects, not strings to resolve elsewhere.
from typing import Annotated

import typer

from jornada.analytics.results import AnalysisResult
from jornada.analytics.retention import Period, lifecycle, retention
from jornada.cli.analysis import EventSource, analysis_command

__all__ = ["register"]

_STEP = "an event name, a touchpoint or stage id of --map, or a rule"

PeriodOption = Annotated[
    Period, typer.Option("--period", help="Calendar day, ISO week (from Monday) or month, UTC.")
]


def register(app: typer.Typer) -> None:
    """Add the retention commands to ``app``."""

    @analysis_command(app, "retention")
    def retention_command(
        source: EventSource,
        period: PeriodOption = "week",
        start: Annotated[
            str | None,
            typer.Option(
                "--start",
                help=f"Cohort by the first of this step ({_STEP}); default: the first event.",
            ),
        ] = None,
        returning: Annotated[
            str | None,
            typer.Option(
                "--return", help=f"What counts as coming back ({_STEP}); default: any event."
            ),
        ] = None,
        periods: Annotated[
            int | None,
            typer.Option("--periods", min=1, help="Show periods 0 to N-1 only."),
        ] = None,
    ) -> AnalysisResult:
        """Cohort retention: the share of each cohort active in period k (N-period) and
        in period k or later (unbounded); --chart writes a heatmap.

        Example: jornada retention my-workspace --period month --start purchase
        --return purchase
        """
        return retention(
            source.events(),
            period=period,
            start=start,
            returning=returning,
            journey=source.journey,
            periods=periods,
        )

    @analysis_command(app, "lifecycle")
    def lifecycle_command(
        source: EventSource,
        period: PeriodOption = "week",
        active: Annotated[
            str | None,
            typer.Option("--active", help=f"What counts as active ({_STEP}); default: any event."),
        ] = None,
    ) -> AnalysisResult:
        """New, returning, resurrected and dormant customers per period, and stickiness
        (mean daily actives / actives of the period: DAU/MAU by month).

        Example: jornada lifecycle events.csv --customer user_id --time ts --event name
        --period month
        """
        return lifecycle(source.events(), period=period, active=active, journey=source.journey)
