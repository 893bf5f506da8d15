"""Paths: what customers (or sessions) do next, step by step, and which whole paths are common.

A *path* is a customer's events in order (``ts``, then load order ``seq``), or with
``by="session"`` the events of one session. Four analyses read paths:

- :func:`transitions`: the directly-follows graph. For each pair of consecutive events
  (source -> target): how many transitions, how many distinct paths have it, its share
  of the source's outgoing and of the target's incoming transitions, and the median and
  95th percentile of the seconds between the two events.
- :func:`step_matrix`: the share of paths having each event at step k (k = 1..N) from
  the start of the path, or after / before the first occurrence of an anchor event; a
  boundary row (``END``, or ``START`` looking back) counts paths already over.
- :func:`sankey`: the flows between (step, event) nodes over the first N steps (after
  or before an anchor event, or from the start).
- :func:`variants`: whole paths as event sequences, the most common first, optionally
  with immediate repeats collapsed and filtered by a :class:`PathPattern`.

Everything is an Ibis expression run once per analysis: no loop over events or paths
in Python, no backend-only functions (the same code is meant to run on PySpark).

>>> from jornada.engine import Engine
>>> engine = Engine.duckdb()
>>> events = engine.con.sql(
...     "SELECT customer_id, idx, event, TIMESTAMP '2026-01-01' + INTERVAL (idx) MINUTE AS ts,"
...     " next_event, CASE WHEN next_event IS NOT NULL THEN ts + INTERVAL 1 MINUTE END AS next_ts"
...     " FROM (VALUES ('a', 0, 'view', 'cart'), ('a', 1, 'cart', NULL), ('b', 0, 'view', NULL))"
...     " AS t(customer_id, idx, event, next_event)")
>>> [(e.source, e.target, e.count, e.median_seconds) for e in transitions(events).edges]
[('view', 'cart', 1, 60.0)]
>>> [(v.events, v.paths) for v in variants(events).variants]
[(('view',), 1), (('view', 'cart'), 1)]

Facts used (precomputed at load, see :mod:`jornada.engine.store`): ``idx`` (position in
the customer's path) and ``next_event``/``next_ts`` (the next event of the customer), so
customer paths need no sort. A session path is a customer's events sharing one session id
(decision 0006: two customers sharing an id are two paths; an id that comes back after
another session's events is one path), in path order; its ``path_id`` is ``customer_id``
and ``session_id`` joined by :data:`SESSION_PATH_SEPARATOR` (it was the session id alone
before store version 4, which merged customers sharing one). The store's session facts
give the position (``session_idx``) and the next event's time (``session_next_ts``); the
next event is the customer's next unless the session is scattered, and the few scattered
sessions are ordered by a window over their own events. A table without those facts
gets all three from a window over each customer's session ids.

Quantiles are exact: ``percentile_cont`` on DuckDB and ``percentile`` on Spark, both
linear interpolation between the closest ranks (numpy's default ``linear`` method,
Hyndman and Fan's type 7): for n sorted values and q, h = (n - 1) q and the answer is
x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd
import plotly.graph_objects as go

from jornada.analytics.results import AnalysisResult, json_ready
from jornada.analytics.steps import resolve_step
from jornada.events.filters import customer_column
from jornada.model import Journey

__all__ = [
    "END",
    "QUANTILE_METHOD",
    "SESSION_PATH_SEPARATOR",
    "START",
    "Direction",
    "PathBy",
    "PathPattern",
    "Sankey",
    "SankeyLink",
    "SankeyNode",
    "StepCell",
    "StepMatrix",
    "Transition",
    "Transitions",
    "Variant",
    "Variants",
    "contains_sequence",
    "excludes",
    "matching_paths",
    "path_events",
    "sankey",
    "step_matrix",
    "transitions",
    "variants",
]

START = "START"
"""The node before every path's first event (transitions, step matrix looking back, Sankey)."""
END = "END"
"""The node after every path's last event."""

QUANTILE_METHOD = "exact, linear interpolation between closest ranks (type 7)"
"""How ``median_seconds`` and ``p95_seconds`` are computed (see the module docstring)."""

_SEPARATOR = "\x1f"  # joins event names into one variant key (ASCII unit separator)

SESSION_PATH_SEPARATOR = "\x1f"
"""Joins ``customer_id`` and ``session_id`` into the ``path_id`` of a session path (the
ASCII unit separator): ``path_id.split(SESSION_PATH_SEPARATOR)`` gives them back."""

_SESSION_FACTS = ("session_idx", "session_last", "session_start", "session_next_ts")
"""The store's session facts a session path reads (engine/store.py)."""


class PathBy(enum.StrEnum):
    """What a path is: a customer's whole history, or one session."""

    customer = "customer"
    session = "session"


Direction = Literal["start", "after", "before"]
"""Where steps count from: the path's start, or after / before an anchor event."""


# --- paths as a table ------------------------------------------------------------------


