"""``jornada churn``, ``churn-triggers``, ``propensity``: who is about to leave (or buy), why,
and which moments of the journey come before it."""

# No ``from __future__ import annotations``: analysis_command re-signs the commands, and
# typer must see the option annotations as objects, not strings to resolve elsewhere.
import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer

from jornada.analytics.churn import (
    DEFAULT_EVERY,
    DEFAULT_MIN_SUPPORT,
    DEFAULT_TOP,
    ChurnDefinition,
    ChurnError,
    PurchaseTarget,
    churn,
    churn_triggers,
    propensity,
)
from jornada.analytics.funnel import parse_window
from jornada.analytics.results import AnalysisResult
from jornada.cli.analysis import EventSource, analysis_command
from jornada.cli.output import err_console

__all__ = ["register"]

_STEP = "an event name, a touchpoint or stage id of --map, or a rule"

InactiveOption = Annotated[
    float | None,
    typer.Option(
        "--inactive-days",
        min=0,
        help="Churned after this many days without activity (default 60, or off when "
        "--cancel is given).",
    ),
]
CancelOption = Annotated[
    list[str] | None,
    typer.Option(
        "--cancel",
        help=f"A cancellation ({_STEP}); repeat for several, e.g. --cancel account_closed.",
    ),
]
ActivityOption = Annotated[
    str | None,
    typer.Option("--activity", help=f"What counts as activity ({_STEP}); default: any event."),
]
WindowOption = Annotated[
    str | None,
    typer.Option(
        "--window",
        help="How far after a cutoff the outcome is looked for (30d, 8w); default: the "
        "inactivity period, or 60d.",
    ),
]
AsOfOption = Annotated[
    dt.datetime | None,
    typer.Option("--as-of", help="Score customers as of this time, UTC (default: the end)."),
]
TopOption = Annotated[
    int,
    typer.Option("--top", min=0, help="Customers listed, highest first (0: all)."),
]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Write the customer list (with reasons) as CSV."),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of the model (reproducible).")]
EveryOption = Annotated[
    str, typer.Option("--every", help="Length of the exposure windows of the triggers.")
]
SupportOption = Annotated[
    int,
    typer.Option(
        "--min-support", min=1, help="Leave out triggers exposing fewer customer-windows."
    ),
]
PropertyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--property",
        help="A categorical property whose values make triggers; repeat (default: every "
        "property with at most 12 values).",
    ),
]


def _days(window: str | None, what: str) -> float | None:
    if window is None:
        return None
    seconds = parse_window(window)
    if not seconds:
        raise ChurnError(f"the {what} must be a positive duration such as 30d, not {window!r}")
    return seconds / 86_400


def _definition(
    source: EventSource,
    inactive_days: float | None,
    cancel: list[str] | None,
    activity: str | None,
    window: str | None,
) -> ChurnDefinition:
    """The workspace's ``[churn]`` settings, overridden by the flags given."""
    extra: dict[str, Any] = source.workspace.settings.model_extra or {}
    settings = extra.get("churn")
    if settings is not None and not isinstance(settings, dict):
        raise ChurnError("[churn] in jornada.toml must be a table (inactive_days = 60 ...)")
    return ChurnDefinition.from_settings(
        settings,
        inactive_days=inactive_days or None,
        cancel=tuple(cancel or ()),
        activity=activity,
        window_days=_days(window, "window"),
    )


