"""Each touchpoint of a map measured on events: reach, time to the next step, exits,
conversion after it, scores. What the living map shows in each touchpoint's cell.

**Which events are a touchpoint's.** Each event belongs to the first touchpoint, in map
order, whose binding matches it (:func:`jornada.events.binding.label_events`, as the
stage analysis does), so no event is counted twice.

**Measures** (per touchpoint):

- ``events``, ``customers``: its events and the distinct customers having one;
  ``reach``: ``customers`` / customers with any event in the log.
- ``median_seconds_to_next``, ``p90_seconds_to_next``: time from each of its events to
  the customer's next event (any event), exact quantiles with linear interpolation
  (type 7, as :mod:`jornada.analytics.timing`); events that end a path do not count.
- ``exits``: customers whose path ends on one of its events (their last event);
  ``exit_rate`` = exits / customers: where journeys stop.
- ``converted``: with a ``conversion`` step, the customers having a conversion event
  later in their path than their first event at this touchpoint (position order: time,
  then load order); ``conversion_rate`` = converted / customers. ``lost``: the exits of
  customers who never converted at all (a journey that ends after a purchase is not lost).
- ``score_mean``, ``scores``: mean and count of the ``score`` column on its events
  (survey answers bound to the touchpoint).

>>> import ibis, datetime as dt
>>> from jornada.model import EventBinding, Journey, Stage, Touchpoint
>>> t0 = dt.datetime(2026, 1, 1)
>>> events = ibis.memtable({
...     "customer_id": ["a", "a", "b"], "event": ["cart", "purchase", "cart"],
...     "ts": [t0, t0 + dt.timedelta(minutes=10), t0], "idx": [0, 1, 0],
...     "next_ts": [t0 + dt.timedelta(minutes=10), None, None],
...     "channel": ["web"] * 3, "score": [None, None, 4.0],
... })
>>> shop = Journey(id="shop", title="Shop", stages=[Stage(id="buy", name="Buy", touchpoints=[
...     Touchpoint(id="cart", name="Cart", events=EventBinding(names=["cart"]))])])
>>> cart = touchpoint_measures(events, shop, conversion="purchase").touchpoint("cart")
>>> cart.customers, cart.exits, cart.converted, cart.lost, cart.median_seconds_to_next
(2, 1, 1, 1, 600.0)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import plotly.graph_objects as go

from jornada.analytics.results import AnalysisResult, json_ready, wilson_interval
from jornada.analytics.stages import StageTables
from jornada.analytics.steps import resolve_step
from jornada.analytics.timing import seconds_between
from jornada.events.binding import label_events
from jornada.events.filters import customer_column
from jornada.model import Journey

__all__ = [
    "TouchpointMeasure",
    "TouchpointMeasures",
    "TouchpointPeriod",
    "TouchpointTrend",
    "touchpoint_measures",
    "touchpoint_trend",
]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class TouchpointMeasure:
    """One touchpoint's measures (see the module for their definitions)."""

    touchpoint_id: str
    name: str
    stage_id: str
    bound: bool
    events: int
    customers: int
    median_seconds_to_next: float | None
    p90_seconds_to_next: float | None
    exits: int
    converted: int | None
    lost: int | None
    score_mean: float | None
    scores: int
    total_customers: int

    @property
    def reach(self) -> float | None:
        return _share(self.customers, self.total_customers)

    @property
    def exit_rate(self) -> float | None:
        return _share(self.exits, self.customers)

    @property
    def conversion_rate(self) -> float | None:
        return None if self.converted is None else _share(self.converted, self.customers)

    def to_dict(self) -> dict[str, Any]:
        low, high = (
            wilson_interval(self.converted, self.customers)
            if self.converted is not None
            else (math.nan, math.nan)
        )
        ready: dict[str, Any] = json_ready(
            {
                "touchpoint_id": self.touchpoint_id,
                "name": self.name,
                "stage_id": self.stage_id,
                "bound": self.bound,
                "events": self.events,
                "customers": self.customers,
                "reach": self.reach,
                "median_seconds_to_next": self.median_seconds_to_next,
                "p90_seconds_to_next": self.p90_seconds_to_next,
                "exits": self.exits,
                "exit_rate": self.exit_rate,
                "converted": self.converted,
                "lost": self.lost,
                "conversion_rate": self.conversion_rate,
                "conversion_rate_low": low,
                "conversion_rate_high": high,
                "score_mean": self.score_mean,
                "scores": self.scores,
            }
        )
        return ready


