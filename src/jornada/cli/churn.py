"""``jornada churn``: (being written)."""

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the churn commands to ``app``."""
