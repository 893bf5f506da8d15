"""Conversion paths for attribution: built from events in the engine, or read from a file.

The rules (``tests/oracles/attribution.py`` is the brute-force reference):

* A customer's events are ordered by ``ts`` then ``seq`` (the store's ``idx``).
* A *conversion* is an event matching the conversion step. A *touch* is any other event
  with a label (its channel, its event name or the touchpoint of the bound map it
  matches; events without one are no touch), optionally only those matching ``only``.
  Conversion events are never touches.
* A *converting path* belongs to each conversion: the customer's touches strictly after
  the previous conversion (if any) and strictly before this one, that happened at most
  ``lookback`` before it (inclusive). A conversion without such touches has no path: it
  is counted in ``conversions_without_touches`` and attributed to no channel.
* A *non-converting path* belongs to each customer with touches after their last
  conversion (all their touches when they never converted): those touches that happened
  at most ``lookback`` before the last of them.
* The *path table* has one row per distinct sequence of touch labels: how many
  converting paths follow it (``conversions``), how many non-converting ones
  (``nulls``) and the summed value of its conversions (``value``: the conversion
  events' ``value``, a missing one counting 0).
* Time decay needs the time of each touch, which a path table does not keep: the
  credit of touch ``i`` of a converting path is ``2 ** (-(t_conversion - t_i) / half_life)``
  divided by the sum over the path. The engine returns, per distinct path, the times of
  the touches (seconds from the conversion) of each of its conversions; the table
  keeps, per touch of each distinct path, the credit summed over its conversions (and
  weighted by their value).

Everything heavy runs in the engine as Ibis expressions, in one query that reads the
events a few times (columnar scans; the events are written down first only when
labelling them is costly: touchpoints, or a table without positions). Each touch finds
its path by one hash join on the customer with the conversions (small), a window only
over those; the lookback of a non-converting path counts from its last touch, so the
customers whose touches span more than the lookback get a virtual conversion at that
touch, after every event, and their tail joins it like a converting path. Touch labels
become small integer codes; lists are collected then sorted, as Spark has no ordered
``group_concat``; no backend-only function, so it runs on DuckDB and PySpark alike.
A customer's positions follow time (``idx`` numbers the events by ``ts`` then ``seq``),
which the query relies on to order the touch times. What comes back is small: one row
per distinct path.
"""

from __future__ import annotations

import enum
import functools
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Final

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from jornada.analytics._exact import exact_sum
from jornada.analytics.stages import StageTables
from jornada.analytics.steps import resolve_step
from jornada.engine import Engine
from jornada.errors import JornadaError
from jornada.events.binding import label_events
from jornada.events.filters import customer_column
from jornada.model import Journey

__all__ = [
    "AttributionError",
    "PathTable",
    "Touch",
    "build_path_table",
    "conversion_paths",
    "read_path_table",
]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

_LN2: Final = math.log(2.0)
_CODES: Final = 1 << 20
"""At most this many distinct labels; a position and a code share one int64 (positions
stay below 2**43, eight trillion events of one customer)."""


class AttributionError(JornadaError):
    """An attribution that cannot be computed as asked; the message names the fix."""


class Touch(enum.StrEnum):
    """What labels a touch: its channel, its event name, or the map touchpoint it is."""

    channel = "channel"
    event = "event"
    touchpoint = "touchpoint"


