"""Funnels: how many paths reach each step of a sequence, how fast, and who drops out.

A *path* is one customer's events in order (``ts`` then ``seq``), or one session's with
``by="session"``. Each path is counted once per step: it *reaches* step ``k`` when some
*attempt* in it reaches step ``k``. The rules, exactly (``tests/oracles/funnel.py`` is the
brute-force reference the engine is tested against):

**Ordered** (the default). An attempt starts at an event matching step 1 (its *anchor*)
and takes, for each next step, the earliest event matching it at a strictly later
position than the event taken for the step before. Every anchor is tried.

**Strict.** As ordered, but the event for step ``j + 1`` must be the very next event of
the path after the one for step ``j`` (any event in between, even one matching no step,
breaks the attempt).

**Unordered.** A path reaches step ``k`` when it has ``k`` distinct events matching
steps ``1..k`` one to one, in any order. The attempt's start is its earliest event; its
*completion* of step ``k`` is the earliest time by which steps ``1..k`` can all have
been matched (the latest event of the tightest such set). Anchors are all events
matching any step.

In every mode:

* **Window** (optional): every event of the attempt up to step ``k`` lies within the
  window of the attempt's start: ``time(step k) - time(start) <= window``. The
  boundary is inclusive: an event exactly one window after the start counts.
* **Exclusions**: an attempt reaches step ``k`` only if no event matching an exclusion
  lies *strictly between* (by position) its start and the event completing step ``k``.
  Such an event ends the attempt there; a later anchor may still succeed. An event that
  is itself one of the attempt's step events counts too when it lies strictly inside.
* **One event, one step**: an event matching several steps may serve as any of them
  but never as two at once in the same attempt (repeated steps such as ``A,B,A`` need
  two ``A`` events).
* **Times**: each reaching path contributes the times of its *best attempt*: among the
  attempts reaching the path's deepest step, the one with the earliest start. The time
  *from the previous step* of step ``k`` is ``completion(k) - completion(k - 1)`` of that
  attempt (for ordered and strict modes: the time between the two step events). The
  median and p90 over the paths reaching step ``k`` are exact, with linear interpolation
  between order statistics (numpy's default ``"linear"`` method, DuckDB's
  ``percentile_cont`` and Spark's ``percentile``).
* **Breakdown**: a path's group is the breakdown value on its best attempt's start event.

With ``by="session"`` a path is a ``(customer_id, session_id)`` pair and positions are
``session_idx``; drop-off lists then have both columns.

How it runs: Ibis expressions only (portable to Spark: hash aggregations, equi-joins,
window functions; no ordered ``group_concat``, no ASOF join), on the events filtered to
those matching a step or an exclusion (``idx``/``session_idx`` from load keep their
meaning), in one query (plus one per drop-off list). Per path, the attempt from the first
anchor is computed by aggregation alone; no later attempt can go deeper than it would
without window and exclusions, so when it is not stopped it is the best attempt, and
only the paths where it is stopped have every anchor tried with window functions (the
costly sort). Strict mode needs no sort at all: step ``k`` sits at position
``anchor + k - 1``, an equi-join.

>>> from jornada.engine import Engine
>>> engine = Engine.duckdb()
>>> events = engine.con.sql(
...     "SELECT * FROM (VALUES ('ana', TIMESTAMP '2026-01-01 10:00', 'view', 0),"
...     " ('ana', TIMESTAMP '2026-01-01 10:05', 'cart', 1), ('bo', TIMESTAMP '2026-01-01 11:00', 'view', 0))"
...     " AS t(customer_id, ts, event, idx)"
... )
>>> result = funnel(events, ["view", "cart"])
>>> [(s.step, s.paths, s.dropped) for s in result.steps]
[('view', 2, 0), ('cart', 1, 1)]
>>> result.steps[1].median_seconds_from_previous
300.0
>>> result.dropped_at(2)["customer_id"].tolist()
['bo']
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import ibis
import pandas as pd
import plotly.graph_objects as go
from rich.table import Table
from scipy.stats import chi2_contingency

from jornada.analytics.results import AnalysisResult, json_ready, wilson_interval
from jornada.analytics.steps import Step, resolve_step
from jornada.engine import Engine
from jornada.errors import JornadaError
from jornada.events.filters import customer_column
from jornada.model import Journey

__all__ = [
    "FunnelBreakdown",
    "FunnelError",
    "FunnelMode",
    "FunnelResult",
    "FunnelStep",
    "PathUnit",
    "funnel",
    "parse_window",
]

FunnelMode = Literal["ordered", "strict", "unordered"]
PathUnit = Literal["customer", "session"]

_MICROS = 1_000_000
# Best-attempt key: depth first, then the earliest start. Positions stay far below 2**40
# (a trillion events in one path), so ``depth * 2**40 - start`` orders attempts exactly.
_DEPTH_WEIGHT = 2**40
# Unordered mode checks Hall's condition on every connected set of overlapping steps;
# beyond this many distinct overlapping steps the number of sets explodes.
_MAX_OVERLAPPING = 12

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_WINDOW_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


class FunnelError(JornadaError):
    """A funnel that cannot be computed as asked (bad window, step or drop-off index)."""


def parse_window(text: str | float | None) -> float | None:
    """Seconds of a window written as ``30d``, ``12h``, ``90m``, ``45s``, ``2w``, combined
    (``1d12h``) or as a plain number of seconds.

    >>> parse_window("30d"), parse_window("1h30m"), parse_window(90), parse_window(None)
    (2592000.0, 5400.0, 90.0, None)
    """
    if text is None:
        return None
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        compact = text.strip().lower()
        try:
            seconds = float(compact)
        except ValueError:
            parts = _WINDOW_PART.findall(compact)
            if not parts or _WINDOW_PART.sub("", compact).strip():
                raise FunnelError(
                    f"cannot read the window {text!r}: write a duration such as 30d, 12h, 90m, "
                    "45s, 2w or 1d12h"
                ) from None
            seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    if not math.isfinite(seconds) or seconds < 0:
        raise FunnelError(f"the window must be a duration of zero or more, not {text!r}")
    return seconds


@dataclass(frozen=True)
class FunnelStep:
    """One step of a funnel: how many paths reached it and how fast.

    Conversions are ``nan`` when no path reached the step they are relative to; the
    times are ``None`` for the first step and for steps no path reached.
    """

    step: str
    paths: int
    conversion_from_start: float
    conversion_from_previous: float
    ci_from_start: tuple[float, float]
    ci_from_previous: tuple[float, float]
    median_seconds_from_previous: float | None
    p90_seconds_from_previous: float | None
    dropped: int  # paths that reached the previous step but not this one


@dataclass(frozen=True)
class FunnelBreakdown:
    """Step counts per group, and whether reaching the last step depends on the group.

    ``paths[g][k]`` is the number of paths of group ``groups[g]`` reaching step ``k + 1``.
    The chi-square test (``scipy.stats.chi2_contingency``, Yates' correction for two
    groups) compares reached / not reached of the last step among the paths that reached
    the first; it is ``nan`` when there are fewer than two groups or nobody or everybody
    reached the last step.
    """

    column: str
    groups: tuple[str | None, ...]
    paths: tuple[tuple[int, ...], ...]
    chi2: float
    p_value: float
    dof: int

    def to_frame(self, steps: Sequence[str]) -> pd.DataFrame:
        """One row per group and step: paths reached and conversion from the first step."""
        rows = []
        for group, counts in zip(self.groups, self.paths, strict=True):
            for label, count in zip(steps, counts, strict=True):
                rows.append(
                    {
                        self.column: group,
                        "step": label,
                        "paths": count,
                        "conversion_from_start": count / counts[0] if counts[0] else math.nan,
                    }
                )
        return pd.DataFrame(rows, columns=[self.column, "step", "paths", "conversion_from_start"])


@dataclass(frozen=True)
class FunnelResult(AnalysisResult):
    """A computed funnel: per-step counts, conversions, times and drop-offs.

    ``dropped_at(k)`` lists the paths that reached step ``k - 1`` but not step ``k``
    (it runs one more query on the events the funnel was computed from).
    """

    steps: tuple[FunnelStep, ...]
    mode: FunnelMode
    window_seconds: float | None
    by: PathUnit
    exclude: tuple[str, ...] = ()
    breakdown: FunnelBreakdown | None = None
    _dropped: Callable[[int], pd.DataFrame] | None = field(default=None, repr=False, compare=False)

    def dropped_at(self, k: int) -> pd.DataFrame:
        """The paths (``customer_id``, plus ``session_id`` by session) that reached step
        ``k - 1`` but not step ``k``, sorted; ``k`` counts steps from 1."""
        if not 2 <= k <= len(self.steps):
            raise FunnelError(
                f"--dropped-at must be a step number from 2 to {len(self.steps)}, not {k}"
            )
        if self._dropped is None:
            raise FunnelError("this funnel result has no events to list drop-offs from")
        return self._dropped(k)

    def to_frame(self) -> pd.DataFrame:
        rows = [
            {
                "step": s.step,
                "paths": s.paths,
                "conversion_from_start": s.conversion_from_start,
                "conversion_from_previous": s.conversion_from_previous,
                "ci_from_start_low": s.ci_from_start[0],
                "ci_from_start_high": s.ci_from_start[1],
                "ci_from_previous_low": s.ci_from_previous[0],
                "ci_from_previous_high": s.ci_from_previous[1],
                "median_seconds_from_previous": s.median_seconds_from_previous,
                "p90_seconds_from_previous": s.p90_seconds_from_previous,
                "dropped": s.dropped,
            }
            for s in self.steps
        ]
        return pd.DataFrame(
            rows,
            columns=[
                "step",
                "paths",
                "conversion_from_start",
                "conversion_from_previous",
                "ci_from_start_low",
                "ci_from_start_high",
                "ci_from_previous_low",
                "ci_from_previous_high",
                "median_seconds_from_previous",
                "p90_seconds_from_previous",
                "dropped",
            ],
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "steps": [
                {
                    "step": s.step,
                    "paths": s.paths,
                    "conversion_from_start": s.conversion_from_start,
                    "conversion_from_previous": s.conversion_from_previous,
                    "ci_from_start": list(s.ci_from_start),
                    "ci_from_previous": list(s.ci_from_previous),
                    "median_seconds_from_previous": s.median_seconds_from_previous,
                    "p90_seconds_from_previous": s.p90_seconds_from_previous,
                    "dropped": s.dropped,
                }
                for s in self.steps
            ],
            "mode": self.mode,
            "window_seconds": self.window_seconds,
            "by": self.by,
            "exclude": list(self.exclude),
        }
        if self.breakdown is not None:
            b = self.breakdown
            data["breakdown"] = {
                "column": b.column,
                "groups": [
                    {"value": group, "paths": list(counts)}
                    for group, counts in zip(b.groups, b.paths, strict=True)
                ],
                "chi2": b.chi2,
                "p_value": b.p_value,
                "dof": b.dof,
            }
        ready: dict[str, Any] = json_ready(data)
        return ready

    def __rich__(self) -> Table:
        """The steps for people: percentages, intervals and readable durations."""
        window = "" if self.window_seconds is None else f", within {_duration(self.window_seconds)}"
        table = Table(
            "step",
            "paths",
            "from start",
            "95% CI",
            "from previous",
            "median time",
            "p90 time",
            "dropped",
            box=None,
            title=f"{self.mode} funnel by {self.by}{window}",
        )
        for s in self.steps:
            low, high = s.ci_from_start
            table.add_row(
                s.step,
                f"{s.paths:,}",
                _percent(s.conversion_from_start),
                "" if math.isnan(low) else f"{low:.1%}-{high:.1%}",
                _percent(s.conversion_from_previous),
                _duration(s.median_seconds_from_previous),
                _duration(s.p90_seconds_from_previous),
                f"{s.dropped:,}",
            )
        if self.breakdown is not None and not math.isnan(self.breakdown.p_value):
            table.caption = (
                f"by {self.breakdown.column}: chi-square {self.breakdown.chi2:.2f}, "
                f"p = {self.breakdown.p_value:.3g} (last step reached or not)"
            )
        return table

    def chart(self) -> go.Figure:
        """A Plotly funnel: paths per step, labelled with the conversion from the first
        and from the previous step (one funnel per group with a breakdown)."""
        labels = [s.step for s in self.steps]
        figure = go.Figure()
        if self.breakdown is None:
            series: list[tuple[str | None, list[int]]] = [(None, [s.paths for s in self.steps])]
        else:
            series = [
                (str(group), list(counts))
                for group, counts in zip(self.breakdown.groups, self.breakdown.paths, strict=True)
            ]
        for name, counts in series:
            figure.add_trace(
                go.Funnel(
                    name=name,
                    y=labels,
                    x=counts,
                    textinfo="value+percent initial+percent previous",
                )
            )
        window = "" if self.window_seconds is None else f", within {self.window_seconds:g} s"
        figure.update_layout(
            title=f"Funnel by {self.by} ({self.mode}{window})",
            showlegend=self.breakdown is not None,
        )
        return figure


def funnel(
    events: Any,
    steps: Sequence[str | Step],
    *,
    mode: FunnelMode = "ordered",
    window: str | float | None = None,
    exclude: Sequence[str | Step] = (),
    by: PathUnit = "customer",
    breakdown: str | None = None,
    journey: Journey | None = None,
    engine: Engine | None = None,
) -> FunnelResult:
    """Compute a funnel over the ``events`` table (see the module docs for the rules).

    ``steps`` and ``exclude`` are event names, touchpoint or stage ids of ``journey``,
    rules, or resolved :class:`Step` objects. ``window`` is a duration (``"30d"``) or
    seconds. ``breakdown`` is an events column (``channel``) or a property
    (``properties.plan`` or just ``plan``). Queries go through ``engine`` when given
    (so ``--trace-sql`` sees them).

    >>> from jornada.engine import Engine
    >>> events = Engine.duckdb().con.sql(
    ...     "SELECT 'ana' AS customer_id, TIMESTAMP '2026-01-01' AS ts, 'view' AS event, 0 AS idx")
    >>> funnel(events, ["view", "buy"], window="7d").to_dict()["steps"][1]["paths"]
    0
    """
    if mode not in get_args(FunnelMode):
        raise FunnelError(f"unknown funnel mode {mode!r}: use ordered, strict or unordered")
    if by not in get_args(PathUnit):
        raise FunnelError(f"unknown path unit {by!r}: use customer or session")
    if not steps:
        raise FunnelError("a funnel needs at least one step")
    window_seconds = parse_window(window)
    resolved = [s if isinstance(s, Step) else resolve_step(s, events, journey) for s in steps]
    exclusions = [s if isinstance(s, Step) else resolve_step(s, events, journey) for s in exclude]
    group = _breakdown_column(events, breakdown) if breakdown is not None else None

    def run(expr: Any) -> pd.DataFrame:
        if engine is not None:
            return engine.to_pandas(expr)
        frame: pd.DataFrame = expr.to_pandas()
        return frame

    # Paths are keyed by the store's small integer per customer when the table has one:
    # grouping and joining on it is much cheaper than on long text ids (e-mails).
    who = customer_column(events)
    keys = [who] if by == "customer" else [who, "session_id"]
    named = ["customer_id"] if by == "customer" else ["customer_id", "session_id"]
    window_us = None if window_seconds is None else round(window_seconds * _MICROS)
    m = len(resolved)

    def paths_of(table: Any, step_firsts: Callable[[int], Any]) -> Any:
        """One row per path reaching step 1: ``depth``, ``d2..dm`` and the group ``g``."""
        if mode == "unordered":
            sets = _hall_sets(table, resolved, run)
            return _unordered_paths(table, keys, sets, m, window_us, excluding=bool(exclusions))
        if m == 1:
            # One step: every path with a step-1 event reaches it, from its first one.
            first = _first_attempts(table, keys)
            return first.select(*keys, *_group(first), depth=ibis.literal(1, type="int64"))
        if mode == "strict":
            return _strict_paths(table, keys, m, window_us)
        return _ordered_paths(
            table, keys, m, window_us, excluding=bool(exclusions), step_firsts=step_firsts
        )

    table = _filtered(events, resolved, exclusions, keys, by, group)
    shared = any(step.kind != "event" for step in [*resolved, *exclusions])

    def step_firsts(k: int) -> Any:
        """Per path with events of step ``k``: the first one's position ``f{k}`` and time
        ``ts{k}`` (its earliest: paths are in time order), and for step 1 its breakdown
        value ``g``. An event name's events are read by that name alone: through
        ``table``, DuckDB would test the list of all names again after the scan."""
        if shared:
            rows = table.filter(table[f"s{k}"])
            position, value = rows.pos, rows.g if group is not None else None
        else:
            rows = events.filter(resolved[k - 1].condition)
            position = (rows.idx if by == "customer" else rows.session_idx).cast("int64")
            value = _group_value(group).get("g")
        first = {"g": value.argmin(position)} if k == 1 and value is not None else {}
        return rows.group_by(keys).aggregate(
            **{f"f{k}": position.min(), f"ts{k}": rows.ts.min()}, **first
        )

    if shared:
        # Rules, touchpoints and stages can be costly to evaluate (property lookups), and
        # the filtered events feed many subqueries: ``limit(None)`` (no limit at all)
        # keeps Ibis from fusing each consumer's filter into its own scan, so they share
        # one common table expression, which DuckDB computes once. Event names are
        # cheaper to scan again, each consumer pushing its own ``event = ...`` into the
        # scan, than to materialise (measured at 10M events: 0.85 s of CPU against 1.0 s).
        table = table.limit(None)
    per_path = paths_of(table, step_firsts)
    frame = run(_summary(per_path, m))
    overall = frame.g.isna() if "g" in frame.columns else frame.index == frame.index
    summary = frame[overall].iloc[0]
    reached = [int(_or_zero(summary[f"n{k}"])) for k in range(1, m + 1)]
    quantiles = [(None, None)] + [_median_p90(summary[f"q_{k}"]) for k in range(2, m + 1)]
    result_steps = tuple(
        _step_stats(step.label, k, reached, quantiles[k]) for k, step in enumerate(resolved)
    )
    breakdown_result = None
    if breakdown is not None:
        breakdown_result = _breakdown(frame[~overall], breakdown, m)

    def dropped(k: int) -> pd.DataFrame:
        rows = per_path.filter(per_path.depth == k - 1).select(*keys)
        if keys != named:  # the paths' customer ids, from their events
            rows = events.semi_join(rows, keys).select(*named).distinct()
        return run(rows.order_by(named)).reset_index(drop=True)

    return FunnelResult(
        steps=result_steps,
        mode=mode,
        window_seconds=window_seconds,
        by=by,
        exclude=tuple(s.label for s in exclusions),
        breakdown=breakdown_result,
        _dropped=dropped,
    )


# --- the engine side ------------------------------------------------------------------


def _breakdown_column(events: Any, name: str) -> Any:
    """An events column (``channel``), or a property (``properties.plan``, ``plan``)."""
    if name in events.columns and name != "properties":
        return events[name].cast("string")
    if "properties" not in events.columns:
        raise FunnelError(f"no column or property {name!r} to break the funnel down by")
    key = name.removeprefix("properties.")
    return events["properties"].get(ibis.literal(key, type="string"))


def _filtered(
    events: Any,
    steps: list[Step],
    exclusions: list[Step],
    keys: list[str],
    by: PathUnit,
    group: Any,
) -> Any:
    """The events matching a step or an exclusion, with one flag per step (``s1``...),
    ``x`` (matches an exclusion), the position ``pos``, the time ``ts`` and the same in
    microseconds ``t``."""

    def flag(step: Step) -> Any:
        # A rule on a missing property is null, not false: null flags would drop out of
        # sums. Event names need no guard (``event`` is never null).
        return step.condition if step.kind == "event" else step.condition.fill_null(False)

    flags = {f"s{k}": flag(step) for k, step in enumerate(steps, start=1)}
    excluded: Any = ibis.literal(False)
    for exclusion in exclusions:
        excluded = excluded | flag(exclusion)
    # The filter names event-name steps in one IN list: the scan can test it much faster
    # than an OR of comparisons.
    names = sorted({s.label for s in [*steps, *exclusions] if s.kind == "event"})
    wanted: Any = events.event.isin(names) if names else ibis.literal(False)
    for step in [*steps, *exclusions]:
        if step.kind != "event":
            wanted = wanted | flag(step)
    position = events.idx if by == "customer" else events.session_idx
    columns: dict[str, Any] = {
        **{key: events[key] for key in keys},
        "pos": position.cast("int64"),
        "ts": events.ts,
        "t": _micros(events.ts),
        **flags,
        "x": excluded,
    }
    return events.filter(wanted).select(**columns, **_group_value(group))


def _group_value(group: Any) -> dict[str, Any]:
    """The breakdown column ``g`` of ``group`` (a value of the events) when there is one."""
    if group is None:
        return {}
    # arg_max skips null arguments on DuckDB but not on Spark, so the breakdown value
    # is never null: "1" + value, or "0" when missing (decoded after the query).
    return {"g": group.isnull().ifelse(ibis.literal("0"), ibis.literal("1") + group)}


def _micros(ts: Any) -> Any:
    """Integer microseconds since the epoch: exact window comparisons and differences on
    every backend (DATE_DIFF on DuckDB, DATEDIFF(MICROSECOND, ...) on Spark)."""
    return ts.delta(ibis.timestamp("1970-01-01 00:00:00"), unit="microsecond").cast("int64")


def _group(table: Any) -> list[str]:
    """The breakdown column ``g`` when the funnel has one."""
    return ["g"] if "g" in table.columns else []


def _window(keys: list[str], rows: tuple[int | None, int | None] | None = None) -> Any:
    return ibis.window(group_by=keys, order_by="pos", rows=rows)


def _first_attempts(table: Any, keys: list[str]) -> Any:
    """Per path with a step-1 event: the first one (``a``, ``p1``, ``t1``, group ``g``).

    It starts the path's best attempt whenever no attempt reaches step 2."""
    starts = table.filter(table.s1)
    group = {"g": starts.g.argmin(starts.pos)} if "g" in table.columns else {}
    first = starts.group_by(keys).aggregate(a=starts.pos.min(), t1=starts.t.min(), **group)
    return first.mutate(p1=first.a)


