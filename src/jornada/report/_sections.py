"""The report's sections, each built from the result of an existing analysis.

Every builder takes the shared :class:`Context` (the events, the map, the living map, the
language) and returns a :class:`~jornada.report._parts.Section`; nothing is measured here
that an analysis does not measure itself. Labels come from :mod:`jornada.i18n` (keys
``report.*``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go

from jornada.analytics.attribution import AttributionResult, attribution
from jornada.analytics.churn import ChurnDefinition, ChurnResult, churn
from jornada.analytics.clv import CLVResult, clv
from jornada.analytics.kpis import status_label
from jornada.analytics.paths import sankey
from jornada.analytics.results import AnalysisResult
from jornada.analytics.retention import retention
from jornada.analytics.stages import REASON_SEPARATOR, StageAnalysis, StageTables
from jornada.analytics.timing import TouchesResult, touches_before_conversion
from jornada.errors import JornadaError
from jornada.i18n import translate
from jornada.living.departments import departments
from jornada.living.overlay import LivingMap
from jornada.living.render import finding_text, render_living_fragment, scope_text
from jornada.model import Journey, Language, Stage
from jornada.report import _opportunities as opp
from jornada.report._format import cell, money
from jornada.report._parts import Chart, Claim, Column, Opportunity, Section, Table

__all__ = ["BUILDERS", "Basics", "Context", "Texts", "churn_of"]

SANKEY_STEPS = 4
RETENTION_PERIODS = 12
TOP_LINKS = 12
TOP_TRIGGERS = 10
TOP_DRIVERS = 8
CLV_BINS = 40


class Texts:
    """``report.*`` strings of one language, with ``{name}`` fields filled in."""

    def __init__(self, language: Language) -> None:
        self.language = language

    def __call__(self, key: str, **values: Any) -> str:
        text = translate(f"report.{key}", self.language)
        return text.format(**values) if values else text


@dataclass
class Basics:
    """What a section that reads no other analysis's result needs: churn runs on these
    alone (beside the other sections, on a connection of its own: see
    :func:`jornada.report.build_report`)."""

    events: Any
    journey: Journey
    language: Language
    churn_definition: ChurnDefinition | None = None

    @property
    def t(self) -> Texts:
        return Texts(self.language)

    def fmt(self, value: Any, kind: Any) -> str:
        return cell(value, kind, self.language, currency=self.journey.currency)


@dataclass
class Context:
    """What every section shares; sections may leave results here for later ones."""

    events: Any
    journey: Journey
    language: Language
    conversion: str | None
    purchase: str
    living: LivingMap
    churn_definition: ChurnDefinition | None = None
    value_per_conversion: float | None = None
    gaps: list[opp.StageGap] = field(default_factory=list)
    weeks: list[opp.BadWeek] = field(default_factory=list)
    _stage_tables: StageTables | None = field(default=None, repr=False)

    @property
    def t(self) -> Texts:
        return Texts(self.language)

    @property
    def stage_tables(self) -> StageTables:
        """The stages measured on ``events``, built on first use and shared by the
        sections that need more than the living map's stage analysis (the reach per
        arrival channel, the stalled customers); released by :meth:`close`."""
        if self._stage_tables is None:
            self._stage_tables = StageTables(self.events, self.journey)
        return self._stage_tables

    def close(self) -> None:
        """Release the cached stage tables (if they were built)."""
        if self._stage_tables is not None:
            self._stage_tables.close()
            self._stage_tables = None

    @property
    def currency(self) -> str | None:
        return self.journey.currency

    def fmt(self, value: Any, kind: Any) -> str:
        return cell(value, kind, self.language, currency=self.currency)

    def stage_name(self, stage_id: str) -> str:
        return next((s.name for s in self.journey.stages if s.id == stage_id), stage_id)

    def touchpoint_name(self, touchpoint_id: str | None) -> str:
        for _, tp in self.journey.iter_touchpoints():
            if tp.id == touchpoint_id:
                return tp.name
        return touchpoint_id or ""


def _titled(figure: go.Figure, title: str, **axes: str) -> go.Figure:
    """The analysis's own chart, with the report's title and axis labels (in its language)."""
    figure.update_layout(title=title, margin={"t": 60, "l": 60, "r": 20, "b": 50})
    if "x" in axes:
        figure.update_xaxes(title_text=axes["x"])
    if "y" in axes:
        figure.update_yaxes(title_text=axes["y"])
    return figure


def _renamed(figure: go.Figure, names: Mapping[str, str]) -> go.Figure:
    """Trace names in the report's language (the analyses name them in English)."""
    for trace in figure.data:
        name = getattr(trace, "name", None)
        if isinstance(name, str) and name in names:
            trace.name = names[name]
    return figure


def _failed(ctx: Context | Basics, section_id: str, title: str, error: JornadaError) -> Section:
    return Section(section_id, title, notes=(ctx.t("note.not_run", reason=str(error)),))


