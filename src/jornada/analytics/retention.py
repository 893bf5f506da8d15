"""Cohort retention and lifecycle: who comes back, period after period.

Periods are calendar days, ISO weeks (Monday to Sunday) or calendar months, in UTC,
cut with Ibis ``truncate`` so they mean the same on DuckDB and PySpark. Queries group
by truncated timestamps; periods are numbered (and cohorts and periods subtracted) in
Python, on the aggregated rows only.

The default analyses (any event starts a cohort, any event counts as activity) read the
store's per-event facts instead of grouping events by customer: the last event of a
customer in a period is the one whose ``next_ts`` falls in a later period (or is null),
so those events *are* the distinct (customer, period) pairs, and ``next_ts`` gives the
customer's next active period; the first event (``idx = 0``) gives the cohort. Chosen
steps filter the events, group them into (customer, period) pairs and find the next
active period with a window over those pairs.

**Retention.** A customer's cohort is the period of their first event (or of their
first ``start`` step). They are *active* in period ``k`` (``k = 0`` is the cohort's own
period) when they have a ``returning`` event (default: any event) in the cohort's
period plus ``k``, at or after their start event. *N-period retention* at ``k`` is the
share of the cohort active in exactly period ``k``; *unbounded retention* at ``k`` the
share active in period ``k`` or any later one. Periods after the log's last event are
not observed: their cells are empty, not zero. (The last period may be partial.)

**Lifecycle.** For each period from the log's first event to its last, the customers
with an ``active`` event (default: any event) are *new* (first active period ever),
*returning* (active in the period before too) or *resurrected* (active before, but not
in the period before); *dormant* counts those active in the period before but not in
this one. *Stickiness* is the mean number of daily active customers over the period's
days (those within the log's range) divided by the period's active customers: DAU/MAU
for months, DAU/WAU for weeks (1 for days).

>>> import ibis, datetime as dt
>>> d = dt.datetime
>>> events = ibis.memtable({
...     "customer_id": ["a", "a", "a", "b"],
...     "ts": [d(2026, 1, 5), d(2026, 1, 13), d(2026, 1, 27), d(2026, 1, 6)],
...     "idx": [0, 1, 2, 0], "event": ["visit"] * 4,
...     "next_ts": [d(2026, 1, 13), d(2026, 1, 27), None, None],
... })
>>> result = retention(events, period="week")
>>> result.cohorts[0].customers, result.cohorts[0].active
(2, (2, 1, 0, 1))
>>> result.cohorts[0].active_or_later
(2, 1, 1, 1)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd
import plotly.graph_objects as go
from rich.table import Table

from jornada.analytics.results import AnalysisResult, json_ready
from jornada.analytics.steps import resolve_step
from jornada.analytics.timing import first_matches
from jornada.model import Journey

__all__ = [
    "PERIODS",
    "Cohort",
    "LifecyclePeriod",
    "LifecycleResult",
    "Period",
    "RetentionResult",
    "lifecycle",
    "period_start",
    "retention",
]

Period = Literal["day", "week", "month"]
PERIODS: Final[tuple[Period, ...]] = ("day", "week", "month")

_TRUNCATE_UNIT: Final[dict[str, str]] = {"day": "D", "week": "W", "month": "M"}
_EPOCH: Final = date(1970, 1, 1)
_EPOCH_MONDAY: Final = date(1970, 1, 5)  # the first Monday after the epoch: week 0 starts here


def _check_period(period: str) -> Period:
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    return period


def period_start(number: int, period: Period) -> date:
    """The first day of period ``number``: days since 1970-01-01, weeks since Monday
    1970-01-05, months since January 1970.

    >>> period_start(0, "week"), period_start(24314, "month")
    (datetime.date(1970, 1, 5), datetime.date(2026, 3, 1))
    """
    if period == "day":
        return _EPOCH + timedelta(days=number)
    if period == "week":
        return _EPOCH_MONDAY + timedelta(weeks=number)
    year, month = divmod(number, 12)
    return date(year, month + 1, 1)


def _condition(text: str | None, events: ir.Table, journey: Journey | None) -> tuple[str, Any]:
    if text is None:
        return "any event", None
    step = resolve_step(text, events, journey)
    return step.label, step.condition.fill_null(False)


def _json(data: dict[str, Any]) -> dict[str, Any]:
    ready: dict[str, Any] = json_ready(data)
    return ready


def _period_of(moment: datetime, period: Period) -> int:
    day = moment.date()
    if period == "day":
        return (day - _EPOCH).days
    if period == "week":
        return (day - _EPOCH_MONDAY).days // 7
    return day.year * 12 + day.month - 1


def _tagged(table: ir.Table, kind: str, **columns: Any) -> ir.Table:
    """One part of a tagged union, so several small results come back in one round trip:
    ``kind``, two timestamps ``a`` and ``b`` and two counts ``n`` and ``m`` (null when unused)."""
    values = {"a": ibis.null("timestamp"), "b": ibis.null("timestamp")}
    values |= {"n": ibis.null("int64"), "m": ibis.null("int64")}
    for name, value in columns.items():
        values[name] = value.cast("int64" if name in ("n", "m") else "timestamp")
    return table.select(kind=ibis.literal(kind), **values)


def _log_range(events: ir.Table) -> ir.Table:
    """The log's first and last event, as a tagged part."""
    range_ = events.aggregate(first=events.ts.min(), last=events.ts.max())
    return _tagged(range_, "range", a=range_["first"], b=range_["last"])