def _with_fallback(first: Any, best: Any, keys: list[str], m: int) -> Any:
    """Paths of ``first`` with their best attempt reaching step 2 from ``best``, or else
    depth 1 from their first step-1 event."""
    joined = first.left_join(best, [first[key] == best[key] for key in keys])
    group = [ibis.coalesce(best.g, first.g).name("g")] if "g" in first.columns else []
    depth = best.depth.fill_null(1)
    return joined.select(
        *(first[key] for key in keys),
        *group,
        depth=depth,
        **_seconds(depth, [best[f"e{k}"] for k in range(2, m + 1)]),
    )


def _gaps(times: list[Any]) -> dict[str, Any]:
    """``e2..em``: microseconds from the completion of step k-1 to that of step k."""
    return {f"e{k}": times[k - 1] - times[k - 2] for k in range(2, len(times) + 1)}


def _seconds(depth: Any, gaps: list[Any]) -> dict[str, Any]:
    """``d2..dm``: the gaps ``e2..em`` in seconds, for the steps up to the depth."""
    return {
        # cast before dividing: Spark would otherwise round decimal arithmetic.
        f"d{k}": (depth >= k).ifelse(gap.cast("float64") / _MICROS, ibis.null())
        for k, gap in enumerate(gaps, start=2)
    }