def _write(result: AnalysisResult, out: Path | None) -> None:
    if out is not None:
        result.write_csv(out)
        err_console().print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add the churn and propensity commands to ``app``."""

    @analysis_command(app, "churn")
    def churn_command(
        source: EventSource,
        inactive_days: InactiveOption = None,
        cancel: CancelOption = None,
        activity: ActivityOption = None,
        window: WindowOption = None,
        as_of: AsOfOption = None,
        top: TopOption = DEFAULT_TOP,
        min_risk: Annotated[
            float,
            typer.Option("--min-risk", min=0, max=1, help="List only customers at this risk."),
        ] = 0.0,
        out: OutOption = None,
        seed: SeedOption = 0,
        triggers: Annotated[
            bool, typer.Option("--triggers/--no-triggers", help="Find the triggers too.")
        ] = True,
        every: EveryOption = DEFAULT_EVERY,
        min_support: SupportOption = DEFAULT_MIN_SUPPORT,
        properties: PropertyOption = None,
    ) -> AnalysisResult:
        """Who is about to churn and why: a gradient-boosting model on journey features,
        evaluated on a held-out later period (ROC AUC, PR AUC, calibration), its drivers,
        the moments before churn (triggers) and the customers at risk with their top
        reasons. Defaults come from the [churn] table of jornada.toml when present.

        Example: jornada churn my-workspace --cancel account_closed --cancel
        email_unsubscribed --out at_risk.csv
        """
        result = churn(
            source.events(),
            definition=_definition(source, inactive_days, cancel, activity, window),
            journey=source.journey,
            as_of=as_of,
            top=top or None,
            min_risk=min_risk,
            seed=seed,
            triggers=triggers,
            every=every,
            min_support=min_support,
            properties=properties or None,
        )
        _write(result, out)
        return result

    @analysis_command(app, "churn-triggers")
    def churn_triggers_command(
        source: EventSource,
        inactive_days: InactiveOption = None,
        cancel: CancelOption = None,
        activity: ActivityOption = None,
        window: WindowOption = None,
        as_of: AsOfOption = None,
        every: EveryOption = DEFAULT_EVERY,
        since: Annotated[
            dt.datetime | None,
            typer.Option("--since", help="Only exposure windows from this date (UTC)."),
        ] = None,
        until: Annotated[
            dt.datetime | None,
            typer.Option("--until", help="Only exposure windows ending by this date (UTC)."),
        ] = None,
        min_support: SupportOption = DEFAULT_MIN_SUPPORT,
        properties: PropertyOption = None,
        pairs: Annotated[
            bool,
            typer.Option("--pairs/--no-pairs", help="Consecutive pairs of events as triggers."),
        ] = True,
    ) -> AnalysisResult:
        """The moments of the journey that come before churn: events, event property
        values, pairs of consecutive events and touchpoints (with --map) whose occurrence
        multiplies churn risk, with the lift (risk ratio), its 95% interval and the month
        each lost the most customers; --chart draws the lifts.

        Example: jornada churn-triggers my-workspace --cancel account_closed --since
        2026-03-01 --until 2026-05-01
        """
        return churn_triggers(
            source.events(),
            definition=_definition(source, inactive_days, cancel, activity, window),
            journey=source.journey,
            as_of=as_of,
            every=every,
            since=since,
            until=until,
            properties=properties or None,
            min_support=min_support,
            pairs=pairs,
        )

    @analysis_command(app, "propensity")
    def propensity_command(
        source: EventSource,
        target: Annotated[
            str, typer.Option("--target", help=f"What to predict ({_STEP}).")
        ] = "purchase",
        where: Annotated[
            str | None,
            typer.Option(
                "--where",
                help="Only target events matching this: name=value (a property or field) "
                "or a rule, e.g. product_category=trail_shoes.",
            ),
        ] = None,
        population: Annotated[
            str | None,
            typer.Option(
                "--population",
                help=f"Score only customers who did this before ({_STEP}); default: all.",
            ),
        ] = None,
        window: Annotated[
            str, typer.Option("--window", help="Within how long after the cutoff (30d, 8w).")
        ] = "60d",
        as_of: AsOfOption = None,
        top: TopOption = DEFAULT_TOP,
        out: OutOption = None,
        seed: SeedOption = 0,
    ) -> AnalysisResult:
        """Upsell and cross-sell propensity: the probability of a next purchase (of a
        category, with --where) within the window, by the same model as churn, with its
        evaluation on a held-out period, its drivers and the most likely customers.

        Example: jornada propensity my-workspace --target purchase --where
        product_category=trail_shoes --out likely.csv
        """
        days = _days(window, "window")
        assert days is not None  # the option has a default
        result = propensity(
            source.events(),
            target=PurchaseTarget(target, where=where, population=population, window_days=days),
            journey=source.journey,
            as_of=as_of,
            top=top or None,
            seed=seed,
        )
        _write(result, out)
        return result