def path_events(
    events: ir.Table,
    by: PathBy | str = PathBy.customer,
    *,
    flags: Mapping[str, Any] | None = None,
) -> ir.Table:
    """One row per event with its path: ``path_id``, ``pos`` (from 0), ``event``, ``ts``,
    ``next_event``/``next_ts`` (the next event of the same path, null for the last).
    ``path_id`` is the ``customer_id``, or by session ``customer_id`` and ``session_id``
    joined by :data:`SESSION_PATH_SEPARATOR` (see the module).

    ``flags`` are boolean conditions over ``events`` (as :func:`resolve_step` builds)
    carried along as extra columns.

    >>> from jornada.engine import Engine
    >>> t = Engine.duckdb().con.sql(
    ...     "SELECT 'a' AS customer_id, 0 AS idx, 'view' AS event, TIMESTAMP '2026-01-01' AS ts,"
    ...     " NULL::VARCHAR AS next_event, NULL::TIMESTAMP AS next_ts")
    >>> path_events(t).execute().to_dict("records")[0]["path_id"]
    'a'
    """
    by = PathBy(by)
    flags = dict(flags or {})
    if flags:
        events = events.mutate(**flags)
    kept = ["event", "ts", *flags]
    if by is PathBy.customer:
        return events.select(
            path_id=events.customer_id,
            pos=events.idx,
            next_event=events.next_event,
            next_ts=events.next_ts,
            **{name: events[name] for name in kept},
        )

    # A session path is a customer's events sharing one session id (decision 0006): two
    # customers sharing an id are two paths, so the id names the customer too.
    def path_id(table: ir.Table) -> ir.StringValue:
        return table.customer_id.concat(SESSION_PATH_SEPARATOR, table.session_id)

    if not set(_SESSION_FACTS) <= set(events.columns):
        customer = events.customer_id
        ordered = ibis.window(group_by=[customer, events.session_id], order_by=events.idx)
        return events.select(
            path_id=path_id(events),
            pos=ibis.row_number().over(ordered),
            next_event=events.event.lead().over(ordered),
            next_ts=events.ts.lead().over(ordered),
            **{name: events[name] for name in kept},
        )
    # With the store's facts the position and the next event's time are stored; the next
    # event is the customer's next unless the session is scattered (its id comes back
    # after another session's events: its last event is not session_idx events after its
    # first). The few scattered sessions take their next events from a window.
    key = [customer_column(events), "session_start"]
    scattered = events.filter(
        events.session_last & (events.idx - events.session_start != events.session_idx)
    ).select(*key)
    runs = events.anti_join(scattered, key)
    fast = runs.select(
        path_id=path_id(runs),
        pos=runs.session_idx,
        next_event=ibis.ifelse(runs.session_last, ibis.null("string"), runs.next_event),
        next_ts=runs.session_next_ts,
        **{name: runs[name] for name in kept},
    )
    apart = events.semi_join(scattered, key)
    window = ibis.window(group_by=[apart[name] for name in key], order_by=apart.idx)
    slow = apart.select(
        path_id=path_id(apart),
        pos=apart.session_idx,
        next_event=apart.event.lead().over(window),
        next_ts=apart.session_next_ts,
        **{name: apart[name] for name in kept},
    )
    return fast.union(slow.cast(fast.schema()))


def _conditions(texts: Sequence[str], events: ir.Table, journey: Journey | None) -> dict[str, Any]:
    """Boolean columns ``_f0``, ``_f1``... for step texts (event names, rules, touchpoints)."""
    return {
        f"_f{number}": resolve_step(text, events, journey).condition
        for number, text in enumerate(texts)
    }


