"""Errors the renderers raise."""

from __future__ import annotations

from jornada.errors import JornadaError

__all__ = ["BrowserUnavailableError", "UnsupportedFormatError"]


class BrowserUnavailableError(JornadaError, RuntimeError):
    """Chromium, needed for PNG and PDF output, is missing or would not start."""


class UnsupportedFormatError(JornadaError, ValueError):
    """An output file whose suffix names no format jornada writes."""
