"""One router module per noun: ``maps`` (the map list and map pages), ``health``."""

from __future__ import annotations

__all__ = ["READ"]

READ = ["GET", "HEAD"]
"""The methods of a read-only route (HEAD so that ``curl -I`` and uptime checks work)."""
