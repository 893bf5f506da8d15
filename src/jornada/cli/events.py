"""``jornada load``, ``jornada quarantine``: getting events into a workspace."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from jornada.cli.options import JsonOption
from jornada.cli.output import err_console, out_console, print_json
from jornada.cli.source import (
    ChannelOption,
    CostOption,
    CustomerOption,
    DelimiterOption,
    EncodingOption,
    EventOption,
    IdentityOption,
    IdOption,
    MappingOption,
    ScoreOption,
    SessionOption,
    TextOption,
    TimeFormatOption,
    TimeOption,
    TzOption,
    ValueOption,
    build_mapping,
)
from jornada.errors import JornadaError
from jornada.events.sources import is_database_url, read_database_table
from jornada.workspace import Workspace

__all__ = ["register"]

WorkspaceArgument = Annotated[Path, typer.Argument(help="The workspace directory.")]

BindOption = Annotated[
    bool | None,
    typer.Option(
        "--bind/--no-bind",
        help="After the load, label the events for each valid map in the workspace's maps/ "
        "and keep them, so its next living map and report start from them (default: the "
        "workspace's bind_maps_after_load setting, on unless turned off).",
        show_default=False,
    ),
]


def load_command(
    workspace_dir: WorkspaceArgument,
    source: Annotated[
        str,
        typer.Argument(
            help="CSV, TSV, Parquet, JSON Lines or Excel file; or a database URL "
            "(postgresql://... or sqlite:///file.db) with --table."
        ),
    ],
    customer: CustomerOption = None,
    time: TimeOption = None,
    event: EventOption = None,
    channel: ChannelOption = None,
    session: SessionOption = None,
    value: ValueOption = None,
    cost: CostOption = None,
    text: TextOption = None,
    score: ScoreOption = None,
    id: IdOption = None,
    id_scope: Annotated[
        str | None,
        typer.Option(help="Prefix for this source's event ids (when two systems share id ranges)."),
    ] = None,
    identity: IdentityOption = None,
    tz: TzOption = "UTC",
    time_format: TimeFormatOption = None,
    delimiter: DelimiterOption = None,
    encoding: EncodingOption = "utf-8",
    mapping: MappingOption = None,
    table: Annotated[str | None, typer.Option(help="Table to read from a database URL.")] = None,
    save_mapping: Annotated[
        str | None, typer.Option(help="Remember these columns under a name for --mapping.")
    ] = None,
    bind: BindOption = None,
    json: JsonOption = False,
) -> None:
    """Load events into a workspace: atomic, idempotent, bad rows quarantined; then label
    the events for each saved map (see --bind).

    Examples:

      jornada load shop events.csv --customer user_id --time ts --event name --identity email=mail

      jornada load shop more.parquet --mapping web

      jornada load shop postgresql://me@localhost/crm --table events --mapping crm
    """
    workspace = Workspace.open(workspace_dir)
    columns = (
        workspace.mapping(mapping)
        if mapping
        else build_mapping(
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
            identity=identity,
            tz=tz,
            time_format=time_format,
            delimiter=delimiter,
            encoding=encoding,
        )
    )
    if save_mapping:
        workspace.save_mapping(save_mapping, columns)
    # The load reports its steps (reading, parsing, resolving identities); the bar moves
    # one step at a time, with the elapsed time, and disappears when the load ends.
    progress = Progress(
        TextColumn("loading: {task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err_console(),
        transient=True,
    )
    with progress:
        task = progress.add_task("starting", total=4)

        def say(step: str) -> None:
            progress.update(task, description=step, advance=1)

        if is_database_url(source):
            if not table:
                raise typer.BadParameter(
                    "a database source needs --table NAME", param_hint="--table"
                )
            say(f"reading {table}")
            result = workspace.load(
                read_database_table(source, table), columns, source_name=table, progress=say
            )
        else:
            result = workspace.load(Path(source), columns, progress=say)
    # Nothing new: the labels kept before still hold (a load that adds no event keeps them).
    bound = _bind_saved_maps(workspace, bind) if result.loaded else _BoundMaps()
    if json:
        data = result.to_dict()
        print_json(
            {key: data[key] for key in ("rows_read", "loaded", "duplicates", "quarantined")}
            | {"source": data["source"], "load_id": data["load_id"]}
            | bound.to_dict()
        )
        return
    out_console().print(
        f"{result.source}: {result.rows_read:,} rows read → {result.loaded:,} loaded, "
        f"{result.duplicates:,} duplicates, {result.quarantined:,} quarantined "
        f"({result.seconds:.1f} s)"
    )
    bound.show()
    if result.quarantined:
        err_console().print(f"see the bad rows with: jornada quarantine {workspace_dir}")


@dataclass
class _BoundMaps:
    """The saved maps labelled after a load (their ids), and those skipped (id: why)."""

    bound: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"maps_bound": self.bound, "maps_not_bound": self.skipped}

    def show(self) -> None:
        if self.bound:
            out_console().print(f"labelled for the living map: {', '.join(self.bound)}")
        for map_id, why in self.skipped.items():
            err_console().print(f"map {map_id} not labelled: {why}")


def _bind_saved_maps(workspace: Workspace, bind: bool | None) -> _BoundMaps:
    """Label the events for each valid saved map and keep the labels
    (:func:`~jornada.living.overlay.prepare_living_map`), unless ``bind`` (or, when None,
    the workspace's ``bind_maps_after_load``) says not to. The load has landed already: a
    map that cannot be labelled is reported and skipped, never an error of the load.

    Why after the load: the labels of the events are what makes the first living map
    (and report) after a load slow, and a load forgets the ones kept (they were made of
    the old events). The web app measures its maps after an upload for the same reason.
    """
    from jornada.living.overlay import prepare_living_map

    outcome = _BoundMaps()
    if not (workspace.settings.bind_maps_after_load if bind is None else bind):
        return outcome
    for entry in workspace.list_maps():
        if entry.journey is None:
            outcome.skipped[entry.id] = (
                f"{entry.path.name} has problems ({entry.report.problems[0]})"
            )
            continue
        with err_console().status(f"labelling the events for map {entry.id}"):
            try:
                prepare_living_map(workspace.events(), entry.journey)
            except JornadaError as error:
                outcome.skipped[entry.id] = str(error).splitlines()[0]
                continue
        outcome.bound.append(entry.id)
    return outcome


def load_customers_command(
    workspace_dir: WorkspaceArgument,
    source: Annotated[
        Path, typer.Argument(help="A customer file: CSV, Parquet, JSON Lines or Excel.")
    ],
    id_column: Annotated[str, typer.Option("--id", help="The customer id column (e.g. a CRM id).")],
    identity: IdentityOption = None,
    bind: BindOption = None,
    json: JsonOption = False,
) -> None:
    """Load a customer file: identifiers on one row link that customer's events, and the
    other columns become customer attributes (segment, city...). Reloading replaces it.

    Example:  jornada load-customers shop crm.csv --id crm_id --identity email=email --identity phone=phone
    """
    identities = build_mapping(
        customer=id_column, time=id_column, event=id_column, identity=identity
    ).identities
    workspace = Workspace.open(workspace_dir)
    with err_console().status("loading customers and resolving identities"):
        stored = workspace.load_customers(source, id_column=id_column, identities=identities)
    # The profiles link customers anew: the events are rebuilt and their labels with them.
    bound = _bind_saved_maps(workspace, bind)
    if json:
        print_json({"source": source.name, "profiles": stored} | bound.to_dict())
    else:
        out_console().print(f"{source.name}: {stored:,} customer profiles loaded")
        bound.show()


def quarantine_command(
    workspace_dir: WorkspaceArgument,
    export: Annotated[
        Path | None, typer.Option(help="Write every quarantined row to this CSV file.")
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 20,
    json: JsonOption = False,
) -> None:
    """Show the rows that could not be loaded, with source, row, column and reason.

    Example:  jornada quarantine shop --export bad_rows.csv
    """
    workspace = Workspace.open(workspace_dir)
    quarantine = workspace.engine.table("quarantine")
    if export is not None:
        quarantine.order_by(["load_id", "row"]).to_csv(export)
        err_console().print(f"wrote {export}")
        return
    frame = workspace.engine.to_pandas(quarantine.order_by(["load_id", "row"]).limit(limit))
    total = int(workspace.engine.execute(quarantine.count()))
    if json:
        print_json(
            {
                "total": total,
                "rows": frame.astype(object).where(frame.notna(), None).to_dict("records"),
            }
        )
        return
    if not total:
        out_console().print("no quarantined rows")
        return
    view = Table("source", "row", "column", "reason", "raw", box=None)
    for record in frame.itertuples(index=False):
        view.add_row(
            str(record.source),
            str(record.row),
            str(record.column or ""),
            str(record.reason),
            str(record.raw or "")[:60],
        )
    out_console().print(view)
    if total > limit:
        out_console().print(f"… {total - limit:,} more; use --export FILE for all")


def identities_command(workspace_dir: WorkspaceArgument, json: JsonOption = False) -> None:
    """Report identity resolution: identifiers, customers, merges, flagged shared identifiers.

    Example:  jornada identities shop --json
    """
    from jornada.events.identity import identity_report

    workspace = Workspace.open(workspace_dir)
    report = identity_report(workspace.engine)
    if json:
        print_json(report.to_dict())
    else:
        out_console().print(str(report))


def bind_command(
    workspace_dir: WorkspaceArgument,
    map_path: Annotated[Path, typer.Option("--map", help="The journey map to bind.")],
    keep: Annotated[
        bool,
        typer.Option(
            "--keep/--no-keep",
            help="Keep the labelled events in the workspace for the living map and report.",
        ),
    ] = True,
    json: JsonOption = False,
) -> None:
    """Report what each touchpoint of a map matches in the events, and the coverage; keep
    the events labelled by the map for its living map and report (until the next load).

    Example:  jornada bind shop --map shop/maps/b2c-ecommerce.yaml
    """
    from jornada.events.binding import bind_report
    from jornada.living.overlay import prepare_living_map
    from jornada.model.validation import load_journey

    workspace = Workspace.open(workspace_dir)
    journey = load_journey(map_path)
    report = bind_report(workspace.engine, workspace.events(), journey)
    if keep:
        with err_console().status("keeping the labelled events for the living map"):
            prepare_living_map(workspace.events(), journey)
    if json:
        print_json(report.to_dict())
        return
    frame = report.to_frame()
    view = Table(*map(str, frame.columns), box=None)
    for row in frame.itertuples(index=False):
        view.add_row(*(f"{v:,}" if type(v) is int else str(v) for v in row))
    out_console().print(view)
    out_console().print(str(report))


def register(app: typer.Typer) -> None:
    app.command("load")(load_command)
    app.command("load-customers")(load_customers_command)
    app.command("quarantine")(quarantine_command)
    app.command("identities")(identities_command)
    app.command("bind")(bind_command)
