"""Brute-force reference of :func:`jornada.analytics.touchpoints.touchpoint_measures`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tests.oracles import Event, group_paths
from tests.oracles.timing import quantile, seconds


def touchpoint_measures(
    events: Iterable[Event],
    touchpoints: Sequence[tuple[str, Callable[[Event], bool]]],
    conversion: Callable[[Event], bool] | None,
) -> dict[str, dict[str, Any]]:
    """Per touchpoint id: events, customers, to-next quantiles, exits, converted, scores.

    An event is the first touchpoint (in the given order) whose predicate holds.
    """
    paths = group_paths(events)
    out: dict[str, dict[str, Any]] = {
        tp: {
            "events": 0,
            "customers": set(),
            "gaps": [],
            "exits": set(),
            "lost": set(),
            "converted": set(),
            "scores": [],
        }
        for tp, _ in touchpoints
    }
    for customer, path in paths.items():
        conversions = [i for i, e in enumerate(path) if conversion is not None and conversion(e)]
        for i, event in enumerate(path):
            tp = next((t for t, matches in touchpoints if matches(event)), None)
            if tp is None:
                continue
            cell = out[tp]
            cell["events"] += 1
            cell["customers"].add(customer)
            if i + 1 < len(path):
                cell["gaps"].append(seconds(path[i + 1]["ts"], event["ts"]))
            else:
                cell["exits"].add(customer)
                if not conversions:
                    cell["lost"].add(customer)
            if event.get("score") is not None:
                cell["scores"].append(event["score"])
            if any(c > i for c in conversions):
                cell["converted"].add(customer)
    result: dict[str, dict[str, Any]] = {}
    for tp, cell in out.items():
        result[tp] = {
            "events": cell["events"],
            "customers": len(cell["customers"]),
            "median": quantile(cell["gaps"], 0.5),
            "p90": quantile(cell["gaps"], 0.9),
            "exits": len(cell["exits"]),
            "lost": len(cell["lost"]),
            # converted after the *first* touch: any touch with a later conversion counts,
            # since the first touch comes before every other one
            "converted": len(cell["converted"]),
            "scores": len(cell["scores"]),
            "score_mean": sum(cell["scores"]) / len(cell["scores"]) if cell["scores"] else None,
        }
    return result


def touchpoint_trend(
    events: Iterable[Event],
    touchpoints: Sequence[tuple[str, Callable[[Event], bool]]],
    conversion: Callable[[Event], bool],
    period: Callable[[Event], Any],
    within_seconds: float | None = None,
) -> dict[tuple[str, Any], tuple[int, int]]:
    """(touchpoint, period) -> (customers touching it then, converted after their first
    touch of the period, within ``within_seconds`` of it when given)."""
    out: dict[tuple[str, Any], tuple[int, int]] = {}
    for path in group_paths(events).values():
        firsts: dict[tuple[str, Any], int] = {}
        for i, event in enumerate(path):
            tp = next((t for t, matches in touchpoints if matches(event)), None)
            if tp is not None:
                firsts.setdefault((tp, period(event)), i)
        for key, first in firsts.items():
            converted = any(
                conversion(e)
                and (
                    within_seconds is None or seconds(e["ts"], path[first]["ts"]) <= within_seconds
                )
                for e in path[first + 1 :]
            )
            customers, total = out.get(key, (0, 0))
            out[key] = (customers + 1, total + converted)
    return out
