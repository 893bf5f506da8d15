"""Binding events to a journey map: which events are which touchpoint and stage.

Each touchpoint (stage, milestone) may carry an ``events:`` block
(:class:`~jornada.model.binding.EventBinding`): event ``names``, ``channels`` and a
``where`` rule. Here those blocks become Ibis boolean expressions on the events
table, so every analysis can filter, label and count with them on any backend.

>>> import ibis
>>> from jornada.model import EventBinding
>>> events = ibis.table({"event": "string", "channel": "string"}, name="events")
>>> condition = binding_filter(EventBinding(names=["purchase"], channels=["web"]), events)
>>> condition.type().is_boolean()
True
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from jornada.engine import Engine
from jornada.events.rules import RuleError, compile_rule
from jornada.model import EventBinding, Journey, Stage

__all__ = [
    "BindReport",
    "TouchpointCount",
    "bind_report",
    "binding_filter",
    "label_events",
    "stage_filter",
    "touchpoint_filter",
    "touchpoint_filters",
]

TOP_UNMAPPED = 10
"""How many unmapped event names a :class:`BindReport` lists."""


def binding_filter(
    binding: EventBinding, table: ir.Table, *, context: str | None = None
) -> ir.BooleanValue:
    """True for the events of ``table`` an ``events:`` block describes (never null).

    An event matches when its name is one of ``names``, its channel one of
    ``channels`` and the ``where`` rule holds; an empty list (or no rule) does
    not restrict. ``context`` (``touchpoint 'cart'``) introduces rule errors.

    >>> import ibis
    >>> events = ibis.table({"event": "string", "channel": "string"}, name="events")
    >>> binding = EventBinding(names=["chat_started"], where="channel != 'bot'")
    >>> print(ibis.to_sql(events.filter(binding_filter(binding, events))))  # doctest: +ELLIPSIS
    SELECT
      *
    FROM "events" AS "t0"
    WHERE
      COALESCE("t0"."event" IN ('chat_started'), FALSE)
      AND CASE
        WHEN COALESCE("t0"."event" IN ('chat_started'), FALSE)
        THEN COALESCE("t0"."channel" <> 'bot', FALSE)
        ELSE FALSE
      END
    """
    parts: list[ir.BooleanValue] = []
    if binding.names:
        parts.append(table["event"].isin(list(binding.names)).fill_null(False))
    if binding.channels:
        parts.append(table["channel"].isin(list(binding.channels)).fill_null(False))
    rule: ir.BooleanValue | None = None
    if binding.where:
        try:
            rule = compile_rule(binding.where, table)
        except RuleError as error:
            raise (error.with_context(context) if context else error) from None
    if not parts:
        return rule if rule is not None else ibis.literal(True)
    cheap = functools.reduce(operator.and_, parts)
    if rule is None:
        return cheap
    # The rule only where the names and channels match: computed as a column (a flag,
    # not a filter), ``cheap AND rule`` evaluates both sides on every event, and a rule
    # reading ``properties`` extracts from the map on each; the CASE reads it on the few
    # events left. ``cheap`` stays a conjunct so that a filter can still be pushed down.
    return cheap & ibis.cases((cheap, rule), else_=ibis.literal(False))


def _touchpoint_context(stage: Stage, touchpoint_id: str) -> str:
    return f"the where rule of touchpoint {touchpoint_id!r} (stage {stage.id!r})"


def touchpoint_filters(journey: Journey, table: ir.Table) -> dict[str, ir.BooleanValue]:
    """The filter of every touchpoint with an ``events:`` block, in map order.

    Touchpoints without a block are left out (no event is theirs).

    >>> import ibis
    >>> from jornada.model.templates import load_template
    >>> events = ibis.table({"event": "string", "channel": "string",
    ...                      "properties": "map<string, string>"}, name="events")
    >>> list(touchpoint_filters(load_template("b2c-ecommerce"), events))[:3]
    ['social_ad', 'colleague_tip', 'running_guide']
    """
    filters: dict[str, ir.BooleanValue] = {}
    for stage, touchpoint in journey.iter_touchpoints():
        if touchpoint.events is None or touchpoint.id in filters:
            continue
        filters[touchpoint.id] = binding_filter(
            touchpoint.events, table, context=_touchpoint_context(stage, touchpoint.id)
        )
    return filters


def touchpoint_filter(
    journey: Journey, touchpoint_id: str, table: ir.Table
) -> ir.BooleanValue | None:
    """The filter of one touchpoint, by id: that of the first touchpoint of the id with
    an ``events:`` block, in map order (the one :func:`touchpoint_filters` keeps); None
    when no touchpoint of the id is bound. Only its rule is compiled.

    >>> import ibis
    >>> from jornada.model.templates import load_template
    >>> events = ibis.table({"event": "string", "channel": "string",
    ...                      "properties": "map<string, string>"}, name="events")
    >>> shop = load_template("b2c-ecommerce")
    >>> touchpoint_filter(shop, "cart", events).type().is_boolean()
    True
    >>> touchpoint_filter(shop, "no_such_touchpoint", events) is None
    True
    """
    for stage, touchpoint in journey.iter_touchpoints():
        if touchpoint.id == touchpoint_id and touchpoint.events is not None:
            return binding_filter(
                touchpoint.events, table, context=_touchpoint_context(stage, touchpoint.id)
            )
    return None


def _own_stage_filter(stage: Stage, table: ir.Table) -> ir.BooleanValue | None:
    if stage.events is None:
        return None
    return binding_filter(stage.events, table, context=f"the where rule of stage {stage.id!r}")


def stage_filter(stage: Stage, table: ir.Table) -> ir.BooleanValue:
    """True for the events of a stage: those of any of its touchpoints, plus those of
    the stage's own ``events:`` block. False everywhere when nothing is bound.

    >>> import ibis
    >>> from jornada.model import Stage, Touchpoint
    >>> events = ibis.table({"event": "string", "channel": "string"}, name="events")
    >>> stage = Stage(id="buy", name="Buy", events=EventBinding(names=["purchase"]),
    ...               touchpoints=[Touchpoint(id="cart", name="Cart",
    ...                                       events=EventBinding(names=["add_to_cart"]))])
    >>> stage_filter(stage, events).type().is_boolean()
    True
    """
    parts = [
        binding_filter(touchpoint.events, table, context=_touchpoint_context(stage, touchpoint.id))
        for touchpoint in stage.touchpoints
        if touchpoint.events is not None
    ]
    own = _own_stage_filter(stage, table)
    if own is not None:
        parts.append(own)
    if not parts:
        return ibis.literal(False)
    return functools.reduce(operator.or_, parts)


def _touchpoint_stages(journey: Journey) -> dict[str, str]:
    stages: dict[str, str] = {}
    for stage, touchpoint in journey.iter_touchpoints():
        stages.setdefault(touchpoint.id, stage.id)
    return stages


def label_events(journey: Journey, table: ir.Table) -> ir.Table:
    """``table`` with two more columns: ``touchpoint_id``, the first touchpoint in map
    order whose binding matches the event, and ``stage_id``, that touchpoint's stage
    (or, for events of no touchpoint, the first stage whose own ``events:`` block
    matches). Both are null for events the map does not describe.

    One ``CASE`` expression per column: no join, no loop over rows.

    >>> import ibis
    >>> from jornada.model.templates import load_template
    >>> events = ibis.table({"event": "string", "channel": "string",
    ...                      "properties": "map<string, string>"}, name="events")
    >>> label_events(load_template("b2c-ecommerce"), events).columns[-2:]
    ('touchpoint_id', 'stage_id')
    """
    filters = touchpoint_filters(journey, table)
    stages = _touchpoint_stages(journey)
    if filters:
        touchpoint_id = ibis.cases(
            *((condition, ibis.literal(tp, type="string")) for tp, condition in filters.items()),
            else_=ibis.null("string"),
        )
    else:
        touchpoint_id = ibis.null("string")
    labelled = table.mutate(touchpoint_id=touchpoint_id)
    # The touchpoint's stage by a simple lookup on the new column: one branch per
    # touchpoint comparing the column would repeat the whole touchpoint CASE in each
    # branch once compiled, and planning then grows with the square of the map.
    by_touchpoint = (
        labelled["touchpoint_id"].substitute(
            {tp: stages[tp] for tp in filters}, else_=ibis.null("string")
        )
        if filters
        else ibis.null("string")
    )
    own_branches: list[tuple[ir.BooleanValue, ir.StringValue]] = []
    for stage in journey.ordered_stages():
        own = _own_stage_filter(stage, labelled)
        if own is not None:
            own_branches.append((own, ibis.literal(stage.id, type="string")))
    if own_branches:
        stage_id = by_touchpoint.coalesce(ibis.cases(*own_branches, else_=ibis.null("string")))
    else:
        stage_id = by_touchpoint
    return labelled.mutate(stage_id=stage_id)


@dataclass(frozen=True)
class TouchpointCount:
    """How many events and customers one touchpoint's binding matches.

    ``bound`` is False for a touchpoint without an ``events:`` block (counts are 0).
    """

    touchpoint_id: str
    name: str
    stage_id: str
    bound: bool
    events: int
    customers: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "touchpoint_id": self.touchpoint_id,
            "name": self.name,
            "stage_id": self.stage_id,
            "bound": self.bound,
            "events": self.events,
            "customers": self.customers,
        }


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


@dataclass(frozen=True)
class BindReport:
    """How well a map's bindings cover an event log.

    Each touchpoint is counted on its own (an event may match several); coverage
    counts the events (and customers with at least one event) matched by some
    touchpoint. ``unmapped`` lists the most frequent event names no touchpoint
    matches, with their counts.

    >>> report = BindReport(
    ...     journey_id="shop", total_events=10, total_customers=4, matched_events=7,
    ...     matched_customers=3,
    ...     touchpoints=(TouchpointCount("cart", "Cart", "buy", True, 7, 3),),
    ...     unmapped=(("page_view", 3),),
    ... )
    >>> report.event_coverage, report.customer_coverage
    (0.7, 0.75)
    >>> print(report)
    Map 'shop': 7 of 10 events (70.0%) and 3 of 4 customers (75.0%) match a touchpoint.
    Most frequent unmapped events: page_view (3).
    >>> report.to_dict()["touchpoints"][0]["events"]
    7
    """

    journey_id: str
    total_events: int
    total_customers: int
    matched_events: int
    matched_customers: int
    touchpoints: tuple[TouchpointCount, ...]
    unmapped: tuple[tuple[str | None, int], ...]

    @property
    def event_coverage(self) -> float:
        """Share of events matched by some touchpoint (0 for an empty log)."""
        return _share(self.matched_events, self.total_events)

    @property
    def customer_coverage(self) -> float:
        """Share of customers with at least one event matched by some touchpoint."""
        return _share(self.matched_customers, self.total_customers)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready data."""
        return {
            "journey_id": self.journey_id,
            "total_events": self.total_events,
            "total_customers": self.total_customers,
            "matched_events": self.matched_events,
            "matched_customers": self.matched_customers,
            "event_coverage": self.event_coverage,
            "customer_coverage": self.customer_coverage,
            "touchpoints": [count.to_dict() for count in self.touchpoints],
            "unmapped": [{"event": name, "events": count} for name, count in self.unmapped],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per touchpoint, in map order."""
        columns = ["touchpoint_id", "name", "stage_id", "bound", "events", "customers"]
        return pd.DataFrame([count.to_dict() for count in self.touchpoints], columns=columns)

    def __str__(self) -> str:
        lines = [
            f"Map {self.journey_id!r}: {self.matched_events:,} of {self.total_events:,} events "
            f"({self.event_coverage:.1%}) and {self.matched_customers:,} of "
            f"{self.total_customers:,} customers ({self.customer_coverage:.1%}) "
            "match a touchpoint."
        ]
        unbound = [c.touchpoint_id for c in self.touchpoints if not c.bound]
        silent = [c.touchpoint_id for c in self.touchpoints if c.bound and not c.events]
        if unbound:
            lines.append(f"Touchpoints without an events block: {', '.join(unbound)}.")
        if silent:
            lines.append(f"Touchpoints matching no event: {', '.join(silent)}.")
        if self.unmapped:
            listed = ", ".join(f"{name} ({count:,})" for name, count in self.unmapped)
            lines.append(f"Most frequent unmapped events: {listed}.")
        return "\n".join(lines)


def _int(value: Any) -> int:
    # A sum over no rows is null.
    return 0 if value is None else int(value)


def bind_report(engine: Engine, table: ir.Table, journey: Journey) -> BindReport:
    """Count what each touchpoint's binding matches in ``table``, and what no touchpoint
    does. Two queries: one aggregate for every count, one for the unmapped names.

    >>> from jornada.engine import Engine
    >>> from jornada.model import Journey, Stage, Touchpoint
    >>> engine = Engine.duckdb()
    >>> _ = engine.sql("create table events as select * from (values "
    ...     "('c1', 'purchase', 'web'), ('c1', 'page_view', 'web'), ('c2', 'page_view', 'app'))"
    ...     " t(customer_id, event, channel)")
    >>> journey = Journey(id="shop", title="Shop", stages=[Stage(id="buy", name="Buy",
    ...     touchpoints=[Touchpoint(id="pay", name="Pay", events=EventBinding(names=["purchase"]))])])
    >>> print(bind_report(engine, engine.table("events"), journey))
    Map 'shop': 1 of 3 events (33.3%) and 1 of 2 customers (50.0%) match a touchpoint.
    Most frequent unmapped events: page_view (2).
    """
    filters = touchpoint_filters(journey, table)
    keys = {tp: f"_tp{i}" for i, tp in enumerate(filters)}
    any_match = functools.reduce(operator.or_, filters.values()) if filters else ibis.literal(False)
    flagged = table.select(
        "customer_id",
        "event",
        _matched=any_match,
        **{keys[tp]: condition for tp, condition in filters.items()},
    )
    customer = flagged["customer_id"]
    matched = flagged["_matched"]
    no_customer = ibis.null("string")
    metrics: dict[str, ir.Value] = {
        "total_events": flagged.count(),
        "total_customers": customer.nunique(),
        "matched_events": matched.cast("int64").sum(),
        "matched_customers": ibis.cases((matched, customer), else_=no_customer).nunique(),
    }
    for key in keys.values():
        metrics[f"{key}_events"] = flagged[key].cast("int64").sum()
        metrics[f"{key}_customers"] = ibis.cases(
            (flagged[key], customer), else_=no_customer
        ).nunique()
    # Arrow, not pandas: exact integers and None for nulls.
    row = engine.to_arrow(flagged.aggregate(**metrics)).to_pylist()[0]

    unmapped_expr = (
        flagged.filter(~matched)
        .group_by("event")
        .aggregate(events=ibis._.count())
        .order_by([ibis.desc("events"), ibis.asc("event", nulls_first=False)])
        .limit(TOP_UNMAPPED)
    )
    unmapped = tuple(
        (entry["event"], int(entry["events"]))
        for entry in engine.to_arrow(unmapped_expr).to_pylist()
    )

    counts: list[TouchpointCount] = []
    for stage, touchpoint in journey.iter_touchpoints():
        column = keys.get(touchpoint.id)
        counts.append(
            TouchpointCount(
                touchpoint_id=touchpoint.id,
                name=touchpoint.name,
                stage_id=stage.id,
                bound=touchpoint.events is not None,
                events=_int(row[f"{column}_events"]) if column else 0,
                customers=_int(row[f"{column}_customers"]) if column else 0,
            )
        )
    return BindReport(
        journey_id=journey.id,
        total_events=_int(row["total_events"]),
        total_customers=_int(row["total_customers"]),
        matched_events=_int(row["matched_events"]),
        matched_customers=_int(row["matched_customers"]),
        touchpoints=tuple(counts),
        unmapped=unmapped,
    )
