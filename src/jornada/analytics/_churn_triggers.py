"""Behavioural triggers in the engine: which moments of the journey come before churn.

Time is cut into exposure windows of ``every`` (a week by default) from the first
event's day. For window ``j`` (from ``e_j`` to ``s_j = e_j + every``) the population is
the customers alive at ``e_j`` with an event in the window (before they left, for
cancellations: what happens at or after a cancellation does not count); a customer is
*exposed* to a trigger when it happens in the window, before they left; the outcome is
having churned by ``s_j + window``. Windows whose outcome is not yet observable are left
out. A customer is one unit per window (customer-windows).

Comparing with customers who did *something else* that window, not with everyone alive,
is what makes the lift a property of the moment: under an inactivity definition any
event in a window makes churn right after it less likely, and the quiet customers would
make every moment look protective.

A trigger is an event name, an event with one value of a categorical property
(``support_ticket · reason=follow_up``), two consecutive events (``support_ticket →
support_ticket``, happening when the second one does) or, with a map, a touchpoint.
Every event is bucketed into its window arithmetically (no join with the windows) and
matched once with its customer's row of that window (population, label, when they left);
only the events before the customer left count, and only then are the map's rules run on
them. Each kind of token (any event, event name, touchpoint, property value, pair) is then
de-duplicated on its own, customer-window and the token's few short columns, and counted
per token and window: several narrow hash tables instead of one over every token of every
event (at 10M events, 11M distinct customer-window tokens). The parts are joined into one
string only in the small result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final

import ibis
import ibis.expr.types as ir

from jornada.analytics._churn_labels import Outcome
from jornada.analytics.segments import with_positions
from jornada.analytics.stages import event_labels
from jornada.engine.kept import kept_table
from jornada.engine.nested import map_entries
from jornada.events.filters import customer_column
from jornada.model import Journey

__all__ = ["ANY", "SEPARATOR", "categorical_properties", "exposure_counts"]

SEPARATOR: Final = "\x1f"
"""Between the parts of a token (kind, event, property, value): never in names."""
ANY: Final = "any"
"""The token every event has: its exposures are the windows' populations."""
_EPOCH: Final = dt.datetime(1970, 1, 1)


def _seconds(ts: ir.TimestampValue) -> ir.IntegerValue:
    return ts.truncate("s").epoch_seconds().cast("int64")


def categorical_properties(events: ir.Table, *, max_levels: int) -> tuple[str, ...]:
    """The property keys with at most ``max_levels`` distinct values (and one at least),
    sorted: one query (every key of every event, with its value, counted per key)."""
    if "properties" not in events.columns:
        return ()
    keyed = map_entries(events, "properties", key="key", value="value")
    counts = keyed.group_by("key").aggregate(levels=keyed["value"].nunique())
    rows = counts.to_pyarrow().to_pylist()
    return tuple(
        sorted(
            row["key"]
            for row in rows
            if row["key"] is not None and 0 < int(row["levels"] or 0) <= max_levels
        )
    )


_PARTS: Final = ("kind", "a", "b", "c")
"""A token as columns until the very end: short strings group faster than their join."""


def _counted(table: ir.Table, key: str, kind: str, *parts: ir.Value) -> ir.Table:
    """Per window ``_j`` and token of ``kind`` made of ``parts`` (rows with a null part
    make none; strings, or a touchpoint's number): the customer-windows of ``table``
    (customers by ``key``) with it (``n``)
    and how many of them churned; the parts padded to the columns :data:`_PARTS` with
    nulls."""
    named = dict(zip(_PARTS[1:], parts, strict=False))
    table = table.select(key, "_j", "label", **named)
    for name in named:
        table = table.filter(table[name].notnull())
    # A customer-window has one label: it goes along in the key.
    distinct = table.distinct()
    counted = distinct.group_by(["_j", *named]).aggregate(
        n=distinct.count(), churned=distinct["label"].cast("int64").sum()
    )
    return counted.select(
        kind=ibis.literal(kind, type="string"),
        **{name: counted[name] if name in named else ibis.null("string") for name in _PARTS[1:]},
        _j="_j",
        n="n",
        churned="churned",
    )


def _with_next(events: ir.Table) -> ir.Table:
    if "next_event" in events.columns and "next_ts" in events.columns:
        return events
    events = with_positions(events)
    window = ibis.window(group_by=events["customer_id"], order_by=events["idx"])
    return events.mutate(
        next_event=events["event"].lead().over(window), next_ts=events["ts"].lead().over(window)
    )


