"""Brute-force references of :mod:`jornada.analytics.features` (journey features per
customer) and of what churn builds on them: the labels at a cutoff and the exposures of
behavioural triggers (:mod:`jornada.analytics.churn`).

Plain loops over each customer's path, with the definitions of the modules' documentation
read literally; steps are plain event names (``purchase``, ``support_ticket``...).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from typing import Any

from tests.oracles import Event, group_paths
from tests.oracles.stages import PlainStage, analyse, seconds

DAY = 86_400


def property_map(event: Event) -> dict[str, str]:
    """An event's properties as a dict (Arrow hands maps over as lists of pairs)."""
    raw = event.get("properties") or {}
    return dict(raw.items() if isinstance(raw, dict) else raw)


def features(
    events: Iterable[Event],
    cutoff: dt.datetime,
    *,
    event_names: Sequence[str],
    channels: Sequence[str],
    surveys: Sequence[str],
    purchase: str = "purchase",
    support: str = "support_ticket",
    failed_payment: str = "payment_failed",
    recent_days: int = 30,
    plain_map: Sequence[PlainStage] | None = None,
) -> dict[str, dict[str, Any]]:
    """customer -> {column -> value}, column names as the engine writes them for plain
    (already slug-like) names: ``event_<name>``, ``channel_<name>``, ``score_<kind>``,
    ``touchpoint_<stage id>_tp`` (one touchpoint per stage)."""
    before = [e for e in events if e["ts"] < cutoff]
    recent = cutoff - dt.timedelta(days=recent_days)
    stages = analyse(before, plain_map, as_of=cutoff) if plain_map is not None else None
    result: dict[str, dict[str, Any]] = {}
    for customer, path in group_paths(before).items():
        purchases = [e for e in path if e["event"] == purchase]
        values = [e["value"] for e in purchases if e["value"] is not None]
        row: dict[str, Any] = {
            "events": len(path),
            "sessions": len({e["session_id"] for e in path}),
            "events_recent": sum(1 for e in path if e["ts"] >= recent),
            "recency_days": (seconds(cutoff) - seconds(path[-1]["ts"])) / DAY,
            "tenure_days": (seconds(cutoff) - seconds(path[0]["ts"])) / DAY,
            "purchases": len(purchases),
            "revenue": float(sum(values)),
            "days_since_purchase": (seconds(cutoff) - seconds(purchases[-1]["ts"])) / DAY
            if purchases
            else None,
            "support_tickets": sum(1 for e in path if e["event"] == support),
            "failed_payments": sum(1 for e in path if e["event"] == failed_payment),
            "last_event": path[-1]["event"],
            "last_event_at": path[-1]["ts"],
        }
        for kind in surveys:
            scores = [
                e["score"]
                for e in path
                if e["score"] is not None and property_map(e).get("survey", "") == kind
            ]
            row[f"score_{kind or 'unlabelled'}"] = sum(scores) / len(scores) if scores else None
        for name in event_names:
            row[f"event_{name}"] = sum(1 for e in path if e["event"] == name)
        for channel in channels:
            row[f"channel_{channel}"] = sum(1 for e in path if e["channel"] == channel)
        if plain_map is not None and stages is not None:
            for stage in plain_map:
                # An event is the touchpoint of the first stage listing its name.
                row[f"touchpoint_{stage.id}_tp"] = sum(
                    1
                    for e in path
                    if next((s.id for s in plain_map if e["event"] in s.names), None) == stage.id
                )
            state = stages.customers[customer]
            row["stage_index"] = None if state.current is None else float(state.current)
            row["days_in_stage"] = (
                None if state.seconds_in_stage is None else state.seconds_in_stage / DAY
            )
            row["last_touchpoint"] = state.last_touchpoint
        result[customer] = row
    return result


# --- churn labels --------------------------------------------------------------------------


def _alive(
    path: Sequence[Event],
    at: dt.datetime,
    inactive_days: float | None,
    cancel: set[str],
    activity: set[str] | None,
) -> bool:
    active = [e["ts"] for e in path if activity is None or e["event"] in activity]
    cancelled = [e["ts"] for e in path if e["event"] in cancel]
    if not any(t < at for t in active) or any(t < at for t in cancelled):
        return False
    if inactive_days is None:
        return True
    since = at - dt.timedelta(days=inactive_days)
    return any(since <= t < at for t in active)


