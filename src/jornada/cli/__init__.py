"""The ``jornada`` command line. Each command is a few lines over the library.

>>> run(["--version"])  # doctest: +ELLIPSIS
jornada ...
0
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Final

import typer
from rich.text import Text

from jornada.__about__ import __version__
from jornada.cli._lazy import LazyCommands, command_in
from jornada.cli.output import err_console
from jornada.errors import JornadaError

__all__ = ["app", "main", "run"]

COMMANDS: Final[dict[str, str]] = {
    "init": "workspace",
    "demo": "workspace",
    "serve": "workspace",
    "generate": "workspace",
    "load": "events",
    "load-customers": "events",
    "quarantine": "events",
    "identities": "events",
    "bind": "events",
    "stages": "stages",
    "stalled": "stages",
    "transitions": "paths",
    "step-matrix": "paths",
    "sankey": "paths",
    "variants": "paths",
    "funnel": "funnel",
    "time-to-convert": "timing",
    "time-between": "timing",
    "touches": "timing",
    "dwell": "timing",
    "retention": "retention",
    "lifecycle": "retention",
    "attribution": "attribution",
    "kpis": "kpis",
    "clv": "clv",
    "churn": "churn",
    "churn-triggers": "churn",
    "propensity": "churn",
    "living": "living",
    "departments": "living",
    "conformance": "living",
    "report": "report",
    "map": "map",
    "user": "users",
}
"""Every command (or group) of ``jornada``, in the order ``--help`` lists them, and the
module of :mod:`jornada.cli` that defines it (with ``register(app)``, or an ``app`` for a
group)."""

SUMMARIES: Final[dict[str, str]] = {
    "init": "Create an empty workspace (jornada.toml and maps/).",
    "demo": "Create a demo workspace: filled example maps, and the events of a shop to analyse.",
    "serve": (
        "Start the web app on a workspace. The first run creates an admin account and\n"
        "prints its password once."
    ),
    "generate": "Generate a realistic omnichannel event dataset (with built-in stories to find).",
    "load": (
        "Load events into a workspace: atomic, idempotent, bad rows quarantined; then label\n"
        "the events for each saved map (see --bind)."
    ),
    "load-customers": (
        "Load a customer file: identifiers on one row link that customer's events, and the\n"
        "other columns become customer attributes (segment, city...). Reloading replaces it."
    ),
    "quarantine": "Show the rows that could not be loaded, with source, row, column and reason.",
    "identities": "Report identity resolution: identifiers, customers, merges, flagged shared identifiers.",
    "bind": (
        "Report what each touchpoint of a map matches in the events, and the coverage; keep\n"
        "the events labelled by the map for its living map and report (until the next load)."
    ),
    "stages": (
        "Per stage of a map: customers reached and currently in, conversion to the next\n"
        "stage, median and p80 dwell, milestones with shares, stalled customers."
    ),
    "stalled": (
        "Customers stalled in their current stage: slower than the percentile of those who\n"
        "moved on, or a milestone missed within its window. Lists customer, stage, days in\n"
        "stage, last touchpoint, last event time and reason."
    ),
    "transitions": "Directly-follows graph: each event -> next event, with counts, shares and times.",
    "step-matrix": "Step matrix: the share of paths having each event at step 1, 2, ... N.",
    "sankey": "Sankey of paths: flows between (step, event) nodes over N steps.",
    "variants": "Top path variants: whole event sequences, with counts and shares of paths.",
    "funnel": (
        "Count the customers (or sessions) reaching each step, with conversion, time\n"
        "between steps and drop-offs."
    ),
    "time-to-convert": (
        "Time from the first event (or --start step) to the first conversion at or\n"
        "after it: percentiles (p25 to p95) and a histogram."
    ),
    "time-between": "Time from a customer's first FIRST step to the first THEN step after it.",
    "touches": (
        'Touches and distinct channels before the first conversion (the "rule of\n'
        'seven"), and up to now for customers who have not converted.'
    ),
    "dwell": (
        "Time in each stage of a map (--map): from the first event in the stage to the\n"
        "first event in a later stage; customers still in a stage are reported apart."
    ),
    "retention": (
        "Cohort retention: the share of each cohort active in period k (N-period) and\n"
        "in period k or later (unbounded); --chart writes a heatmap."
    ),
    "lifecycle": (
        "New, returning, resurrected and dormant customers per period, and stickiness\n"
        "(mean daily actives / actives of the period: DAU/MAU by month)."
    ),
    "attribution": (
        "Attribute conversions to channels (events, touchpoints): first and last touch,\n"
        "linear, position-based, time decay, Markov chain (exact removal effects) and\n"
        "Shapley values, with conversion value when the events have one."
    ),
    "kpis": (
        "KPIs (impressions, CTR, conversion rate, ROAS, retention, NPS, CLV...) by\n"
        "scope and period, each with its definition; with --map, the map's targets get a\n"
        "status: met, at risk (wrong side by at most --tolerance) or missed."
    ),
    "clv": (
        "Fit BG/NBD, Pareto/NBD and Gamma-Gamma to each customer's repeat purchases\n"
        "(distinct purchase days) and forecast purchases, P(alive) and CLV per customer."
    ),
    "churn": (
        "Who is about to churn and why: a gradient-boosting model on journey features,\n"
        "evaluated on a held-out later period (ROC AUC, PR AUC, calibration), its drivers,\n"
        "the moments before churn (triggers) and the customers at risk with their top\n"
        "reasons. Defaults come from the [churn] table of jornada.toml when present."
    ),
    "churn-triggers": (
        "The moments of the journey that come before churn: events, event property\n"
        "values, pairs of consecutive events and touchpoints (with --map) whose occurrence\n"
        "multiplies churn risk, with the lift (risk ratio), its 95% interval and the month\n"
        "each lost the most customers; --chart draws the lifts."
    ),
    "propensity": (
        "Upsell and cross-sell propensity: the probability of a next purchase (of a\n"
        "category, with --where) within the window, by the same model as churn, with its\n"
        "evaluation on a held-out period, its drivers and the most likely customers."
    ),
    "living": (
        "The living map: every stage and touchpoint of the designed map measured on the\n"
        "events (customers, reach, conversion, journeys ending there, time to next, attributed\n"
        "conversions and value, KPIs against targets, measured vs designed emotion, stalled\n"
        "customers), with the findings where the data contradicts the design."
    ),
    "departments": (
        "The living map per department: the touchpoints each department of the map acts\n"
        "behind, with their measures, KPIs against targets and the findings there."
    ),
    "conformance": (
        "Designed vs actual: the share of customers passing the map's stages in the designed\n"
        "order, skipped stages, backward moves, loops, events and time outside the map, and the\n"
        "most frequent deviating stage paths."
    ),
    "report": (
        "Write the journey report: persona and story, the living map, stage funnel,\n"
        "journeys, touches before conversion, attribution, KPIs, retention, CLV, churn,\n"
        "stalled customers, departments and ranked improvement opportunities, each claim\n"
        "linked to its numbers. One self-contained file that opens offline."
    ),
    "map": "Create, check, compare and draw journey map files.",
    "user": "Accounts of the web app and their roles on a workspace (viewer, editor, admin).",
}
"""What ``jornada --help`` says of each command: the first paragraph of its own help
(tests/cli/test_cli.py keeps them equal), so that listing them imports nothing."""


@functools.cache
def command_of(name: str) -> Any:
    """The click command (or group) ``name`` of :data:`COMMANDS`, its module imported."""
    module = importlib.import_module(f"jornada.cli.{COMMANDS[name]}")

    def register(holder: typer.Typer) -> None:
        if hasattr(module, "register"):
            module.register(holder)
        else:
            holder.add_typer(module.app, name=name)

    return command_in(register, name)


class _Commands(LazyCommands):
    """The commands of ``jornada``, each module imported when its command runs."""

    lazy: ClassVar[Mapping[str, tuple[Callable[[], Any], str]]] = {
        name: (functools.partial(command_of, name), SUMMARIES[name]) for name in COMMANDS
    }


app = typer.Typer(
    name="jornada",
    cls=_Commands,
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
        from jornada.engine.concurrent import is_interruption

        if is_interruption(error):  # Ctrl-C while the engine ran a query
            err_console().print("interrupted")
            return 130
        raise
    # Outside standalone mode click returns the code of a `typer.Exit` instead of raising it.
    return result if isinstance(result, int) else 0


def main() -> None:
    """Entry point of the ``jornada`` console script."""
    sys.exit(run())
