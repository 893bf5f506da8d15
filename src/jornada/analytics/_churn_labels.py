"""Who churned (or bought) after a cutoff: the outcomes the churn and propensity models
learn, as engine expressions. See :mod:`jornada.analytics.churn` for the definitions.

An outcome gives a *panel*: for a list of windows ``(start, end)``, one row per customer in
the population at ``start`` with ``label`` (the outcome happened by ``end``) and ``stop_at``
(when the customer left for good, for exposure rules: only what happened before it counts).
The panel is one aggregation per customer with a conditional aggregate per distinct time,
crossed with the (few) windows: no join with the events, no loop over them.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import ibis
import ibis.expr.types as ir

from jornada.analytics.features import utc_naive
from jornada.analytics.funnel import parse_window
from jornada.analytics.steps import resolve_step
from jornada.errors import JornadaError
from jornada.events.rules import compile_rule
from jornada.events.schema import EVENT_FIELDS
from jornada.model import Journey

__all__ = [
    "DEFAULT_INACTIVE_DAYS",
    "ChurnDefinition",
    "ChurnError",
    "Outcome",
    "PurchaseTarget",
    "where_condition",
]

DEFAULT_INACTIVE_DAYS: Final = 60
Window = tuple[dt.datetime, dt.datetime]


class ChurnError(JornadaError):
    """A churn or propensity analysis that cannot run as asked (definition, data, window)."""


def _window_seconds(text: str | float, what: str) -> float:
    seconds = parse_window(text)
    if seconds is None or seconds <= 0:
        raise ChurnError(f"the {what} must be a positive duration such as 30d, not {text!r}")
    return seconds


def _any_of(texts: Sequence[str], events: ir.Table, journey: Journey | None) -> ir.BooleanValue:
    conditions = [resolve_step(t, events, journey).condition.fill_null(False) for t in texts]
    return functools.reduce(operator.or_, conditions)


def _windows_table(windows: Sequence[Window]) -> ir.Table:
    return ibis.memtable(
        {
            "j": list(range(len(windows))),
            "w_start": [start for start, _ in windows],
            "w_end": [end for _, end in windows],
        },
        schema={"j": "int64", "w_start": "timestamp", "w_end": "timestamp"},
    )


def _pick(j: ir.IntegerValue, values: Sequence[ir.Value], type_: str) -> ir.Value:
    """``values[j]`` for a column ``j``: a CASE over the (few) windows."""
    if len(values) == 1:
        return values[0]
    return ibis.cases(*((j == k, v) for k, v in enumerate(values)), else_=ibis.null(type_))


class Outcome(ABC):
    """What a model predicts for each customer of a population, after a cutoff."""

    @property
    @abstractmethod
    def window(self) -> dt.timedelta:
        """How far after the cutoff the outcome is looked for."""

    @abstractmethod
    def describe(self) -> str:
        """The outcome in a sentence, for people."""

    @abstractmethod
    def panel(
        self,
        events: ir.Table,
        windows: Sequence[Window],
        journey: Journey | None = None,
        *,
        key: str = "customer_id",
    ) -> ir.Table:
        """``customer_id``, ``j`` (the window's index), ``label`` and ``stop_at``, one row
        per window and customer in its population at the window's start. ``key``: the
        column customers are grouped by and named by (the store's integer ``customer_no``
        is cheaper to group and join on)."""


@dataclass(frozen=True)
class ChurnDefinition(Outcome):
    """When a customer has churned: after ``inactive_days`` without activity, or at a
    cancellation (any of the ``cancel`` steps: event names, touchpoint or stage ids, rules),
    whichever comes first. ``activity`` is the step that counts as activity (default: any
    event). ``window_days`` is how far after a cutoff churn is looked for (default: the
    inactivity period, or 60 days with cancellations only).

    With neither inactivity nor cancellations given, churn is 60 days without activity.

    >>> ChurnDefinition().describe()
    'no activity for 60 days; churned within 60 days of the cutoff'
    >>> ChurnDefinition(cancel=("account_closed",), window_days=30).describe()
    'a cancellation (account_closed); churned within 30 days of the cutoff'
    """

    inactive_days: float | None = None
    cancel: tuple[str, ...] = ()
    activity: str | None = None
    window_days: float | None = None

    def __post_init__(self) -> None:
        if self.inactive_days is None and not self.cancel:
            object.__setattr__(self, "inactive_days", float(DEFAULT_INACTIVE_DAYS))
        if self.inactive_days is not None and self.inactive_days <= 0:
            raise ChurnError(f"inactive days must be positive, not {self.inactive_days}")
        if self.window_days is not None and self.window_days <= 0:
            raise ChurnError(f"the window must be positive, not {self.window_days} days")
        object.__setattr__(self, "cancel", tuple(self.cancel))

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None, **overrides: Any) -> ChurnDefinition:
        """A definition from a workspace's ``[churn]`` settings (``inactive_days``,
        ``cancel``, ``activity``, ``window``), with the given (non-None) overrides.

        >>> ChurnDefinition.from_settings({"cancel": ["account_closed"], "window": "30d"},
        ...                               inactive_days=None).window_days
        30.0
        """
        values: dict[str, Any] = {}
        for key, value in dict(settings or {}).items():
            if key == "window":
                values["window_days"] = _window_seconds(value, "churn window") / 86_400
            elif key in ("inactive_days", "activity"):
                values[key] = value
            elif key == "cancel":
                values[key] = (value,) if isinstance(value, str) else tuple(value)
            else:
                raise ChurnError(
                    f"unknown key {key!r} in the [churn] settings of jornada.toml: use "
                    "inactive_days, cancel, activity or window"
                )
        for key, value in overrides.items():
            if value is not None and value != ():
                values[key] = tuple(value) if key == "cancel" else value
        return cls(**values)

    @property
    def window(self) -> dt.timedelta:
        days = self.window_days
        if days is None:
            days = self.inactive_days if self.inactive_days is not None else DEFAULT_INACTIVE_DAYS
        return dt.timedelta(days=days)

    def _days(self, value: float) -> str:
        return f"{value:g} days"

    def describe(self) -> str:
        parts = []
        if self.inactive_days is not None:
            what = "activity" if self.activity is None else f"activity ({self.activity})"
            parts.append(f"no {what} for {self._days(self.inactive_days)}")
        if self.cancel:
            parts.append(f"a cancellation ({', '.join(self.cancel)})")
        window = self._days(self.window / dt.timedelta(days=1))
        return f"{' or '.join(parts)}; churned within {window} of the cutoff"

    def _summary(
        self, events: ir.Table, times: Sequence[dt.datetime], journey: Journey | None, key: str
    ) -> tuple[ir.Table, dict[dt.datetime, str]]:
        """Per customer: ``first_active``, ``cancel_at`` and, with inactivity, a flag per
        time ``t``: activity in ``[t - inactive, t)``."""
        active = (
            resolve_step(self.activity, events, journey).condition.fill_null(False)
            if self.activity is not None
            else ibis.literal(True)
        )
        cancel = _any_of(self.cancel, events, journey) if self.cancel else None
        ts = events["ts"]
        metrics: dict[str, ir.Value] = {"first_active": ts.min(where=active)}
        metrics["cancel_at"] = (
            ts.min(where=cancel) if cancel is not None else ibis.null("timestamp")
        )
        flags: dict[dt.datetime, str] = {}
        if self.inactive_days is not None:
            span = dt.timedelta(days=self.inactive_days)
            for k, t in enumerate(sorted(set(times))):
                flags[t] = f"_active{k}"
                recent = active & (ts >= t - span) & (ts < t)
                metrics[flags[t]] = recent.cast("int64").max() == 1
        return events.group_by(key).aggregate(**metrics), flags

    def panel(
        self,
        events: ir.Table,
        windows: Sequence[Window],
        journey: Journey | None = None,
        *,
        key: str = "customer_id",
    ) -> ir.Table:
        """Alive at ``start``: active before it, not cancelled before it and (with
        inactivity) active within the inactivity period before it. Churned by ``end``:
        cancelled before ``end`` or without activity in the inactivity period before it."""
        windows = [(utc_naive(a), utc_naive(b)) for a, b in windows]
        summary, flags = self._summary(events, [t for w in windows for t in w], journey, key)
        crossed = summary.cross_join(_windows_table(windows))
        j, start, end = crossed["j"], crossed["w_start"], crossed["w_end"]
        cancel_at = crossed["cancel_at"]
        alive = (crossed["first_active"] < start) & (cancel_at.isnull() | (cancel_at >= start))
        churned = (cancel_at < end).fill_null(False)
        if flags:
            alive &= _pick(j, [crossed[flags[a]] for a, _ in windows], "boolean")
            churned |= ~_pick(j, [crossed[flags[b]] for _, b in windows], "boolean")
        marked = crossed.mutate(_alive=alive.fill_null(False), label=churned.fill_null(False))
        return marked.filter(marked["_alive"]).select(
            key, "j", "label", stop_at=marked["cancel_at"]
        )


def where_condition(text: str, events: ir.Table) -> ir.BooleanValue:
    """A filter written ``name=value`` (a property, or an event field such as ``channel``)
    or in the rule language (``properties.product_category = 'trail_shoes'``).

    >>> import ibis
    >>> events = ibis.table({"channel": "string", "properties": "map<string, string>"}, name="e")
    >>> where_condition("product_category=trail_shoes", events).type().is_boolean()
    True
    """
    name, equals, value = text.partition("=")
    name, value = name.strip(), value.strip()
    simple = equals and name.isidentifier() and value and not value.startswith("=")
    if simple and not any(c in value for c in "'\"<>!()"):
        if name in EVENT_FIELDS:
            numeric = events[name].type().is_numeric()
            text = f"{name} = {value}" if numeric else f"{name} = '{value}'"
        else:
            text = f"properties[\"{name}\"] = '{value}'"
    return compile_rule(text, events)


@dataclass(frozen=True)
class PurchaseTarget(Outcome):
    """A next ``target`` event (a step; with ``where``, only those matching it, e.g.
    ``product_category=trail_shoes``) within ``window_days`` of the cutoff. The population
    is every customer with an event before the cutoff (with ``population``, a step: those
    with such an event before it).

    >>> PurchaseTarget("purchase", where="product_category=trail_shoes").describe()
    'a purchase (product_category=trail_shoes) within 60 days of the cutoff'
    """

    target: str = "purchase"
    where: str | None = None
    population: str | None = None
    window_days: float = DEFAULT_INACTIVE_DAYS

    def __post_init__(self) -> None:
        if self.window_days <= 0:
            raise ChurnError(f"the window must be positive, not {self.window_days} days")

    @property
    def window(self) -> dt.timedelta:
        return dt.timedelta(days=self.window_days)

    def describe(self) -> str:
        where = f" ({self.where})" if self.where else ""
        days = f"{self.window_days:g} days"
        return f"a {self.target}{where} within {days} of the cutoff"

    def panel(
        self,
        events: ir.Table,
        windows: Sequence[Window],
        journey: Journey | None = None,
        *,
        key: str = "customer_id",
    ) -> ir.Table:
        windows = [(utc_naive(a), utc_naive(b)) for a, b in windows]
        target = resolve_step(self.target, events, journey).condition.fill_null(False)
        if self.where:
            target &= where_condition(self.where, events)
        member = (
            resolve_step(self.population, events, journey).condition.fill_null(False)
            if self.population is not None
            else ibis.literal(True)
        )
        ts = events["ts"]
        metrics: dict[str, ir.Value] = {"first_member": ts.min(where=member)}
        for k, (start, end) in enumerate(windows):
            hit = target & (ts >= start) & (ts < end)
            metrics[f"_hit{k}"] = hit.cast("int64").max() == 1
        summary = events.group_by(key).aggregate(**metrics)
        crossed = summary.cross_join(_windows_table(windows))
        hits = [crossed[f"_hit{k}"] for k in range(len(windows))]
        marked = crossed.mutate(
            _member=(crossed["first_member"] < crossed["w_start"]).fill_null(False),
            label=_pick(crossed["j"], hits, "boolean").fill_null(False),
        )
        return marked.filter(marked["_member"]).select(
            key, "j", "label", stop_at=ibis.null("timestamp")
        )
