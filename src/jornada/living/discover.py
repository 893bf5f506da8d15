"""A first journey map drawn from event data alone, for a team to start from.

* **Touchpoints**: the ``touchpoints`` event names reaching the most customers (ties:
  more events, then the name), one touchpoint each, bound by name (``events: names:
  [EVENT]``) so the draft binds at once; its channel is the event's most common one
  (ties: the first by name), and its evidence ``measured``.
* **Position**: where an event typically enters a customer's path. The events of a
  customer with n ≥ 2 events sit at normalised positions ``idx / (n - 1)`` (0 the
  first, 1 the last; ``idx`` the order by time, then load order). An event's position is
  the median, over the customers who had it (and at least two events), of the position
  of their *first* such event (linear interpolation between the middle values, as
  numpy's median). An event only single-event customers had sits at 0.5.
* **Stages**: the touchpoints sorted by position (ties: more customers first, then the
  name) are cut into ``stages`` consecutive groups with the least total squared
  distance of positions to their group's mean (the optimal one-dimensional grouping,
  found exactly by dynamic programming: Fisher's "natural breaks"). Stages are named
  after their most common touchpoint; within a stage touchpoints come by customers.

Counting and medians run in the engine (three aggregate queries); only the grouping of
a few dozen numbers runs in Python.

>>> from jornada.engine import Engine
>>> engine = Engine.duckdb()
>>> events = engine.con.sql("select * from (values "
...     "('a', 0, 'ad_click', 'social'), ('a', 1, 'purchase', 'web'), ('a', 2, 'delivered', 'carrier'),"
...     "('b', 0, 'ad_click', 'social'), ('b', 1, 'purchase', 'app')"
...     ") t(customer_id, idx, event, channel)")
>>> draft = discover_map(events, stages=2)
>>> [[tp.id for tp in stage.touchpoints] for stage in draft.journey.stages]
[['ad_click'], ['purchase', 'delivered']]
>>> draft.touchpoint("purchase").position
0.75
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import ibis
import ibis.expr.types as ir
import pandas as pd
import plotly.graph_objects as go

from jornada.analytics.results import AnalysisResult, json_ready
from jornada.analytics.segments import with_positions
from jornada.errors import JornadaError
from jornada.i18n import translate
from jornada.model import EventBinding, Journey, Language, Stage, Touchpoint
from jornada.model.io import dumps_journey, journey_to_data
from jornada.model.validation import parse_journey_text

__all__ = [
    "DEFAULT_STAGES",
    "DEFAULT_TOUCHPOINTS",
    "DiscoverError",
    "DiscoveredMap",
    "DiscoveredTouchpoint",
    "discover_map",
    "natural_breaks",
]

DEFAULT_STAGES: Final = 5
DEFAULT_TOUCHPOINTS: Final = 20
SINGLE_EVENT_POSITION: Final = 0.5


class DiscoverError(JornadaError):
    """No map can be drawn (no events, or a bad number of stages or touchpoints)."""


# --- grouping -------------------------------------------------------------------------


def natural_breaks(values: Sequence[float], groups: int) -> list[int]:
    """Cut sorted ``values`` into ``groups`` consecutive groups (at most ``len(values)``)
    with the least sum of squared distances to the group means; returns the size of each
    group. Ties between equally good cuts go to the earliest cut.

    >>> natural_breaks([0.0, 0.1, 0.12, 0.5, 0.55, 0.9], 3)
    [3, 2, 1]
    >>> natural_breaks([0.3], 4)
    [1]
    """
    n = len(values)
    groups = min(groups, n)
    if groups <= 0:
        return []
    prefix = [0.0]
    squares = [0.0]
    for value in values:
        prefix.append(prefix[-1] + value)
        squares.append(squares[-1] + value * value)

    def cost(i: int, j: int) -> float:  # values[i:j]
        total = prefix[j] - prefix[i]
        return squares[j] - squares[i] - total * total / (j - i)

    # best[g][j]: least cost of the first j values in g groups; cut[g][j]: start of the last
    best = [[math.inf] * (n + 1) for _ in range(groups + 1)]
    cut = [[0] * (n + 1) for _ in range(groups + 1)]
    best[0][0] = 0.0
    for g in range(1, groups + 1):
        for j in range(g, n + 1):
            for i in range(g - 1, j):
                candidate = best[g - 1][i] + cost(i, j)
                # A small tolerance: float noise must not move a cut between equal ones.
                if candidate < best[g][j] - 1e-12:
                    best[g][j] = candidate
                    cut[g][j] = i
    sizes: list[int] = []
    j = n
    for g in range(groups, 0, -1):
        i = cut[g][j]
        sizes.append(j - i)
        j = i
    return sizes[::-1]


# --- results --------------------------------------------------------------------------


@dataclass(frozen=True)
class DiscoveredTouchpoint:
    """One event made a touchpoint: where it sits, how many customers and events it has,
    and its channels (``channels``: (channel, events), most events first)."""

    event: str
    touchpoint_id: str
    stage_id: str
    channel: str | None
    customers: int
    events: int
    position: float
    channels: tuple[tuple[str | None, int], ...]

    def to_dict(self) -> dict[str, Any]:
        ready: dict[str, Any] = json_ready(
            {
                "event": self.event,
                "touchpoint_id": self.touchpoint_id,
                "stage_id": self.stage_id,
                "channel": self.channel,
                "customers": self.customers,
                "events": self.events,
                "position": self.position,
                "channels": [{"channel": c, "events": n} for c, n in self.channels],
            }
        )
        return ready


@dataclass(frozen=True)
class DiscoveredMap(AnalysisResult):
    """A draft map (``journey``, valid and bound by event names) and the figures it was
    drawn from: ``customers`` and ``events`` in the data, and each touchpoint's."""

    journey: Journey
    customers: int
    events: int
    touchpoints: tuple[DiscoveredTouchpoint, ...]

    def touchpoint(self, event: str) -> DiscoveredTouchpoint:
        """The touchpoint made of one event name."""
        return next(t for t in self.touchpoints if t.event == event)

    def yaml(self) -> str:
        """The draft as map-file text (the model's stable YAML)."""
        return dumps_journey(self.journey)

    def to_frame(self) -> pd.DataFrame:
        """One row per touchpoint, stage by stage."""
        columns = [
            "stage_id",
            "touchpoint_id",
            "event",
            "channel",
            "customers",
            "reach",
            "events",
            "position",
        ]
        rows = [
            {
                **t.to_dict(),
                "reach": t.customers / self.customers if self.customers else math.nan,
            }
            for t in self.touchpoints
        ]
        return pd.DataFrame(rows, columns=columns).astype({"reach": "float64"})

    def to_dict(self) -> dict[str, Any]:
        return {
            "customers": self.customers,
            "events": self.events,
            "touchpoints": [t.to_dict() for t in self.touchpoints],
            "map": journey_to_data(self.journey),
        }

    def chart(self) -> go.Figure:
        """Touchpoints by typical position (x) and customers (y), one colour per stage."""
        names = {stage.id: stage.name for stage in self.journey.stages}
        traces = []
        for stage in self.journey.stages:
            mine = [t for t in self.touchpoints if t.stage_id == stage.id]
            traces.append(
                go.Scatter(
                    name=names[stage.id],
                    x=[t.position for t in mine],
                    y=[t.customers for t in mine],
                    text=[t.event for t in mine],
                    mode="markers+text",
                    textposition="top center",
                )
            )
        figure = go.Figure(traces)
        figure.update_layout(
            title="Touchpoints discovered from the data",
            xaxis={"title": "typical position in the customer's path (0 first, 1 last)"},
            yaxis={"title": "customers"},
        )
        return figure


