"""Brute-force reference of :mod:`jornada.living.conformance` on plain events and a plain map.

A plain map is a list of ``(stage id, event names)``; an event is the stage of the first
stage listing its name (what ``label_events`` does with one touchpoint per stage). Each
customer's path is walked with plain loops, following the module docstring.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from tests.oracles import Event, group_paths

PlainMap = Sequence[tuple[str, frozenset[str]]]
EPOCH = dt.datetime(1970, 1, 1)


def seconds(ts: dt.datetime) -> int:
    return (ts.replace(microsecond=0) - EPOCH) // dt.timedelta(seconds=1)


def stage_of(name: str, plain_map: PlainMap) -> int | None:
    return next((k for k, (_, names) in enumerate(plain_map) if name in names), None)


def collapse(stages: Iterable[int]) -> list[int]:
    path: list[int] = []
    for k in stages:
        if not path or path[-1] != k:
            path.append(k)
    return path


def analyse(events: Iterable[Event], plain_map: PlainMap, *, top: int = 10) -> dict[str, Any]:
    rows = list(events)
    ids = [stage_id for stage_id, _ in plain_map]
    n = len(plain_map)
    paths: dict[str, list[int]] = {}
    total_events = unmapped_events = total_seconds = unmapped_seconds = 0
    unmapped_names: Counter[str] = Counter()
    by_customer = group_paths(rows)
    for customer, path in by_customer.items():
        labels = [stage_of(e["event"], plain_map) for e in path]
        for i, (event, label) in enumerate(zip(path, labels, strict=True)):
            total_events += 1
            gap = 0
            session = event["session_id"]
            # to the next event of its session (decision 0006), wherever it falls
            following = next((e for e in path[i + 1 :] if e["session_id"] == session), None)
            if session is not None and following is not None:
                gap = seconds(following["ts"]) - seconds(event["ts"])
            total_seconds += gap
            if label is None:
                unmapped_events += 1
                unmapped_seconds += gap
                unmapped_names[event["event"]] += 1
        staged = [k for k in labels if k is not None]
        if staged:
            paths[customer] = collapse(staged)

    conforming = in_order = moves = backward_moves = backward_customers = looping = 0
    visited = [0] * n
    beyond = [0] * n
    skipped = [0] * n
    looped = [0] * n
    reentries = [0] * n
    pairs: dict[tuple[int, int], list[Any]] = {}
    deviating: Counter[tuple[int, ...]] = Counter()
    for customer, path in paths.items():
        steps = list(itertools.pairwise(path))
        moves += len(steps)
        backs = [(a, b) for a, b in steps if b < a]
        backward_moves += len(backs)
        backward_customers += bool(backs)
        in_order += not backs
        conforms = path[0] == 0 and all(b == a + 1 for a, b in steps)
        conforming += conforms
        if not conforms:
            deviating[tuple(path)] += 1
        for a, b in backs:
            entry = pairs.setdefault((a, b), [0, set()])
            entry[0] += 1
            entry[1].add(customer)
        counts = Counter(path)
        looping += any(c > 1 for c in counts.values())
        last = max(path)
        for k in range(n):
            visited[k] += counts[k] > 0
            beyond[k] += last > k
            skipped[k] += last > k and counts[k] == 0
            looped[k] += counts[k] > 1
            reentries[k] += max(counts[k] - 1, 0)
    backward = sorted(
        ((a, b, m, len(c)) for (a, b), (m, c) in pairs.items()),
        key=lambda item: (-item[2], item[0], item[1]),
    )
    ranked = sorted(deviating.items(), key=lambda item: (-item[1], item[0]))
    customers = len(paths)
    out_count = [sum(m for a, _, m, _ in backward if a == k) for k in range(n)]
    in_count = [sum(m for _, b, m, _ in backward if b == k) for k in range(n)]
    return {
        "total_customers": len(by_customer),
        "customers": customers,
        "conforming": conforming,
        "in_order": in_order,
        "moves": moves,
        "backward_moves": backward_moves,
        "backward_customers": backward_customers,
        "looping_customers": looping,
        "reentries": sum(reentries),
        "events": total_events,
        "unmapped_events": unmapped_events,
        "seconds": total_seconds,
        "unmapped_seconds": unmapped_seconds,
        "outside_customers": len(by_customer) - customers,
        "deviating": sum(deviating.values()),
        "distinct_deviating": len(deviating),
        "unmapped": sorted(unmapped_names.items(), key=lambda item: (-item[1], item[0]))[:top],
        "stages": [
            {
                "stage_id": ids[k],
                "visited": visited[k],
                "beyond": beyond[k],
                "skipped": skipped[k],
                "looped": looped[k],
                "reentries": reentries[k],
                "backward_out": out_count[k],
                "backward_in": in_count[k],
            }
            for k in range(n)
        ],
        "backward": [
            {"from_stage": ids[a], "to_stage": ids[b], "moves": m, "customers": c}
            for a, b, m, c in backward
        ],
        "paths": [
            {"stages": [ids[k] for k in path], "customers": count} for path, count in ranked[:top]
        ],
    }
