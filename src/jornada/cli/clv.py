"""``jornada clv``: (being written)."""

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the clv commands to ``app``."""