@dataclass(frozen=True, eq=False)
class PathTable:
    """Distinct paths with their conversions, non-conversions and value, kept flat.

    Path ``i`` is ``channels[codes[offsets[i]:offsets[i + 1]]]``, with ``conversions[i]``
    converting paths, ``nulls[i]`` non-converting ones and ``value[i]`` summed value.
    ``decay`` (per touch of the flat arrays) is the time-decay credit of that touch
    summed over the path's conversions, ``decay_value`` the same weighted by value;
    both are None when touch times are unknown (a table read from a file).

    >>> table = build_path_table([("a", "b"), ("b",)], [2, 0], [1, 3])
    >>> table.paths()
    [('a', 'b'), ('b',)]
    >>> table.total_conversions, table.to_frame().to_dict("records")[0]["path"]
    (2.0, 'a > b')
    """

    channels: tuple[str, ...]
    codes: Ints
    offsets: Ints
    conversions: Floats
    nulls: Floats
    value: Floats | None = None
    decay: Floats | None = None
    decay_value: Floats | None = None
    conversions_without_touches: float = 0.0
    value_without_touches: float = 0.0
    half_life_seconds: float | None = None

    def __post_init__(self) -> None:
        if np.any(np.diff(self.offsets) < 1):
            raise AttributionError("every path of a path table needs at least one touch")

    @property
    def size(self) -> int:
        """Distinct paths (rows)."""
        return len(self.conversions)

    @cached_property
    def lengths(self) -> Ints:
        return np.diff(self.offsets)

    @cached_property
    def parent(self) -> Ints:
        """The path (row) of each flat touch."""
        return np.repeat(np.arange(self.size, dtype=np.int64), self.lengths)

    @cached_property
    def position(self) -> Ints:
        """The position of each flat touch in its path, from 0."""
        return np.arange(len(self.codes), dtype=np.int64) - self.offsets[self.parent]

    @property
    def total_conversions(self) -> float:
        """Conversions with at least one touch (what the models attribute)."""
        return float(self.conversions.sum())

    @property
    def total_value(self) -> float | None:
        return None if self.value is None else float(self.value.sum())

    def paths(self) -> list[tuple[str, ...]]:
        """The paths as tuples of touch labels (a Python list: for tests and small tables)."""
        names = np.asarray(self.channels, dtype=object)
        return [
            tuple(names[self.codes[a:b]])
            for a, b in zip(self.offsets[:-1], self.offsets[1:], strict=True)
        ]

    def to_frame(self, sep: str = " > ") -> pd.DataFrame:
        """The table as other tools export it: ``path`` (labels joined with ``sep``),
        ``total_conversions``, ``total_null`` and ``total_conversion_value``."""
        frame = pd.DataFrame(
            {
                "path": [sep.join(path) for path in self.paths()],
                "total_conversions": self.conversions,
                "total_null": self.nulls,
            }
        )
        if self.value is not None:
            frame["total_conversion_value"] = self.value
        return frame


def build_path_table(
    paths: list[tuple[str, ...]] | list[list[str]],
    conversions: Any,
    nulls: Any,
    value: Any = None,
    *,
    conversions_without_touches: float = 0.0,
    value_without_touches: float = 0.0,
) -> PathTable:
    """A path table from Python sequences (tests, small tables, files already parsed).

    >>> build_path_table([["x"]], [1], [0], [5.0]).total_value
    5.0
    """
    lengths = np.array([len(p) for p in paths], dtype=np.int64)
    flat = pa.array([label for path in paths for label in path], type=pa.string())
    return _assemble(
        flat,
        lengths,
        np.asarray(conversions, dtype=np.float64),
        np.asarray(nulls, dtype=np.float64),
        None if value is None else np.asarray(value, dtype=np.float64),
        conversions_without_touches=conversions_without_touches,
        value_without_touches=value_without_touches,
    )


def _assemble(
    flat: pa.Array,
    lengths: Ints,
    conversions: Floats,
    nulls: Floats,
    value: Floats | None,
    *,
    conversions_without_touches: float = 0.0,
    value_without_touches: float = 0.0,
    decay: Floats | None = None,
    decay_value: Floats | None = None,
    half_life_seconds: float | None = None,
) -> PathTable:
    """Encode the flat labels as codes of the sorted channel names."""
    encoded = (
        pc.dictionary_encode(flat).combine_chunks()
        if isinstance(flat, pa.ChunkedArray)
        else pc.dictionary_encode(flat)
    )
    names = encoded.dictionary.to_pylist()
    order = sorted(range(len(names)), key=names.__getitem__)
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names), dtype=np.int64)
    codes = rank[encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)]
    channels = [names[i] for i in order]
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return PathTable(
        channels=tuple(str(c) for c in channels),
        codes=codes,
        offsets=offsets,
        conversions=conversions,
        nulls=nulls,
        value=value,
        decay=decay,
        decay_value=decay_value,
        conversions_without_touches=conversions_without_touches,
        value_without_touches=value_without_touches,
        half_life_seconds=half_life_seconds,
    )


