"""The scope options of the commands that read events (``--period``, ``--segment``,
``--only-channel``), declared once."""

from __future__ import annotations

from typing import Annotated

import typer

from jornada.events.filters import PERIOD_SYNTAX, EventScope, ScopeError, parse_period
from jornada.events.rules import RuleError, parse_rule

__all__ = ["OnlyChannelOption", "PeriodOption", "SegmentOption", "scope_of"]

_SCOPE_PANEL = "Scope"
PeriodOption = Annotated[
    str | None,
    typer.Option(
        "--period",
        help=f"Only events of this period (UTC): {PERIOD_SYNTAX}.",
        rich_help_panel=_SCOPE_PANEL,
    ),
]
SegmentOption = Annotated[
    str | None,
    typer.Option(
        "--segment",
        help="Only customers with at least one event matching this rule, "
        "e.g. \"properties.plan = 'pro'\" or \"channel = 'app'\".",
        rich_help_panel=_SCOPE_PANEL,
    ),
]
# Not --channel: analysis commands already use --channel for the channel column of an
# event file.
OnlyChannelOption = Annotated[
    list[str] | None,
    typer.Option(
        "--only-channel",
        help="Only events of this channel (repeatable).",
        rich_help_panel=_SCOPE_PANEL,
    ),
]


def scope_of(period: str | None, segment: str | None, channels: list[str] | None) -> EventScope:
    """The scope the options ask for; a bad period or rule is a usage error naming its
    option, on one line.

    >>> scope_of("2026-Q1", None, ["web"]).to_dict()
    {'from': '2026-01-01', 'to': '2026-03-31', 'channels': ['web'], 'segment': None}
    """
    try:
        start, end = parse_period(period) if period is not None else (None, None)
    except ScopeError as error:
        raise typer.BadParameter(str(error), param_hint="--period") from None
    if segment is not None:
        try:
            parse_rule(segment)
        except RuleError as error:
            # One line: the rule's message without the rule and caret below it, its hint kept.
            shown = str(error).split("\n")[0] + (f"; {error.hint}" if error.hint else "")
            raise typer.BadParameter(shown.replace("\n", " "), param_hint="--segment") from None
    return EventScope(start, end, tuple(channels or ()), segment)
