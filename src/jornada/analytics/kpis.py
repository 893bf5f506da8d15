"""KPIs of the catalogue computed from events (and a spend table), by scope and period,
with the status of a map's targets.

**Scopes.** A KPI is computed over the events of a scope: all events (``by=None``), each
``channel``, each ``campaign`` (``properties.campaign``), or each ``stage`` or
``touchpoint`` of a map, whose events are those its ``events:`` bindings match (so an
event may count in several scopes). Given a map and no ``by``, the result is the map's
*board*: every KPI a stage or touchpoint names, over that stage's or touchpoint's events,
with its target and status.

**Periods.** Calendar days, ISO weeks (from Monday), months, quarters or years, in UTC;
``period=None`` computes one value over the whole log. A target with its own ``period``
is computed by that period. Every period from the log's first event to its last gets a
row (the last one may be partial). Retention and churn compare a period with the one
before; with no period they are monthly rates pooled over the log's months.

**What counts.** Each KPI is ``numerator / denominator × scale`` over base measures (see
``measure:`` in the catalogue, :data:`jornada.analytics._kpi_measures.BASE_MEASURES`),
which count events by what they are. :data:`DEFAULT_COUNTS` says what counts as an
impression, a click, a purchase...; each can be replaced by an event name, a stage or
touchpoint id of the map, or a rule (``counts={"conversion": "sign_up"}``, CLI
``--count conversion=sign_up``). A zero denominator gives no value (not zero).

**Sessions.** Visits, bounce rate, pages per visit, session duration, time on page and
carts read sessions: a session is a customer's events sharing one ``session_id`` (the
source's ids honoured, as ``customers.sessions`` counts them), wherever they fall in the
path: an id that comes back after another session's events is still one session
(docs/decisions/0006-sessions.md). A visit is a session with a page view, placed (scope
and period) by its landing page view, its first; it bounces when no event of the session
follows that page view; it lasts from the session's first event to its last; a page
view's time runs to the session's next event.

**Spend.** Media spend is the ``cost`` of the scope's events plus the rows of an
optional spend table (:mod:`jornada.analytics._kpi_spend`) of the scope's channel (or
campaign; a stage or touchpoint is charged the rows of the channels its bindings name).
Cost per conversion and ROAS relate spend to the conversions and revenue of the
customers the scope *reached* (an event in the scope, then the conversion in the same
period); a stage or touchpoint with no spend of its own is charged the whole period's
spend (*blended*, noted on the row). Attribution of conversions to touches is
``jornada attribution``'s job.

**Status.** A KPI with a target is ``met`` when on the good side of it (``>=`` when
higher is better, ``<=`` when lower is), ``at_risk`` when on the wrong side by at most
``tolerance`` (10%) of the target, ``missed`` beyond that, and ``no_data`` when the value
cannot be computed. The target's ``direction`` overrides the catalogue's.

>>> import datetime as dt, ibis
>>> t = dt.datetime(2026, 3, 2, 9)
>>> events = ibis.memtable({
...     "customer_id": ["a", "a", "b"], "ts": [t, t + dt.timedelta(minutes=1), t],
...     "event": ["ad_impression", "ad_click", "ad_impression"], "channel": ["social"] * 3,
...     "idx": [0, 1, 0], "session_id": ["a1", "a1", "b1"], "session_idx": [0, 1, 0],
...     "next_ts": [t + dt.timedelta(minutes=1), None, None], "value": [None] * 3,
...     "cost": [0.5, 1.0, 0.5], "score": [None] * 3, "text": [None] * 3,
... }).mutate(properties=ibis.map({"k": "v"}))
>>> result = kpis(events, only=["impressions", "ctr", "cpc"])
>>> [(row.kpi, row.value) for row in result.rows]
[('impressions', 2.0), ('ctr', 0.5), ('cpc', 2.0)]
>>> kpi_status(0.019, 0.02, "higher"), kpi_status(1.2, 0.8, "lower")
('at_risk', 'missed')
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal

import ibis.expr.types as ir
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from rich.table import Table

from jornada.analytics._kpi_measures import (
    BASE_MEASURES,
    ROLES,
    TOTAL,
    FixedScope,
    KpiPeriod,
    MeasureTable,
    ScopeKind,
    compute_measures,
    period_start,
)
from jornada.analytics._kpi_spend import KpiError, SpendInput, read_spend
from jornada.analytics.results import AnalysisResult, json_ready
from jornada.analytics.steps import resolve_step
from jornada.analytics.timing import format_duration
from jornada.engine.kept import StoreMode
from jornada.events.binding import binding_filter, stage_filter
from jornada.i18n import translate
from jornada.model import Journey, Language, Stage, Touchpoint
from jornada.model.catalogue import CatalogueKpi, kpi_catalogue
from jornada.model.kpi import Direction, KpiTarget

__all__ = [
    "BASE_MEASURES",
    "BY",
    "DEFAULT_COUNTS",
    "DEFAULT_TOLERANCE",
    "PERIODS",
    "STATUSES",
    "By",
    "KpiError",
    "KpiPeriod",
    "KpiResult",
    "KpiText",
    "KpiValue",
    "ScopeKind",
    "Status",
    "computable_kpis",
    "kpi_status",
    "kpis",
    "read_spend",
]

Status = Literal["met", "at_risk", "missed", "no_data"]
STATUSES: Final[tuple[Status, ...]] = ("met", "at_risk", "missed", "no_data")
PERIODS: Final[tuple[KpiPeriod, ...]] = ("day", "week", "month", "quarter", "year")
By = Literal["channel", "campaign", "stage", "touchpoint"]
"""What ``by`` may split the KPIs by (the scopes besides all events)."""
BY: Final[tuple[By, ...]] = ("channel", "campaign", "stage", "touchpoint")
DEFAULT_TOLERANCE: Final = 0.10

DEFAULT_COUNTS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "impression": "event in ('ad_impression', 'impression')",
        "click": "event in ('ad_click', 'click')",
        "engagement": "event in ('ad_click', 'click', 'email_click', 'like', 'comment', "
        "'share', 'save')",
        "page_view": "event in ('page_view', 'screen_view') or event ends with '_view'",
        "purchase": "event in ('purchase', 'order_completed')",
        "refund": "event in ('refund_issued', 'refund')",
        "conversion": "event in ('purchase', 'order_completed')",
        "cart": "event = 'add_to_cart'",
        "churn": "event in ('account_closed', 'subscription_cancelled')",
        "referral": "event in ('referral_click', 'referral_signup')",
        "feedback": "event in ('review_submitted', 'feedback_submitted') or "
        "(event = 'survey_response' and text is not null)",
        "csat": "event = 'survey_response' and properties.survey = 'csat'",
        "nps": "event = 'survey_response' and properties.survey = 'nps'",
        "ces": "event = 'survey_response' and properties.survey = 'ces'",
    }
)
"""What counts as what, by default: rules on events (see :mod:`jornada.events.rules`)."""

_BLENDED_KPIS: Final = frozenset({"cost_per_conversion", "roas"})
_NOTHING: Final = MeasureTable({}, (0,), None, None)
_STATUS_EN: Final[Mapping[str, str]] = {
    "met": "met",
    "at_risk": "at risk",
    "missed": "missed",
    "no_data": "no data",
}
_STATUS_COLOURS: Final[Mapping[str, str]] = {
    "met": "#2e7d32",
    "at_risk": "#f9a825",
    "missed": "#c62828",
    "no_data": "#9e9e9e",
}


def kpi_status(
    value: float | None,
    target: float | None,
    direction: Direction,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Status | None:
    """The status of ``value`` against ``target`` (None without a target): ``met`` on the
    good side (ties included), ``at_risk`` on the wrong side by at most ``tolerance`` ×
    |target|, else ``missed``; ``no_data`` without a value.

    >>> [kpi_status(v, 100, "higher") for v in (100, 95, 89, None)]
    ['met', 'at_risk', 'missed', 'no_data']
    >>> kpi_status(0.5, 0.4, "lower"), kpi_status(3, None, "lower")
    ('missed', None)
    """
    if target is None:
        return None
    if value is None or math.isnan(value):
        return "no_data"
    good = value >= target if direction == "higher" else value <= target
    if good:
        return "met"
    return "at_risk" if abs(value - target) <= tolerance * abs(target) else "missed"


def computable_kpis() -> list[str]:
    """The catalogue KPIs jornada computes from events, in catalogue order.

    >>> {"ctr", "nps", "clv"} <= set(computable_kpis()), "seo_ranking" in computable_kpis()
    (True, False)
    """
    return [kpi.id for kpi in kpi_catalogue().values() if kpi.measure is not None]


# --- the result -----------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiText:
    """What a KPI is, in the result's language: the catalogue's definition and formula,
    and ``computed``, how jornada computes it from events."""

    kpi: str
    name: str
    definition: str
    formula: str
    computed: str
    unit: str
    direction: Direction


@dataclass(frozen=True)
class KpiValue:
    """One KPI of one scope in one period (``period`` None: the whole log)."""

    kpi: str
    name: str
    scope_type: ScopeKind
    scope: str
    scope_name: str
    period: dt.date | None
    value: float | None
    numerator: float | None
    denominator: float | None
    unit: str
    direction: Direction
    target: float | None = None
    status: Status | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kpi": self.kpi,
            "name": self.name,
            "scope_type": self.scope_type,
            "scope": self.scope,
            "scope_name": self.scope_name,
            "period": self.period.isoformat() if self.period else None,
            "value": self.value,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "unit": self.unit,
            "direction": self.direction,
            "target": self.target,
            "status": self.status,
            "note": self.note,
        }


def status_label(status: str, language: Language) -> str:
    """A status for people, in ``language`` (English until the UI strings have it).

    >>> status_label("at_risk", "en")
    'At risk'
    """
    key = f"kpi.status.{status}"
    text = translate(key, language)
    return _STATUS_EN.get(status, status) if text == key else text


def _format(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return ""
    if unit == "ratio":
        return f"{value:.1%}" if 0 <= value <= 1 else f"{value:,.2f}"
    if unit == "seconds":
        return format_duration(value)
    if unit == "count":
        return f"{value:,.0f}"
    return f"{value:,.2f}"


@dataclass(frozen=True)
class KpiResult(AnalysisResult):
    """KPI values by scope and period: see the module's documentation."""

    mode: Literal["catalogue", "map"]
    by: ScopeKind | Literal["map"]
    """What the scopes are: ``all`` events, each channel... or ``map``: the board."""
    period: KpiPeriod | None
    language: Language
    first: dt.datetime | None
    last: dt.datetime | None
    tolerance: float
    counts: tuple[tuple[str, str], ...]
    definitions: tuple[KpiText, ...]
    rows: tuple[KpiValue, ...]
    _texts: Mapping[str, KpiText] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_texts", {text.kpi: text for text in self.definitions})

    def text(self, kpi: str) -> KpiText | None:
        """What ``kpi`` is (None for a KPI neither the catalogue nor the map defines)."""
        return self._texts.get(kpi)

    def value(self, kpi: str, scope: str = "all", period: dt.date | None = None) -> float | None:
        """The value of one KPI in one scope and period (the first such row).

        Raises ``KeyError`` when there is no such row."""
        for row in self.rows:
            if row.kpi == kpi and row.scope == scope and row.period == period:
                return row.value
        raise KeyError((kpi, scope, period))

    def targets(self) -> list[KpiValue]:
        """The rows with a target."""
        return [row for row in self.rows if row.target is not None]

    def latest(self) -> list[KpiValue]:
        """Per KPI and scope with a target, the row of its last period: the board."""
        last: dict[tuple[str, str, str], KpiValue] = {}
        for row in self.targets():
            key = (row.kpi, row.scope_type, row.scope)
            if key not in last or (row.period or dt.date.min) >= (last[key].period or dt.date.min):
                last[key] = row
        return list(last.values())

    def summary(self) -> dict[str, int]:
        """How many rows with a target are met, at risk, missed or without data."""
        counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for row in self.targets():
            if row.status is not None:
                counts[row.status] += 1
        return counts

    def to_frame(self) -> pd.DataFrame:
        """Long: one row per KPI, scope and period, with its definition."""
        columns = [
            "kpi",
            "name",
            "scope_type",
            "scope",
            "scope_name",
            "period",
            "value",
            "unit",
            "direction",
            "target",
            "status",
            "numerator",
            "denominator",
            "definition",
            "computed",
            "note",
        ]
        records = []
        for row in self.rows:
            text = self.text(row.kpi)
            records.append(
                (
                    row.kpi,
                    row.name,
                    row.scope_type,
                    row.scope,
                    row.scope_name,
                    row.period,
                    row.value,
                    row.unit,
                    row.direction,
                    row.target,
                    row.status,
                    row.numerator,
                    row.denominator,
                    text.definition if text else None,
                    text.computed if text else None,
                    row.note,
                )
            )
        return pd.DataFrame(records, columns=columns)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "mode": self.mode,
            "by": self.by,
            "period": self.period,
            "language": self.language,
            "from": self.first.isoformat() if self.first else None,
            "to": self.last.isoformat() if self.last else None,
            "tolerance": self.tolerance,
            "counts": dict(self.counts),
            "definitions": {
                text.kpi: {
                    "name": text.name,
                    "definition": text.definition,
                    "formula": text.formula,
                    "computed": text.computed,
                    "unit": text.unit,
                    "direction": text.direction,
                }
                for text in self.definitions
            },
            "summary": self.summary(),
            "rows": [row.to_dict() for row in self.rows],
        }
        ready: dict[str, Any] = json_ready(data)
        return ready

    def chart(self) -> go.Figure:
        """The board (attainment of each target, coloured by status) when there are
        targets; else small multiples, one panel per KPI (lines over periods, or bars
        per scope)."""
        if self.targets():
            return self._board_chart()
        return self._multiples_chart()

    def _board_chart(self) -> go.Figure:
        rows = self.latest()
        labels, ratios, colours, texts = [], [], [], []
        for row in rows:
            labels.append(f"{row.scope_name} · {row.name}")
            ratio = None
            if row.value is not None and row.target:
                ratio = row.value / row.target
                if row.direction == "lower":
                    ratio = row.target / row.value if row.value else None
            ratios.append(ratio)
            colours.append(_STATUS_COLOURS[row.status or "no_data"])
            shown = _format(row.value, row.unit) or "-"
            texts.append(
                f"{shown} / {_format(row.target, row.unit)} "
                f"({status_label(row.status or 'no_data', self.language)})"
            )
        figure = go.Figure(
            go.Bar(
                x=ratios,
                y=labels,
                orientation="h",
                marker_color=colours,
                text=texts,
                textposition="auto",
                hovertemplate="%{y}: %{text}<extra></extra>",
            )
        )
        for x, dash in ((1.0, "solid"), (1.0 - self.tolerance, "dot")):
            figure.add_vline(x=x, line_dash=dash, line_color="#555")
        period = f" (last {self.period})" if self.period else ""
        figure.update_layout(
            title=f"KPI targets{period}: value as a share of target (lower-is-better inverted)",
            xaxis={"tickformat": ".0%", "title": "of target"},
            yaxis={"autorange": "reversed", "type": "category"},
            height=max(400, 28 * len(rows) + 150),
        )
        return figure

    def _multiples_chart(self) -> go.Figure:
        kpi_ids = list(dict.fromkeys(row.kpi for row in self.rows))
        if not kpi_ids:
            return go.Figure()
        columns = min(4, len(kpi_ids))
        lines = math.ceil(len(kpi_ids) / columns)
        names = [self._texts[k].name if k in self._texts else k for k in kpi_ids]
        figure = make_subplots(rows=lines, cols=columns, subplot_titles=names)
        scopes = list(dict.fromkeys(row.scope_name for row in self.rows))
        palette = ["#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#c62828", "#00838f", "#5d4037"]
        for i, kpi in enumerate(kpi_ids):
            cell = {"row": i // columns + 1, "col": i % columns + 1}
            for j, scope in enumerate(scopes):
                points = [r for r in self.rows if r.kpi == kpi and r.scope_name == scope]
                y = [r.value for r in points]
                trace: Any
                if self.period is None:
                    trace = go.Bar(x=[scope], y=y, name=scope, legendgroup=scope)
                else:
                    trace = go.Scatter(
                        x=[r.period.isoformat() if r.period else "" for r in points],
                        y=y,
                        mode="lines+markers",
                        name=scope,
                        legendgroup=scope,
                    )
                trace.update(
                    marker_color=palette[j % len(palette)], showlegend=i == 0 and len(scopes) > 1
                )
                figure.add_trace(trace, **cell)
        figure.update_layout(
            title=f"KPIs by {self.by}" + (f" and {self.period}" if self.period else ""),
            height=260 * lines + 120,
        )
        return figure

    def __rich__(self) -> Table:
        shown = self.rows[:200]
        table = Table("scope", "kpi", "period", "value", "target", "status", box=None)
        for row in shown:
            table.add_row(
                row.scope_name,
                row.name,
                row.period.isoformat() if row.period else "",
                _format(row.value, row.unit) or (row.note or ""),
                _format(row.target, row.unit),
                status_label(row.status, self.language) if row.status else "",
            )
        span = (
            f"{self.first:%Y-%m-%d} to {self.last:%Y-%m-%d}"
            if self.first and self.last
            else "empty"
        )
        table.title = f"KPIs ({span})"
        notes = []
        for kpi in dict.fromkeys(row.kpi for row in shown):
            text = self.text(kpi)
            if text is not None:
                notes.append(f"{text.name}: {text.computed or text.formula}")
        if len(self.rows) > len(shown):
            notes.append(f"{len(self.rows) - len(shown):,} more rows: --csv FILE")
        notes.append("definitions and what counts as what: --json")
        table.caption = "\n".join(notes)
        table.caption_justify = "left"
        return table


# --- computing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scope:
    kind: ScopeKind
    id: str
    name: str
    condition: Any | None  # None: nothing bound
    channels: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"


def _stage_scope(stage: Stage, events: ir.Table) -> _Scope:
    bound = [tp for tp in stage.touchpoints if tp.events is not None]
    channels: list[str] = []
    for touchpoint in stage.touchpoints:
        channels += _touchpoint_channels(touchpoint)
    if stage.events is not None:
        channels += stage.events.channels
    condition = stage_filter(stage, events) if bound or stage.events is not None else None
    return _Scope("stage", stage.id, stage.name, condition, tuple(dict.fromkeys(channels)))


def _touchpoint_channels(touchpoint: Touchpoint) -> list[str]:
    if touchpoint.events is not None and touchpoint.events.channels:
        return list(touchpoint.events.channels)
    return [touchpoint.channel] if touchpoint.channel else []


def _touchpoint_scope(touchpoint: Touchpoint, stage: Stage, events: ir.Table) -> _Scope:
    condition = None
    if touchpoint.events is not None:
        context = f"the where rule of touchpoint {touchpoint.id!r} (stage {stage.id!r})"
        condition = binding_filter(touchpoint.events, events, context=context)
    return _Scope(
        "touchpoint",
        touchpoint.id,
        touchpoint.name,
        condition,
        tuple(_touchpoint_channels(touchpoint)),
    )


def _map_scopes(journey: Journey, kind: ScopeKind, events: ir.Table) -> list[_Scope]:
    if kind == "stage":
        return [_stage_scope(stage, events) for stage in journey.ordered_stages()]
    seen: set[str] = set()
    scopes = []
    for stage, touchpoint in journey.iter_touchpoints():
        if touchpoint.id not in seen:
            seen.add(touchpoint.id)
            scopes.append(_touchpoint_scope(touchpoint, stage, events))
    return scopes


def _roles(
    events: ir.Table, journey: Journey | None, counts: Mapping[str, str] | None
) -> tuple[dict[str, Any], tuple[tuple[str, str], ...]]:
    chosen = dict(DEFAULT_COUNTS)
    for role, text in (counts or {}).items():
        if role not in DEFAULT_COUNTS:
            raise KpiError(f"unknown count {role!r}; what can be counted: {', '.join(ROLES)}")
        if not text.strip():
            raise KpiError(f"the count {role!r} is empty; give an event name or a rule")
        chosen[role] = text.strip()
    conditions = {
        role: resolve_step(text, events, journey).condition.fill_null(False)
        for role, text in chosen.items()
    }
    return conditions, tuple(chosen.items())


def _texts(ids: Iterable[str], journey: Journey | None, language: Language) -> list[KpiText]:
    catalogue = kpi_catalogue()
    own = {d.id: d for d in journey.kpis} if journey else {}
    texts = []
    for kpi_id in dict.fromkeys(ids):
        entry = catalogue.get(kpi_id)
        if entry is not None:
            computed = entry.measure.computed if entry.measure else None
            texts.append(
                KpiText(
                    kpi=kpi_id,
                    name=entry.name.get(language),
                    definition=entry.definition.get(language),
                    formula=entry.formula.get(language),
                    computed=computed.get(language) if computed else "",
                    unit=entry.unit,
                    direction=entry.direction,
                )
            )
        elif kpi_id in own:
            definition = own[kpi_id]
            texts.append(
                KpiText(
                    kpi=kpi_id,
                    name=definition.name,
                    definition=definition.definition or "",
                    formula=definition.formula or "",
                    computed="",
                    unit=definition.unit or "",
                    direction=definition.direction,
                )
            )
    return texts


def _measures_of(entries: Iterable[CatalogueKpi]) -> frozenset[str]:
    names: set[str] = set()
    for entry in entries:
        if entry.measure is not None:
            names.add(entry.measure.numerator)
            if entry.measure.denominator:
                names.add(entry.measure.denominator)
    return frozenset(names)


def _compute(
    entry: CatalogueKpi, table: MeasureTable, key: str, period: int, *, blended: bool
) -> tuple[float | None, float | None, float | None, str | None]:
    """(value, numerator, denominator, note) of one KPI of one scope and period."""
    measure = entry.measure
    assert measure is not None  # only computable KPIs come here
    note = None

    def get(name: str) -> float | None:
        nonlocal note
        value = table.get(key, period, name)
        if name == "spend" and value is None and blended and entry.id in _BLENDED_KPIS:
            note = "blended: the whole period's spend (the scope has none of its own)"
            return table.get(TOTAL, period, "spend")
        return value

    numerator = get(measure.numerator)
    if measure.denominator is None:
        value = None if numerator is None else numerator * measure.scale
        return value, numerator, None, note
    denominator = get(measure.denominator)
    if numerator is None or denominator is None:
        return None, numerator, denominator, note or "no spend data"
    if denominator == 0:
        return None, numerator, denominator, note
    return numerator / denominator * measure.scale, numerator, denominator, note


def _check_period(period: str | None) -> KpiPeriod | None:
    if period is not None and period not in PERIODS:
        raise KpiError(f"period must be one of {', '.join(PERIODS)}, not {period!r}")
    return period


def _check_only(only: Sequence[str] | None, journey: Journey | None) -> list[str] | None:
    if only is None:
        return None
    known = set(kpi_catalogue()) | ({d.id for d in journey.kpis} if journey else set())
    unknown = [kpi for kpi in only if kpi not in known]
    if unknown:
        raise KpiError(
            f"unknown KPI(s) {', '.join(unknown)}; computable: {', '.join(computable_kpis())}"
        )
    return list(dict.fromkeys(only))


def _all_name(language: Language) -> str:
    key = "kpi.scope.all"
    text = translate(key, language)
    return "all events" if text == key else text


def kpis(
    events: ir.Table,
    *,
    journey: Journey | None = None,
    by: By | None = None,
    period: KpiPeriod | None = None,
    only: Sequence[str] | None = None,
    spend: SpendInput | None = None,
    counts: Mapping[str, str] | None = None,
    language: Language | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    store: StoreMode = "no",
) -> KpiResult:
    """KPIs of ``events``: see the module's documentation.

    ``by``: ``channel``, ``campaign``, ``stage`` or ``touchpoint`` (the last two need
    ``journey``); None: all events, or the map's board when ``journey`` is given.
    ``only`` limits the KPIs (catalogue ids); ``spend`` is a spend table (file or frame);
    ``counts`` replaces entries of :data:`DEFAULT_COUNTS`; ``language`` (default: the
    map's, else English) picks the names and definitions. One query per period used.
    ``store`` (:data:`~jornada.engine.kept.StoreMode`): the flagged events every measure
    reads are kept in (``yes``) or read from (``reuse``) the workspace's store, for
    ``events`` read straight from it (:func:`~jornada.engine.kept.kept_table`).
    """
    period = _check_period(period)
    if by is not None and by not in BY:
        raise KpiError(f"--by must be one of {', '.join(BY)}, not {by!r}")
    if by in ("stage", "touchpoint") and journey is None:
        raise KpiError(f"KPIs by {by} need a map: give --map FILE (a journey map)")
    if tolerance < 0:
        raise KpiError(f"the tolerance is a share of the target, 0 or more, not {tolerance}")
    chosen = _check_only(only, journey)
    language = language or (journey.language if journey else "en")
    roles, counts_used = _roles(events, journey, counts)
    spend_table = None if spend is None else read_spend(spend)
    context = _Context(events, roles, spend_table, language, tolerance, journey, store)
    if journey is not None and by is None:
        return context.board(chosen, period, counts_used)
    return context.catalogue(by or "all", chosen, period, counts_used)


@dataclass(frozen=True)
class _Context:
    events: ir.Table
    roles: Mapping[str, Any]
    spend: Any
    language: Language
    tolerance: float
    journey: Journey | None
    store: StoreMode = "no"

    def measures(
        self,
        kind: ScopeKind,
        scopes: Sequence[_Scope],
        period: KpiPeriod | None,
        entries: Sequence[CatalogueKpi],
        needs: Mapping[str, frozenset[str]] | None = None,
    ) -> MeasureTable:
        """The measures of ``entries`` for ``scopes``; ``needs`` (scope key -> base
        measures) limits each scope to its own KPIs' measures."""
        fixed = [
            FixedScope(
                s.key,
                s.condition,
                s.channels,
                None if needs is None else needs.get(s.key, frozenset()),
            )
            for s in scopes
            if s.condition is not None
        ]
        blended = kind in ("stage", "touchpoint") and any(e.id in _BLENDED_KPIS for e in entries)
        return compute_measures(
            self.events,
            kind=kind,
            fixed=fixed,
            period=period,
            roles=self.roles,
            needed=_measures_of(entries),
            spend=self.spend,
            blended=blended,
            store=self.store,
        )

    def row(
        self,
        kpi_id: str,
        scope: _Scope,
        table: MeasureTable,
        period: KpiPeriod | None,
        number: int,
        target: KpiTarget | None,
    ) -> KpiValue:
        entry = kpi_catalogue().get(kpi_id)
        own = {d.id: d for d in self.journey.kpis} if self.journey else {}
        day = None if period is None else period_start(number, period)
        value = numerator = denominator = None
        note: str | None = None
        if entry is not None and entry.measure is not None:
            if table.first is None:
                note = "no events"
            elif scope.condition is None and scope.kind in ("stage", "touchpoint"):
                note = f"the {scope.kind} has no events: block"
            else:
                key = scope.key if scope.kind in ("stage", "touchpoint") else scope.id
                blended = scope.kind in ("stage", "touchpoint")
                value, numerator, denominator, note = _compute(
                    entry, table, key, number, blended=blended
                )
        elif entry is not None:
            note = "not computed from events: the log does not hold it"
        elif kpi_id in own:
            note = "defined by the map: not computed from events"
        else:
            note = "unknown KPI"
        unit: str
        if entry is not None:
            name, unit, direction = entry.name.get(self.language), entry.unit, entry.direction
        elif kpi_id in own:
            name, unit, direction = own[kpi_id].name, own[kpi_id].unit or "", own[kpi_id].direction
        else:
            name, unit, direction = kpi_id, "", "higher"
        goal = None
        if target is not None:
            direction = target.direction or direction
            unit = unit or (target.unit or "")
            goal = target.target
        return KpiValue(
            kpi=kpi_id,
            name=name,
            scope_type=scope.kind,
            scope=scope.id,
            scope_name=scope.name,
            period=day,
            value=value,
            numerator=numerator,
            denominator=denominator,
            unit=unit,
            direction=direction,
            target=goal,
            status=kpi_status(value, goal, direction, tolerance=self.tolerance),
            note=note,
        )

    def result(
        self,
        mode: Literal["catalogue", "map"],
        by: ScopeKind | Literal["map"],
        period: KpiPeriod | None,
        counts: tuple[tuple[str, str], ...],
        tables: Sequence[MeasureTable],
        rows: list[KpiValue],
    ) -> KpiResult:
        firsts = [t.first for t in tables if t.first is not None]
        lasts = [t.last for t in tables if t.last is not None]
        return KpiResult(
            mode=mode,
            by=by,
            period=period,
            language=self.language,
            first=min(firsts) if firsts else None,
            last=max(lasts) if lasts else None,
            tolerance=self.tolerance,
            counts=counts,
            definitions=tuple(_texts((r.kpi for r in rows), self.journey, self.language)),
            rows=tuple(rows),
        )

    def catalogue(
        self,
        by: ScopeKind,
        only: list[str] | None,
        period: KpiPeriod | None,
        counts: tuple[tuple[str, str], ...],
    ) -> KpiResult:
        """Every computable KPI (or ``only``) for every scope of ``by`` and period."""
        catalogue = kpi_catalogue()
        ids = only if only is not None else computable_kpis()
        entries = [catalogue[k] for k in ids if k in catalogue]
        if by in ("stage", "touchpoint"):
            assert self.journey is not None
            scopes = _map_scopes(self.journey, by, self.events)
        else:
            scopes = []
        table = self.measures(by, scopes, period, entries)
        if by == "all":
            scopes = [_Scope("all", "all", _all_name(self.language), True, ())]
        elif by in ("channel", "campaign"):
            keys = sorted({key for key, _ in table.values if key != TOTAL})
            scopes = [_Scope(by, key, key, True, ()) for key in keys]
        targets = self._targets(by, period) if by in ("stage", "touchpoint") else {}
        rows = [
            self.row(kpi_id, scope, table, period, number, targets.get((scope.id, kpi_id)))
            for scope in scopes
            for kpi_id in ids
            for number in table.periods
        ]
        return self.result("catalogue", by, period, counts, [table], rows)

    def _targets(self, by: ScopeKind, period: KpiPeriod | None) -> dict[tuple[str, str], KpiTarget]:
        """The map's targets of each stage (or touchpoint) and KPI that apply to rows by
        ``period`` (a target for another period does not)."""
        assert self.journey is not None
        found: dict[tuple[str, str], KpiTarget] = {}
        for stage in self.journey.ordered_stages():
            holders: list[tuple[str, list[KpiTarget]]] = (
                [(stage.id, stage.kpis)]
                if by == "stage"
                else [(tp.id, tp.kpis) for tp in stage.touchpoints]
            )
            for holder, targets in holders:
                for target in targets:
                    if target.period in (None, period):
                        found.setdefault((holder, target.kpi), target)
        return found

    def board(
        self,
        only: list[str] | None,
        period: KpiPeriod | None,
        counts: tuple[tuple[str, str], ...],
    ) -> KpiResult:
        """The map's KPIs: each target of a stage or touchpoint over its events, by the
        target's period (or ``period``)."""
        assert self.journey is not None
        wanted: list[tuple[_Scope, KpiTarget]] = []
        for stage in self.journey.ordered_stages():
            stage_scope = _stage_scope(stage, self.events)
            wanted += [(stage_scope, target) for target in stage.kpis]
            for touchpoint in stage.touchpoints:
                scope = _touchpoint_scope(touchpoint, stage, self.events)
                wanted += [(scope, target) for target in touchpoint.kpis]
        if only is not None:
            wanted = [(scope, target) for scope, target in wanted if target.kpi in only]
        catalogue = kpi_catalogue()
        tables: dict[KpiPeriod | None, MeasureTable] = {}
        for row_period in dict.fromkeys(target.period or period for _, target in wanted):
            chosen = [(s, t) for s, t in wanted if (t.period or period) == row_period]
            scopes = list({s.key: s for s, _ in chosen}.values())
            entries = [catalogue[t.kpi] for _, t in chosen if t.kpi in catalogue]
            needs: dict[str, frozenset[str]] = {}
            for scope, target in chosen:
                if target.kpi in catalogue:
                    own = _measures_of([catalogue[target.kpi]])
                    needs[scope.key] = needs.get(scope.key, frozenset()) | own
            if any(e.measure is not None for e in entries):
                tables[row_period] = self.measures("stage", scopes, row_period, entries, needs)
        rows = []
        for scope, target in wanted:
            row_period = target.period or period
            # A KPI not computed from events still gets its row (with its target), once.
            table = tables.get(row_period, _NOTHING)
            rows += [
                self.row(target.kpi, scope, table, row_period, number, target)
                for number in table.periods
            ]
        return self.result("map", "map", period, counts, list(tables.values()), rows)
