"""The column flags of event sources, shared by ``jornada load`` and every analysis command.

An analysis runs on a workspace directory, or directly on an event file given with
the same column flags (``jornada funnel events.csv --customer user_id --time ts ...``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jornada.events.load import ColumnMapping
from jornada.workspace import CONFIG_FILE, Workspace

__all__ = [
    "ChannelOption",
    "CostOption",
    "CustomerOption",
    "DelimiterOption",
    "EncodingOption",
    "EventOption",
    "IdOption",
    "IdentityOption",
    "MappingOption",
    "ScoreOption",
    "SessionOption",
    "TextOption",
    "TimeFormatOption",
    "TimeOption",
    "TzOption",
    "ValueOption",
    "build_mapping",
    "open_source",
]

_PANEL = "Event columns"
CustomerOption = Annotated[
    str | None, typer.Option("--customer", help="Customer key column.", rich_help_panel=_PANEL)
]
TimeOption = Annotated[
    str | None, typer.Option("--time", help="Timestamp column.", rich_help_panel=_PANEL)
]
EventOption = Annotated[
    str | None, typer.Option("--event", help="Event name column.", rich_help_panel=_PANEL)
]
ChannelOption = Annotated[
    str | None, typer.Option("--channel", help="Channel column.", rich_help_panel=_PANEL)
]
SessionOption = Annotated[
    str | None,
    typer.Option("--session", help="Session id column (else derived).", rich_help_panel=_PANEL),
]
ValueOption = Annotated[
    str | None, typer.Option("--value", help="Revenue/amount column.", rich_help_panel=_PANEL)
]
CostOption = Annotated[
    str | None, typer.Option("--cost", help="Cost column (ad spend).", rich_help_panel=_PANEL)
]
TextOption = Annotated[
    str | None, typer.Option("--text", help="Free-text column.", rich_help_panel=_PANEL)
]
ScoreOption = Annotated[
    str | None,
    typer.Option("--score", help="Survey score column (CSAT, NPS, CES).", rich_help_panel=_PANEL),
]
IdOption = Annotated[
    str | None,
    typer.Option(
        "--id", help="Unique event id column (else a content hash).", rich_help_panel=_PANEL
    ),
]
IdentityOption = Annotated[
    list[str] | None,
    typer.Option(
        "--identity",
        help="More identifier columns, KIND=COLUMN (email=mail, phone=tel); repeatable.",
        rich_help_panel=_PANEL,
    ),
]
TzOption = Annotated[
    str, typer.Option("--tz", help="Time zone of times without offset.", rich_help_panel=_PANEL)
]
TimeFormatOption = Annotated[
    str | None,
    typer.Option(
        "--time-format",
        help="strptime format (%d/%m/%Y %H:%M), epoch or epoch_ms; ISO 8601 when absent.",
        rich_help_panel=_PANEL,
    ),
]
DelimiterOption = Annotated[
    str | None,
    typer.Option(
        "--delimiter", help="CSV delimiter (sniffed when absent).", rich_help_panel=_PANEL
    ),
]
EncodingOption = Annotated[
    str, typer.Option("--encoding", help="Text encoding of CSV files.", rich_help_panel=_PANEL)
]
MappingOption = Annotated[
    str | None,
    typer.Option(
        "--mapping", help="Use a column mapping saved in the workspace.", rich_help_panel=_PANEL
    ),
]


def build_mapping(
    *,
    customer: str | None,
    time: str | None,
    event: str | None,
    channel: str | None = None,
    session: str | None = None,
    value: str | None = None,
    cost: str | None = None,
    text: str | None = None,
    score: str | None = None,
    id: str | None = None,
    id_scope: str | None = None,
    identity: list[str] | None = None,
    tz: str = "UTC",
    time_format: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
) -> ColumnMapping:
    """A column mapping from the flags; a usage error names the missing flags."""
    missing = [
        f"--{name}"
        for name, given in (("customer", customer), ("time", time), ("event", event))
        if not given
    ]
    if missing:
        raise typer.BadParameter(
            f"give {', '.join(missing)} (the columns holding them), or --mapping NAME",
            param_hint="columns",
        )
    identities: dict[str, str] = {}
    for item in identity or []:
        kind, sep, column = item.partition("=")
        if not sep or not kind.strip() or not column.strip():
            raise typer.BadParameter(
                f"{item!r}: write KIND=COLUMN, e.g. email=mail", param_hint="--identity"
            )
        identities[kind.strip().lower()] = column.strip()
    assert customer is not None
    assert time is not None
    assert event is not None
    return ColumnMapping(
        customer=customer,
        time=time,
        event=event,
        channel=channel,
        session=session,
        value=value,
        cost=cost,
        text=text,
        score=score,
        id=id,
        id_scope=id_scope,
        identities=identities,
        tz=tz,
        time_format=time_format,
        delimiter=delimiter,
        encoding=encoding,
    )


def open_source(source: Path, mapping: ColumnMapping | None) -> Workspace:
    """A workspace directory as it is, or an event file loaded into a throw-away workspace."""
    if source.is_dir() and (source / CONFIG_FILE).exists():
        return Workspace.open(source)
    if source.is_dir():
        return Workspace.open(source)  # raises the "not a workspace" error with its fix
    if mapping is None:
        raise typer.BadParameter(
            f"{source} is a file: give its columns (--customer, --time, --event)",
            param_hint="SOURCE",
        )
    return Workspace.from_events(source, mapping)