# --- persona and story ----------------------------------------------------------------------


def story(ctx: Context) -> Section:
    t, journey, living = ctx.t, ctx.journey, ctx.living
    table = Table(
        "story-facts",
        t("story.facts"),
        (
            Column("customers", t("story.customers"), "count"),
            Column("events", t("story.events"), "count"),
            Column("first_seen", t("story.first_seen"), "date"),
            Column("last_seen", t("story.last_seen"), "date"),
            Column("conversion", t("story.conversion")),
            Column("stages", t("story.stages"), "count"),
        ),
        (
            (
                living.total_customers,
                living.total_events,
                living.first_seen.date() if living.first_seen else None,
                living.last_seen.date() if living.last_seen else None,
                ctx.conversion,
                len(journey.stages),
            ),
        ),
    )
    personas = Table(
        "story-personas",
        t("story.personas"),
        (
            Column("name", t("col.name")),
            Column("role", t("col.role")),
            Column("quote", t("col.quote")),
            Column("goals", t("persona.goals")),
            Column("channels", t("persona.channels")),
        ),
        tuple(
            (
                p.name,
                p.role,
                p.quote,
                "; ".join(p.goals) or None,
                ", ".join(p.preferred_channels) or None,
            )
            for p in journey.personas
        ),
        tuple(f"persona-{p.id}" for p in journey.personas),
    )
    scoped = scope_text(living.scope, ctx.language)
    return Section(
        "story",
        t("section.story"),
        intro=journey.description or "",
        tables=(table, personas),
        notes=(scoped,) if scoped else (),
    )


# --- the living map ------------------------------------------------------------------------


def _finding_row_id(index: int) -> str:
    return f"finding-{index + 1}"


def living_map_section(ctx: Context) -> Section:
    t, living = ctx.t, ctx.living
    rows, ids, claims = [], [], []
    for index, finding in enumerate(living.findings):
        where = ctx.touchpoint_name(finding.touchpoint_id) or ctx.stage_name(finding.stage_id)
        text = finding_text(finding, living, ctx.language)
        rows.append(
            (
                index + 1,
                translate(f"living.finding.{finding.kind}", ctx.language),
                ctx.stage_name(finding.stage_id),
                where,
                finding.severity,
                finding.customers,
                text,
            )
        )
        ids.append(_finding_row_id(index))
        claims.append(
            Claim(f"claim-finding-{index + 1}", text, _finding_row_id(index), finding.numbers)
        )
    table = Table(
        "living-findings",
        t("living.findings"),
        (
            Column("rank", "#", "count"),
            Column("kind", t("col.kind")),
            Column("stage", t("col.stage")),
            Column("where", t("col.where")),
            Column("severity", t("col.severity"), "count"),
            Column("customers", t("col.customers"), "count"),
            Column("finding", t("col.finding")),
        ),
        tuple(rows),
        tuple(ids),
    )
    return Section(
        "living-map",
        t("section.living"),
        analyses={"living": living},
        intro=t("living.intro"),
        tables=(table,),
        claims=tuple(claims),
        notes=() if living.findings else (t("living.no_findings"),),
        fragment=render_living_fragment(living, language=ctx.language),
    )


# --- stages -----------------------------------------------------------------------------------


def stages(ctx: Context) -> Section:
    t = ctx.t
    analysis: StageAnalysis = ctx.living.analyses["stages"]  # type: ignore[assignment]
    rows = tuple(
        (
            s.name,
            s.reached,
            s.currently_in,
            s.conversion_to_next,
            s.conversion_from_first,
            s.median_dwell_seconds,
            s.stalled,
        )
        for s in analysis.stages
    )
    funnel_table = Table(
        "stage-funnel",
        t("stages.table"),
        (
            Column("stage", t("col.stage")),
            Column("reached", t("col.reached"), "count"),
            Column("currently_in", t("col.currently_in"), "count"),
            Column("conversion_to_next", t("col.conversion_to_next"), "percent"),
            Column("conversion_from_first", t("col.conversion_from_first"), "percent"),
            Column("median_dwell", t("col.median_dwell"), "duration"),
            Column("stalled", t("col.stalled"), "count"),
        ),
        rows,
        tuple(f"stage-{s.stage_id}" for s in analysis.stages),
    )
    channels = opp.arrival_channels(ctx.events)
    by_channel = opp.channel_reach(ctx.stage_tables, ctx.events, channels)
    ctx.gaps = opp.stage_gaps(analysis, by_channel)
    channel_rows = []
    for s in analysis.stages[:-1]:
        rates = []
        for channel in channels:
            summary = by_channel.stage(channel, s.stage_id)
            enough = summary.reached >= opp.MIN_SEGMENT_CUSTOMERS
            rates.append(summary.conversion_to_next if enough else None)
        channel_rows.append((s.name, s.reached, s.conversion_to_next, *rates))
    channel_table = Table(
        "stage-channels",
        t("stages.by_channel"),
        (
            Column("stage", t("col.stage")),
            Column("reached", t("col.reached"), "count"),
            Column("all", t("col.all_customers"), "percent"),
            *(Column(f"channel_{c}", c, "percent") for c in channels),
        ),
        tuple(channel_rows),
        tuple(f"channels-{s.stage_id}" for s in analysis.stages[:-1]),
    )
    figure = _renamed(
        analysis.chart(),
        {
            "reached": t("col.reached"),
            "currently in": t("col.currently_in"),
            "stalled": t("col.stalled"),
        },
    )
    analyses: dict[str, AnalysisResult] = {"stages": analysis, "stages_by_channel": by_channel}
    return Section(
        "stages",
        t("section.stages"),
        analyses=analyses,
        intro=t("stages.intro"),
        tables=(funnel_table, channel_table),
        charts=(
            Chart(
                "chart-stages",
                t("section.stages"),
                _titled(figure, t("section.stages"), y=t("col.customers")),
            ),
        ),
    )


