"""Brute-force references of :mod:`jornada.analytics.retention`, on calendar dates.

Periods are represented by their first day, and counted with the calendar (``date``
arithmetic), independently of the engine's period numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from tests.oracles import Event, group_paths

Predicate = Callable[[Event], bool]


def period_start(moment: dt.datetime, period: str) -> dt.date:
    day = moment.date()
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.weekday())  # ISO weeks start on Monday
    return day.replace(day=1)


def periods_between(earlier: dt.date, later: dt.date, period: str) -> int:
    if period == "day":
        return (later - earlier).days
    if period == "week":
        return (later - earlier).days // 7
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def next_period(start: dt.date, period: str) -> dt.date:
    if period == "day":
        return start + dt.timedelta(days=1)
    if period == "week":
        return start + dt.timedelta(days=7)
    return (start + dt.timedelta(days=32)).replace(day=1)


def retention(
    events: list[Event],
    period: str,
    start: Predicate | None = None,
    returning: Predicate | None = None,
) -> dict[dt.date, dict[str, Any]]:
    """cohort start -> {"customers", "active": {k: n}, "later": {k: n}, "observed": K}
    where periods k < K are observed."""
    if not events:
        return {}
    last = period_start(max(e["ts"] for e in events), period)
    cohorts: dict[dt.date, dict[str, Any]] = {}
    for path in group_paths(events).values():
        begin = next((i for i, e in enumerate(path) if start is None or start(e)), None)
        if begin is None:
            continue
        cohort = period_start(path[begin]["ts"], period)
        entry = cohorts.setdefault(
            cohort,
            {
                "customers": 0,
                "active": {},
                "later": {},
                "observed": periods_between(cohort, last, period) + 1,
            },
        )
        entry["customers"] += 1
        ks = {
            periods_between(cohort, period_start(e["ts"], period), period)
            for e in path[begin:]
            if returning is None or returning(e)
        }
        for k in range(entry["observed"]):
            if k in ks:
                entry["active"][k] = entry["active"].get(k, 0) + 1
            if any(j >= k for j in ks):
                entry["later"][k] = entry["later"].get(k, 0) + 1
    return cohorts


def lifecycle(
    events: list[Event], period: str, active: Predicate | None = None
) -> list[dict[str, Any]]:
    """Per period from the log's first to its last: the four counts, the customer-days
    and the days of the period within the log."""
    if not events:
        return []
    first_day = min(e["ts"] for e in events).date()
    last_day = max(e["ts"] for e in events).date()
    acting = [e for e in events if active is None or active(e)]
    periods_of: dict[str, set[dt.date]] = {}
    days_of: dict[str, set[dt.date]] = {}
    for e in acting:
        periods_of.setdefault(e["customer_id"], set()).add(period_start(e["ts"], period))
        days_of.setdefault(e["customer_id"], set()).add(e["ts"].date())
    result = []
    current = period_start(dt.datetime.combine(first_day, dt.time()), period)
    previous: dt.date | None = None
    while current <= last_day:
        ends = next_period(current, period)
        counts = {"new": 0, "returning": 0, "resurrected": 0, "dormant": 0}
        for active_periods in periods_of.values():
            now = current in active_periods
            before = previous is not None and previous in active_periods
            earlier = any(p < current for p in active_periods)
            if now and not earlier:
                counts["new"] += 1
            elif now and before:
                counts["returning"] += 1
            elif now:
                counts["resurrected"] += 1
            elif before:
                counts["dormant"] += 1
        customer_days = sum(1 for days in days_of.values() for day in days if current <= day < ends)
        within = (min(ends, last_day + dt.timedelta(days=1)) - max(current, first_day)).days
        result.append({"start": current, **counts, "customer_days": customer_days, "days": within})
        previous, current = current, ends
    return result