def _firsts(events: ir.Table, condition: Any | None, unit: str) -> ir.Table:
    """Per customer: the period (truncated timestamp) of their first event matching
    ``condition`` (any event when None), and its path position."""
    firsts = first_matches(events, condition)
    return firsts.select("customer_id", "start_idx", cohort=firsts.start_ts.truncate(unit))


def _visits(events: ir.Table, condition: Any | None, unit: str) -> ir.Table:
    """The distinct (customer, period ``p``) pairs with an event matching ``condition``,
    each with the last matching position in it and the customer's next such period
    ``np`` (null after their last one)."""
    if condition is None:
        # The customer's last event in a period is the one whose next event falls in a
        # later period: a filter on the facts instead of a group-by over all events.
        ts, next_ts = events.ts, events.next_ts
        later = next_ts.date() != ts.date()  # cheap, and rules out most events (same day)
        if unit != "D":
            later &= next_ts.truncate(unit) != ts.truncate(unit)
        last = events.filter(next_ts.isnull() | later)
        return last.select(
            "customer_id",
            p=last.ts.truncate(unit),
            np=last.next_ts.truncate(unit),
            last_idx=last.idx,
        )
    acting = events.filter(condition)
    pairs = acting.group_by(["customer_id", acting.ts.truncate(unit).name("p")]).aggregate(
        last_idx=acting.idx.max()
    )
    window = ibis.window(group_by=pairs.customer_id, order_by=pairs.p)
    return pairs.mutate(np=pairs.p.lead().over(window))


# --- retention ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cohort:
    """One cohort: its first day, size, and per period ``k`` (index) the customers active
    in exactly period ``k`` and in period ``k`` or later; None where not observed yet."""

    start: date
    customers: int
    active: tuple[int | None, ...]
    active_or_later: tuple[int | None, ...]

    def rate(self, k: int, *, unbounded: bool = False) -> float:
        """Retention at period ``k`` (NaN when not observed)."""
        counts = self.active_or_later if unbounded else self.active
        value = counts[k] if k < len(counts) else None
        return math.nan if value is None or not self.customers else value / self.customers


