"""Where customers are in a journey map: the stages they reached, how long they have been
in the current one, conversion between stages, success milestones, and who has stalled.

Semantics (``tests/oracles/stages.py`` is the brute-force reference):

* **Which stage an event is.** The stage :func:`~jornada.events.binding.label_events`
  gives it: the stage of the first touchpoint, in map order, whose ``events:`` block
  matches, else the first stage whose own block does. One event, one stage (the same
  labels every map-based analysis uses); events the map does not describe have none.
* **Reached.** A customer reached a stage when at least one of their events is that
  stage's. A customer may skip a stage (reach 1 and 3, not 2): the skipped stage does not
  count as reached. Order in time does not matter for reaching.
* **Entering** a stage is the customer's first event of it (order is ``ts`` then load
  order, the ``idx`` fact). Later visits do not re-enter it.
* **Current stage**: the furthest stage, in map order, the customer reached. Going back
  does not count: a customer who reached *Delivery* and then browses products again is
  still in *Delivery*, and their time in it runs from first entering it.
* **Time in stage**: from entering the current stage to ``as_of`` (default: the last
  event in the data; when given, events after it are ignored, so the analysis sees the
  data as it was then).
* **Moving on and dwell.** A customer moved on from a stage when, after entering it,
  they have an event of a *later* stage (in map order). The dwell time is from entering
  the stage to the first such event: entering the next stage they reached.
* **Conversion** from stage k to k+1: among customers who reached k, the share who also
  reached k+1; from the first stage: among customers who reached the first stage, the
  share who reached k. Both with 95% Wilson intervals.
* **Milestones**: a milestone is reached when its ``events:`` block matches an event of
  the customer at or after entering the milestone's stage (the entering event itself
  counts); with ``within``, only when that event comes at most ``within`` after entering.
  A milestone without an ``events:`` block cannot be measured and is reported unbound.
* **Stalled**: a customer is stalled in their current stage when (``slow``) their time in
  it is longer than the chosen percentile of the dwell times of the customers who moved on
  from it, or (``missed milestone ID``) a milestone of that stage with ``within`` was not
  reached and its window is over. A stage nobody moved on from has no threshold (the
  last stage never has one); a milestone without ``within`` is never missed.

Times are counted in whole seconds: timestamps are truncated to the second before any
difference is taken, so every backend (DuckDB, Spark) gives exactly the same numbers.

Percentiles are exact, by the **nearest-rank** method: the p-th percentile of n values is
the value at rank ``ceil(p/100 * n)`` in ascending order (the smallest value with at least
p% of the values at or below it). It is always an observed dwell time; the median is the
50th percentile by the same rule (the lower middle value when n is even). It is computed
with a row number and integer arithmetic, so no backend's own quantile function (exact on
some, approximate on others) is involved.

>>> from jornada.engine import Engine
>>> from jornada.model import EventBinding, Journey, Milestone, Stage, Touchpoint
>>> engine = Engine.duckdb()
>>> _ = engine.sql("create table events as select * from (values "
...     "('a', timestamp '2026-01-01 00:00', 'view', 0), ('a', timestamp '2026-01-03 00:00', 'buy', 1),"
...     "('b', timestamp '2026-01-02 00:00', 'view', 0)) t(customer_id, ts, event, idx)")
>>> def stage(id, *names, milestones=()):
...     return Stage(id=id, name=id.title(), milestones=list(milestones), touchpoints=[
...         Touchpoint(id=f"{id}_tp", name=id, events=EventBinding(names=list(names)))])
>>> shop = Journey(id="shop", title="Shop", stages=[stage("browse", "view"), stage("buy", "buy")])
>>> analysis = analyse_stages(engine.table("events"), shop)
>>> [(s.stage_id, s.reached, s.currently_in, s.conversion_to_next) for s in analysis.stages]
[('browse', 2, 1, 0.5), ('buy', 1, 1, None)]
>>> analysis.stages[0].median_dwell_seconds / 86400
2.0
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Final

import ibis
import ibis.expr.types as ir
import pandas as pd
import plotly.graph_objects as go
import pyarrow as pa

from jornada.analytics.results import AnalysisResult, json_ready, wilson_interval
from jornada.analytics.segments import with_positions
from jornada.engine.kept import StoreMode, kept_table
from jornada.events.binding import binding_filter, touchpoint_filters
from jornada.events.filters import customer_column
from jornada.events.rules import compile_rule
from jornada.model import EventBinding, Journey, Milestone, Stage

__all__ = [
    "DEFAULT_PERCENTILE",
    "RESPONSE_PROPERTIES",
    "MilestoneShare",
    "StageAnalysis",
    "StagePaths",
    "StageReach",
    "StageReachByGroup",
    "StageSummary",
    "StageTables",
    "StalledCustomer",
    "StalledCustomers",
    "analyse_stages",
    "arg_extreme",
    "current_stages",
    "event_labels",
    "find_stalled",
    "milestone_progress",
    "nearest_rank",
    "stage_entries",
    "stage_path_counts",
    "stage_visits",
    "stalled_customers",
    "within_seconds",
]

DEFAULT_PERCENTILE = 80.0
"""The dwell-time percentile above which a customer is ``slow`` in a stage."""

SECONDS_PER_DAY = 86_400
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3_600, "d": SECONDS_PER_DAY, "w": 7 * SECONDS_PER_DAY}


# --- small exact helpers ---------------------------------------------------------------


def within_seconds(within: str) -> int:
    """A milestone's ``within`` (``7d``, ``12h``, ``1.5d``) in whole seconds (rounded down).

    >>> within_seconds("7d"), within_seconds("1.5h"), within_seconds("2w")
    (604800, 5400, 1209600)
    """
    number, unit = within[:-1], within[-1]
    if unit not in _UNIT_SECONDS:
        raise ValueError(f"unknown time unit in {within!r}: use s, m, h, d or w")
    return math.floor(Fraction(number) * _UNIT_SECONDS[unit])


def _fraction(percentile: float) -> Fraction:
    """The percentile as an exact fraction of 100 (``33.3`` is 333/10, not a binary float)."""
    value = Fraction(repr(float(percentile)))
    if not 0 < value <= 100:
        raise ValueError(f"the percentile must be above 0 and at most 100, not {percentile}")
    return value


def nearest_rank(percentile: float, n: int) -> int:
    """The 1-based rank of the ``percentile``-th percentile of ``n`` sorted values:
    ``ceil(percentile / 100 * n)``, computed exactly.

    >>> nearest_rank(80, 5), nearest_rank(80, 6), nearest_rank(50, 4), nearest_rank(100, 3)
    (4, 5, 2, 3)
    """
    return max(1, math.ceil(_fraction(percentile) * n / 100))


def _seconds(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Whole seconds since the epoch: truncated first, so DuckDB (whose epoch has a
    fraction, and whose casts round) and Spark (whose epoch truncates) agree."""
    return ts.truncate("s").epoch_seconds().cast("int64")


def _utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


# --- the pipeline: labelled events, entries, current stages, milestones ---------------


@dataclass(frozen=True)
class _Pipeline:
    journey: Journey
    stages: tuple[Stage, ...]
    touchpoints: tuple[str, ...]  # the ids of the touchpoint numbers
    events: ir.Table  # up to as_of, with idx
    labelled: ir.Table  # key, ts, idx, [event, session_id], stage_index,
    # touchpoint, milestone flags: every event up to as_of, of a stage or not
    latest: ir.Table  # one row: as_of, the last event's time (used when moment is None)
    moment: dt.datetime | None  # as_of when given
    facts: bool  # the events' next_ts is the next event of the customer in these events
    key: str = "customer_id"  # the column naming customers in labelled, entries, milestones

    def with_as_of(self, table: ir.Table) -> ir.Table:
        """``table`` with an ``as_of`` column: the given time, else the last event's."""
        if self.moment is not None:
            return table.mutate(as_of=ibis.literal(self.moment, type="timestamp"))
        return table.cross_join(self.latest)

    def stage_id_of(self, index: ir.IntegerValue) -> ir.StringValue:
        return _lookup(index, {i: s.id for i, s in enumerate(self.stages)})

    def stage_name_of(self, index: ir.IntegerValue) -> ir.StringValue:
        return _lookup(index, {i: s.name for i, s in enumerate(self.stages)})

    def touchpoint_id_of(self, number: ir.IntegerValue) -> ir.StringValue:
        return _lookup(number, dict(enumerate(self.touchpoints)))


def arg_extreme(
    value: ir.IntegerValue, order: ir.IntegerValue, size: int, *, last: bool = True
) -> ir.IntegerValue:
    """The aggregate ``value.argmax(order)`` (``argmin`` when not ``last``) of a small
    ``value`` in ``0 .. size - 1`` and an ``order`` at least 0 and unique in each group
    (``idx`` within a customer): both packed into one integer, ``order * size + value``, whose maximum
    (minimum) is unpacked. An ordered aggregate (what ``argmax`` compiles to) sorts each
    group; this is a plain maximum, with the same answer.

    >>> import ibis
    >>> t = ibis.memtable({"tp": [3, 1, 2], "idx": [0, 2, 1]})
    >>> t.aggregate(last=arg_extreme(t.tp, t.idx, 4), first=arg_extreme(t.tp, t.idx, 4,
    ...     last=False)).to_pyarrow().to_pylist()
    [{'last': 1, 'first': 3}]
    """
    width = max(size, 1)
    packed = order.cast("int64") * width + value.cast("int64")
    extreme = packed.max() if last else packed.min()
    return extreme % width


def _lookup(key: ir.Value, values: dict[Any, str]) -> ir.StringValue:
    if not values:
        return ibis.null("string")
    return ibis.cases(
        *((key == k, ibis.literal(v, type="string")) for k, v in values.items()),
        else_=ibis.null("string"),
    )


_RUNTIME: Final = -2
"""In :func:`_with_touchpoint`'s table, ``_RUNTIME - s``: the event's name and channel
leave a chain ``s`` of rules with a ``where`` first, which only the event decides."""

_MAX_CELLS: Final = 20_000
"""Above this many (name, channel) cells, :func:`_with_touchpoint` is the flat CASE."""