@dataclass(frozen=True)
class TouchpointMeasures(AnalysisResult):
    """Every touchpoint of a map, in map order, measured on one event log."""

    journey_id: str
    total_customers: int
    conversion: str | None
    touchpoints: tuple[TouchpointMeasure, ...]

    def touchpoint(self, touchpoint_id: str) -> TouchpointMeasure:
        return next(t for t in self.touchpoints if t.touchpoint_id == touchpoint_id)

    def to_frame(self) -> pd.DataFrame:
        rows = [t.to_dict() for t in self.touchpoints]
        columns = list(TouchpointMeasure.__dataclass_fields__)[:-1]
        columns[6:6] = ["reach"]
        columns += ["exit_rate", "conversion_rate"]
        return pd.DataFrame(rows, columns=columns)

    def to_dict(self) -> dict[str, Any]:
        return {
            "journey_id": self.journey_id,
            "total_customers": self.total_customers,
            "conversion": self.conversion,
            "touchpoints": [t.to_dict() for t in self.touchpoints],
        }

    def chart(self) -> go.Figure:
        """Customers reaching each touchpoint, and how many of them stop there."""
        names = [t.name for t in self.touchpoints]
        figure = go.Figure(
            [
                go.Bar(name="customers", x=names, y=[t.customers for t in self.touchpoints]),
                go.Bar(name="journeys ending here", x=names, y=[t.exits for t in self.touchpoints]),
            ]
        )
        figure.update_layout(
            title=f"Touchpoints of {self.journey_id}", barmode="group", yaxis_title="customers"
        )
        return figure


def _touched(
    events: ir.Table, journey: Journey, stage_tables: StageTables | None
) -> tuple[ir.Table, Callable[[Any], str], str]:
    """The events of a touchpoint, with ``tp`` (the touchpoint) and the columns of the
    events, the touchpoint id of a ``tp`` value, and the column naming the customer
    (:func:`~jornada.events.filters.customer_column`: the integer ``customer_no`` when
    the events have it, cheaper to group and join on than text ids).

    From ``stage_tables`` (the map's :class:`~jornada.analytics.stages.StageTables` of
    ``events``, built without ``as_of``), their cached labelled events, whose touchpoint
    is the same first match in map order as :func:`~jornada.events.binding.label_events`
    gives, as a number: the binding rules are not evaluated again.
    """
    if stage_tables is None:
        labelled = label_events(journey, events)
        touched = labelled.filter(labelled.touchpoint_id.notnull())
        return touched.mutate(tp=touched.touchpoint_id), str, customer_column(events)
    if not stage_tables.complete:
        raise ValueError("stage_tables built with as_of leave later events out: build them without")
    if stage_tables.journey != journey:
        raise ValueError(f"stage_tables are not of map {journey.id!r}")
    labelled = stage_tables.labelled
    ids = stage_tables.touchpoints
    touched = labelled.filter(labelled.touchpoint.notnull())
    return touched.mutate(tp=touched.touchpoint), lambda number: ids[number], stage_tables.key


def _periods(touched: ir.Table, key: str, unit: str, stage_tables: StageTables | None) -> ir.Table:
    """Per touchpoint (``tp``), customer (``key``) and period (``p``, the ``unit``'s
    start): the first event there then (``first_idx``, ``first_ts``) and, when the events
    have ``next_ts``, whether one of them ends the customer's path (``ends``). Kept in
    ``stage_tables`` when given: the measures and the trend of a map read the same rows
    (the measures per touchpoint and customer, from the weeks)."""

    def build() -> ir.Table:
        ends = {"ends": touched.next_ts.isnull().any()} if "next_ts" in touched.columns else {}
        return touched.group_by(["tp", key, touched.ts.truncate(unit).name("p")]).aggregate(
            first_idx=touched.idx.min(), first_ts=touched.ts.min(), **ends
        )

    if stage_tables is None:
        return build()
    return stage_tables.kept(("touchpoint periods", unit, "next_ts" in touched.columns), build)