@dataclass(frozen=True)
class RetentionResult(AnalysisResult):
    """Cohort retention: one :class:`Cohort` per period with new customers, oldest first."""

    period: Period
    start: str
    returning: str
    last_period: date | None
    cohorts: tuple[Cohort, ...]

    @property
    def periods(self) -> int:
        """How many periods (columns) the table has."""
        return max((len(c.active) for c in self.cohorts), default=0)

    def matrix(self, *, unbounded: bool = False) -> pd.DataFrame:
        """Retention rates, one row per cohort and one column per period ``k``."""
        data = {
            k: [c.rate(k, unbounded=unbounded) for c in self.cohorts] for k in range(self.periods)
        }
        frame = pd.DataFrame(data, index=pd.Index([c.start for c in self.cohorts], name="cohort"))
        frame.insert(0, "customers", [c.customers for c in self.cohorts])
        return frame

    def to_frame(self) -> pd.DataFrame:
        """Long: one row per observed (cohort, period) cell."""
        rows = []
        for c in self.cohorts:
            for k, (active, later) in enumerate(zip(c.active, c.active_or_later, strict=True)):
                if active is None or later is None:
                    continue
                rows.append(
                    (
                        c.start,
                        c.customers,
                        k,
                        active,
                        active / c.customers,
                        later,
                        later / c.customers,
                    )
                )
        columns = [
            "cohort",
            "customers",
            "period",
            "active",
            "retention",
            "active_or_later",
            "unbounded_retention",
        ]
        return pd.DataFrame(rows, columns=columns)

    def to_dict(self) -> dict[str, Any]:
        return _json(
            {
                "period": self.period,
                "start": self.start,
                "returning": self.returning,
                "last_period": self.last_period.isoformat() if self.last_period else None,
                "cohorts": [
                    {
                        "cohort": c.start.isoformat(),
                        "customers": c.customers,
                        "active": list(c.active),
                        "active_or_later": list(c.active_or_later),
                        "retention": [None if a is None else a / c.customers for a in c.active],
                        "unbounded_retention": [
                            None if a is None else a / c.customers for a in c.active_or_later
                        ],
                    }
                    for c in self.cohorts
                ],
            }
        )

    def chart(self) -> go.Figure:
        """A heatmap of retention, with buttons for N-period and unbounded retention."""
        figure = go.Figure()
        labels = [c.start.isoformat() for c in self.cohorts]
        for unbounded in (False, True):
            rates = self.matrix(unbounded=unbounded).drop(columns="customers")
            z = [[None if math.isnan(v) else v for v in row] for row in rates.to_numpy().tolist()]
            figure.add_trace(
                go.Heatmap(
                    z=z,
                    x=[f"{self.period} {k}" for k in rates.columns],
                    y=labels,
                    zmin=0,
                    zmax=1,
                    colorscale="Blues",
                    texttemplate="%{z:.0%}",
                    hovertemplate="cohort %{y}, %{x}: %{z:.1%}<extra></extra>",
                    visible=not unbounded,
                    name="active in period k or later" if unbounded else "active in period k",
                )
            )
        figure.update_layout(
            title=f"Retention by {self.period} cohort ({self.start} → {self.returning})",
            yaxis={"autorange": "reversed", "type": "category", "title": "cohort"},
            updatemenus=[
                {
                    "type": "buttons",
                    "direction": "right",
                    "x": 0,
                    "y": 1.12,
                    "buttons": [
                        {
                            "label": "N-period",
                            "method": "update",
                            "args": [{"visible": [True, False]}],
                        },
                        {
                            "label": "Unbounded",
                            "method": "update",
                            "args": [{"visible": [False, True]}],
                        },
                    ],
                }
            ],
        )
        return figure

    def __rich__(self) -> Table:
        shown = min(self.periods, 13)
        table = Table("cohort", "customers", *(str(k) for k in range(shown)), box=None)
        for c in self.cohorts[-50:]:
            cells = [
                "" if math.isnan(rate) else f"{rate:.0%}"
                for rate in (c.rate(k) for k in range(shown))
            ]
            table.add_row(c.start.isoformat(), f"{c.customers:,}", *cells)
        table.title = f"Share of each {self.period} cohort active in period k ({self.returning})"
        if len(self.cohorts) > 50 or self.periods > shown:
            table.caption = "the full table: --csv FILE or --json"
        return table