def _with_touchpoint(journey: Journey, events: ir.Table, touchpoints: tuple[str, ...]) -> ir.Table:
    """``events`` with ``touchpoint``: the number (in ``touchpoints``, the order of
    :func:`~jornada.events.binding.touchpoint_filters`) of the first touchpoint whose rule
    matches each event, null for none. By definition the flat ``CASE`` of those filters;
    most events are answered by a table lookup instead.

    A rule is names, channels and a ``where`` (:func:`~jornada.events.binding.binding_filter`).
    The names and channels alone decide the first match of every event whose first rule
    matching them has no ``where``: that answer depends only on the event's name (one of
    the names the map mentions, or another) and its channel (likewise), so it is read from
    a constant table indexed by those two positions. Each position is a function of one
    column, which DuckDB computes once per distinct value of a dictionary-compressed
    column. The other events' name and channel leave a chain of rules with a ``where``
    (up to the first rule without one): only those ``where`` rules are evaluated on them,
    in map order, instead of the flat ``CASE`` with its string comparisons (tens of
    nanoseconds per event and rule; the 10M demo's labelling took 30% less CPU). The
    intermediate columns are computed in steps, so that no expression is repeated in the
    SQL.

    >>> import ibis
    >>> from jornada.model.templates import load_template
    >>> from jornada.events.binding import touchpoint_filters
    >>> shop = load_template("b2c-ecommerce")
    >>> events = ibis.memtable({"event": ["ad_click", "page_view", "page_view", "x", None],
    ...     "channel": ["social", "web", "web", "web", "web"], "properties": [
    ...     [("page", "/blog/a")], [("page", "/blog/b")], [("page", "/")], [], []]},
    ...     schema={"event": "string", "channel": "string", "properties": "map<string, string>"})
    >>> ids = tuple(touchpoint_filters(shop, events))
    >>> numbers = _with_touchpoint(shop, events, ids).touchpoint.to_pyarrow().to_pylist()
    >>> [None if n is None else ids[n] for n in numbers]
    ['social_ad', 'running_guide', None, None, None]
    """
    if not touchpoints:
        return events.mutate(touchpoint=ibis.null("int32"))

    def flat(table: ir.Table) -> ir.IntegerValue:
        filters = touchpoint_filters(journey, table)
        return ibis.cases(
            *((rule, ibis.literal(k, type="int32")) for k, rule in enumerate(filters.values())),
            else_=ibis.null("int32"),
        )

    rules: dict[str, EventBinding] = {}
    for _, touchpoint in journey.iter_touchpoints():
        if touchpoint.events is not None:
            rules.setdefault(touchpoint.id, touchpoint.events)
    bindings = [rules[tp] for tp in touchpoints]
    names = sorted({name for b in bindings for name in b.names})
    channels = sorted({channel for b in bindings for channel in b.channels})
    if (len(names) + 1) * (len(channels) + 1) > _MAX_CELLS:
        return events.mutate(touchpoint=flat(events))

    chains: dict[tuple[int, ...], int] = {}

    def first(name: str | None, channel: str | None) -> int:
        # None: a name (channel) no rule lists, or null: no rule listing names matches it.
        # The rules left with a where, up to the first without: a chain, decided per event.
        chain: list[int] = []
        for k, b in enumerate(bindings):
            if (b.names and name not in b.names) or (b.channels and channel not in b.channels):
                continue
            if b.where is None:
                if not chain:
                    return k
                chain.append(k)
                break
            chain.append(k)
        if not chain:
            return -1
        return _RUNTIME - chains.setdefault(tuple(chain), len(chains))

    cells = [first(n, c) for n in (None, *names) for c in (None, *channels)]

    def position(column: str, values: list[str]) -> ir.IntegerValue:
        # 1-based position among the values, 0 for another value or null
        if not values:
            return ibis.literal(0, type="int32")
        found = ibis.literal(values, type="array<string>").index(events[column])
        return (found + 1).fill_null(0).cast("int32")

    celled = events.mutate(
        _tp_cell=position("event", names) * (len(channels) + 1) + position("channel", channels)
    )
    looked = celled.mutate(
        _tp_found=ibis.literal(cells, type="array<int32>")[celled["_tp_cell"]].cast("int32")
    )
    found = looked["_tp_found"]

    def decided(chain: tuple[int, ...]) -> ir.IntegerValue:
        # The chain's rules in order; the names and channels hold already (the cell). A
        # rule without where ends a chain: it matches whatever the event.
        last = chain[-1]
        rules = [k for k in chain if bindings[k].where is not None]
        otherwise = ibis.literal(last, type="int32") if last not in rules else ibis.null("int32")
        if not rules:
            return otherwise
        return ibis.cases(
            *(
                (compile_rule(str(bindings[k].where), looked), ibis.literal(k, type="int32"))
                for k in rules
            ),
            else_=otherwise,
        )

    number = ibis.cases(
        (found >= 0, found),
        *((found == _RUNTIME - s, decided(chain)) for chain, s in chains.items()),
        else_=ibis.null("int32"),
    )
    # A select, not drop(): Ibis keeps dropped names in a set, whose order (and so the
    # SQL, the key of a kept table) changes from one process to the next.
    done = looked.mutate(touchpoint=number)
    return done.select(*(c for c in done.columns if c not in ("_tp_cell", "_tp_found")))


def event_labels(journey: Journey, events: ir.Table) -> tuple[ir.Table, tuple[str, ...]]:
    """``events`` with two more columns: ``stage_index`` (the map-order position of the
    event's stage, null outside the map) and ``touchpoint`` (its touchpoint's number in
    the returned tuple of touchpoint ids, null for none): exactly the labels of
    :func:`~jornada.events.binding.label_events`, as numbers.

    The touchpoint's number comes from :func:`_with_touchpoint` (by definition the flat
    ``CASE`` of the touchpoints' rules; mostly a lookup by name and channel); the
    stage is then read from a constant array by that number (a stage's own ``events:``
    block, when no touchpoint matched, in one more ``CASE``). Chained ``CASE`` expressions
    would be inlined into each other when the engine pushes a filter down, and planning
    would grow with the product of their sizes; the array index keeps one copy.

    >>> import ibis
    >>> from jornada.model.templates import load_template
    >>> events = ibis.table({"event": "string", "channel": "string",
    ...                      "properties": "map<string, string>"}, name="events")
    >>> labelled, touchpoints = event_labels(load_template("b2c-ecommerce"), events)
    >>> labelled.columns[-2:], touchpoints[:2]
    (('touchpoint', 'stage_index'), ('social_ad', 'colleague_tip'))
    """
    stages = tuple(journey.ordered_stages())
    filters = touchpoint_filters(journey, events)
    position = {stage.id: k for k, stage in reversed(list(enumerate(stages)))}
    home: dict[str, int] = {}
    for stage, touchpoint in journey.iter_touchpoints():
        home.setdefault(touchpoint.id, position[stage.id])
    touchpoints = tuple(filters)
    # int32: Spark's element_at takes an INT index
    tagged = _with_touchpoint(journey, events, touchpoints)
    # A null index would not give null on Spark (its element_at reads it as the last
    # element): events of no touchpoint read a null placed after the last touchpoint.
    homes: list[int | None] = [home[tp] for tp in touchpoints]
    by_touchpoint: ir.IntegerValue = (
        ibis.literal([*homes, None], type="array<int64>")[
            tagged["touchpoint"].fill_null(len(touchpoints))
        ]
        if touchpoints
        else ibis.null("int64")
    )
    # Every stage's own block, in map order, gives its id's position (the first stage of
    # an id when ids repeat, as label_events names the id).
    own: list[tuple[ir.BooleanValue, ir.IntegerValue]] = [
        (
            binding_filter(stage.events, tagged, context=f"the where rule of stage {stage.id!r}"),
            ibis.literal(position[stage.id], type="int64"),
        )
        for stage in stages
        if stage.events is not None
    ]
    stage_index = (
        by_touchpoint.coalesce(ibis.cases(*own, else_=ibis.null("int64"))) if own else by_touchpoint
    )
    return tagged.mutate(stage_index=stage_index), touchpoints


def _measured(stages: tuple[Stage, ...]) -> list[tuple[int, Stage, Milestone]]:
    """Milestones with an ``events:`` block, with their stage and its position."""
    return [
        (k, stage, milestone)
        for k, stage in enumerate(stages)
        for milestone in stage.milestones
        if milestone.events is not None
    ]


_CARRIED = ("event", "session_id", "session_next_ts", "next_ts", "score", "text")
"""The columns of the events the labelled events keep, when present (see ``_prepare``;
``session_id`` only when the stored facts do not replace it, ``event`` only outside the
map)."""

RESPONSE_PROPERTIES: Final = ("survey", "language")
"""The properties the labelled events keep for the responses (events with a ``score`` or
a ``text``), as columns ``property_survey`` and ``property_language`` (null on the other
events): what the measured emotion reads besides the labels, the text and the score
(:func:`~jornada.living.sentiment.measured_emotions`), read in the scan that labels the
events instead of in a second scan of the wide ``properties`` maps."""


def _prepare(
    events: ir.Table,
    journey: Journey,
    as_of: dt.datetime | None,
    *,
    facts: bool = False,
    numbered: bool = False,
) -> _Pipeline:
    """Events up to ``as_of`` reduced to what every later step reads (narrow rows: keys,
    times, the stage, the touchpoint's number and one flag per measured milestone). Not
    filtered to the events of a stage or milestone: each step filters what it reads, and
    a filter here would evaluate the rules twice (once to filter, once to label).

    ``numbered``: customers are keyed by :func:`customer_column` (``customer_no`` when the
    events have it) in the labelled events, entries and milestones, instead of
    ``customer_id``; the current stages carry both."""
    events = with_positions(events)
    moment = _utc(as_of) if as_of is not None else None
    if moment is not None:
        events = events.filter(events["ts"] <= moment)
    latest = events.aggregate(as_of=events["ts"].max())
    stages = tuple(journey.ordered_stages())
    tagged, touchpoints = event_labels(journey, events)
    flags: dict[str, ir.Value] = {}
    for i, (_, stage, milestone) in enumerate(_measured(stages)):
        assert milestone.events is not None
        flags[f"_m{i}"] = binding_filter(
            milestone.events,
            tagged,
            context=f"the where rule of milestone {milestone.id!r} (stage {stage.id!r})",
        )
    # The carried columns are not read here: they are kept for conformance and the
    # touchpoint measures, which reuse this table (StageTables.labelled) rather than
    # labelling the events again.
    facts = facts and "next_ts" in events.columns
    kept = [c for c in _CARRIED if c in tagged.columns]
    if facts and "session_next_ts" in kept:
        # The stored facts give the time in sessions: the (long, text) session id is
        # not needed.
        kept = [c for c in kept if c != "session_id"]
    carried: dict[str, ir.Value] = {c: tagged[c] for c in kept}
    answered = [tagged[c].notnull() for c in ("score", "text") if c in tagged.columns]
    if answered and "properties" in tagged.columns:
        responded = functools.reduce(operator.or_, answered)
        for name in RESPONSE_PROPERTIES:
            carried[f"property_{name}"] = ibis.cases(
                (responded, tagged["properties"].get(name)), else_=ibis.null("string")
            )
    if "event" in carried:
        # Read only for the events outside the map (conformance's unmapped names): a
        # null elsewhere spares writing most of the texts.
        carried["event"] = ibis.cases(
            (tagged["stage_index"].isnull(), tagged["event"]), else_=ibis.null("string")
        )
    key = customer_column(events) if numbered else "customer_id"
    labelled = tagged.select(
        key,
        "ts",
        "idx",
        **carried,
        stage_index=tagged["stage_index"],
        touchpoint=tagged["touchpoint"],
        **flags,
    )
    return _Pipeline(journey, stages, touchpoints, events, labelled, latest, moment, facts, key)


