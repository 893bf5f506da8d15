"""Golden files: compared exactly; rewritten only with JORNADA_UPDATE_SNAPSHOTS=1."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

SNAPSHOTS = Path(__file__).resolve().parent.parent / "snapshots"


def updating() -> bool:
    return os.environ.get("JORNADA_UPDATE_SNAPSHOTS") == "1"


def assert_snapshot(name: str, actual: str) -> None:
    path = SNAPSHOTS / name
    if updating():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="\n")
        return
    if not path.exists():
        pytest.fail(
            f"snapshot {path} is missing; run the tests with JORNADA_UPDATE_SNAPSHOTS=1 "
            "to write it, then review and commit it"
        )
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    expected.splitlines(keepends=True),
                    actual.splitlines(keepends=True),
                    fromfile=f"snapshots/{name}",
                    tofile="rendered",
                )
            )[:80]
        )
        pytest.fail(
            f"{name} differs from its snapshot (JORNADA_UPDATE_SNAPSHOTS=1 rewrites it "
            f"after a deliberate change):\n{diff}"
        )
