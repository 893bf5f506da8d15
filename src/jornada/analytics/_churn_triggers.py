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
Every event becomes its tokens in one pass (an array unnested); they are bucketed into
windows arithmetically (no join with the windows) and counted per trigger and window.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any, Final

import ibis
import ibis.expr.types as ir

from jornada.analytics._churn_labels import Outcome
from jornada.analytics.segments import with_positions
from jornada.events.binding import label_events
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
    keyed = events.select(key=events["properties"].keys().unnest(), _map=events["properties"])
    keyed = keyed.mutate(value=keyed["_map"].get(keyed["key"]))
    counts = keyed.group_by("key").aggregate(levels=keyed["value"].nunique())
    rows = counts.to_pyarrow().to_pylist()
    return tuple(
        sorted(
            row["key"]
            for row in rows
            if row["key"] is not None and 0 < int(row["levels"] or 0) <= max_levels
        )
    )


def _token(*parts: ir.StringValue | str) -> ir.StringValue:
    values = [ibis.literal(p) if isinstance(p, str) else p for p in parts]
    return functools.reduce(lambda a, b: a + ibis.literal(SEPARATOR) + b, values)


def _with_next(events: ir.Table) -> ir.Table:
    if "next_event" in events.columns and "next_ts" in events.columns:
        return events
    events = with_positions(events)
    window = ibis.window(group_by=events["customer_id"], order_by=events["idx"])
    return events.mutate(
        next_event=events["event"].lead().over(window), next_ts=events["ts"].lead().over(window)
    )


def _tokens(
    events: ir.Table, properties: Sequence[str], journey: Journey | None, pairs: bool
) -> ir.Table:
    """``customer_id``, ``ts`` and ``token`` for every trigger every event is."""
    labelled = label_events(journey, events) if journey is not None else events
    event = labelled["event"]
    parts: list[ir.StringValue] = [ibis.literal(ANY), _token("event", event)]
    for key in properties:
        value = labelled["properties"].get(key)
        parts.append(
            ibis.cases((value.notnull(), _token("property", event, key, value)), else_=None)
        )
    if journey is not None:
        tp = labelled["touchpoint_id"]
        parts.append(ibis.cases((tp.notnull(), _token("touchpoint", tp)), else_=None))
    own = labelled.select("customer_id", "ts", token=ibis.array(parts).unnest())
    own = own.filter(own["token"].notnull())
    if not pairs:
        return own
    following = _with_next(events)
    following = following.filter(following["next_event"].notnull())
    sequences = following.select(
        "customer_id",
        ts=following["next_ts"],
        token=_token("sequence", following["event"], following["next_event"]),
    )
    return ibis.union(own, sequences)


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
    them churned; the :data:`ANY` token's rows are each window's population. One query."""
    spans = [(first + j * every, first + (j + 1) * every) for j in range(windows)]
    panel = outcome.panel(events, [(e, s + outcome.window) for e, s in spans], journey)

    tokens = _tokens(events, properties, journey, pairs)
    start, stop = first, first + windows * every
    tokens = tokens.filter((tokens["ts"] >= start) & (tokens["ts"] < stop))
    step = int(every.total_seconds())
    bucket = (_seconds(tokens["ts"]) - (first - _EPOCH) // dt.timedelta(seconds=1)) // step
    tokens = tokens.mutate(t_j=bucket.cast("int64"))
    firsts = tokens.group_by(["customer_id", "token", "t_j"]).aggregate(at=tokens["ts"].min())
    firsts = firsts.rename(t_customer="customer_id")
    joined = firsts.join(
        panel,
        [firsts["t_customer"] == panel["customer_id"], firsts["t_j"] == panel["j"]],
    )
    before_leaving = joined["stop_at"].isnull() | (joined["at"] < joined["stop_at"])
    joined = joined.filter(before_leaving)
    exposed = joined.group_by(["token", "j"]).aggregate(
        n=joined.count(), churned=joined["label"].cast("int64").sum()
    )
    rows: list[dict[str, Any]] = exposed.to_pyarrow().to_pylist()
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