def _per_path(paths: Any, keys: list[str], m: int) -> Any:
    """Paths with ``depth`` and gaps ``e2..em``, as the summary takes them (``d2..dm``)."""
    return paths.select(
        *keys,
        *_group(paths),
        "depth",
        **_seconds(paths.depth, [paths[f"e{k}"] for k in range(2, m + 1)]),
    )


def _ordered_paths(
    table: Any,
    keys: list[str],
    m: int,
    window_us: int | None,
    *,
    excluding: bool,
    step_firsts: Callable[[int], Any],
) -> Any:
    """Per path, the depth and times of its best attempt in ordered mode.

    The attempt from a path's first step-1 event is computed for every path with hash
    joins and aggregations only; :func:`_first_or_every` finishes the job. Without
    window and exclusions nothing can stop it: the next step-k event after the
    step-(k-1) one is a minimum over the path's step-k events after it, step by step.
    With them, the paths it does not settle are retried anyway, so a cheaper chain does:
    the first event of each step, one aggregation per step and no join on the events.
    When those rise (``f1 < f2 < ...``) up to the last step or the first step with no
    event at all, they are that attempt; the few other paths ("tangled": a step's first
    event at or before the previous step's) join the retried ones.
    """
    if window_us is None and not excluding:
        first = _first_attempts(table, keys)
        chain = first
        reached = first.select(*keys, _after=first.a)
        for k in range(2, m + 1):
            # The next step-k event after the step-(k-1) one, for the paths that got that far.
            found = table.filter(table[f"s{k}"]).join(reached, keys)
            found = found.filter(found.pos > found._after)
            found = found.group_by(keys).aggregate(
                **{f"p{k}": found.pos.min(), f"t{k}": found.t.min()}
            )
            chain = _add(chain, found, keys)
            reached = found.select(*keys, _after=found[f"p{k}"])
        return _first_or_every(table, chain, keys, m, window_us, excluding=False, start="t1")

    # Each step's events are scanned on their own (the scan tests one event name), and
    # times become microseconds once per path rather than once per event. One chain of
    # joins and one select: every extra projection costs Ibis compile time.
    first = step_firsts(1)
    joined = first
    firsts: list[Any] = [first.f1]
    times: list[Any] = [_micros(first.ts1)]
    for k in range(2, m + 1):
        found = step_firsts(k)
        joined = joined.left_join(found, [first[key] == found[key] for key in keys])
        firsts.append(found[f"f{k}"])
        times.append(_micros(found[f"ts{k}"]))
    rising: Any = ibis.literal(True)
    tangled: Any = ibis.literal(False)
    steps: dict[str, Any] = {}
    for k in range(2, m + 1):
        after = firsts[k - 1] > firsts[k - 2]
        tangled = tangled | (rising & ~after)
        rising = rising & after
        steps[f"p{k}"] = rising.ifelse(firsts[k - 1], ibis.null())
        steps[f"t{k}"] = rising.ifelse(times[k - 1], ibis.null())
    chain = joined.select(
        *(first[key] for key in keys),
        *(first[c] for c in _group(first)),
        a=first.f1,
        p1=first.f1,
        t1=times[0],
        _tangled=tangled.fill_null(False),
        **steps,
    )

    def every(rows: Any) -> Any:
        attempts = _ordered_attempts(rows, keys, m, window_us, excluding=excluding)
        return _best_attempts(attempts, keys, m)

    return _first_or_every(
        table,
        chain,
        keys,
        m,
        window_us,
        excluding=excluding,
        start="t1",
        every=every,
        unsure="_tangled",
    )


