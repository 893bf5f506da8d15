"""Designed vs actual: how real journeys follow the stages of a map.

Semantics (``tests/oracles/conformance.py`` is the brute-force reference):

* **Stage of an event**: the one :func:`~jornada.events.binding.label_events` gives it
  (the stage of the first touchpoint in map order whose ``events:`` block matches, else
  the first stage whose own block does). Stages are numbered in map order from 0.
* **Stage path** of a customer: the stages of their events in order (``ts``, then load
  order), events of no stage left out, consecutive repeats collapsed: ``A A B A C`` is
  ``A B A C``. Customers *in the map* have at least one event of a stage.
* A **move** is a pair of consecutive stages of a path. It is **forward** when it goes
  to a later stage, **backward** when to an earlier one.
* **Conforming**: the path starts at the first stage and every move goes to the next
  stage: a prefix of the design (``A``, ``A B``, ``A B C``...). A customer still on the
  way conforms. **In order**: no backward move (stages may be skipped).
* **Skipped**: a customer skipped stage k when they never had an event of k but had one
  of a later stage (starting at the third stage skips the first two).
* **Loops**: a customer re-enters a stage when it appears again in their path after
  they left it (``A B A``: one re-entry of A). A backward move to a stage never visited
  before is not a loop; a forward move back into a stage left earlier is.
* **Outside the map**: events of no stage (count and share of all events), and the
  time spent on them: each event is followed by the time to the next event of its
  session (the customer's next event with the same session id, wherever it falls:
  decision 0006; the last event of a session has none). Without a ``session_id`` column
  every gap to the customer's next event counts. Times are whole seconds (timestamps truncated).
* **Deviating paths**: the stage paths of the customers who do not conform, the most
  common first (ties by the stage sequence), with counts and shares of the customers in
  the map.

Everything is computed in the engine with portable Ibis (window functions, aggregates,
an array of (position, stage) structs sorted for the path keys): no loop over events.

>>> from jornada.engine import Engine
>>> from jornada.model import EventBinding, Journey, Stage, Touchpoint
>>> engine = Engine.duckdb()
>>> events = engine.con.sql("select * from (values "
...     "('a', 0, 'view'), ('a', 1, 'buy'), ('a', 2, 'use'),"
...     "('b', 0, 'view'), ('b', 1, 'use'), ('b', 2, 'view'), ('b', 3, 'help')"
...     ") t(customer_id, idx, event)").mutate(ts=ibis.timestamp("2026-01-01 00:00:00"))
>>> def stage(id, name):
...     return Stage(id=id, name=id.title(), touchpoints=[
...         Touchpoint(id=f"{id}_tp", name=id, events=EventBinding(names=[name]))])
>>> shop = Journey(id="shop", title="Shop",
...                stages=[stage("browse", "view"), stage("buy", "buy"), stage("use", "use")])
>>> result = conformance(events, shop)
>>> result.customers, result.conforming, result.stage("buy").skipped
(2, 1, 1)
>>> [(p.stages, p.customers) for p in result.paths]
[(('browse', 'use', 'browse'), 1)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Final

import ibis
import ibis.expr.types as ir
import pandas as pd
import plotly.graph_objects as go

from jornada.analytics.results import AnalysisResult, json_ready, wilson_interval
from jornada.analytics.segments import with_positions
from jornada.analytics.stages import (
    StagePaths,
    StageTables,
    event_labels,
    stage_path_counts,
    stage_visits,
)
from jornada.errors import JornadaError
from jornada.events.filters import EventScope, customer_column, scope_events
from jornada.model import Journey

__all__ = [
    "DEFAULT_TOP",
    "BackwardMove",
    "Conformance",
    "ConformanceError",
    "DeviatingPath",
    "StageConformance",
    "conformance",
    "stage_paths",
]

DEFAULT_TOP: Final = 10
"""How many deviating paths (and unmapped event names) a result lists."""


class ConformanceError(JornadaError):
    """The map cannot be compared with the events (no stage is bound)."""


def _seconds(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Whole seconds since the epoch, truncated first (so DuckDB and Spark agree)."""
    return ts.truncate("s").epoch_seconds().cast("int64")