def _run(expr: ir.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows


# --- transitions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    """One edge of the directly-follows graph."""

    source: str
    target: str
    count: int
    """Transitions source -> target (consecutive events of a path)."""
    paths: int
    """Distinct paths having the transition at least once."""
    share_out: float
    """count / all transitions out of ``source`` (its END edge included when shown)."""
    share_in: float
    """count / all transitions into ``target`` (its START edge included when shown)."""
    median_seconds: float | None
    """Median seconds between the two events (None for START and END edges)."""
    p95_seconds: float | None


@dataclass(frozen=True)
class Transitions(AnalysisResult):
    """The directly-follows graph of the paths, most frequent edges first.

    >>> t = Transitions((Transition("a", "b", 2, 1, 1.0, 1.0, 30.0, 57.0),), by=PathBy.customer)
    >>> t.to_dict()["edges"][0]["share_out"]
    1.0
    """

    edges: tuple[Transition, ...]
    by: PathBy = PathBy.customer
    with_start_end: bool = False
    quantiles: str = QUANTILE_METHOD

    def to_frame(self) -> pd.DataFrame:
        columns = [f.name for f in Transition.__dataclass_fields__.values()]
        return pd.DataFrame([vars(edge) for edge in self.edges], columns=columns)

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by.value,
            "with_start_end": self.with_start_end,
            "quantiles": self.quantiles,
            "edges": [json_ready(vars(edge)) for edge in self.edges],
        }

    def chart(self) -> go.Figure:
        """A heatmap of ``share_out``: row = source, column = target (hover: counts)."""
        frame = self.to_frame()
        if frame.empty:
            return go.Figure(layout={"title": "Transitions (no paths)"})
        shares = frame.pivot(index="source", columns="target", values="share_out")
        counts = frame.pivot(index="source", columns="target", values="count")
        order = frame.groupby("source")["count"].sum().sort_values(ascending=False).index
        targets = [t for t in order if t in shares.columns]
        targets += sorted(set(shares.columns) - set(targets))
        shares, counts = (
            shares.reindex(index=order, columns=targets),
            counts.reindex(index=order, columns=targets),
        )
        figure = go.Figure(
            go.Heatmap(
                z=shares.to_numpy(),
                x=list(shares.columns),
                y=list(shares.index),
                customdata=counts.to_numpy(),
                colorscale="Blues",
                zmin=0,
                zmax=1,
                hovertemplate="%{y} → %{x}<br>share of %{y}'s next: %{z:.1%}"
                "<br>transitions: %{customdata:,}<extra></extra>",
            )
        )
        figure.update_layout(
            title=f"Transitions by {self.by.value}: share of what comes next",
            xaxis_title="next event",
            yaxis_title="event",
            yaxis_autorange="reversed",
        )
        return figure


def transitions(
    events: ir.Table, *, by: PathBy | str = PathBy.customer, with_start_end: bool = False
) -> Transitions:
    """The directly-follows graph of the paths (equal to a process-mining DFG's counts).

    With ``with_start_end``, a ``START`` edge goes to each path's first event and an
    ``END`` edge leaves each last event; shares then include them.

    >>> from jornada.engine import Engine
    >>> events = Engine.duckdb().con.sql(
    ...     "SELECT 'a' AS customer_id, 0 AS idx, 'view' AS event, TIMESTAMP '2026-01-01' AS ts,"
    ...     " NULL::VARCHAR AS next_event, NULL::TIMESTAMP AS next_ts")
    >>> [(e.source, e.target, e.count) for e in transitions(events, with_start_end=True).edges]
    [('START', 'view', 1), ('view', 'END', 1)]
    """
    by = PathBy(by)
    rows = _run(_transition_edges(events, by, with_start_end))
    edges = tuple(
        Transition(
            source=row["source"],
            target=row["target"],
            count=row["count"],
            paths=row["paths"],
            share_out=row["share_out"],
            share_in=row["share_in"],
            median_seconds=row["median_seconds"],
            p95_seconds=row["p95_seconds"],
        )
        for row in rows
    )
    return Transitions(edges, by=by, with_start_end=with_start_end)


def _transition_edges(events: ir.Table, by: PathBy, with_start_end: bool) -> ir.Table:
    path = path_events(events, by)
    # The stored fact marks each pair's first occurrence in its customer's path: the
    # distinct paths are a filtered count in the one aggregate (the distinct triples of
    # the fallback below were two thirds of the time at 10M events).
    stored = by is PathBy.customer and "first_pair" in events.columns
    source = events if stored else path
    moves = source.filter(source.next_ts.notnull())  # cheaper to test than next_event
    if stored:
        edges = _edge_aggregates(moves, paths=moves.count(where=moves.first_pair))
    else:
        timed = _edge_aggregates(moves)
        # Distinct paths per edge in two plain aggregates: a DISTINCT aggregate beside the
        # quantiles made DuckDB sort the 10M moves (1.9 s against 1.2 s this way).
        pairs = moves.select(source=moves.event, target=moves.next_event, path_id=moves.path_id)
        per_path = pairs.distinct().group_by(["source", "target"]).agg(paths=ibis._.count())
        edges = timed.join(per_path, ["source", "target"]).select(
            "source", "target", "count", "paths", "_q"
        )
    if with_start_end:
        no_times = ibis.null("array<float64>")
        firsts = path.filter(path.pos == 0)
        starts = firsts.group_by(source=ibis.literal(START), target=firsts.event).agg(
            count=firsts.count(), paths=firsts.count(), _q=no_times
        )
        lasts = path.filter(path.next_ts.isnull())
        ends = lasts.group_by(source=lasts.event, target=ibis.literal(END)).agg(
            count=lasts.count(), paths=lasts.count(), _q=no_times
        )
        edges = edges.union(starts.cast(edges.schema())).union(ends.cast(edges.schema()))
    count = edges["count"].cast("float64")
    edges = edges.select(
        "source",
        "target",
        "count",
        "paths",
        share_out=count / count.sum().over(group_by=edges.source),
        share_in=count / count.sum().over(group_by=edges.target),
        median_seconds=edges._q[0].cast("float64") / 1_000_000,
        p95_seconds=edges._q[1].cast("float64") / 1_000_000,
    )
    return edges.order_by([ibis.desc("count"), "source", "target"])


