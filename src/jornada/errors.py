"""The base of every error jornada reports to a person instead of a traceback."""

from __future__ import annotations

__all__ = ["JornadaError"]


class JornadaError(Exception):
    """An error whose message says what went wrong and what to do; the CLI prints it
    as one line and the web app as a clear response, never as a traceback."""