# --- from events, in the engine ----------------------------------------------------------------


def conversion_paths(
    events: ir.Table,
    *,
    conversion: str,
    touch: Touch | str = Touch.channel,
    only: str | None = None,
    lookback_seconds: float | None = 30 * 86400.0,
    half_life_seconds: float | None = None,
    value: bool | None = None,
    journey: Journey | None = None,
    engine: Engine | None = None,
    stage_tables: StageTables | None = None,
) -> PathTable:
    """The path table of ``events`` (see the module docstring for the rules).

    ``value``: True takes the conversion events' ``value``, False ignores it, None takes
    it when some conversion has one. ``half_life_seconds`` adds the time-decay credits.
    ``stage_tables``: the :class:`~jornada.analytics.stages.StageTables` of these events
    and ``journey`` (built without ``as_of``), whose labelled events then give the touches
    by touchpoint: the same labels (:func:`~jornada.analytics.stages.event_labels` is
    :func:`~jornada.events.binding.label_events` as numbers), not evaluated again. (The
    stage tables hold the events with a time, which every event of a store has; a table
    with some event without one is labelled again, where such events are touches.)

    >>> from jornada.engine import Engine
    >>> events = Engine.duckdb().con.sql(
    ...     "SELECT * FROM (VALUES ('a', 0, TIMESTAMP '2026-01-01', 'ad', 'social'),"
    ...     " ('a', 1, TIMESTAMP '2026-01-02', 'visit', 'web'),"
    ...     " ('a', 2, TIMESTAMP '2026-01-03', 'purchase', 'web'),"
    ...     " ('b', 0, TIMESTAMP '2026-01-01', 'visit', 'web'))"
    ...     " AS t(customer_id, idx, ts, event, channel)")
    >>> table = conversion_paths(events, conversion="purchase")
    >>> table.paths(), table.conversions.tolist(), table.nulls.tolist()
    ([('social', 'web'), ('web',)], [1.0, 0.0], [0.0, 1.0])
    """
    touch = Touch(touch)
    if (
        touch is Touch.touchpoint
        and journey is not None
        and stage_tables is not None
        and _reads_labels(events, journey, stage_tables, only)
    ):
        missing, top = _times_and_positions(events, engine)
        if not missing:
            return _labelled_paths(
                events,
                stage_tables,
                conversion,
                journey,
                lookback_seconds,
                half_life_seconds,
                value,
                engine,
                top,
            )
    if touch is Touch.touchpoint:
        if journey is None:
            raise AttributionError(
                "touches by touchpoint need a map bound to the events: give --map"
            )
        events = label_events(journey, events)
        label = events.touchpoint_id
    else:
        label = events[touch.value]
    converting = resolve_step(conversion, events, journey).condition.fill_null(False)
    touching = ~converting & label.notnull()
    if only is not None:
        touching = touching & resolve_step(only, events, journey).condition.fill_null(False)
    # The store's small integer per customer when the table has it: grouping and joining
    # on it is much cheaper than on long text ids (e-mails). Paths name no customer.
    who = events[customer_column(events)]
    numbered = "idx" in events.columns
    if numbered:
        position = events.idx.cast("int64")
    else:  # a table without the store's facts: number each customer's events
        window = ibis.window(group_by=who, order_by=[events.ts, events.seq])
        position = ibis.row_number().over(window).cast("int64")
    with_value = value is not False and "value" in events.columns
    columns = {
        "who": who,
        "pos": position,
        "ts": events.ts,
        "touch": label.cast("string"),
        "conv": converting & who.notnull(),
        "is_touch": touching & who.notnull(),
        "cvalue": events.value.cast("float64") if with_value else ibis.null("float64"),
    }
    if numbered and touch is not Touch.touchpoint:
        # Each part of the query reads the events it needs straight from the table:
        # columnar scans are cheaper than writing the touches down once to read them
        # again (the engine would materialise a shared subquery too).
        return _path_table(events, columns, lookback_seconds, half_life_seconds, value, engine)
    # Labelling every event against the map's rules (or numbering the events) is the
    # costly step: computed once, read by the parts of the query, then released. Every
    # event is kept: keeping only touches and conversions would have the engine test
    # the rules twice (the filter, then the column), which costs more than the rows.
    with events.select(**columns).cache() as kept:
        return _path_table(
            kept,
            {name: kept[name] for name in columns},
            lookback_seconds,
            half_life_seconds,
            value,
            engine,
        )


