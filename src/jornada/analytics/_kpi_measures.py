"""The engine half of the KPIs: base measures of each (scope, period), in one query.

Every KPI of the catalogue is ``numerator / denominator × scale`` over the *base
measures* below (:data:`BASE_MEASURES`), each aggregated in the engine per scope (all
events, a channel, a campaign, a stage or touchpoint of a map) and period. The events
are first flagged with the *counts* (what counts as an impression, a purchase...: Ibis
conditions) and tagged with their scope; a stage or touchpoint takes the events its
``events:`` bindings match, so an event may belong to several scopes.

**Sessions** (decision 0006): a session is a customer's events sharing one
``session_id``, the source's own ids honoured as ``customers.sessions`` counts them: a
session id that comes back later in the path (A, B, A: two devices merged by identity
resolution) is one session, not one per stretch. Its landing is its first event (its
landing page, its first page view), its exit its last event, its duration last - first,
and an event's next event in the session may come after another session's. The
visits measures and the carts follow it (see :func:`_session_columns`).

Periods are numbered in the engine, portably: days since 1970-01-01, ISO weeks since
Monday 1970-01-05, months (``year × 12 + month − 1``), quarters, years; one number 0
for the whole log. :func:`period_start` turns a number back into its first day.

>>> import ibis, datetime as dt
>>> events = ibis.memtable({"ts": [dt.datetime(2026, 3, 4, 12)]})
>>> number = events.select(n=period_number(events.ts, "month")).to_pyarrow()["n"][0].as_py()
>>> number, period_start(number, "month")
(24314, datetime.date(2026, 3, 1))
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa

from jornada.analytics._exact import exact_sum
from jornada.analytics.timing import seconds_between
from jornada.engine.kept import StoreMode, kept_table
from jornada.events.filters import customer_column

__all__ = [
    "BASE_MEASURES",
    "DERIVED",
    "ROLES",
    "TOTAL",
    "FixedScope",
    "KpiPeriod",
    "MeasureTable",
    "ScopeKind",
    "compute_measures",
    "period_number",
    "period_start",
]

KpiPeriod = Literal["day", "week", "month", "quarter", "year"]
ScopeKind = Literal["all", "channel", "campaign", "stage", "touchpoint"]

ROLES: Final = (
    "impression",
    "click",
    "engagement",
    "page_view",
    "purchase",
    "refund",
    "conversion",
    "cart",
    "churn",
    "referral",
    "feedback",
    "csat",
    "nps",
    "ces",
)
"""What the counts say counts as: each one a condition on events."""

BASE_MEASURES: Final[Mapping[str, str]] = {
    # on the scope's events, per period
    "impressions": "impression events + spend-table impressions",
    "impression_events": "impression events",
    "reach": "distinct customers with an impression event",
    "clicks": "click events + spend-table clicks",
    "interactions": "engagement events",
    "spend": "cost on the events + spend-table spend (unknown when neither has any)",
    "purchases": "purchase events",
    "purchase_revenue": "sum of the values of purchase events",
    "net_revenue": "purchase values minus refunds (absolute values of refund events)",
    "customers": "distinct customers with an event",
    "csat_responses": "CSAT responses scored 1 to 5",
    "csat_points": "sum of those scores",
    "csat_satisfied": "those scored 4 or 5",
    "nps_responses": "NPS responses scored 0 to 10",
    "nps_net": "promoters (9-10) minus detractors (0-6)",
    "ces_responses": "CES responses scored 1 to 7",
    "ces_points": "sum of those scores",
    "feedback": "feedback events",
    # visits: sessions with a page view, scoped by their landing (first) page view; a
    # session is a customer's events sharing one session_id (decision 0006), wherever
    # they are in the path
    "visits": "visits whose landing page view is in the scope",
    "bounces": "those visits with no event of the session after the landing page view",
    "visit_seconds": "sum of those visits' durations (session's last event - first event)",
    "visit_page_views": "page views in those visits",
    "timed_page_views": "page views followed by another event of the same session",
    "page_seconds": "sum of the time from those page views to their session's next event",
    # customers the scope reached (an event in the scope in the period)
    "converters": "reached customers with a conversion at or after their first scope event",
    "conversions": "those conversion events",
    "converted_revenue": "net revenue of those customers' purchases at or after that event",
    "clv_revenue": "net revenue of reached customers' purchases up to the period's end",
    "clv_customers": "reached customers with a purchase up to the period's end",
    "base_customers": "customers with a scope event in the period before",
    "retained": "those active in the period (any event) without a churn event",
    "churned": "the others",
    "purchasers": "reached customers with a purchase event (anywhere) in the period",
    "repeat_purchasers": "those with two or more",
    "referrals": "customers whose first referral event in the scope falls in the period",
    "carts": "sessions' first cart events in the scope",
    "abandoned_carts": "carts with no purchase by the customer within 24 hours",
}
"""Every base measure a catalogue ``measure:`` may name, with what it counts."""

DERIVED: Final[Mapping[str, tuple[str, ...]]] = {
    "impressions": ("impression_events", "impressions_table"),
    "clicks": ("clicks_events", "clicks_table"),
    "spend": ("spend_events", "spend_table"),
    "net_revenue": ("purchase_revenue", "refunds"),
    "churned": ("base_customers", "retained"),
    "abandoned_carts": ("carts", "converted_carts"),
}
"""Base measures computed from engine measures after the query (sums and differences)."""

TOTAL: Final = "__jornada_total__"
"""The scope key of the whole period's spend (what a scope without spend is charged)."""
_RANGE: Final = "__jornada_range__"  # the scope key of the log's range rows

_EVENTS_PART: Final = (
    "impression_events",
    "reach",
    "clicks_events",
    "interactions",
    "spend_events",
    "purchases",
    "purchase_revenue",
    "refunds",
    "customers",
    "csat_responses",
    "csat_points",
    "csat_satisfied",
    "nps_responses",
    "nps_net",
    "ces_responses",
    "ces_points",
    "feedback",
)
_VISITS_PART: Final = (
    "visits",
    "bounces",
    "visit_seconds",
    "visit_page_views",
    "timed_page_views",
    "page_seconds",
)
_CONVERSIONS_PART: Final = ("converters", "conversions", "converted_revenue")
_CLV_PART: Final = ("clv_revenue", "clv_customers")
_RETENTION_PART: Final = ("base_customers", "retained")
_REPEAT_PART: Final = ("purchasers", "repeat_purchasers")
_CARTS_PART: Final = ("carts", "converted_carts")
_TABLE_PART: Final = ("spend_table", "impressions_table", "clicks_table")
_CART_WINDOW_SECONDS: Final = 24 * 3600
_REACHED: Final = ("customer", "p", "idx")  # what the reached customers are made of