def retention(
    events: ir.Table,
    *,
    period: Period = "week",
    start: str | None = None,
    returning: str | None = None,
    journey: Journey | None = None,
    periods: int | None = None,
) -> RetentionResult:
    """Cohort retention table: see the module's documentation for the definitions.

    ``start`` and ``returning`` are steps (event names, touchpoint or stage ids of
    ``journey``, rules); ``periods`` limits the columns to ``k < periods``. One query.

    >>> import ibis, datetime as dt
    >>> d = dt.datetime
    >>> events = ibis.memtable({"customer_id": ["a", "a", "b"], "idx": [0, 1, 0],
    ...     "ts": [d(2026, 1, 31), d(2026, 2, 1), d(2026, 2, 3)],
    ...     "next_ts": [d(2026, 2, 1), None, None], "event": ["visit", "purchase", "visit"]})
    >>> [(c.start.isoformat(), c.active) for c in retention(events, period="month").cohorts]
    [('2026-01-01', (1, 1)), ('2026-02-01', (1, None))]
    """
    period = _check_period(period)
    unit = _TRUNCATE_UNIT[period]
    start_label, start_condition = (
        ("first event", None) if start is None else _condition(start, events, journey)
    )
    returning_label, returning_condition = _condition(returning, events, journey)

    cohorts = _firsts(events, start_condition, unit)
    visits = _visits(events, returning_condition, unit)
    visits = visits.select(
        customer_id_v=visits.customer_id, p=visits.p, np=visits.np, last_idx=visits.last_idx
    )
    on = [cohorts.customer_id == visits.customer_id_v]
    if start_condition is not None:
        # Activity counts from the start event on (the first event starts everyone).
        on.append(visits.last_idx >= cohorts.start_idx)
    pairs = cohorts.join(visits, on)
    # A pair without a next active period is the customer's last active period: counting
    # those per cell gives "active in k or later" as a running sum, with no second pass.
    cells = pairs.group_by(["cohort", "p"]).aggregate(
        n=pairs.count(), m=pairs.np.isnull().cast("int64").sum()
    )
    sizes = cohorts.group_by("cohort").aggregate(n=cohorts.count())
    union = ibis.union(
        _log_range(events),
        _tagged(sizes, "size", a=sizes.cohort, n=sizes.n),
        _tagged(cells, "cell", a=cells.cohort, b=cells.p, n=cells.n, m=cells.m),
    )
    rows = union.to_pyarrow().to_pylist()

    (range_,) = (row for row in rows if row["kind"] == "range")
    if range_["b"] is None:
        return RetentionResult(period, start_label, returning_label, None, ())
    last = _period_of(range_["b"], period)
    size: dict[int, int] = {}
    active: dict[int, dict[int, int]] = {}
    ending: dict[int, dict[int, int]] = {}  # customers by their last active period
    for row in rows:  # a few rows per cohort and period: aggregated already
        if row["kind"] == "size":
            size[_period_of(row["a"], period)] = int(row["n"])
        elif row["kind"] == "cell":
            cohort = _period_of(row["a"], period)
            k = _period_of(row["b"], period) - cohort
            active.setdefault(cohort, {})[k] = int(row["n"])
            ending.setdefault(cohort, {})[k] = int(row["m"])
    width = last - min(size, default=last) + 1
    if periods is not None:
        width = min(width, periods)
    result = []
    for cohort in sorted(size):
        observed = min(width, last - cohort + 1)
        exact, ends = active.get(cohort, {}), ending.get(cohort, {})
        exact_counts = [exact.get(k, 0) for k in range(observed)]
        # Active in k or later = last active in k or later: a running sum from the end.
        running = sum(n for k, n in ends.items() if k >= observed)
        later_counts: list[int] = []
        for k in reversed(range(observed)):
            running += ends.get(k, 0)
            later_counts.append(running)
        later_counts.reverse()
        missing: list[int | None] = [None] * (width - observed)
        result.append(
            Cohort(
                start=period_start(cohort, period),
                customers=size[cohort],
                active=(*exact_counts, *missing),
                active_or_later=(*later_counts, *missing),
            )
        )
    return RetentionResult(
        period=period,
        start=start_label,
        returning=returning_label,
        last_period=period_start(last, period),
        cohorts=tuple(result),
    )


# --- lifecycle ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LifecyclePeriod:
    """One period of the lifecycle (see the module's documentation)."""

    start: date
    new: int
    returning: int
    resurrected: int
    dormant: int
    days: int
    """Days of the period within the log's range: the denominator of the daily mean."""
    daily_actives: int
    """Active customers summed over the period's days (customer-days)."""

    @property
    def active(self) -> int:
        return self.new + self.returning + self.resurrected

    @property
    def daily_active_mean(self) -> float:
        return self.daily_actives / self.days if self.days else math.nan

    @property
    def stickiness(self) -> float:
        """Mean daily actives / period actives (NaN in a period nobody was active)."""
        return self.daily_active_mean / self.active if self.active else math.nan


@dataclass(frozen=True)
class LifecycleResult(AnalysisResult):
    """New, returning, resurrected and dormant customers and stickiness, per period."""

    period: Period
    active_step: str
    periods: tuple[LifecyclePeriod, ...]

    def to_frame(self) -> pd.DataFrame:
        columns = [
            "period",
            "new",
            "returning",
            "resurrected",
            "dormant",
            "active",
            "daily_active_mean",
            "stickiness",
        ]
        rows = [
            (
                p.start,
                p.new,
                p.returning,
                p.resurrected,
                p.dormant,
                p.active,
                p.daily_active_mean,
                p.stickiness,
            )
            for p in self.periods
        ]
        return pd.DataFrame(rows, columns=columns)

    def to_dict(self) -> dict[str, Any]:
        return _json(
            {
                "period": self.period,
                "active_step": self.active_step,
                "periods": [
                    {
                        "period": p.start.isoformat(),
                        "new": p.new,
                        "returning": p.returning,
                        "resurrected": p.resurrected,
                        "dormant": p.dormant,
                        "active": p.active,
                        "days": p.days,
                        "daily_active_mean": p.daily_active_mean,
                        "stickiness": p.stickiness,
                    }
                    for p in self.periods
                ],
            }
        )

    def chart(self) -> go.Figure:
        """Stacked bars (dormant below zero) and stickiness on a second axis."""
        x = [p.start.isoformat() for p in self.periods]
        figure = go.Figure()
        for name, values in (
            ("new", [p.new for p in self.periods]),
            ("returning", [p.returning for p in self.periods]),
            ("resurrected", [p.resurrected for p in self.periods]),
            ("dormant", [-p.dormant for p in self.periods]),
        ):
            figure.add_trace(go.Bar(x=x, y=values, name=name))
        figure.add_trace(
            go.Scatter(
                x=x,
                y=[None if math.isnan(p.stickiness) else p.stickiness for p in self.periods],
                name="stickiness",
                yaxis="y2",
                mode="lines+markers",
            )
        )
        figure.update_layout(
            title=f"Lifecycle by {self.period} ({self.active_step})",
            barmode="relative",
            yaxis_title="customers",
            yaxis2={"overlaying": "y", "side": "right", "tickformat": ".0%", "range": [0, 1]},
        )
        return figure


