"""``jornada transitions``, ``step-matrix``, ``sankey``, ``variants``: what paths look like.

Each runs on a workspace or an event file (with the column flags) and prints a table,
``--json``, ``--csv FILE`` or ``--chart FILE.html``.
"""

# No ``from __future__ import annotations``: analysis_command re-signs the commands and
# typer must see the option annotations as objects, not strings.
from typing import Annotated

import typer

from jornada.analytics.paths import (
    PathBy,
    PathPattern,
    Sankey,
    StepMatrix,
    Transitions,
    Variants,
    contains_sequence,
    excludes,
    sankey,
    step_matrix,
    transitions,
    variants,
)
from jornada.cli.analysis import EventSource, analysis_command

__all__ = ["register"]

ByOption = Annotated[
    PathBy,
    typer.Option(
        "--by", help="What a path is: a customer's events, or one session's.", case_sensitive=False
    ),
]
AfterOption = Annotated[
    str | None,
    typer.Option(
        "--after",
        help="Count steps after the first occurrence of this event (or rule, touchpoint, stage).",
    ),
]
BeforeOption = Annotated[
    str | None,
    typer.Option("--before", help="Count steps back from the first occurrence of this event."),
]


def _split(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


def transitions_command(
    source: EventSource,
    by: ByOption = PathBy.customer,
    with_start_end: Annotated[
        bool,
        typer.Option(
            "--with-start-end", help="Add START -> first event and last event -> END edges."
        ),
    ] = False,
) -> Transitions:
    """Directly-follows graph: each event -> next event, with counts, shares and times.

    For every pair of consecutive events of a path: transitions, distinct paths, share
    of the source's outgoing and of the target's incoming transitions, and the median
    and 95th percentile seconds between them (exact).

    Examples:

      jornada transitions shop --with-start-end

      jornada transitions events.csv --customer user_id --time ts --event name --json

      jornada transitions shop --by session --chart transitions.html
    """
    return transitions(source.events(), by=by, with_start_end=with_start_end)


def step_matrix_command(
    source: EventSource,
    steps: Annotated[int, typer.Option("--steps", "-n", min=1, help="Steps to show.")] = 10,
    after: AfterOption = None,
    before: BeforeOption = None,
    by: ByOption = PathBy.customer,
) -> StepMatrix:
    """Step matrix: the share of paths having each event at step 1, 2, ... N.

    From the start of each path, or after (before) the first occurrence of an event; then
    only paths having it count. The END row (START looking back) is the share of paths
    already over at that step.

    Examples:

      jornada step-matrix shop --steps 8

      jornada step-matrix shop --after add_to_cart --chart after-cart.html

      jornada step-matrix shop --before purchase --steps 5 --json
    """
    _one_anchor(after, before)
    return step_matrix(
        source.events(),
        steps=steps,
        after=after,
        before=before,
        by=by,
        journey=source.journey,
    )


def sankey_command(
    source: EventSource,
    steps: Annotated[int, typer.Option("--steps", "-n", min=1, help="Steps to follow.")] = 5,
    after: AfterOption = None,
    before: BeforeOption = None,
    by: ByOption = PathBy.customer,
) -> Sankey:
    """Sankey of paths: flows between (step, event) nodes over N steps.

    From the start of each path, from the first occurrence of --after to N steps later,
    or from N steps before the first occurrence of --before to it. Paths ending inside
    the window flow into END (out of START looking back).

    Examples:

      jornada sankey shop --after add_to_cart --steps 4 --chart sankey.html

      jornada sankey shop --before purchase --json
    """
    _one_anchor(after, before)
    return sankey(
        source.events(),
        steps=steps,
        after=after,
        before=before,
        by=by,
        journey=source.journey,
    )


def variants_command(
    source: EventSource,
    top: Annotated[int, typer.Option("--top", "-k", min=1, help="Variants to list.")] = 20,
    collapse_repeats: Annotated[
        bool,
        typer.Option("--collapse-repeats", help="Treat a run of one event as one (a a b = a b)."),
    ] = False,
    having: Annotated[
        list[str] | None,
        typer.Option(
            "--having",
            help="Only paths with these events in this order, comma-separated "
            "(others may come between); repeat for several sequences.",
        ),
    ] = None,
    without: Annotated[
        list[str] | None,
        typer.Option("--without", help="Only paths with none of these events (comma-separated)."),
    ] = None,
    by: ByOption = PathBy.customer,
) -> Variants:
    """Top path variants: whole event sequences, with counts and shares of paths.

    Examples:

      jornada variants shop --top 10 --collapse-repeats

      jornada variants shop --having add_to_cart,support_ticket --without purchase

      jornada variants events.csv --customer user_id --time ts --event name --json
    """
    pattern = PathPattern()
    for value in having or []:
        pattern &= contains_sequence(_split([value]))
    if without:
        pattern &= excludes(*_split(without))
    return variants(
        source.events(),
        top=top,
        collapse_repeats=collapse_repeats,
        pattern=pattern,
        by=by,
        journey=source.journey,
    )


def _one_anchor(after: str | None, before: str | None) -> None:
    if after is not None and before is not None:
        raise typer.BadParameter("give --after or --before, not both")


def register(app: typer.Typer) -> None:
    """Add the path commands to ``app``."""
    analysis_command(app, "transitions")(transitions_command)
    analysis_command(app, "step-matrix")(step_matrix_command)
    analysis_command(app, "sankey")(sankey_command)
    analysis_command(app, "variants")(variants_command)