_FACTS: Final = ("session_next_ts",)
"""The store's per-event facts the time in sessions can be read from (see :func:`_outside`)."""


def _labelled(events: ir.Table, journey: Journey) -> ir.Table:
    """Every event reduced to what :func:`~jornada.analytics.stages.stage_visits` and :func:`_outside` read: the
    customer (:func:`~jornada.events.filters.customer_column`: the integer
    ``customer_no`` when the events have it), ``idx``, ``ts``, ``event``, ``stage_index``
    (null outside the map), and ``session_id``, ``session_next_ts`` when the events have
    them.

    The stage is labelled first, so anything sorting these rows carries narrow rows (keys,
    times, the session, a stage number) rather than the properties and the rules' inputs.
    """
    labelled, _ = event_labels(journey, with_positions(events))
    carried = [c for c in ("session_id", *_FACTS) if c in labelled.columns]
    key = customer_column(labelled)
    return labelled.select(key, "idx", "ts", "event", "stage_index", *carried)


def _with_gaps(labelled: ir.Table, key: str) -> ir.Table:
    """``labelled`` (every event with the customer ``key``, ``idx``, ``ts``,
    ``stage_index`` and ``session_id`` when there are sessions) with ``gap_seconds``: the
    time to the next event of the same session (decision 0006: the customer's next event
    with the same session id, wherever it falls in the path), found by sorting the
    events."""
    session = ["session_id"] if "session_id" in labelled.columns else []
    narrow = labelled.select(key, "idx", "ts", "stage_index", *session)
    window = ibis.window(group_by=[narrow[c] for c in (key, *session)], order_by=narrow["idx"])
    next_ts = narrow["ts"].lead().over(window)
    if session:  # events without a session id are in none
        next_ts = ibis.ifelse(narrow["session_id"].notnull(), next_ts, ibis.null(next_ts.type()))
    gap = ibis.cases(
        (next_ts.notnull(), _seconds(next_ts) - _seconds(narrow["ts"])),
        else_=ibis.literal(0, type="int64"),
    )
    return narrow.select(key, "stage_index", gap_seconds=gap)


def _with_stored_gaps(labelled: ir.Table) -> ir.Table:
    """``labelled`` (with the store's ``session_next_ts``) with ``gap_seconds``: the time
    to the next event of the same session, else 0: one column over the events, no sort
    and no join. (A scope that drops events from paths recomputes the fact.)
    """
    following = labelled["session_next_ts"]
    gap = ibis.cases(
        (following.notnull(), _seconds(following) - _seconds(labelled["ts"])),
        else_=ibis.literal(0, type="int64"),
    )
    return labelled.select("stage_index", gap_seconds=gap)


def _outside(labelled: ir.Table, key: str, facts: bool, total: int | None = None) -> dict[str, Any]:
    """Customers and events in all, events outside the map, and the time to the next
    event in the same session, in all and after events outside the map (see the module),
    read from the stored facts when ``facts`` (:func:`_with_stored_gaps`). ``total``: the
    customers, when known (not counted again)."""
    outside_map = labelled["stage_index"].isnull()
    customers = ibis.literal(total, type="int64") if total is not None else labelled[key].nunique()
    counts = labelled.aggregate(
        total_customers=customers,
        events=labelled.count(),
        unmapped_events=outside_map.cast("int64").sum(),
    )
    gapped = _with_stored_gaps(labelled) if facts else _with_gaps(labelled, key)
    unmapped = gapped["stage_index"].isnull()
    seconds = gapped.aggregate(
        seconds=gapped["gap_seconds"].sum(),
        unmapped_seconds=ibis.cases(
            (unmapped, gapped["gap_seconds"]), else_=ibis.literal(0, type="int64")
        ).sum(),
    )
    [row] = _rows(counts.cross_join(seconds))
    return row