_EPOCH: Final = dt.date(1970, 1, 1)
_EPOCH_MONDAY: Final = dt.date(1970, 1, 5)  # week 0 starts here (epoch day 4)


def period_number(ts: ir.TimestampValue, period: KpiPeriod | None) -> ir.IntegerValue:
    """The number of the period ``ts`` falls in (0 for every event when ``period`` is None)."""
    if period is None:
        return ibis.literal(0, type="int64")
    if period in ("day", "week"):
        # Calendar days since the epoch: a difference from midnight, the same on DuckDB
        # (day boundaries crossed) and Spark (whole days elapsed).
        days = ts.delta(ibis.timestamp("1970-01-01 00:00:00"), unit="day").cast("int64")
        return days if period == "day" else (days - 4) // 7
    year = ts.year().cast("int64")
    month = ts.month().cast("int64")
    if period == "month":
        return year * 12 + month - 1
    if period == "quarter":
        return year * 4 + (month - 1) // 3
    return year


def period_start(number: int, period: KpiPeriod) -> dt.date:
    """The first day of period ``number`` (see :func:`period_number`).

    >>> period_start(0, "week"), period_start(8104, "quarter"), period_start(2026, "year")
    (datetime.date(1970, 1, 5), datetime.date(2026, 1, 1), datetime.date(2026, 1, 1))
    """
    if period == "day":
        return _EPOCH + dt.timedelta(days=number)
    if period == "week":
        return _EPOCH_MONDAY + dt.timedelta(weeks=number)
    if period == "month":
        year, month = divmod(number, 12)
        return dt.date(year, month + 1, 1)
    if period == "quarter":
        year, quarter = divmod(number, 4)
        return dt.date(year, quarter * 3 + 1, 1)
    return dt.date(number, 1, 1)


@dataclass(frozen=True)
class FixedScope:
    """A stage or touchpoint as a scope: its key, the condition its events meet, and the
    spend-table channels charged to it."""

    key: str
    condition: Any  # an Ibis BooleanValue over the events table
    channels: tuple[str, ...]
    needed: frozenset[str] | None = None
    """The base measures this scope's KPIs use (None: all): a map's board asks a
    touchpoint for one or two KPIs, and the costly parts (visits, CLV, retention...) then
    run only over the scopes that use them."""


@dataclass(frozen=True)
class MeasureTable:
    """The engine's answer: measures by (scope key, period number), and the log's range."""

    values: Mapping[tuple[str, int], Mapping[str, float]]
    periods: tuple[int, ...]
    first: dt.datetime | None
    last: dt.datetime | None

    def get(self, scope: str, period: int, name: str) -> float | None:
        """A base measure (derived ones included); None when unknown (spend without any)."""
        if name in DERIVED:
            return _derived(name, [self.get(scope, period, part) for part in DERIVED[name]])
        value = self.values.get((scope, period), {}).get(name)
        if value is None and name not in ("spend_events", "spend_table"):
            return 0.0  # nothing happened: a count or sum of nothing
        return value


def _derived(name: str, parts: list[float | None]) -> float | None:
    a, b = parts
    if name in ("churned", "abandoned_carts", "net_revenue"):
        return (a or 0.0) - (b or 0.0)
    if a is None and b is None:
        return None  # spend: neither the events nor the table say anything
    return (a or 0.0) + (b or 0.0)


def _engine_measures(needed: frozenset[str]) -> frozenset[str]:
    expanded: set[str] = set()
    for name in needed:
        expanded.update(DERIVED.get(name, (name,)))
    return frozenset(expanded)


@dataclass(frozen=True)
class _Part:
    """One part of the query: rows (scope, p, v) where ``v`` lists the values ``labels``
    name, each (scope key, or None for the row's scope; measure)."""

    table: ir.Table
    labels: tuple[tuple[str | None, str], ...]


def _pack(
    table: ir.Table,
    names: Sequence[str],
    labels: Sequence[tuple[str, str]] | None = None,
) -> _Part:
    """A part of one row per (scope, p) of ``table``, its ``names`` columns as values:
    each the measure of that name of the row's scope; with ``labels`` (scope, measure),
    one per column, a table of one row per period (no ``scope`` column) whose columns
    are the measures of several scopes.

    >>> import ibis
    >>> totals = ibis.table({"scope": "string", "p": "int64", "visits": "int64"}, name="t")
    >>> _pack(totals, ["visits"]).labels
    ((None, 'visits'),)
    >>> wide = ibis.table({"p": "int64", "m0": "int64"}, name="w")
    >>> _pack(wide, ["m0"], [("stage:buy", "visits")]).labels
    (('stage:buy', 'visits'),)
    """
    if labels is None:
        scope = table.scope.cast("string")
        found: tuple[tuple[str | None, str], ...] = tuple((None, name) for name in names)
    else:
        scope = ibis.literal("", type="string")
        found = tuple(labels)
    return _Part(
        table.select(
            scope=scope,
            p=table.p.cast("int64"),
            v=ibis.array([table[name].cast("float64") for name in names]),
        ),
        found,
    )


_BITS: Final = 62  # flags packed per int64 column (below the sign bit)


@dataclass(frozen=True)
class _Packed:
    """Where each flag of the kept events lives: bit ``bit`` of the integer column
    ``column``. Flags kept as a few integers, not one boolean column each, made the kept
    table about half as costly to build at 10M events (three dozen boolean columns,
    most taken through the join of the pairs, cost more than every other column)."""

    bits: Mapping[str, tuple[str, int]]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(column for column, _ in self.bits.values()))

    def sums(self, flags: Mapping[str, Any]) -> dict[str, Any]:
        """The integer columns of ``flags`` (name -> condition), each flag a bit."""
        found: dict[str, Any] = {}
        for name, flag in flags.items():
            column, bit = self.bits[name]
            term = ibis.cases((flag, ibis.literal(1 << bit, type="int64")), else_=0)
            found[column] = term if column not in found else found[column] + term
        return found


def _pack_bits(names: Iterable[str], *, prefix: str = "f") -> _Packed:
    """Bit after bit, column after column, one per flag of ``names``.

    >>> _pack_bits(f"a{k}" for k in range(64)).bits["a63"]
    ('f1', 1)
    """
    return _Packed({name: (f"{prefix}{k // _BITS}", k % _BITS) for k, name in enumerate(names)})