def _first_or_every(
    table: Any,
    chain: Any,
    keys: list[str],
    m: int,
    window_us: int | None,
    *,
    excluding: bool,
    start: str,
    every: Callable[[Any], Any] | None = None,
    unsure: str | None = None,
) -> Any:
    """Per path, its best attempt, given ``chain``: per path, the attempt from its first
    anchor ``a`` with steps at ``p1..pm`` and times ``t1..tm`` as if nothing stopped it.

    Attempts starting later complete each step no earlier, so none goes deeper than the
    first one does without window and exclusions: when it reaches that depth with them,
    it is the best attempt (also the earliest). Only the other paths ("hard": a window
    or an exclusion stopped their first attempt) get ``every(rows)``: every anchor tried,
    with window functions sorting their events, the costly part; it gives one row per
    path that has an attempt (``depth``, gaps ``e2..em``, ``g``), and a hard path without one
    keeps depth 1 from its first anchor. So do the paths flagged in the ``unsure``
    column, whose ``chain`` may be cut short. Without ``every``, the caller knows nothing
    stops the first attempt (no window, no exclusion).
    """
    joined, nx = chain, None
    if excluding:
        stops = table.filter(table.x).join(chain.select(*keys, _after=chain.a), keys)
        stops = stops.filter(stops.pos > stops._after)
        stops = stops.group_by(keys).aggregate(nx=stops.pos.min())
        joined = chain.left_join(stops, [chain[key] == stops[key] for key in keys])
        nx = stops.nx
    positions = [chain[f"p{k}"] for k in range(1, m + 1)]
    times = [chain[f"t{k}"] for k in range(1, m + 1)]
    depth = _reach(positions, times, chain[start], nx, window_us)
    columns = {
        **{key: chain[key] for key in keys},
        **{c: chain[c] for c in _group(chain)},
        "depth": depth,
        **_gaps(times),
    }
    if every is None or (window_us is None and not excluding and unsure is None):
        # Nothing can stop the first attempt: it is every path's best.
        paths = joined.select(**columns)
        return _per_path(paths.filter(paths.depth >= 1), keys, m)

    free = ibis.cases(
        *((p.isnull(), ibis.literal(k, type="int64")) for k, p in enumerate(positions)),
        else_=ibis.literal(m, type="int64"),
    )
    hard = depth < free
    if unsure is not None:
        hard = hard | chain[unsure]
    paths = joined.select(**columns, _hard=hard)
    # A semi join: the engine then skips the other paths' events in the scan (DuckDB
    # pushes a Bloom filter of the few keys into it; an inner join on integer keys does not).
    rows = table.semi_join(paths.filter(paths._hard).select(*keys), keys)
    best = every(rows)
    # The hard paths take their best attempt, the others keep the first one: a join on a
    # few rows, rather than a union that Ibis compiles as two more subqueries.
    merged = paths.left_join(best, [paths[key] == best[key] for key in keys])
    hard_path = paths._hard
    group = (
        {"g": hard_path.ifelse(ibis.coalesce(best.g, paths.g), paths.g)}
        if "g" in paths.columns
        else {}
    )
    depth = hard_path.ifelse(best.depth.fill_null(1), paths.depth)
    gaps = [hard_path.ifelse(best[f"e{k}"], paths[f"e{k}"]) for k in range(2, m + 1)]
    result = merged.select(
        *(paths[key] for key in keys), **group, depth=depth, **_seconds(depth, gaps)
    )
    return result.filter(result.depth >= 1)


