"""Brute-force references of :mod:`jornada.analytics.paths`, path by path in plain Python.

Paths come from :func:`tests.oracles.group_paths` (customer or session, by time then
input order). Anchors and pattern steps are event names.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from tests.oracles import Event, group_paths

START, END = "START", "END"
_MICROSECOND = dt.timedelta(microseconds=1)


def quantile(values: Sequence[float], q: float) -> float:
    """Exact quantile, linear interpolation between closest ranks (numpy's ``linear``)."""
    ordered = sorted(values)
    h = (len(ordered) - 1) * q
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


def sequences(events: Iterable[Event], by: str = "customer") -> dict[str, list[str]]:
    """Each path's event names in order."""
    return {key: [e["event"] for e in path] for key, path in group_paths(events, by).items()}


def transitions(
    events: Iterable[Event], by: str = "customer", *, with_start_end: bool = False
) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (source, target): count, paths, share_out, share_in, median_seconds, p95_seconds."""
    count: Counter[tuple[str, str]] = Counter()
    having: dict[tuple[str, str], set[str]] = defaultdict(set)
    seconds: dict[tuple[str, str], list[float]] = defaultdict(list)
    for key, path in group_paths(events, by).items():
        for before, after in itertools.pairwise(path):
            edge = (before["event"], after["event"])
            count[edge] += 1
            having[edge].add(key)
            micros = (after["ts"] - before["ts"]) // _MICROSECOND
            seconds[edge].append(micros)
        if with_start_end:
            for edge in ((START, path[0]["event"]), (path[-1]["event"], END)):
                count[edge] += 1
                having[edge].add(key)
    out_total: Counter[str] = Counter()
    in_total: Counter[str] = Counter()
    for (source, target), n in count.items():
        out_total[source] += n
        in_total[target] += n
    result: dict[tuple[str, str], dict[str, Any]] = {}
    for edge, n in count.items():
        times = seconds.get(edge)
        result[edge] = {
            "count": n,
            "paths": len(having[edge]),
            "share_out": n / out_total[edge[0]],
            "share_in": n / in_total[edge[1]],
            "median_seconds": quantile(times, 0.5) / 1e6 if times else None,
            "p95_seconds": quantile(times, 0.95) / 1e6 if times else None,
        }
    return result


def _anchored(
    names: list[str], after: str | None, before: str | None
) -> tuple[int | None, str | None]:
    anchor = after if after is not None else before
    if anchor is None:
        return None, None
    return (names.index(anchor), anchor) if anchor in names else (None, anchor)


def step_matrix(
    events: Iterable[Event],
    steps: int,
    *,
    after: str | None = None,
    before: str | None = None,
    by: str = "customer",
) -> tuple[int, dict[tuple[int, str], int]]:
    """(paths counted, {(step, event or END/START): paths}); steps negative looking back."""
    cells: Counter[tuple[int, str]] = Counter()
    counted = 0
    for names in sequences(events, by).values():
        at, anchor = _anchored(names, after, before)
        if anchor is not None and at is None:
            continue
        counted += 1
        for k in range(1, steps + 1):
            if before is not None:
                assert at is not None
                i = at - k
                cells[(-k, names[i] if i >= 0 else START)] += 1
            else:
                i = (at + k) if at is not None else k - 1
                cells[(k, names[i] if i < len(names) else END)] += 1
    return counted, dict(cells)


def sankey(
    events: Iterable[Event],
    steps: int,
    *,
    after: str | None = None,
    before: str | None = None,
    by: str = "customer",
) -> dict[tuple[int, str, int, str], int]:
    """{(source_step, source, target_step, target): paths}."""
    links: Counter[tuple[int, str, int, str]] = Counter()
    for names in sequences(events, by).values():
        at, anchor = _anchored(names, after, before)
        if anchor is not None and at is None:
            continue
        numbered = {i - (at or 0) + (1 if at is None else 0): n for i, n in enumerate(names)}
        if before is not None:  # steps -N..0 (the anchor), a START node before the first
            numbered[min(numbered) - 1] = START
            window = range(-steps, 0)
        else:  # from the start steps 1..N, after an anchor 0..N; an END node after the last
            numbered[max(numbered) + 1] = END
            window = range(1, steps) if at is None else range(steps)
        for k in window:
            if k in numbered and k + 1 in numbered:
                links[(k, numbered[k], k + 1, numbered[k + 1])] += 1
    return dict(links)


def matching(
    events: Iterable[Event],
    having: Sequence[Sequence[str]] = (),
    without: Sequence[str] = (),
    by: str = "customer",
) -> set[str]:
    """Ids of paths where every sequence of ``having`` occurs in order and no ``without``."""

    def has(names: list[str], sequence: Sequence[str]) -> bool:
        rest = iter(names)
        return all(any(name == step for name in rest) for step in sequence)

    return {
        key
        for key, names in sequences(events, by).items()
        if all(has(names, s) for s in having) and not set(without) & set(names)
    }


def variants(
    events: Iterable[Event],
    *,
    collapse_repeats: bool = False,
    having: Sequence[Sequence[str]] = (),
    without: Sequence[str] = (),
    by: str = "customer",
) -> Counter[tuple[str, ...]]:
    """How many paths follow each whole sequence."""
    events = list(events)
    keep = matching(events, having, without, by)
    found: Counter[tuple[str, ...]] = Counter()
    for key, names in sequences(events, by).items():
        if key not in keep:
            continue
        if collapse_repeats:
            names = [n for i, n in enumerate(names) if i + 1 == len(names) or names[i + 1] != n]
        found[tuple(names)] += 1
    return found