def stage_visits(labelled: ir.Table, key: str = "customer_id") -> ir.Table:
    """The collapsed stage paths of labelled events (the customer ``key``, ``idx``, ``ts``,
    ``stage_index``): one row per visit, a run of consecutive events of one stage (events
    of no stage left out), with the customer, ``idx`` and ``ts`` of its first event,
    ``stage_index`` and ``previous`` (the stage of the visit before; null for the first).

    The one sort of the stage pipeline: the entries (:func:`stage_entries`) and
    :func:`~jornada.living.conformance.conformance` both read these rows.

    >>> import ibis, datetime as dt
    >>> t = dt.datetime(2026, 1, 1)
    >>> events = ibis.memtable({"customer_id": ["a"] * 4, "idx": [0, 1, 2, 3], "ts": [t] * 4,
    ...                         "stage_index": [0, None, 0, 1]})
    >>> visits = stage_visits(events).order_by("idx").to_pyarrow().to_pylist()
    >>> [(v["idx"], v["stage_index"], v["previous"]) for v in visits]
    [(0, 0.0, None), (3, 1.0, 0.0)]
    """
    staged = labelled.filter(labelled["stage_index"].notnull())
    window = ibis.window(group_by=staged[key], order_by=staged["idx"])
    runs = staged.select(
        key, "idx", "ts", "stage_index", previous=staged["stage_index"].lag().over(window)
    )
    # The staged event before a visit's first is the last of the visit before: its stage
    # is the previous visit's (no second window over the visits).
    return runs.filter(runs["previous"].isnull() | (runs["previous"] != runs["stage_index"]))


def stage_path_counts(visits: ir.Table, key: str = "customer_id") -> ir.Table:
    """The distinct collapsed stage paths of the visits (:func:`stage_visits`): ``path``,
    a customer's visits' stage numbers in order, and ``customers``, how many have it.

    A customer's reach, current stage, moves and loops are functions of their path, so
    the stage analysis and :func:`~jornada.living.conformance.conformance` read these few
    rows (tens of thousands for hundreds of thousands of customers; see
    :class:`StagePaths`) instead of grouping the visits per customer once each.

    >>> import ibis
    >>> visits = ibis.memtable({"customer_id": ["a", "a", "b", "c"], "idx": [5, 2, 0, 0],
    ...                         "stage_index": [1, 0, 0, 0]})
    >>> sorted(tuple(r.values()) for r in stage_path_counts(visits).to_pyarrow().to_pylist())
    [([0], 2), ([0, 1], 1)]
    """
    # An array of (idx, stage) structs sorted, not an ordered collect: Spark has none.
    ordered = ibis.struct({"idx": visits["idx"], "stage": visits["stage_index"]}).collect().sort()
    paths = visits.group_by(key).aggregate(path=ordered.map(lambda item: item.stage))
    return paths.group_by("path").aggregate(customers=paths.count())


