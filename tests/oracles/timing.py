"""Brute-force references of :mod:`jornada.analytics.timing`, walking each customer's path.

Steps are plain predicates over event dicts (``lambda e: e["event"] == "purchase"``).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tests.oracles import Event, group_paths

Predicate = Callable[[Event], bool]


def quantile(values: Iterable[float], q: float) -> float:
    """Type 7: linear interpolation between the closest ranks of the sorted values."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    h = (len(ordered) - 1) * q
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


def seconds(later: dt.datetime, earlier: dt.datetime) -> float:
    return (later - earlier).total_seconds()


def durations(
    events: Iterable[Event], start: Predicate | None, end: Predicate, *, inclusive: bool
) -> tuple[int, list[float]]:
    """(customers with a start, seconds from the first start to the first end after it)."""
    customers = 0
    found: list[float] = []
    for path in group_paths(events).values():
        starts = [i for i, e in enumerate(path) if start is None or start(e)]
        if not starts:
            continue
        customers += 1
        s = starts[0]
        for e in path[s if inclusive else s + 1 :]:
            if end(e):
                found.append(seconds(e["ts"], path[s]["ts"]))
                break
    return customers, found


def histogram(values: Sequence[float], lower_edges: Sequence[float]) -> list[int]:
    """Counts per bin [edge_i, edge_i+1), the last bin unbounded."""
    counts = [0] * len(lower_edges)
    for value in values:
        index = max(i for i, edge in enumerate(lower_edges) if value >= edge)
        counts[index] += 1
    return counts


def dwell(
    events: Iterable[Event], stage_of: Callable[[Event], int | None], stages: int
) -> list[dict[str, Any]]:
    """Per stage position: entered, and the dwell (left) and time so far (open) lists."""
    as_of = max((e["ts"] for e in events), default=None)
    result: list[dict[str, Any]] = [
        {"entered": 0, "dwell": [], "waiting": []} for _ in range(stages)
    ]
    for path in group_paths(events).values():
        placed = [(i, stage_of(e), e) for i, e in enumerate(path)]
        for k in range(stages):
            inside = [(i, e) for i, s, e in placed if s == k]
            if not inside:
                continue
            entry_i, entry = inside[0]
            result[k]["entered"] += 1
            exits = [e for i, s, e in placed if s is not None and s > k and i > entry_i]
            if exits:
                result[k]["dwell"].append(seconds(exits[0]["ts"], entry["ts"]))
            else:
                result[k]["waiting"].append(seconds(as_of, entry["ts"]))
    return result


def touches(
    events: Iterable[Event], conversion: Predicate, touch: Predicate | None = None
) -> dict[bool, list[tuple[int, int]]]:
    """converted -> per customer (touches, distinct non-null channels among them)."""
    is_touch = touch if touch is not None else (lambda e: not conversion(e))
    result: dict[bool, list[tuple[int, int]]] = {True: [], False: []}
    for path in group_paths(events).values():
        converted = next((i for i, e in enumerate(path) if conversion(e)), None)
        before = path if converted is None else path[:converted]
        counted = [e for e in before if is_touch(e)]
        channels = {e["channel"] for e in counted if e["channel"] is not None}
        result[converted is not None].append((len(counted), len(channels)))
    return result
