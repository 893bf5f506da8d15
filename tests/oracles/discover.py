"""Brute-force reference of :mod:`jornada.living.discover`: the figures a draft map is drawn
from (per event: customers, events, typical position, channels) and the best grouping of
positions into stages, by trying every grouping."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from tests.oracles import Event, group_paths


def figures(events: Iterable[Event]) -> dict[str, dict[str, Any]]:
    """Per event name: ``customers``, ``events``, ``position`` (median over customers with
    two or more events of the normalised position of their first such event; None when
    there are none) and ``channels`` (channel -> events)."""
    found: dict[str, dict[str, Any]] = {}
    for path in group_paths(events).values():
        seen: dict[str, int] = {}
        for idx, event in enumerate(path):
            entry = found.setdefault(
                event["event"],
                {"customers": set(), "events": 0, "firsts": [], "channels": Counter()},
            )
            entry["customers"].add(event["customer_id"])
            entry["events"] += 1
            entry["channels"][event["channel"]] += 1
            seen.setdefault(event["event"], idx)
        if len(path) > 1:
            for name, idx in seen.items():
                found[name]["firsts"].append(idx / (len(path) - 1))
    return {
        name: {
            "customers": len(entry["customers"]),
            "events": entry["events"],
            "position": statistics.median(entry["firsts"]) if entry["firsts"] else None,
            "channels": dict(entry["channels"]),
        }
        for name, entry in found.items()
    }


def grouping_cost(values: Sequence[float], sizes: Sequence[int]) -> float:
    """Sum of squared distances of ``values`` to their group's mean, groups of ``sizes``."""
    total = 0.0
    start = 0
    for size in sizes:
        group = values[start : start + size]
        mean = sum(group) / len(group)
        total += sum((v - mean) ** 2 for v in group)
        start += size
    return total


def best_cost(values: Sequence[float], groups: int) -> float:
    """The least cost over every way of cutting ``values`` into ``groups`` groups."""
    n = len(values)
    groups = min(groups, n)
    best = float("inf")
    for cuts in itertools.combinations(range(1, n), groups - 1):
        bounds = [0, *cuts, n]
        sizes = [b - a for a, b in itertools.pairwise(bounds)]
        best = min(best, grouping_cost(values, sizes))
    return best
