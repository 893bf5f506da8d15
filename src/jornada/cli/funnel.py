"""``jornada funnel``: how many customers (or sessions) reach each step, and how fast."""

# No ``from __future__ import annotations`` here: analysis_command re-signs the command
# and typer must see the option annotations as objects, not strings to resolve in
# another module's namespace.
from pathlib import Path
from typing import Annotated

import typer

from jornada.analytics.funnel import FunnelMode, FunnelResult, PathUnit, funnel
from jornada.cli.analysis import EventSource, analysis_command
from jornada.cli.output import err_console

__all__ = ["register", "split_steps"]

_EPILOG = (
    "Examples:\n\n"
    "  jornada funnel shop/ --steps view,cart,purchase --window 30d\n\n"
    "  jornada funnel events.csv --customer user --time ts --event name "
    "--steps view,cart,purchase --json\n\n"
    "  jornada funnel shop/ --steps view,cart,purchase --dropped-at 3 --out lost.csv"
)


def split_steps(texts: list[str]) -> list[str]:
    """Steps from ``--steps`` values: split at commas outside quotes and parentheses, so a
    rule such as ``channel in ('web', 'app')`` stays one step.

    >>> split_steps(["view, channel in ('web', 'app'),purchase"])
    ['view', "channel in ('web', 'app')", 'purchase']
    """
    steps: list[str] = []
    for text in texts:
        depth, quote, current = 0, "", ""
        for char in text:
            if quote:
                quote = "" if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char in "([":
                depth += 1
            elif char in ")]":
                depth -= 1
            elif char == "," and depth == 0:
                steps.append(current.strip())
                current = ""
                continue
            current += char
        steps.append(current.strip())
    return [step for step in steps if step]


def register(app: typer.Typer) -> None:
    """Add ``jornada funnel`` to ``app``."""

    @analysis_command(app, "funnel", epilog=_EPILOG)
    def funnel_command(
        source: EventSource,
        *,
        steps: Annotated[
            list[str],
            typer.Option(
                "--steps",
                help="Steps, comma-separated: event names, touchpoint or stage ids of --map, "
                "or rules (quote them).",
            ),
        ],
        mode: Annotated[
            FunnelMode,
            typer.Option(
                "--mode",
                help="ordered: steps in order, other events between allowed; strict: each "
                "step the very next event; unordered: all steps in any order.",
            ),
        ] = "ordered",
        window: Annotated[
            str | None,
            typer.Option(
                "--window",
                help="All steps within this time of the first (inclusive): 30d, 12h, 90m, 45s.",
            ),
        ] = None,
        exclude: Annotated[
            list[str] | None,
            typer.Option(
                "--exclude",
                help="An event or rule that voids an attempt when it happens between its "
                "steps; repeatable.",
            ),
        ] = None,
        by: Annotated[
            PathUnit,
            typer.Option("--by", help="Count customers, or sessions."),
        ] = "customer",
        breakdown: Annotated[
            str | None,
            typer.Option(
                "--breakdown",
                help="Split by an event column or property (channel, properties.plan); "
                "adds a chi-square test on the last step.",
            ),
        ] = None,
        dropped_at: Annotated[
            int | None,
            typer.Option(
                "--dropped-at",
                metavar="K",
                help="With --out: the paths that reached step K-1 but not step K.",
            ),
        ] = None,
        out: Annotated[
            Path | None,
            typer.Option("--out", help="CSV file for the --dropped-at list."),
        ] = None,
    ) -> FunnelResult:
        """Count the customers (or sessions) reaching each step, with conversion, time
        between steps and drop-offs."""
        if (dropped_at is None) != (out is None):
            raise typer.BadParameter("give --dropped-at K and --out FILE together")
        result = funnel(
            source.events(),
            split_steps(steps),
            mode=mode,
            window=window,
            exclude=split_steps(exclude or []),
            by=by,
            breakdown=breakdown,
            journey=source.journey,
            engine=source.workspace.engine,
        )
        if dropped_at is not None and out is not None:
            lost = result.dropped_at(dropped_at)
            lost.to_csv(out, index=False)
            err_console().print(f"wrote {len(lost):,} paths to {out}")
        return result
