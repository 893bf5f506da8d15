"""Brute-force reference of :mod:`jornada.analytics.stages` on plain paths and a plain map.

A plain map is a list of :class:`PlainStage`: an id, the set of event names that are the
stage's, and its milestones (a set of event names and an optional window in seconds). An
event is the stage of the first stage, in map order, listing its name (what
``label_events`` does with one touchpoint per stage). Everything else follows the module
docstring of ``stages.py``, one customer at a time, with plain loops.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from tests.oracles import Event, group_paths

EPOCH = dt.datetime(1970, 1, 1)


@dataclass(frozen=True)
class PlainMilestone:
    id: str
    names: frozenset[str]
    within: int | None = None  # seconds


@dataclass(frozen=True)
class PlainStage:
    id: str
    names: frozenset[str]
    milestones: tuple[PlainMilestone, ...] = ()


def seconds(ts: dt.datetime) -> int:
    """Whole seconds since the epoch, the fraction dropped (as the engine does)."""
    return (ts.replace(microsecond=0) - EPOCH) // dt.timedelta(seconds=1)


def nearest_rank(values: Iterable[int], percentile: float) -> int | None:
    """The value at rank ceil(p/100 * n) of the sorted values (None when there are none)."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(Fraction(repr(float(percentile))) * len(ordered) / 100))
    return ordered[rank - 1]


def stage_of(name: str, plain_map: Sequence[PlainStage]) -> int | None:
    return next((k for k, stage in enumerate(plain_map) if name in stage.names), None)


@dataclass
class Customer:
    """One customer's journey through the map, the slow way."""

    customer_id: str
    entered: dict[int, tuple[int, dt.datetime]] = field(default_factory=dict)  # k -> (pos, ts)
    moved_at: dict[int, dt.datetime | None] = field(default_factory=dict)
    current: int | None = None
    seconds_in_stage: int | None = None
    last_touchpoint: str | None = None
    last_event_at: dt.datetime | None = None
    milestones: dict[tuple[str, str], tuple[dt.datetime | None, bool]] = field(
        default_factory=dict
    )  # (stage id, milestone id) -> (reached at, missed)

    def dwell(self, k: int) -> int | None:
        moved = self.moved_at.get(k)
        return None if moved is None else seconds(moved) - seconds(self.entered[k][1])


@dataclass
class Stages:
    """Everything the engine computes, by brute force."""

    as_of: dt.datetime | None
    customers: dict[str, Customer]
    stages: list[dict[str, Any]]
    stalled: list[tuple[str, str, int, str]]  # (customer, stage id, seconds in stage, reason)


def analyse(
    events: Iterable[Event],
    plain_map: Sequence[PlainStage],
    *,
    percentile: float = 80,
    as_of: dt.datetime | None = None,
) -> Stages:
    rows = list(events)
    if as_of is not None:
        rows = [row for row in rows if row["ts"] <= as_of]
    else:
        as_of = max((row["ts"] for row in rows), default=None)
    customers: dict[str, Customer] = {}
    for customer_id, path in group_paths(rows).items():
        customer = Customer(customer_id, last_event_at=path[-1]["ts"])
        labels = [stage_of(e["event"], plain_map) for e in path]
        for pos, (event, k) in enumerate(zip(path, labels, strict=True)):
            if k is None:
                continue
            customer.last_touchpoint = f"{plain_map[k].id}_tp"
            if k not in customer.entered:
                customer.entered[k] = (pos, event["ts"])
        if not customer.entered:
            customers[customer_id] = customer
            continue
        for k, (pos, _) in customer.entered.items():
            later = [
                path[i]["ts"]
                for i in range(pos + 1, len(path))
                if labels[i] is not None and labels[i] > k  # type: ignore[operator]
            ]
            customer.moved_at[k] = later[0] if later else None
        customer.current = max(customer.entered)
        assert as_of is not None
        customer.seconds_in_stage = seconds(as_of) - seconds(customer.entered[customer.current][1])
        for k, stage in enumerate(plain_map):
            if k not in customer.entered:
                continue
            pos, entered_at = customer.entered[k]
            for milestone in stage.milestones:
                hits = [
                    e["ts"]
                    for e in path[pos:]
                    if e["event"] in milestone.names
                    and (
                        milestone.within is None
                        or seconds(e["ts"]) - seconds(entered_at) <= milestone.within
                    )
                ]
                reached_at = hits[0] if hits else None
                missed = (
                    milestone.within is not None
                    and reached_at is None
                    and seconds(as_of) - seconds(entered_at) > milestone.within
                )
                customer.milestones[(stage.id, milestone.id)] = (reached_at, missed)
        customers[customer_id] = customer

    started = [c for c in customers.values() if c.entered]
    thresholds = [
        nearest_rank(
            [d for c in started if k in c.entered and (d := c.dwell(k)) is not None], percentile
        )
        for k in range(len(plain_map))
    ]
    stalled: list[tuple[str, str, int, str]] = []
    for c in started:
        assert c.current is not None
        assert c.seconds_in_stage is not None
        k = c.current
        reasons = []
        if thresholds[k] is not None and c.seconds_in_stage > thresholds[k]:  # type: ignore[operator]
            reasons.append("slow")
        for milestone in plain_map[k].milestones:
            if c.milestones[(plain_map[k].id, milestone.id)][1]:
                reasons.append(f"missed milestone {milestone.id}")
        if reasons:
            stalled.append((c.customer_id, plain_map[k].id, c.seconds_in_stage, "; ".join(reasons)))
    stalled.sort(key=lambda s: ([x.id for x in plain_map].index(s[1]), -s[2], s[0]))

    summaries: list[dict[str, Any]] = []
    first = {c.customer_id for c in started if 0 in c.entered}
    for k, stage in enumerate(plain_map):
        reached = {c.customer_id for c in started if k in c.entered}
        dwell = [d for c in started if k in c.entered and (d := c.dwell(k)) is not None]
        following = (
            {c.customer_id for c in started if k + 1 in c.entered}
            if k + 1 < len(plain_map)
            else None
        )
        summaries.append(
            {
                "stage_id": stage.id,
                "reached": len(reached),
                "currently_in": sum(1 for c in started if c.current == k),
                "reached_next": None if following is None else len(reached & following),
                "reached_from_first": len(reached & first),
                "movers": len(dwell),
                "median_dwell_seconds": nearest_rank(dwell, 50),
                "threshold_dwell_seconds": thresholds[k],
                "stalled": sum(1 for s in stalled if s[1] == stage.id),
                "milestones": [
                    {
                        "milestone_id": m.id,
                        "entered": len(reached),
                        "reached": sum(
                            1
                            for c in started
                            if k in c.entered and c.milestones[(stage.id, m.id)][0] is not None
                        ),
                        "missed": sum(
                            1
                            for c in started
                            if k in c.entered and c.milestones[(stage.id, m.id)][1]
                        ),
                    }
                    for m in stage.milestones
                ],
            }
        )
    return Stages(as_of, customers, summaries, stalled)
