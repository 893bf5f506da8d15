"""Journey features per customer at a cutoff: what each customer did before it, as numbers a
model can read (churn, propensity), computed in the engine with one aggregation.

**The cutoff.** Only events strictly before ``cutoff`` count (``ts < cutoff``); times are
measured back from it in whole seconds (timestamps truncated to the second first, as in
:mod:`jornada.analytics.stages`, so every backend agrees), and given in days.

**The columns** (one row per customer with at least one event before the cutoff):

* ``events``, ``sessions`` (sessions started before the cutoff), ``events_recent`` (events in
  the ``recent_days`` before the cutoff);
* ``recency_days`` (since the last event), ``tenure_days`` (since the first one);
* ``purchases`` (events of the ``purchase`` step), ``revenue`` (their summed ``value``, 0 when
  none), ``days_since_purchase`` (null when none);
* ``support_tickets`` and ``failed_payments`` (events of the ``support`` and
  ``failed_payment`` steps);
* ``score_<kind>``: the mean ``score`` of the customer's survey answers of each kind (the
  ``survey`` property: csat, nps, ces...; ``score_unlabelled`` for scores without one), null
  when they gave none;
* ``event_<name>``: how many events of each of the most frequent event names;
  ``channel_<name>``: how many events on each of the most frequent channels;
* with a map: ``touchpoint_<id>``: how many events of each touchpoint (the labels of
  :func:`~jornada.events.binding.label_events`), and ``stage_index`` (the current stage's
  position in the map) and ``days_in_stage`` (time in it at the cutoff), as
  :mod:`jornada.analytics.stages` defines them (the furthest stage reached, entered with
  the customer's first event of it; null before any stage), from the same labels in the
  same aggregation;
* for people, not models: ``last_event`` and ``last_event_at`` (the customer's last event
  before the cutoff; ``last_touchpoint`` too with a map).

Which event names, channels, survey kinds and touchpoints become columns is a
:class:`FeatureSpec`: :func:`feature_spec` picks them from the data (one small query), and
the same spec gives the same columns at every cutoff, so a model trained at one cutoff
scores customers at another.

>>> import ibis, datetime as dt
>>> d = dt.datetime
>>> events = ibis.memtable({
...     "customer_id": ["a", "a", "a", "b"], "event": ["visit", "purchase", "visit", "visit"],
...     "ts": [d(2026, 1, 1), d(2026, 1, 2), d(2026, 1, 9), d(2026, 1, 5)],
...     "channel": ["web", "web", "app", "web"], "value": [None, 40.0, None, None],
...     "score": [None] * 4, "session_id": ["s1", "s1", "s2", "s3"],
... })
>>> table = features(events, cutoff=d(2026, 1, 6)).order_by("customer_id").to_pyarrow()
>>> table.select(["customer_id", "events", "purchases", "revenue", "recency_days"]).to_pylist()
... # doctest: +NORMALIZE_WHITESPACE
[{'customer_id': 'a', 'events': 2, 'purchases': 1, 'revenue': 40.0, 'recency_days': 4.0},
 {'customer_id': 'b', 'events': 1, 'purchases': 0, 'revenue': 0.0, 'recency_days': 1.0}]
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from jornada.analytics.segments import with_positions
from jornada.analytics.stages import event_labels
from jornada.analytics.steps import resolve_step
from jornada.events.binding import touchpoint_filters
from jornada.events.filters import customer_column
from jornada.model import Journey

__all__ = [
    "DEFAULT_RECENT_DAYS",
    "FeatureSpec",
    "feature_spec",
    "features",
    "features_arrow",
    "features_by_cutoff",
    "features_by_cutoff_arrow",
    "utc_naive",
]

DEFAULT_TOP_EVENTS: Final = 20
DEFAULT_TOP_CHANNELS: Final = 10
DEFAULT_RECENT_DAYS: Final = 30
_MAX_SURVEYS: Final = 10
_SECONDS_PER_DAY: Final = 86_400.0
_EPOCH: Final = dt.datetime(1970, 1, 1)
_UNLABELLED: Final = ""

INFO_COLUMNS: Final = ("last_event", "last_event_at", "last_touchpoint")
"""Columns for people (the at-risk list), not for models."""

_STAGE_SHIFT: Final = 2**40
"""A stage's position times this, plus :data:`_SECONDS_BIAS` minus an event's whole
seconds since the epoch: the largest such key is the furthest stage reached and the
first second in it (times within ±17,000 years of 1970; exact in a double below 8,192
stages)."""
_SECONDS_BIAS: Final = 2**39


def utc_naive(moment: dt.datetime) -> dt.datetime:
    """``moment`` as the store keeps times: UTC without a time zone attached.

    >>> utc_naive(dt.datetime(2026, 1, 1, 9, tzinfo=dt.timezone(dt.timedelta(hours=-3))))
    datetime.datetime(2026, 1, 1, 12, 0)
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def _slug(text: str) -> str:
    slug = re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")
    return slug or "blank"


def _unique_names(prefix: str, values: tuple[str, ...], taken: set[str]) -> dict[str, str]:
    """Column names ``prefix_<slug>`` for ``values``, made unique (``_2``...) in order."""
    names: dict[str, str] = {}
    for value in values:
        base = f"{prefix}_{_slug(value)}"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        names[value] = name
    return names