# --- paths ------------------------------------------------------------------------------------


def paths(ctx: Context) -> Section:
    t = ctx.t
    result = sankey(ctx.events, steps=SANKEY_STEPS)
    rows = tuple(
        (link.source_step, link.source, link.target, link.paths)
        for link in sorted(result.links, key=lambda link: -link.paths)[:TOP_LINKS]
    )
    table = Table(
        "sankey-links",
        t("paths.table"),
        (
            Column("step", t("col.step"), "count"),
            Column("source", t("col.from")),
            Column("target", t("col.to")),
            Column("paths", t("col.customers"), "count"),
        ),
        rows,
    )
    chart = Chart(
        "chart-sankey",
        t("section.paths"),
        _titled(result.chart(), t("paths.chart", steps=SANKEY_STEPS)),
    )
    return Section(
        "paths",
        t("section.paths"),
        analyses={"sankey": result},
        intro=t("paths.intro"),
        tables=(table,),
        charts=(chart,),
    )


# --- touches before conversion -------------------------------------------------------------------


def touches(ctx: Context) -> Section:
    t = ctx.t
    if ctx.conversion is None:
        return Section("touches", t("section.touches"), notes=(t("note.no_conversion"),))
    try:
        result: TouchesResult = touches_before_conversion(
            ctx.events, ctx.conversion, touch="touchpoints", journey=ctx.journey
        )
    except JornadaError as error:
        return _failed(ctx, "touches", t("section.touches"), error)
    rows = tuple(
        (
            label,
            group.customers,
            group.mean_touches,
            group.median_touches,
            group.touches_quantile(0.9),
            group.mean_channels,
        )
        for label, group in (
            (t("touches.converted"), result.converters),
            (t("touches.not_converted"), result.non_converters),
        )
    )
    table = Table(
        "touches-table",
        t("touches.table", conversion=ctx.conversion),
        (
            Column("group", t("col.group")),
            Column("customers", t("col.customers"), "count"),
            Column("mean_touches", t("col.mean_touches"), "decimal"),
            Column("median_touches", t("col.median_touches"), "decimal"),
            Column("p90_touches", t("col.p90_touches"), "decimal"),
            Column("mean_channels", t("col.mean_channels"), "decimal"),
        ),
        rows,
        ("touches-converted", "touches-not-converted"),
    )
    claims: tuple[Claim, ...] = ()
    if result.converters.customers:
        claims = (
            Claim(
                "claim-touches",
                t(
                    "touches.claim",
                    median=ctx.fmt(result.converters.median_touches, "decimal"),
                    channels=ctx.fmt(result.converters.mean_channels, "decimal"),
                ),
                "touches-converted",
                {
                    "median_touches": result.converters.median_touches,
                    "mean_channels": result.converters.mean_channels,
                },
            ),
        )
    figure = _renamed(result.chart(), {})
    for trace, label in zip(
        figure.data, (t("touches.converted"), t("touches.not_converted")), strict=False
    ):
        trace.name = label
    chart = Chart(
        "chart-touches",
        t("section.touches"),
        _titled(figure, t("section.touches"), x=t("col.touches"), y=t("col.share")),
    )
    return Section(
        "touches",
        t("section.touches"),
        analyses={"touches": result},
        intro=t("touches.intro"),
        tables=(table,),
        charts=(chart,),
        claims=claims,
    )


# --- attribution ------------------------------------------------------------------------------