def _edge_aggregates(moves: ir.Table, **more: ir.Scalar) -> ir.Table:
    """Per edge (``source`` event, ``target`` next event) of ``moves``, the events followed
    by another: ``count``, the aggregates ``more``, and ``_q``, the median and 95th
    percentile of the gaps in whole microseconds (exact integers; faster than doubles).

    >>> import ibis
    >>> moves = ibis.table({"event": "string", "next_event": "string", "ts": "timestamp",
    ...                     "next_ts": "timestamp"}, name="moves")
    >>> _edge_aggregates(moves, n=moves.count()).columns
    ('source', 'target', 'count', 'n', '_q')
    """
    micros = moves.next_ts.delta(moves.ts, unit="microsecond")
    return moves.group_by(source=moves.event, target=moves.next_event).agg(
        count=moves.count(), **more, _q=micros.quantile([0.5, 0.95])
    )


# --- step matrix -----------------------------------------------------------------------


@dataclass(frozen=True)
class StepCell:
    """Paths having ``event`` at ``step`` (negative steps: before the anchor)."""

    step: int
    event: str
    paths: int
    share: float


@dataclass(frozen=True)
class StepMatrix(AnalysisResult):
    """Share of paths having each event at each step; ``boundary`` (END, or START when
    looking back) counts paths already over at that step, so each step's column sums to 1.

    >>> m = StepMatrix((StepCell(1, "view", 2, 1.0),), paths=2, steps=1)
    >>> m.to_frame().to_dict("records")
    [{'event': 'view', '1': 1.0}, {'event': 'END', '1': 0.0}]
    """

    cells: tuple[StepCell, ...]
    paths: int
    """Paths counted: all of them, or those having the anchor."""
    steps: int
    direction: Direction = "start"
    anchor: str | None = None
    by: PathBy = PathBy.customer

    @property
    def boundary(self) -> str:
        return START if self.direction == "before" else END

    @property
    def step_numbers(self) -> list[int]:
        """Step columns in time order (-N..-1 looking back, 1..N otherwise)."""
        if self.direction == "before":
            return list(range(-self.steps, 0))
        return list(range(1, self.steps + 1))

    def events(self) -> list[str]:
        """Row order: events by their total share, most common first; the boundary last."""
        totals: dict[str, float] = {}
        for cell in self.cells:
            if cell.event != self.boundary:
                totals[cell.event] = totals.get(cell.event, 0.0) + cell.share
        ordered = sorted(totals, key=lambda name: (-totals[name], name))
        return [*ordered, self.boundary] if self.cells else ordered

    def to_frame(self) -> pd.DataFrame:
        columns = [str(step) for step in self.step_numbers]
        frame = pd.DataFrame(0.0, index=self.events(), columns=columns)
        for cell in self.cells:
            frame.loc[cell.event, str(cell.step)] = cell.share
        frame.index.name = "event"
        return frame.reset_index()

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by.value,
            "direction": self.direction,
            "anchor": self.anchor,
            "steps": self.step_numbers,
            "paths": self.paths,
            "boundary": self.boundary,
            "cells": [json_ready(vars(cell)) for cell in self.cells],
        }

    def chart(self) -> go.Figure:
        """A heatmap: rows events (boundary last), columns steps, colour the share of paths."""
        frame = self.to_frame().set_index("event")
        figure = go.Figure(
            go.Heatmap(
                z=frame.to_numpy(),
                x=list(frame.columns),
                y=list(frame.index),
                colorscale="Blues",
                zmin=0,
                zmax=1,
                text=[[f"{v:.0%}" if v else "" for v in row] for row in frame.to_numpy()],
                texttemplate="%{text}",
                hovertemplate="step %{x}: %{y}<br>%{z:.1%} of paths<extra></extra>",
            )
        )
        where = _where(self.direction, self.anchor)
        figure.update_layout(
            title=f"Step matrix {where} ({self.paths:,} {self.by.value} paths)",
            xaxis_title="step",
            xaxis_type="category",
            yaxis_autorange="reversed",
        )
        return figure


def _where(direction: Direction, anchor: str | None) -> str:
    """How a chart title says where the steps are counted from."""
    return "from the start" if direction == "start" else f"{direction} {anchor}"


def _anchored_paths(
    events: ir.Table,
    steps: int,
    after: str | None,
    before: str | None,
    by: PathBy | str,
    journey: Journey | None,
) -> tuple[PathBy, str | None, Direction, ir.Table]:
    """What the step matrix and the Sankey share: the checked arguments, the direction
    and the path events (with the anchor's flag ``_f0`` when there is one)."""
    if steps < 1:
        raise ValueError("steps must be at least 1")
    if after is not None and before is not None:
        raise ValueError("give an anchor after or before, not both")
    anchor = after if after is not None else before
    direction: Direction = "after" if after is not None else "before" if before else "start"
    flags = _conditions([anchor], events, journey) if anchor else None
    return PathBy(by), anchor, direction, path_events(events, PathBy(by), flags=flags)


