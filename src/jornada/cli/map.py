"""``jornada map ...``: create, check, compare and draw journey map files."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar

import typer
from rich.table import Table
from rich.text import Text

from jornada.cli._lazy import LazyCommands, command_in
from jornada.cli.options import JsonOption, LanguageOption, language_of
from jornada.cli.output import err_console, out_console, print_json
from jornada.model.diff import diff_journeys
from jornada.model.io import dump_journey, dumps_journey
from jornada.model.schema import journey_json_schema
from jornada.model.templates import list_templates, load_template
from jornada.model.validation import load_journey, validate_file

__all__ = ["app"]

DISCOVER_SUMMARY = (
    "Draw a first journey map from the data alone: the most common events as touchpoints\n"
    "(with their channels, bound by event name), grouped into stages ordered by where they\n"
    "typically come in customers' paths. A draft for the team to rename and complete."
)
"""What ``jornada map --help`` says of ``discover`` (its help's first paragraph; a test
keeps them equal)."""


def _discover() -> Any:
    """``jornada map discover``, written in cli/living.py (typer needs its annotations
    unpostponed) over the analyses' shared event options."""
    from jornada.cli.analysis import analysis_command
    from jornada.cli.living import discover_command

    def register(holder: typer.Typer) -> None:
        analysis_command(holder, "discover")(discover_command)

    return command_in(register, "discover")


class _MapCommands(LazyCommands):
    """The map commands; ``discover`` (which reads events: the analysis library) made
    when it runs, so that ``jornada map validate`` starts without it."""

    lazy: ClassVar[Mapping[str, tuple[Callable[[], Any], str]]] = {
        "discover": (_discover, DISCOVER_SUMMARY),
    }


app = typer.Typer(
    cls=_MapCommands,
    help="Create, check, compare and draw journey map files.",
    epilog="Examples:\n\n  jornada map new --template b2c-ecommerce -o shop.yaml\n\n"
    "  jornada map validate shop.yaml\n\n  jornada map render shop.yaml -o shop.pdf",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

MapFile = Annotated[Path, typer.Argument(help="A journey map file (.yaml, .yml or .json).")]


@app.command("templates", epilog="Example:\n\n  jornada map templates --lang es")
def templates_command(language: LanguageOption = None, json: JsonOption = False) -> None:
    """List the map templates."""
    lang = language_of(language)
    infos = list_templates()
    if json:
        print_json([info.to_dict() for info in infos])
        return
    table = Table("template", "kind", "stages", "title", box=None)
    for info in infos:
        table.add_row(info.name, info.kind, str(info.stage_count), info.title[lang])
    out_console().print(table)


@app.command(
    "new",
    epilog="Examples:\n\n"
    "  jornada map new --template b2b-saas --lang pt -o trial.yaml\n\n"
    "  jornada map new --template support-experience --lang es > soporte.yaml",
)
def new_command(
    template: Annotated[str, typer.Option("--template", "-t", help="Template name.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (stdout when absent).")
    ] = None,
    language: LanguageOption = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Start a new map from a template, in English, Portuguese or Spanish."""
    journey = load_template(template, language_of(language))
    if output is None:
        out_console().file.write(dumps_journey(journey))
        return
    if output.exists() and not force:
        raise typer.BadParameter(f"{output} exists; use --force to overwrite", param_hint="-o")
    dump_journey(journey, output)
    err_console().print(f"wrote {output} from template {template!r}")


@app.command("schema", epilog="Example:\n\n  jornada map schema -o journey.schema.json")
def schema_command(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
) -> None:
    """Print the JSON Schema of map files (generated from the model)."""
    import json

    text = json.dumps(journey_json_schema(), ensure_ascii=False, indent=2) + "\n"
    if output is None:
        out_console().file.write(text)
    else:
        output.write_text(text, encoding="utf-8")


@app.command(
    "validate",
    epilog="Examples:\n\n  jornada map validate maps/*.yaml\n\n  jornada map validate shop.yaml --json",
)
def validate_command(
    files: Annotated[list[Path], typer.Argument(help="Map files to check.")],
    json: JsonOption = False,
) -> None:
    """Check map files; exit 1 with one line per problem (file:line: path: message)."""
    reports = [validate_file(path) for path in files]
    if json:
        print_json([report.to_dict() for report in reports])
    else:
        console = out_console()
        for report in reports:
            if report.journey is not None:
                touchpoints = sum(len(s.touchpoints) for s in report.journey.stages)
                console.print(
                    Text.assemble(
                        (report.source, "bold"),
                        f": valid ({len(report.journey.stages)} stages, {touchpoints} touchpoints)",
                    )
                )
            for problem in report.problems:
                console.print(Text(str(problem)))
    if not all(report.ok for report in reports):
        raise typer.Exit(1)


@app.command("diff", epilog="Example:\n\n  jornada map diff old.yaml new.yaml")
def diff_command(before: MapFile, after: MapFile, json: JsonOption = False) -> None:
    """Show what changed between two maps, in journey terms (stage added, emotion changed...)."""
    changes = diff_journeys(load_journey(before), load_journey(after))
    if json:
        print_json({"changes": [change.to_dict() for change in changes]})
        return
    console = out_console()
    if not changes:
        console.print("no changes")
    for change in changes:
        console.print(Text(f"• {change}"))


@app.command(
    "render",
    epilog="Examples:\n\n  jornada map render shop.yaml -o shop.html\n\n"
    "  jornada map render shop.yaml -o shop.pdf --lang pt",
)
def render_command(
    file: MapFile,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Output: .html .svg .png .pdf or .mmd (Mermaid).")
    ],
    language: LanguageOption = None,
) -> None:
    """Draw a map as a swimlane grid (HTML, SVG, PNG, PDF) or a Mermaid journey."""
    from jornada.render import render_to_file  # the renderer: only for this command

    journey = load_journey(file)
    lang = language_of(language, journey.language)
    with err_console().status(f"rendering {output.name}"):
        render_to_file(journey, output, language=lang)
    err_console().print(f"wrote {output}")