def attribution_section(ctx: Context) -> Section:
    t = ctx.t
    if ctx.conversion is None:
        return Section("attribution", t("section.attribution"), notes=(t("note.no_conversion"),))
    try:
        result: AttributionResult = attribution(
            ctx.events, conversion=ctx.conversion, journey=ctx.journey
        )
    except JornadaError as error:
        return _failed(ctx, "attribution", t("section.attribution"), error)
    if not result.total_conversions:
        note = t("attribution.no_conversions", conversion=ctx.conversion)
        return Section("attribution", t("section.attribution"), notes=(note,))
    if result.total_value is not None and result.total_conversions:
        ctx.value_per_conversion = result.total_value / result.total_conversions
    rows = tuple(
        (channel, *(result.conversions[m][i] for m in result.models))
        for i, channel in enumerate(result.channels)
    )
    table = Table(
        "attribution-table",
        t("attribution.table", total=ctx.fmt(result.total_conversions, "count")),
        (
            Column("channel", t("col.channel")),
            *(
                Column(m, translate(f"report.model.{m}", ctx.language), "decimal")
                for m in result.models
            ),
        ),
        rows,
        tuple(f"attribution-{c}" for c in result.channels),
    )
    claims = []
    if result.channels and "first_touch" in result.models and "last_touch" in result.models:
        first = result.conversions["first_touch"]
        last = result.conversions["last_touch"]
        opener = result.channels[int(np.argmax(first))]
        closer = result.channels[int(np.argmax(last))]
        claims.append(
            Claim(
                "claim-attribution",
                t("attribution.claim", opener=opener, closer=closer)
                if opener != closer
                else t("attribution.claim_same", channel=opener),
                f"attribution-{opener}",
                {"opener": opener, "closer": closer},
            )
        )
    figure = result.chart()
    if len(figure.data) == len(result.models):  # one trace per model, in the models' order
        for trace, model in zip(figure.data, result.models, strict=True):
            trace.name = translate(f"report.model.{model}", ctx.language)
    figure = _titled(figure, t("section.attribution"), x=t("col.channel"), y=t("attribution.axis"))
    chart = Chart("chart-attribution", t("section.attribution"), figure)
    return Section(
        "attribution",
        t("section.attribution"),
        analyses={"attribution": result},
        intro=t("attribution.intro"),
        tables=(table,),
        charts=(chart,),
        claims=tuple(claims),
    )


# --- KPIs -------------------------------------------------------------------------------------


def kpi_section(ctx: Context) -> Section:
    t = ctx.t
    board = ctx.living.analyses["kpis"]
    rows, ids, off = [], [], []
    for stage in ctx.living.stages:
        cells = [(stage.name, row) for row in stage.kpis] + [
            (tp.name, row) for tp in stage.touchpoints for row in tp.kpis
        ]
        for where, row in cells:
            row_id = f"kpi-{row.scope_type}-{row.scope}-{row.kpi}"
            if row_id in ids:
                continue
            value = row.value * 100 if row.unit == "ratio" and row.value is not None else row.value
            target = (
                row.target * 100 if row.unit == "ratio" and row.target is not None else row.target
            )
            rows.append(
                (
                    where,
                    row.name,
                    row.period.isoformat() if row.period else None,
                    value,
                    target,
                    "%" if row.unit == "ratio" else row.unit,
                    status_label(row.status, ctx.language) if row.status else None,
                )
            )
            ids.append(row_id)
            if row.status in ("missed", "at_risk"):
                off.append((row_id, where, row))
    table = Table(
        "kpi-table",
        t("kpis.table"),
        (
            Column("scope", t("col.where")),
            Column("kpi", t("col.kpi")),
            Column("period", t("col.period"), "date"),
            Column("value", t("col.value"), "decimal"),
            Column("target", t("col.target"), "decimal"),
            Column("unit", t("col.unit")),
            Column("status", t("col.status")),
        ),
        tuple(rows),
        tuple(ids),
    )
    claims = tuple(
        Claim(
            f"claim-{row_id}",
            t(
                "kpis.claim",
                kpi=row.name,
                where=where,
                status=status_label(row.status or "", ctx.language),
            ),
            row_id,
            {"value": row.value, "target": row.target, "status": row.status},
        )
        for row_id, where, row in off
    )
    return Section(
        "kpis",
        t("section.kpis"),
        analyses={"kpis": board},
        intro=t("kpis.intro"),
        tables=(table,),
        claims=claims,
        notes=() if rows else (t("kpis.none"),),
    )


# --- retention --------------------------------------------------------------------------------


def retention_section(ctx: Context) -> Section:
    t = ctx.t
    result = retention(ctx.events, period="week", periods=RETENTION_PERIODS)
    shown = [k for k in (1, 4, 8) if k < result.periods]
    rows = tuple(
        (c.start.isoformat(), c.customers, *(c.rate(k) for k in shown)) for c in result.cohorts
    )
    table = Table(
        "retention-table",
        t("retention.table"),
        (
            Column("cohort", t("col.cohort"), "date"),
            Column("customers", t("col.customers"), "count"),
            *(Column(f"week_{k}", t("col.week_n", n=k), "percent") for k in shown),
        ),
        rows,
    )
    figure = _titled(
        result.chart(), t("section.retention"), x=t("col.weeks_after"), y=t("col.cohort")
    )
    return Section(
        "retention",
        t("section.retention"),
        analyses={"retention": result},
        intro=t("retention.intro"),
        tables=(table,),
        charts=(Chart("chart-retention", t("section.retention"), figure),),
    )