def _first_anchors(path: ir.Table) -> ir.Table:
    """Per path, the position of its first anchor event (``_at``)."""
    hits = path.filter(path._f0)
    return hits.group_by("path_id").agg(_at=hits.pos.min())


def step_matrix(
    events: ir.Table,
    *,
    steps: int = 10,
    after: str | None = None,
    before: str | None = None,
    by: PathBy | str = PathBy.customer,
    journey: Journey | None = None,
) -> StepMatrix:
    """Share of paths having each event at steps 1..``steps`` from the path's start, or
    the steps after (before) the *first* occurrence of ``after`` (``before``): an event
    name, a rule, or a touchpoint/stage id of ``journey``. Only paths having the anchor
    count then. Looking back, step -1 is the event just before the anchor.

    >>> from jornada.engine import Engine
    >>> events = Engine.duckdb().con.sql(
    ...     "SELECT 'a' AS customer_id, 0 AS idx, 'view' AS event, TIMESTAMP '2026-01-01' AS ts,"
    ...     " NULL::VARCHAR AS next_event, NULL::TIMESTAMP AS next_ts")
    >>> [(c.step, c.event, c.share) for c in step_matrix(events, steps=2).cells]
    [(1, 'view', 1.0), (2, 'END', 1.0)]
    """
    by, anchor, direction, path = _anchored_paths(events, steps, after, before, by, journey)
    cells, ended, boundary_step = _step_positions(path, direction, steps)
    shown = cells.filter((cells._step >= 1) & (cells._step <= steps))
    counted = shown.group_by(step=shown._step, event=shown.event).agg(paths=shown.count())
    # Each path is over from one step on; those steps (clipped) give the boundary row.
    over = ended.group_by(step=ibis.least(boundary_step, steps + 1)).agg(paths=ended.count())
    over = over.mutate(event=ibis.literal(None, "string")).select("step", "event", "paths")
    rows = _run(counted.union(over))
    histogram = [0] * (steps + 2)
    found: list[tuple[int, str, int]] = []
    for row in rows:  # aggregated rows: at most (events + 1) x steps
        if row["event"] is None:
            histogram[row["step"]] += row["paths"]
        else:
            found.append((row["step"], row["event"], row["paths"]))
    total = sum(histogram)
    sign = -1 if direction == "before" else 1
    boundary = START if direction == "before" else END
    over_by = 0
    for step in range(1, steps + 1):  # over at step k: paths over at some step <= k
        over_by += histogram[step]
        if over_by:
            found.append((step, boundary, over_by))
    result = tuple(
        StepCell(sign * step, event, paths, paths / total)
        for step, event, paths in sorted(found, key=lambda c: (c[0], c[1] == boundary, c[1]))
    )
    return StepMatrix(result, paths=total, steps=steps, direction=direction, anchor=anchor, by=by)


def _step_positions(path: ir.Table, direction: Direction, steps: int) -> tuple[Any, Any, Any]:
    """(rows with ``_step``: how many steps from the start or anchor, counting the
    direction; one row per path counted; the first step at which that path is over)."""
    lasts = path.filter(path.next_ts.isnull())  # one per path
    if direction == "start":
        return path.mutate(_step=path.pos + 1), lasts, lasts.pos + 2
    anchors = _first_anchors(path)
    if direction == "before":
        near = path.join(anchors, "path_id")
        near = near.filter((near.pos < near._at) & (near.pos >= near._at - steps))
        return near.mutate(_step=near._at - near.pos), anchors, anchors._at + 1
    near = path.join(anchors, "path_id")
    near = near.filter((near.pos > near._at) & (near.pos <= near._at + steps))
    ended = lasts.join(anchors, "path_id")
    return near.mutate(_step=near.pos - near._at), ended, ended.pos - ended._at + 1


# --- Sankey --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SankeyNode:
    """Paths at ``event`` on ``step`` (0 = the anchor; START/END where paths begin or end)."""

    step: int
    event: str
    paths: int


@dataclass(frozen=True)
class SankeyLink:
    """Paths going from (``source_step``, ``source``) to the next step's ``target``."""

    source_step: int
    source: str
    target_step: int
    target: str
    paths: int


