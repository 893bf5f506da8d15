"""The ``jornada`` command line. Each command is a few lines over the library.

>>> run(["--version"])  # doctest: +ELLIPSIS
jornada ...
0
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.text import Text

from jornada.__about__ import __version__
from jornada.cli import attribution as attribution_commands
from jornada.cli import churn as churn_commands
from jornada.cli import clv as clv_commands
from jornada.cli import events as event_commands
from jornada.cli import funnel as funnel_commands
from jornada.cli import kpis as kpi_commands
from jornada.cli import living as living_commands
from jornada.cli import map as map_commands
from jornada.cli import paths as path_commands
from jornada.cli import report as report_commands
from jornada.cli import retention as retention_commands
from jornada.cli import stages as stage_commands
from jornada.cli import timing as timing_commands
from jornada.cli import users as user_commands
from jornada.cli import workspace as workspace_commands
from jornada.cli.output import err_console
from jornada.engine.concurrent import is_interruption
from jornada.errors import JornadaError

__all__ = ["app", "main", "run"]

app = typer.Typer(
    name="jornada",
    help="Customer journey maps as data, joined to the event data of real journeys.\n\n"
    "Examples:\n\n"
    "  jornada demo && jornada serve demo-workspace\n\n"
    "  jornada map new --template b2c-ecommerce --lang pt -o shop.yaml\n\n"
    "  jornada map validate shop.yaml",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"jornada {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Customer journey maps as data, joined to the event data of real journeys."""


app.add_typer(map_commands.app, name="map")
workspace_commands.register(app)
event_commands.register(app)
stage_commands.register(app)
path_commands.register(app)
funnel_commands.register(app)
timing_commands.register(app)
retention_commands.register(app)
attribution_commands.register(app)
kpi_commands.register(app)
clv_commands.register(app)
churn_commands.register(app)
user_commands.register(app)
living_commands.register(app)
report_commands.register(app)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return the exit code; errors become one line on stderr."""
    try:
        result = app(args=argv, prog_name="jornada", standalone_mode=False)
    except typer.Exit as stop:
        return stop.exit_code
    except typer.TyperException as error:  # usage errors: typer's own click exceptions
        show = getattr(error, "show", None)  # the usage errors know how to print themselves
        if callable(show):
            show()
        else:
            err_console().print(Text.assemble(("error: ", "red"), error.format_message()))
        return error.exit_code
    except typer.Abort:
        err_console().print("aborted")
        return 130
    except JornadaError as error:
        err_console().print(Text.assemble(("error: ", "red"), str(error)))
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        if is_interruption(error):  # Ctrl-C while the engine ran a query
            err_console().print("interrupted")
            return 130
        raise
    # Outside standalone mode click returns the code of a `typer.Exit` instead of raising it.
    return result if isinstance(result, int) else 0


def main() -> None:
    """Entry point of the ``jornada`` console script."""
    sys.exit(run())