# --- CLV --------------------------------------------------------------------------------------


def clv_section(ctx: Context) -> Section:
    t = ctx.t
    try:
        result: CLVResult = clv(ctx.events, ctx.purchase, journey=ctx.journey)
    except JornadaError as error:
        return _failed(ctx, "clv", t("section.clv"), error)
    values = np.asarray(result.clv, dtype=float)
    values = values[np.isfinite(values)]
    rows: tuple[tuple[Any, ...], ...] = ()
    if values.size:
        rows = (
            (
                int(values.size),
                float(values.mean()),
                float(np.median(values)),
                float(np.quantile(values, 0.9)),
                float(values.sum()),
                float(np.mean(result.p_alive)),
            ),
        )
    table = Table(
        "clv-table",
        t("clv.table", horizon=ctx.fmt(result.horizon_days / 30.4375, "decimal")),
        (
            Column("customers", t("col.customers"), "count"),
            Column("mean", t("col.mean_clv"), "money"),
            Column("median", t("col.median_clv"), "money"),
            Column("p90", t("col.p90_clv"), "money"),
            Column("total", t("col.total_clv"), "money"),
            Column("p_alive", t("col.p_alive"), "percent"),
        ),
        rows,
        ("clv-summary",),
    )
    figure = _histogram(values, CLV_BINS, t("col.customers"))
    figure = _titled(figure, t("clv.chart"), x=t("col.clv"), y=t("col.customers"))
    return Section(
        "clv",
        t("section.clv"),
        analyses={"clv": result},
        intro=t("clv.intro", purchase=ctx.purchase),
        tables=(table,),
        charts=(Chart("chart-clv", t("clv.chart"), figure),),
        notes=tuple(result.notes),
    )


def _histogram(values: np.ndarray[Any, Any], bins: int, name: str) -> go.Figure:
    """``values`` counted in ``bins`` equal bins from their least to their greatest, drawn
    as touching bars: the page carries ``bins`` counts, not one number per customer (at
    100M events the CLV section had millions of them).

    >>> bars = _histogram(np.array([0.0, 1.0, 1.0, 4.0]), 4, "customers").data[0]
    >>> bars.x.tolist(), bars.y.tolist(), bars.width
    ([0.5, 1.5, 2.5, 3.5], [1, 2, 0, 1], 1.0)
    """
    counts, edges = np.histogram(values, bins=bins)
    bars = go.Bar(
        x=(edges[:-1] + edges[1:]) / 2,
        y=counts,
        width=float(edges[1] - edges[0]),
        customdata=np.column_stack([edges[:-1], edges[1:]]),
        hovertemplate="%{customdata[0]:,.2f} – %{customdata[1]:,.2f}: %{y:,}<extra></extra>",
        name=name,
    )
    return go.Figure(bars, layout={"bargap": 0})


# --- churn ------------------------------------------------------------------------------------


def churn_section(ctx: Context) -> Section:
    return churn_of(Basics(ctx.events, ctx.journey, ctx.language, ctx.churn_definition))


def churn_of(ctx: Basics) -> Section:
    """The churn section: the model's drivers, the triggers and their chart."""
    t = ctx.t
    try:
        result: ChurnResult = churn(
            ctx.events, definition=ctx.churn_definition, journey=ctx.journey, top=20
        )
    except JornadaError as error:
        return _failed(ctx, "churn", t("section.churn"), error)
    drivers = Table(
        "churn-drivers",
        t("churn.drivers"),
        (
            Column("feature", t("col.driver")),
            Column("importance", t("col.importance"), "decimal"),
        ),
        tuple((i.description or i.feature, i.importance) for i in result.importance[:TOP_DRIVERS]),
        tuple(f"driver-{i.feature}" for i in result.importance[:TOP_DRIVERS]),
    )
    triggers = result.triggers.triggers[:TOP_TRIGGERS] if result.triggers else ()
    trigger_table = Table(
        "churn-triggers",
        t("churn.triggers"),
        (
            Column("trigger", t("col.trigger")),
            Column("exposed", t("col.exposed"), "count"),
            Column("lift", t("col.lift"), "ratio"),
            Column("ci_low", t("col.ci_low"), "ratio"),
            Column("peak", t("col.peak"), "date"),
        ),
        tuple((tr.trigger, tr.exposed, tr.lift, tr.ci_low, tr.peak_period) for tr in triggers),
        tuple(f"trigger-{i + 1}" for i in range(len(triggers))),
    )
    claims = tuple(
        Claim(
            f"claim-trigger-{i + 1}",
            t(
                "churn.claim",
                trigger=tr.trigger,
                lift=ctx.fmt(tr.lift, "ratio"),
                low=ctx.fmt(tr.ci_low, "ratio"),
            ),
            f"trigger-{i + 1}",
            {"lift": tr.lift, "ci_low": tr.ci_low, "exposed": tr.exposed},
        )
        for i, tr in enumerate(triggers[:3])
        if tr.ci_low > 1
    )
    notes = (result.triggers_skipped,) if result.triggers_skipped else ()
    auc = result.evaluation.to_dict().get("roc_auc")
    intro = t(
        "churn.intro",
        auc=ctx.fmt(auc, "decimal"),
        customers=ctx.fmt(result.scored_customers, "count"),
    )
    return Section(
        "churn",
        t("section.churn"),
        analyses={"churn": result},
        intro=intro,
        tables=(drivers, trigger_table),
        charts=(
            Chart(
                "chart-churn",
                t("churn.triggers"),
                _titled(result.triggers.chart(), t("churn.triggers")),
            ),
        )
        if result.triggers and result.triggers.triggers
        else (),
        claims=claims,
        notes=notes,
    )


