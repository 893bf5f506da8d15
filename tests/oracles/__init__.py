"""Brute-force, obviously-correct pure-Python references of every analysis.

Each module here takes plain event dicts (see :func:`group_paths` below) and computes what an
analysis should return, the slow way. Hypothesis tests compare the engine's answers
with these on random small logs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

Event = Mapping[str, Any]


def group_paths(events: Iterable[Event], by: str = "customer") -> dict[str, list[Event]]:
    """Events grouped by customer (or session) and ordered by time, then input order.

    ``by="session"`` groups by customer and the ``session_id`` the store derived (decision
    0006), keyed ``customer_id`` and ``session_id`` joined by the unit separator.
    """
    grouped: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        key = str(event["customer_id"])
        if by != "customer":
            key += "\x1f" + str(event["session_id"])
        grouped[key].append(event)
    return {k: sorted(v, key=lambda e: (e["ts"], e["seq"])) for k, v in grouped.items()}