def _reads_labels(
    events: ir.Table, journey: Journey, tables: StageTables, only: str | None
) -> bool:
    """Whether the touches can come from ``tables``' labelled events: every event is
    there (no ``as_of``), with the events' own positions and customer key, for this map;
    not with ``only`` (a rule on any column)."""
    return (
        only is None
        and tables.complete
        and "idx" in events.columns
        and tables.key == customer_column(events)
        and tables.journey == journey
    )


def _times_and_positions(events: ir.Table, engine: Engine | None) -> tuple[bool, int]:
    """Whether some event has no time (the stage tables leave those out, the paths do
    not: a store never has one, a plain table may), and the highest position (``idx``;
    0 without events). One scan of two columns."""
    found = events.aggregate(missing=events["ts"].isnull().any(), top=events["idx"].max())
    [row] = _run(engine, found).to_pylist()
    return bool(row["missing"]), int(row["top"] or 0)


def _labelled_paths(
    events: ir.Table,
    tables: StageTables,
    conversion: str,
    journey: Journey,
    lookback_seconds: float | None,
    half_life_seconds: float | None,
    value: bool | None,
    engine: Engine | None,
    top: int,
) -> PathTable:
    """The path table by touchpoint from the stage tables' labelled events (see
    :func:`conversion_paths`). The conversions (few) are read from ``events`` once and
    kept; the touches are the labelled events with a touchpoint, reading only the labels,
    the customer, the position and the time of the labelled events, whatever else they
    carry. A conversion event with a touchpoint is among them: the query drops it where it
    meets its own conversion (see :func:`_paths_of`), cheaper than an anti join of every
    touch with the conversions. A touchpoint's code is the rank of its id, as the labels'
    row numbers would give it. ``top`` is the highest position of the events: when
    every position and code fit in a 32-bit integer (``top`` times the few codes), the
    lists are of those, cheaper to sort and group than 64-bit ones (the same paths)."""
    key = tables.key
    labelled = tables.labelled
    converting = resolve_step(conversion, events, journey).condition.fill_null(False)
    with_value = value is not False and "value" in events.columns
    found = events.filter(converting & events[key].notnull())
    found = found.select(
        who=found[key],
        pos=found["idx"].cast("int64"),
        ts=found["ts"],
        cvalue=found["value"].cast("float64") if with_value else ibis.null("float64"),
    )
    ids = tables.touchpoints
    ranks = {tp: rank for rank, tp in enumerate(sorted(ids))}
    touched = labelled.filter(labelled["touchpoint"].notnull() & labelled[key].notnull())
    # A map without bound touchpoints labels no event (and has no codes).
    code = (
        ibis.literal([ranks[tp] for tp in ids], type="array<int64>")[touched["touchpoint"]]
        if ids
        else ibis.null("int64")
    )
    with found.cache() as conversions:

        def conversions_of(*names: str) -> ir.Table:
            return conversions.select(*names)

        def touches_of(*names: str) -> ir.Table:
            rows = touched.select(
                who=touched[key], pos=touched["idx"].cast("int64"), ts=touched["ts"], code=code
            )
            return rows.select(*names)

        named = {rank: tp for tp, rank in ranks.items()}
        bits = max(1, (len(ids) - 1).bit_length())
        return _paths_of(
            touches_of,
            conversions_of,
            named,
            lookback_seconds,
            half_life_seconds,
            value,
            engine,
            with_conversions=True,
            code_bits=bits if (top + 1) << bits <= _INT32_MAX else None,
        )


_LABELS: Final = dt.Array(dt.Struct({"code": dt.int64, "label": dt.string}))
"""The type of the totals row's labels (codes and their labels)."""

