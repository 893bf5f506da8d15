"""``jornada user``: the accounts that may use a workspace in the web app, and their roles.

Accounts live in the app state (``--state URL``, ``$JORNADA_STATE_URL``, or the
workspace's ``app.sqlite``); roles are per workspace. Generated passwords and tokens
are printed once on stdout (and stored only as hashes).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from jornada.cli.options import JsonOption
from jornada.cli.output import err_console, out_console, print_json
from jornada.errors import JornadaError
from jornada.workspace import Workspace

if TYPE_CHECKING:
    from jornada.accounts import AppState
    from jornada.accounts.bootstrap import Credentials

__all__ = ["StateOption", "print_credentials", "register"]

app = typer.Typer(
    help="Accounts of the web app and their roles on a workspace (viewer, editor, admin).\n\n"
    "Example:  jornada user add my-journeys ana@example.com --role editor",
    no_args_is_help=True,
)

WorkspaceArg = Annotated[Path, typer.Argument(help="The workspace directory.")]
EmailArg = Annotated[str, typer.Argument(help="The user's e-mail (their login name).")]
StateOption = Annotated[
    str | None,
    typer.Option(
        "--state",
        help="App-state database URL (default: $JORNADA_STATE_URL, else WORKSPACE/app.sqlite).",
        show_default=False,
    ),
]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from stdin instead of generating one."
    ),
]


@contextmanager
def _opened(directory: Path, state: str | None) -> Iterator[tuple[AppState, str, Workspace]]:
    # The accounts stack (SQLAlchemy, Alembic) loads only for the commands that use it.
    from jornada.accounts import AppState, state_url, workspace_key

    workspace = Workspace.open(directory)
    opened = AppState.open(state_url(workspace.root, state))
    try:
        yield opened, workspace_key(workspace), workspace
    finally:
        opened.close()


def _stdin_password() -> str:
    from jornada.accounts.passwords import check_new_password

    line = sys.stdin.readline().rstrip("\r\n")
    return check_new_password(line)


def print_credentials(credentials: Credentials, *, first_run: bool) -> None:
    """Tell the person at the console how to sign in (the password, if any, once)."""
    console = err_console()
    if first_run:
        console.print("[bold]First run:[/bold] this workspace has an admin account now.")
    console.print(f"  sign in as  {credentials.email}")
    if credentials.password is not None:
        console.print(f"  password    {credentials.password}")
        if first_run:
            console.print(
                "  (shown once: change it under 'Your account', or run "
                "`jornada user reset-password`)"
            )
    else:
        console.print("  password    unchanged (an existing account)")


def add_command(
    directory: WorkspaceArg,
    email: EmailArg,
    role: Annotated[str, typer.Option(help="viewer, editor or admin.")] = "viewer",
    name: Annotated[str, typer.Option(help="A display name.")] = "",
    language: Annotated[
        str | None,
        typer.Option(
            help="The new account's interface language: pt, es or en (default: the "
            "browser's, until the user picks one).",
            show_default=False,
        ),
    ] = None,
    password_stdin: PasswordStdin = False,
    state: StateOption = None,
    json: JsonOption = False,
) -> None:
    """Give a user a role on the workspace, creating the account if it is new.

    A new account gets a generated password, printed once (or --password-stdin). An
    existing account keeps its password, name and language.

    Example:  jornada user add my-journeys ana@example.com --role editor --language pt
    """
    from jornada.accounts.users import add_user, check_language, parse_role

    chosen = check_language(language)  # a typo fails before a password is read
    password = _stdin_password() if password_stdin else None
    with _opened(directory, state) as (opened, key, _):
        added = add_user(
            opened,
            key,
            email,
            role=parse_role(role),
            name=name,
            password=password,
            language=chosen,
        )
    if json:
        print_json({**added.user.to_dict(), "created": added.created, "password": added.password})
        return
    verb = "created" if added.created else "updated"
    err_console().print(f"{verb} {added.user.email}: {added.user.role} on this workspace")
    if added.password is not None:
        err_console().print("password (shown once):")
        sys.stdout.write(added.password + "\n")


def list_command(
    directory: WorkspaceArg, state: StateOption = None, json: JsonOption = False
) -> None:
    """List the users with a role on the workspace.

    Example:  jornada user list my-journeys --json
    """
    from jornada.accounts.users import list_members

    with _opened(directory, state) as (opened, key, _):
        members = list_members(opened, key)
    if json:
        print_json([member.to_dict() for member in members])
        return
    if not members:
        err_console().print("no users yet; add one with `jornada user add WORKSPACE EMAIL`")
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("email", "name", "role", "last sign-in"):
        table.add_column(column)
    for member in members:
        last = member.last_login_at.strftime("%Y-%m-%d %H:%M") if member.last_login_at else "never"
        table.add_row(member.email, member.name, member.role or "", last)
    out_console().print(table)


def remove_command(
    directory: WorkspaceArg,
    email: EmailArg,
    delete_account: Annotated[
        bool,
        typer.Option(
            "--delete-account",
            help="Delete the account itself (its roles on every workspace, tokens, sessions).",
        ),
    ] = False,
    state: StateOption = None,
) -> None:
    """Take a user's role on the workspace away (the last admin cannot be removed).

    Example:  jornada user remove my-journeys ana@example.com --delete-account
    """
    from jornada.accounts.users import delete_user, remove_member

    with _opened(directory, state) as (opened, key, _):
        if delete_account:
            delete_user(opened, email)
            err_console().print(f"deleted the account {email.strip().lower()}")
            return
        user = remove_member(opened, key, email)
    err_console().print(f"{user.email} has no role on this workspace any more")


def reset_password_command(
    directory: WorkspaceArg,
    email: EmailArg,
    password_stdin: PasswordStdin = False,
    state: StateOption = None,
    json: JsonOption = False,
) -> None:
    """Give a user a new password (printed once); their sessions end, lockouts clear.

    Example:  jornada user reset-password my-journeys ana@example.com
    """
    from jornada.accounts.users import get_user, reset_password

    password = _stdin_password() if password_stdin else None
    with _opened(directory, state) as (opened, _, _ws):
        user = get_user(opened, email)
        chosen = reset_password(opened, user.email, password)
    shown = None if password_stdin else chosen
    if json:
        print_json({"email": user.email, "password": shown})
        return
    err_console().print(f"new password for {user.email}; their sessions were signed out")
    if shown is not None:
        err_console().print("password (shown once):")
        sys.stdout.write(shown + "\n")


def token_command(
    directory: WorkspaceArg,
    email: EmailArg,
    name: Annotated[str, typer.Option(help="What the token is for.")] = "cli",
    read_only: Annotated[
        bool, typer.Option("--read-only", help="The token can read but change nothing.")
    ] = False,
    expires_days: Annotated[
        int | None, typer.Option(help="Days until the token stops working (default: never).")
    ] = None,
    state: StateOption = None,
    json: JsonOption = False,
) -> None:
    """Create an API token for a user (printed once): scripts send it as a Bearer token.

    Example:  jornada user token my-journeys ana@example.com --name nightly --read-only
    """
    from jornada.accounts.tokens import create_token
    from jornada.accounts.users import get_user

    if expires_days is not None and expires_days < 1:
        raise JornadaError("--expires-days must be at least 1")
    lifetime = dt.timedelta(days=expires_days) if expires_days is not None else None
    with _opened(directory, state) as (opened, _, _ws):
        user = get_user(opened, email)
        made = create_token(opened, user.id, name, read_only=read_only, expires_in=lifetime)
    if json:
        print_json({**made.info.to_dict(), "email": user.email, "token": made.secret})
        return
    access = "read-only" if read_only else "read and write"
    err_console().print(f"token {made.info.name!r} for {user.email} ({access}), shown once:")
    sys.stdout.write(made.secret + "\n")
    err_console().print('use it as:  curl -H "Authorization: Bearer TOKEN" http://HOST/maps.json')


def register(root: typer.Typer) -> None:
    """Add the ``user`` commands to ``root``."""
    app.command("add")(add_command)
    app.command("list")(list_command)
    app.command("remove")(remove_command)
    app.command("reset-password")(reset_password_command)
    app.command("token")(token_command)
    root.add_typer(app, name="user")
