"""``jornada users``: (being written)."""

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the users commands to ``app``."""
