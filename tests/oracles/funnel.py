"""Brute-force funnel: the documented rules of ``jornada.analytics.funnel``, one path,
one anchor and one step at a time.

Steps and exclusions are event names or predicates over an event dict. For each path
(see :func:`tests.oracles.group_paths`), every anchor is tried:

* ordered: the anchor matches step 1; each next step takes the earliest matching event
  at a later position;
* strict: step ``j`` must be the event at position ``anchor + j - 1``;
* unordered: the anchor is any event matching a step; steps ``1..k`` complete at the
  smallest position ``L`` such that the events at positions ``anchor..L`` can serve
  steps ``1..k`` one to one (checked by trying every assignment).

An attempt reaches step ``k`` when the event completing it is within the window of the
anchor's time (inclusive) and no exclusion event lies strictly between the anchor and
it. A path's depth is the deepest step any attempt reaches; its times are those of the
earliest anchor reaching that depth.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from tests.oracles import Event, group_paths

Predicate = Callable[[Event], bool]


def _predicate(step: str | Predicate) -> Predicate:
    if isinstance(step, str):
        return lambda event: event["event"] == step
    return step


@dataclass
class PathResult:
    depth: int  # steps reached (0: none)
    completions: list[dt.datetime]  # completion time of steps 1..depth, best attempt
    anchor: Event | None  # the best attempt's start event


@dataclass
class OracleFunnel:
    per_path: dict[str, PathResult]

    def reached(self, k: int) -> int:
        """Paths reaching step ``k`` (from 1)."""
        return sum(1 for r in self.per_path.values() if r.depth >= k)

    def seconds_from_previous(self, k: int) -> list[float]:
        """Best-attempt seconds from step ``k - 1`` to ``k`` of the paths reaching ``k``."""
        return [
            (r.completions[k - 1] - r.completions[k - 2]).total_seconds()
            for r in self.per_path.values()
            if r.depth >= k
        ]

    def quantile(self, k: int, q: float) -> float | None:
        values = self.seconds_from_previous(k)
        return float(np.quantile(values, q, method="linear")) if values else None

    def dropped_at(self, k: int) -> list[str]:
        return sorted(p for p, r in self.per_path.items() if r.depth == k - 1)


def _can_serve(
    events: Sequence[Event], steps: Sequence[Predicate], used: frozenset[int] = frozenset()
) -> bool:
    """Whether distinct events can serve all ``steps``: try every assignment (the first
    step takes any unused matching event, the rest are served from what is left)."""
    if not steps:
        return True
    return any(
        _can_serve(events, steps[1:], used | {i})
        for i, event in enumerate(events)
        if i not in used and steps[0](event)
    )


def _attempt(
    path: list[Event],
    anchor: int,
    steps: Sequence[Predicate],
    mode: str,
) -> list[int]:
    """Positions completing steps 1, 2, ... from ``anchor`` (as far as they exist)."""
    done: list[int] = []
    if mode in ("ordered", "strict"):
        if not steps[0](path[anchor]):
            return done
        done.append(anchor)
        for step in steps[1:]:
            if mode == "strict":
                following = [done[-1] + 1] if done[-1] + 1 < len(path) else []
            else:
                following = list(range(done[-1] + 1, len(path)))
            found = next((i for i in following if step(path[i])), None)
            if found is None:
                break
            done.append(found)
        return done
    for k in range(1, len(steps) + 1):
        last = next(
            (
                end
                for end in range(anchor, len(path))
                if _can_serve(path[anchor : end + 1], steps[:k])
            ),
            None,
        )
        if last is None:
            break
        done.append(last)
    return done


def funnel(
    events: Iterable[Event],
    steps: Sequence[str | Predicate],
    *,
    mode: str = "ordered",
    window_seconds: float | None = None,
    exclude: Sequence[str | Predicate] = (),
    by: str = "customer",
) -> OracleFunnel:
    tests = [_predicate(s) for s in steps]
    exclusions = [_predicate(s) for s in exclude]
    window = (
        None if window_seconds is None else dt.timedelta(microseconds=round(window_seconds * 1e6))
    )
    result: dict[str, PathResult] = {}
    for key, path in group_paths(events, by).items():
        best = PathResult(0, [], None)
        for anchor in range(len(path)):
            if not any(test(path[anchor]) for test in tests):
                continue
            start = path[anchor]["ts"]
            depth = 0
            positions = _attempt(path, anchor, tests, mode)
            for position in positions:
                if window is not None and path[position]["ts"] - start > window:
                    break
                between = path[anchor + 1 : position]
                if any(x(e) for x in exclusions for e in between):
                    break
                depth += 1
            if depth > best.depth:  # strictly deeper: the earliest anchor wins ties
                completions = [path[p]["ts"] for p in positions[:depth]]
                best = PathResult(depth, completions, path[anchor])
        if best.depth:
            result[key] = best
    return OracleFunnel(result)
