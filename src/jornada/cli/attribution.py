"""``jornada attribution``: (being written)."""

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the attribution commands to ``app``."""
