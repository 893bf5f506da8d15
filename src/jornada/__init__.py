"""jornada: customer journey mapping and journey analytics."""

from jornada.__about__ import __version__

__all__ = ["__version__"]