def lifecycle(
    events: ir.Table,
    *,
    period: Period = "week",
    active: str | None = None,
    journey: Journey | None = None,
) -> LifecycleResult:
    """Lifecycle counts and stickiness per period: see the module's documentation.

    >>> import ibis, datetime as dt
    >>> d = dt.datetime
    >>> events = ibis.memtable({"customer_id": ["a", "a", "b"], "idx": [0, 1, 0],
    ...     "ts": [d(2026, 1, 1), d(2026, 1, 20), d(2026, 1, 8)], "event": ["visit"] * 3,
    ...     "next_ts": [d(2026, 1, 20), None, None]})
    >>> [(p.new, p.returning, p.resurrected, p.dormant) for p in lifecycle(events).periods]
    [(1, 0, 0, 0), (1, 0, 0, 1), (0, 0, 0, 1), (0, 0, 1, 0)]
    """
    period = _check_period(period)
    unit = _TRUNCATE_UNIT[period]
    label, condition = _condition(active, events, journey)
    visits = _visits(events, condition, unit)
    moves = visits.group_by(["p", "np"]).aggregate(n=visits.count())
    firsts = _firsts(events, condition, unit)
    new = firsts.group_by("cohort").aggregate(n=firsts.count())
    days = _visits(events, condition, "D")  # the distinct (customer, day) pairs
    days = days.select(p=days.p.truncate(unit))
    daily = days.group_by("p").aggregate(n=days.count())
    union = ibis.union(
        _log_range(events),
        _tagged(moves, "move", a=moves.p, b=moves.np, n=moves.n),
        _tagged(new, "new", a=new.cohort, n=new.n),
        _tagged(daily, "daily", a=daily.p, n=daily.n),
    )
    rows = union.to_pyarrow().to_pylist()

    (range_,) = (row for row in rows if row["kind"] == "range")
    if range_["a"] is None or range_["b"] is None:
        return LifecycleResult(period, label, ())
    first, last = _period_of(range_["a"], period), _period_of(range_["b"], period)
    counts: dict[str, dict[int, int]] = {
        kind: {} for kind in ("active", "new", "returning", "dormant", "daily")
    }

    def add(kind: str, number: int, n: int) -> None:
        counts[kind][number] = counts[kind].get(number, 0) + n

    for row in rows:  # a few rows per period (pairs of periods for moves)
        if row["kind"] in ("new", "daily"):
            add(row["kind"], _period_of(row["a"], period), int(row["n"]))
        elif row["kind"] == "move":
            number = _period_of(row["a"], period)
            add("active", number, int(row["n"]))
            # Active in this period: returning in the next one if active there too,
            # else dormant there.
            following = None if row["b"] is None else _period_of(row["b"], period)
            add("returning" if following == number + 1 else "dormant", number + 1, int(row["n"]))
    first_day, last_day = range_["a"].date(), range_["b"].date()
    result = []
    for number in range(first, last + 1):  # a loop over periods, not events
        begins, ends = period_start(number, period), period_start(number + 1, period)
        within = (min(ends, last_day + timedelta(days=1)) - max(begins, first_day)).days
        new_count = counts["new"].get(number, 0)
        returning_count = counts["returning"].get(number, 0)
        result.append(
            LifecyclePeriod(
                start=begins,
                new=new_count,
                returning=returning_count,
                resurrected=counts["active"].get(number, 0) - new_count - returning_count,
                dormant=counts["dormant"].get(number, 0),
                days=max(0, within),
                daily_actives=counts["daily"].get(number, 0),
            )
        )
    return LifecycleResult(period=period, active_step=label, periods=tuple(result))