def _add(table: Any, extra: Any, keys: list[str]) -> Any:
    """``table`` with the columns of ``extra`` (null where no row matches on ``keys``)."""
    joined = table.left_join(extra, [table[key] == extra[key] for key in keys])
    return joined.select(
        *(table[c] for c in table.columns), *(extra[c] for c in extra.columns if c not in keys)
    )


def _ordered_attempts(
    rows: Any, keys: list[str], m: int, window_us: int | None, *, excluding: bool
) -> Any:
    """One row per step-1 anchor followed by a step-2 event, with the greedy earliest
    chain of step events after it: its depth, the gaps ``e2..em`` between its steps and
    the best-attempt key ``_key``.

    One window over the rows after each row gives its next event of every step and the
    next exclusion; the chain from an anchor follows them: step ``k + 1`` is the next
    step-(k+1) event after the row of step ``k``, an equi-join on (path, position).
    """
    after = _window(keys, (1, None))
    nexts = {f"n{k}": rows.pos.min(where=rows[f"s{k}"]).over(after) for k in range(2, m + 1)}
    if excluding:
        nexts["nx"] = rows.pos.min(where=rows.x).over(after)
    # Only what the chain needs: the joins below carry every column of each copy.
    marked = rows.select(*keys, *_group(rows), "pos", "t", "s1", **nexts)
    anchors = marked.filter(marked.s1 & marked.n2.notnull())
    joined = anchors
    columns: dict[str, Any] = {"p1": anchors.pos, "t1": anchors.t, "p2": anchors.n2}
    for k in range(2, m + 1):
        # The row of step k, found at the position its predecessor's row points to.
        row = marked.view()
        joined = joined.left_join(
            row, [anchors[key] == row[key] for key in keys] + [row.pos == columns[f"p{k}"]]
        )
        columns[f"t{k}"] = row.t
        if k < m:
            columns[f"p{k + 1}"] = row[f"n{k + 1}"]
    chains = joined.select(
        *(anchors[c] for c in [*keys, *_group(anchors)]),
        **({"nx": anchors.nx} if excluding else {}),
        **columns,
    )
    positions = [chains[f"p{k}"] for k in range(1, m + 1)]
    times = [chains[f"t{k}"] for k in range(1, m + 1)]
    depth = _reach(positions, times, chains.t1, chains.nx if excluding else None, window_us)
    return chains.select(
        *keys,
        *_group(chains),
        depth=depth,
        _key=depth * _DEPTH_WEIGHT - chains.p1,
        **_gaps(times),
    )


