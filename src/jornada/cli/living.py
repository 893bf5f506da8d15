"""``jornada conformance``, ``jornada map discover`` and the living map: (being written)."""

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the living-map commands to ``app``."""