@dataclass(frozen=True)
class _Flags:
    """The roles and fixed scopes as flags on the kept events: each scope's condition is
    an OR of *atoms* (the distinct disjuncts of every condition), each kept once as a bit
    (see :class:`_Packed`), so a stage (its touchpoints' conditions ORed) costs no
    evaluation of its own: a test of the bits of its atoms.

    Each part tests the bits where it reads a flag: a view of the kept events with the
    flags unpacked as boolean columns, shared by the parts, became a CTE that DuckDB
    materialised once more (the whole query twice as costly)."""

    of: tuple[tuple[str, ...] | None, ...]  # each scope's atoms (None: scope unused)
    packed: _Packed

    def test(self, table: ir.Table, names: Iterable[str]) -> ir.BooleanValue:
        """True where any of the flags ``names`` is set (one test per integer column)."""
        masks: dict[str, int] = {}
        for name in names:
            column, bit = self.packed.bits[name]
            masks[column] = masks.get(column, 0) | (1 << bit)
        assert masks, "no flags to test"
        tests = [(table[c] & ibis.literal(m, type="int64")) != 0 for c, m in masks.items()]
        return functools.reduce(operator.or_, tests)

    def role(self, table: ir.Table, role: str) -> ir.BooleanValue:
        """True for the events that count as ``role`` (a name of :data:`ROLES`)."""
        return self.test(table, [f"r_{role}"])

    def flag(self, table: ir.Table, *scopes: int) -> ir.BooleanValue:
        """True for the events of any of ``scopes`` (indexes of used scopes): their atoms
        ORed, each once."""
        names = list(dict.fromkeys(name for i in scopes for name in self.of[i] or ()))
        assert names, f"scopes {scopes} are unused: callers flag used scopes only"
        return self.test(table, names)

    def columns(self, *scopes: int) -> list[str]:
        """The integer columns holding the atoms of ``scopes`` (all columns: none given)."""
        if not scopes:
            return list(self.packed.columns)
        names = [name for i in scopes for name in self.of[i] or ()]
        return list(dict.fromkeys(self.packed.bits[name][0] for name in names))


def _disjuncts(condition: Any) -> list[Any]:
    op = condition.op()
    if isinstance(op, ops.Or):
        return _disjuncts(op.left.to_expr()) + _disjuncts(op.right.to_expr())
    return [condition]


def _conjuncts(condition: Any) -> list[Any]:
    op = condition.op()
    if isinstance(op, ops.And):
        return _conjuncts(op.left.to_expr()) + _conjuncts(op.right.to_expr())
    return [condition]


def _costly(condition: Any) -> bool:
    return bool(condition.op().find(_COSTLY, filter=ops.Value))


def _short_circuit(condition: Any) -> Any:
    """``condition`` with its map lookups evaluated only where its other conjuncts hold
    (``CASE WHEN cheap THEN costly ELSE FALSE``): a rule on ``properties`` then reads the
    map of a few events, not all. The same truth (null read as false)."""
    op = condition.op()
    if isinstance(op, ops.Coalesce) and len(op.arg) == 2:
        inner, fallback = op.arg
        if isinstance(fallback, ops.Literal) and fallback.value is False:
            return _short_circuit(inner.to_expr()).fill_null(False)
    parts = _conjuncts(condition)
    costly = [part for part in parts if _costly(part)]
    cheap = [part for part in parts if not _costly(part)]
    if not costly or not cheap:
        return condition
    return ibis.cases(
        (functools.reduce(operator.and_, cheap), functools.reduce(operator.and_, costly)),
        else_=ibis.literal(False),
    )


def _atoms(
    fixed: Sequence[FixedScope], used: Sequence[bool]
) -> tuple[dict[str, Any], tuple[tuple[str, ...] | None, ...]]:
    """The atoms (name -> condition) of the used fixed scopes, and each scope's atoms."""
    columns: dict[str, Any] = {}
    names: dict[Any, str] = {}
    of: list[tuple[str, ...] | None] = []
    for scope, use in zip(fixed, used, strict=True):
        if not use:
            of.append(None)
            continue
        mine = []
        for term in _disjuncts(scope.condition):
            name = names.get(term.op())
            if name is None:
                name = names[term.op()] = f"a{len(names)}"
                columns[name] = term
            mine.append(name)
        of.append(tuple(dict.fromkeys(mine)))
    return columns, tuple(of)


def _count(condition: ir.BooleanValue, where: Any = None) -> ir.IntegerScalar:
    return condition.cast("int64").sum(where=where)


def _event_metrics(s: ir.Table, flags: _Flags, where: Any = None) -> dict[str, Any]:
    """The events measures of ``s`` (over the events ``where`` holds): each additive one
    the sum :data:`_EVENT_SUMS` names over the events of its role, and the distinct
    customers (with an impression, for ``reach``)."""
    metrics = {
        name: _event_sum(s, total, _both(flags.role(s, role), where) if role else where)
        for name, (role, total) in _EVENT_SUMS.items()
    }
    null_customer = ibis.null(s.customer.type())
    impression = flags.role(s, "impression")
    metrics["reach"] = ibis.cases((impression, s.customer), else_=null_customer).nunique(
        where=where
    )
    metrics["customers"] = s.customer.nunique(where=where)
    return metrics


def _both(condition: Any, where: Any) -> Any:
    return condition if where is None else condition & where


def _events_part(scoped: ir.Table, flags: _Flags, names: Sequence[str]) -> _Part:
    metrics = _event_metrics(scoped, flags)
    totals = scoped.group_by(["scope", "p"]).aggregate(**{name: metrics[name] for name in names})
    return _pack(totals, names)


_COSTLY: Final = (ops.MapGet, ops.MapContains)  # reading an event's map of properties
_DISTINCT: Final = frozenset({"reach", "customers"})  # measures that do not add up


_EVENT_SUMS: Final[Mapping[str, tuple[str | None, str]]] = {
    "impression_events": ("impression", "events"),
    "clicks_events": ("click", "events"),
    "interactions": ("engagement", "events"),
    "spend_events": (None, "cost"),
    "purchases": ("purchase", "events"),
    "purchase_revenue": ("purchase", "value"),
    "refunds": ("refund", "value_abs"),
    "csat_responses": ("csat", "csat_responses"),
    "csat_points": ("csat", "csat_points"),
    "csat_satisfied": ("csat", "csat_satisfied"),
    "nps_responses": ("nps", "nps_responses"),
    "nps_net": ("nps", "nps_net"),
    "ces_responses": ("ces", "ces_responses"),
    "ces_points": ("ces", "ces_points"),
    "feedback": ("feedback", "events"),
}
"""Each additive measure of the events part as a role (None: every event) and a sum of
:func:`_event_sum` over the events of that role."""

_SCALES: Final[Mapping[str, tuple[int, int]]] = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}
"""Each survey's scale: a response scored outside it is not counted."""