def stage_paths(events: ir.Table, journey: Journey) -> ir.Table:
    """One row per customer in the map: ``customer_id`` and ``path``, their collapsed
    stage path as an array of stage ids.

    >>> import ibis
    >>> from jornada.model.templates import load_template
    >>> events = ibis.table({"customer_id": "string", "ts": "timestamp", "event": "string",
    ...     "channel": "string", "properties": "map<string, string>", "idx": "int64"}, name="events")
    >>> stage_paths(events, load_template("b2c-ecommerce")).columns
    ('customer_id', 'path')
    """
    labelled, _ = event_labels(journey, with_positions(events))
    visits = stage_visits(labelled)
    ids = [stage.id for stage in journey.ordered_stages()]
    stage_id = visits["stage_index"].substitute(
        {k: ibis.literal(stage_id, type="string") for k, stage_id in enumerate(ids)},
        else_=ibis.null("string"),
    )
    ordered = ibis.struct({"idx": visits["idx"], "stage": stage_id}).collect().sort()
    return visits.group_by("customer_id").aggregate(path=ordered.map(lambda item: item.stage))


# --- results --------------------------------------------------------------------------


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class StageConformance:
    """One stage: customers who visited it, skipped it (see the module), re-entered it,
    and the backward moves leaving it (``backward_out``) and arriving (``backward_in``).
    ``beyond`` counts the customers who reached a later stage (those who could skip it).
    """

    stage_id: str
    name: str
    index: int
    visited: int
    beyond: int
    skipped: int
    looped: int
    reentries: int
    backward_out: int
    backward_in: int

    @property
    def skipped_share(self) -> float | None:
        """Of the customers who reached a later stage, the share who skipped this one."""
        return _share(self.skipped, self.beyond)

    def to_dict(self) -> dict[str, Any]:
        ready: dict[str, Any] = json_ready(
            {
                "stage_id": self.stage_id,
                "name": self.name,
                "index": self.index,
                "visited": self.visited,
                "beyond": self.beyond,
                "skipped": self.skipped,
                "skipped_share": self.skipped_share,
                "looped": self.looped,
                "reentries": self.reentries,
                "backward_out": self.backward_out,
                "backward_in": self.backward_in,
            }
        )
        return ready


@dataclass(frozen=True)
class BackwardMove:
    """Backward moves from one stage to an earlier one: how many, by how many customers."""

    from_stage: str
    to_stage: str
    moves: int
    customers: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "from_stage": self.from_stage,
            "to_stage": self.to_stage,
            "moves": self.moves,
            "customers": self.customers,
        }


@dataclass(frozen=True)
class DeviatingPath:
    """A stage path that does not conform, with its customers and their share of the
    customers in the map."""

    stages: tuple[str, ...]
    customers: int
    share: float

    def to_dict(self) -> dict[str, Any]:
        return {"stages": list(self.stages), "customers": self.customers, "share": self.share}