@dataclass(frozen=True)
class Sankey(AnalysisResult):
    """Flows of paths between (step, event) nodes.

    >>> s = Sankey((SankeyLink(1, "view", 2, "cart", 3),), steps=2)
    >>> [(n.step, n.event, n.paths) for n in s.nodes]
    [(1, 'view', 3), (2, 'cart', 3)]
    """

    links: tuple[SankeyLink, ...]
    steps: int
    direction: Direction = "start"
    anchor: str | None = None
    by: PathBy = PathBy.customer
    nodes: tuple[SankeyNode, ...] = field(init=False)

    def __post_init__(self) -> None:
        inflow: dict[tuple[int, str], int] = {}
        outflow: dict[tuple[int, str], int] = {}
        for link in self.links:
            source, target = (link.source_step, link.source), (link.target_step, link.target)
            outflow[source] = outflow.get(source, 0) + link.paths
            inflow[target] = inflow.get(target, 0) + link.paths
        keys = sorted(
            set(inflow) | set(outflow),
            key=lambda k: (k[0], -max(inflow.get(k, 0), outflow.get(k, 0)), k[1]),
        )
        nodes = tuple(
            SankeyNode(
                step, event, max(inflow.get((step, event), 0), outflow.get((step, event), 0))
            )
            for step, event in keys
        )
        object.__setattr__(self, "nodes", nodes)

    def to_frame(self) -> pd.DataFrame:
        columns = [f.name for f in SankeyLink.__dataclass_fields__.values()]
        return pd.DataFrame([vars(link) for link in self.links], columns=columns)

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by.value,
            "direction": self.direction,
            "anchor": self.anchor,
            "steps": self.steps,
            "nodes": [json_ready(vars(node)) for node in self.nodes],
            "links": [json_ready(vars(link)) for link in self.links],
        }

    def chart(self) -> go.Figure:
        """A Plotly Sankey: one column of nodes per step, left to right in time."""
        index = {(node.step, node.event): number for number, node in enumerate(self.nodes)}
        steps = sorted({node.step for node in self.nodes})
        span = max(len(steps) - 1, 1)
        column = {step: 0.001 + 0.998 * number / span for number, step in enumerate(steps)}
        # Plotly keeps node positions only when both x and y are given (else it moves
        # every node without outgoing links, END included, to the last column): stack
        # each step's nodes top-down in their order (most paths first, END last).
        ordered = sorted(self.nodes, key=lambda n: (n.step, n.event in (START, END)))
        height = {step: sum(n.paths for n in self.nodes if n.step == step) for step in steps}
        top: dict[tuple[int, str], float] = {}
        filled = dict.fromkeys(steps, 0)
        for node in ordered:  # the nodes (steps x events), not paths
            top[(node.step, node.event)] = (filled[node.step] + node.paths / 2) / height[node.step]
            filled[node.step] += node.paths
        figure = go.Figure(
            go.Sankey(
                arrangement="snap",
                node={
                    "label": [node.event for node in self.nodes],
                    "x": [column[node.step] for node in self.nodes],
                    "y": [0.01 + 0.9 * top[(n.step, n.event)] for n in self.nodes],
                    "customdata": [node.step for node in self.nodes],
                    "hovertemplate": "step %{customdata}: %{label}<br>%{value:,} paths"
                    "<extra></extra>",
                    "pad": 4,
                },
                link={
                    "source": [index[(link.source_step, link.source)] for link in self.links],
                    "target": [index[(link.target_step, link.target)] for link in self.links],
                    "value": [link.paths for link in self.links],
                },
            )
        )
        where = _where(self.direction, self.anchor)
        figure.update_layout(title=f"{self.steps} steps {where} ({self.by.value} paths)")
        return figure


def sankey(
    events: ir.Table,
    *,
    steps: int = 5,
    after: str | None = None,
    before: str | None = None,
    by: PathBy | str = PathBy.customer,
    journey: Journey | None = None,
) -> Sankey:
    """Flows over ``steps`` steps: from the path's start (steps 1..N), or from the first
    occurrence of ``after`` (step 0) to N steps after it, or from N steps before the
    first ``before`` to it (steps -N..0). A path that ends inside the window flows into
    an ``END`` node; looking back, one that begins inside it flows out of ``START``.

    >>> from jornada.engine import Engine
    >>> events = Engine.duckdb().con.sql(
    ...     "SELECT 'a' AS customer_id, 0 AS idx, 'view' AS event, TIMESTAMP '2026-01-01' AS ts,"
    ...     " NULL::VARCHAR AS next_event, NULL::TIMESTAMP AS next_ts")
    >>> [(l.source, l.target, l.paths) for l in sankey(events, steps=3).links]
    [('view', 'END', 1)]
    """
    by, anchor, direction, path = _anchored_paths(events, steps, after, before, by, journey)
    links = _sankey_links(path, direction, steps)
    rows = _run(
        links.group_by("source_step", "source", "target_step", "target")
        .agg(paths=links.count())
        .order_by(["source_step", ibis.desc("paths"), "source", "target"])
    )
    return Sankey(
        tuple(SankeyLink(**row) for row in rows),
        steps=steps,
        direction=direction,
        anchor=anchor,
        by=by,
    )