_INT32_MAX: Final = (1 << 31) - 1

_NEVER: Final = 1 << 62
"""The position of a customer's virtual last "conversion" (after every event): the key
of the non-converting path."""


def _path_table(
    source: ir.Table,
    columns: dict[str, ir.Value],
    lookback_seconds: float | None,
    half_life_seconds: float | None,
    value: bool | None,
    engine: Engine | None,
) -> PathTable:
    """The path table in one query over ``source``, whose event fields are ``columns``."""

    def part(where: str, *names: str) -> ir.Table:
        # A distinct projection per part (its own columns), so no part is a subquery
        # shared by several others.
        rows = source.select(**{name: columns[name] for name in (*names, where)})
        return rows.filter(rows[where]).drop(where)

    return _paths_of(
        functools.partial(part, "is_touch"),
        functools.partial(part, "conv"),
        None,
        lookback_seconds,
        half_life_seconds,
        value,
        engine,
    )


def _paths_of(
    touches_of: Callable[..., ir.Table],
    conversions_of: Callable[..., ir.Table],
    named: dict[int, str] | None,
    lookback_seconds: float | None,
    half_life_seconds: float | None,
    value: bool | None,
    engine: Engine | None,
    *,
    with_conversions: bool = False,
    code_bits: int | None = None,
) -> PathTable:
    """The path table in one query. ``touches_of(*names)`` gives the touches with those
    of the columns ``who``, ``pos``, ``ts`` and ``touch`` (the label; ``code`` instead
    when ``named`` maps every code to its label, codes ranked as the labels sort);
    ``conversions_of(*names)`` the conversions with those of ``who``, ``pos``, ``ts``,
    ``cvalue``. Each call is a projection of its own. ``with_conversions``: the touches
    may include conversion events (labelled ones), which are then left out here.

    Those are left out by the join that finds each touch its conversion: a conversion
    event is the end of its own span of positions, so it meets that conversion at its
    own position and is dropped there. Taken into the customers' spans of touches, such
    an event may give a customer a virtual conversion they would not have had, or move
    it to a later time; neither changes a path: the virtual conversion only trims the
    touches after the last real one to the lookback before their last, and a
    conversion later than every touch leaves no touch after it.

    ``code_bits``: a position and a code are packed into a 32-bit integer with the code
    in these low bits (the caller knows they fit: ``(top + 1) << code_bits`` at most
    ``2**31 - 1``); None packs them into 64 bits (:data:`_CODES`)."""
    lookback_us = None if lookback_seconds is None else round(lookback_seconds * 1_000_000)

    conversions = conversions_of("who", "pos", "ts", "cvalue")
    ends = conversions.select(
        "who",
        cpos=conversions.pos,
        cts=conversions.ts,
        cvalue=conversions.cvalue.fill_null(0.0),
    )
    if lookback_us is not None:
        # The lookback of a non-converting path counts back from the customer's last
        # touch: such customers get a virtual conversion after all their events, at the
        # time of that touch, which takes their last touches like a real one. Only
        # those whose touches span more than the lookback need one (the others keep
        # every touch): far fewer rows for the join below.
        spans = touches_of("who", "ts")
        spans = spans.group_by("who").aggregate(first=spans.ts.min(), last=spans.ts.max())
        spans = spans.filter(spans.last.delta(spans.first, unit="microsecond") > lookback_us)
        ends = ends.union(
            spans.select(
                "who",
                cpos=ibis.literal(_NEVER, type="int64"),
                cts=spans.last,
                cvalue=ibis.null("float64"),
            )
        )
    previous = ibis.window(group_by=ends.who, order_by=ends.cpos)
    ends = ends.mutate(ppos=ends.cpos.lag().over(previous).fill_null(-1))

    # Each touch belongs to the first (virtual) conversion after it, if after the one
    # before; a touch of no conversion is in its customer's non-converting path.
    # Labels become integer codes (their rank): sorting and grouping integer lists is
    # cheaper than strings, and a label may contain any character.
    labels: ir.Table | None = None
    if named is None:
        labels = touches_of("touch").distinct()
        labels = labels.mutate(code=ibis.row_number().over(order_by=labels.touch).cast("int64"))
        touches = touches_of("who", "pos", "ts", "touch")
        touches = touches.join(labels, "touch").drop("touch")
    else:
        touches = touches_of("who", "pos", "ts", "code")
    found = touches.left_join(
        ends,
        [
            touches.who == ends.who,
            touches.pos <= ends.cpos if with_conversions else touches.pos < ends.cpos,
            touches.pos > ends.ppos,
        ],
    )
    kept: list[ir.BooleanValue] = []
    if with_conversions:
        kept.append(found.pos < found.cpos)  # not the conversion event itself
    if lookback_us is not None:
        kept.append(found.cts.delta(found.ts, unit="microsecond") <= lookback_us)
    if kept:
        found = found.filter(found.cpos.isnull() | functools.reduce(operator.and_, kept))
    parts = found.select(
        "who",
        "pos",
        "code",
        "cvalue",
        key=found.cpos.fill_null(_NEVER),
        # Seconds from the conversion back to the touch (<= 0). Positions follow time,
        # so sorting these numbers puts a path's touches in order: no (position, time)
        # pairs to collect and sort.
        seconds=found.ts.delta(found.cts, unit="microsecond").cast("float64") / 1_000_000,
    )
    # Spark has no ordered collect: pack (position, code) into one integer whose order is
    # the position's, sort the collected list, and keep the codes.
    span = _CODES if code_bits is None else 1 << code_bits
    packing = parts.pos * span + parts.code
    if code_bits is not None:
        packing = packing.cast("int32")
    packed = packing.collect().sort()
    extra: dict[str, Any] = {}
    if half_life_seconds is not None:
        extra["seconds"] = parts.seconds.collect(where=parts.key < _NEVER).sort()
    keyed = parts.group_by("who", "key").aggregate(
        path=packed.map(lambda item: item % span), cvalue=parts.cvalue.max(), **extra
    )
    keyed = keyed.mutate(converted=(keyed.key < _NEVER).cast("int64"))
    no_timing = ibis.null("array<struct<seconds: array<float64>, value: float64>>")
    # Sorted: the credits are summed over the conversions in this order, which must not
    # be the order the engine's groups and threads happened to collect them in.
    timing = (
        ibis.struct({"seconds": keyed.seconds, "value": keyed.cvalue})
        .collect(where=keyed.converted == 1)
        .sort()
        if half_life_seconds is not None
        else no_timing
    )
    table = keyed.group_by("path").aggregate(
        conversions=keyed.converted.sum(),
        nulls=(1 - keyed.converted).sum(),
        value=exact_sum(keyed.cvalue),
        valued=ibis.literal(0, type="int64"),
        timing=timing,
    )
    # One more row (path null) carries every conversion, with or without touches, and
    # the labels of the codes.
    totals = conversions.aggregate(
        conversions=conversions.count(),
        value=exact_sum(conversions.cvalue),
        valued=conversions.cvalue.count(),
    )
    if labels is not None:
        totals = totals.cross_join(
            labels.aggregate(
                labels=ibis.struct({"code": labels.code, "label": labels.touch}).collect()
            )
        )
    else:
        totals = totals.mutate(labels=ibis.null(_LABELS))
    no_labels = ibis.null(totals.labels.type())
    table = table.mutate(labels=no_labels)
    totals = totals.select(
        path=ibis.null(table.path.type()),
        conversions=totals.conversions,
        nulls=ibis.literal(0, type="int64"),
        value=totals.value,
        valued=totals.valued,
        timing=no_timing,
        labels=totals.labels,
    )
    # One query, rows in a fixed order.
    rows = _run(engine, table.union(totals.cast(table.schema())).order_by("path"))
    return _from_engine_rows(rows, value, half_life_seconds, named)