def _event_sum(s: ir.Table, name: str, where: Any = None) -> Any:
    """The sum ``name`` of :data:`_EVENT_SUMS` over the events of ``s`` that ``where``
    holds for, whatever their roles: the events part takes it over the events of a role,
    or per combination of flags (a role is then a test of the group).

    >>> import ibis
    >>> t = ibis.memtable({"score": [0.0, 5.0, 9.0, 11.0]})
    >>> sums = t.aggregate(n=_event_sum(t, "nps_net"), r=_event_sum(t, "nps_responses"))
    >>> sums.to_pyarrow().to_pylist()  # 0 and 5 detract, 9 promotes, 11 is off the scale
    [{'n': -1, 'r': 3}]
    """
    if name == "events":
        return s.count(where=where)
    if name in ("cost", "value"):
        return exact_sum(s[name], where)
    if name == "value_abs":
        return exact_sum(s.value.abs(), where)
    survey, what = name.split("_", 1)
    low, high = _SCALES[survey]
    scored = s.score.between(low, high)
    if what == "responses":
        return _count(scored, where)
    if what == "points":
        return exact_sum(ibis.cases((scored, s.score), else_=ibis.null("float64")), where)
    if what == "satisfied":
        return _count(scored & (s.score >= 4), where)
    assert what == "net", name  # promoters (9-10) minus detractors (0-6)
    net = ibis.cases((scored & (s.score >= 9), 1), (scored & (s.score <= 6), -1), else_=0)
    return net.cast("int64").sum(where=where)


def _wide(
    table: ir.Table,
    metrics: Any,  # (table, where) -> the part's metrics on table, filtered by ``where``
    flags: _Flags,
    scopes: Sequence[tuple[str, int, Sequence[str]]],  # (key, scope index, measures)
    split: Mapping[str, tuple[str | None, str]] | None = None,
) -> list[_Part]:
    """Per period, the measures of each fixed scope over ``table``: one pass, no copy of
    the events per scope.

    The sums are taken once per period and combination of the scopes' atoms (a few
    groups), then each scope adds up the groups its flag holds; a distinct count is
    filtered by the flag. Only the events of the scopes are read (a period without any
    then has no row: its measures are those of nothing, as the filters would give).
    With ``split`` (measure -> (role, sum), see :data:`_EVENT_SUMS`), the sums of
    :func:`_event_sum` are taken per combination of the atoms and roles, and a measure
    adds up those of its role's groups: the events are not tested for each role."""
    parts: list[_Part] = []
    additive = [(key, i, [n for n in names if n not in _DISTINCT]) for key, i, names in scopes]
    additive = [scope for scope in additive if scope[2]]
    if additive:
        columns = flags.columns(*(i for _, i, _ in additive))
        names = list(dict.fromkeys(n for _, _, mine in additive for n in mine))
        mine = table.filter(flags.flag(table, *(i for _, i, _ in additive)))
        if split is None:
            plain = metrics(mine, None)
            sums = {n: plain[n] for n in names}
        else:
            roles = [f"r_{split[n][0]}" for n in names if split[n][0] is not None]
            roles_at = [flags.packed.bits[role][0] for role in roles]
            columns = list(dict.fromkeys([*columns, *roles_at]))
            sums = {split[n][1]: _event_sum(mine, split[n][1]) for n in names}
        grouped = mine.group_by(["p", *columns]).aggregate(**sums)

        def total(name: str, i: int) -> Any:
            where = flags.flag(grouped, i)
            if split is None:
                return exact_sum(grouped[name], where)
            role, column = split[name]
            if role is not None:
                where &= flags.role(grouped, role)
            return exact_sum(grouped[column], where)

        parts.append(
            _filtered(
                grouped, [(key, name, total(name, i)) for key, i, mine in additive for name in mine]
            )
        )
    counted = [(key, i, name) for key, i, names in scopes for name in names if name in _DISTINCT]
    if counted:
        mine = table.filter(flags.flag(table, *(i for _, i, _ in counted)))
        distinct = [
            (key, name, metrics(mine, flags.flag(mine, i))[name]) for key, i, name in counted
        ]
        parts.append(_filtered(mine, distinct))
    return parts


def _filtered(table: ir.Table, measures: Sequence[tuple[str, str, Any]]) -> _Part:
    """One row per period of ``table``: ``measures`` are (scope, measure, aggregate)."""
    aggregates = {f"m{k}": aggregate for k, (_, _, aggregate) in enumerate(measures)}
    labels = [(key, name) for key, name, _ in measures]
    return _pack(table.group_by("p").aggregate(**aggregates), list(aggregates), labels)


_BY_SESSION: Final = ("visits", "bounces", "visit_seconds", "visit_page_views")
"""The visits measures that read an event's session (the others read the event alone)."""


_SESSION_FACTS: Final = ("session_start", "session_next_ts")
"""The store's facts that name an event's session and its next event (engine/store.py)."""


def _session_columns(events: ir.Table) -> dict[str, Any]:
    """The session of each event (decision 0006: a customer's events sharing one
    ``session_id``): its key ``sk``, the ``idx`` of the session's first event (with the
    customer, it names the session), and ``snext``, the time of the session's next event
    after this one (null on the session's last event).

    The store holds both (``session_start``, ``session_next_ts``); a plain table without
    them gets them from windows over each customer's session ids, with the same results.
    """
    if set(_SESSION_FACTS) <= set(events.columns):
        return {"sk": events.session_start.cast("int64"), "snext": events.session_next_ts}
    customer = events[customer_column(events)]
    session = ibis.window(group_by=[customer, events.session_id])
    ordered = ibis.window(group_by=[customer, events.session_id], order_by=events.idx)
    return {
        "sk": events.idx.min().over(session).cast("int64"),
        "snext": events.ts.lead().over(ordered),
    }


def _sessions(base: ir.Table, flags: _Flags, names: Iterable[str]) -> ir.Table:
    """One row per session with a page view (customer ``s_customer``, key ``s_key``):
    the ``idx`` of its first page view ``landing``, its page views ``pv`` (for
    ``visit_page_views``), the times of its first and last events ``start`` and ``end``
    (for ``visit_seconds``), of the visits measures ``names``."""
    views = base.filter(flags.role(base, "page_view"))
    counted = {"pv": views.count()} if "visit_page_views" in names else {}
    visited = views.group_by(["customer", "sk"]).aggregate(landing=views.idx.min(), **counted)
    visited = visited.rename(s_customer="customer", s_key="sk")
    if "visit_seconds" not in names:
        # The times are half the part's cost (every session's first and last events,
        # most events): only visit_seconds reads them.
        return visited
    # A session's first event is the one at its key, its last the one without a next.
    bounds = base.filter((base.idx == base.sk) | base.snext.isnull())
    bounds = bounds.semi_join(
        visited, [bounds.customer == visited.s_customer, bounds.sk == visited.s_key]
    )
    spans = bounds.group_by(["customer", "sk"]).aggregate(
        start=bounds.ts.min(), end=bounds.ts.max()
    )
    joined = visited.join(spans, [visited.s_customer == spans.customer, visited.s_key == spans.sk])
    return joined.select(
        "s_customer", "s_key", "landing", *counted, start=joined.start, end=joined["end"]
    )


