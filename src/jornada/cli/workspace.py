"""``jornada init``, ``jornada demo`` and ``jornada serve``: workspaces and the web app."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from jornada.cli.options import JsonOption, LanguageOption, language_of
from jornada.cli.output import err_console, print_json
from jornada.cli.users import StateOption, print_credentials
from jornada.demo import DEFAULT_DEMO_DIR, DEMO_CUSTOMERS, create_demo_workspace
from jornada.workspace import Workspace

__all__ = ["register"]

WorkspaceDir = Annotated[Path, typer.Argument(help="The workspace directory.")]


def init_command(
    directory: WorkspaceDir,
    name: Annotated[str | None, typer.Option(help="A name shown in the app.")] = None,
    language: LanguageOption = None,
) -> None:
    """Create an empty workspace (jornada.toml and maps/).

    Example:  jornada init my-journeys --name "Loja Aurora" --lang pt
    """
    workspace = Workspace.init(directory, name=name, language=language_of(language))
    err_console().print(f"created workspace {workspace.root}")


def demo_command(
    directory: Annotated[
        Path, typer.Argument(help="Where to create the demo workspace.")
    ] = DEFAULT_DEMO_DIR,
    language: LanguageOption = None,
    customers: Annotated[
        int, typer.Option(help="People to simulate for the demo events (0: maps only).")
    ] = DEMO_CUSTOMERS,
    json: JsonOption = False,
) -> None:
    """Create a demo workspace: filled example maps, and the events of a shop to analyse.

    Example:  jornada demo demo-workspace --lang es && jornada serve demo-workspace
    """
    with err_console().status("creating the demo workspace") as status:
        workspace = create_demo_workspace(
            directory,
            language=language_of(language),
            customers=customers,
            progress=lambda step: status.update(f"demo: {step}"),
        )
    maps = [entry.id for entry in workspace.list_maps()]
    if json:
        print_json({"workspace": str(workspace.root), "maps": maps})
        return
    err_console().print(f"created demo workspace {workspace.root} with maps: {', '.join(maps)}")


def serve_command(
    directory: Annotated[
        Path | None, typer.Argument(help="The workspace to serve.", show_default=False)
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    demo: Annotated[
        bool,
        typer.Option(
            help=f"Serve the demo workspace ({DEFAULT_DEMO_DIR}), creating it first; "
            "sign in as demo@jornada.local / jornada-demo."
        ),
    ] = False,
    state: StateOption = None,
    behind_tls: Annotated[
        bool,
        typer.Option(
            "--behind-tls",
            help="A TLS proxy forwards to this server: cookies get the Secure flag.",
        ),
    ] = False,
) -> None:
    """Start the web app on a workspace. The first run creates an admin account and
    prints its password once.

    Examples:  jornada serve my-journeys --port 8080      jornada serve --demo
    """
    from jornada.accounts import AppState, state_url, workspace_key
    from jornada.accounts.bootstrap import DEMO_PASSWORD, ensure_admin, ensure_demo_account
    from jornada.web import LOOPBACK_ADDRESSES, WebSettings, serve  # loads only when serving

    if directory is None and not demo:
        raise typer.BadParameter("give a workspace directory, or --demo", param_hint="DIRECTORY")
    path = directory or DEFAULT_DEMO_DIR
    if demo and not (path / "jornada.toml").exists():
        with err_console().status("creating the demo workspace (first run only)"):
            create_demo_workspace(path).close()
    workspace = Workspace.open(path)
    app_state = AppState.open(state_url(workspace.root, state))
    key = workspace_key(workspace)
    settings = WebSettings(behind_tls=behind_tls)
    if demo:
        demo_account = ensure_demo_account(app_state, key)
        print_credentials(demo_account, first_run=False)
        settings = replace(settings, demo_account=(demo_account.email, DEMO_PASSWORD))
        if host not in LOOPBACK_ADDRESSES:
            err_console().print(
                "[yellow]warning:[/yellow] the demo account's password is public; "
                "serve --demo on a loopback address only"
            )
    elif (first := ensure_admin(app_state, key)) is not None:
        print_credentials(first, first_run=True)
    err_console().print(f"serving {workspace.root} on http://{host}:{port}/  (Ctrl+C to stop)")
    serve(workspace, host=host, port=port, state=app_state, settings=settings)


def generate_command(
    customers: Annotated[int, typer.Option(help="People to simulate (~16 events each).")] = 10_000,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write into.")] = Path(
        "generated"
    ),
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same data.")] = 7,
    format: Annotated[str, typer.Option(help="parquet or csv.")] = "parquet",
    days: Annotated[int, typer.Option(help="Days of history.")] = 180,
    json: JsonOption = False,
) -> None:
    """Generate a realistic omnichannel event dataset (with built-in stories to find).

    Example:  jornada generate --customers 600000 --out data --format csv
    """
    from rich.progress import Progress

    from jornada.demo.generator import generate_dataset

    if format not in ("parquet", "csv"):
        raise typer.BadParameter("use parquet or csv", param_hint="--format")
    out.mkdir(parents=True, exist_ok=True)
    with Progress(transient=True, console=err_console()) as bar:
        task = bar.add_task("simulating customers", total=customers)
        dataset = generate_dataset(
            out,
            customers=customers,
            seed=seed,
            format="csv" if format == "csv" else "parquet",
            days=days,
            progress=lambda done: bar.update(task, completed=done),
        )
    summary = {
        "events": dataset.events,
        "customers": dataset.customers,
        "events_path": str(dataset.events_path),
        "customers_path": str(dataset.customers_path),
        "mapping": dataset.mapping,
    }
    if json:
        print_json(summary)
        return
    err_console().print(
        f"wrote {dataset.events:,} events of {dataset.customers:,} people to {dataset.events_path}"
    )


def register(app: typer.Typer) -> None:
    app.command("init")(init_command)
    app.command("demo")(demo_command)
    app.command("serve")(serve_command)
    app.command("generate")(generate_command)