@dataclass(frozen=True)
class FeatureSpec:
    """Which columns :func:`features` computes: fixed once, the same at every cutoff.

    >>> spec = FeatureSpec(events=("purchase", "page view"), channels=("web",), surveys=("nps",))
    >>> spec.columns()[-4:]
    ['score_nps', 'event_purchase', 'event_page_view', 'channel_web']
    >>> spec.describe()["event_page_view"]
    "events 'page view'"
    """

    events: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    surveys: tuple[str, ...] = ()
    """Survey kinds (the ``survey`` property); ``""`` stands for scores without one."""
    touchpoints: tuple[str, ...] = ()
    stages: bool = False
    """Whether the current stage and the time in it are columns (needs the map)."""
    purchase: str = "purchase"
    support: str = "support_ticket"
    failed_payment: str = "payment_failed"
    recent_days: int = DEFAULT_RECENT_DAYS

    def _names(self) -> tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, str]]:
        taken = set(_BASE_COLUMNS)
        surveys = _unique_names("score", tuple(s or "unlabelled" for s in self.surveys), taken)
        events = _unique_names("event", self.events, taken)
        channels = _unique_names("channel", self.channels, taken)
        touchpoints = _unique_names("touchpoint", self.touchpoints, taken)
        surveys = {s: surveys[s or "unlabelled"] for s in self.surveys}
        return surveys, events, channels, touchpoints

    def columns(self) -> list[str]:
        """The model's columns (numbers), in order."""
        surveys, events, channels, touchpoints = self._names()
        stage_columns = ["stage_index", "days_in_stage"] if self.stages else []
        return [
            *_BASE_COLUMNS,
            *surveys.values(),
            *events.values(),
            *channels.values(),
            *touchpoints.values(),
            *stage_columns,
        ]

    def describe(self) -> dict[str, str]:
        """A short description of every column, for people (reasons, importance charts)."""
        surveys, events, channels, touchpoints = self._names()
        described = {
            "events": "events",
            "sessions": "sessions",
            "events_recent": f"events in the last {self.recent_days} days",
            "recency_days": "days since the last event",
            "tenure_days": "days since the first event",
            "purchases": f"purchases ({self.purchase})",
            "revenue": "revenue",
            "days_since_purchase": "days since the last purchase",
            "support_tickets": f"support tickets ({self.support})",
            "failed_payments": f"failed payments ({self.failed_payment})",
        }
        for survey, name in surveys.items():
            described[name] = f"mean {survey} score" if survey else "mean score (no survey kind)"
        described |= {name: f"events {value!r}" for value, name in events.items()}
        described |= {name: f"events on {value!r}" for value, name in channels.items()}
        described |= {name: f"touchpoint {value!r}" for value, name in touchpoints.items()}
        if self.stages:
            described |= {"stage_index": "current stage", "days_in_stage": "days in stage"}
        return described


_BASE_COLUMNS: Final = (
    "events",
    "sessions",
    "events_recent",
    "recency_days",
    "tenure_days",
    "purchases",
    "revenue",
    "days_since_purchase",
    "support_tickets",
    "failed_payments",
)