def _visit_metrics(joined: ir.Table, where: Any = None) -> dict[str, Any]:
    """The visits measures of the page views ``joined`` (with their session's columns of
    :func:`_sessions`, those of the measures wanted)."""
    followed = joined.snext.notnull()  # another event of its session comes after it
    zero = ibis.literal(0.0, type="float64")
    metrics = {
        "timed_page_views": _count(followed, where),
        "page_seconds": exact_sum(
            ibis.cases((followed, seconds_between(joined.snext, joined.ts)), else_=zero), where
        ),
    }
    if "landing" not in joined.columns:
        return metrics  # page views without their sessions: the measures of the events
    landing = joined.idx == joined.landing
    metrics["visits"] = _count(landing, where)
    metrics["bounces"] = _count(landing & ~followed, where)
    if "start" in joined.columns:
        seconds = seconds_between(joined["end"], joined.start)
        metrics["visit_seconds"] = exact_sum(ibis.cases((landing, seconds), else_=zero), where)
    if "pv" in joined.columns:
        metrics["visit_page_views"] = ibis.cases((landing, joined.pv), else_=0).sum(where=where)
    return metrics


_VIEWED: Final = ("customer", "sk", "idx", "ts", "snext")  # what the visits read of a view


def _with_sessions(
    base: ir.Table, views: ir.Table, flags: _Flags, names: Sequence[str]
) -> ir.Table:
    """The page views ``views`` with their session's columns (see :func:`_sessions`), when
    the visits measures ``names`` need them (time on page reads the page view alone)."""
    if not set(names) & set(_BY_SESSION):
        return views
    sessions = _sessions(base, flags, names)
    return views.join(sessions, [views.customer == sessions.s_customer, views.sk == sessions.s_key])


def _visits_part(base: ir.Table, scoped: ir.Table, flags: _Flags, names: Sequence[str]) -> _Part:
    views = scoped.filter(flags.role(scoped, "page_view")).select("scope", "p", *_VIEWED)
    joined = _with_sessions(base, views, flags, names)
    metrics = _visit_metrics(joined)
    totals = joined.group_by(["scope", "p"]).aggregate(**{name: metrics[name] for name in names})
    return _pack(totals, names)


def _visits_wide(
    base: ir.Table, flags: _Flags, scopes: Sequence[tuple[str, int, Sequence[str]]]
) -> list[_Part]:
    """The visits part of fixed scopes: the page views of any of them, once, joined with
    their session; each scope's measures filtered by its flag."""
    chosen = [i for _, i, _ in scopes]
    views = base.filter(flags.role(base, "page_view") & flags.flag(base, *chosen)).select(
        "p", *_VIEWED, *flags.columns(*chosen)
    )
    names = [name for name in _VISITS_PART if any(name in mine for _, _, mine in scopes)]
    joined = _with_sessions(base, views, flags, names)
    return _wide(joined, _visit_metrics, flags, scopes)


def _outcomes(base: ir.Table, flags: _Flags) -> ir.Table:
    """Conversion, purchase and refund events with their net amount (refunds negative)."""
    kept = base.filter(flags.test(base, ["r_conversion", "r_purchase", "r_refund"]))
    amount = ibis.cases(
        (flags.role(kept, "purchase"), kept.value.fill_null(0.0)),
        (flags.role(kept, "refund"), -kept.value.abs().fill_null(0.0)),
        else_=ibis.literal(0.0, type="float64"),
    )
    return kept.select(
        o_customer=kept.customer,
        o_period=kept.p,
        o_idx=kept.idx,
        conv=flags.role(kept, "conversion"),
        buy=flags.role(kept, "purchase"),
        amount=amount,
    )


def _reached(scoped: ir.Table) -> ir.Table:
    return scoped.group_by(["scope", "customer", "p"]).aggregate(first_idx=scoped.idx.min())


def _conversions_part(reached: ir.Table, outcomes: ir.Table) -> ir.Table:
    joined = reached.join(
        outcomes,
        [
            reached.customer == outcomes.o_customer,
            reached.p == outcomes.o_period,
            outcomes.o_idx >= reached.first_idx,
        ],
    )
    return joined.group_by(["scope", "p"]).aggregate(
        converters=ibis.cases(
            (joined.conv, joined.customer), else_=ibis.null(joined.customer.type())
        ).nunique(),
        conversions=_count(joined.conv),
        converted_revenue=exact_sum(joined.amount),
    )


def _clv_part(reached: ir.Table, outcomes: ir.Table) -> ir.Table:
    lifetime = reached.select("scope", "customer", "p").distinct()
    joined = lifetime.join(
        outcomes, [lifetime.customer == outcomes.o_customer, outcomes.o_period <= lifetime.p]
    )
    return joined.group_by(["scope", "p"]).aggregate(
        clv_revenue=exact_sum(joined.amount),
        clv_customers=ibis.cases(
            (joined.buy, joined.customer), else_=ibis.null(joined.customer.type())
        ).nunique(),
    )


def _retention_part(base: ir.Table, scoped: ir.Table, flags: _Flags) -> ir.Table:
    """Per scope and period ``q``: customers with a scope event in ``q - 1`` and those of
    them active in ``q`` without a churn event (``rp`` numbers the retention periods)."""
    before = scoped.select("scope", "customer", "rp").distinct()
    # Only the events of a base's customer in the period after it are grouped: grouping
    # every customer's events (a million groups at 10M events) cost most of the part
    # when the scopes' bases hold a few customers.
    after = before.select("customer", rp=before.rp + 1).distinct()
    active = base.semi_join(after, ["customer", "rp"])
    activity = active.group_by(["customer", "rp"]).aggregate(
        churn=flags.role(active, "churn").any()
    )
    activity = activity.rename(ac="customer", arp="rp")
    joined = before.left_join(
        activity, [before.customer == activity.ac, activity.arp == before.rp + 1]
    )
    kept = joined.ac.notnull() & ~joined.churn.fill_null(False)
    return joined.group_by(["scope", (joined.rp + 1).name("p")]).aggregate(
        base_customers=joined.count(), retained=_count(kept)
    )