def _strict_paths(table: Any, keys: list[str], m: int, window_us: int | None) -> Any:
    """Per path, the depth and times of its best attempt in strict mode.

    Step k of an attempt must sit at position ``anchor + k - 1``: every step is an
    equi-join on (path, position), no sorting needed. Attempts reaching step 2 compete
    for the best; other paths keep their first step-1 event (depth 1).
    """
    first = _first_attempts(table, keys)
    anchors = table.filter(table.s1).select(*keys, *_group(table), a=table.pos, t1=table.t)
    attempts = anchors.mutate(p1=anchors.a)
    for k in range(2, m + 1):
        step = table.filter(table[f"s{k}"]).select(
            *(table[key].name(f"_{key}") for key in keys), _pos=table.pos, _t=table.t, _x=table.x
        )
        predicates = [attempts[key] == step[f"_{key}"] for key in keys]
        predicates.append(step._pos == attempts.a + (k - 1))
        # Step 2 is an inner join: attempts not reaching it cannot be the best one.
        joined = (attempts.join if k == 2 else attempts.left_join)(step, predicates)
        attempts = joined.select(
            *attempts.columns, **{f"p{k}": joined._pos, f"t{k}": joined._t, f"x{k}": joined._x}
        )
    # The first exclusion strictly inside the chain: events at positions a+1 .. a+m-2.
    nx: Any = ibis.null().cast("int64")
    for k in range(m - 1, 1, -1):
        nx = attempts[f"x{k}"].fill_null(False).ifelse(attempts[f"p{k}"], nx)
    attempts = _with_reach(attempts.mutate(nx=nx), m, window_us)
    best = _best_attempts(attempts.filter(attempts.depth >= 2), keys, m)
    return _with_fallback(first, best, keys, m)


@dataclass(frozen=True)
class _HallSets:
    """What unordered mode checks: the sets of distinct step conditions and how many
    events each needs (column suffix per set), and per step ``k`` the sets to check."""

    distinct: list[int]  # per distinct condition: the first step (1-based) having it
    needs: dict[tuple[frozenset[int], int], str]
    per_step: list[list[str]]

    @property
    def simple(self) -> bool:
        """Every set is one condition needing one event (distinct, disjoint steps)."""
        return all(len(subset) == 1 and count == 1 for subset, count in self.needs)


def _hall_sets(table: Any, steps: list[Step], run: Callable[[Any], pd.DataFrame]) -> _HallSets:
    """Distinct events can serve steps ``1..k`` exactly when Hall's condition holds: for
    every set ``U`` of distinct step conditions, at least ``r(U)`` events match one of
    them, ``r(U)`` being how many of the steps ``1..k`` have a condition in ``U``. Sets
    made of conditions no event shares split into independent parts, so only sets
    connected by shared events need checking: for distinct event names, each alone.
    """
    conditions: list[int] = []  # per step: the index of its distinct condition
    distinct: list[int] = []
    for k, step in enumerate(steps, start=1):
        same = next(
            (
                i
                for i, first in enumerate(distinct)
                if steps[first - 1].condition.equals(step.condition)
            ),
            None,
        )
        if same is None:
            distinct.append(k)
            same = len(distinct) - 1
        conditions.append(same)
    edges = _overlaps(table, steps, distinct, run)
    needs: dict[tuple[frozenset[int], int], str] = {}
    per_step: list[list[str]] = []
    for k in range(1, len(steps) + 1):
        counts: dict[int, int] = {}
        for condition in conditions[:k]:
            counts[condition] = counts.get(condition, 0) + 1
        names = []
        for subset in _connected_subsets(sorted(counts), edges):
            need = (subset, sum(counts[c] for c in subset))
            names.append(needs.setdefault(need, f"{len(needs)}"))
        per_step.append(names)
    return _HallSets(distinct, needs, per_step)