@dataclass(frozen=True, eq=False)
class StagePaths:
    """The counted stage paths (:func:`stage_path_counts`) as numpy arrays, and the
    per-customer figures derived from them, weighted by the customers of each path.

    ``flat`` holds every path's stages one after another (path number ``parent``,
    ``starts`` where each path begins); ``furthest[i]`` is the furthest stage (the
    highest number) of path ``i``, where its customers are now (not the stage it ends
    in); ``visits[i, k]`` counts the visits of stage ``k`` in path ``i``; ``counts[i]``
    its customers.

    >>> import pyarrow as pa
    >>> paths = StagePaths.of(pa.table({"path": [[0], [0, 1, 0]], "customers": [3, 2]}), 2)
    >>> paths.totals()["reached1"], paths.conformity()["conforming"], paths.backward()
    (2, 3, [(1, 0, 2, 2)])
    """

    n: int
    counts: Any  # numpy int64 arrays (numpy has no precise stubs here)
    flat: Any
    parent: Any
    starts: Any
    furthest: Any
    visits: Any
    table: pa.Table = field(repr=False)

    @classmethod
    def of(cls, table: pa.Table, n: int) -> StagePaths:
        """From the rows of :func:`stage_path_counts`; ``n`` stages."""
        import numpy as np
        import pyarrow.compute as pc

        paths = (
            table.column("path").combine_chunks()
            if table.num_rows
            else pa.array([], pa.list_(pa.int64()))
        )
        counts = np.asarray(table.column("customers").to_numpy(), dtype=np.int64)
        flat = np.asarray(pc.list_flatten(paths).to_numpy(zero_copy_only=False), dtype=np.int64)
        parent = np.asarray(pc.list_parent_indices(paths).to_numpy(), dtype=np.int64)
        lengths = np.asarray(
            pc.list_value_length(paths).to_numpy(zero_copy_only=False), dtype=np.int64
        )
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        furthest = np.maximum.reduceat(flat, starts) if len(flat) else np.zeros(0, np.int64)
        visits = np.bincount(parent * n + flat, minlength=len(counts) * n).reshape(len(counts), n)
        return cls(n, counts, flat, parent, starts, furthest, visits, table)

    def _sum(self, where: Any) -> int:
        return int(self.counts[where].sum())

    def totals(self) -> dict[str, int]:
        """The stage analysis's counts: ``customers`` (in the map), and per stage ``k``
        ``reached{k}``, ``current{k}`` (furthest stage ``k``), ``first{k}`` (reached the
        first stage and ``k``), ``next{k}`` (reached ``k`` and ``k + 1``)."""
        reached = self.visits > 0
        totals = {"customers": int(self.counts.sum())}
        for k in range(self.n):
            totals[f"reached{k}"] = self._sum(reached[:, k])
            totals[f"current{k}"] = self._sum(self.furthest == k)
            totals[f"first{k}"] = self._sum(reached[:, 0] & reached[:, k])
            if k + 1 < self.n:
                totals[f"next{k}"] = self._sum(reached[:, k] & reached[:, k + 1])
        return totals

    def _moves(self) -> tuple[Any, Any]:
        """Per element of ``flat``: whether it is a move (not a path's first stage), and
        the stage before it (-1 at a start)."""
        import numpy as np

        is_move = np.ones(len(self.flat), dtype=bool)
        is_move[self.starts[: len(self.counts)]] = False
        previous = np.concatenate([[-1], self.flat[:-1]]) if len(self.flat) else self.flat
        return is_move, np.where(is_move, previous, -1)

    def conforming(self) -> Any:
        """Per path: it starts at the first stage and every move goes to the next."""
        import numpy as np

        is_move, previous = self._moves()
        other = np.bincount(
            self.parent, weights=is_move & (self.flat != previous + 1), minlength=len(self.counts)
        )
        first = self.flat[self.starts] if len(self.flat) else self.flat
        return (first == 0) & (other == 0)

    def conformity(self) -> dict[str, int]:
        """Conformance's counts (see :mod:`jornada.living.conformance`): ``customers``,
        ``conforming``, ``in_order``, ``moves``, ``backward_moves``,
        ``backward_customers``, ``deviating``, ``looping_customers`` and per stage ``k``
        ``visited_k``, ``beyond_k``, ``skipped_k``, ``looped_k``, ``reentries_k``."""
        import numpy as np

        is_move, previous = self._moves()
        size = len(self.counts)
        backward = np.bincount(
            self.parent, weights=is_move & (self.flat < previous), minlength=size
        )
        moves = np.bincount(self.parent, weights=is_move, minlength=size)
        conforms = self.conforming()
        figures = {
            "customers": int(self.counts.sum()),
            "conforming": self._sum(conforms),
            "in_order": self._sum(backward == 0),
            "moves": int((self.counts * moves.astype(np.int64)).sum()),
            "backward_moves": int((self.counts * backward.astype(np.int64)).sum()),
            "backward_customers": self._sum(backward > 0),
            "deviating": self._sum(~conforms),
        }
        for k in range(self.n):
            visits = self.visits[:, k]
            beyond = self.furthest > k
            figures[f"visited_{k}"] = self._sum(visits > 0)
            figures[f"beyond_{k}"] = self._sum(beyond)
            figures[f"skipped_{k}"] = self._sum(beyond & (visits == 0))
            figures[f"looped_{k}"] = self._sum(visits > 1)
            figures[f"reentries_{k}"] = int((self.counts * np.maximum(visits - 1, 0)).sum())
        if self.n:
            figures["looping_customers"] = self._sum((self.visits > 1).any(axis=1))
        return figures

    def backward(self) -> list[tuple[int, int, int, int]]:
        """The backward moves per (from, to) stage: ``(from, to, moves, customers)``, the
        most moves first (ties by the stages)."""
        import numpy as np

        is_move, previous = self._moves()
        chosen = is_move & (self.flat < previous)
        pair = previous[chosen] * self.n + self.flat[chosen]
        owner = self.parent[chosen]
        weight = self.counts[owner]
        moves = np.bincount(pair, weights=weight, minlength=self.n * self.n)
        # a customer counts once per pair: one path, one pair
        unique = np.unique(owner * (self.n * self.n) + pair)
        customers = np.bincount(
            unique % (self.n * self.n),
            weights=self.counts[unique // (self.n * self.n)],
            minlength=self.n * self.n,
        )
        found = [
            (int(code) // self.n, int(code) % self.n, round(moves[code]), round(customers[code]))
            for code in np.flatnonzero(moves)
        ]
        return sorted(found, key=lambda row: (-row[2], row[0], row[1]))

    def deviating(self, top: int) -> tuple[list[tuple[tuple[int, ...], int]], int]:
        """The ``top`` most common paths that do not conform (ties by the path, a prefix
        first) with their customers, and how many distinct such paths there are."""
        import numpy as np

        chosen = np.flatnonzero(~self.conforming())
        if not len(chosen):
            return [], 0
        counts = self.counts[chosen]
        if len(chosen) > top:
            # every path as common as the top-th is a candidate (ties broken by the path)
            floor = np.partition(counts, len(counts) - top)[len(counts) - top]
            candidates = chosen[counts >= floor]
        else:
            candidates = chosen
        paths = self.table.column("path").take(pa.array(candidates)).to_pylist()
        ranked = sorted(
            (
                (tuple(int(s) for s in path), int(self.counts[i]))
                for path, i in zip(paths, candidates, strict=True)
            ),
            key=lambda row: (-row[1], row[0]),
        )
        return ranked[:top], len(chosen)


def _entries(p: _Pipeline, visits: ir.Table) -> ir.Table:
    """The entries from the visits (:func:`stage_visits` of ``p.labelled``).

    Entering a stage is the start of its first visit. The first event of a later stage
    after entering starts a visit too (the staged event before it is at or after the
    entry, so of a stage at most this one): moving on is found among the visits, far
    fewer rows than the events. ``idx`` orders ``ts``, so the first visit has the
    earliest time."""
    key = p.key
    firsts = visits.group_by([key, "stage_index"]).aggregate(
        entry_idx=visits["idx"].min(), entered_at=visits["ts"].min()
    )
    # Moving on: the first visit of a later stage after entering, found by joining each
    # entry with the customer's visits of later stages (none: null), no sort. One group
    # per entry again, so the entries are grouped once (a join of the moves back to
    # them would group the visits twice).
    later_visits = visits.select(
        c_customer=visits[key],
        c_index=visits["stage_index"],
        c_idx=visits["idx"],
        c_ts=visits["ts"],
    )
    later = firsts.left_join(
        later_visits,
        [
            firsts[key] == later_visits["c_customer"],
            later_visits["c_index"] > firsts["stage_index"],
            later_visits["c_idx"] > firsts["entry_idx"],
        ],
    )
    joined = later.group_by([key, "stage_index"]).aggregate(
        entered_at=later["entered_at"].min(),
        entry_idx=later["entry_idx"].min(),
        moved_at=later["c_ts"].min(),
    )
    return joined.select(
        joined[key],
        stage_index=joined["stage_index"],
        entered_at=joined["entered_at"],
        entry_idx=joined["entry_idx"],
        moved_at=joined["moved_at"],
        dwell_seconds=_seconds(joined["moved_at"]) - _seconds(joined["entered_at"]),
    )


def _described_entries(p: _Pipeline, entries: ir.Table) -> ir.Table:
    """The entries of :func:`_entries` with the stage's id: added when read, so that a
    cached table holds numbers only."""
    return entries.select(
        entries[p.key],
        stage_id=p.stage_id_of(entries["stage_index"]),
        stage_index=entries["stage_index"],
        entered_at=entries["entered_at"],
        entry_idx=entries["entry_idx"],
        moved_at=entries["moved_at"],
        dwell_seconds=entries["dwell_seconds"],
    )


def _current(p: _Pipeline, entries: ir.Table) -> ir.Table:
    """The current stages (:func:`current_stages`)."""
    return _described_current(p, _current_core(p, entries))


def _furthest(p: _Pipeline, entries: ir.Table) -> ir.Table:
    """Each customer's current stage (the furthest reached): the key, ``stage_index``
    and ``entered_at``."""
    key = p.key
    furthest = entries.group_by(key).aggregate(stage_index=entries["stage_index"].max())
    return furthest.join(entries, [key, "stage_index"]).select(key, "stage_index", "entered_at")


def _timed_current(p: _Pipeline, entries: ir.Table) -> ir.Table:
    """The current stages with what the stalled customers are found by alone: the key,
    ``stage_id``, ``stage_index`` and ``seconds_in_stage`` (no last touchpoint, last event
    nor customer ids: counting the stalled customers reads no more)."""
    joined = p.with_as_of(_furthest(p, entries))
    return joined.select(
        joined[p.key],
        stage_id=p.stage_id_of(joined["stage_index"]),
        stage_index=joined["stage_index"],
        seconds_in_stage=_seconds(joined["as_of"]) - _seconds(joined["entered_at"]),
    )


def _current_core(p: _Pipeline, entries: ir.Table) -> ir.Table:
    """The current stages as numbers and times: the customer (``customer_id`` and the
    key), ``stage_index``, ``entered_at``, ``last_touchpoint`` (its number),
    ``last_event_at`` and ``customer_key``; :func:`_described_current` names them."""
    key = p.key
    current = _furthest(p, entries)
    touched = p.labelled.filter(p.labelled["touchpoint"].notnull())
    last_touch = touched.group_by(key).aggregate(
        last_touchpoint=arg_extreme(touched["touchpoint"], touched["idx"], len(p.touchpoints))
    )
    last_touch = last_touch.rename(t_customer=key)
    events = p.events
    has_key = "customer_key" in events.columns
    # The customer's id comes with their last event when customers are numbered.
    ids = ("customer_id",) if key != "customer_id" else ()
    if p.facts:
        # A customer's last event up to as_of is the one whose next event is later (or
        # none): a filter instead of grouping every event again. (ts orders the events,
        # so its ts is their latest.)
        next_ts = events["next_ts"]
        last = next_ts.isnull() | (next_ts > p.moment) if p.moment is not None else next_ts.isnull()
        rows = events.filter(last)
        last_event = rows.select(
            e_customer=rows[key],
            last_event_at=rows["ts"],
            customer_key=rows["customer_key"] if has_key else ibis.null("string"),
            **{name: rows[name] for name in ids},
        )
    else:
        latest_key = (
            events["customer_key"].argmax(events["idx"]) if has_key else ibis.null("string")
        )
        last_event = events.group_by(key).aggregate(
            last_event_at=events["ts"].max(),
            customer_key=latest_key,
            **{name: events[name].min() for name in ids},
        )
        last_event = last_event.rename(e_customer=key)
    touched_current = current.left_join(last_touch, current[key] == last_touch["t_customer"]).drop(
        "t_customer"
    )
    return touched_current.left_join(
        last_event, touched_current[key] == last_event["e_customer"]
    ).drop("e_customer")


def _described_current(p: _Pipeline, core: ir.Table) -> ir.Table:
    """The current stages of :func:`_current_core` with the stage's and last touchpoint's
    ids and names, the time in stage and ``as_of``: added when read, so that a cached
    table holds few texts."""
    key = p.key
    joined = p.with_as_of(core)
    names = {tp.id: tp.name for _, tp in p.journey.iter_touchpoints()}
    by_number = {k: names[tp] for k, tp in enumerate(p.touchpoints)}
    numbered = {key: joined[key]} if key != "customer_id" else {}
    return joined.select(
        customer_id=joined["customer_id"],
        **numbered,
        stage_id=p.stage_id_of(joined["stage_index"]),
        stage_name=p.stage_name_of(joined["stage_index"]),
        stage_index=joined["stage_index"],
        entered_at=joined["entered_at"],
        seconds_in_stage=_seconds(joined["as_of"]) - _seconds(joined["entered_at"]),
        last_touchpoint_id=p.touchpoint_id_of(joined["last_touchpoint"]),
        last_touchpoint_name=_lookup(joined["last_touchpoint"], by_number),
        last_event_at=joined["last_event_at"],
        customer_key=joined["customer_key"],
        as_of=joined["as_of"],
    )


def _milestones(p: _Pipeline, entries: ir.Table) -> ir.Table:
    key = p.key
    parts: list[ir.Table] = []
    for i, (k, stage, milestone) in enumerate(_measured(p.stages)):
        entered = entries.filter(entries["stage_index"] == k).select(key, "entry_idx", "entered_at")
        flagged = p.labelled.filter(p.labelled[f"_m{i}"])
        hits = flagged.select(h_customer=flagged[key], h_idx=flagged["idx"], h_ts=flagged["ts"])
        window = within_seconds(milestone.within) if milestone.within else None
        predicates = [
            entered[key] == hits["h_customer"],
            hits["h_idx"] >= entered["entry_idx"],
        ]
        if window is not None:
            predicates.append(_seconds(hits["h_ts"]) - _seconds(entered["entered_at"]) <= window)
        matched = entered.join(hits, predicates)
        first = matched.group_by(key).aggregate(reached_at=matched["h_ts"].min())
        first = first.rename(r_customer=key)
        joined = p.with_as_of(entered.left_join(first, entered[key] == first["r_customer"]))
        reached = joined["reached_at"].notnull()
        elapsed = _seconds(joined["as_of"]) - _seconds(joined["entered_at"])
        missed = ~reached & (elapsed > window) if window is not None else ibis.literal(False)
        parts.append(
            joined.select(
                joined[key],
                stage_id=ibis.literal(stage.id, type="string"),
                milestone_id=ibis.literal(milestone.id, type="string"),
                entered_at=joined["entered_at"],
                reached_at=joined["reached_at"],
                reached=reached,
                missed=missed,
            )
        )
    if not parts:
        return entries.select(
            entries[key],
            stage_id=entries["stage_id"],
            milestone_id=ibis.null("string"),
            entered_at=entries["entered_at"],
            reached_at=entries["moved_at"],
            reached=ibis.literal(False),
            missed=ibis.literal(False),
        ).filter(ibis.literal(False))
    return parts[0].union(*parts[1:], distinct=False) if len(parts) > 1 else parts[0]


def _dwell(entries: ir.Table, percentile: float) -> ir.Table:
    """Per stage index: movers, and the nearest-rank median and percentile of dwell."""
    movers = entries.filter(entries["dwell_seconds"].notnull())
    ranked = movers.select(
        "stage_index",
        "dwell_seconds",
        rank=ibis.row_number().over(
            ibis.window(group_by=movers["stage_index"], order_by=movers["dwell_seconds"])
        )
        + 1,
        n=movers["dwell_seconds"].count().over(ibis.window(group_by=movers["stage_index"])),
    )

    def at(fraction: Fraction) -> ir.IntegerScalar:
        # rank >= ceil(f/100 * n)  <=>  rank * 100 * den >= n * num (integers, exact)
        reached = ranked["rank"] * (100 * fraction.denominator) >= ranked["n"] * fraction.numerator
        return ibis.cases((reached, ranked["dwell_seconds"]), else_=ibis.null("int64")).min()

    return ranked.group_by("stage_index").aggregate(
        movers=ranked["n"].max(),
        median_seconds=at(Fraction(50)),
        threshold_seconds=at(_fraction(percentile)),
    )


def _stalled_rows(
    p: _Pipeline,
    entries: ir.Table,
    current: ir.Table,
    progress: ir.Table,
    percentile: float,
    dwell: ir.Table | None,
) -> tuple[ir.Table, ir.StringValue]:
    """The rows of ``current`` (the key, ``stage_id``, ``stage_index``,
    ``seconds_in_stage`` and any more columns) of the stalled customers, with
    ``threshold_seconds``, and the reasons (``; slow; missed milestone ID``...)."""
    dwell = dwell if dwell is not None else _dwell(entries, percentile)
    thresholds = dwell.select(q_index="stage_index", threshold_seconds="threshold_seconds")
    base = current.left_join(thresholds, current["stage_index"] == thresholds["q_index"]).drop(
        "q_index"
    )
    timed = [
        (stage, milestone)
        for _, stage, milestone in _measured(p.stages)
        if milestone.within is not None
    ]
    flags: dict[str, ir.BooleanValue] = {}
    if timed:
        key = p.key
        here = current.select(c_customer=key, c_stage="stage_id")
        missed = progress.filter(progress["missed"])
        missed = missed.join(
            here, [missed[key] == here["c_customer"], missed["stage_id"] == here["c_stage"]]
        )
        per_customer = missed.group_by(key).aggregate(
            **{
                f"_missed{i}": (
                    (missed["stage_id"] == stage.id) & (missed["milestone_id"] == milestone.id)
                ).any()
                for i, (stage, milestone) in enumerate(timed)
            }
        )
        per_customer = per_customer.rename(f_customer=key)
        base = base.left_join(per_customer, base[key] == per_customer["f_customer"]).drop(
            "f_customer"
        )
        for i, (_, milestone) in enumerate(timed):
            # two stages may name a milestone alike: one reason, either flag
            text = f"missed milestone {milestone.id}"
            flag = base[f"_missed{i}"].fill_null(False)
            flags[text] = flags[text] | flag if text in flags else flag
    slow = (base["seconds_in_stage"] > base["threshold_seconds"]).fill_null(False)
    reasons = {"slow": slow, **flags}
    reason: ir.StringValue = ibis.literal("", type="string")
    for text, flag in reasons.items():
        reason = reason + ibis.cases((flag, ibis.literal(f"; {text}")), else_=ibis.literal(""))
    return base.filter(functools.reduce(operator.or_, reasons.values())), reason


def _stalled(
    p: _Pipeline,
    entries: ir.Table,
    current: ir.Table,
    progress: ir.Table,
    percentile: float,
    dwell: ir.Table | None = None,
) -> ir.Table:
    """The stalled customers (:func:`stalled_customers`); ``dwell``: :func:`_dwell` of
    the entries at ``percentile`` when computed already."""
    stalled, reason = _stalled_rows(p, entries, current, progress, percentile, dwell)
    return stalled.select(
        "customer_id",
        "customer_key",
        "stage_id",
        "stage_name",
        "stage_index",
        "entered_at",
        "seconds_in_stage",
        days_in_stage=stalled["seconds_in_stage"].cast("float64") / float(SECONDS_PER_DAY),
        threshold_seconds=stalled["threshold_seconds"],
        last_touchpoint_id=stalled["last_touchpoint_id"],
        last_touchpoint_name=stalled["last_touchpoint_name"],
        last_event_at=stalled["last_event_at"],
        reason=reason.substr(2),
    ).order_by([ibis.asc("stage_index"), ibis.desc("seconds_in_stage"), ibis.asc("customer_id")])


# --- public tables ---------------------------------------------------------------------


def stage_entries(
    events: ir.Table, journey: Journey, *, as_of: dt.datetime | None = None
) -> ir.Table:
    """One row per customer and stage reached: ``customer_id``, ``stage_id``,
    ``stage_index`` (0-based map order), ``entered_at``, ``entry_idx``, ``moved_at`` (the
    first later-stage event after entering; null if they did not move on) and
    ``dwell_seconds`` (null likewise).

    >>> import ibis
    >>> from jornada.model.templates import load_template
    >>> events = ibis.table({"customer_id": "string", "ts": "timestamp", "event": "string",
    ...     "channel": "string", "properties": "map<string, string>", "idx": "int64"}, name="events")
    >>> stage_entries(events, load_template("b2c-ecommerce")).columns[:3]
    ('customer_id', 'stage_id', 'stage_index')
    """
    p = _prepare(events, journey, as_of)
    return _described_entries(p, _entries(p, stage_visits(p.labelled, p.key)))


def current_stages(
    events: ir.Table, journey: Journey, *, as_of: dt.datetime | None = None
) -> ir.Table:
    """One row per customer who reached a stage: their current (furthest) stage
    (``stage_id``, ``stage_name``, ``stage_index``), ``entered_at``, ``seconds_in_stage``
    up to ``as_of``, the last touchpoint they met (``last_touchpoint_id``,
    ``last_touchpoint_name``), ``last_event_at``, ``customer_key`` (the source's key on
    their latest event; null when the table has no ``customer_key``) and ``as_of``.

    >>> import ibis
    >>> from jornada.model.templates import load_template
    >>> events = ibis.table({"customer_id": "string", "ts": "timestamp", "event": "string",
    ...     "channel": "string", "properties": "map<string, string>", "idx": "int64"}, name="events")
    >>> "seconds_in_stage" in current_stages(events, load_template("b2c-ecommerce")).columns
    True
    """
    p = _prepare(events, journey, as_of)
    return _current(p, _described_entries(p, _entries(p, stage_visits(p.labelled, p.key))))


def milestone_progress(
    events: ir.Table, journey: Journey, *, as_of: dt.datetime | None = None
) -> ir.Table:
    """One row per customer and measurable milestone of a stage they entered:
    ``customer_id``, ``stage_id``, ``milestone_id``, ``entered_at`` (the stage),
    ``reached_at`` (the first matching event in time, or null), ``reached`` and ``missed``
    (not reached and its ``within`` window over at ``as_of``).

    >>> import ibis
    >>> from jornada.model.templates import load_template
    >>> events = ibis.table({"customer_id": "string", "ts": "timestamp", "event": "string",
    ...     "channel": "string", "properties": "map<string, string>", "idx": "int64"}, name="events")
    >>> milestone_progress(events, load_template("b2c-ecommerce")).columns[-2:]
    ('reached', 'missed')
    """
    p = _prepare(events, journey, as_of)
    return _milestones(p, _described_entries(p, _entries(p, stage_visits(p.labelled, p.key))))


def stalled_customers(
    events: ir.Table,
    journey: Journey,
    *,
    percentile: float = DEFAULT_PERCENTILE,
    as_of: dt.datetime | None = None,
) -> ir.Table:
    """The stalled customers as an Ibis table, one row each: current stage, time in it,
    the stage's dwell threshold, last touchpoint, last event time and ``reason``
    (``slow``, ``missed milestone ID``, several joined by ``"; "``), ordered by stage then
    longest time in stage.

    >>> import ibis
    >>> from jornada.model.templates import load_template
    >>> events = ibis.table({"customer_id": "string", "ts": "timestamp", "event": "string",
    ...     "channel": "string", "properties": "map<string, string>", "idx": "int64"}, name="events")
    >>> stalled_customers(events, load_template("b2c-ecommerce")).columns[-1]
    'reason'
    """
    _fraction(percentile)
    p = _prepare(events, journey, as_of)
    entries = _described_entries(p, _entries(p, stage_visits(p.labelled, p.key)))
    current = _current(p, entries)
    return _stalled(p, entries, current, _milestones(p, entries), percentile)


# --- results ---------------------------------------------------------------------------


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _days(seconds: int | None) -> float | None:
    return None if seconds is None else seconds / SECONDS_PER_DAY


def _label(percentile: float) -> str:
    return f"p{percentile:g}"


@dataclass(frozen=True)
class MilestoneShare:
    """How many customers who entered a milestone's stage reached it (within its window).

    ``bound`` is False for a milestone without an ``events:`` block (nothing measured).
    ``missed`` counts customers whose window is over without it (any stage they are in now).
    """

    milestone_id: str
    name: str
    within: str | None
    bound: bool
    entered: int
    reached: int
    missed: int

    @property
    def share(self) -> float | None:
        return _share(self.reached, self.entered) if self.bound else None

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.reached, self.entered)

    def to_dict(self) -> dict[str, Any]:
        low, high = self.interval
        ready: dict[str, Any] = json_ready(
            {
                "milestone_id": self.milestone_id,
                "name": self.name,
                "within": self.within,
                "bound": self.bound,
                "entered": self.entered,
                "reached": self.reached,
                "missed": self.missed,
                "share": self.share,
                "share_low": low,
                "share_high": high,
            }
        )
        return ready


class _ToNextStage:
    """Conversion to the next stage of ``reached`` customers, ``reached_next`` of whom
    went on (None: the last stage)."""

    reached: int
    reached_next: int | None

    @property
    def conversion_to_next(self) -> float | None:
        """Share of this stage's customers who reached the next stage (None: last stage)."""
        return None if self.reached_next is None else _share(self.reached_next, self.reached)

    @property
    def conversion_to_next_interval(self) -> tuple[float, float]:
        if self.reached_next is None:
            return (math.nan, math.nan)
        return wilson_interval(self.reached_next, self.reached)


@dataclass(frozen=True)
class StageSummary(_ToNextStage):
    """One stage: reach, where customers are now, conversion, dwell, milestones, stalled.

    ``reached_next`` is the number who reached this stage and the next one (None for the
    last stage); ``reached_from_first`` the number who reached the first stage and this one.
    Dwell figures are over the ``movers`` (customers who moved on), in seconds.
    """

    stage_id: str
    name: str
    index: int
    reached: int
    currently_in: int
    reached_next: int | None
    reached_from_first: int
    first_reached: int
    movers: int
    median_dwell_seconds: int | None
    threshold_dwell_seconds: int | None
    stalled: int
    milestones: tuple[MilestoneShare, ...] = ()

    @property
    def conversion_from_first(self) -> float | None:
        """Share of the first stage's customers who reached this stage."""
        return _share(self.reached_from_first, self.first_reached)

    @property
    def conversion_from_first_interval(self) -> tuple[float, float]:
        return wilson_interval(self.reached_from_first, self.first_reached)

    def to_dict(self) -> dict[str, Any]:
        next_low, next_high = self.conversion_to_next_interval
        first_low, first_high = self.conversion_from_first_interval
        ready: dict[str, Any] = json_ready(
            {
                "stage_id": self.stage_id,
                "name": self.name,
                "index": self.index,
                "reached": self.reached,
                "currently_in": self.currently_in,
                "reached_next": self.reached_next,
                "conversion_to_next": self.conversion_to_next,
                "conversion_to_next_low": next_low,
                "conversion_to_next_high": next_high,
                "reached_from_first": self.reached_from_first,
                "conversion_from_first": self.conversion_from_first,
                "conversion_from_first_low": first_low,
                "conversion_from_first_high": first_high,
                "movers": self.movers,
                "median_dwell_seconds": self.median_dwell_seconds,
                "threshold_dwell_seconds": self.threshold_dwell_seconds,
                "stalled": self.stalled,
                "milestones": [m.to_dict() for m in self.milestones],
            }
        )
        return ready


def _milestone_text(milestone: MilestoneShare) -> str:
    if not milestone.bound:
        return f"{milestone.milestone_id} (unbound)"
    share = milestone.share
    shown = "–" if share is None else f"{share:.0%}"
    return f"{milestone.milestone_id} {shown} ({milestone.reached}/{milestone.entered})"


@dataclass(frozen=True)
class StageAnalysis(AnalysisResult):
    """Stages of a map measured on events: see the module for the exact semantics.

    ``customers`` reached at least one stage; ``total_customers`` have any event up to
    ``as_of`` (the difference never started the journey).
    """

    journey_id: str
    as_of: dt.datetime | None
    percentile: float
    total_customers: int
    customers: int
    stages: tuple[StageSummary, ...]

    def stage(self, stage_id: str) -> StageSummary:
        """The summary of one stage, by id."""
        return next(s for s in self.stages if s.stage_id == stage_id)

    def to_frame(self) -> pd.DataFrame:
        """One row per stage, in map order; dwell in days; milestones as text."""
        label = _label(self.percentile)
        rows = []
        for s in self.stages:
            next_low, next_high = s.conversion_to_next_interval
            rows.append(
                {
                    "stage_id": s.stage_id,
                    "stage": s.name,
                    "reached": s.reached,
                    "currently_in": s.currently_in,
                    "conversion_to_next": s.conversion_to_next,
                    "conversion_to_next_low": next_low,
                    "conversion_to_next_high": next_high,
                    "conversion_from_first": s.conversion_from_first,
                    "movers": s.movers,
                    "median_dwell_days": _days(s.median_dwell_seconds),
                    f"{label}_dwell_days": _days(s.threshold_dwell_seconds),
                    "stalled": s.stalled,
                    "milestones": ", ".join(_milestone_text(m) for m in s.milestones),
                }
            )
        columns = [
            "stage_id",
            "stage",
            "reached",
            "currently_in",
            "conversion_to_next",
            "conversion_to_next_low",
            "conversion_to_next_high",
            "conversion_from_first",
            "movers",
            "median_dwell_days",
            f"{label}_dwell_days",
            "stalled",
            "milestones",
        ]
        floats = [c for c in columns if c.startswith("conversion") or c.endswith("_days")]
        return pd.DataFrame(rows, columns=columns).astype(dict.fromkeys(floats, "float64"))

    def to_dict(self) -> dict[str, Any]:
        ready: dict[str, Any] = json_ready(
            {
                "journey_id": self.journey_id,
                "as_of": self.as_of.isoformat() if self.as_of else None,
                "percentile": self.percentile,
                "percentile_method": "nearest rank",
                "total_customers": self.total_customers,
                "customers": self.customers,
                "stages": [s.to_dict() for s in self.stages],
            }
        )
        return ready

    def chart(self) -> go.Figure:
        """Bars per stage: reached, currently in, stalled; conversion in the hover."""
        names = [s.name for s in self.stages]
        hover = [
            f"reached {s.reached:,}"
            + (f"<br>→ next {s.conversion_to_next:.1%}" if s.conversion_to_next is not None else "")
            + (
                f"<br>from first {s.conversion_from_first:.1%}"
                if s.conversion_from_first is not None
                else ""
            )
            for s in self.stages
        ]
        figure = go.Figure(
            [
                go.Bar(
                    name="reached",
                    x=names,
                    y=[s.reached for s in self.stages],
                    hovertext=hover,
                    text=[
                        "" if s.conversion_to_next is None else f"→ {s.conversion_to_next:.0%}"
                        for s in self.stages
                    ],
                    textposition="outside",
                ),
                go.Bar(name="currently in", x=names, y=[s.currently_in for s in self.stages]),
                go.Bar(name="stalled", x=names, y=[s.stalled for s in self.stages]),
            ]
        )
        figure.update_layout(
            title=f"Stages of {self.journey_id}", barmode="group", yaxis_title="customers"
        )
        return figure


@dataclass(frozen=True)
class StageReach(_ToNextStage):
    """How many customers of one group reached a stage (``reached``) and, of those, how
    many reached the next stage too (``reached_next``; None for the last stage): the
    figures of :class:`StageSummary`, for the group's customers alone."""

    group: str
    stage_id: str
    name: str
    index: int
    reached: int
    reached_next: int | None

    def to_dict(self) -> dict[str, Any]:
        low, high = self.conversion_to_next_interval
        ready: dict[str, Any] = json_ready(
            {
                "group": self.group,
                "stage_id": self.stage_id,
                "name": self.name,
                "index": self.index,
                "reached": self.reached,
                "reached_next": self.reached_next,
                "conversion_to_next": self.conversion_to_next,
                "conversion_to_next_low": low,
                "conversion_to_next_high": high,
            }
        )
        return ready


@dataclass(frozen=True)
class StageReachByGroup(AnalysisResult):
    """Reach and conversion to the next stage per group of customers (an arrival channel,
    say) and stage (:meth:`StageTables.reach_by`). Each group's figures are those
    :func:`analyse_stages` gives on the events of that group's customers alone.

    ``reach`` holds one :class:`StageReach` per group (in ``groups`` order) and stage (in
    map order); ``customers`` per group: how many of its customers reached any stage.
    """

    journey_id: str
    as_of: dt.datetime | None
    groups: tuple[str, ...]
    customers: tuple[int, ...]
    reach: tuple[StageReach, ...]

    def stage(self, group: str, stage_id: str) -> StageReach:
        """The reach of one stage (by id) among one group's customers."""
        return next(r for r in self.reach if r.group == group and r.stage_id == stage_id)

    def of(self, group: str) -> tuple[StageReach, ...]:
        """One group's reach, in map order."""
        return tuple(r for r in self.reach if r.group == group)

    def to_frame(self) -> pd.DataFrame:
        """One row per group and stage."""
        columns = [
            "group",
            "stage_id",
            "name",
            "reached",
            "reached_next",
            "conversion_to_next",
            "conversion_to_next_low",
            "conversion_to_next_high",
        ]
        frame = pd.DataFrame([r.to_dict() for r in self.reach], columns=columns)
        floats = [c for c in columns if c.startswith("conversion")]
        return frame.astype({**dict.fromkeys(floats, "float64"), "reached_next": "Int64"}).rename(
            columns={"name": "stage"}
        )

    def to_dict(self) -> dict[str, Any]:
        ready: dict[str, Any] = json_ready(
            {
                "journey_id": self.journey_id,
                "as_of": self.as_of.isoformat() if self.as_of else None,
                "groups": [
                    {
                        "group": group,
                        "customers": customers,
                        "stages": [r.to_dict() for r in self.of(group)],
                    }
                    for group, customers in zip(self.groups, self.customers, strict=True)
                ],
            }
        )
        return ready

    def chart(self) -> go.Figure:
        """Conversion to the next stage per stage, one bar per group."""
        figure = go.Figure(
            [
                go.Bar(
                    name=group,
                    x=[r.name for r in self.of(group) if r.reached_next is not None],
                    y=[r.conversion_to_next for r in self.of(group) if r.reached_next is not None],
                )
                for group in self.groups
            ]
        )
        figure.update_layout(
            title=f"Conversion to the next stage of {self.journey_id} by group",
            barmode="group",
            yaxis_title="share",
            yaxis_tickformat=".0%",
        )
        return figure


REASON_SEPARATOR: Final = "; "
"""How :meth:`StageTables.stalled_table` joins a customer's reasons."""


@dataclass(frozen=True)
class StalledCustomer:
    """A customer stalled in their current stage, and why (``reasons``). ``customer_key``
    is the source's own key on their latest event (the resolved ``customer_id`` may be a
    hash joining several identifiers): what a CRM export needs."""

    customer_id: str
    customer_key: str | None
    stage_id: str
    stage_name: str
    entered_at: dt.datetime
    seconds_in_stage: int
    threshold_seconds: int | None
    last_touchpoint_id: str | None
    last_touchpoint_name: str | None
    last_event_at: dt.datetime
    reasons: tuple[str, ...]

    @property
    def days_in_stage(self) -> float:
        return self.seconds_in_stage / SECONDS_PER_DAY

    @property
    def reason(self) -> str:
        return REASON_SEPARATOR.join(self.reasons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "customer_key": self.customer_key,
            "stage_id": self.stage_id,
            "stage": self.stage_name,
            "days_in_stage": self.days_in_stage,
            "entered_at": self.entered_at.isoformat(),
            "last_touchpoint_id": self.last_touchpoint_id,
            "last_touchpoint": self.last_touchpoint_name,
            "last_event_at": self.last_event_at.isoformat(),
            "reason": self.reason,
        }


_STALLED_COLUMNS = [
    "customer_id",
    "customer_key",
    "stage_id",
    "stage",
    "days_in_stage",
    "entered_at",
    "last_touchpoint_id",
    "last_touchpoint",
    "last_event_at",
    "reason",
]


_STALLED_ROW_COLUMNS: Final = (
    "customer_id",
    "customer_key",
    "stage_id",
    "stage_name",
    "entered_at",
    "seconds_in_stage",
    "threshold_seconds",
    "last_touchpoint_id",
    "last_touchpoint_name",
    "last_event_at",
    "reason",
)


@dataclass(frozen=True, eq=False)
class StalledCustomers(AnalysisResult):
    """The stalled customers, by stage then longest time in stage, with the thresholds
    used (``thresholds``: stage id → dwell seconds, None where nobody moved on).

    ``rows`` are those of :meth:`StageTables.stalled_table`; ``customers`` are made of
    them on first use. At 10M events there are hundreds of thousands, and building one
    object per row cost five times the query: the counts and the chart read the rows.

    >>> import datetime as dt, pyarrow as pa
    >>> t = dt.datetime(2026, 1, 1)
    >>> rows = pa.table({"customer_id": ["a", "b"], "customer_key": [None, "k"],
    ...     "stage_id": ["buy", "buy"], "stage_name": ["Buy", "Buy"], "entered_at": [t, t],
    ...     "seconds_in_stage": [90000, 86400], "threshold_seconds": [3600, 3600],
    ...     "last_touchpoint_id": [None, None], "last_touchpoint_name": [None, None],
    ...     "last_event_at": [t, t], "reason": ["slow; missed milestone paid", "slow"]})
    >>> found = StalledCustomers("shop", t, 80.0, (("look", None), ("buy", 3600)), rows)
    >>> found.counts()["buy"] == {"slow": 2, "missed milestone paid": 1}
    True
    >>> found.customers[0].reasons, found.to_dict()["customers"][1]["customer_key"]
    (('slow', 'missed milestone paid'), 'k')
    """

    journey_id: str
    as_of: dt.datetime | None
    percentile: float
    thresholds: tuple[tuple[str, int | None], ...]
    rows: pa.Table = field(repr=False)

    @functools.cached_property
    def customers(self) -> tuple[StalledCustomer, ...]:
        """The customers as objects, built on first use (column by column: reading the
        rows one by one as dicts costs as much again)."""
        columns = [self.rows.column(name).to_pylist() for name in _STALLED_ROW_COLUMNS]
        return tuple(
            StalledCustomer(
                customer_id=customer_id,
                customer_key=customer_key,
                stage_id=stage_id,
                stage_name=stage_name,
                entered_at=entered_at,
                seconds_in_stage=int(seconds),
                threshold_seconds=threshold,
                last_touchpoint_id=touchpoint_id,
                last_touchpoint_name=touchpoint_name,
                last_event_at=last_event_at,
                reasons=tuple(reason.split(REASON_SEPARATOR)),
            )
            for (
                customer_id,
                customer_key,
                stage_id,
                stage_name,
                entered_at,
                seconds,
                threshold,
                touchpoint_id,
                touchpoint_name,
                last_event_at,
                reason,
            ) in zip(*columns, strict=True)
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StalledCustomers):
            return NotImplemented
        return (self.journey_id, self.as_of, self.percentile, self.thresholds) == (
            other.journey_id,
            other.as_of,
            other.percentile,
            other.thresholds,
        ) and self.rows.equals(other.rows)

    __hash__ = None  # type: ignore[assignment]  # compared by value; holds a table

    def to_frame(self) -> pd.DataFrame:
        """One row per stalled customer (what ``jornada stalled --out`` writes)."""
        return pd.DataFrame([c.to_dict() for c in self.customers], columns=_STALLED_COLUMNS)

    def to_dict(self) -> dict[str, Any]:
        ready: dict[str, Any] = json_ready(
            {
                "journey_id": self.journey_id,
                "as_of": self.as_of.isoformat() if self.as_of else None,
                "percentile": self.percentile,
                "percentile_method": "nearest rank",
                "thresholds": [
                    {"stage_id": stage_id, "threshold_seconds": seconds}
                    for stage_id, seconds in self.thresholds
                ],
                "customers": [c.to_dict() for c in self.customers],
            }
        )
        return ready

    def counts(self) -> dict[str, dict[str, int]]:
        """Stalled customers per stage id and reason (``slow``, ``missed milestone ID``),
        from the rows grouped per stage and combination of reasons."""
        counts: dict[str, dict[str, int]] = {stage_id: {} for stage_id, _ in self.thresholds}
        grouped = self.rows.group_by(["stage_id", "reason"]).aggregate([([], "count_all")])
        for row in grouped.to_pylist():
            per_reason = counts.setdefault(row["stage_id"], {})
            for reason in row["reason"].split(REASON_SEPARATOR):
                per_reason[reason] = per_reason.get(reason, 0) + row["count_all"]
        return counts

    def chart(self) -> go.Figure:
        """Stalled customers per stage, stacked by reason."""
        counts = self.counts()
        stage_ids = list(counts)
        reasons = sorted({r for per in counts.values() for r in per}, key=lambda r: r != "slow")
        figure = go.Figure(
            [
                go.Bar(name=reason, x=stage_ids, y=[counts[s].get(reason, 0) for s in stage_ids])
                for reason in reasons
            ]
        )
        figure.update_layout(
            title=f"Stalled customers in {self.journey_id} ({_label(self.percentile)} dwell)",
            barmode="stack",
            yaxis_title="customers",
        )
        return figure


# --- running ---------------------------------------------------------------------------


def _rows(expr: ir.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows


def _int(value: Any) -> int:
    return 0 if value is None else int(value)


def _count(condition: ir.BooleanValue) -> ir.IntegerScalar:
    return condition.cast("int64").sum()


def _reached_flags(entries: ir.Table, n: int, key: str, **more: ir.Scalar) -> ir.Table:
    """One row per customer who entered a stage (``key``): ``r0`` .. ``r{n-1}``, whether
    they reached each stage (and the aggregates in ``more``)."""
    return entries.group_by(key).aggregate(
        **more, **{f"r{k}": (entries["stage_index"] == k).any() for k in range(n)}
    )


class StageTables:
    """A map's stages measured on events, each intermediate table computed once: a
    temporary table on DuckDB, a cached DataFrame on Spark, released by :meth:`close`
    (or at the end of a ``with`` block). Several results from one ``StageTables`` then run
    small queries on them instead of compiling and evaluating every binding rule again
    (on small data compiling the whole plan costs more than running it).

    ``entries``, ``current`` and ``milestones`` are the tables of :func:`stage_entries`,
    :func:`current_stages` and :func:`milestone_progress`. Inside, customers are keyed
    by :attr:`key` (the store's integer ``customer_no`` when the events have it: cheaper
    to group and join on than text ids), and named by ``customer_id`` in what leaves;
    ``as_of`` is the time used (the last event's when not given; None for an empty log).
    ``labelled`` is every event up to ``as_of``, of a stage or not, labelled once:
    :attr:`key`, ``ts``, ``idx``, ``event`` (on the events outside the map only; null on
    the others), ``session_id`` (not with ``facts``: the stored facts give the time in
    sessions), ``session_next_ts``, ``next_ts``, ``score`` and ``text`` (those the events
    have), ``property_survey`` and ``property_language`` (:data:`RESPONSE_PROPERTIES`,
    on the events with a score or a text), ``stage_index`` (null outside the map),
    ``touchpoint`` (the touchpoint's number in :attr:`touchpoints`, null for none) and
    one flag per measured milestone; :func:`~jornada.living.conformance.conformance`,
    :func:`~jornada.analytics.touchpoints.touchpoint_measures` and
    :func:`~jornada.living.sentiment.measured_emotions` reuse it. ``paths`` are the
    customers' stage paths counted (:class:`StagePaths`), from which the stage analysis
    and conformance read reach, current stages, moves and loops. ``complete`` is
    True when no ``as_of`` was given (``labelled`` then holds every event). ``facts``:
    the events' ``next_ts`` is the time of each customer's next event in these very
    events (the store's facts, or recomputed by
    :func:`~jornada.events.filters.scope_events`, not of a table filtered since): the
    customers' last events are then found with a filter rather than by grouping the
    events (the same numbers). ``store`` (:data:`~jornada.engine.kept.StoreMode`): ``yes``
    keeps the tables in the workspace's store for the next StageTables of the same events
    and map, ``reuse`` reads them there when kept (:func:`~jornada.engine.kept.kept_table`);
    stored tables are not dropped at :meth:`close`.

    >>> from jornada.engine import Engine
    >>> from jornada.model.templates import load_template
    >>> engine = Engine.duckdb()
    >>> _ = engine.sql("create table events as select * from (values "
    ...     "('ana', timestamp '2026-01-01', 'add_to_cart', 'web', 0, map {}::map(varchar, varchar)))"
    ...     " t(customer_id, ts, event, channel, idx, properties)")
    >>> with StageTables(engine.table("events"), load_template("b2c-ecommerce")) as tables:
    ...     current = tables.current.select("customer_id", "stage_id").to_pyarrow().to_pylist()
    ...     analysis = tables.analysis(percentile=90)
    >>> current, analysis.stage("buy").currently_in
    ([{'customer_id': 'ana', 'stage_id': 'buy'}], 1)
    """

    def __init__(
        self,
        events: ir.Table,
        journey: Journey,
        *,
        as_of: dt.datetime | None = None,
        facts: bool = False,
        store: StoreMode = "no",
    ) -> None:
        self.journey = journey
        self.complete = as_of is None
        self._store = store
        if as_of is None:
            [row] = _rows(events.aggregate(as_of=events["ts"].max()))
            as_of = row["as_of"]
        self.as_of: dt.datetime | None = _utc(as_of) if as_of is not None else None
        self._stack = contextlib.ExitStack()
        self._total: int | None = None
        self._paths: StagePaths | None = None
        self._derived: dict[Any, ir.Table] = {}
        try:
            p = _prepare(events, journey, self.as_of, facts=facts, numbered=True)
            self._p = replace(p, labelled=self._keep(p.labelled))
            self._visits = self._keep(stage_visits(self._p.labelled, self._p.key))
            # Cached as numbers; the ids and names are added when read.
            self._entries = _described_entries(self._p, self._keep(_entries(self._p, self._visits)))
            self._milestones = self._keep(_milestones(self._p, self._entries))
        except BaseException:
            self._stack.close()
            raise

    @property
    def labelled(self) -> ir.Table:
        """Every event up to ``as_of`` with its labels (see the class), cached."""
        return self._p.labelled

    @property
    def visits(self) -> ir.Table:
        """The visits (:func:`stage_visits` of :attr:`labelled`, customers by :attr:`key`),
        cached."""
        return self._visits

    @property
    def facts(self) -> bool:
        """Whether the labelled events' ``next_ts`` (and ``session_next_ts``) are the stored
        facts of these very events (see the class)."""
        return self._p.facts

    @property
    def entries(self) -> ir.Table:
        """The stage entries (:func:`stage_entries`), cached (named by ``customer_id``
        on first use)."""
        return self._named(self._entries, "entries")

    @property
    def current(self) -> ir.Table:
        """The current stages (:func:`current_stages`): cached as numbers on first use,
        the stages' and touchpoints' ids and names added when read."""
        if self._p.key == "customer_id":
            return self._current
        return self._current.drop(self._p.key)

    @property
    def _current_core(self) -> ir.Table:
        """The current stages as numbers (:func:`_current_core`), cached on first use:
        the stage analysis does not read the customers' last touchpoints and events."""
        return self.kept(("current stages",), lambda: _current_core(self._p, self._entries))

    @property
    def _current(self) -> ir.Table:
        return _described_current(self._p, self._current_core)

    @property
    def milestones(self) -> ir.Table:
        """The milestones of the stages entered (:func:`milestone_progress`), cached
        (named by ``customer_id`` on first use)."""
        return self._named(self._milestones, "milestones")

    def _named(self, table: ir.Table, kept: str | None = None) -> ir.Table:
        """``table`` (customers in its first column, :attr:`key`) with ``customer_id``
        there instead: from the current stages, which every customer who entered a stage
        has. ``kept``: the name to keep the result under (:meth:`kept`), computed once."""
        key = self._p.key
        if key == "customer_id":
            return table

        def name() -> ir.Table:
            names = self._current_core.select(_n_key=key, _n_id="customer_id")
            joined = table.join(names, table[key] == names["_n_key"])
            rest = [c for c in table.columns if c != key]
            return joined.select(customer_id=joined["_n_id"], **{c: joined[c] for c in rest})

        return name() if kept is None else self.kept(("named", kept), name)

    @property
    def paths(self) -> StagePaths:
        """The customers' stage paths counted (:func:`stage_path_counts` of the visits),
        fetched once: the stage analysis and conformance read them."""
        if self._paths is None:
            table = stage_path_counts(self._visits, self._p.key).to_pyarrow()
            self._paths = StagePaths.of(table, len(self._p.stages))
        return self._paths

    @property
    def key(self) -> str:
        """The column naming customers in ``labelled``, ``entries`` and ``milestones``
        (``current`` has it beside ``customer_id``): :func:`customer_column` of the events."""
        return self._p.key

    @property
    def touchpoints(self) -> tuple[str, ...]:
        """The ids of the touchpoints numbered in ``labelled``'s ``touchpoint`` column."""
        return self._p.touchpoints

    @property
    def total_customers(self) -> int:
        """The customers with an event up to ``as_of`` (of a stage or not), counted once."""
        if self._total is None:
            p = self._p
            labelled = p.labelled
            if p.facts:
                # A customer's last event up to as_of is the one whose next event is
                # later (or none), one per customer: rows counted, no distinct count.
                next_ts = labelled["next_ts"]
                last = next_ts.isnull()
                if p.moment is not None:
                    last = last | (next_ts > p.moment)
                lasts = labelled.filter(last & labelled[p.key].notnull())
                counted = lasts.aggregate(n=lasts.count())
            else:
                counted = labelled.aggregate(n=labelled[p.key].nunique())
            [row] = _rows(counted)
            self._total = _int(row["n"])
        return self._total

    def kept(self, name: Any, build: Callable[[], ir.Table]) -> ir.Table:
        """The table ``build()`` gives, computed once under ``name`` (any hashable) for as
        long as these tables are open: for a table derived from them that several
        analyses read (the touchpoint measures and their trend share one).

        >>> from jornada.engine import Engine
        >>> from jornada.model.templates import load_template
        >>> engine = Engine.duckdb()
        >>> _ = engine.sql("create table events as select * from (values ('ana', "
        ...     "timestamp '2026-01-01', 'add_to_cart', 'web', 0, map {}::map(varchar, varchar)))"
        ...     " t(customer_id, ts, event, channel, idx, properties)")
        >>> with StageTables(engine.table("events"), load_template("b2c-ecommerce")) as tables:
        ...     once = tables.kept("n", lambda: tables.labelled.aggregate(n=tables.labelled.count()))
        ...     once is tables.kept("n", lambda: tables.labelled), once.to_pyarrow().to_pylist()
        (True, [{'n': 1}])
        """
        if name not in self._derived:
            self._derived[name] = self._keep(build())
        return self._derived[name]

    def _keep(self, table: ir.Table) -> ir.Table:
        # Stored tables are never released by a StageTables; a temporary one is this
        # instance's alone (kept_table), released at close.
        kept: ir.Table = self._stack.enter_context(kept_table(table, store=self._store))
        return kept

    def close(self) -> None:
        """Drop the cached tables."""
        self._stack.close()

    def __enter__(self) -> StageTables:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def stalled_table(self, percentile: float = DEFAULT_PERCENTILE) -> ir.Table:
        """The stalled customers as an Ibis table (see :func:`stalled_customers`)."""
        return _stalled(
            self._p,
            self._entries,
            self._current,
            self._milestones,
            percentile,
            self._dwell(percentile),
        )

    def _dwell(self, percentile: float) -> ir.Table:
        """Per stage: movers, median and ``percentile`` dwell (:func:`_dwell`), computed
        once per percentile: the stalled customers and the summaries both read it."""
        return self.kept(
            ("dwell", _fraction(percentile)), lambda: _dwell(self._entries, percentile)
        )

    def analysis(self, percentile: float = DEFAULT_PERCENTILE) -> StageAnalysis:
        """The per-stage result (see :func:`analyse_stages`)."""
        p, entries, progress = self._p, self._entries, self._milestones
        # Counted from the current stages without the last touchpoints and events (the
        # same customers: those joins add columns, not rows).
        stalled, _ = _stalled_rows(
            p, entries, _timed_current(p, entries), progress, percentile, self._dwell(percentile)
        )
        n = len(p.stages)
        # Reach and current stages are functions of the customers' stage paths, counted
        # once for this and conformance.
        totals = self.paths.totals()
        dwell = {row["stage_index"]: row for row in _rows(self._dwell(percentile))}
        milestones = {
            (row["stage_id"], row["milestone_id"]): row
            for row in _rows(
                progress.group_by(["stage_id", "milestone_id"]).aggregate(
                    entered=progress.count(),
                    reached=_count(progress["reached"]),
                    missed=_count(progress["missed"]),
                )
            )
        }
        stalled_counts = {
            row["stage_id"]: row["n"]
            for row in _rows(stalled.group_by("stage_id").aggregate(n=stalled.count()))
        }
        summaries = []
        for k, stage in enumerate(p.stages):
            shares = []
            for milestone in stage.milestones:
                row = milestones.get((stage.id, milestone.id), {})
                shares.append(
                    MilestoneShare(
                        milestone_id=milestone.id,
                        name=milestone.name,
                        within=milestone.within,
                        bound=milestone.events is not None,
                        entered=_int(row.get("entered")),
                        reached=_int(row.get("reached")),
                        missed=_int(row.get("missed")),
                    )
                )
            stage_dwell = dwell.get(k, {})
            summaries.append(
                StageSummary(
                    stage_id=stage.id,
                    name=stage.name,
                    index=k,
                    reached=_int(totals[f"reached{k}"]),
                    currently_in=_int(totals[f"current{k}"]),
                    reached_next=_int(totals[f"next{k}"]) if k + 1 < n else None,
                    reached_from_first=_int(totals[f"first{k}"]),
                    first_reached=_int(totals["reached0"]) if n else 0,
                    movers=_int(stage_dwell.get("movers")),
                    median_dwell_seconds=stage_dwell.get("median_seconds"),
                    threshold_dwell_seconds=stage_dwell.get("threshold_seconds"),
                    stalled=_int(stalled_counts.get(stage.id)),
                    milestones=tuple(shares),
                )
            )
        return StageAnalysis(
            journey_id=self.journey.id,
            as_of=self.as_of,
            percentile=float(percentile),
            total_customers=self.total_customers,
            customers=_int(totals["customers"]),
            stages=tuple(summaries),
        )

    def reach_by(
        self, groups: ir.Table, *, column: str = "group", values: Sequence[str] | None = None
    ) -> StageReachByGroup:
        """Per group of customers and stage: how many reached it and how many of those
        the next stage too, from the cached stage entries in one grouped aggregate.

        ``groups`` has a ``customer_id`` and the group in ``column`` (customers it leaves
        out, or with a null group, are in none). A customer's reach depends on their own
        events only, so each group's figures are exactly those of :func:`analyse_stages`
        run on that group's customers' events (``reached``, ``reached_next``). ``values``
        are the groups to report, in that order (a group nobody in it reached a stage
        of gets zeros); by default the groups found, sorted.

        >>> from jornada.engine import Engine
        >>> from jornada.model.templates import load_template
        >>> engine = Engine.duckdb()
        >>> _ = engine.sql("create table events as select *, map {}::map(varchar, varchar)"
        ...     " as properties from (values "
        ...     "('ana', timestamp '2026-01-01', 'product_view', 'web', 0),"
        ...     "('ana', timestamp '2026-01-02', 'add_to_cart', 'web', 1),"
        ...     "('bo', timestamp '2026-01-01', 'product_view', 'app', 0))"
        ...     " t(customer_id, ts, event, channel, idx)")
        >>> events = engine.table("events")
        >>> arrival = events.filter(events.idx == 0).select("customer_id", "channel")
        >>> with StageTables(events, load_template("b2c-ecommerce")) as tables:
        ...     reach = tables.reach_by(arrival, column="channel")
        >>> [(r.reached, r.reached_next) for r in (reach.stage(g, "compare") for g in reach.groups)]
        [(1, 0), (1, 1)]
        """
        p = self._p
        n = len(p.stages)
        members = groups.select(
            g_customer=groups["customer_id"], g_group=groups[column].cast("string")
        )
        members = members.filter(members["g_group"].notnull()).distinct()
        per_customer = self._named(_reached_flags(self._entries, n, p.key))
        joined = per_customer.join(members, per_customer["customer_id"] == members["g_customer"])
        metrics: dict[str, ir.Scalar] = {"customers": joined.count()}
        for k in range(n):
            metrics[f"reached{k}"] = _count(joined[f"r{k}"])
            if k + 1 < n:
                metrics[f"next{k}"] = _count(joined[f"r{k}"] & joined[f"r{k + 1}"])
        found = {
            row["g_group"]: row for row in _rows(joined.group_by("g_group").aggregate(**metrics))
        }
        order = tuple(values) if values is not None else tuple(sorted(found))
        reach = []
        for group in order:
            row = found.get(group, {})
            for k, stage in enumerate(p.stages):
                reach.append(
                    StageReach(
                        group=group,
                        stage_id=stage.id,
                        name=stage.name,
                        index=k,
                        reached=_int(row.get(f"reached{k}")),
                        reached_next=_int(row.get(f"next{k}")) if k + 1 < n else None,
                    )
                )
        return StageReachByGroup(
            journey_id=self.journey.id,
            as_of=self.as_of,
            groups=order,
            customers=tuple(_int(found.get(group, {}).get("customers")) for group in order),
            reach=tuple(reach),
        )

    def stalled(self, percentile: float = DEFAULT_PERCENTILE) -> StalledCustomers:
        """The stalled customers with the thresholds used (see :func:`find_stalled`)."""
        table = self.stalled_table(percentile)
        thresholds = {
            row["stage_index"]: row["threshold_seconds"] for row in _rows(self._dwell(percentile))
        }
        return StalledCustomers(
            journey_id=self.journey.id,
            as_of=self.as_of,
            percentile=float(percentile),
            thresholds=tuple(
                (stage.id, thresholds.get(k)) for k, stage in enumerate(self._p.stages)
            ),
            rows=table.select(*_STALLED_ROW_COLUMNS).to_pyarrow(),
        )


def analyse_stages(
    events: ir.Table,
    journey: Journey,
    *,
    percentile: float = DEFAULT_PERCENTILE,
    as_of: dt.datetime | None = None,
) -> StageAnalysis:
    """Measure every stage of ``journey`` on ``events``: customers reached and currently
    in, conversion to the next stage and from the first, median and ``percentile`` dwell of
    those who moved on, milestones with shares, and stalled customers (see the module).

    >>> from jornada.engine import Engine
    >>> from jornada.model.templates import load_template
    >>> engine = Engine.duckdb()
    >>> _ = engine.sql("create table events as select 'c1' as customer_id, "
    ...     "timestamp '2026-01-01' as ts, 'purchase' as event, 'web' as channel, "
    ...     "map {'order_index': '1'} as properties, 0 as idx")
    >>> analysis = analyse_stages(engine.table("events"), load_template("b2c-ecommerce"))
    >>> analysis.stage("buy").currently_in, analysis.stage("buy").milestones[0].share
    (1, 1.0)
    """
    _fraction(percentile)
    with StageTables(events, journey, as_of=as_of) as tables:
        return tables.analysis(percentile)


def find_stalled(
    events: ir.Table,
    journey: Journey,
    *,
    percentile: float = DEFAULT_PERCENTILE,
    as_of: dt.datetime | None = None,
) -> StalledCustomers:
    """The customers stalled in their current stage (slow, or a milestone missed), with
    the thresholds used; :func:`stalled_customers` is the same list as an Ibis table.

    >>> from jornada.engine import Engine
    >>> from jornada.model.templates import load_template
    >>> engine = Engine.duckdb()
    >>> _ = engine.sql("create table events as select *, map {}::map(varchar, varchar) as properties"
    ...     " from (values "
    ...     "('c1', timestamp '2026-01-01', 'add_to_cart', 'web', 0),"
    ...     "('c2', timestamp '2026-01-20', 'ad_click', 'social', 0)) t(customer_id, ts, event, channel, idx)")
    >>> [(c.customer_id, c.stage_id, c.reason) for c in
    ...  find_stalled(engine.table("events"), load_template("b2c-ecommerce")).customers]
    [('c1', 'buy', 'missed milestone first_order')]
    """
    _fraction(percentile)
    with StageTables(events, journey, as_of=as_of) as tables:
        return tables.stalled(percentile)