def _churned(
    path: Sequence[Event],
    by: dt.datetime,
    inactive_days: float | None,
    cancel: set[str],
    activity: set[str] | None,
) -> bool:
    if any(e["ts"] < by for e in path if e["event"] in cancel):
        return True
    if inactive_days is None:
        return False
    since = by - dt.timedelta(days=inactive_days)
    active = [e["ts"] for e in path if activity is None or e["event"] in activity]
    return not any(since <= t < by for t in active)


def churn_labels(
    events: Iterable[Event],
    windows: Sequence[tuple[dt.datetime, dt.datetime]],
    *,
    inactive_days: float | None,
    cancel: Sequence[str] = (),
    activity: Sequence[str] | None = None,
) -> dict[tuple[str, int], bool]:
    """(customer, window index) -> churned by the window's end, for the customers alive at
    its start."""
    cancel_set, activity_set = set(cancel), set(activity) if activity is not None else None
    labels: dict[tuple[str, int], bool] = {}
    for customer, path in group_paths(events).items():
        for j, (start, end) in enumerate(windows):
            if _alive(path, start, inactive_days, cancel_set, activity_set):
                labels[(customer, j)] = _churned(path, end, inactive_days, cancel_set, activity_set)
    return labels


def purchase_labels(
    events: Iterable[Event],
    windows: Sequence[tuple[dt.datetime, dt.datetime]],
    *,
    target: str,
    where: tuple[str, str] | None = None,
) -> dict[tuple[str, int], bool]:
    """(customer, window index) -> a ``target`` event (with property ``where[0]`` equal to
    ``where[1]``) in the window, for customers with an event before its start."""
    labels: dict[tuple[str, int], bool] = {}
    for customer, path in group_paths(events).items():
        for j, (start, end) in enumerate(windows):
            if not any(e["ts"] < start for e in path):
                continue
            labels[(customer, j)] = any(
                start <= e["ts"] < end
                and e["event"] == target
                and (where is None or property_map(e).get(where[0]) == where[1])
                for e in path
            )
    return labels


# --- trigger exposures ---------------------------------------------------------------------


def trigger_counts(
    events: Iterable[Event],
    *,
    first: dt.datetime,
    every: dt.timedelta,
    windows: int,
    window: dt.timedelta,
    inactive_days: float | None,
    cancel: Sequence[str] = (),
    properties: Sequence[str] = (),
    pairs: bool = True,
) -> tuple[tuple[int, int], dict[str, tuple[int, int]]]:
    """((customer-windows, churned), {trigger label: (exposed, churned)}), labels written
    as the churn module shows them (``a · key=value``, ``a → b``)."""
    rows = list(events)
    paths = group_paths(rows)
    cancel_set = set(cancel)
    population, churned = 0, 0
    counts: dict[str, list[int]] = {}
    for j in range(windows):
        start, end = first + j * every, first + (j + 1) * every
        for path in paths.values():
            if not _alive(path, start, inactive_days, cancel_set, None):
                continue
            stop = min((e["ts"] for e in path if e["event"] in cancel_set), default=None)
            counted = {
                i
                for i, e in enumerate(path)
                if start <= e["ts"] < end and (stop is None or e["ts"] < stop)
            }
            inside = [path[i] for i in sorted(counted)]
            if not inside:
                continue
            label = _churned(path, end + window, inactive_days, cancel_set, None)
            population += 1
            churned += label
            found: set[str] = set()
            for e in inside:
                found.add(e["event"])
                for key in properties:
                    value = property_map(e).get(key)
                    if value is not None:
                        found.add(f"{e['event']} · {key}={value}")
            if pairs:
                # A pair happens when its second event does.
                for i, (a, b) in enumerate(itertools.pairwise(path)):
                    if i + 1 in counted:
                        found.add(f"{a['event']} → {b['event']}")
            for trigger in found:
                cell = counts.setdefault(trigger, [0, 0])
                cell[0] += 1
                cell[1] += label
    return (population, churned), {k: (v[0], v[1]) for k, v in counts.items()}
