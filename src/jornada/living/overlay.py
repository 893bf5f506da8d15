"""The living map: every stage and touchpoint of a designed map beside what customers did.

:func:`living_map` runs the analyses once on an event log and joins their results to the
map; nothing is measured twice or differently here (the numbers are those of
:func:`~jornada.analytics.stages.analyse_stages`,
:func:`~jornada.analytics.touchpoints.touchpoint_measures`,
:func:`~jornada.living.sentiment.measured_emotion` and
:func:`~jornada.living.conformance.conformance`). On top of them it raises **findings**:
where the data contradicts the design or hurts, ranked, each with its numbers.

**Findings** (``kind``; thresholds are the module constants):

- ``unreached``: a bound touchpoint that no event matches.
- ``emotion_contradiction``: the designed emotion lies outside the 95% interval of the
  measured one (at least :data:`MIN_RESPONSES` responses) and differs by a point or more.
- ``negative_emotion``: measured emotion at or below :data:`NEGATIVE_EMOTION`, the whole
  interval below zero.
- ``journeys_end_here``: in a stage up to the conversion's, the share of its customers
  whose path ends at the touchpoint without ever converting (``lost``) is at least
  :data:`EXIT_FACTOR` times the median of those touchpoints, and they are at least
  :data:`MIN_AFFECTED_SHARE` of all customers.
- ``bad_period``: a period (week) in which the share converting within
  :data:`CONVERSION_WINDOW_DAYS` days after the touchpoint fell :data:`MIN_DROP` or more
  below its rate in the other periods, significant by a two-sided two-proportion z-test
  (p < :data:`MAX_P`), with at least :data:`MIN_PERIOD_CUSTOMERS`. Only periods whose
  window has ended before the data does are judged (the last weeks would otherwise look
  bad for want of time).

Stalled customers are shown per stage but are not a finding: at the end of any log most
customers who have not moved on look stalled, so the count alone says little.

Findings are ranked by severity (1..5), then customers affected. A touchpoint's finding
can be accepted into the map as a pain point with its evidence: :func:`accept_finding`.

**Attribution**: with a conversion step, each touchpoint's share of the conversions and
of their value under one model of :func:`~jornada.analytics.attribution.attribution`
(touches labelled by map touchpoint). The default, :data:`DEFAULT_ATTRIBUTION_MODEL`, is
position-based (40% first touch, 40% last, 20% between): it credits both the touchpoint
that opened a journey and the one that closed it, is deterministic and cheap, and reads
without knowing Markov chains; ``attribution_model`` picks any other model.

**KPIs**: the map's board (:func:`~jornada.analytics.kpis.kpis` with the map): each KPI a
stage or touchpoint names, with its value, target and status, the latest period of a
target that has its own period.

**Scope**: ``scope`` (an :class:`~jornada.events.filters.EventScope`: a period,
channels, a segment of customers) cuts the events before anything is measured, and the
result records it (:attr:`LivingMap.scope`), so a map measured on March says so. It is
applied here rather than by the caller so that the label cannot disagree with the data.

**Evidence** of a cell: ``measured`` when events are bound to it and matched,
``researched``/``assumed`` as the map says otherwise; with its sample size and the data's
date range (:attr:`LivingMap.first_seen`, :attr:`LivingMap.last_seen`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import statistics
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

import ibis.expr.types as ir
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from rich.table import Table
from scipy import stats

from jornada.analytics.attribution import MODELS, AttributionError, AttributionResult, attribution
from jornada.analytics.kpis import KpiResult, KpiValue, kpis
from jornada.analytics.results import AnalysisResult, json_ready
from jornada.analytics.stages import StageAnalysis, StageSummary, StageTables
from jornada.analytics.touchpoints import (
    TouchpointMeasure,
    TouchpointMeasures,
    TouchpointTrend,
    touchpoint_measures,
    touchpoint_trend,
)
from jornada.engine.kept import StoreMode
from jornada.events.filters import EventScope, scope_events
from jornada.living.conformance import Conformance, conformance
from jornada.living.sentiment import EmotionMeasure, MeasuredEmotion, measured_emotions
from jornada.model import Journey, Stage
from jornada.model.touchpoint import PainPoint

__all__ = [
    "DEFAULT_ATTRIBUTION_MODEL",
    "Finding",
    "LivingMap",
    "LivingStage",
    "LivingTouchpoint",
    "accept_finding",
    "default_conversion",
    "living_map",
    "prepare_living_map",
]

MIN_RESPONSES: Final = 5
NEGATIVE_EMOTION: Final = -0.5
EXIT_FACTOR: Final = 1.5
MIN_AFFECTED_SHARE: Final = 0.01
MIN_DROP: Final = 0.3
MAX_P: Final = 0.001
MIN_PERIOD_CUSTOMERS: Final = 30
CONVERSION_WINDOW_DAYS: Final = 14
DEFAULT_ATTRIBUTION_MODEL: Final = "position_based"

FindingKind = Literal[
    "unreached",
    "emotion_contradiction",
    "negative_emotion",
    "journeys_end_here",
    "bad_period",
]
Evidence = Literal["assumed", "researched", "measured"]


@dataclass(frozen=True)
class Finding:
    """Something the data says about a cell of the map, with the numbers behind it."""

    kind: FindingKind
    stage_id: str
    touchpoint_id: str | None
    severity: int
    customers: int
    message: str
    numbers: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        ready: dict[str, Any] = json_ready(
            {
                "kind": self.kind,
                "stage_id": self.stage_id,
                "touchpoint_id": self.touchpoint_id,
                "severity": self.severity,
                "customers": self.customers,
                "message": self.message,
                "numbers": self.numbers,
            }
        )
        return ready


@dataclass(frozen=True)
class LivingTouchpoint:
    """A touchpoint: its design (emotion, evidence) beside its measures."""

    touchpoint_id: str
    name: str
    stage_id: str
    designed_emotion: int | None
    designed_evidence: Evidence
    measures: TouchpointMeasure
    emotion: EmotionMeasure | None
    findings: tuple[Finding, ...] = ()
    attributed_conversions: float | None = None
    """Conversions credited to it by the map's attribution model (None: no conversion)."""
    attributed_value: float | None = None
    """Their value (None without conversion value in the data)."""
    kpis: tuple[KpiValue, ...] = ()

    @property
    def evidence(self) -> Evidence:
        return "measured" if self.measures.events else self.designed_evidence

    def to_dict(self) -> dict[str, Any]:
        return {
            "touchpoint_id": self.touchpoint_id,
            "name": self.name,
            "stage_id": self.stage_id,
            "designed_emotion": self.designed_emotion,
            "evidence": self.evidence,
            "sample": self.measures.customers,
            "measures": self.measures.to_dict(),
            "emotion": self.emotion.to_dict() if self.emotion else None,
            "attributed_conversions": self.attributed_conversions,
            "attributed_value": self.attributed_value,
            "kpis": [k.to_dict() for k in self.kpis],
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class LivingStage:
    """A stage: its summary (reach, conversion, dwell, stalled, milestones) and emotion."""

    stage_id: str
    name: str
    summary: StageSummary
    emotion: EmotionMeasure | None
    designed_emotion: float | None
    touchpoints: tuple[LivingTouchpoint, ...]
    findings: tuple[Finding, ...] = ()
    kpis: tuple[KpiValue, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage_id": self.stage_id,
            "name": self.name,
            "designed_emotion": self.designed_emotion,
            "summary": self.summary.to_dict(),
            "emotion": self.emotion.to_dict() if self.emotion else None,
            "kpis": [k.to_dict() for k in self.kpis],
            "touchpoints": [t.to_dict() for t in self.touchpoints],
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class LivingMap(AnalysisResult):
    """A designed map with its measures: see the module."""

    journey: Journey
    conversion: str | None
    total_customers: int
    total_events: int
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    stages: tuple[LivingStage, ...]
    conformance: Conformance
    findings: tuple[Finding, ...]
    attribution_model: str = DEFAULT_ATTRIBUTION_MODEL
    analyses: dict[str, AnalysisResult] = field(default_factory=dict, compare=False)
    scope: EventScope = field(default_factory=EventScope)
    """The events measured (the default: all of them)."""

    def stage(self, stage_id: str) -> LivingStage:
        return next(s for s in self.stages if s.stage_id == stage_id)

    def touchpoint(self, touchpoint_id: str) -> LivingTouchpoint:
        return next(
            t for s in self.stages for t in s.touchpoints if t.touchpoint_id == touchpoint_id
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per touchpoint, with its stage's figures beside it."""
        rows = []
        for stage in self.stages:
            for tp in stage.touchpoints:
                m = tp.measures
                rows.append(
                    {
                        "stage_id": stage.stage_id,
                        "touchpoint_id": tp.touchpoint_id,
                        "touchpoint": tp.name,
                        "evidence": tp.evidence,
                        "customers": m.customers,
                        "reach": m.reach,
                        "exit_rate": m.exit_rate,
                        "conversion_rate": m.conversion_rate,
                        "median_seconds_to_next": m.median_seconds_to_next,
                        "attributed_conversions": tp.attributed_conversions,
                        "attributed_value": tp.attributed_value,
                        "kpis_met": sum(k.status == "met" for k in tp.kpis),
                        "kpis_off_target": sum(k.status in ("at_risk", "missed") for k in tp.kpis),
                        "designed_emotion": tp.designed_emotion,
                        "measured_emotion": tp.emotion.emotion if tp.emotion else None,
                        "emotion_responses": tp.emotion.responses if tp.emotion else 0,
                        "stage_reached": stage.summary.reached,
                        "stage_conversion_to_next": stage.summary.conversion_to_next,
                        "stage_stalled": stage.summary.stalled,
                        "findings": len(tp.findings),
                    }
                )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        ready: dict[str, Any] = json_ready(
            {
                "journey_id": self.journey.id,
                "title": self.journey.title,
                "conversion": self.conversion,
                "attribution_model": self.attribution_model,
                "scope": self.scope.to_dict(),
                "total_customers": self.total_customers,
                "total_events": self.total_events,
                "first_seen": self.first_seen.isoformat() if self.first_seen else None,
                "last_seen": self.last_seen.isoformat() if self.last_seen else None,
                "stages": [s.to_dict() for s in self.stages],
                "conformance": self.conformance.to_dict(),
                "findings": [f.to_dict() for f in self.findings],
            }
        )
        return ready

    def __rich__(self) -> Table:
        """A compact table for the terminal: one line per touchpoint, then the findings."""
        table = Table(
            "stage",
            "touchpoint",
            "evidence",
            "customers",
            "reach",
            "converted",
            "lost",
            "credit",
            "KPIs off",
            "findings",
            box=None,
        )
        for stage in self.stages:
            for tp in stage.touchpoints:
                m = tp.measures
                table.add_row(
                    stage.name,
                    tp.name,
                    tp.evidence,
                    f"{m.customers:,}",
                    _percent(m.reach),
                    _percent(m.conversion_rate),
                    "" if m.lost is None else f"{m.lost:,}",
                    ""
                    if tp.attributed_conversions is None
                    else f"{tp.attributed_conversions:,.1f}",
                    str(sum(k.status in ("at_risk", "missed") for k in tp.kpis)),
                    str(len(tp.findings)),
                )
        span = (
            f"{self.first_seen:%Y-%m-%d} to {self.last_seen:%Y-%m-%d}"
            if self.first_seen and self.last_seen
            else "no events"
        )
        scoped = "" if self.scope.everything else f"; {self.scope}"
        table.title = (
            f"Living map: {self.journey.title} ({self.total_customers:,} customers, {span}{scoped})"
        )
        lines = [f"{i}. ({f.kind}) {f.message}" for i, f in enumerate(self.findings[:10], 1)]
        if len(self.findings) > 10:
            lines.append(f"... {len(self.findings) - 10} more: --json")
        table.caption = "\n".join(lines) if lines else "no findings"
        table.caption_justify = "left"
        return table

    def chart(self) -> go.Figure:
        """Customers per stage (bars) and the designed vs measured emotion curves."""
        names = [s.name for s in self.stages]
        figure = make_subplots(specs=[[{"secondary_y": True}]])
        figure.add_trace(
            go.Bar(name="customers reached", x=names, y=[s.summary.reached for s in self.stages]),
            secondary_y=False,
        )
        figure.add_trace(
            go.Scatter(
                name="designed emotion",
                x=names,
                y=[s.designed_emotion for s in self.stages],
                mode="lines+markers",
                line={"dash": "dash"},
            ),
            secondary_y=True,
        )
        measured = [s.emotion.emotion if s.emotion else None for s in self.stages]
        errors = [
            (s.emotion.high - s.emotion.emotion)
            if s.emotion and s.emotion.emotion is not None and not math.isnan(s.emotion.high)
            else None
            for s in self.stages
        ]
        figure.add_trace(
            go.Scatter(
                name="measured emotion",
                x=names,
                y=measured,
                mode="lines+markers",
                error_y={"type": "data", "array": errors, "visible": True},
            ),
            secondary_y=True,
        )
        figure.update_yaxes(title_text="customers", secondary_y=False)
        figure.update_yaxes(title_text="emotion", range=[-2.2, 2.2], secondary_y=True)
        figure.update_layout(title=f"Living map: {self.journey.title}")
        return figure


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share:.1%}"


def default_conversion(journey: Journey) -> str | None:
    """The conversion step a map implies: the first bound milestone of its first stage of
    the purchase phase (``phase: during``), else None.

    >>> from jornada.model.templates import load_template
    >>> default_conversion(load_template("b2c-ecommerce"))
    'first_order'
    """
    stage = next((s for s in journey.ordered_stages() if s.phase == "during"), None)
    if stage is None:
        return None
    milestone = next((m for m in stage.milestones if m.events is not None), None)
    return milestone.id if milestone is not None else None


def _conversion_stage(journey: Journey, conversion: str | None) -> int:
    """Position of the stage holding the conversion (a stage, touchpoint or milestone id);
    the last stage when it is an event or rule, or absent."""
    stages = journey.ordered_stages()
    for i, stage in enumerate(stages):
        ids = {stage.id, *(t.id for t in stage.touchpoints), *(m.id for m in stage.milestones)}
        if conversion in ids:
            return i
    return len(stages) - 1


def _designed_stage_emotion(stage: Stage) -> float | None:
    scores = [t.emotion.score for t in stage.touchpoints if t.emotion is not None]
    return statistics.fmean(scores) if scores else None


def _severity(value: float, steps: tuple[float, ...]) -> int:
    """3, 4 or 5 as ``value`` passes each of the two ``steps``."""
    return 3 + sum(value >= step for step in steps)


def _emotion_findings(tp: LivingTouchpoint) -> list[Finding]:
    e = tp.emotion
    if e is None or e.emotion is None or e.responses < MIN_RESPONSES:
        return []
    found = []
    d = tp.designed_emotion
    numbers = {"measured": e.emotion, "low": e.low, "high": e.high, "responses": e.responses}
    if d is not None and not (e.low <= d <= e.high) and abs(e.emotion - d) >= 1:
        found.append(
            Finding(
                "emotion_contradiction",
                tp.stage_id,
                tp.touchpoint_id,
                _severity(abs(e.emotion - d), (2.0, 3.0)),
                e.responses,
                f"{tp.name}: designed emotion {d:+d}, measured {e.emotion:+.1f} "
                f"({e.responses:,} responses)",
                {**numbers, "designed": d},
            )
        )
    if e.emotion <= NEGATIVE_EMOTION and e.high < 0:
        found.append(
            Finding(
                "negative_emotion",
                tp.stage_id,
                tp.touchpoint_id,
                _severity(-e.emotion, (1.0, 1.5)),
                e.responses,
                f"{tp.name}: customers feel bad here: emotion {e.emotion:+.1f} "
                f"({e.responses:,} responses)",
                numbers,
            )
        )
    return found


def _exit_findings(
    touchpoints: list[LivingTouchpoint], total_customers: int
) -> dict[str, list[Finding]]:
    """``journeys_end_here``: where unconverted journeys stop (``lost``), against the
    typical touchpoint; without a conversion step, every journey that ends there."""

    def ended(m: TouchpointMeasure) -> int:
        return m.lost if m.lost is not None else m.exits

    rates = [ended(t.measures) / t.measures.customers for t in touchpoints if t.measures.customers]
    if not rates or not total_customers:
        return {}
    typical = statistics.median(rates)
    found: dict[str, list[Finding]] = {}
    for tp in touchpoints:
        m = tp.measures
        if not m.customers:
            continue
        stopped = ended(m)
        rate = stopped / m.customers
        if rate == 0 or rate < EXIT_FACTOR * typical:
            continue
        if stopped < MIN_AFFECTED_SHARE * total_customers:
            continue
        found[tp.touchpoint_id] = [
            Finding(
                "journeys_end_here",
                tp.stage_id,
                tp.touchpoint_id,
                _severity(rate / typical if typical else 3.0, (2.0, 3.0)),
                stopped,
                f"{tp.name}: {rate:.0%} of its customers go no further "
                f"(typical touchpoint {typical:.0%})",
                {"stopped": stopped, "customers": m.customers, "rate": rate, "typical": typical},
            )
        ]
    return found


_PERIOD_DAYS = {"day": 1, "week": 7, "month": 31}


def _period_findings(
    trend: TouchpointTrend, names: dict[str, tuple[str, str]], judged_until: dt.date
) -> list[Finding]:
    """``bad_period`` findings among the periods that end by ``judged_until``."""
    found = []
    length = dt.timedelta(days=_PERIOD_DAYS[trend.period])
    for touchpoint_id, (name, stage_id) in names.items():
        rows = tuple(r for r in trend.of(touchpoint_id) if r.period_start + length <= judged_until)
        total_customers = sum(r.customers for r in rows)
        total_converted = sum(r.converted for r in rows)
        for r in rows:
            rest_customers = total_customers - r.customers
            if r.customers < MIN_PERIOD_CUSTOMERS or rest_customers < MIN_PERIOD_CUSTOMERS:
                continue
            rate = r.converted / r.customers
            rest = (total_converted - r.converted) / rest_customers
            if rest == 0 or rate > rest * (1 - MIN_DROP):
                continue
            pooled = total_converted / total_customers
            se = math.sqrt(pooled * (1 - pooled) * (1 / r.customers + 1 / rest_customers))
            z = (rate - rest) / se if se else 0.0
            p = float(2 * stats.norm.sf(abs(z)))
            if p >= MAX_P:
                continue
            lost = round((rest - rate) * r.customers)
            found.append(
                Finding(
                    "bad_period",
                    stage_id,
                    touchpoint_id,
                    _severity(1 - rate / rest, (0.5, 0.65)),
                    lost,
                    f"{name}: in the {trend.period} of {r.period_start.isoformat()} only "
                    f"{rate:.0%} converted afterwards, against {rest:.0%} in other "
                    f"{trend.period}s (about {lost:,} customers lost)",
                    {
                        "period_start": r.period_start.isoformat(),
                        "customers": r.customers,
                        "converted": r.converted,
                        "rate": rate,
                        "other_rate": rest,
                        "p_value": p,
                    },
                )
            )
    return found


def _rank(findings: list[Finding]) -> tuple[Finding, ...]:
    return tuple(sorted(findings, key=lambda f: (-f.severity, -f.customers, f.stage_id)))


def living_map(
    events: ir.Table,
    journey: Journey,
    *,
    conversion: str | None = None,
    percentile: float = 80.0,
    period: str = "week",
    attribution_model: str = DEFAULT_ATTRIBUTION_MODEL,
    scope: EventScope | None = None,
    stage_tables: StageTables | None = None,
    facts: bool = False,
    store: StoreMode | None = None,
) -> LivingMap:
    """Measure ``journey`` on ``events`` and raise the findings (see the module).

    ``conversion`` (a step: event, touchpoint or stage id, rule) defaults to
    :func:`default_conversion`; without one, conversion figures, attribution and period
    findings are left out. ``period`` is the trend's granularity for ``bad_period``
    findings (``week``); ``scope`` the events measured, e.g.
    ``scope=EventScope(*parse_period("2026-Q1"), segment="properties.plan = 'pro'")``
    (all of them by default). ``attribution_model`` is one of
    :data:`~jornada.analytics.attribution.MODELS`. ``stage_tables``: the
    :class:`~jornada.analytics.stages.StageTables` of the scoped events and this map (built
    without ``as_of``), when the caller keeps them for more (the report does), instead of
    building them again; without them, they are built here and dropped once used. The
    stage analysis, conformance, the touchpoint measures and their trend, the
    attribution and the measured emotion all read their labelled events, so the binding
    rules are evaluated on the events once for the six (and their ``properties`` read
    once). ``facts``: the events' ``next_ts`` and ``session_next_ts`` are the store's for
    these very events (``Workspace.events()``; a scope recomputes them), not of a table
    filtered since: the last events and the time in sessions are then read from them
    (the same numbers). ``store`` (:data:`~jornada.engine.kept.StoreMode`): whether the
    stage tables and the KPI board's flagged events are kept in the workspace's store for
    the next living map of the same map and events (:func:`~jornada.engine.kept.kept_table`);
    by default ``yes`` for the store's own events unscoped (``facts``), else ``no``.
    """
    if attribution_model not in MODELS:
        raise AttributionError(
            f"unknown attribution model {attribution_model!r}: choose from {', '.join(MODELS)}"
        )
    scope = scope if scope is not None else EventScope()
    if store is None:
        store = "yes" if facts and scope.everything else "no"
    elif store != "no" and not (facts and scope.everything):
        raise ValueError("only the store's own events, unscoped (facts=True), can be kept")
    events = scope_events(events, scope)
    conversion = conversion if conversion is not None else default_conversion(journey)
    # The stage analysis, conformance, the touchpoint measures and trend and the
    # attribution share one labelling of the events (the stage tables' cached labelled
    # events); tables built here are dropped once all of them are done.
    with contextlib.ExitStack() as stack:
        tables = (
            stage_tables
            if stage_tables is not None
            else stack.enter_context(StageTables(events, journey, facts=facts, store=store))
        )
        stage_analysis: StageAnalysis = tables.analysis(percentile)
        # ``events`` are already scoped (scoping twice is not scoping once: a segment is
        # the customers matching it in the events given): the result only records the scope.
        shape: Conformance = replace(
            conformance(events, journey, stage_tables=tables, facts=facts),
            scope=scope,
        )
        measures: TouchpointMeasures = touchpoint_measures(
            events, journey, conversion=conversion, stage_tables=tables
        )
        trend: TouchpointTrend | None = None
        if conversion is not None:
            trend = touchpoint_trend(
                events,
                journey,
                conversion=conversion,
                period=period,
                within_seconds=CONVERSION_WINDOW_DAYS * 86400.0,
                stage_tables=tables,
            )
        credited: AttributionResult | None = None
        if conversion is not None:
            # Touches by touchpoint are the labelled events' touchpoints.
            credited = attribution(
                events,
                conversion=conversion,
                touch="touchpoint",
                journey=journey,
                models=attribution_model,
                stage_tables=tables,
            )
        # The responses (events with a score or a text) are read from the labelled
        # events, and scored once for both groupings.
        emotions = measured_emotions(
            events, by=("touchpoint_id", "stage_id"), journey=journey, stage_tables=tables
        )
    by_touchpoint: MeasuredEmotion = emotions["touchpoint_id"]
    by_stage: MeasuredEmotion = emotions["stage_id"]
    board: KpiResult = kpis(events, journey=journey, store=store)
    credit = _credit(credited, attribution_model)
    board_rows = _board_rows(board)
    totals = (
        events.aggregate(events=events.count(), first=events.ts.min(), last=events.ts.max())
        .to_pyarrow()
        .to_pylist()[0]
    )
    tp_emotion = {g.group: g for g in by_touchpoint.groups if g.group is not None}
    stage_emotion = {g.group: g for g in by_stage.groups if g.group is not None}

    living_touchpoints: dict[str, LivingTouchpoint] = {}
    for stage, tp in journey.iter_touchpoints():
        if tp.id in living_touchpoints:
            continue
        cell = LivingTouchpoint(
            touchpoint_id=tp.id,
            name=tp.name,
            stage_id=stage.id,
            designed_emotion=tp.emotion.score if tp.emotion else None,
            designed_evidence=tp.evidence,
            measures=measures.touchpoint(tp.id),
            emotion=tp_emotion.get(tp.id),
            attributed_conversions=credit[0].get(tp.id, 0.0) if credited else None,
            attributed_value=credit[1].get(tp.id, 0.0) if credit[1] is not None else None,
            kpis=board_rows.get(("touchpoint", tp.id), ()),
        )
        found = _emotion_findings(cell)
        if tp.events is not None and cell.measures.events == 0:
            found.append(
                Finding(
                    "unreached",
                    stage.id,
                    tp.id,
                    3,
                    0,
                    f"{tp.name}: bound to events, but no event matches (nobody reaches it)",
                )
            )
        living_touchpoints[tp.id] = _with_findings(cell, found)

    last_stage = _conversion_stage(journey, conversion)
    funnel_stages = {s.id for s in journey.ordered_stages()[: last_stage + 1]}
    before_conversion = [t for t in living_touchpoints.values() if t.stage_id in funnel_stages]
    for tp_id, found in _exit_findings(before_conversion, measures.total_customers).items():
        living_touchpoints[tp_id] = _with_findings(living_touchpoints[tp_id], found)
    if trend is not None:
        window = CONVERSION_WINDOW_DAYS * 86400.0
        names = {t.touchpoint_id: (t.name, t.stage_id) for t in living_touchpoints.values()}
        last = totals["last"]
        judged_until = (last - dt.timedelta(seconds=window)).date() if last else dt.date.min
        for finding in _period_findings(trend, names, judged_until):
            assert finding.touchpoint_id is not None
            cell = living_touchpoints[finding.touchpoint_id]
            living_touchpoints[finding.touchpoint_id] = _with_findings(cell, [finding])

    stages = []
    all_findings: list[Finding] = []
    for stage in journey.ordered_stages():
        touchpoints = tuple(
            living_touchpoints[tp.id] for tp in stage.touchpoints if tp.id in living_touchpoints
        )
        summary = stage_analysis.stage(stage.id)
        stage_found: list[Finding] = []
        stages.append(
            LivingStage(
                stage_id=stage.id,
                name=stage.name,
                summary=summary,
                emotion=stage_emotion.get(stage.id),
                designed_emotion=_designed_stage_emotion(stage),
                touchpoints=touchpoints,
                findings=_rank(stage_found),
                kpis=board_rows.get(("stage", stage.id), ()),
            )
        )
        all_findings += stage_found
        for cell in touchpoints:
            if cell.stage_id == stage.id:
                all_findings += cell.findings

    analyses: dict[str, AnalysisResult] = {
        "stages": stage_analysis,
        "touchpoints": measures,
        "emotion": by_touchpoint,
        "conformance": shape,
        "kpis": board,
    }
    if trend is not None:
        analyses["trend"] = trend
    if credited is not None:
        analyses["attribution"] = credited
    return LivingMap(
        journey=journey,
        conversion=conversion,
        total_customers=measures.total_customers,
        total_events=int(totals["events"]),
        first_seen=totals["first"],
        last_seen=totals["last"],
        stages=tuple(stages),
        conformance=shape,
        findings=_rank(all_findings),
        attribution_model=attribution_model,
        analyses=analyses,
        scope=scope,
    )


def prepare_living_map(events: ir.Table, journey: Journey) -> None:
    """Label the store's events (``Workspace.events()``) for ``journey`` and keep what the
    living map reads again (the stage tables and the tables made of them, the KPI board's
    flagged events) in the store, so that the next living map and report of this map read them
    (:func:`~jornada.engine.kept.kept_table`; ``jornada bind`` calls this). A later load
    drops them; a map whose rules did not change finds them again.

    >>> import tempfile, pathlib
    >>> from jornada.demo import create_demo_workspace
    >>> ws = create_demo_workspace(pathlib.Path(tempfile.mkdtemp()) / "w", customers=40)
    >>> prepare_living_map(ws.events(), ws.load_map("b2c-ecommerce"))
    >>> ws.engine.sql("SELECT count(*) > 0 FROM kept_tables").fetchone()
    (True,)
    """
    # The living map itself: what it keeps is exactly what the next one reads (the
    # intermediate tables of its parts, made on first use, included).
    living_map(events, journey, facts=True)


def _credit(
    result: AttributionResult | None, model: str
) -> tuple[dict[str, float], dict[str, float] | None]:
    """Conversions and value (None without value) credited to each touchpoint id."""
    if result is None:
        return {}, None
    conversions = dict(zip(result.channels, result.conversions[model], strict=True))
    if result.values is None:
        return conversions, None
    return conversions, dict(zip(result.channels, result.values[model], strict=True))


def _board_rows(board: KpiResult) -> dict[tuple[str, str], tuple[KpiValue, ...]]:
    """The board's rows by (scope type, scope id): per KPI the row of its latest period
    (the whole log when the KPI has no period), in the board's order."""
    latest: dict[tuple[str, str, str], KpiValue] = {}
    for row in board.rows:
        key = (row.scope_type, row.scope, row.kpi)
        if key not in latest or (row.period or dt.date.min) >= (latest[key].period or dt.date.min):
            latest[key] = row
    grouped: dict[tuple[str, str], list[KpiValue]] = {}
    for (kind, scope, _), row in latest.items():
        grouped.setdefault((kind, scope), []).append(row)
    return {key: tuple(rows) for key, rows in grouped.items()}


def _with_findings(cell: LivingTouchpoint, more: list[Finding]) -> LivingTouchpoint:
    if not more:
        return cell
    return replace(cell, findings=_rank([*cell.findings, *more]))


def accept_finding(journey: Journey, finding: Finding) -> Journey:
    """A copy of ``journey`` with the finding added to its touchpoint as a pain point,
    the numbers kept as its evidence; the touchpoint's evidence becomes ``measured``.

    >>> from jornada.model.templates import load_template
    >>> shop = load_template("b2c-ecommerce")
    >>> tp = shop.ordered_stages()[2].touchpoints[0].id
    >>> found = Finding("journeys_end_here", "buy", tp, 4, 120, "Checkout: 40% stop here",
    ...                 {"exit_rate": 0.4})
    >>> accepted = accept_finding(shop, found)
    >>> accepted.ordered_stages()[2].touchpoints[0].pain_points[-1].evidence
    '{"exit_rate": 0.4}'
    """
    if finding.touchpoint_id is None:
        raise ValueError("only a touchpoint's finding can become a pain point")
    data = journey.model_dump(mode="python")
    evidence = json.dumps(json_ready(finding.numbers), sort_keys=True, ensure_ascii=False)
    for stage in data["stages"]:
        for tp in stage["touchpoints"]:
            if tp["id"] == finding.touchpoint_id:
                point = PainPoint(
                    text=finding.message, severity=finding.severity, evidence=evidence
                )
                tp["pain_points"].append(point.model_dump(mode="python"))
                tp["evidence"] = "measured"
    return Journey.model_validate(data)