def _decay_credits(
    timing: pa.ChunkedArray, offsets: Ints, half_life_seconds: float
) -> tuple[Floats, Floats]:
    """Per flat touch of the table: its time-decay credit summed over the conversions of
    its path, and weighted by their value. ``timing`` has, per path, the list of its
    conversions: the touches' ``seconds`` from the conversion (<= 0: minus their age; in
    order) and value.

    A touch's weight is ``2 ** (-age / half_life)``; it is measured from the path's
    latest touch (the same ratios), so the weights never all underflow to zero.
    """
    timing = timing.combine_chunks() if isinstance(timing, pa.ChunkedArray) else timing
    conversions = pc.list_flatten(timing)  # one struct per conversion
    path_of = pc.list_parent_indices(timing).to_numpy().astype(np.int64)
    ages_lists = pc.struct_field(conversions, "seconds")
    ages = -_floats(pc.list_flatten(ages_lists))
    conversion_of = pc.list_parent_indices(ages_lists).to_numpy().astype(np.int64)
    values = _floats(pc.struct_field(conversions, "value"))
    total = int(offsets[-1])
    if len(ages) == 0:
        return np.zeros(total), np.zeros(total)
    first = np.r_[True, conversion_of[1:] != conversion_of[:-1]]
    starts = np.flatnonzero(first)
    group = np.cumsum(first) - 1  # the conversion of each age, numbered 0, 1, ...
    rank = np.arange(len(ages)) - starts[group]
    weight = np.exp2(-(ages - np.minimum.reduceat(ages, starts)[group]) / half_life_seconds)
    share = weight / np.add.reduceat(weight, starts)[group]
    touch = offsets[path_of[conversion_of]] + rank
    credit = np.bincount(touch, weights=share, minlength=total).astype(np.float64)
    worth = np.bincount(touch, weights=share * values[conversion_of], minlength=total)
    return credit, worth.astype(np.float64)