def _seconds(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Whole seconds since the epoch (truncated first: DuckDB and Spark then agree)."""
    return ts.truncate("s").epoch_seconds().cast("int64")


def _epoch_seconds(moment: dt.datetime) -> int:
    return (moment.replace(microsecond=0) - _EPOCH) // dt.timedelta(seconds=1)


def _survey(events: ir.Table) -> ir.StringValue:
    if "properties" not in events.columns:
        return ibis.literal(_UNLABELLED)
    kind: ir.StringValue = events["properties"].get("survey").fill_null(_UNLABELLED)
    return kind


def _tagged(table: ir.Table, kind: str, value: ir.Value, n: ir.Value) -> ir.Table:
    return table.select(kind=ibis.literal(kind), value=value.cast("string"), n=n.cast("int64"))


def _numbered(journey: Journey, table: ir.Table) -> tuple[ir.Table, tuple[str, ...]]:
    """``table`` with the labels of :func:`~jornada.events.binding.label_events` as
    numbers (:func:`~jornada.analytics.stages.event_labels`): ``_tp``, the position of the
    event's touchpoint among the bound ones (the ids returned, in map order), and
    ``_stage``, its stage's position in the map; null when the map does not describe the
    event.

    The same labels, compared as small integers: counting each touchpoint and stage with
    a string comparison per event cost the features more than all their other columns.
    ``touchpoint_id`` and ``stage_id`` are there too, by name, for rules that read them.
    """
    labelled, ids = event_labels(journey, table)
    numbered = labelled.rename(_tp="touchpoint", _stage="stage_index")
    stages = tuple(stage.id for stage in journey.ordered_stages())
    return numbered.mutate(
        touchpoint_id=_named(numbered["_tp"], ids), stage_id=_named(numbered["_stage"], stages)
    ), ids


def _named(number: ir.IntegerValue, names: tuple[str, ...]) -> ir.StringValue:
    """``names[number]`` (null for null)."""
    if not names:
        return ibis.null("string")
    named: ir.StringValue = number.substitute(dict(enumerate(names)), else_=ibis.null("string"))
    return named


def _stage_key(stage: ir.IntegerValue, ts: ir.TimestampValue) -> ir.IntegerValue:
    """See :data:`_STAGE_SHIFT` (null outside the map)."""
    key: ir.IntegerValue = stage * _STAGE_SHIFT + (_SECONDS_BIAS - _seconds(ts))
    return key


def feature_spec(
    events: ir.Table,
    *,
    before: dt.datetime | None = None,
    journey: Journey | None = None,
    top_events: int = DEFAULT_TOP_EVENTS,
    top_channels: int = DEFAULT_TOP_CHANNELS,
    purchase: str = "purchase",
    support: str = "support_ticket",
    failed_payment: str = "payment_failed",
    recent_days: int = DEFAULT_RECENT_DAYS,
) -> FeatureSpec:
    """Pick the columns from the events before ``before`` (all events when None): the
    ``top_events`` most frequent event names, the ``top_channels`` most frequent channels,
    the survey kinds with a score (up to ten), and with ``journey`` every bound touchpoint
    and the stage columns. One query; ties are broken by name.

    >>> import ibis
    >>> events = ibis.memtable({"customer_id": ["a", "b", "b"], "event": ["x", "y", "y"],
    ...     "channel": ["web", None, "app"], "score": [None, 9.0, None],
    ...     "ts": ["2026-01-01"] * 3}).mutate(ts=ibis._.ts.cast("timestamp"))
    >>> spec = feature_spec(events, top_events=1)
    >>> spec.events, spec.channels, spec.surveys
    (('y',), ('app', 'web'), ('',))
    """
    if before is not None:
        events = events.filter(events["ts"] < utc_naive(before))
    names = events.group_by("event").aggregate(n=events.count())
    with_channel = events.filter(events["channel"].notnull())
    channels = with_channel.group_by("channel").aggregate(n=with_channel.count())
    scored = events.filter(events["score"].notnull())
    scored = scored.mutate(_survey=_survey(scored))
    surveys = scored.group_by("_survey").aggregate(n=scored.count())
    union = ibis.union(
        _tagged(names, "event", names["event"], names["n"]),
        _tagged(channels, "channel", channels["channel"], channels["n"]),
        _tagged(surveys, "survey", surveys["_survey"], surveys["n"]),
    )
    rows = union.to_pyarrow().to_pylist()

    def top(kind: str, limit: int) -> tuple[str, ...]:
        counted = [(-int(r["n"]), r["value"]) for r in rows if r["kind"] == kind]
        return tuple(value for _, value in sorted(counted)[:limit] if value is not None)

    bound = tuple(touchpoint_filters(journey, events)) if journey is not None else ()
    return FeatureSpec(
        events=top("event", top_events),
        channels=top("channel", top_channels),
        surveys=top("survey", _MAX_SURVEYS),
        touchpoints=bound,
        stages=journey is not None,
        purchase=purchase,
        support=support,
        failed_payment=failed_payment,
        recent_days=recent_days,
    )


def _count(table: ir.Table, condition: ir.BooleanValue) -> ir.IntegerScalar:
    # COUNT(*) FILTER (WHERE ...) on DuckDB: cheaper than summing a cast per row.
    return table.count(where=condition.fill_null(False))


def _days(seconds: ir.IntegerValue) -> ir.FloatingValue:
    # Cast before dividing: Spark would otherwise compute a rounded decimal.
    days: ir.FloatingValue = seconds.cast("float64") / _SECONDS_PER_DAY
    return days


def features(
    events: ir.Table,
    cutoff: dt.datetime,
    *,
    spec: FeatureSpec | None = None,
    journey: Journey | None = None,
) -> ir.Table:
    """The journey features of every customer with an event before ``cutoff`` (see the
    module's documentation), as an Ibis table: one aggregation over the events.

    ``spec`` fixes the columns (default: :func:`feature_spec` on the events before the
    cutoff, with ``journey``); touchpoint and stage columns need ``journey``.
    """
    cutoff = utc_naive(cutoff)
    if spec is None:
        spec = feature_spec(events, before=cutoff, journey=journey)
    if (spec.touchpoints or spec.stages) and journey is None:
        raise ValueError("this feature spec has touchpoint or stage columns: pass the journey")
    return _per_customer(events, cutoff, spec, journey, touched=True)


def _per_customer(
    events: ir.Table,
    cutoff: dt.datetime,
    spec: FeatureSpec,
    journey: Journey | None,
    *,
    touched: bool,
    numbered: bool = False,
) -> ir.Table:
    """:func:`features`' aggregation; without ``touched``, ``last_touchpoint`` is null
    (the map's labels are then read only by the steps that name a touchpoint or stage);
    with ``numbered``, the store's ``customer_no`` too (last)."""
    events = with_positions(events)
    before = events.filter(events["ts"] < cutoff)
    extra: dict[str, ir.Value] = {
        # The survey kind of scored events only: one map lookup per answer, not per event.
        "_survey": ibis.cases(
            (before["score"].notnull(), _survey(before)), else_=ibis.null("string")
        )
    }
    tp_ids: tuple[str, ...] = ()
    if journey is not None:
        before, tp_ids = _numbered(journey, before)
    labelled = before.mutate(**extra)
    surveys, event_names, channels, touchpoints = spec._names()

    cutoff_seconds = _epoch_seconds(cutoff)
    recent = cutoff - dt.timedelta(days=spec.recent_days)
    purchase = resolve_step(spec.purchase, labelled, journey).condition.fill_null(False)
    support = resolve_step(spec.support, labelled, journey).condition
    failed = resolve_step(spec.failed_payment, labelled, journey).condition
    if "session_idx" in labelled.columns:
        # The store's per-event facts: a session started before the cutoff has its first
        # event before it, so counting first events counts sessions without a distinct.
        sessions: ir.Value = _count(labelled, labelled["session_idx"] == 0)
    else:
        sessions = labelled["session_id"].nunique()
    ts = labelled["ts"]
    # Times are aggregated first (max, min) and turned into days after the aggregation:
    # truncating to the second commutes with max and min.
    metrics: dict[str, ir.Value] = {
        "events": labelled.count(),
        "sessions": sessions,
        "events_recent": _count(labelled, ts >= recent),
        "_last": ts.max(),
        "_first": ts.min(),
        "purchases": _count(labelled, purchase),
        "revenue": labelled["value"].sum(where=purchase).fill_null(0.0).cast("float64"),
        "_last_purchase": ts.max(where=purchase),
        "support_tickets": _count(labelled, support),
        "failed_payments": _count(labelled, failed),
    }
    for kind, name in surveys.items():
        metrics[name] = labelled["score"].mean(where=labelled["_survey"] == kind).cast("float64")
    for value, name in event_names.items():
        metrics[name] = _count(labelled, labelled["event"] == value)
    for value, name in channels.items():
        metrics[name] = _count(labelled, labelled["channel"] == value)
    for value, name in touchpoints.items():
        metrics[name] = _count(labelled, _is(labelled["_tp"], tp_ids, value))
    metrics["last_event"] = labelled["event"].argmax(labelled["idx"])
    metrics["last_event_at"] = ts.max()
    touchpoint_ids = tp_ids if journey is not None and touched else None
    if touchpoint_ids is not None:
        metrics["_last_tp"] = labelled["_tp"].argmax(
            labelled["idx"], where=labelled["_tp"].notnull()
        )
    if journey is not None and spec.stages:
        # The current stage is the furthest one reached; the customer entered it with
        # their first event of it: both in one packed maximum.
        metrics["_stage_key"] = _stage_key(labelled["_stage"], ts).max()
    keys = ["customer_id", "customer_no"] if numbered else ["customer_id"]
    grouped = labelled.group_by(keys).aggregate(**metrics)
    columns = _columns(grouped, spec, cutoff_seconds, touchpoints=touchpoint_ids)
    if numbered:
        columns["customer_no"] = grouped["customer_no"]
    return grouped.select(**columns)


def features_arrow(
    events: ir.Table,
    cutoff: dt.datetime,
    *,
    spec: FeatureSpec,
    journey: Journey | None = None,
) -> pa.Table:
    """The rows of :func:`features` ordered by ``customer_id``, as Arrow: the same table
    (same columns, types and numbers), computed more cheaply for many customers.

    The counts per event name, channel and touchpoint (most of the columns) are not
    filtered aggregates of every event: the events are counted per customer, name,
    channel, touchpoint and stage (a few rows per customer), and those counts spread into
    the columns here (numpy). With ~60 columns and ~600k customers, one aggregation's
    per-customer state no longer fits the caches, and every filtered count paid for it.
    The same grouping gives the current stage and the last touchpoint (each kind's
    first second and last position), so the map's labels are computed once; the other
    columns are :func:`features`' aggregation of the events without them.

    >>> import ibis, datetime as dt
    >>> events = ibis.memtable({"customer_id": ["b", "a", "a"], "event": ["x", "x", "y"],
    ...     "ts": [dt.datetime(2026, 1, d) for d in (1, 2, 3)], "channel": ["web"] * 3,
    ...     "value": [None, 5.0, None], "score": [None, None, 3.0],
    ...     "session_id": ["s1", "s2", "s2"]})
    >>> spec = FeatureSpec(events=("x", "y"), channels=("web",))
    >>> table = features_arrow(events, dt.datetime(2026, 2, 1), spec=spec)
    >>> table.select(["customer_id", "events", "event_x", "event_y", "channel_web"]).to_pylist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'customer_id': 'a', 'events': 2, 'event_x': 1, 'event_y': 1, 'channel_web': 2},
     {'customer_id': 'b', 'events': 1, 'event_x': 1, 'event_y': 0, 'channel_web': 1}]
    """
    cutoff = utc_naive(cutoff)
    if (spec.touchpoints or spec.stages) and journey is None:
        raise ValueError("this feature spec has touchpoint or stage columns: pass the journey")
    events = with_positions(events)
    # The store's customer numbers match the counts to the rows without hashing ids.
    key = customer_column(events)
    main: pa.Table = (
        _per_customer(
            events, cutoff, _rest(spec), journey, touched=False, numbered=key == "customer_no"
        )
        .order_by("customer_id")
        .to_pyarrow()
    )
    kinds, tp_ids = _kinds(events.filter(events["ts"] < cutoff), journey, key=key)
    rows = _rows_of(kinds[key], main[key])
    return _assembled(main, kinds, rows, spec, tp_ids, cutoff)


def _rows_of(keys: pa.ChunkedArray, among: pa.ChunkedArray) -> npt.NDArray[np.int64]:
    """The position of each of ``keys`` among ``among`` (each is there): an integer key
    by a lookup table, another by hashing."""
    if pa.types.is_integer(among.type) and len(among):
        values = among.to_numpy(zero_copy_only=False).astype("int64")
        wanted = keys.to_numpy(zero_copy_only=False).astype("int64")
        low = int(min(values.min(), wanted.min(initial=values.min())))
        high = int(max(values.max(), wanted.max(initial=values.max())))
        table = np.full(high - low + 1, -1, dtype="int64")
        table[values - low] = np.arange(len(values))
        rows: npt.NDArray[np.int64] = table[wanted - low]
        if (rows < 0).any():
            raise ValueError("the counts and the other columns disagree on the customers: a bug")
        return rows
    found = pc.index_in(keys, value_set=among.combine_chunks())
    if found.null_count:
        raise ValueError("the counts and the other columns disagree on the customers: a bug")
    positions: npt.NDArray[np.int64] = found.to_numpy(zero_copy_only=False).astype("int64")
    return positions


def features_by_cutoff_arrow(
    events: ir.Table,
    cutoffs: Sequence[dt.datetime],
    *,
    spec: FeatureSpec,
    journey: Journey | None = None,
    pairs: pa.Table | None = None,
) -> pa.Table:
    """The rows of :func:`features_by_cutoff` ordered by ``cutoff_index`` and
    ``customer_id``, as Arrow, computed as :func:`features_arrow` computes its rows: the
    counts per event name, channel and touchpoint spread from one small grouping per
    (customer, period, event, channel, touchpoint). With ``pairs`` (columns
    ``customer_id`` and ``cutoff_index``), only those rows.

    >>> import ibis, datetime as dt
    >>> events = ibis.memtable({"customer_id": ["b", "a", "a"], "event": ["x", "x", "y"],
    ...     "ts": [dt.datetime(2026, 1, d) for d in (1, 2, 3)], "channel": ["web"] * 3,
    ...     "value": [None, 5.0, None], "score": [None, None, 3.0],
    ...     "session_id": ["s1", "s2", "s2"]})
    >>> spec = FeatureSpec(events=("x", "y"), channels=("web",))
    >>> cutoffs = [dt.datetime(2026, 1, 3), dt.datetime(2026, 2, 1)]
    >>> table = features_by_cutoff_arrow(events, cutoffs, spec=spec)
    >>> table.select(["cutoff_index", "customer_id", "events", "event_y"]).to_pylist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'cutoff_index': 0, 'customer_id': 'a', 'events': 1, 'event_y': 0},
     {'cutoff_index': 0, 'customer_id': 'b', 'events': 1, 'event_y': 0},
     {'cutoff_index': 1, 'customer_id': 'a', 'events': 2, 'event_y': 1},
     {'cutoff_index': 1, 'customer_id': 'b', 'events': 1, 'event_y': 0}]
    """
    cutoffs = _checked(cutoffs, spec, journey)
    events = with_positions(events)
    table = _per_period(events, cutoffs, _rest(spec), journey, touched=False)
    if pairs is not None:
        keys = ibis.memtable(
            pa.table(
                {
                    "w_customer": pairs["customer_id"].combine_chunks().cast(pa.string()),
                    "w_index": pairs["cutoff_index"].combine_chunks().cast(pa.int64()),
                }
            )
        )
        table = table.semi_join(
            keys,
            [table["customer_id"] == keys["w_customer"], table["cutoff_index"] == keys["w_index"]],
        )
    main: pa.Table = table.order_by(["cutoff_index", "customer_id"]).to_pyarrow()
    kinds, tp_ids = _kinds(events.filter(events["ts"] < cutoffs[-1]), journey, cutoffs)
    index = main["cutoff_index"].to_numpy(zero_copy_only=False)
    bounds = np.searchsorted(index, np.arange(len(cutoffs) + 1), side="left")
    p = kinds["_p"].to_numpy(zero_copy_only=False)
    parts = []
    for k in range(len(cutoffs)):
        part = main.slice(int(bounds[k]), int(bounds[k + 1] - bounds[k]))
        # A period's counts go to every cutoff from its own on.
        mine = kinds.filter(pa.array(p <= k))
        rows = pc.index_in(mine["customer_id"], value_set=part["customer_id"].combine_chunks())
        # Customers left out by ``pairs`` have no row: their counts are dropped.
        at = rows.fill_null(part.num_rows).to_numpy(zero_copy_only=False)
        parts.append(_assembled(part, mine, at, spec, tp_ids, cutoffs[k], ("cutoff_index",)))
    result: pa.Table = pa.concat_tables(parts)
    return result


def _checked(
    cutoffs: Sequence[dt.datetime], spec: FeatureSpec, journey: Journey | None
) -> list[dt.datetime]:
    """``cutoffs`` in UTC, once they are known to be increasing and ``spec`` to fit."""
    cutoffs = [utc_naive(c) for c in cutoffs]
    if not cutoffs or any(a >= b for a, b in itertools.pairwise(cutoffs)):
        raise ValueError("the cutoffs must be increasing")
    if (spec.touchpoints or spec.stages) and journey is None:
        raise ValueError("this feature spec has touchpoint or stage columns: pass the journey")
    return cutoffs


def _assembled(
    main: pa.Table,
    kinds: pa.Table,
    rows: npt.NDArray[np.int64],
    spec: FeatureSpec,
    tp_ids: tuple[str, ...] | None,
    cutoff: dt.datetime,
    extra: tuple[str, ...] = (),
) -> pa.Table:
    """The rows of ``main`` (the features of ``_rest(spec)`` without the map's labels, at
    ``cutoff``) with the columns :func:`_kinds` counts or labels: the event, channel and
    touchpoint counts, the current stage and the last touchpoint, in the spec's order
    (then ``extra``). ``rows``: each kind's customer among ``main``'s rows (``main``'s
    length drops it)."""
    counted = _spread(kinds, rows, spec, tp_ids, main.num_rows)
    if tp_ids is not None:
        counted |= _touched(kinds, rows, spec, tp_ids, main.num_rows, _epoch_seconds(cutoff))
    order = [*_order(spec), *extra]
    return pa.table({name: counted[name] if name in counted else main[name] for name in order})


def _rest(spec: FeatureSpec) -> FeatureSpec:
    """``spec`` without the counted event names, channels and touchpoints, and without the
    stage columns (:func:`_kinds` gives them too). Survey columns are named first
    (FeatureSpec._names): without the counted kinds the other columns keep their names."""
    return FeatureSpec(
        surveys=spec.surveys,
        purchase=spec.purchase,
        support=spec.support,
        failed_payment=spec.failed_payment,
        recent_days=spec.recent_days,
    )


def _kinds(
    before: ir.Table,
    journey: Journey | None,
    cutoffs: Sequence[dt.datetime] = (),
    *,
    key: str = "customer_id",
) -> tuple[pa.Table, tuple[str, ...] | None]:
    """The events (with their positions ``idx``) counted per customer, period (``_p``,
    with ``cutoffs``: the first cutoff the event is before), event, channel and, with a
    map, touchpoint number (``_tp``) and stage (``_stage``), with the touchpoint ids the
    numbers stand for (None without a map; see :func:`_numbered`); customers by ``key``
    (the store's ``customer_no`` groups cheaper than ids). With a map, each
    kind's last position (``_idx``) and its largest stage key (``_skey``, see
    :data:`_STAGE_SHIFT`) too: the map's labels are read here only, not by the other
    columns' aggregation too."""
    keys = [key, "event", "channel"]
    tp_ids = None
    if journey is not None:
        before, tp_ids = _numbered(journey, before)
        keys += ["_tp", "_stage"]
    if cutoffs:
        ts = before["ts"]
        before = before.mutate(
            _p=ibis.cases(*((ts < c, k) for k, c in enumerate(cutoffs)), else_=len(cutoffs))
        )
        keys.insert(1, "_p")
    aggregates: dict[str, ir.Value] = {"n": before.count()}
    if journey is not None:
        aggregates |= {"_idx": before["idx"].max(), "_first": before["ts"].min()}
    grouped = before.group_by(keys).aggregate(**aggregates)
    if journey is not None:
        # The stage is a key: its largest key is the one of the kind's first second.
        grouped = grouped.mutate(_skey=_stage_key(grouped["_stage"], grouped["_first"]))
    kinds: pa.Table = grouped.to_pyarrow()
    return kinds, tp_ids


def _touched(
    kinds: pa.Table,
    rows: npt.NDArray[np.int64],
    spec: FeatureSpec,
    tp_ids: tuple[str, ...],
    customers: int,
    cutoff_seconds: int,
) -> dict[str, pa.Array]:
    """``last_touchpoint`` and (with the spec's stages) ``stage_index`` and
    ``days_in_stage`` of each customer (``rows`` as in :func:`_spread`), from the kinds'
    last positions and stage keys: the numbers :func:`_columns` computes from one
    aggregation (integers; a position is one event's, so the largest is never tied)."""
    keep = rows < customers
    touchpoint = kinds["_tp"].fill_null(-1).to_numpy(zero_copy_only=False).astype("int64")
    mine = keep & (touchpoint >= 0)
    # The last touched position and its touchpoint in one maximum.
    width = len(tp_ids) + 1
    position = kinds["_idx"].to_numpy(zero_copy_only=False)
    last = np.full(customers, -1, dtype="int64")
    np.maximum.at(last, rows[mine], position[mine] * width + touchpoint[mine])
    ids = pa.array(list(tp_ids), type=pa.string())
    columns: dict[str, pa.Array] = {
        "last_touchpoint": ids.take(pa.array(last % width, mask=last < 0))
    }
    if spec.stages:
        key = kinds["_skey"].fill_null(-1).to_numpy(zero_copy_only=False)
        staged = keep & (key >= 0)
        best = np.full(customers, -1, dtype="int64")
        np.maximum.at(best, rows[staged], key[staged])
        # As _columns: the key's quotient by _STAGE_SHIFT (exact: keys stay below 2**53)
        # and the entering second, in integers; days as a double division.
        current = best // _STAGE_SHIFT
        entered = _SECONDS_BIAS - (best - current * _STAGE_SHIFT)
        unknown = best < 0
        columns["stage_index"] = pa.array(current.astype("float64"), mask=unknown)
        columns["days_in_stage"] = pa.array(
            (cutoff_seconds - entered).astype("float64") / _SECONDS_PER_DAY, mask=unknown
        )
    return columns


def _order(spec: FeatureSpec) -> list[str]:
    return ["customer_id", *spec.columns(), *INFO_COLUMNS]


def _spread(
    kinds: pa.Table,
    rows: npt.NDArray[np.int64],
    spec: FeatureSpec,
    tp_ids: tuple[str, ...] | None,
    customers: int,
) -> dict[str, pa.Array]:
    """The counts ``n`` of :func:`_kinds`, summed per customer (``rows``, positions
    among ``customers``; ``customers`` itself drops the row) into the spec's event,
    channel and touchpoint columns, as int64 columns."""
    n = kinds["n"].to_numpy(zero_copy_only=False)
    _, event_names, channels, touchpoints = spec._names()
    codes = []
    for column, names in (("event", event_names), ("channel", channels)):
        values = kinds[column]
        code = pc.index_in(values, value_set=pa.array(list(names), type=values.type))
        codes.append((code.fill_null(-1).to_numpy(zero_copy_only=False), list(names.values())))
    if tp_ids is not None:
        # The touchpoint numbers as positions among the spec's touchpoints (-1: not one).
        spread = np.array([list(touchpoints).index(t) if t in touchpoints else -1 for t in tp_ids])
        number = kinds["_tp"].fill_null(-1).to_numpy(zero_copy_only=False)
        code = np.where(number >= 0, spread[np.maximum(number, 0)] if len(spread) else -1, -1)
        codes.append((code, list(touchpoints.values())))
    counted: dict[str, pa.Array] = {}
    for code, columns in codes:
        if not columns:
            continue
        # One count per (column, customer): the cell's flat position, column by column (each
        # column's counts then contiguous), rows beyond the customers (dropped) and codes
        # of no column left out.
        mine = (code >= 0) & (rows < customers)
        cell = code[mine] * customers + rows[mine]
        total = np.zeros(customers * len(columns), dtype="int64")
        np.add.at(total, cell, n[mine])
        table = total.reshape(len(columns), customers)
        for k, name in enumerate(columns):
            counted[name] = pa.array(table[k])
    return counted


def _is(number: ir.IntegerValue, names: tuple[str, ...], name: str) -> ir.BooleanValue:
    """Whether ``number`` stands for ``name`` in ``names`` (never, when not there)."""
    if name not in names:
        return ibis.literal(False)
    equal: ir.BooleanValue = number == names.index(name)
    return equal


def _columns(
    grouped: ir.Table,
    spec: FeatureSpec,
    cutoff_seconds: int | ir.IntegerValue,
    *,
    touchpoints: tuple[str, ...] | None,
) -> dict[str, ir.Value]:
    """The feature columns of per-customer aggregates (``_last``, ``_first``,
    ``_last_purchase``, ``_stage_key``, ``_last_tp``, the counts) at ``cutoff_seconds``;
    ``touchpoints``: the ids the touchpoint numbers stand for (None without a map)."""
    derived: dict[str, ir.Value] = {
        "recency_days": _days(cutoff_seconds - _seconds(grouped["_last"])),
        "tenure_days": _days(cutoff_seconds - _seconds(grouped["_first"])),
        "days_since_purchase": _days(cutoff_seconds - _seconds(grouped["_last_purchase"])),
    }
    if spec.stages:
        key = grouped["_stage_key"]
        current = (key / _STAGE_SHIFT).floor()
        derived["stage_index"] = current.cast("float64")
        entered = _SECONDS_BIAS - (key - current * _STAGE_SHIFT)
        derived["days_in_stage"] = _days(cutoff_seconds - entered)
    columns: dict[str, ir.Value] = {}
    for name in ["customer_id", *spec.columns(), "last_event", "last_event_at"]:
        columns[name] = derived[name] if name in derived else grouped[name]
    columns["last_touchpoint"] = (
        _named(grouped["_last_tp"], touchpoints) if touchpoints is not None else ibis.null("string")
    )
    return columns


def features_by_cutoff(
    events: ir.Table,
    cutoffs: Sequence[dt.datetime],
    *,
    spec: FeatureSpec,
    journey: Journey | None = None,
) -> ir.Table:
    """The features at each of ``cutoffs`` (increasing) in one query: the rows of
    :func:`features` at ``cutoffs[k]`` with ``cutoff_index`` ``k``.

    The events are read once. They are first counted per customer, *period* (between two
    consecutive cutoffs) and kind (event name, channel, touchpoint, stage, survey kind and
    the purchase, support and failed payment flags); those few rows per customer make the
    columns of each period, and the periods up to a cutoff make its features (counts and
    sums add up, first and last times are a min and a max, the last event is the one of
    the largest position). Exactly the numbers of one aggregation per cutoff, except the
    order in which floating-point values (revenue, scores) are added.
    """
    return _per_period(events, _checked(cutoffs, spec, journey), spec, journey, touched=True)


def _per_period(
    events: ir.Table,
    cutoffs: list[dt.datetime],
    spec: FeatureSpec,
    journey: Journey | None,
    *,
    touched: bool,
) -> ir.Table:
    """:func:`features_by_cutoff`'s query; without ``touched``, ``last_touchpoint`` is
    null and the events are not counted per touchpoint and stage (see
    :func:`_per_customer`)."""
    touched = touched and journey is not None
    events = with_positions(events)
    before = events.filter(events["ts"] < cutoffs[-1])
    tp_ids: tuple[str, ...] = ()
    if journey is not None:
        before, tp_ids = _numbered(journey, before)
    surveys, event_names, channels, touchpoints = spec._names()
    ts = before["ts"]
    purchase = resolve_step(spec.purchase, before, journey).condition.fill_null(False)
    support = resolve_step(spec.support, before, journey).condition.fill_null(False)
    failed = resolve_step(spec.failed_payment, before, journey).condition.fill_null(False)
    if "session_idx" in before.columns:
        # The store's per-event facts: a session started before the cutoff has its first
        # event before it, so counting first events counts sessions without a distinct.
        session_start = (before["session_idx"] == 0).fill_null(False)
    else:
        # The first event of each session (by position): the same count as distinct ids.
        by_session = ibis.window(group_by=[before["customer_id"], before["session_id"]])
        first_idx = before["idx"].min().over(by_session)
        session_start = (before["session_id"].notnull() & (before["idx"] == first_idx)).fill_null(
            False
        )
    keys: dict[str, ir.Value] = {
        "customer_id": before["customer_id"],
        "_p": ibis.cases(*((ts < c, k) for k, c in enumerate(cutoffs)), else_=len(cutoffs)),
        "event": before["event"],
        "channel": before["channel"],
        # The survey kind of scored events only: one map lookup per answer, not per event.
        "_survey": ibis.cases(
            (before["score"].notnull(), _survey(before)), else_=ibis.null("string")
        ),
        "_purchase": purchase,
        "_support": support,
        "_failed": failed,
    }
    if touched:
        keys["_tp"] = before["_tp"]
        keys["_stage"] = before["_stage"]
    recent = [c - dt.timedelta(days=spec.recent_days) for c in cutoffs]
    keyed = before.select(
        **keys,
        _session=session_start,
        ts=ts,
        idx=before["idx"],
        value=before["value"].cast("float64"),
        score=before["score"].cast("float64"),
    )
    # 1. Per customer, period and kind of event: a handful of cheap aggregates.
    kinds = keyed.group_by(list(keys)).aggregate(
        n=keyed.count(),
        n_sessions=keyed.count(where=keyed["_session"]),
        **{f"n_recent{k}": keyed.count(where=keyed["ts"] >= r) for k, r in enumerate(recent)},
        t_first=keyed["ts"].min(),
        t_last=keyed["ts"].max(),
        value=keyed["value"].sum(),
        score_sum=keyed["score"].sum(),
        score_n=keyed["score"].count(),
        last_idx=keyed["idx"].max(),
    )
    # 2. Per customer and period: every column, from the kinds.
    n = kinds["n"]

    def total(condition: ir.BooleanValue) -> ir.IntegerValue:
        # A null condition leaves the row out of a filtered aggregate, as false does: no
        # COALESCE per row and column.
        summed: ir.IntegerValue = n.sum(where=condition).fill_null(0)
        return summed

    metrics: dict[str, ir.Value] = {
        "events": n.sum(),
        "sessions": kinds["n_sessions"].sum(),
        **{f"_recent{k}": kinds[f"n_recent{k}"].sum() for k in range(len(cutoffs))},
        "_last": kinds["t_last"].max(),
        "_first": kinds["t_first"].min(),
        "_last_idx": kinds["last_idx"].max(),
        "last_event": kinds["event"].argmax(kinds["last_idx"]),
        "purchases": total(kinds["_purchase"]),
        "revenue": kinds["value"].sum(where=kinds["_purchase"]),
        "_last_purchase": kinds["t_last"].max(where=kinds["_purchase"]),
        "support_tickets": total(kinds["_support"]),
        "failed_payments": total(kinds["_failed"]),
    }
    for kind, name in surveys.items():
        answered = kinds["_survey"] == kind
        metrics[f"_sum_{name}"] = kinds["score_sum"].sum(where=answered)
        metrics[f"_n_{name}"] = kinds["score_n"].sum(where=answered)
    for value, name in event_names.items():
        metrics[name] = total(kinds["event"] == value)
    for value, name in channels.items():
        metrics[name] = total(kinds["channel"] == value)
    for value, name in touchpoints.items():
        metrics[name] = total(_is(kinds["_tp"], tp_ids, value))
    if touched:
        labelled = kinds["_tp"].notnull()
        metrics["_last_tp"] = kinds["_tp"].argmax(kinds["last_idx"], where=labelled)
        metrics["_touch_idx"] = kinds["last_idx"].max(where=labelled)
    if touched and spec.stages:
        # The current stage is the furthest one reached; the customer entered it with
        # their first event of it: both in one packed maximum.
        metrics["_stage_key"] = _stage_key(kinds["_stage"], kinds["t_first"]).max()
    periods = kinds.group_by(["customer_id", "_p"]).aggregate(**metrics)
    # 3. Per customer and cutoff: the periods before it.
    crossed = periods.cross_join(
        ibis.memtable({"cutoff_index": list(range(len(cutoffs)))}, schema={"cutoff_index": "int64"})
    )
    crossed = crossed.filter(crossed["_p"] <= crossed["cutoff_index"])
    k_ = crossed["cutoff_index"]

    def summed(name: str) -> ir.IntegerValue:
        value: ir.IntegerValue = crossed[name].sum().cast("int64")
        return value

    combined: dict[str, ir.Value] = {
        "events": summed("events"),
        "sessions": summed("sessions"),
        "events_recent": ibis.cases(
            *((k_ == k, crossed[f"_recent{k}"]) for k in range(len(cutoffs))),
            else_=ibis.literal(0, type="int64"),
        )
        .sum()
        .cast("int64"),
        "_last": crossed["_last"].max(),
        "_first": crossed["_first"].min(),
        "purchases": summed("purchases"),
        "revenue": crossed["revenue"].sum().fill_null(0.0).cast("float64"),
        "_last_purchase": crossed["_last_purchase"].max(),
        "support_tickets": summed("support_tickets"),
        "failed_payments": summed("failed_payments"),
        "last_event": crossed["last_event"].argmax(crossed["_last_idx"]),
        "last_event_at": crossed["_last"].max(),
    }
    for name in surveys.values():
        combined[name] = crossed[f"_sum_{name}"].sum().cast("float64") / crossed[
            f"_n_{name}"
        ].sum().cast("float64")
    for name in [*event_names.values(), *channels.values(), *touchpoints.values()]:
        combined[name] = summed(name)
    if touched:
        combined["_last_tp"] = crossed["_last_tp"].argmax(
            crossed["_touch_idx"], where=crossed["_last_tp"].notnull()
        )
    if touched and spec.stages:
        combined["_stage_key"] = crossed["_stage_key"].max()
    grouped = crossed.group_by(["customer_id", "cutoff_index"]).aggregate(**combined)
    cutoff_seconds = ibis.cases(
        *((grouped["cutoff_index"] == k, _epoch_seconds(c)) for k, c in enumerate(cutoffs)),
        else_=ibis.null("int64"),
    ).cast("int64")
    columns = _columns(grouped, spec, cutoff_seconds, touchpoints=tp_ids if touched else None)
    columns["cutoff_index"] = grouped["cutoff_index"]
    return grouped.select(**columns)
