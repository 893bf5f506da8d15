"""How long journeys take and how many touches they need: time to convert, time between
two steps, dwell time per stage of a map, and touches before conversion ("rule of seven").

Every analysis is a few Ibis expressions over the ``events`` table that use the facts the
store precomputed (``idx``, the position in the customer's path), so nothing sorts; they
run on DuckDB and PySpark alike. Durations are float seconds: the difference in
microseconds is cast to float *before* dividing (Spark would otherwise do decimal
arithmetic rounded to 6 places).

**Order.** "Before" and "after" are positions in the customer's path (``ts``, then load
order ``seq``): an event at the same instant as a conversion but loaded before it is
*before* it.

**Quantiles** are exact, with linear interpolation between the closest ranks
(Hyndman & Fan type 7, numpy's default; DuckDB's ``quantile_cont`` and Spark's
``percentile``): for ``n`` sorted values ``x[0..n-1]`` and ``h = (n - 1) * q``, the
quantile is ``x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)])``.

>>> import ibis, datetime as dt
>>> t0 = dt.datetime(2026, 1, 1)
>>> events = ibis.memtable({
...     "customer_id": ["a", "a", "b", "b", "c"],
...     "ts": [t0, t0 + dt.timedelta(hours=2), t0, t0 + dt.timedelta(hours=4), t0],
...     "idx": [0, 1, 0, 1, 0],
...     "event": ["visit", "purchase", "visit", "purchase", "visit"],
...     "channel": ["web", "web", "app", "web", None],
... })
>>> result = time_to_convert(events, "purchase")
>>> result.customers, result.reached, result.percentile(0.5) / 3600
(3, 2, 3.0)
>>> touches = touches_before_conversion(events, "purchase")
>>> touches.converters.mean_touches, touches.non_converters.customers
(1.0, 1)
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import ibis
import ibis.expr.types as ir
import pandas as pd
import plotly.graph_objects as go
from rich.table import Table

from jornada.analytics.results import AnalysisResult, json_ready
from jornada.analytics.steps import resolve_step
from jornada.errors import JornadaError
from jornada.events.binding import label_events, touchpoint_filters
from jornada.model import Journey

__all__ = [
    "DEFAULT_DURATION_BINS",
    "QUANTILES",
    "QUANTILE_METHOD",
    "DurationBin",
    "DurationResult",
    "DwellResult",
    "StageDwell",
    "TimingError",
    "TouchGroup",
    "TouchesResult",
    "dwell_times",
    "first_matches",
    "format_duration",
    "seconds_between",
    "time_between",
    "time_to_convert",
    "touches_before_conversion",
]

QUANTILES: Final[tuple[float, ...]] = (0.25, 0.5, 0.75, 0.9, 0.95)
"""The percentiles every duration result reports."""

QUANTILE_METHOD: Final = "exact, linear interpolation between closest ranks (type 7)"
"""How quantiles are computed, as results report it."""

_MINUTE, _HOUR, _DAY = 60.0, 3600.0, 86400.0

DEFAULT_DURATION_BINS: Final[tuple[float, ...]] = (
    0.0,
    _MINUTE,
    5 * _MINUTE,
    15 * _MINUTE,
    _HOUR,
    3 * _HOUR,
    6 * _HOUR,
    12 * _HOUR,
    _DAY,
    2 * _DAY,
    3 * _DAY,
    7 * _DAY,
    14 * _DAY,
    30 * _DAY,
    60 * _DAY,
    90 * _DAY,
)
"""Lower edges (seconds) of the duration histogram: roughly logarithmic, because journeys
take anything from seconds to months. The last bin has no upper edge."""

TOUCHPOINTS: Final = "touchpoints"
"""The ``touch`` definition meaning "any event bound to a touchpoint of the map"."""


class TimingError(JornadaError):
    """A timing analysis asked for something the data or the map cannot give."""


# --- shared pieces ------------------------------------------------------------------


def seconds_between(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    """``later - earlier`` in float seconds, microsecond-exact, on any backend.

    >>> import ibis
    >>> t = ibis.table({"a": "timestamp", "b": "timestamp"}, name="t")
    >>> seconds_between(t.b, t.a).type().is_floating()
    True
    """
    # Cast before dividing: on Spark an integer divided by a literal became decimal(…, 6).
    micros: ir.FloatingValue = later.delta(earlier, unit="microsecond").cast("float64")
    return micros / 1_000_000.0


def _weighted_quantile(counts: Mapping[int, int], q: float) -> float:
    """The type-7 quantile of a multiset given as value -> count, exact and without
    expanding it: what the engine's quantile gives, for results fetched as frequencies.

    >>> _weighted_quantile({1: 1, 2: 1, 4: 1, 8: 1}, 0.5), _weighted_quantile({}, 0.5)
    (3.0, nan)
    """
    total = sum(counts.values())
    if total == 0:
        return math.nan
    h = (total - 1) * q
    low = math.floor(h)
    values = sorted(counts)

    def at(rank: int) -> float:
        seen = 0
        for value in values:
            seen += counts[value]
            if rank < seen:
                return float(value)
        return float(values[-1])

    low_value = at(low)
    return low_value + (h - low) * (at(min(low + 1, total - 1)) - low_value)


def format_duration(seconds: float | None) -> str:
    """A duration for people: the two largest units.

    >>> format_duration(0), format_duration(95), format_duration(90061), format_duration(None)
    ('0s', '1m 35s', '1d 1h', '')
    """
    if seconds is None or math.isnan(seconds):
        return ""
    remaining = round(seconds)
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, remaining = divmod(remaining, size)
        if amount or (unit == "s" and not parts):
            parts.append(f"{amount}{unit}")
    return " ".join(parts[:2])


def _condition(text: str, events: ir.Table, journey: Journey | None) -> tuple[str, Any]:
    step = resolve_step(text, events, journey)
    # Rules are never null but typed nullable; a null would make `~` and counts lie.
    return step.label, step.condition.fill_null(False)


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _int(value: Any) -> int:
    # A sum over no rows is null.
    return 0 if value is None else int(value)


def _json(data: dict[str, Any]) -> dict[str, Any]:
    ready: dict[str, Any] = json_ready(data)
    return ready


def _percentile_key(q: float) -> str:
    return f"p{round(q * 100):g}"


# --- durations ------------------------------------------------------------------------


@dataclass(frozen=True)
class DurationBin:
    """Customers whose duration is ``lower <= seconds < upper`` (``upper`` None: no bound)."""

    lower: float
    upper: float | None
    customers: int

    @property
    def label(self) -> str:
        if self.upper is None:
            return f"{format_duration(self.lower)}+"
        return f"{format_duration(self.lower)}-{format_duration(self.upper)}"


@dataclass(frozen=True)
class DurationResult(AnalysisResult):
    """How long customers took from a start to an end (time to convert, time between).

    ``customers`` had a start; ``reached`` of them reached the end after it (the others
    have not, yet). Statistics are over the ``reached`` durations, in seconds.
    """

    start: str
    end: str
    customers: int
    reached: int
    mean: float
    minimum: float
    maximum: float
    percentiles: tuple[tuple[float, float], ...]
    bins: tuple[DurationBin, ...]

    @property
    def not_reached(self) -> int:
        return self.customers - self.reached

    @property
    def reach_rate(self) -> float:
        """Share of customers with a start who reached the end (NaN without customers)."""
        return self.reached / self.customers if self.customers else math.nan

    def percentile(self, q: float) -> float:
        """The ``q`` quantile in seconds (one of :data:`QUANTILES`)."""
        return dict(self.percentiles)[q]

    def to_dict(self) -> dict[str, Any]:
        seconds = {"mean": self.mean, "min": self.minimum, "max": self.maximum}
        seconds.update({_percentile_key(q): v for q, v in self.percentiles})
        return _json(
            {
                "start": self.start,
                "end": self.end,
                "customers": self.customers,
                "reached": self.reached,
                "not_reached": self.not_reached,
                "reach_rate": self.reach_rate,
                "seconds": seconds,
                "quantile_method": QUANTILE_METHOD,
                "histogram": [
                    {
                        "bin": b.label,
                        "lower_seconds": b.lower,
                        "upper_seconds": b.upper,
                        "customers": b.customers,
                    }
                    for b in self.bins
                ],
            }
        )

    def to_frame(self) -> pd.DataFrame:
        """The histogram: one row per bin."""
        return pd.DataFrame(
            {
                "bin": [b.label for b in self.bins],
                "lower_seconds": [b.lower for b in self.bins],
                "upper_seconds": [math.nan if b.upper is None else b.upper for b in self.bins],
                "customers": [b.customers for b in self.bins],
                "share": [
                    b.customers / self.reached if self.reached else math.nan for b in self.bins
                ],
            }
        )

    def chart(self) -> go.Figure:
        frame = self.to_frame()
        figure = go.Figure(go.Bar(x=frame["bin"], y=frame["customers"], name="customers"))
        median = format_duration(self.percentile(0.5)) if self.reached else "n/a"
        figure.update_layout(
            title=f"{self.start} → {self.end}: {self.reached:,} customers, median {median}",
            xaxis_title="time taken",
            yaxis_title="customers",
        )
        return figure

    def __rich__(self) -> Table:
        table = super().__rich__()
        stats = ", ".join(f"{_percentile_key(q)} {format_duration(v)}" for q, v in self.percentiles)
        table.title = (
            f"{self.start} → {self.end}: {self.reached:,} of {self.customers:,} customers"
            + (f"; {stats}; mean {format_duration(self.mean)}" if self.reached else "")
        )
        return table


def first_matches(events: ir.Table, condition: Any | None) -> ir.Table:
    """Per customer, the first event matching ``condition`` (any event when None): its
    path position ``start_idx`` and time ``start_ts``. Customers with none are absent.

    >>> import ibis
    >>> events = ibis.table({"customer_id": "string", "idx": "int64", "ts": "timestamp",
    ...                      "event": "string"}, name="events")
    >>> first_matches(events, events.event == "cart").columns
    ('customer_id', 'start_idx', 'start_ts')
    """
    if condition is None:
        # The first event of each customer is a fact: no aggregation needed.
        first = events.filter(events.idx == 0)
        return first.select("customer_id", start_idx=first.idx, start_ts=first.ts)
    matching = events.filter(condition)
    # Path order is ts then seq, so the first matching position also has the least ts.
    return matching.group_by("customer_id").aggregate(
        start_idx=matching.idx.min(), start_ts=matching.ts.min()
    )


def _durations(
    events: ir.Table, start: Any | None, end: Any, *, inclusive: bool
) -> tuple[ir.Table, ir.Table]:
    """(starts, per-customer ``seconds`` from the first start to the first end after it)."""
    starts = first_matches(events, start)
    ending = events.filter(end)
    ends = ending.select(customer_id_end=ending.customer_id, end_idx=ending.idx, end_ts=ending.ts)
    after = ends.end_idx >= starts.start_idx if inclusive else ends.end_idx > starts.start_idx
    joined = starts.join(ends, [starts.customer_id == ends.customer_id_end, after])
    firsts = joined.group_by(["customer_id", "start_ts"]).aggregate(end_ts=joined.end_ts.min())
    return starts, firsts.select(
        "customer_id", seconds=seconds_between(firsts.end_ts, firsts.start_ts)
    )


def _bin_edges(bins: Sequence[float]) -> list[tuple[float, float | None]]:
    edges = sorted(set(map(float, bins)))
    if edges and edges[0] < 0:
        raise ValueError("histogram bins are durations: give edges of 0 seconds or more")
    if not edges or edges[0] != 0.0:
        edges.insert(0, 0.0)
    return [(low, edges[i + 1] if i + 1 < len(edges) else None) for i, low in enumerate(edges)]


def _distribution(
    starts: ir.Table,
    durations: ir.Table,
    *,
    start: str,
    end: str,
    bins: Sequence[float],
) -> DurationResult:
    seconds = durations.seconds
    edges = _bin_edges(bins)
    metrics: dict[str, Any] = {
        "reached": durations.count(),
        "mean": seconds.mean(),
        "minimum": seconds.min(),
        "maximum": seconds.max(),
    }
    for i, q in enumerate(QUANTILES):
        metrics[f"_q{i}"] = seconds.quantile(q)
    for i, (low, high) in enumerate(edges):
        inside = seconds >= low if high is None else (seconds >= low) & (seconds < high)
        metrics[f"_b{i}"] = inside.cast("int64").sum()
    # One query: the start count rides along as a one-row cross join.
    query = durations.aggregate(**metrics).cross_join(starts.aggregate(customers=starts.count()))
    row = query.to_pyarrow().to_pylist()[0]
    return DurationResult(
        start=start,
        end=end,
        customers=_int(row["customers"]),
        reached=_int(row["reached"]),
        mean=_float(row["mean"]),
        minimum=_float(row["minimum"]),
        maximum=_float(row["maximum"]),
        percentiles=tuple((q, _float(row[f"_q{i}"])) for i, q in enumerate(QUANTILES)),
        bins=tuple(
            DurationBin(low, high, _int(row[f"_b{i}"])) for i, (low, high) in enumerate(edges)
        ),
    )


def time_to_convert(
    events: ir.Table,
    conversion: str,
    *,
    start: str | None = None,
    journey: Journey | None = None,
    bins: Sequence[float] = DEFAULT_DURATION_BINS,
) -> DurationResult:
    """Per customer, the time from the first event (or the first ``start`` step) to the
    first ``conversion`` at or after it; its percentiles and histogram.

    A conversion on the start event itself counts, taking 0 s (a customer whose first
    event is a purchase converted at once). Customers with a start but no conversion
    after it are counted as not reached. Steps are event names, touchpoint or stage ids
    of ``journey``, or rules (see :func:`~jornada.analytics.steps.resolve_step`).

    >>> import ibis, datetime as dt
    >>> t0 = dt.datetime(2026, 1, 1)
    >>> events = ibis.memtable({"customer_id": ["a", "a", "a"], "idx": [0, 1, 2],
    ...     "ts": [t0, t0 + dt.timedelta(minutes=5), t0 + dt.timedelta(minutes=7)],
    ...     "event": ["visit", "cart", "purchase"]})
    >>> time_to_convert(events, "purchase", start="cart").percentile(0.5)
    120.0
    """
    start_label, start_condition = (
        ("first event", None) if start is None else _condition(start, events, journey)
    )
    end_label, end_condition = _condition(conversion, events, journey)
    starts, durations = _durations(events, start_condition, end_condition, inclusive=True)
    return _distribution(starts, durations, start=start_label, end=end_label, bins=bins)


def time_between(
    events: ir.Table,
    first: str,
    then: str,
    *,
    journey: Journey | None = None,
    bins: Sequence[float] = DEFAULT_DURATION_BINS,
) -> DurationResult:
    """Per customer, the time from the first ``first`` step to the first ``then`` step
    strictly after it in the path (so ``time_between(e, "purchase", "purchase")`` is the
    time to a second purchase); its percentiles and histogram.

    >>> import ibis, datetime as dt
    >>> t0 = dt.datetime(2026, 1, 1)
    >>> events = ibis.memtable({"customer_id": ["a", "a", "a"], "idx": [0, 1, 2],
    ...     "ts": [t0, t0 + dt.timedelta(days=1), t0 + dt.timedelta(days=31)],
    ...     "event": ["purchase", "visit", "purchase"]})
    >>> format_duration(time_between(events, "purchase", "purchase").maximum)
    '31d'
    """
    start_label, start_condition = _condition(first, events, journey)
    end_label, end_condition = _condition(then, events, journey)
    starts, durations = _durations(events, start_condition, end_condition, inclusive=False)
    return _distribution(starts, durations, start=start_label, end=end_label, bins=bins)


# --- dwell time per stage ---------------------------------------------------------------


@dataclass(frozen=True)
class StageDwell:
    """Time spent in one stage: ``entered`` customers, of whom ``left`` moved on to a
    later stage (statistics in seconds over them) and ``open`` are still in it (their
    time so far, up to the log's last event, is censored and reported apart)."""

    stage_id: str
    name: str
    entered: int
    left: int
    mean: float
    percentiles: tuple[tuple[float, float], ...]
    open_median: float

    @property
    def open(self) -> int:
        return self.entered - self.left

    def percentile(self, q: float) -> float:
        return dict(self.percentiles)[q]


@dataclass(frozen=True)
class DwellResult(AnalysisResult):
    """Dwell time per stage of a map, in map order; ``as_of`` is the log's last event."""

    journey_id: str
    as_of: datetime | None
    stages: tuple[StageDwell, ...]

    def stage(self, stage_id: str) -> StageDwell:
        return next(s for s in self.stages if s.stage_id == stage_id)

    def to_frame(self) -> pd.DataFrame:
        """One row per stage: counts, then seconds."""
        rows = []
        for s in self.stages:
            row: dict[str, Any] = {
                "stage_id": s.stage_id,
                "stage": s.name,
                "entered": s.entered,
                "left": s.left,
                "open": s.open,
                "mean_seconds": s.mean,
            }
            row.update({f"{_percentile_key(q)}_seconds": v for q, v in s.percentiles})
            row["open_median_seconds"] = s.open_median
            rows.append(row)
        columns = ["stage_id", "stage", "entered", "left", "open", "mean_seconds"]
        columns += [f"{_percentile_key(q)}_seconds" for q in QUANTILES]
        return pd.DataFrame(rows, columns=[*columns, "open_median_seconds"])

    def to_dict(self) -> dict[str, Any]:
        return _json(
            {
                "journey_id": self.journey_id,
                "as_of": self.as_of.isoformat() if self.as_of else None,
                "quantile_method": QUANTILE_METHOD,
                "stages": [
                    {
                        "stage_id": s.stage_id,
                        "name": s.name,
                        "entered": s.entered,
                        "left": s.left,
                        "open": s.open,
                        "seconds": {
                            "mean": s.mean,
                            **{_percentile_key(q): v for q, v in s.percentiles},
                        },
                        "open_median_seconds": s.open_median,
                    }
                    for s in self.stages
                ],
            }
        )

    def chart(self) -> go.Figure:
        names = [s.name for s in self.stages]
        median = [s.percentile(0.5) / _HOUR for s in self.stages]
        low = [(s.percentile(0.5) - s.percentile(0.25)) / _HOUR for s in self.stages]
        high = [(s.percentile(0.75) - s.percentile(0.5)) / _HOUR for s in self.stages]
        figure = go.Figure(
            go.Bar(
                x=names,
                y=median,
                name="median (bars: p25-p75)",
                error_y={"type": "data", "symmetric": False, "array": high, "arrayminus": low},
                customdata=[[s.left, s.open] for s in self.stages],
                hovertemplate="%{x}: median %{y:.1f} h<br>left %{customdata[0]:,}, "
                "still in it %{customdata[1]:,}<extra></extra>",
            )
        )
        figure.update_layout(
            title=f"Time in each stage of {self.journey_id}",
            yaxis_title="hours until a later stage",
        )
        return figure


def dwell_times(events: ir.Table, journey: Journey) -> DwellResult:
    """Dwell time per stage: for each customer and stage, from the customer's first event
    in the stage (entry) to their first event, after the entry, in a *later* stage of the
    map (exit). Going back to an earlier stage does not end a stage; skipping stages
    does. Customers with no later-stage event after entering are *open*: counted apart,
    with their time so far up to the log's last event. Events are placed in stages by
    :func:`~jornada.events.binding.label_events`.

    >>> import ibis, datetime as dt
    >>> from jornada.model import EventBinding, Stage
    >>> t0 = dt.datetime(2026, 1, 1)
    >>> events = ibis.memtable({"customer_id": ["a", "a", "b"], "idx": [0, 1, 0],
    ...     "ts": [t0, t0 + dt.timedelta(hours=3), t0 + dt.timedelta(hours=5)],
    ...     "event": ["visit", "purchase", "visit"], "channel": ["web"] * 3})
    >>> journey = Journey(id="shop", title="Shop", stages=[
    ...     Stage(id="look", name="Look", events=EventBinding(names=["visit"])),
    ...     Stage(id="buy", name="Buy", events=EventBinding(names=["purchase"]))])
    >>> look = dwell_times(events, journey).stage("look")
    >>> look.entered, look.left, look.open, look.percentile(0.5) / 3600, look.open_median
    (2, 1, 1, 3.0, 0.0)
    """
    stages = journey.ordered_stages()
    if not stages:
        raise TimingError(f"map {journey.id!r} has no stages to measure")
    labelled = label_events(journey, events).select("customer_id", "idx", "ts", "stage_id")
    # Stage positions by a join with a small table, not a CASE on ``stage_id``: a CASE
    # repeats label_events' CASE once per branch when the engine inlines it (60x slower).
    positions = ibis.memtable(
        {"stage_key": [s.id for s in stages], "pos": list(range(len(stages)))},
        schema={"stage_key": "string", "pos": "int64"},
    )
    placed = labelled.join(positions, labelled.stage_id == positions.stage_key).select(
        "customer_id", "idx", "ts", "pos"
    )
    entries = placed.group_by(["customer_id", "pos"]).aggregate(
        entry_idx=placed.idx.min(), entry_ts=placed.ts.min()
    )
    later = placed.select(
        customer_id_later=placed.customer_id,
        pos_later=placed.pos,
        idx_later=placed.idx,
        ts_later=placed.ts,
    )
    # A left join keeps the customers with no later stage yet: their exit is null.
    moves = entries.left_join(
        later,
        [
            entries.customer_id == later.customer_id_later,
            later.pos_later > entries.pos,
            later.idx_later > entries.entry_idx,
        ],
    )
    spans = moves.group_by(["customer_id", "pos", "entry_ts"]).aggregate(
        exit_ts=moves.ts_later.min()
    )
    # The log's last event: where the open customers' time so far ends.
    as_of = events.ts.max().as_scalar()
    dwell = seconds_between(spans.exit_ts, spans.entry_ts)  # null for open customers
    waiting = ibis.cases(
        (spans.exit_ts.isnull(), seconds_between(as_of, spans.entry_ts)), else_=ibis.null("float64")
    )
    measured = spans.select("pos", dwell=dwell, waiting=waiting, left=spans.exit_ts.notnull())
    metrics: dict[str, Any] = {
        "entered": measured.count(),
        "left": measured.left.cast("int64").sum(),
        "mean": measured.dwell.mean(),
        "open_median": measured.waiting.quantile(0.5),
    }
    for i, q in enumerate(QUANTILES):
        metrics[f"_q{i}"] = measured.dwell.quantile(q)
    rows = {
        r["pos"]: r for r in measured.group_by("pos").aggregate(**metrics).to_pyarrow().to_pylist()
    }
    last = events.aggregate(as_of=events.ts.max()).to_pyarrow().to_pylist()[0]["as_of"]
    results = []
    for i, stage in enumerate(stages):
        row = rows.get(i, {})
        results.append(
            StageDwell(
                stage_id=stage.id,
                name=stage.name,
                entered=_int(row.get("entered")),
                left=_int(row.get("left")),
                mean=_float(row.get("mean")),
                percentiles=tuple((q, _float(row.get(f"_q{j}"))) for j, q in enumerate(QUANTILES)),
                open_median=_float(row.get("open_median")),
            )
        )
    return DwellResult(journey_id=journey.id, as_of=last, stages=tuple(results))


# --- touches before conversion -----------------------------------------------------------


@dataclass(frozen=True)
class TouchGroup:
    """Touches (and distinct channels among them) per customer of one group, as
    frequency tables: number -> customers."""

    customers: int
    touches: tuple[tuple[int, int], ...]
    channels: tuple[tuple[int, int], ...]

    @property
    def mean_touches(self) -> float:
        return _weighted_mean(self.touches)

    @property
    def median_touches(self) -> float:
        return _weighted_quantile(dict(self.touches), 0.5)

    @property
    def mean_channels(self) -> float:
        return _weighted_mean(self.channels)

    @property
    def median_channels(self) -> float:
        return _weighted_quantile(dict(self.channels), 0.5)

    def touches_quantile(self, q: float) -> float:
        return _weighted_quantile(dict(self.touches), q)

    def to_dict(self) -> dict[str, Any]:
        return {
            "customers": self.customers,
            "mean_touches": self.mean_touches,
            "median_touches": self.median_touches,
            "touch_percentiles": {_percentile_key(q): self.touches_quantile(q) for q in QUANTILES},
            "mean_channels": self.mean_channels,
            "median_channels": self.median_channels,
            "touches": [{"touches": n, "customers": c} for n, c in self.touches],
            "channels": [{"channels": n, "customers": c} for n, c in self.channels],
        }


def _weighted_mean(counts: Iterable[tuple[int, int]]) -> float:
    pairs = list(counts)
    total = sum(c for _, c in pairs)
    return sum(n * c for n, c in pairs) / total if total else math.nan


@dataclass(frozen=True)
class TouchesResult(AnalysisResult):
    """Touches before the first conversion (converters) and up to now (non-converters)."""

    conversion: str
    touch: str
    converters: TouchGroup
    non_converters: TouchGroup

    def to_dict(self) -> dict[str, Any]:
        return _json(
            {
                "conversion": self.conversion,
                "touch": self.touch,
                "quantile_method": QUANTILE_METHOD,
                "converters": self.converters.to_dict(),
                "non_converters": self.non_converters.to_dict(),
            }
        )

    def to_frame(self) -> pd.DataFrame:
        """The distributions, long: group, measure (touches or channels), count, customers."""
        rows = []
        for group, data in (("converted", self.converters), ("not converted", self.non_converters)):
            for measure, table in (("touches", data.touches), ("channels", data.channels)):
                for count, customers in table:
                    share = customers / data.customers if data.customers else math.nan
                    rows.append((group, measure, count, customers, share))
        return pd.DataFrame(rows, columns=["group", "measure", "count", "customers", "share"])

    def chart(self) -> go.Figure:
        figure = go.Figure()
        for group, data in (("converted", self.converters), ("not converted", self.non_converters)):
            figure.add_trace(
                go.Bar(
                    x=[n for n, _ in data.touches],
                    y=[c / data.customers for _, c in data.touches],
                    name=f"{group} (mean {data.mean_touches:.1f}, median {data.median_touches:g})",
                )
            )
        figure.update_layout(
            title=f"Touches ({self.touch}) before {self.conversion}",
            xaxis_title="touches",
            yaxis_title="share of customers",
            yaxis_tickformat=".0%",
            barmode="group",
        )
        return figure

    def __rich__(self) -> Table:
        table = Table(
            "group", "customers", "mean touches", "median", "p90", "mean channels", box=None
        )
        for group, data in (("converted", self.converters), ("not converted", self.non_converters)):
            table.add_row(
                group,
                f"{data.customers:,}",
                f"{data.mean_touches:.2f}",
                f"{data.median_touches:g}",
                f"{data.touches_quantile(0.9):g}",
                f"{data.mean_channels:.2f}",
            )
        table.title = f"Touches ({self.touch}) before {self.conversion}"
        table.caption = "distributions: --json or --csv FILE"
        return table


def _touch_condition(
    touch: str | None, conversion: Any, events: ir.Table, journey: Journey | None
) -> tuple[str, Any]:
    if touch is None:
        return "all events but the conversion", ~conversion
    if touch == TOUCHPOINTS:
        if journey is None:
            raise TimingError("touches of 'touchpoints' need a map: give --map")
        filters = touchpoint_filters(journey, events)
        if not filters:
            raise TimingError(f"map {journey.id!r} binds no touchpoint to events")
        # Any touchpoint's rule matches: one flat CASE naming the first that does, as the
        # stage labels do, not an OR of the rules (the same rows; DuckDB evaluates the
        # CASE in half the time of the OR chain: 1.5 against 2.9 CPU-s on 10M events).
        first = ibis.cases(
            *((rule, ibis.literal(k, type="int32")) for k, rule in enumerate(filters.values())),
            else_=ibis.null("int32"),
        )
        return "touchpoints of " + journey.id, first.notnull()
    return _condition(touch, events, journey)


def touches_before_conversion(
    events: ir.Table,
    conversion: str,
    *,
    touch: str | None = None,
    journey: Journey | None = None,
) -> TouchesResult:
    """The "rule of seven": per customer, the number of touches, and of distinct channels
    among them (null channels not counted), before the first ``conversion`` (converters)
    or in the whole path (customers who have not converted: up to now).

    A touch is, by default, any event that is not a conversion; ``touch`` may be a step
    (event name, touchpoint or stage id, rule) or ``"touchpoints"``: any event bound to
    a touchpoint of ``journey``. The conversion event itself is never a touch before it.

    >>> import ibis, datetime as dt
    >>> t0 = dt.datetime(2026, 1, 1)
    >>> events = ibis.memtable({"customer_id": ["a"] * 4, "idx": [0, 1, 2, 3], "ts": [t0] * 4,
    ...     "event": ["ad", "visit", "purchase", "visit"], "channel": ["social", "web", "web", "web"]})
    >>> result = touches_before_conversion(events, "purchase")
    >>> result.converters.touches, result.converters.channels
    (((2, 1),), ((2, 1),))
    """
    conversion_label, converting = _condition(conversion, events, journey)
    touch_label, touching = _touch_condition(touch, converting, events, journey)
    # The store's integer customer number, when the events have it, keys the join and the
    # grouping below (one per customer, as the id: the same groups, hashed and compared
    # as integers: at 100M events, 7M text keys made them the costly part).
    key = "customer_no" if "customer_no" in events.columns else "customer_id"
    flagged = events.select(
        _customer=events[key],
        idx=events.idx,
        channel=events.channel,
        _conv=converting,
        _touch=touching,
    )
    conversions = flagged.filter(flagged._conv)
    firsts = conversions.group_by("_customer").aggregate(conv_idx=conversions.idx.min())
    firsts = firsts.select(customer_conv=firsts._customer, conv_idx=firsts.conv_idx)
    # A join with the (few) converters' first positions: no window, no sort over events.
    joined = flagged.left_join(firsts, flagged._customer == firsts.customer_conv)
    counted = joined._touch & (joined.conv_idx.isnull() | (joined.idx < joined.conv_idx))
    values = _channel_values(events)
    if values is None:  # too many channels for a bit mask: an exact distinct count, slower
        channels = ibis.cases((counted, joined.channel), else_=ibis.null("string")).nunique()
    elif not values:
        channels = ibis.literal(0, type="int64")
    else:
        # A distinct count per customer is the costly part; OR-ing one bit per channel
        # is an ordinary aggregate (twice as fast on 10M events), counted bit by bit after.
        bit = joined.channel.cases(*((v, 1 << i) for i, v in enumerate(values)), else_=0)
        channels = _bit_or(ibis.cases((counted, bit.cast("int64")), else_=0))
    per_customer = joined.group_by("_customer").aggregate(
        converted=joined.conv_idx.max().notnull(),
        touches=counted.cast("int64").sum(),
        channels=channels,
    )
    if values is not None:
        mask = per_customer.channels
        bits = (((mask & (1 << i)) != 0).cast("int64") for i in range(len(values)))
        per_customer = per_customer.mutate(
            channels=functools.reduce(operator.add, bits, ibis.literal(0, type="int64"))
        )
    table = per_customer.group_by(["converted", "touches", "channels"]).aggregate(
        customers=per_customer.count()
    )
    rows = table.to_pyarrow().to_pylist()
    return TouchesResult(
        conversion=conversion_label,
        touch=touch_label,
        converters=_touch_group([r for r in rows if r["converted"]]),
        non_converters=_touch_group([r for r in rows if not r["converted"]]),
    )


_MASK_BITS: Final = 62


def _bit_or_signature(value: int) -> int:  # type: ignore[empty-body]
    """The argument and result types Ibis reads to call the backend's own aggregate."""


# BIT_OR is an aggregate of DuckDB and Spark SQL alike, but Ibis compiles its own
# ``bit_or`` for DuckDB only; declared as a builtin it is called by name everywhere.
_bit_or: Any = ibis.udf.agg.builtin(_bit_or_signature, name="bit_or")


def _channel_values(events: ir.Table) -> list[str] | None:
    """The distinct channels of the log, when few enough for a bit mask (else None)."""
    named = events.filter(events.channel.notnull())
    distinct = named.select("channel").distinct().limit(_MASK_BITS + 1)
    values = [str(row["channel"]) for row in distinct.to_pyarrow().to_pylist()]
    return values if len(values) <= _MASK_BITS else None


def _touch_group(rows: list[dict[str, Any]]) -> TouchGroup:
    touches: dict[int, int] = {}
    channels: dict[int, int] = {}
    for row in rows:  # one row per distinct (touches, channels): a small frequency table
        touches[int(row["touches"])] = touches.get(int(row["touches"]), 0) + int(row["customers"])
        channels[int(row["channels"])] = channels.get(int(row["channels"]), 0) + int(
            row["customers"]
        )
    return TouchGroup(
        customers=sum(touches.values()),
        touches=tuple(sorted(touches.items())),
        channels=tuple(sorted(channels.items())),
    )