def _run(engine: Engine | None, expr: ir.Table) -> pa.Table:
    table: pa.Table = engine.to_arrow(expr) if engine is not None else expr.to_pyarrow()
    return table


def _from_engine_rows(
    rows: pa.Table,
    value: bool | None,
    half_life_seconds: float | None,
    named: dict[int, str] | None = None,
) -> PathTable:
    is_total = pc.is_null(rows["path"])
    totals = rows.filter(is_total).to_pylist()
    total: dict[str, Any] = totals[0] if totals else {"conversions": 0, "valued": 0}
    if named is None:
        named = {entry["code"]: str(entry["label"]) for entry in total.get("labels") or []}
    if len(named) >= _CODES:
        raise AttributionError(
            f"{len(named):,} distinct touches are too many: choose --touch channel or --only"
        )
    paths = rows.filter(pc.invert(is_total))
    with_value = value is True or (value is None and bool(total["valued"]))
    conversions = _floats(paths["conversions"])
    values = _floats(paths["value"]) if with_value else None
    lengths = pc.list_value_length(paths["path"]).to_numpy().astype(np.int64)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    codes = pc.list_flatten(paths["path"]).to_numpy().astype(np.int64)
    # Codes in label order, from 0; labels whose touches all fell outside the lookback
    # windows are in no path and left out (a lookup through the few codes, not a sort of
    # every touch).
    used = np.flatnonzero(np.bincount(codes))
    rank = np.zeros(len(used) and int(used[-1]) + 1, dtype=np.int64)
    rank[used] = np.arange(len(used), dtype=np.int64)
    codes = rank[codes]
    channels = tuple(named[int(i)] for i in used)
    decay_credit = decay_value = None
    if half_life_seconds is not None:
        decay_credit, decay_value = _decay_credits(paths["timing"], offsets, half_life_seconds)
        if not with_value:
            decay_value = None
    total_conversions = float(total["conversions"] or 0)
    total_value = float(total.get("value") or 0.0)
    return PathTable(
        channels=channels,
        codes=codes,
        offsets=offsets,
        conversions=conversions,
        nulls=_floats(paths["nulls"]),
        value=values,
        decay=decay_credit,
        decay_value=decay_value,
        conversions_without_touches=total_conversions - float(conversions.sum()),
        value_without_touches=(total_value - float(values.sum())) if values is not None else 0.0,
        half_life_seconds=half_life_seconds,
    )