# --- discovering ----------------------------------------------------------------------

_NOT_ID: Final = re.compile(r"[^A-Za-z0-9_.-]+")


def _identifier(text: str, taken: set[str]) -> str:
    """A map id for an event name (ASCII letters, digits, ``_.-``; unique)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    base = _NOT_ID.sub("_", ascii_text).strip("_.-")[:60] or "event"
    if not base[0].isalnum():
        base = f"e{base}"[:60]
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}_{n}", n + 1
    taken.add(candidate)
    return candidate


def _title(event: str) -> str:
    """``add_to_cart`` as ``Add to cart``: a readable name for a touchpoint."""
    words = re.sub(r"[_\-.]+", " ", event).strip()
    return (words[:1].upper() + words[1:]) if words else event


def _rows(expr: ir.Table) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = expr.to_pyarrow().to_pylist()
    return rows


def discover_map(
    events: ir.Table,
    *,
    stages: int = DEFAULT_STAGES,
    touchpoints: int = DEFAULT_TOUCHPOINTS,
    language: Language = "en",
    journey_id: str = "discovered",
    title: str | None = None,
) -> DiscoveredMap:
    """Draw a first map from ``events`` (see the module): ``touchpoints`` of the most
    common events in ``stages`` stages ordered by typical position. Labels are in
    ``language``; the result's ``journey`` is validated like a map file."""
    if stages < 1:
        raise DiscoverError(f"a map needs at least 1 stage, not {stages}")
    if touchpoints < 1:
        raise DiscoverError(f"a map needs at least 1 touchpoint, not {touchpoints}")
    events = with_positions(events)
    length = events["idx"].count().over(ibis.window(group_by=events["customer_id"]))
    placed = events.select(
        "customer_id",
        "event",
        channel=events["channel"] if "channel" in events.columns else ibis.null("string"),
        idx=events["idx"],
        length=length,
    )
    placed = placed.filter(placed["event"].notnull())

    [totals] = _rows(
        placed.aggregate(customers=placed["customer_id"].nunique(), events=placed.count())
    )
    counts = placed.group_by("event").aggregate(
        customers=placed["customer_id"].nunique(), events=placed.count()
    )
    top = _rows(
        counts.order_by([ibis.desc("customers"), ibis.desc("events"), ibis.asc("event")]).limit(
            touchpoints
        )
    )
    if not top:
        raise DiscoverError("there are no events to draw a map from")
    names = [row["event"] for row in top]

    chosen = placed.filter(placed["event"].isin(names))
    firsts = (
        chosen.filter(chosen["length"] > 1)
        .group_by(["customer_id", "event"])
        .aggregate(
            # cast before dividing: Spark would otherwise divide decimals, rounded
            position=(
                ibis._["idx"].min().cast("float64") / (ibis._["length"].max() - 1).cast("float64")
            )
        )
    )
    medians = {
        row["event"]: row["position"]
        for row in _rows(
            firsts.group_by("event").aggregate(position=firsts["position"].quantile(0.5))
        )
    }
    channel_rows = _rows(
        chosen.group_by(["event", "channel"])
        .aggregate(events=chosen.count())
        .order_by(["event", ibis.desc("events"), ibis.asc("channel", nulls_first=False)])
    )
    channels: dict[str, list[tuple[str | None, int]]] = {}
    for row in channel_rows:
        channels.setdefault(row["event"], []).append((row["channel"], int(row["events"])))

    ranked = sorted(
        top,
        key=lambda row: (
            medians.get(row["event"], SINGLE_EVENT_POSITION),
            -row["customers"],
            row["event"],
        ),
    )
    positions = [float(medians.get(row["event"], SINGLE_EVENT_POSITION)) for row in ranked]
    sizes = natural_breaks(positions, stages)

    taken: set[str] = set()
    stage_word = translate("stage.title", language)
    built: list[Stage] = []
    found: list[DiscoveredTouchpoint] = []
    start = 0
    for number, size in enumerate(sizes, start=1):
        group = sorted(
            ranked[start : start + size], key=lambda row: (-row["customers"], row["event"])
        )
        start += size
        stage_id = f"stage_{number}"
        members: list[Touchpoint] = []
        for row in group:
            event = row["event"]
            touchpoint_id = _identifier(event, taken)
            by_channel = tuple(channels.get(event, []))
            channel = next((c for c, _ in by_channel if c is not None), None)
            members.append(
                Touchpoint(
                    id=touchpoint_id,
                    name=_title(event),
                    channel=channel,
                    evidence="measured",
                    events=EventBinding(names=[event]),
                )
            )
            found.append(
                DiscoveredTouchpoint(
                    event=event,
                    touchpoint_id=touchpoint_id,
                    stage_id=stage_id,
                    channel=channel,
                    customers=int(row["customers"]),
                    events=int(row["events"]),
                    position=float(medians.get(event, SINGLE_EVENT_POSITION)),
                    channels=by_channel,
                )
            )
        built.append(
            Stage(
                id=stage_id,
                name=f"{stage_word} {number}: {members[0].name}",
                touchpoints=members,
            )
        )
    journey = Journey(
        id=journey_id,
        title=title or translate("map.kind.journey", language),
        language=language,
        status="draft",
        tags=["discovered"],
        stages=built,
    )
    # The draft must be a valid map file: checked as one, from its own text.
    checked = parse_journey_text(dumps_journey(journey), source=f"{journey_id}.yaml")
    return DiscoveredMap(
        journey=checked,
        customers=int(totals["customers"] or 0),
        events=int(totals["events"] or 0),
        touchpoints=tuple(found),
    )