def exposure_counts(
    events: ir.Table,
    outcome: Outcome,
    *,
    first: dt.datetime,
    every: dt.timedelta,
    windows: int,
    properties: Sequence[str],
    journey: Journey | None,
    pairs: bool,
) -> list[dict[str, Any]]:
    """Per trigger token and window ``j``: the customers exposed (``n``) and how many of
    them churned; the :data:`ANY` token's rows are each window's population. One query.

    Every event in the windows is matched once with its customer's row of the window it
    falls in (the population, the label and when they left) and kept when before they
    left; only those events become tokens (a pair when its second event does), each
    customer-window counted once per token."""
    spans = [(first + j * every, first + (j + 1) * every) for j in range(windows)]
    # Customers by the store's integer number when the events have it: the population is
    # joined to millions of events and every kind of token de-duplicated per customer.
    key = customer_column(events)
    panel = outcome.panel(events, [(e, s + outcome.window) for e, s in spans], journey, key=key)
    panel = panel.select(
        p_customer=panel[key], p_j=panel["j"], label=panel["label"], stop_at="stop_at"
    )
    start, stop = first, first + windows * every
    step = int(every.total_seconds())
    offset = (first - _EPOCH) // dt.timedelta(seconds=1)

    def cut(table: ir.Table, ts: str) -> ir.Table:
        """``table``'s rows in the windows, with their customer-window's ``j`` and
        ``label``, in the population and before the customer left."""
        table = table.filter((table[ts] >= start) & (table[ts] < stop))
        table = table.mutate(_j=((_seconds(table[ts]) - offset) // step).cast("int64"))
        joined = table.join(
            panel,
            [table[key] == panel["p_customer"], table["_j"] == panel["p_j"]],
        )
        return joined.filter(joined["stop_at"].isnull() | (joined[ts] < joined["stop_at"]))

    # Only the columns the tokens need go on (the joined rows are read by every kind of
    # token below).
    own = cut(events, "ts")
    own = own.select(key, "_j", "label", "event", *(["properties"] if properties else []))
    labelled: ir.Table = own
    touchpoints: tuple[str, ...] = ()
    if journey is not None:
        # The map's labels after the join (its rules then run on the events in the
        # population only), by number (the ids they stand for put back in the small
        # result): label_events' ids, computed as the features compute them, mostly by a
        # lookup on name and channel instead of the flat CASE of every rule. Only the
        # tokens that need them read them.
        labelled, touchpoints = event_labels(journey, cut(events, "ts"))
    # The customer-windows' distinct (event, touchpoint) pairs, computed once (the join
    # and the labels evaluated once) and kept: the population, event and touchpoint
    # tokens are each a narrow de-duplication of it, counted per token and window.
    pairs_seen = labelled.select(
        key, "_j", "label", "event", *(["touchpoint"] if journey is not None else [])
    ).distinct()
    others = []
    if properties:
        # The entries each event has (a few), not a lookup per chosen key.
        keyed = map_entries(own, "properties", key, "_j", "label", "event")
        keyed = keyed.filter(keyed["_key"].isin(list(properties)))
        others.append(
            _counted(keyed, key, "property", keyed["event"], keyed["_key"], keyed["_value"])
        )
    if pairs:
        following = _with_next(events)
        following = cut(following.filter(following["next_event"].notnull()), "next_ts")
        others.append(
            _counted(following, key, "sequence", following["event"], following["next_event"])
        )
    rows = []
    with kept_table(pairs_seen) as seen:
        counts = [_counted(seen, key, ANY), _counted(seen, key, "event", seen["event"])]
        if journey is not None:
            counts.append(_counted(seen, key, "touchpoint", seen["touchpoint"]))
        # One query per kind of trigger, not one union of them: at 100M events the union
        # held every kind's hash tables at once and took the process past 8 GB (as the KPI
        # board's parts did); apart, each is bounded by the engine's memory limit.
        for counted in [*counts, *others]:
            for row in counted.to_pyarrow().to_pylist():  # a few per trigger and window
                if row["kind"] == "touchpoint":
                    row["a"] = touchpoints[row["a"]]
                token = SEPARATOR.join(row[name] for name in _PARTS if row[name] is not None)
                rows.append(
                    {"token": token, "j": row["_j"], "n": row["n"], "churned": row["churned"]}
                )
    return rows


def describe_token(token: str, touchpoint_names: dict[str, str]) -> tuple[str, str]:
    """The kind of a token and its label for people.

    >>> describe_token(SEPARATOR.join(["property", "support_ticket", "reason", "follow_up"]), {})
    ('property', 'support_ticket · reason=follow_up')
    >>> describe_token(SEPARATOR.join(["sequence", "a", "b"]), {})
    ('sequence', 'a → b')
    """
    kind, *parts = token.split(SEPARATOR)
    if kind == "property":
        event, key, value = parts
        return kind, f"{event} · {key}={value}"
    if kind == "sequence":
        return kind, " → ".join(parts)
    if kind == "touchpoint":
        return kind, touchpoint_names.get(parts[0], parts[0])
    return kind, parts[0]