@dataclass(frozen=True)
class Conformance(AnalysisResult):
    """How the customers' journeys follow the designed stages (see the module).

    Counts of customers are of the customers in the map (``customers``) unless named
    otherwise; ``total_customers`` have any event. ``moves`` counts every move of every
    path, ``backward_moves`` the backward ones; ``backward_customers`` made at least one.
    ``looping_customers`` re-entered some stage; ``reentries`` counts re-entries.
    ``events`` and ``seconds`` are totals over all events; ``unmapped_events`` and
    ``unmapped_seconds`` those of events of no stage; ``outside_customers`` never had an
    event of a stage. ``unmapped`` lists the most frequent event names of no stage.
    """

    journey_id: str
    total_customers: int
    customers: int
    conforming: int
    in_order: int
    moves: int
    backward_moves: int
    backward_customers: int
    looping_customers: int
    reentries: int
    events: int
    unmapped_events: int
    seconds: int
    unmapped_seconds: int
    outside_customers: int
    stages: tuple[StageConformance, ...]
    backward: tuple[BackwardMove, ...]
    deviating: int
    distinct_deviating: int
    paths: tuple[DeviatingPath, ...]
    unmapped: tuple[tuple[str | None, int], ...]
    top: int = DEFAULT_TOP
    scope: EventScope = field(default_factory=EventScope)
    """The events compared (a period, a segment, channels; everything by default)."""

    def stage(self, stage_id: str) -> StageConformance:
        """The figures of one stage, by id."""
        return next(s for s in self.stages if s.stage_id == stage_id)

    @property
    def conforming_share(self) -> float | None:
        return _share(self.conforming, self.customers)

    @property
    def conforming_interval(self) -> tuple[float, float]:
        """95% Wilson interval of the conforming share."""
        return wilson_interval(self.conforming, self.customers)

    @property
    def in_order_share(self) -> float | None:
        return _share(self.in_order, self.customers)

    @property
    def backward_share(self) -> float | None:
        """Share of the moves that go backward."""
        return _share(self.backward_moves, self.moves)

    @property
    def backward_customer_share(self) -> float | None:
        return _share(self.backward_customers, self.customers)

    @property
    def looping_share(self) -> float | None:
        return _share(self.looping_customers, self.customers)

    @property
    def unmapped_event_share(self) -> float | None:
        return _share(self.unmapped_events, self.events)

    @property
    def unmapped_time_share(self) -> float | None:
        return _share(self.unmapped_seconds, self.seconds)

    def to_frame(self) -> pd.DataFrame:
        """One row per stage, in map order."""
        columns = [
            "stage_id",
            "name",
            "index",
            "visited",
            "beyond",
            "skipped",
            "skipped_share",
            "looped",
            "reentries",
            "backward_out",
            "backward_in",
        ]
        frame = pd.DataFrame([s.to_dict() for s in self.stages], columns=columns)
        return frame.astype({"skipped_share": "float64"})

    def to_dict(self) -> dict[str, Any]:
        low, high = self.conforming_interval
        ready: dict[str, Any] = json_ready(
            {
                "journey_id": self.journey_id,
                "scope": self.scope.to_dict(),
                "total_customers": self.total_customers,
                "customers": self.customers,
                "conforming": self.conforming,
                "conforming_share": self.conforming_share,
                "conforming_low": low,
                "conforming_high": high,
                "in_order": self.in_order,
                "in_order_share": self.in_order_share,
                "moves": self.moves,
                "backward_moves": self.backward_moves,
                "backward_share": self.backward_share,
                "backward_customers": self.backward_customers,
                "backward_customer_share": self.backward_customer_share,
                "looping_customers": self.looping_customers,
                "looping_share": self.looping_share,
                "reentries": self.reentries,
                "outside": {
                    "events": self.events,
                    "unmapped_events": self.unmapped_events,
                    "unmapped_event_share": self.unmapped_event_share,
                    "seconds": self.seconds,
                    "unmapped_seconds": self.unmapped_seconds,
                    "unmapped_time_share": self.unmapped_time_share,
                    "outside_customers": self.outside_customers,
                    "unmapped": [{"event": name, "events": count} for name, count in self.unmapped],
                },
                "stages": [s.to_dict() for s in self.stages],
                "backward": [b.to_dict() for b in self.backward],
                "deviating": self.deviating,
                "distinct_deviating": self.distinct_deviating,
                "paths": [p.to_dict() for p in self.paths],
            }
        )
        return ready

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        def pct(value: float | None) -> str:
            return "–" if value is None else f"{value:.1%}"

        summary = Text(
            f"Map {self.journey_id!r}: {self.customers:,} of {self.total_customers:,} "
            f"customers in the map; {self.conforming:,} ({pct(self.conforming_share)}) "
            f"follow the designed order, {self.in_order:,} ({pct(self.in_order_share)}) "
            f"never go back. Backward moves: {self.backward_moves:,} of {self.moves:,} "
            f"({pct(self.backward_share)}); loops: {self.looping_customers:,} customers. "
            f"Outside the map: {pct(self.unmapped_event_share)} of events, "
            f"{pct(self.unmapped_time_share)} of time in sessions."
        )
        paths = Text(
            "\n".join(
                f"  {p.customers:>7,}  {p.share:6.1%}  {' > '.join(p.stages)}" for p in self.paths
            )
        )
        parts: list[Any] = [summary, super().__rich__()]
        if self.paths:
            parts += [Text("Most frequent deviating paths:"), paths]
        return Group(*parts)

    def chart(self) -> go.Figure:
        """Per stage: visited, skipped, re-entered, left backward."""
        names = [s.name for s in self.stages]
        figure = go.Figure(
            [
                go.Bar(name="visited", x=names, y=[s.visited for s in self.stages]),
                go.Bar(name="skipped", x=names, y=[s.skipped for s in self.stages]),
                go.Bar(name="re-entered", x=names, y=[s.looped for s in self.stages]),
                go.Bar(name="went back from", x=names, y=[s.backward_out for s in self.stages]),
            ]
        )
        share = self.conforming_share
        shown = "–" if share is None else f"{share:.1%}"
        figure.update_layout(
            title=f"Designed vs actual: {shown} of customers follow the designed order",
            barmode="group",
            yaxis_title="customers",
        )
        return figure


