"""``jornada kpis``: (being written)."""

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the kpis commands to ``app``."""
