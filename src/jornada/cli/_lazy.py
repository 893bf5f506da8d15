"""Command groups whose commands are made only when they run (their modules imported
then): importing every command's module, and so the whole library (pandas, scikit-learn,
Plotly...), took about 2 s before anything happened, even for ``--help``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import typer
import typer.main
from typer.core import TyperCommand, TyperGroup

__all__ = ["LazyCommands", "command_in"]


class LazyCommands(TyperGroup):
    """A group whose commands named in :attr:`lazy` (name: the function making the click
    command, and the summary ``--help`` lists) are made when run. The group's own
    commands, registered as usual, come first."""

    lazy: ClassVar[Mapping[str, tuple[Callable[[], Any], str]]] = {}
    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *self.lazy]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in self.lazy:
            return found
        make, summary = self.lazy[cmd_name]
        if self._listing:  # the help's list of commands: the summary suffices
            return TyperCommand(cmd_name, help=summary)
        return make()

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def command_in(register: Callable[[typer.Typer], None], name: str) -> Any:
    """The click command ``name`` that ``register`` adds to a Typer app."""
    holder = typer.Typer()
    register(holder)

    @holder.callback()
    def _group() -> None:  # a group even when one command is registered
        pass

    return typer.main.get_command(holder).commands[name]  # type: ignore[attr-defined]
