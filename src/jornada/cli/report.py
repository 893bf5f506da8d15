"""``jornada report``: the whole journey told with its data, in one HTML or PDF file."""

# No ``from __future__ import annotations``: typer reads the ``Annotated`` options as objects.
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from jornada.cli.options import LanguageOption, language_of
from jornada.cli.output import err_console, print_json
from jornada.cli.scope import OnlyChannelOption, PeriodOption, SegmentOption, scope_of
from jornada.model.validation import load_journey
from jornada.report import DEFAULT_PURCHASE, REPORT_SUFFIXES, build_report, write_report
from jornada.workspace import Workspace

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the report command to ``app``."""

    @app.command("report")
    def report_command(
        workspace_path: Annotated[
            Path, typer.Argument(metavar="WORKSPACE", help="A workspace directory.")
        ],
        map_name: Annotated[
            str,
            typer.Option(
                "--map", help="The journey map: a file, or the id of a map of the workspace."
            ),
        ],
        output: Annotated[
            Path, typer.Option("--output", "-o", help="The file to write: .html or .pdf.")
        ],
        language: LanguageOption = None,
        conversion: Annotated[
            str | None,
            typer.Option(
                "--conversion",
                help="The conversion step (event, touchpoint, stage or milestone id, rule); "
                "default: the map's first bound milestone of its purchase phase.",
            ),
        ] = None,
        purchase: Annotated[
            str,
            typer.Option(
                "--purchase",
                help="The purchase step whose values make the customer lifetime value.",
            ),
        ] = DEFAULT_PURCHASE,
        force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
        json_output: Annotated[
            bool, typer.Option("--json", help="Also print the report as JSON.")
        ] = False,
        period: PeriodOption = None,
        segment: SegmentOption = None,
        only_channel: OnlyChannelOption = None,
    ) -> None:
        """Write the journey report: persona and story, the living map, stage funnel,
        journeys, touches before conversion, attribution, KPIs, retention, CLV, churn,
        stalled customers, departments and ranked improvement opportunities, each claim
        linked to its numbers. One self-contained file that opens offline.

        Example:

          jornada report demo-workspace --map b2c-ecommerce -o report.html --lang pt

          jornada report demo-workspace --map b2c-ecommerce -o q1.html --period 2026-Q1
        """
        if output.suffix.lower() not in REPORT_SUFFIXES:
            raise typer.BadParameter(
                f"{output.name}: name the report .html or .pdf", param_hint="-o"
            )
        if output.exists() and not force:
            raise typer.BadParameter(f"{output} exists; use --force to overwrite", param_hint="-o")
        scope = scope_of(period, segment, only_channel)
        workspace = Workspace.open(workspace_path)
        try:
            map_file = Path(map_name)
            journey = load_journey(map_file) if map_file.is_file() else workspace.load_map(map_name)
            chosen = language_of(language, workspace.settings.language)
            bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TimeElapsedColumn(),
                console=err_console(),
                transient=True,
            )
            with bar:
                task = bar.add_task("report", total=1)

                def say(what: str, done: int, total: int) -> None:
                    bar.update(task, description=what, completed=done, total=total)

                report = build_report(
                    workspace,
                    journey,
                    language=chosen,
                    conversion=conversion,
                    purchase=purchase,
                    progress=say,
                    scope=scope,
                )
                bar.update(task, description=output.name)
                write_report(report, output)
        finally:
            workspace.close()
        err_console().print(
            f"wrote {output} ({len(report.sections)} sections, {len(report.opportunities)} opportunities)"
        )
        if json_output:
            print_json(report.to_dict(analyses=False))