# --- stalled customers ------------------------------------------------------------------------


def stalled_counts(table: Any) -> dict[str, dict[str, int]]:
    """Stalled customers per stage id and reason (``slow``, ``missed milestone ID``) of a
    :meth:`~jornada.analytics.stages.StageTables.stalled_table`, grouped in the engine per
    stage and combination of reasons (as
    :meth:`~jornada.analytics.stages.StalledCustomers.counts` counts its rows).

    >>> import ibis
    >>> table = ibis.memtable({"stage_id": ["buy", "buy", "look"],
    ...                        "reason": ["slow; missed milestone paid", "slow", "slow"]})
    >>> stalled_counts(table) == {"buy": {"slow": 2, "missed milestone paid": 1},
    ...                           "look": {"slow": 1}}
    True
    """
    grouped = table.group_by(["stage_id", "reason"]).aggregate(customers=table.count())
    counts: dict[str, dict[str, int]] = {}
    for row in grouped.to_pyarrow().to_pylist():
        per_reason = counts.setdefault(row["stage_id"], {})
        for reason in row["reason"].split(REASON_SEPARATOR):
            per_reason[reason] = per_reason.get(reason, 0) + int(row["customers"])
    return counts


def stalled(ctx: Context) -> Section:
    t = ctx.t
    analysis: StageAnalysis = ctx.living.analyses["stages"]  # type: ignore[assignment]
    # The stalled customers at the living map's percentile, on the same tables, counted
    # in the engine: the page shows counts, and at 100M events the customers themselves
    # (millions of rows fetched, then sorted) took the report past 9 GB.
    counts = stalled_counts(ctx.stage_tables.stalled_table(analysis.percentile))
    rows = []
    for s in analysis.stages:
        reasons = counts.get(s.stage_id, {})
        text = ", ".join(
            f"{t('stalled.slow') if r == 'slow' else t('stalled.missed', milestone=r.removeprefix('missed milestone '))}: {ctx.fmt(n, 'count')}"
            for r, n in sorted(reasons.items())
        )
        share = s.stalled / s.currently_in if s.currently_in else None
        rows.append(
            (s.name, s.currently_in, s.stalled, share, s.threshold_dwell_seconds, text or None)
        )
    table = Table(
        "stalled-table",
        t("stalled.table"),
        (
            Column("stage", t("col.stage")),
            Column("currently_in", t("col.currently_in"), "count"),
            Column("stalled", t("col.stalled"), "count"),
            Column("share", t("col.share"), "percent"),
            Column("threshold", t("col.threshold"), "duration"),
            Column("reasons", t("col.reasons")),
        ),
        tuple(rows),
        tuple(f"stalled-{s.stage_id}" for s in analysis.stages),
    )
    worst = max(analysis.stages, key=lambda s: s.stalled, default=None)
    claims: tuple[Claim, ...] = ()
    if worst is not None and worst.stalled:
        claims = (
            Claim(
                "claim-stalled",
                t("stalled.claim", stage=worst.name, stalled=ctx.fmt(worst.stalled, "count")),
                f"stalled-{worst.stage_id}",
                {"stalled": worst.stalled, "currently_in": worst.currently_in},
            ),
        )
    return Section(
        "stalled",
        t("section.stalled"),
        analyses={"stages": analysis},
        intro=t("stalled.intro"),
        tables=(table,),
        claims=claims,
    )


# --- departments ------------------------------------------------------------------------------


