"""``jornada report``: (being written)."""

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the report command to ``app``."""