def _repeat_part(reached: ir.Table, outcomes: ir.Table) -> ir.Table:
    bought = outcomes.filter(outcomes.buy)
    joined = reached.join(
        bought, [reached.customer == bought.o_customer, reached.p == bought.o_period]
    )
    per_customer = joined.group_by(["scope", "p", "customer"]).aggregate(n=joined.count())
    return per_customer.group_by(["scope", "p"]).aggregate(
        purchasers=per_customer.count(), repeat_purchasers=_count(per_customer.n >= 2)
    )


def _referrals_part(scoped: ir.Table, flags: _Flags) -> ir.Table:
    referred = scoped.filter(flags.role(scoped, "referral"))
    firsts = referred.group_by(["scope", "customer"]).aggregate(p=referred.p.min())
    return firsts.group_by(["scope", "p"]).aggregate(referrals=firsts.count())


def _carts_parts(base: ir.Table, scoped: ir.Table, flags: _Flags) -> list[_Part]:
    added = scoped.filter(flags.role(scoped, "cart"))
    # Periods are non-decreasing in time, so the least period is the first cart event's.
    carts = added.group_by(["scope", "customer", "sk"]).aggregate(
        cts=added.ts.min(), p=added.p.min()
    )
    buys = base.filter(flags.role(base, "purchase"))
    buys = buys.select(bc=buys.customer, bts=buys.ts)
    converted = (
        carts.join(
            buys,
            [
                carts.customer == buys.bc,
                buys.bts >= carts.cts,
                seconds_between(buys.bts, carts.cts) <= _CART_WINDOW_SECONDS,
            ],
        )
        .select("scope", "customer", "sk", "p")
        .distinct()
    )
    counted = carts.group_by(["scope", "p"]).aggregate(carts=carts.count())
    won = converted.group_by(["scope", "p"]).aggregate(converted_carts=converted.count())
    return [_pack(counted, ["carts"]), _pack(won, ["converted_carts"])]


def _spend_scoped(
    spend: ir.Table, kind: ScopeKind, fixed: Sequence[FixedScope], period: KpiPeriod | None
) -> ir.Table | None:
    table = spend.mutate(p=period_number(spend.date.cast("timestamp"), period))
    if kind == "all":
        return table.mutate(scope=ibis.literal("all", type="string"))
    if kind == "channel":
        return table.mutate(scope=table.channel.fill_null("(none)"))
    if kind == "campaign":
        return table.mutate(scope=table.campaign.fill_null("(none)"))
    charged = [
        table.filter(table.channel.isin(list(scope.channels))).mutate(
            scope=ibis.literal(scope.key, type="string")
        )
        for scope in fixed
        if scope.channels
    ]
    if not charged:
        return None
    return ibis.union(*charged, distinct=False)


def _spend_parts(
    spend: ir.Table, kind: ScopeKind, fixed: Sequence[FixedScope], period: KpiPeriod | None
) -> list[_Part]:
    scoped = _spend_scoped(spend, kind, fixed, period)
    if scoped is None:
        return []
    totals = scoped.group_by(["scope", "p"]).aggregate(
        spend_table=exact_sum(scoped.spend),
        impressions_table=exact_sum(scoped.impressions),
        clicks_table=exact_sum(scoped.clicks),
    )
    return [_pack(totals, _TABLE_PART)]


def _total_spend_parts(
    base: ir.Table, spend: ir.Table | None, period: KpiPeriod | None
) -> list[_Part]:
    total = ibis.literal(TOTAL, type="string")
    events = base.group_by("p").aggregate(spend_events=exact_sum(base.cost)).mutate(scope=total)
    parts = [_pack(events, ["spend_events"])]
    if spend is not None:
        table = spend.mutate(p=period_number(spend.date.cast("timestamp"), period))
        sums = table.group_by("p").aggregate(spend_table=exact_sum(table.spend)).mutate(scope=total)
        parts.append(_pack(sums, ["spend_table"]))
    return parts


def _range_part(base: ir.Table, retention: bool) -> _Part:
    epoch = ibis.timestamp("1970-01-01 00:00:00")
    rp = base.rp if retention else base.p
    summary = base.aggregate(
        first=base.ts.min(),
        last=base.ts.max(),
        pmin=base.p.min(),
        pmax=base.p.max(),
        rpmin=rp.min(),
        rpmax=rp.max(),
    )
    summary = summary.select(
        scope=ibis.literal(_RANGE, type="string"),
        p=ibis.literal(0, type="int64"),
        first=seconds_between(summary["first"], epoch),
        last=seconds_between(summary["last"], epoch),
        pmin=summary.pmin.cast("float64"),
        pmax=summary.pmax.cast("float64"),
        rpmin=summary.rpmin.cast("float64"),
        rpmax=summary.rpmax.cast("float64"),
    )
    return _pack(summary, ["first", "last", "pmin", "pmax", "rpmin", "rpmax"])


_KEYS: Final = ("event", "channel")  # the columns of the flags taken per distinct pair


def _on_keys(condition: Any, events: ir.Table, keys: Sequence[str]) -> bool:
    """Whether ``condition`` reads only the ``keys`` columns of ``events``."""
    fields = condition.op().find(ops.Field, filter=ops.Value)
    return bool(fields) and all(field.rel == events.op() and field.name in keys for field in fields)


def _rebind(condition: Any, events: ir.Table, table: ir.Table) -> Any:
    """``condition`` on ``events`` read from ``table`` (with the same columns)."""
    return condition.op().replace({events.op(): table.op()}).to_expr()


def _gate(condition: Any, events: ir.Table, keys: Sequence[str]) -> Any | None:
    """A condition on the ``keys`` columns only that holds wherever ``condition`` holds
    (None when there is none): the keyed conjuncts of a conjunction, the gates of every
    branch of a disjunction ORed.

    >>> import ibis
    >>> t = ibis.memtable({"event": ["a", "a", "b", "c"], "text": [None, "x", None, "y"]})
    >>> condition = ((t.event == "a") & t.text.notnull()) | (t.event == "b")
    >>> gate = _gate(condition, t, ["event"])
    >>> t.select(c=condition, g=gate).to_pyarrow().to_pydict()
    {'c': [False, True, True, False], 'g': [True, True, True, False]}
    >>> _gate(t.text.notnull(), t, ["event"]) is None
    True
    """
    if _on_keys(condition, events, keys):
        return condition
    op = condition.op()
    if isinstance(op, ops.Coalesce) and len(op.arg) == 2:
        inner, fallback = op.arg
        if isinstance(fallback, ops.Literal) and fallback.value is False:
            return _gate(inner.to_expr(), events, keys)
    if isinstance(op, ops.Or):
        left = _gate(op.left.to_expr(), events, keys)
        right = _gate(op.right.to_expr(), events, keys)
        return None if left is None or right is None else left | right
    if isinstance(op, ops.And):
        found = [_gate(part, events, keys) for part in _conjuncts(condition)]
        known = [gate for gate in found if gate is not None]
        return functools.reduce(operator.and_, known) if known else None
    return None