def _conversions(
    events: ir.Table,
    journey: Journey,
    conversion: str,
    key: str,
    stage_tables: StageTables | None,
) -> ir.Table:
    """The conversion events (the customer ``key``, ``idx``, ``ts``). Kept in
    ``stage_tables`` when given: the measures and the trend of a map read the same few
    rows, found in one scan of the events."""

    def build() -> ir.Table:
        step = resolve_step(conversion, events, journey)
        return events.filter(step.condition).select(key, "idx", "ts")

    if stage_tables is None:
        return build()
    return stage_tables.kept(("conversions", conversion, key), build)


def touchpoint_measures(
    events: ir.Table,
    journey: Journey,
    *,
    conversion: str | None = None,
    stage_tables: StageTables | None = None,
) -> TouchpointMeasures:
    """Measure every touchpoint of ``journey`` on ``events``.

    ``conversion`` is a step (event name, touchpoint or stage id, or rule) for the
    conversion columns; without it they are None. ``stage_tables``: the
    :class:`~jornada.analytics.stages.StageTables` of ``events`` and this map (built
    without ``as_of``, on events with ``next_ts``), whose labelled events are then read
    instead of evaluating the binding rules again: the same numbers.

    >>> from jornada.analytics.stages import StageTables
    >>> from jornada.engine import Engine
    >>> from jornada.model.templates import load_template
    >>> engine = Engine.duckdb()
    >>> _ = engine.sql("create table events as select *, null::double as score, "
    ...     "map {}::map(varchar, varchar) as properties from (values "
    ...     "('ana', timestamp '2026-01-01', 'add_to_cart', 'web', 0, timestamp '2026-01-02'),"
    ...     "('ana', timestamp '2026-01-02', 'purchase', 'web', 1, null))"
    ...     " t(customer_id, ts, event, channel, idx, next_ts)")
    >>> shop, events = load_template("b2c-ecommerce"), engine.table("events")
    >>> with StageTables(events, shop) as tables:
    ...     shared = touchpoint_measures(events, shop, conversion="purchase", stage_tables=tables)
    >>> shared == touchpoint_measures(events, shop, conversion="purchase")
    True
    >>> shared.touchpoint("cart").converted
    1
    """
    touched, touchpoint_id, key = _touched(events, journey, stage_tables)
    with contextlib.ExitStack() as stack:
        if stage_tables is None:
            # Two queries read the touchpoints' events: labelled once (evaluating the
            # binding rules), kept narrow, and released at the end.
            narrow = touched.select("tp", key, "ts", "idx", "next_ts", "score")
            touched = stack.enter_context(narrow.cache())
        return _measures(events, journey, conversion, touched, touchpoint_id, key, stage_tables)