def _floats(column: pa.ChunkedArray) -> Floats:
    return np.asarray(column.fill_null(0).to_numpy(), dtype=np.float64)


# --- from a file -------------------------------------------------------------------------------


def read_path_table(
    path: Path,
    *,
    path_col: str = "path",
    conversions_col: str = "total_conversions",
    nulls_col: str | None = "total_null",
    value_col: str | None = None,
    sep: str = ">",
) -> PathTable:
    """Read an aggregated path table as other tools export it (ChannelAttribution's
    ``Data.csv``, GA4 exports...): CSV/TSV (delimiter detected among ``, ; tab |``) or
    Parquet. Labels are split at ``sep`` and stripped of spaces; a path with no label
    holds conversions without touches.

    >>> import tempfile, pathlib
    >>> file = pathlib.Path(tempfile.mkdtemp()) / "paths.csv"
    >>> _ = file.write_text("path;total_conversions;total_null\\nemail > web;3;7\\n")
    >>> table = read_path_table(file)
    >>> table.paths(), table.conversions.tolist(), table.nulls.tolist()
    ([('email', 'web')], [3.0], [7.0])
    """
    frame = _read_frame(path)
    wanted = {"--path-col": path_col, "--conversions-col": conversions_col}
    if nulls_col:
        wanted["--nulls-col"] = nulls_col
    if value_col:
        wanted["--value-col"] = value_col
    missing = [f"{flag} {name!r}" for flag, name in wanted.items() if name not in frame.columns]
    if missing:
        raise AttributionError(
            f"{path}: no column {', '.join(missing)}; its columns are "
            f"{', '.join(map(str, frame.columns))} (name them with --path-col, "
            "--conversions-col, --nulls-col, --value-col)"
        )
    if not sep:
        raise AttributionError("--sep must not be empty (ChannelAttribution's files use '>')")
    counts = {
        "conversions": _column(frame, conversions_col, path),
        "nulls": _column(frame, nulls_col, path) if nulls_col else np.zeros(len(frame)),
    }
    values = _column(frame, value_col, path, negative=True) if value_col else None
    texts = pa.array(frame[path_col].astype("string").fillna("").tolist(), type=pa.string())
    listed = pc.split_pattern(texts, sep)
    flat = pc.utf8_trim_whitespace(pc.list_flatten(listed))
    parent = pc.list_parent_indices(listed).to_numpy()
    keep = pc.not_equal(flat, "").to_numpy(zero_copy_only=False)
    lengths = np.bincount(parent[keep], minlength=len(frame)).astype(np.int64)
    has_touch = lengths > 0
    empty_conversions = float(counts["conversions"][~has_touch].sum())
    empty_value = float(values[~has_touch].sum()) if values is not None else 0.0
    return _assemble(
        flat.filter(pa.array(keep)),
        lengths[has_touch],
        counts["conversions"][has_touch],
        counts["nulls"][has_touch],
        values[has_touch] if values is not None else None,
        conversions_without_touches=empty_conversions,
        value_without_touches=empty_value,
    )


def _read_frame(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise AttributionError(f"no path table at {path}: give an existing CSV or Parquet file")
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    with path.open(encoding="utf-8", newline="") as handle:
        header = handle.readline()
    # The header has no separator of paths; the delimiter is its most frequent candidate.
    delimiter = max((",", ";", "\t", "|"), key=header.count)
    if not header.count(delimiter):
        delimiter = ","
    return pd.read_csv(path, sep=delimiter)


def _column(frame: pd.DataFrame, name: str, path: Path, *, negative: bool = False) -> Floats:
    numbers = pd.to_numeric(frame[name], errors="coerce")
    bad = numbers.isna() & frame[name].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise AttributionError(
            f"{path}: column {name!r}, row {row + 2}: {frame[name].iloc[row]!r} is not a number"
        )
    values: Floats = numbers.fillna(0).to_numpy(dtype=np.float64)
    if not negative and np.any(values < 0):
        row = int(np.flatnonzero(values < 0)[0])
        raise AttributionError(f"{path}: column {name!r}, row {row + 2}: counts cannot be negative")
    return values