def _sankey_links(path: ir.Table, direction: Direction, steps: int) -> ir.Table:
    """One row per path and step inside the window: (source_step, source, target_step, target)."""
    if direction == "start":
        near = path.filter(path.pos < steps - 1)
        return near.select(
            source_step=(near.pos + 1).cast("int64"),
            source=near.event,
            target_step=(near.pos + 2).cast("int64"),
            target=near.next_event.fill_null(END),
        )
    anchors = _first_anchors(path)
    near = path.join(anchors, "path_id")
    relative = (near.pos - near._at).cast("int64")
    flows = near.select(
        source_step=relative,
        source=near.event,
        target_step=relative + 1,
        target=near.next_event.fill_null(END),
    )
    if direction == "after":
        return flows.filter((flows.source_step >= 0) & (flows.source_step < steps))
    flows = flows.filter((flows.source_step >= -steps) & (flows.source_step < 0))
    firsts = near.filter((near.pos == 0) & (near._at < steps))
    begins = firsts.select(
        source_step=(-firsts._at - 1).cast("int64"),
        source=ibis.literal(START),
        target_step=(-firsts._at).cast("int64"),
        target=firsts.event,
    )
    return flows.union(begins)


# --- variants and path patterns --------------------------------------------------------------


@dataclass(frozen=True)
class PathPattern:
    """Which paths to keep: each of ``sequences`` occurs in order (later, not necessarily
    next), and none of ``excluded`` occurs anywhere. Combine patterns with ``&``.

    Steps are event names, rules (``channel = 'phone'``) or a map's touchpoint/stage ids.

    >>> pattern = contains_sequence(["cart", "support_ticket"]) & excludes("purchase")
    >>> pattern
    PathPattern(sequences=(('cart', 'support_ticket'),), excluded=('purchase',))
    >>> str(pattern)
    'cart … support_ticket, without purchase'
    """

    sequences: tuple[tuple[str, ...], ...] = ()
    excluded: tuple[str, ...] = ()

    def __and__(self, other: PathPattern) -> PathPattern:
        return PathPattern(self.sequences + other.sequences, self.excluded + other.excluded)

    def __str__(self) -> str:
        parts = [" … ".join(sequence) for sequence in self.sequences]
        if self.excluded:
            parts.append("without " + ", ".join(self.excluded))
        return ", ".join(parts) or "any path"

    @property
    def is_empty(self) -> bool:
        return not self.sequences and not self.excluded


def contains_sequence(steps: Sequence[str]) -> PathPattern:
    """Paths where ``steps`` occur in this order, each strictly later than the one before
    (other events may come between).

    >>> contains_sequence(["cart", "support_ticket"]).sequences
    (('cart', 'support_ticket'),)
    """
    sequence = tuple(step.strip() for step in steps if step.strip())
    if not sequence:
        raise ValueError("a sequence needs at least one step")
    return PathPattern(sequences=(sequence,))


def excludes(*steps: str) -> PathPattern:
    """Paths where none of ``steps`` occurs.

    >>> excludes("purchase", "refund").excluded
    ('purchase', 'refund')
    """
    return PathPattern(excluded=tuple(step.strip() for step in steps if step.strip()))


def matching_paths(
    events: ir.Table,
    pattern: PathPattern,
    *,
    by: PathBy | str = PathBy.customer,
    journey: Journey | None = None,
) -> ir.Table:
    """The ids (column ``path_id``) of the paths matching ``pattern``, as an Ibis table.

    >>> from jornada.engine import Engine
    >>> events = Engine.duckdb().con.sql(
    ...     "SELECT 'a' AS customer_id, 0 AS idx, 'cart' AS event, TIMESTAMP '2026-01-01' AS ts,"
    ...     " NULL::VARCHAR AS next_event, NULL::TIMESTAMP AS next_ts")
    >>> matching_paths(events, excludes("purchase")).execute().path_id.tolist()
    ['a']
    >>> matching_paths(events, contains_sequence(["cart", "cart"])).count().execute()
    0
    """
    texts = sorted({*(s for seq in pattern.sequences for s in seq), *pattern.excluded})
    flags = _conditions(texts, events, journey)
    column = {text: f"_f{number}" for number, text in enumerate(texts)}
    path = path_events(events, by, flags=flags)
    return _matching(path, pattern, column)


def _matching(path: ir.Table, pattern: PathPattern, column: Mapping[str, str]) -> ir.Table:
    found: ir.Table | None = None
    for sequence in pattern.sequences:  # loops over the pattern's steps, not over events
        hits = path.filter(path[column[sequence[0]]])
        reached = hits.group_by("path_id").agg(_at=hits.pos.min())
        for step in sequence[1:]:
            later = path.filter(path[column[step]]).join(reached, "path_id")
            later = later.filter(later.pos > later._at)
            reached = later.group_by("path_id").agg(_at=later.pos.min())
        ids = reached.select("path_id")
        found = ids if found is None else found.semi_join(ids, "path_id").select("path_id")
    if found is None:
        found = path.filter(path.next_ts.isnull()).select("path_id")  # one row per path
    for step in pattern.excluded:
        found = found.anti_join(path.filter(path[column[step]]), "path_id").select("path_id")
    return found


@dataclass(frozen=True)
class Variant:
    """One whole path (event sequence) and how many paths follow it exactly."""

    events: tuple[str, ...]
    paths: int
    share: float