def _measures(
    events: ir.Table,
    journey: Journey,
    conversion: str | None,
    touched: ir.Table,
    touchpoint_id: Callable[[Any], str],
    key: str,
    stage_tables: StageTables | None,
) -> TouchpointMeasures:
    """The measures from the touchpoints' events (``tp``, the customer ``key`` and the
    events' columns)."""
    # The stage tables count their events' customers once for every analysis reading them.
    total = (
        stage_tables.total_customers
        if stage_tables is not None
        else int(events[key].nunique().execute())
    )
    to_next = seconds_between(touched.next_ts, touched.ts)
    metrics: dict[str, ir.Value] = {
        "events": touched.count(),
        # Both quantiles in one aggregate: the engine collects the values once.
        "to_next": to_next.quantile([0.5, 0.9]),
        "score_sum": touched.score.sum(),
        "scores": touched.score.count(),
    }
    rows = {
        touchpoint_id(row["tp"]): row
        for row in touched.group_by("tp").aggregate(**metrics).to_pyarrow().to_pylist()
    }
    # Per touchpoint and customer, once: their first event there and whether one of
    # their events there ends their path. The customers, exits, conversions and losses
    # are counts of these rows (no distinct count over the events).
    if stage_tables is not None:
        # From the weeks the trend reads too (fewer rows than the events).
        weeks = _periods(touched, key, _UNITS["week"], stage_tables)
        firsts = weeks.group_by(["tp", key]).aggregate(
            first_idx=weeks.first_idx.min(), ends=weeks.ends.any()
        )
    else:
        firsts = touched.group_by(["tp", key]).aggregate(
            first_idx=touched.idx.min(), ends=touched.next_ts.isnull().any()
        )
    if conversion is not None:
        found = _conversions(events, journey, conversion, key, stage_tables)
        last_conversion = found.group_by(key).aggregate(last_idx=found.idx.max())
        last_conversion = last_conversion.rename(c_customer=key)
        firsts = firsts.left_join(last_conversion, firsts[key] == last_conversion.c_customer)
    counts: dict[str, ir.Value] = {
        "customers": firsts.count(),
        "exits": firsts.ends.cast("int64").sum(),
    }
    if conversion is not None:
        converts = (firsts.last_idx > firsts.first_idx).fill_null(False)
        counts["converted"] = converts.cast("int64").sum()
        counts["lost"] = (firsts.ends & firsts.last_idx.isnull()).cast("int64").sum()
    per_customer = {
        touchpoint_id(row["tp"]): row
        for row in firsts.group_by("tp").aggregate(**counts).to_pyarrow().to_pylist()
    }
    for tp, row in per_customer.items():
        rows[tp] = {**rows.get(tp, {}), **row}
    converted: dict[str, int] = {}
    lost: dict[str, int] = {}
    if conversion is not None:
        converted = {tp: int(row["converted"]) for tp, row in per_customer.items()}
        lost = {tp: int(row["lost"]) for tp, row in per_customer.items()}
    measures = []
    for stage, touchpoint in journey.iter_touchpoints():
        row = rows.get(touchpoint.id, {})
        scores = int(row.get("scores") or 0)
        # null when no event of it has a next one
        median_next, p90_next = row.get("to_next") or (None, None)
        measures.append(
            TouchpointMeasure(
                touchpoint_id=touchpoint.id,
                name=touchpoint.name,
                stage_id=stage.id,
                bound=touchpoint.events is not None,
                events=int(row.get("events") or 0),
                customers=int(row.get("customers") or 0),
                median_seconds_to_next=median_next,
                p90_seconds_to_next=p90_next,
                exits=int(row.get("exits") or 0),
                converted=None if conversion is None else converted.get(touchpoint.id, 0),
                lost=None if conversion is None else lost.get(touchpoint.id, 0),
                score_mean=row["score_sum"] / scores if scores else None,
                scores=scores,
                total_customers=total,
            )
        )
    return TouchpointMeasures(journey.id, total, conversion, tuple(measures))


@dataclass(frozen=True)
class TouchpointPeriod:
    """One touchpoint in one period: customers who touched it then (their first touch in
    the period), and how many of them converted later in their path."""

    touchpoint_id: str
    period_start: dt.date
    customers: int
    converted: int

    @property
    def conversion_rate(self) -> float | None:
        return _share(self.converted, self.customers)


@dataclass(frozen=True)
class TouchpointTrend(AnalysisResult):
    """Conversion after each touchpoint, period by period (where a bad week shows)."""

    journey_id: str
    conversion: str
    period: str
    rows: tuple[TouchpointPeriod, ...]
    within_seconds: float | None = None

    def of(self, touchpoint_id: str) -> tuple[TouchpointPeriod, ...]:
        return tuple(r for r in self.rows if r.touchpoint_id == touchpoint_id)

    def to_frame(self) -> pd.DataFrame:
        columns = ["touchpoint_id", "period_start", "customers", "converted", "conversion_rate"]
        return pd.DataFrame(
            [
                (r.touchpoint_id, r.period_start, r.customers, r.converted, r.conversion_rate)
                for r in self.rows
            ],
            columns=columns,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "journey_id": self.journey_id,
            "conversion": self.conversion,
            "period": self.period,
            "within_seconds": self.within_seconds,
            "rows": [
                json_ready(
                    {
                        "touchpoint_id": r.touchpoint_id,
                        "period_start": r.period_start.isoformat(),
                        "customers": r.customers,
                        "converted": r.converted,
                        "conversion_rate": r.conversion_rate,
                    }
                )
                for r in self.rows
            ],
        }

    def chart(self) -> go.Figure:
        figure = go.Figure()
        for touchpoint_id in dict.fromkeys(r.touchpoint_id for r in self.rows):
            rows = self.of(touchpoint_id)
            figure.add_trace(
                go.Scatter(
                    name=touchpoint_id,
                    x=[r.period_start for r in rows],
                    y=[r.conversion_rate for r in rows],
                    mode="lines+markers",
                )
            )
        figure.update_layout(
            title=f"Conversion after each touchpoint, by {self.period}",
            yaxis_title=f"share who later reach {self.conversion}",
            yaxis_tickformat=".0%",
        )
        return figure


