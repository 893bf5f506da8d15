"""``jornada kpis``: the KPI catalogue computed from events, and a map's targets checked."""

# No ``from __future__ import annotations``: analysis_command re-signs the command, and
# typer must see the option annotations as objects, not strings to resolve elsewhere.
from pathlib import Path
from typing import Annotated

import typer

from jornada.analytics.kpis import (
    DEFAULT_COUNTS,
    DEFAULT_TOLERANCE,
    By,
    KpiError,
    KpiPeriod,
    KpiResult,
    kpis,
)
from jornada.cli.analysis import EventSource, analysis_command
from jornada.cli.funnel import split_steps
from jornada.model import parse_language

__all__ = ["parse_counts", "register"]

_EPILOG = (
    "Examples:\n\n"
    "  jornada kpis shop/ --map shop/maps/b2c-ecommerce.yaml --period month\n\n"
    "  jornada kpis shop/ --by channel --spend spend.csv --kpi cpm,ctr,roas --json\n\n"
    "  jornada kpis events.csv --customer user --time ts --event name "
    "--count conversion=sign_up --kpi conversion_rate"
)


def parse_counts(texts: list[str]) -> dict[str, str]:
    """``--count ROLE=STEP`` values as a mapping (the step may hold ``=`` itself).

    >>> parse_counts(["conversion=sign_up", "impression=event = 'banner_shown'"])
    {'conversion': 'sign_up', 'impression': "event = 'banner_shown'"}
    """
    counts: dict[str, str] = {}
    for text in texts:
        role, equals, step = text.partition("=")
        if not equals or not role.strip() or not step.strip():
            raise KpiError(
                f"--count {text!r}: write ROLE=STEP, e.g. --count conversion=sign_up; "
                f"roles: {', '.join(DEFAULT_COUNTS)}"
            )
        counts[role.strip()] = step.strip()
    return counts


def register(app: typer.Typer) -> None:
    """Add ``jornada kpis`` to ``app``."""

    @analysis_command(app, "kpis", epilog=_EPILOG)
    def kpis_command(
        source: EventSource,
        period: Annotated[
            KpiPeriod | None,
            typer.Option(
                "--period",
                help="One value per calendar day, ISO week, month, quarter or year (UTC); "
                "default: one value over the whole log.",
            ),
        ] = None,
        by: Annotated[
            By | None,
            typer.Option(
                "--by",
                help="Scopes: each channel, campaign (properties.campaign), or stage or "
                "touchpoint of --map. Default: all events, or with --map the map's own KPIs "
                "and targets.",
            ),
        ] = None,
        spend: Annotated[
            Path | None,
            typer.Option(
                "--spend",
                help="A spend table (CSV or Parquet): date, channel, spend, and optionally "
                "campaign, impressions, clicks; added to the cost on events.",
            ),
        ] = None,
        kpi: Annotated[
            list[str] | None,
            typer.Option(
                "--kpi", help="Only these KPIs (catalogue ids, comma-separated; repeatable)."
            ),
        ] = None,
        count: Annotated[
            list[str] | None,
            typer.Option(
                "--count",
                metavar="ROLE=STEP",
                help="What counts as a role (impression, click, purchase, conversion, "
                "churn, referral...): an event name, a stage or touchpoint id, or a rule. "
                "Repeatable.",
            ),
        ] = None,
        lang: Annotated[
            str | None,
            typer.Option(
                "--lang",
                help="Language of names and definitions: en, pt, es "
                "(default: the map's, else the workspace's).",
            ),
        ] = None,
        tolerance: Annotated[
            float,
            typer.Option(
                "--tolerance",
                min=0.0,
                help="How far on the wrong side of a target (share of it) is still 'at risk'.",
            ),
        ] = DEFAULT_TOLERANCE,
    ) -> KpiResult:
        """KPIs (impressions, CTR, conversion rate, ROAS, retention, NPS, CLV...) by
        scope and period, each with its definition; with --map, the map's targets get a
        status: met, at risk (wrong side by at most --tolerance) or missed.

        Example: jornada kpis shop/ --map shop/maps/b2c-ecommerce.yaml --period month
        """
        try:
            language = parse_language(lang) if lang else None
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--lang") from None
        if language is None and source.journey is None:
            language = source.workspace.settings.language
        return kpis(
            source.events(),
            journey=source.journey,
            by=by,
            period=period,
            only=split_steps(kpi) if kpi else None,
            spend=spend,
            counts=parse_counts(count or []),
            language=language,
            tolerance=tolerance,
        )