@dataclass(frozen=True)
class Variants(AnalysisResult):
    """The most common whole paths.

    >>> v = Variants((Variant(("view", "cart"), 3, 0.75),), paths=4, distinct=2, top=10)
    >>> v.to_frame().to_dict("records")
    [{'rank': 1, 'path': 'view → cart', 'steps': 2, 'paths': 3, 'share': 0.75}]
    """

    variants: tuple[Variant, ...]
    paths: int
    """Paths counted (those matching the pattern)."""
    distinct: int
    """Distinct variants among them (the top ones are listed)."""
    top: int
    collapse_repeats: bool = False
    pattern: PathPattern = field(default_factory=PathPattern)
    by: PathBy = PathBy.customer

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "rank": rank,
                    "path": " → ".join(variant.events),
                    "steps": len(variant.events),
                    "paths": variant.paths,
                    "share": variant.share,
                }
                for rank, variant in enumerate(self.variants, start=1)
            ],
            columns=["rank", "path", "steps", "paths", "share"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by.value,
            "paths": self.paths,
            "distinct": self.distinct,
            "top": self.top,
            "collapse_repeats": self.collapse_repeats,
            "pattern": {
                "sequences": [list(s) for s in self.pattern.sequences],
                "excluded": list(self.pattern.excluded),
            },
            "variants": [
                {"events": list(v.events), "paths": v.paths, "share": v.share}
                for v in self.variants
            ],
        }

    def chart(self) -> go.Figure:
        """Horizontal bars: the share of paths following each variant, the most common on top."""
        frame = self.to_frame()
        labels = [_shorten(path) for path in frame["path"]]
        figure = go.Figure(
            go.Bar(
                x=frame["share"],
                y=labels,
                orientation="h",
                customdata=frame[["path", "paths"]].to_numpy(),
                hovertemplate="%{customdata[0]}<br>%{customdata[1]:,} paths (%{x:.1%})"
                "<extra></extra>",
            )
        )
        title = f"Top {len(frame)} of {self.distinct:,} path variants ({self.paths:,} paths)"
        if not self.pattern.is_empty:
            title += f": {self.pattern}"
        figure.update_layout(
            title=title, xaxis_tickformat=".0%", yaxis_autorange="reversed", xaxis_title="share"
        )
        return figure


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def variants(
    events: ir.Table,
    *,
    top: int = 20,
    collapse_repeats: bool = False,
    pattern: PathPattern | None = None,
    by: PathBy | str = PathBy.customer,
    journey: Journey | None = None,
) -> Variants:
    """The ``top`` most common whole paths (ties by the sequence's text), with counts and
    shares of the paths counted. ``collapse_repeats`` turns ``a a b`` into ``a b``
    before comparing; ``pattern`` keeps only the paths matching it.

    The sequence of a path is built without an ordered ``group_concat`` (which Spark
    lacks): an array of (position, event) structs is collected, sorted (by position,
    the first field), mapped to the event names and joined into a string key.

    >>> from jornada.engine import Engine
    >>> events = Engine.duckdb().con.sql(
    ...     "SELECT 'a' AS customer_id, 0 AS idx, 'cart' AS event, TIMESTAMP '2026-01-01' AS ts,"
    ...     " NULL::VARCHAR AS next_event, NULL::TIMESTAMP AS next_ts")
    >>> variants(events).variants
    (Variant(events=('cart',), paths=1, share=1.0),)
    """
    if top < 1:
        raise ValueError("top must be at least 1")
    by = PathBy(by)
    pattern = pattern or PathPattern()
    texts = sorted({*(s for seq in pattern.sequences for s in seq), *pattern.excluded})
    column = {text: f"_f{number}" for number, text in enumerate(texts)}
    path = path_events(events, by, flags=_conditions(texts, events, journey))
    if not pattern.is_empty:
        path = path.semi_join(_matching(path, pattern, column), "path_id")
    if collapse_repeats:  # keep the last event of each run of one event
        path = path.filter(path.next_ts.isnull() | (path.next_event != path.event))
    ordered = ibis.struct({"pos": path.pos, "event": path.event}).collect().sort()
    keys = path.group_by("path_id").agg(_key=ordered.map(lambda item: item.event).join(_SEPARATOR))
    counted = keys.group_by("_key").agg(paths=keys.count())
    counted = counted.mutate(
        _total=counted.paths.sum().over(), _distinct=counted.paths.count().over()
    )
    rows = _run(counted.order_by([ibis.desc("paths"), "_key"]).limit(top))
    total = rows[0]["_total"] if rows else 0
    distinct = rows[0]["_distinct"] if rows else 0
    return Variants(
        tuple(
            Variant(tuple(row["_key"].split(_SEPARATOR)), row["paths"], row["paths"] / total)
            for row in rows
        ),
        paths=total,
        distinct=distinct,
        top=top,
        collapse_repeats=collapse_repeats,
        pattern=pattern,
        by=by,
    )