_UNITS = {"day": "D", "week": "W", "month": "M"}


def touchpoint_trend(
    events: ir.Table,
    journey: Journey,
    *,
    conversion: str,
    period: str = "week",
    within_seconds: float | None = None,
    stage_tables: StageTables | None = None,
) -> TouchpointTrend:
    """Per touchpoint and period (calendar day, ISO week, month; UTC): customers touching
    it and how many of them convert later in their path (after their first touch of that
    period; with ``within_seconds``, no later than that after it, so that recent periods
    are not penalised for the time they have not had yet). ``stage_tables``: as for
    :func:`touchpoint_measures` (the labelled events are read, the rules not evaluated).

    >>> import ibis, datetime as dt
    >>> from jornada.model import EventBinding, Journey, Stage, Touchpoint
    >>> t0 = dt.datetime(2026, 3, 2)
    >>> events = ibis.memtable({"customer_id": ["a", "a", "b"], "idx": [0, 1, 0],
    ...     "event": ["cart", "purchase", "cart"], "channel": ["web"] * 3,
    ...     "ts": [t0, t0 + dt.timedelta(days=1), t0 + dt.timedelta(days=8)]})
    >>> shop = Journey(id="shop", title="Shop", stages=[Stage(id="buy", name="Buy",
    ...     touchpoints=[Touchpoint(id="cart", name="Cart", events=EventBinding(names=["cart"]))])])
    >>> [(str(r.period_start), r.customers, r.converted)
    ...  for r in touchpoint_trend(events, shop, conversion="purchase").rows]
    [('2026-03-02', 1, 1), ('2026-03-09', 1, 0)]
    >>> [r.converted for r in touchpoint_trend(events, shop, conversion="purchase",
    ...                                        within_seconds=3600).rows]
    [0, 0]
    """
    if period not in _UNITS:
        raise ValueError(f"period must be one of {', '.join(_UNITS)}, not {period!r}")
    touched, touchpoint_id, key = _touched(events, journey, stage_tables)
    firsts = _periods(touched, key, _UNITS[period], stage_tables)
    found = _conversions(events, journey, conversion, key, stage_tables)
    conversions = found.select(conv_customer=key, conv_idx="idx", conv_ts="ts")
    predicates = [
        firsts[key] == conversions.conv_customer,
        conversions.conv_idx > firsts.first_idx,
    ]
    if within_seconds is not None:
        # whole microseconds: an interval literal means the same on DuckDB and Spark
        limit = ibis.interval(round(within_seconds * 1_000_000), unit="us")
        predicates.append(conversions.conv_ts <= firsts.first_ts + limit)
    pairs = firsts.join(conversions, predicates).select("tp", "p", key)
    converted = pairs.distinct().group_by(["tp", "p"]).aggregate(converted=ibis._.count())
    reached = firsts.group_by(["tp", "p"]).aggregate(customers=ibis._.count())
    counts = reached.left_join(converted, ["tp", "p"]).select(
        "tp", "p", "customers", converted=ibis._.converted.fill_null(0)
    )
    order = {tp.id: i for i, (_, tp) in enumerate(journey.iter_touchpoints())}
    rows = sorted(
        (
            TouchpointPeriod(
                touchpoint_id(row["tp"]),
                row["p"].date(),
                int(row["customers"]),
                int(row["converted"]),
            )
            for row in counts.to_pyarrow().to_pylist()
        ),
        key=lambda r: (order[r.touchpoint_id], r.period_start),
    )
    return TouchpointTrend(journey.id, conversion, period, tuple(rows), within_seconds)
