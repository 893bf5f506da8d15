"""How CLI commands talk: rich text for people, ``--json`` for scripts, one-line errors."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

__all__ = ["err_console", "out_console", "print_json"]


def out_console() -> Console:
    # Created per call so output follows sys.stdout (tests capture it; pipes get no colour).
    return Console(soft_wrap=True, highlight=False)


def err_console() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