def departments_section(ctx: Context) -> Section:
    t = ctx.t
    result = departments(ctx.living)
    rows, ids = [], []
    for view in result.departments:
        summary = view.kpi_summary()
        rows.append(
            (
                view.name or t("departments.unassigned"),
                ", ".join(tp.name for tp in view.touchpoints) or None,
                max((tp.measures.customers for tp in view.touchpoints), default=0),
                len(view.findings),
                summary["met"],
                summary["at_risk"] + summary["missed"],
            )
        )
        ids.append(f"department-{view.department_id or 'none'}")
    table = Table(
        "department-table",
        t("departments.table"),
        (
            Column("department", t("col.department")),
            Column("touchpoints", t("col.touchpoints")),
            Column("customers", t("col.max_customers"), "count"),
            Column("findings", t("col.findings"), "count"),
            Column("kpis_met", t("col.kpis_met"), "count"),
            Column("kpis_off", t("col.kpis_off"), "count"),
        ),
        tuple(rows),
        tuple(ids),
    )
    claims = tuple(
        Claim(
            f"claim-department-{view.department_id or 'none'}",
            t(
                "departments.claim",
                department=view.name or t("departments.unassigned"),
                findings=ctx.fmt(len(view.findings), "count"),
            ),
            ids[index],
            {"findings": len(view.findings)},
        )
        for index, view in enumerate(result.departments)
        if view.findings and view.department_id is not None
    )
    return Section(
        "departments",
        t("section.departments"),
        analyses={"departments": result},
        intro=t("departments.intro"),
        tables=(table,),
        claims=claims,
        notes=() if ctx.journey.departments else (t("departments.none"),),
    )


# --- opportunities ----------------------------------------------------------------------------


def _conversion_stage(ctx: Context) -> Stage | None:
    """The stage the conversion step belongs to: the stage of that milestone, stage or
    touchpoint id, else of the first touchpoint bound to an event of that name."""
    if ctx.conversion is None:
        return None
    for stage in ctx.journey.ordered_stages():
        ids = {stage.id, *(m.id for m in stage.milestones), *(tp.id for tp in stage.touchpoints)}
        if ctx.conversion in ids:
            return stage
    for stage in ctx.journey.ordered_stages():
        for tp in stage.touchpoints:
            if tp.events is not None and ctx.conversion in (tp.events.names or ()):
                return stage
    return None


def _downstream_value(ctx: Context, stage_id: str) -> float | None:
    """The value of one more customer reaching the stage after ``stage_id``: the share of
    that stage's customers who convert times the value of a conversion (None after the
    conversion's stage or without values)."""
    if ctx.value_per_conversion is None:
        return None
    attribution_result = ctx.living.analyses.get("attribution")
    analysis: StageAnalysis = ctx.living.analyses["stages"]  # type: ignore[assignment]
    ids = [s.stage_id for s in analysis.stages]
    position = ids.index(stage_id) + 1
    stage = _conversion_stage(ctx)
    conversion_stage = ids.index(stage.id) if stage is not None else len(ids) - 1
    if position > conversion_stage or not isinstance(attribution_result, AttributionResult):
        return None
    reached = analysis.stages[position].reached
    share = min(1.0, attribution_result.total_conversions / reached) if reached else 0.0
    return share * ctx.value_per_conversion