# --- computing ------------------------------------------------------------------------


def _int(value: Any) -> int:
    return 0 if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)


def _rows(expr: ir.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows


def conformance(
    events: ir.Table,
    journey: Journey,
    *,
    top: int = DEFAULT_TOP,
    scope: EventScope | None = None,
    stage_tables: StageTables | None = None,
    facts: bool = False,
) -> Conformance:
    """Compare the customers' stage paths with the map's designed order (see the module),
    on the events of ``scope`` (:func:`~jornada.events.filters.scope_events`; all by
    default), which the result records.

    ``stage_tables``: the :class:`~jornada.analytics.stages.StageTables` of ``events`` and
    this map (built without ``as_of``), whose labelled events are then reused instead of
    evaluating the binding rules again: the same numbers, and ``events`` are not read.
    They are of events already scoped, so ``scope`` cannot be given with them (record a
    scope with :func:`dataclasses.replace`, as :func:`~jornada.living.living_map` does).

    ``facts``: the events' ``session_next_ts`` is the store's
    (:mod:`jornada.engine.store`) for these very events (``Workspace.events()``, scoped
    or not: :func:`~jornada.events.filters.scope_events` recomputes them), not of a table
    filtered since; the time to the next event in the session is then read from them
    instead of sorting the events again (the same numbers).

    Raises :class:`ConformanceError` when no stage of the map has an ``events:`` binding
    (on its touchpoints or itself): there is nothing to compare.

    >>> import ibis
    >>> from jornada.analytics.stages import StageTables
    >>> from jornada.engine import Engine
    >>> from jornada.model.templates import load_template
    >>> engine = Engine.duckdb()
    >>> _ = engine.sql("create table events as select * from (values "
    ...     "('ana', timestamp '2026-01-01', 'add_to_cart', 'web', 0, map {}::map(varchar, varchar)),"
    ...     "('ana', timestamp '2026-01-02', 'purchase', 'web', 1, map {}::map(varchar, varchar)))"
    ...     " t(customer_id, ts, event, channel, idx, properties)")
    >>> shop, events = load_template("b2c-ecommerce"), engine.table("events")
    >>> with StageTables(events, shop) as tables:
    ...     shared = conformance(events, shop, stage_tables=tables)
    >>> shared == conformance(events, shop), shared.customers
    (True, 1)
    """
    if top < 1:
        raise ValueError("top must be at least 1")
    stages = journey.ordered_stages()
    bound = any(
        stage.events is not None or any(tp.events is not None for tp in stage.touchpoints)
        for stage in stages
    )
    if not bound:
        raise ConformanceError(
            f"no stage of map {journey.id!r} is bound to events: add an 'events:' block "
            "to its touchpoints (jornada bind shows what matches)"
        )
    n = len(stages)
    if stage_tables is not None:
        if scope is not None:
            raise ValueError("stage_tables are of events already scoped: give no scope with them")
        if not stage_tables.complete:
            raise ValueError(
                "stage_tables built with as_of leave later events out: build them without"
            )
        if stage_tables.journey != journey:
            raise ValueError(f"stage_tables are not of map {journey.id!r}")
        # The stage tables' labelled events and visits are cached already. Tables built
        # with facts keep no session id: their facts give the time in sessions.
        shared, key = stage_tables.labelled, stage_tables.key
        stored = (facts or stage_tables.facts) and all(c in shared.columns for c in _FACTS)
        return _measure(
            shared,
            stage_tables.paths,
            journey,
            top,
            key=key,
            facts=stored,
            total=stage_tables.total_customers,
        )
    scope = scope if scope is not None else EventScope()
    labelled = _labelled(scope_events(events, scope), journey)
    key = customer_column(labelled)
    stored = facts and all(c in labelled.columns for c in _FACTS)
    # Each intermediate table is read by several queries: computed once (a temporary
    # table on DuckDB, a cached DataFrame on Spark) and released at the end.
    with labelled.cache() as cached:
        counted = stage_path_counts(stage_visits(cached, key), key).to_pyarrow()
        paths = StagePaths.of(counted, n)
        measured = _measure(cached, paths, journey, top, key=key, facts=stored)
        return replace(measured, scope=scope)


def _measure(
    labelled: ir.Table,
    paths: StagePaths,
    journey: Journey,
    top: int,
    *,
    key: str,
    facts: bool,
    total: int | None = None,
) -> Conformance:
    """The result from every event labelled (the customer ``key``, ``idx``, ``ts``,
    ``event``, ``stage_index``, the session and the stored facts as :func:`_labelled`
    keeps them) and the customers' stage paths counted; ``facts``: whether the stored
    facts give the time in sessions; ``total``: the customers with any event, when known.

    Every per-customer figure (conformity, moves, loops, skips, backward moves, the path
    itself) is a function of the customer's collapsed stage path: they are computed on
    the distinct paths, weighted by their customers (:class:`StagePaths`)."""
    stages = journey.ordered_stages()
    n = len(stages)
    ids = [stage.id for stage in stages]
    outside = _outside(labelled, key, facts, total)
    in_map = labelled["stage_index"].notnull()
    unmapped_names = (
        labelled.filter(~in_map)
        .group_by("event")
        .aggregate(events=ibis._.count())
        .order_by([ibis.desc("events"), ibis.asc("event", nulls_first=False)])
        .limit(top)
    )
    unmapped = tuple((row["event"], _int(row["events"])) for row in _rows(unmapped_names))

    summary = paths.conformity()
    backward_rows = paths.backward()
    backward = tuple(
        BackwardMove(ids[source], ids[target], moves, customers)
        for source, target, moves, customers in backward_rows
    )
    out_count = [0] * n
    in_count = [0] * n
    for source, target, moves, _ in backward_rows:
        out_count[source] += moves
        in_count[target] += moves

    customers = _int(summary["customers"])
    ranked, distinct = paths.deviating(top)
    deviating_paths = tuple(
        DeviatingPath(tuple(ids[part] for part in path), count, count / customers)
        for path, count in ranked
    )

    per_stage = tuple(
        StageConformance(
            stage_id=stage.id,
            name=stage.name,
            index=k,
            visited=_int(summary.get(f"visited_{k}")),
            beyond=_int(summary.get(f"beyond_{k}")),
            skipped=_int(summary.get(f"skipped_{k}")),
            looped=_int(summary.get(f"looped_{k}")),
            reentries=_int(summary.get(f"reentries_{k}")),
            backward_out=out_count[k],
            backward_in=in_count[k],
        )
        for k, stage in enumerate(stages)
    )
    return Conformance(
        journey_id=journey.id,
        total_customers=_int(outside["total_customers"]),
        customers=customers,
        conforming=_int(summary["conforming"]),
        in_order=_int(summary["in_order"]),
        moves=_int(summary["moves"]),
        backward_moves=_int(summary["backward_moves"]),
        backward_customers=_int(summary["backward_customers"]),
        looping_customers=_int(summary.get("looping_customers")),
        reentries=sum(s.reentries for s in per_stage),
        events=_int(outside["events"]),
        unmapped_events=_int(outside["unmapped_events"]),
        seconds=_int(outside["seconds"]),
        unmapped_seconds=_int(outside["unmapped_seconds"]),
        outside_customers=_int(outside["total_customers"]) - customers,
        stages=per_stage,
        backward=backward,
        deviating=_int(summary["deviating"]),
        distinct_deviating=distinct,
        paths=deviating_paths,
        unmapped=unmapped,
        top=top,
    )