def _base(
    events: ir.Table,
    *,
    kind: ScopeKind,
    atoms: Mapping[str, Any],
    packed: _Packed,
    period: KpiPeriod | None,
    roles: Mapping[str, Any],
    retention: bool,
    sessions: bool = False,
) -> ir.Table:
    """Every event with its period ``p`` (none without ``period``: the one period 0 is
    added to the kept table), role flags and scope (or the fixed scopes' atoms), the
    flags packed in bits (see :class:`_Packed`); with ``sessions``, its session key
    ``sk`` and the time of its session's next event ``snext`` (see
    :func:`_session_columns`)."""
    columns: dict[str, Any] = {
        # The store's integer customer number when the events have it: grouping and
        # joining on it cost less than on the text ids, with the same customers.
        "customer": events[customer_column(events)],
        "ts": events.ts,
        "idx": events.idx,
        "value": events.value.cast("float64"),
        "cost": events.cost.cast("float64"),
        "score": events.score.cast("float64"),
    }
    if period is not None:
        columns["p"] = period_number(events.ts, period)
    if sessions:
        columns.update(_session_columns(events))
    if retention:
        columns["rp"] = period_number(events.ts, period or "month")
    flags = {f"r_{role}": roles[role] for role in ROLES}
    if kind not in ("all", "channel", "campaign"):
        flags.update(atoms)
    keys = [name for name in _KEYS if name in events.columns]
    keyed = {name: flag for name, flag in flags.items() if _on_keys(flag, events, keys)}
    rest = {name: _short_circuit(flag) for name, flag in flags.items() if name not in keyed}
    gates = {name: _gate(flags[name], events, keys) for name in rest}
    gated = {name: gate for name, gate in gates.items() if gate is not None}
    own = packed.sums({name: flag for name, flag in rest.items() if name not in gated})
    source = events
    if keyed or gated:
        # The flags on the event name and channel only are taken once per distinct pair
        # (a few dozen) and joined back: comparing the texts of every event was a third
        # of the narrow table's cost at 10M events. A flag that also reads other columns
        # (a rule on properties) is evaluated only for the events of the pairs its part
        # on the name and channel lets through (its *gate*, a bit of the pair).
        pairs = events.select(*keys).distinct()
        on_pairs = packed.sums({name: _rebind(flag, events, pairs) for name, flag in keyed.items()})
        gate_bits = _pack_bits(gated, prefix="g")
        table = pairs.select(
            **{f"k_{key}": pairs[key] for key in keys},
            **{f"k_{column}": value for column, value in on_pairs.items()},
            **{
                f"k_{column}": value
                for column, value in gate_bits.sums(
                    {name: _rebind(gate, events, pairs) for name, gate in gated.items()}
                ).items()
            },
        )
        source = events.join(
            table,
            [events[key].identical_to(table[f"k_{key}"]) for key in keys],
        )
        for column in on_pairs:
            mine = table[f"k_{column}"]
            own[column] = mine if column not in own else own[column] + mine
        terms: dict[str, list[Any]] = {}
        for name in gated:
            gate_column, gate_bit = gate_bits.bits[name]
            column, bit = packed.bits[name]
            opened = (table[f"k_{gate_column}"] & ibis.literal(1 << gate_bit, type="int64")) != 0
            terms.setdefault(column, []).append(
                ibis.cases((opened & rest[name], ibis.literal(1 << bit, type="int64")), else_=0)
            )
        # Most events open no gate: one test skips all their gated flags. (With none gated,
        # every rule on the name and channel only, there is nothing to skip.)
        shut = functools.reduce(
            operator.and_,
            [table[f"k_{column}"] == 0 for column in gate_bits.columns],
            ibis.literal(True),
        )
        for column, found in terms.items():
            term = ibis.cases((shut, ibis.literal(0, type="int64")), else_=sum(found[1:], found[0]))
            own[column] = term if column not in own else own[column] + term
    columns.update({column: own[column] for column in packed.columns})
    if kind == "all":
        columns["scope"] = ibis.literal("all", type="string")
    elif kind == "channel":
        columns["scope"] = events.channel.fill_null("(none)")
    elif kind == "campaign":
        campaign = events.properties.get(ibis.literal("campaign", type="string"))
        columns["scope"] = campaign.fill_null("(none)")
    return source.select(**columns)


def _copies(
    base: ir.Table,
    fixed: Sequence[FixedScope],
    flags: _Flags,
    chosen: Iterable[int],
    columns: Sequence[str],
) -> ir.Table:
    """The ``columns`` of the events of the ``chosen`` fixed scopes (by index), one copy
    per scope."""
    copies = [
        base.filter(flags.flag(base, i)).select(
            *columns, scope=ibis.literal(fixed[i].key, type="string")
        )
        for i in chosen
    ]
    if not copies:
        return base.filter(ibis.literal(False)).select(
            *columns, scope=ibis.literal("", type="string")
        )
    return ibis.union(*copies, distinct=False)


def compute_measures(
    events: ir.Table,
    *,
    kind: ScopeKind,
    fixed: Sequence[FixedScope] = (),
    period: KpiPeriod | None,
    roles: Mapping[str, Any],
    needed: frozenset[str],
    spend: pa.Table | None = None,
    blended: bool = False,
    store: StoreMode = "no",
) -> MeasureTable:
    """Base measures ``needed`` for every scope and period: the flagged events, kept, then
    one query over them.

    ``roles`` maps every name of :data:`ROLES` to a condition on ``events``; ``fixed``
    lists the scopes of a stage or touchpoint ``kind``; ``blended`` adds the whole
    period's spend under the scope key :data:`TOTAL`; ``store`` keeps the flagged events
    in the store (:func:`~jornada.engine.kept.kept_table`).
    """
    wanted = _engine_measures(needed)
    retention = bool(wanted & set(_RETENTION_PART))
    uses = [None if scope.needed is None else _engine_measures(scope.needed) for scope in fixed]
    fixed_kind = kind in ("stage", "touchpoint")
    atoms, of = _atoms(fixed, [fixed_kind and (used is None or bool(used)) for used in uses])
    flags = _Flags(of, _pack_bits([*(f"r_{role}" for role in ROLES), *atoms]))
    # The narrow flagged events are computed once and kept: every part below reads
    # them, and each scope's copy reads them again (evaluating the bindings and roles on
    # the events for each copy made the whole board 4x slower).
    sessions = bool(wanted & {*_VISITS_PART, *_CARTS_PART})
    with contextlib.ExitStack() as stack:
        narrow = _base(
            events,
            kind=kind,
            atoms=atoms,
            packed=flags.packed,
            period=period,
            roles=roles,
            retention=retention,
            sessions=sessions,
        )
        cached = stack.enter_context(kept_table(narrow, store=store))
        if period is None:
            # One period: its number is a constant, not a column of the kept table.
            cached = cached.mutate(p=ibis.literal(0, type="int64"))
        parts = _parts(cached, kind, fixed, flags, uses, period, wanted, retention, spend, blended)
        rows = _unpack(parts)
    return _collect(rows, period=period, retention=retention)


