"""``jornada time-to-convert``, ``time-between``, ``touches``, ``dwell``: how long journeys
take and how many touches they need."""

# No ``from __future__ import annotations``: analysis_command re-signs the commands, and
# typer must see the option annotations as objects, not strings to resolve elsewhere.
from typing import Annotated

import typer

from jornada.analytics.results import AnalysisResult
from jornada.analytics.timing import (
    dwell_times,
    time_between,
    time_to_convert,
    touches_before_conversion,
)
from jornada.cli.analysis import EventSource, analysis_command

__all__ = ["register"]

_STEP = "an event name, a touchpoint or stage id of --map, or a rule"


def register(app: typer.Typer) -> None:
    """Add the timing commands to ``app``."""

    @analysis_command(app, "time-to-convert")
    def time_to_convert_command(
        source: EventSource,
        conversion: Annotated[str, typer.Argument(help=f"The conversion: {_STEP}.")],
        start: Annotated[
            str | None,
            typer.Option(
                "--start",
                help=f"Start at the first of this step ({_STEP}); "
                "default: the customer's first event.",
            ),
        ] = None,
    ) -> AnalysisResult:
        """Time from the first event (or --start step) to the first conversion at or
        after it: percentiles (p25 to p95) and a histogram.

        Example: jornada time-to-convert events.csv purchase --customer user_id
        --time ts --event name --start add_to_cart
        """
        return time_to_convert(source.events(), conversion, start=start, journey=source.journey)

    @analysis_command(app, "time-between")
    def time_between_command(
        source: EventSource,
        first: Annotated[str, typer.Argument(help=f"The first step: {_STEP}.")],
        then: Annotated[str, typer.Argument(help=f"The step after it: {_STEP}.")],
    ) -> AnalysisResult:
        """Time from a customer's first FIRST step to the first THEN step after it.

        Example (time to a second purchase): jornada time-between my-workspace
        purchase purchase
        """
        return time_between(source.events(), first, then, journey=source.journey)

    @analysis_command(app, "touches")
    def touches_command(
        source: EventSource,
        conversion: Annotated[str, typer.Argument(help=f"The conversion: {_STEP}.")],
        touch: Annotated[
            str | None,
            typer.Option(
                "--touch",
                help=f"What counts as a touch: {_STEP}, or 'touchpoints' (any touchpoint "
                "of --map); default: every event but the conversion.",
            ),
        ] = None,
    ) -> AnalysisResult:
        """Touches and distinct channels before the first conversion (the "rule of
        seven"), and up to now for customers who have not converted.

        Example: jornada touches my-workspace purchase --map maps/shop.yaml
        --touch touchpoints
        """
        return touches_before_conversion(
            source.events(), conversion, touch=touch, journey=source.journey
        )

    @analysis_command(app, "dwell")
    def dwell_command(source: EventSource) -> AnalysisResult:
        """Time in each stage of a map (--map): from the first event in the stage to the
        first event in a later stage; customers still in a stage are reported apart.

        Example: jornada dwell my-workspace --map maps/shop.yaml
        """
        if source.journey is None:
            raise typer.BadParameter("dwell needs a journey map: give --map", param_hint="--map")
        return dwell_times(source.events(), source.journey)