def opportunities(ctx: Context) -> tuple[Section, tuple[Opportunity, ...]]:
    t = ctx.t
    found: list[Opportunity] = []
    for gap in ctx.gaps:
        worth = _downstream_value(ctx, gap.stage_id)
        text = t(
            "opportunity.stage_gap",
            stage=gap.stage,
            next=gap.next_stage,
            rate=ctx.fmt(gap.rate, "percent"),
            channel=gap.best_channel,
            best=ctx.fmt(gap.best_rate, "percent"),
            customers=ctx.fmt(gap.recovered, "count"),
        )
        numbers = {
            "reached": gap.reached,
            "rate": gap.rate,
            "best_channel": gap.best_channel,
            "best_rate": gap.best_rate,
            "best_rate_low": gap.best_low,
            "best_reached": gap.best_reached,
        }
        found.append(
            Opportunity(
                "stage_gap",
                gap.stage_id,
                None,
                gap.recovered,
                None if worth is None else gap.recovered * worth,
                Claim("", text, f"channels-{gap.stage_id}", numbers),
            )
        )
    funnels: dict[str, Any] = {}
    stage = _conversion_stage(ctx)
    if ctx.conversion is not None and stage is not None:
        bound = [tp.id for tp in stage.touchpoints if tp.events is not None]
        if bound:
            funnels = opp.week_funnels(ctx.events, ctx.journey, ctx.conversion, bound)
            ctx.weeks = opp.bad_weeks(funnels, ctx.living.last_seen)
    week_rows = []
    for index, week in enumerate(ctx.weeks):
        row_id = f"week-{index + 1}"
        week_rows.append(
            (
                week.week.isoformat(),
                week.channel,
                ctx.touchpoint_name(week.touchpoint_id),
                week.sessions,
                week.rate,
                week.usual_rate,
                week.lost,
                week.p_value,
            )
        )
        text = t(
            "opportunity.bad_week",
            week=ctx.fmt(week.week, "date"),
            channel=week.channel,
            touchpoint=ctx.touchpoint_name(week.touchpoint_id),
            rate=ctx.fmt(week.rate, "percent"),
            usual=ctx.fmt(week.usual_rate, "percent"),
            lost=ctx.fmt(week.lost, "count"),
        )
        numbers = {
            "week": week.week.isoformat(),
            "channel": week.channel,
            "touchpoint_id": week.touchpoint_id,
            "sessions": week.sessions,
            "converted": week.converted,
            "rate": week.rate,
            "usual_rate": week.usual_rate,
            "p_value": week.p_value,
        }
        stage_id = next(
            s.id for s, tp in ctx.journey.iter_touchpoints() if tp.id == week.touchpoint_id
        )
        worth = ctx.value_per_conversion
        found.append(
            Opportunity(
                "bad_week",
                stage_id,
                week.touchpoint_id,
                week.lost,
                None if worth is None else week.lost * worth,
                Claim("", text, row_id, numbers),
            )
        )
    for index, finding in enumerate(ctx.living.findings):
        if finding.kind not in ("journeys_end_here", "bad_period", "unreached"):
            continue
        worth = ctx.value_per_conversion if finding.kind == "bad_period" else None
        found.append(
            Opportunity(
                finding.kind,
                finding.stage_id,
                finding.touchpoint_id,
                float(finding.customers),
                None if worth is None else finding.customers * worth,
                Claim(
                    "",
                    finding_text(finding, ctx.living, ctx.language),
                    _finding_row_id(index),
                    finding.numbers,
                ),
            )
        )
    ranked = sorted(found, key=lambda o: (-(o.value or 0.0), -o.customers, o.stage_id))
    ranked = [
        Opportunity(
            o.kind,
            o.stage_id,
            o.touchpoint_id,
            o.customers,
            o.value,
            Claim(f"opportunity-{i + 1}", o.claim.text, o.claim.target, o.claim.numbers),
        )
        for i, o in enumerate(ranked)
    ]
    table = Table(
        "opportunity-table",
        t("opportunities.table"),
        (
            Column("rank", "#", "count"),
            Column("kind", t("col.kind")),
            Column("stage", t("col.stage")),
            Column("opportunity", t("col.opportunity")),
            Column("customers", t("col.customers_recovered"), "count"),
            Column("value", t("col.value_recovered"), "money"),
        ),
        tuple(
            (
                i + 1,
                t(f"kind.{o.kind}"),
                ctx.stage_name(o.stage_id),
                o.claim.text,
                o.customers,
                o.value,
            )
            for i, o in enumerate(ranked)
        ),
        tuple(o.claim.id for o in ranked),
    )
    weeks_table = Table(
        "bad-weeks",
        t("opportunities.weeks"),
        (
            Column("week", t("col.week"), "date"),
            Column("channel", t("col.channel")),
            Column("touchpoint", t("col.where")),
            Column("sessions", t("col.sessions"), "count"),
            Column("rate", t("col.rate"), "percent"),
            Column("usual", t("col.usual_rate"), "percent"),
            Column("lost", t("col.lost"), "count"),
            Column("p_value", t("col.p_value"), "pvalue"),
        ),
        tuple(week_rows),
        tuple(f"week-{i + 1}" for i in range(len(week_rows))),
    )
    value_note = (
        t(
            "opportunities.value_note",
            value=money(ctx.value_per_conversion, ctx.language, ctx.currency),
        )
        if ctx.value_per_conversion is not None
        else t("opportunities.no_value")
    )
    section = Section(
        "opportunities",
        t("section.opportunities"),
        analyses={f"week_funnel_{tp}": result for tp, result in funnels.items()},
        intro=t("opportunities.intro"),
        tables=(table, weeks_table),
        claims=tuple(o.claim for o in ranked),
        notes=(value_note,) if ranked else (t("opportunities.none"), value_note),
    )
    return section, tuple(ranked)


Builder = Callable[[Context], Section]
BUILDERS: tuple[tuple[str, Builder], ...] = (
    ("story", story),
    ("living-map", living_map_section),
    ("stages", stages),
    ("stalled", stalled),
    ("paths", paths),
    ("touches", touches),
    ("attribution", attribution_section),
    ("kpis", kpi_section),
    ("retention", retention_section),
    ("clv", clv_section),
    ("departments", departments_section),
    ("churn", churn_section),
)
"""Section builders in the order they run, not the order shown (``SECTION_ORDER``). The
sections reading the stage tables (:data:`STAGE_TABLE_READERS`) run first, so the tables
are released before the rest (churn, the costliest, gets the engine's memory); the
opportunities come last: they use what the stages and attribution sections left in the
context."""

STAGE_TABLE_READERS: frozenset[str] = frozenset({"living-map", "stages", "stalled"})
"""The sections that read ``Context.stage_tables`` (reading them after their release
builds them again: correct, but slow)."""