def _unordered_paths(
    table: Any,
    keys: list[str],
    sets: _HallSets,
    m: int,
    window_us: int | None,
    *,
    excluding: bool,
) -> Any:
    """Per path, the depth and times of its best attempt in unordered mode.

    When the steps are distinct and disjoint (event names, say), the attempt from the
    path's first step event completes step ``k`` at the latest of the first events of
    steps ``1..k``: hash aggregation alone. No attempt starting later goes deeper than
    that one does without window and exclusions; when it reaches that depth with them,
    it is the best. The other paths have every anchor tried (window functions).
    """
    if not sets.simple:
        attempts = _unordered_attempts(table, keys, sets, m, window_us)
        return _per_path(_best_attempts(attempts.filter(attempts.depth >= 1), keys, m), keys, m)
    any_step: Any = ibis.literal(False)
    for k in range(1, m + 1):
        any_step = any_step | table[f"s{k}"]
    starts = table.filter(any_step)
    group = {"g": starts.g.argmin(starts.pos)} if "g" in table.columns else {}
    firsts = {}
    for k in range(1, m + 1):
        firsts[f"f{k}"] = starts.pos.min(where=starts[f"s{k}"])
        firsts[f"ft{k}"] = starts.t.min(where=starts[f"s{k}"])
    chain = starts.group_by(keys).aggregate(
        a=starts.pos.min(), t0=starts.t.min(), **group, **firsts
    )
    chain = chain.mutate(
        **{f"p{k}": _latest([chain[f"f{j}"] for j in range(1, k + 1)]) for k in range(1, m + 1)},
        **{f"t{k}": _latest([chain[f"ft{j}"] for j in range(1, k + 1)]) for k in range(1, m + 1)},
    )

    def every(rows: Any) -> Any:
        attempts = _unordered_attempts(rows, keys, sets, m, window_us)
        return _best_attempts(attempts.filter(attempts.depth >= 1), keys, m)

    return _first_or_every(
        table, chain, keys, m, window_us, excluding=excluding, start="t0", every=every
    )


def _unordered_attempts(
    table: Any, keys: list[str], sets: _HallSets, m: int, window_us: int | None
) -> Any:
    """One row per event matching any step: the earliest completion of steps ``1..k``
    by distinct events at or after it, for every ``k``.

    From an anchor, the earliest position satisfying a set ``U`` of ``_HallSets`` is that
    of the ``r(U)``-th event matching ``U`` at or after it, and the completion of step
    ``k`` is the latest of those over the sets of step ``k``.
    """

    def flag(condition: int) -> Any:
        return table[f"s{sets.distinct[condition]}"]

    following = _window(keys, (0, None))
    leads: dict[str, Any] = {}
    for (subset, count), name in sets.needs.items():
        member: Any = ibis.literal(False)
        for condition in sorted(subset):
            member = member | flag(condition)
        leads[f"u{name}"] = member
        if count > 1:
            # The (count-1)-th next member after a member row: a lead among members only.
            among = ibis.window(group_by=[*keys, member], order_by="pos")
            leads[f"lp{name}"] = table.pos.lead(count - 1).over(among)
            leads[f"lt{name}"] = table.t.lead(count - 1).over(among)
        else:
            leads[f"lp{name}"] = table.pos
            leads[f"lt{name}"] = table.t
    rows = table.mutate(**leads)
    # The value at the first member row at or after each row. Lead positions rise along
    # the members (and end in nulls), so it is their minimum over the following rows.
    firsts: dict[str, Any] = {"nx": rows.pos.min(where=rows.x).over(_window(keys, (1, None)))}
    for name in sets.needs.values():
        firsts[f"fp{name}"] = rows[f"lp{name}"].min(where=rows[f"u{name}"]).over(following)
        firsts[f"ft{name}"] = rows[f"lt{name}"].min(where=rows[f"u{name}"]).over(following)
    rows = rows.mutate(**firsts)

    any_step: Any = ibis.literal(False)
    for k in range(1, m + 1):
        any_step = any_step | rows[f"s{k}"]
    anchors = rows.filter(any_step)
    columns: dict[str, Any] = {}
    for k, names in enumerate(sets.per_step, start=1):
        columns[f"p{k}"] = _latest([anchors[f"fp{name}"] for name in names])
        columns[f"t{k}"] = _latest([anchors[f"ft{name}"] for name in names])
    attempts = anchors.select(
        *keys, *_group(anchors), a=anchors.pos, t0=anchors.t, nx=anchors.nx, **columns
    )
    return _with_reach(attempts, m, window_us, start="t0")


def _latest(values: list[Any]) -> Any:
    """The greatest of ``values``, null when any is null (``greatest`` skips nulls)."""
    if len(values) == 1:
        return values[0]
    missing: Any = ibis.literal(False)
    for value in values:
        missing = missing | value.isnull()
    return missing.ifelse(ibis.null(), ibis.greatest(*values))


def _overlaps(
    table: Any, steps: list[Step], distinct: list[int], run: Callable[[Any], pd.DataFrame]
) -> set[frozenset[int]]:
    """Pairs of distinct step conditions that some event matches both."""
    if len(distinct) < 2:
        return set()
    if all(steps[first - 1].kind == "event" for first in distinct):
        return set()  # distinct event names never match the same event
    pairs = list(itertools.combinations(range(len(distinct)), 2))
    both = {
        f"o{i}_{j}": (table[f"s{distinct[i]}"] & table[f"s{distinct[j]}"]).any() for i, j in pairs
    }
    row = run(table.aggregate(**both)).iloc[0]
    edges = {frozenset((i, j)) for i, j in pairs if bool(_or_zero(row[f"o{i}_{j}"]))}
    involved = {c for edge in edges for c in edge}
    if len(involved) > _MAX_OVERLAPPING:
        raise FunnelError(
            f"{len(involved)} steps share events in unordered mode; at most "
            f"{_MAX_OVERLAPPING} overlapping steps are supported"
        )
    return edges


def _connected_subsets(nodes: list[int], edges: set[frozenset[int]]) -> list[frozenset[int]]:
    """Every non-empty subset of ``nodes`` connected by ``edges``.

    >>> sorted(map(sorted, _connected_subsets([0, 1, 2], {frozenset((0, 1))})))
    [[0], [0, 1], [1], [2]]
    """
    linked = {n: {o for o in nodes if frozenset((n, o)) in edges} for n in nodes}
    found: set[frozenset[int]] = set()
    frontier = [frozenset((n,)) for n in nodes]
    while frontier:  # grow sets one neighbour at a time: only connected sets appear
        found.update(frontier)
        grown = {
            subset | {n}
            for subset in frontier
            for member in subset
            for n in linked[member]
            if n not in subset
        }
        frontier = [s for s in grown if s not in found]
    return sorted(found, key=lambda s: (len(s), sorted(s)))