def _parts(
    cached: ir.Table,
    kind: ScopeKind,
    fixed: Sequence[FixedScope],
    flags: _Flags,
    uses: Sequence[frozenset[str] | None],
    period: KpiPeriod | None,
    wanted: frozenset[str],
    retention: bool,
    spend: pa.Table | None,
    blended: bool,
) -> list[_Part]:
    """Every part of the query over the kept events."""
    fixed_kind = kind in ("stage", "touchpoint")
    base = cached

    def chosen(names: Sequence[str]) -> list[tuple[int, list[str]]]:
        """The fixed scopes using any of ``names``, with those they use."""
        found = []
        for i, used in enumerate(uses):
            if flags.of[i] is not None:
                mine = [name for name in names if used is None or name in used]
                if mine:
                    found.append((i, mine))
        return found

    def scoped(names: Sequence[str], columns: Sequence[str]) -> ir.Table:
        """The scoped events of the scopes using any of ``names``: one copy per scope,
        of the ``columns`` the part reads."""
        if not fixed_kind:
            return cached
        return _copies(cached, fixed, flags, [i for i, _ in chosen(names)], columns)

    parts: list[_Part] = [_range_part(base, retention)]
    in_events = [name for name in _EVENTS_PART if name in wanted]
    if in_events and fixed_kind:
        # Each scope's own measures, filtered by its flag: no copy of its events.
        mine = [(fixed[i].key, i, names) for i, names in chosen(in_events)]
        metrics = functools.partial(_event_metrics, flags=flags)
        parts += _wide(cached, lambda t, where: metrics(t, where=where), flags, mine, _EVENT_SUMS)
    elif in_events:
        parts.append(_events_part(cached, flags, in_events))
    if wanted & set(_VISITS_PART) and fixed_kind:
        visiting = [(fixed[i].key, i, names) for i, names in chosen(_VISITS_PART)]
        if visiting:
            parts += _visits_wide(cached, flags, visiting)
    elif wanted & set(_VISITS_PART):
        names = [name for name in _VISITS_PART if name in wanted]
        parts.append(_visits_part(base, cached, flags, names))
    if wanted & set(_CONVERSIONS_PART + _CLV_PART + _REPEAT_PART):
        outcomes = _outcomes(base, flags)
        if wanted & set(_CONVERSIONS_PART):
            reached = _reached(scoped(_CONVERSIONS_PART, _REACHED))
            parts.append(_pack(_conversions_part(reached, outcomes), _CONVERSIONS_PART))
        if wanted & set(_CLV_PART):
            parts.append(
                _pack(_clv_part(_reached(scoped(_CLV_PART, _REACHED)), outcomes), _CLV_PART)
            )
        if wanted & set(_REPEAT_PART):
            reached = _reached(scoped(_REPEAT_PART, _REACHED))
            parts.append(_pack(_repeat_part(reached, outcomes), _REPEAT_PART))
    if retention:
        parts.append(
            _pack(
                _retention_part(base, scoped(_RETENTION_PART, ["customer", "rp"]), flags),
                _RETENTION_PART,
            )
        )
    if "referrals" in wanted:
        parts.append(
            _pack(
                _referrals_part(scoped(["referrals"], ["customer", "p", *flags.columns()]), flags),
                ["referrals"],
            )
        )
    if wanted & set(_CARTS_PART):
        columns = ["customer", "sk", "ts", "p", *flags.columns()]
        parts += _carts_parts(base, scoped(_CARTS_PART, columns), flags)
    spend_table = None if spend is None else ibis.memtable(spend)
    if spend_table is not None and wanted & set(_TABLE_PART):
        parts += _spend_parts(spend_table, kind, fixed, period)
    if blended:
        parts += _total_spend_parts(base, spend_table, period)
    return parts


def _unpack(parts: Sequence[_Part]) -> list[dict[str, Any]]:
    """The parts' values as long rows (scope, p, measure, value), one query per part.

    One union of all parts ran them as one plan whose every part held its hash tables and
    spill at once: at 100M events it ran out of DuckDB's temp space (15 GB at a 6 GB
    limit), while part by part it spilled at most 4 GB. The parts read the same kept
    tables, so running them apart reads nothing twice."""
    rows: list[dict[str, Any]] = []
    for part in parts:
        found = part.table.select("scope", "p", "v").to_pyarrow().to_pylist()
        for row in found:
            for (scope, name), value in zip(part.labels, row["v"], strict=True):
                rows.append(
                    {"scope": scope or row["scope"], "p": row["p"], "measure": name, "value": value}
                )
    return rows


def _collect(
    rows: list[dict[str, Any]], *, period: KpiPeriod | None, retention: bool
) -> MeasureTable:
    """Measures by (scope, period) from the long rows (a few per scope and period)."""
    span = {row["measure"]: row["value"] for row in rows if row["scope"] == _RANGE}
    if span.get("first") is None:  # no events: one whole-log row, or no periods at all
        return MeasureTable({}, (0,) if period is None else (), None, None)
    epoch = dt.datetime(1970, 1, 1)
    first = epoch + dt.timedelta(seconds=span["first"])
    last = epoch + dt.timedelta(seconds=span["last"])
    pmin, pmax = int(span["pmin"]), int(span["pmax"])
    values: dict[tuple[str, int], dict[str, float]] = {}
    pooled: dict[str, dict[str, float]] = {}
    for row in rows:
        if row["scope"] == _RANGE or row["value"] is None:
            continue
        key, name, value = (row["scope"], int(row["p"])), row["measure"], float(row["value"])
        if retention and name in _RETENTION_PART:
            if period is None:
                # No period asked: monthly retention pooled over the log's months (a
                # month's base is the month before; the month after the log is unseen).
                if int(span["rpmin"]) < key[1] <= int(span["rpmax"]):
                    totals = pooled.setdefault(row["scope"], {})
                    totals[name] = totals.get(name, 0.0) + value
                continue
            if key[1] > pmax:
                continue  # the period after the log: not observed
        values.setdefault(key, {})[name] = value
    for scope, totals in pooled.items():
        values.setdefault((scope, 0), {}).update(totals)
    periods = (0,) if period is None else tuple(range(pmin, pmax + 1))
    return MeasureTable(values, periods, first, last)
