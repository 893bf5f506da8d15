"""What part of an event log an analysis measures: a period, channels, a segment.

:class:`EventScope` says it; :func:`scope_events` applies it to an events table, the same
way for the web dashboards, the CLI (``--period``, ``--segment``, ``--only-channel``),
the living map and the report:

- the period keeps events whose ``ts`` falls on its days (UTC, both ends included);
- channels keep events of those channels;
- the segment keeps the customers having at least one event anywhere in the log that
  matches a rule of :mod:`jornada.events.rules` (compiled to Ibis, never SQL), with all
  their events (then cut to the period and channels).

When events are dropped from a customer's path (period, channels), the facts describing
the path (``idx``, ``next_event``, ``next_ts``, ``session_idx``, ``session_last``,
``session_start``, ``session_next_ts``: see :mod:`jornada.engine.store`; ``first_pair`` is
dropped) are recomputed on the events kept, so
paths and transitions describe the scoped log. :func:`parse_period`
reads the period syntax of the CLI.

>>> scope = EventScope(*parse_period("2026-Q1"), channels=("web",), segment="channel = 'app'")
>>> str(scope)
"2026-01-01..2026-03-31, channels web, customers with an event matching channel = 'app'"
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Final

import ibis
import ibis.expr.types as ir

from jornada.errors import JornadaError
from jornada.events.rules import compile_rule, parse_rule

__all__ = [
    "PERIOD_SYNTAX",
    "EventScope",
    "ScopeError",
    "customer_column",
    "parse_period",
    "scope_events",
]

PERIOD_SYNTAX: Final = (
    "2026-01-01..2026-03-31 (both days included), 2026-01-01.., ..2026-03-31, "
    "a month 2026-03, a quarter 2026-Q1 or a year 2026"
)


class ScopeError(JornadaError, ValueError):
    """A period or scope that cannot be read or holds no day."""


@dataclass(frozen=True)
class EventScope:
    """The events an analysis measures (see the module); the default keeps them all.

    Channels are kept sorted and unique; the segment rule is checked when the scope is
    made (a :class:`~jornada.events.rules.RuleError` for a bad rule).

    >>> EventScope(dt.date(2026, 3, 1), channels=("web", "app", "web")).to_dict()
    {'from': '2026-03-01', 'to': None, 'channels': ['app', 'web'], 'segment': None}
    >>> EventScope().everything
    True
    """

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    channels: tuple[str, ...] = ()
    segment: str | None = None

    def __post_init__(self) -> None:
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise ScopeError(
                f"the period ends ({self.date_to.isoformat()}) before it starts "
                f"({self.date_from.isoformat()})"
            )
        # Normalised so that equal scopes compare (and cache) equal.
        object.__setattr__(self, "channels", tuple(sorted({c for c in self.channels if c})))
        segment = self.segment.strip() if self.segment else ""
        object.__setattr__(self, "segment", segment or None)
        if self.segment:
            parse_rule(self.segment)

    @property
    def everything(self) -> bool:
        """True when the scope keeps every event."""
        return not (self.date_from or self.date_to or self.channels or self.segment)

    @property
    def drops_events(self) -> bool:
        """True when events may be dropped from a kept customer's path (period, channels);
        a segment keeps or drops whole customers."""
        return bool(self.date_from or self.date_to or self.channels)

    @property
    def period(self) -> str | None:
        """The period in the syntax :func:`parse_period` reads (None: all time)."""
        if not (self.date_from or self.date_to):
            return None
        start = self.date_from.isoformat() if self.date_from else ""
        end = self.date_to.isoformat() if self.date_to else ""
        return f"{start}..{end}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "channels": list(self.channels),
            "segment": self.segment,
        }

    def __str__(self) -> str:
        parts = [self.period] if self.period else []
        if self.channels:
            parts.append(f"channels {', '.join(self.channels)}")
        if self.segment:
            parts.append(f"customers with an event matching {self.segment}")
        return ", ".join(parts) or "all events"


def scope_events(events: ir.Table, scope: EventScope) -> ir.Table:
    """``events`` cut to ``scope`` (see the module); ``events`` itself when it keeps all.

    >>> import ibis
    >>> from jornada.events.schema import EVENT_COLUMNS
    >>> events = ibis.table(EVENT_COLUMNS, name="events")
    >>> scope_events(events, EventScope()) is events
    True
    """
    table = events
    if scope.date_from is not None:
        start = dt.datetime.combine(scope.date_from, dt.time())
        table = table.filter(table.ts >= ibis.literal(start))
    if scope.date_to is not None:
        end = dt.datetime.combine(scope.date_to + dt.timedelta(days=1), dt.time())
        table = table.filter(table.ts < ibis.literal(end))
    if scope.channels:
        table = table.filter(table.channel.isin([ibis.literal(c) for c in scope.channels]))
    if scope.segment:
        # Members are found on the whole log: a segment is who the customers are, not
        # what they did within the period.
        members = events.filter(compile_rule(scope.segment, events)).select("customer_id")
        table = table.semi_join(members.distinct(), "customer_id")
    if scope.drops_events:
        # As the store numbers them (engine.store): a session is the customer's events
        # sharing its id, wherever they fall in the path (decision 0006).
        path = ibis.window(group_by=table.customer_id, order_by=[table.ts, table.seq])
        table = table.mutate(
            idx=ibis.row_number().over(path),
            next_event=table.event.lead().over(path),
            next_ts=table.ts.lead().over(path),
        )
        session = ibis.window(group_by=[table.customer_id, table.session_id], order_by=table.idx)
        following = table.ts.lead().over(session)
        table = table.mutate(
            session_idx=ibis.row_number().over(session),
            session_last=following.isnull(),
            session_start=table.idx.min().over(group_by=[table.customer_id, table.session_id]),
            session_next_ts=following,
        )
        if "first_pair" in table.columns:
            # Not recomputed: its window of its own (by customer and pair) cost every
            # scoped analysis 40% more at 10M events, read or not (DuckDB computes unused
            # window columns). Transitions count distinct paths without it.
            table = table.drop("first_pair")
    return table


# --- the period syntax -----------------------------------------------------------------------

_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-[Qq]([1-4])")
_YEAR = re.compile(r"(\d{4})")


def _days(text: str, whole: str) -> tuple[dt.date, dt.date]:
    """The first and last day of one calendar unit: a day, month, quarter or year."""
    try:
        if match := _DAY.fullmatch(text):
            day = dt.date(*map(int, match.groups()))
            return day, day
        if match := _MONTH.fullmatch(text):
            year, month = map(int, match.groups())
            last = calendar.monthrange(year, month)[1] if 1 <= month <= 12 else 0
            return dt.date(year, month, 1), dt.date(year, month, last)
        if match := _QUARTER.fullmatch(text):
            year, quarter = map(int, match.groups())
            first = 3 * quarter - 2
            last = calendar.monthrange(year, first + 2)[1]
            return dt.date(year, first, 1), dt.date(year, first + 2, last)
        if match := _YEAR.fullmatch(text):
            year = int(match.group(1))
            return dt.date(year, 1, 1), dt.date(year, 12, 31)
    except ValueError as error:
        where = "" if text == whole else f" in period {whole!r}"
        raise ScopeError(f"{text!r}{where} is not a date: {error}") from None
    raise ScopeError(f"cannot read period {whole!r}: write {PERIOD_SYNTAX}")


def parse_period(text: str) -> tuple[dt.date | None, dt.date | None]:
    """The first and last day (UTC, both included; None: open) of a period.

    A range ``START..END`` (either end may be left out) or one day, month, quarter or
    year; each end of a range may itself be a month, quarter or year (its first day as
    start, its last day as end).

    >>> parse_period("2026-01-01..2026-03-31")
    (datetime.date(2026, 1, 1), datetime.date(2026, 3, 31))
    >>> parse_period("2026-02"), parse_period("..2026-Q1")
    ((datetime.date(2026, 2, 1), datetime.date(2026, 2, 28)), (None, datetime.date(2026, 3, 31)))
    >>> parse_period("2026-13")
    Traceback (most recent call last):
    ...
    jornada.events.filters.ScopeError: '2026-13' is not a date: month must be in 1..12
    """
    whole = text.strip()
    if ".." not in whole:
        if not whole:
            raise ScopeError(f"the period is empty: write {PERIOD_SYNTAX}")
        return _days(whole, whole)
    start_text, _, end_text = (part.strip() for part in whole.partition(".."))
    if not start_text and not end_text:
        raise ScopeError(f"period {whole!r} has neither start nor end: write {PERIOD_SYNTAX}")
    start = _days(start_text, whole)[0] if start_text else None
    end = _days(end_text, whole)[1] if end_text else None
    if start and end and end < start:
        raise ScopeError(
            f"period {whole!r} ends ({end.isoformat()}) before it starts ({start.isoformat()})"
        )
    return start, end


def customer_column(events: ir.Table) -> str:
    """The column to group and join ``events`` by customer on: the store's ``customer_no``
    (a small integer, one per customer) when the table has it, else ``customer_id``.

    Grouping, joining and sorting on an integer costs less than on long text ids (e-mail
    addresses); both name the same customers one to one, so every count is the same. A
    ``customer_no`` that is not an integer is someone else's column, not the store's.

    >>> customer_column(ibis.table({"customer_id": "string", "customer_no": "int32"}))
    'customer_no'
    >>> customer_column(ibis.table({"customer_id": "string", "customer_no": "string"}))
    'customer_id'
    >>> customer_column(ibis.table({"customer_id": "string"}))
    'customer_id'
    """
    numbered = "customer_no" in events.columns and events.schema()["customer_no"].is_integer()
    return "customer_no" if numbered else "customer_id"