def _with_reach(attempts: Any, m: int, window_us: int | None, start: str = "t1") -> Any:
    """Add ``depth``: how many steps the attempt reaches (positions ``p1..pm``, times
    ``t1..tm``, start time ``start``, first exclusion after the start ``nx``)."""
    positions = [attempts[f"p{k}"] for k in range(1, m + 1)]
    times = [attempts[f"t{k}"] for k in range(1, m + 1)]
    return attempts.mutate(depth=_reach(positions, times, attempts[start], attempts.nx, window_us))


def _reach(
    positions: list[Any], times: list[Any], start: Any, nx: Any | None, window_us: int | None
) -> Any:
    """How many steps an attempt reaches, from the positions and times of its steps, its
    start time and its first exclusion after the start (``None``: no exclusions)."""
    stops = []
    for k, (position, time) in enumerate(zip(positions, times, strict=True)):
        ok = position.notnull()
        if window_us is not None:
            ok = ok & (time - start <= window_us)
        if nx is not None:
            # No exclusion strictly between the start and the event completing step k.
            ok = ok & (nx.isnull() | (nx >= position))
        stops.append((~ok.fill_null(False), ibis.literal(k, type="int64")))
    # Reaching step k needs reaching every step before it: the depth is the number of
    # steps before the first one not reached (one expression, one select for Ibis to
    # compile).
    return ibis.cases(*stops, else_=ibis.literal(len(positions), type="int64"))


def _best_attempts(attempts: Any, keys: list[str], m: int) -> Any:
    """One row per path: its depth, the gaps between consecutive step completions of its
    best attempt (``e2..em``, microseconds), and its breakdown group ``g``.
    ``attempts`` has ``depth`` and ``a`` (start) with times ``t1..tm``, or the key
    ``_key`` and the gaps already."""
    if "_key" not in attempts.columns:
        attempts = attempts.mutate(
            _key=attempts.depth * _DEPTH_WEIGHT - attempts.a,
            **_gaps([attempts[f"t{k}"] for k in range(1, m + 1)]),
        )
    # The best attempt's gap e_k has a value whenever it reached step k; when it did not,
    # the path's depth is below k and the gap is dropped afterwards (``_seconds``), so
    # arg_max's null handling (DuckDB skips null arguments, Spark does not) cannot matter.
    group = {"g": attempts.g.argmax(attempts._key)} if "g" in attempts.columns else {}
    return attempts.group_by(keys).aggregate(
        depth=attempts.depth.max(),
        **group,
        **{f"e{k}": attempts[f"e{k}"].argmax(attempts._key) for k in range(2, m + 1)},
    )


def _summary(per_path: Any, m: int) -> Any:
    """Paths reaching each step (``n1..nm``) and the median and p90 of the times from the
    previous step (``q_k``, a list of the two): one row, or with a breakdown one row per
    group (``g``) plus the overall row (``g`` null), in one query so the paths are
    computed once.
    """
    counts = {f"n{k}": (per_path.depth >= k).cast("int64").sum() for k in range(1, m + 1)}
    # Both quantiles of a step in one aggregate: the engine sorts the values once.
    quantiles = {f"q_{k}": per_path[f"d{k}"].quantile([0.5, 0.9]) for k in range(2, m + 1)}
    overall = per_path.aggregate(**counts, **quantiles)
    if "g" not in per_path.columns:
        return overall
    groups = per_path.group_by("g").aggregate(
        **counts, **{name: ibis.null().cast("array<float64>") for name in quantiles}
    )
    overall = overall.select(
        g=ibis.null().cast("string"), **{c: overall[c] for c in overall.columns}
    )
    return groups.union(overall)


# --- the Python side (a handful of numbers per step) -------------------------------------


def _percent(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.1%}"


def _duration(seconds: float | None) -> str:
    """A duration for people: ``45s``, ``12m``, ``3.5h``, ``2.1d``.

    >>> _duration(90), _duration(5400), _duration(None)
    ('1.5m', '1.5h', '')
    """
    if seconds is None:
        return ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.3g}{unit}"
    return f"{seconds:.3g}s"


def _or_zero(value: Any) -> Any:
    return 0 if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _optional(value: Any) -> float | None:
    if value is None or pd.isna(value):
        return None
    return float(value)


def _median_p90(values: Any) -> tuple[float | None, float | None]:
    """The (median, p90) pair of a ``q_k`` list; ``None`` for both when no path had a
    time (a missing list, or missing values in it).

    >>> _median_p90([12.0, 30.5]), _median_p90(None)
    ((12.0, 30.5), (None, None))
    """
    if values is None or (isinstance(values, float) and math.isnan(values)):
        return None, None
    median, p90 = values
    return _optional(median), _optional(p90)


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


def _step_stats(
    label: str, index: int, reached: list[int], times: tuple[float | None, float | None]
) -> FunnelStep:
    paths = reached[index]
    first = reached[0]
    previous = reached[index - 1] if index else paths
    return FunnelStep(
        step=label,
        paths=paths,
        conversion_from_start=_ratio(paths, first),
        conversion_from_previous=_ratio(paths, previous),
        ci_from_start=wilson_interval(paths, first),
        ci_from_previous=wilson_interval(paths, previous),
        median_seconds_from_previous=times[0],
        p90_seconds_from_previous=times[1],
        dropped=previous - paths,
    )


def _breakdown(frame: pd.DataFrame, column: str, m: int) -> FunnelBreakdown:
    frame = frame.assign(g=[None if code == "0" else code[1:] for code in frame.g])
    # Groups sorted by value, the missing value last, so results are deterministic.
    frame = frame.assign(_missing=frame.g.isna()).sort_values(["_missing", "g"], kind="stable")
    groups = tuple(None if pd.isna(g) else str(g) for g in frame.g)
    paths = tuple(
        tuple(int(_or_zero(row[f"n{k}"])) for k in range(1, m + 1)) for _, row in frame.iterrows()
    )
    chi2, p_value, dof = math.nan, math.nan, 0
    last = [[counts[-1], counts[0] - counts[-1]] for counts in paths]
    column_totals = [sum(row[0] for row in last), sum(row[1] for row in last)]
    if len(last) >= 2 and all(column_totals):
        test = chi2_contingency(last)
        chi2, p_value, dof = float(test.statistic), float(test.pvalue), int(test.dof)
    return FunnelBreakdown(column, groups, paths, chi2, p_value, dof)
