"""``jornada clv``: what customers are worth, from their purchases (BG/NBD, Gamma-Gamma)."""

# No ``from __future__ import annotations``: analysis_command re-signs the command, and
# typer must see the option annotations as objects, not strings to resolve elsewhere.
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from jornada.analytics.clv import CLVResult, Model, Unit, clv
from jornada.cli.analysis import EventSource, analysis_command
from jornada.cli.output import err_console

__all__ = ["register"]

_EPILOG = (
    "Examples:\n\n"
    "  jornada clv shop/ --purchase purchase --until 2026-06-30 --horizon 12m\n\n"
    "  jornada clv orders.csv --customer client --time date --event kind --value total "
    "--purchase order --unit day --json\n\n"
    "  jornada clv shop/ --purchase purchase --amount properties.net --out customers.csv"
)


def register(app: typer.Typer) -> None:
    """Add ``jornada clv`` to ``app``."""

    @analysis_command(app, "clv", epilog=_EPILOG)
    def clv_command(
        source: EventSource,
        *,
        purchase: Annotated[
            str,
            typer.Option(
                "--purchase",
                help="What a purchase is: an event name, a touchpoint or stage id of --map, "
                "or a rule (quote it).",
            ),
        ] = "purchase",
        amount: Annotated[
            str | None,
            typer.Option(
                "--amount",
                help="Column or property (properties.NAME) holding a purchase's value; "
                "default: the value column (on an event file, --value COLUMN sets it).",
            ),
        ] = None,
        unit: Annotated[
            Unit, typer.Option("--unit", help="Time unit of recency, T and the models.")
        ] = "week",
        until: Annotated[
            datetime | None,
            typer.Option(
                "--until",
                formats=["%Y-%m-%d"],
                help="Last day of the calibration period; later purchases are the holdout "
                "the forecast is checked against. Default: the whole log.",
            ),
        ] = None,
        horizon: Annotated[
            str,
            typer.Option("--horizon", help="Forecast horizon: 12m (months), 26w, 90d, 1y."),
        ] = "12m",
        discount: Annotated[
            float,
            typer.Option("--discount", min=0.0, help="Annual discount rate (0.1 = 10%)."),
        ] = 0.1,
        model: Annotated[
            Model,
            typer.Option("--model", help="The purchase model the forecasts use."),
        ] = "bgnbd",
        out: Annotated[
            Path | None,
            typer.Option("--out", help="Write the per-customer table (CLV, P(alive), ...) as CSV."),
        ] = None,
    ) -> CLVResult:
        """Fit BG/NBD, Pareto/NBD and Gamma-Gamma to each customer's repeat purchases
        (distinct purchase days) and forecast purchases, P(alive) and CLV per customer.

        Example: jornada clv shop/ --purchase purchase --until 2026-06-30 --horizon 12m
        """
        result = clv(
            source.events(),
            purchase,
            value=amount,
            unit=unit,
            until=None if until is None else until.date(),
            horizon=horizon,
            discount=discount,
            model=model,
            journey=source.journey,
            engine=source.workspace.engine,
        )
        if out is not None:
            result.write_csv(out)
            err_console().print(f"wrote {result.summary.customers:,} customers to {out}")
        return result
