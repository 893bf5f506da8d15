"""Churn, its drivers and propensity: who is about to leave (or buy), why, and which moments
of the journey come before it.

**What churn is** (:class:`ChurnDefinition`, per run or per workspace in the ``[churn]``
table of ``jornada.toml``): a customer has churned after ``inactive_days`` without
activity (default 60; ``activity`` says which events count, default all), or at a
cancellation (``cancel``: event names such as ``account_closed``, touchpoint or stage ids of
a map, or rules), whichever comes first. Given cancellations only, inactivity does not
count unless ``inactive_days`` is given too. A cancellation is final.

**Labels at a cutoff** ``c`` with a window ``W`` (default: the inactivity period, or 60
days): the population is the customers *alive* at ``c``: active before ``c``, not cancelled
before ``c`` and, with inactivity, active in the ``inactive_days`` before ``c``. Their
features (:mod:`jornada.analytics.features`) use only events before ``c``. The label is
*churned by* ``c + W``: cancelled before ``c + W`` or, with inactivity, without activity in
the ``inactive_days`` before ``c + W`` (with ``W`` equal to the inactivity period: no
activity at all in ``[c, c + W)``).

**The time-based split.** With the scoring time ``as_of`` (default: just after the last
event) the model is trained at ``as_of - 2W`` (labels from ``[as_of - 2W, as_of - W)``) and
evaluated at ``as_of - W`` on the held-out period ``[as_of - W, as_of)``: ROC AUC, PR AUC,
Brier score and a reliability table (:mod:`jornada.analytics._churn_model`). The model that
scores customers at ``as_of`` is then refitted, same settings, at ``as_of - W`` (the most
recent labelled period), and the at-risk list ranks the customers alive at ``as_of``.
Columns are chosen once, from the events before the training cutoff. Beyond 100,000
customers each model is fitted on a seeded sample of them (every customer of the rarer
outcome, the others drawn and weighted; see :mod:`jornada.analytics._churn_model`): the
evaluation says on how many. The samples are drawn from the labels first, so the features
at the training and evaluation cutoffs are computed for the sampled customers only (the
same models as with everyone's). Beyond 100,000 held-out customers the evaluation's
figures are measured on the final model's weighted sample (an estimate; the base rate
stays exact; decision 0005), and the result says on how many. Every customer is scored.

**Drivers.** Global: permutation importance and partial dependence, measured with the
trained model on the held-out period. Per customer: the columns whose population median
would lower that customer's risk most (see :mod:`jornada.analytics._churn_model`).

**Behavioural triggers** (:func:`churn_triggers`; details in
:mod:`jornada.analytics._churn_triggers`): time is cut into exposure windows (a week by
default). A window's population is the customers alive at its start who did something in
it (before they cancelled); they are exposed to a trigger (an event, an event with one
value of a categorical property, two consecutive events, a touchpoint) when it happens in
the window, and the outcome is having churned within ``W`` of the window's end. The lift
is the risk ratio exposed / not exposed over all customer-windows, with a 95% interval
from the log risk ratio (``exp(log RR ± 1.96·se)``, ``se² = 1/a - 1/n₁ + 1/c - 1/n₀``;
0.5 added to every cell when one is zero). Triggers are ranked by the interval's lower
bound (the lift we are confident of), those exposing fewer than ``min_support``
customer-windows left out. Each comes with the month in which it lost the most customers
(its *peak*: the month its exposure windows start in), so a trigger of one period (a
support backlog in April) shows when it happened; ``since``/``until`` look at one period.
The same customer appears in several windows: the intervals treat customer-windows as
independent, which makes them somewhat narrower than they should be.

**Propensity** (:func:`propensity`): the same machinery for a next purchase (or any step,
optionally of one category: ``where="product_category=trail_shoes"``) within the window,
among the customers with an event before the cutoff.

>>> round(risk_ratio(30, 100, 10, 100).lift, 6)
3.0
>>> [round(x, 2) for x in risk_ratio(30, 100, 10, 100).interval]
[1.55, 5.8]
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.graph_objects as go
import pyarrow as pa
import pyarrow.compute as pc
from plotly.subplots import make_subplots
from rich.table import Table
from sklearn.ensemble import HistGradientBoostingClassifier

from jornada.analytics import _churn_model as model_
from jornada.analytics._churn_labels import (
    DEFAULT_INACTIVE_DAYS,
    ChurnDefinition,
    ChurnError,
    Outcome,
    PurchaseTarget,
    Window,
)
from jornada.analytics._churn_model import (
    CalibrationBin,
    Dependence,
    Importance,
    Metrics,
    Reason,
)
from jornada.analytics._churn_triggers import (
    ANY,
    categorical_properties,
    describe_token,
    exposure_counts,
)
from jornada.analytics.features import (
    DEFAULT_TOP_CHANNELS,
    DEFAULT_TOP_EVENTS,
    INFO_COLUMNS,
    FeatureSpec,
    feature_spec,
    features_arrow,
    features_by_cutoff_arrow,
    utc_naive,
)
from jornada.analytics.funnel import parse_window
from jornada.analytics.results import AnalysisResult, json_ready
from jornada.model import Journey

__all__ = [
    "DEFAULT_INACTIVE_DAYS",
    "AtRiskCustomer",
    "CalibrationBin",
    "ChurnDefinition",
    "ChurnError",
    "ChurnResult",
    "Dependence",
    "Evaluation",
    "Importance",
    "PropensityResult",
    "PurchaseTarget",
    "Reason",
    "RiskRatio",
    "Trigger",
    "TriggerResult",
    "churn",
    "churn_triggers",
    "propensity",
    "risk_ratio",
]

_Z: Final = 1.959963984540054
DEFAULT_EVERY: Final = "7d"
DEFAULT_MIN_SUPPORT: Final = 20
DEFAULT_MAX_LEVELS: Final = 12
DEFAULT_TOP: Final = 100
_PD_FEATURES: Final = 3
_SHOWN: Final = 10
# Beyond this many customers alive at the scoring time they are scored in ranges of ids
# of this many (features, risks, then the next range): the features of every customer at
# once took over 9 GB at 100M events. A module variable: tests lower it.
SCORE_RANGE = 500_000


# --- risk ratios ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskRatio:
    lift: float
    interval: tuple[float, float]


def risk_ratio(a: int, n1: int, c: int, n0: int) -> RiskRatio:
    """Risk ratio (a/n1) / (c/n0) of ``a`` outcomes among ``n1`` exposed and ``c`` among
    ``n0`` unexposed, with its 95% log interval; 0.5 is added to each of the four cells
    when one is zero (then the ratio is finite). NaN when a group is empty.

    >>> round(risk_ratio(0, 10, 5, 100).lift, 4)  # (0.5 / 11) / (5.5 / 101)
    0.8347
    """
    if n1 <= 0 or n0 <= 0:
        return RiskRatio(math.nan, (math.nan, math.nan))
    b, d = n1 - a, n0 - c
    if min(a, b, c, d) == 0:
        a_, b_, c_, d_ = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    else:
        a_, b_, c_, d_ = float(a), float(b), float(c), float(d)
    n1_, n0_ = a_ + b_, c_ + d_
    lift = (a_ / n1_) / (c_ / n0_)
    se = math.sqrt(1 / a_ - 1 / n1_ + 1 / c_ - 1 / n0_)
    log = math.log(lift)
    return RiskRatio(lift, (math.exp(log - _Z * se), math.exp(log + _Z * se)))


# --- triggers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trigger:
    """One trigger: customer-windows exposed to it, how many churned, the risks, the lift
    (risk ratio) with its 95% interval, and the month it lost the most customers."""

    kind: Literal["event", "property", "sequence", "touchpoint"]
    trigger: str
    exposed: int
    churned: int
    risk_exposed: float
    risk_unexposed: float
    lift: float
    ci_low: float
    ci_high: float
    peak_period: dt.date | None
    peak_churned: int
    peak_lift: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "trigger": self.trigger,
            "exposed": self.exposed,
            "churned": self.churned,
            "risk_exposed": self.risk_exposed,
            "risk_unexposed": self.risk_unexposed,
            "lift": self.lift,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "peak_period": self.peak_period.isoformat() if self.peak_period else None,
            "peak_churned": self.peak_churned,
            "peak_lift": self.peak_lift,
        }


@dataclass(frozen=True)
class TriggerResult(AnalysisResult):
    """Behavioural triggers ranked by the lower bound of their lift (see the module)."""

    outcome: str
    every_days: float
    first_window: dt.date
    last_window: dt.date
    customer_windows: int
    churned: int
    min_support: int
    triggers: tuple[Trigger, ...]

    @property
    def base_rate(self) -> float:
        return self.churned / self.customer_windows if self.customer_windows else math.nan

    def risky(self) -> tuple[Trigger, ...]:
        """The triggers whose whole interval is above 1: they multiply churn risk."""
        return tuple(t for t in self.triggers if t.ci_low > 1)

    def to_frame(self) -> pd.DataFrame:
        columns = list(Trigger.__dataclass_fields__)
        return pd.DataFrame([t.to_dict() for t in self.triggers], columns=columns)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = json_ready(
            {
                "outcome": self.outcome,
                "every_days": self.every_days,
                "first_window": self.first_window.isoformat(),
                "last_window": self.last_window.isoformat(),
                "customer_windows": self.customer_windows,
                "churned": self.churned,
                "base_rate": self.base_rate,
                "min_support": self.min_support,
                "triggers": [t.to_dict() for t in self.triggers],
            }
        )
        return data

    def chart(self) -> go.Figure:
        """The lift of the top triggers with their 95% intervals, on a log scale."""
        figure = go.Figure()
        _lift_trace(figure, self.triggers[:15])
        figure.update_layout(
            title=f"Moments before churn: lift of churn risk ({self.outcome})",
            xaxis={"type": "log", "title": "risk ratio (exposed / not exposed)"},
            yaxis={"autorange": "reversed"},
        )
        return figure

    def __rich__(self) -> Table:
        table = _trigger_table(self.triggers[:20])
        table.title = (
            f"Moments before churn ({self.outcome}); base rate {self.base_rate:.1%} over "
            f"{self.customer_windows:,} customer-windows"
        )
        if len(self.triggers) > 20:
            table.caption = f"{len(self.triggers) - 20:,} more: --csv FILE or --json"
        return table


def _lift_trace(figure: go.Figure, triggers: Sequence[Trigger], **where: Any) -> None:
    figure.add_trace(
        go.Scatter(
            x=[t.lift for t in triggers],
            y=[t.trigger for t in triggers],
            mode="markers",
            name="lift",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [t.ci_high - t.lift for t in triggers],
                "arrayminus": [t.lift - t.ci_low for t in triggers],
            },
            hovertemplate="%{y}: lift %{x:.2f}<extra></extra>",
        ),
        **where,
    )


def _trigger_table(triggers: Sequence[Trigger]) -> Table:
    table = Table("trigger", "kind", "exposed", "churn rate", "lift", "95% CI", "peak", box=None)
    for t in triggers:
        table.add_row(
            t.trigger,
            t.kind,
            f"{t.exposed:,}",
            f"{t.risk_exposed:.1%}",
            f"{t.lift:,.2f}",
            f"{t.ci_low:,.2f}-{t.ci_high:,.2f}",
            t.peak_period.strftime("%Y-%m") if t.peak_period else "",
        )
    return table


def _month(day: dt.datetime) -> dt.date:
    return dt.date(day.year, day.month, 1)


def _log_range(events: ir.Table) -> tuple[dt.datetime, dt.datetime]:
    row = events.aggregate(first=events["ts"].min(), last=events["ts"].max()).to_pyarrow()
    first, last = row["first"][0].as_py(), row["last"][0].as_py()
    if first is None or last is None:
        raise ChurnError("there are no events: load some first (jornada load)")
    return first, last


def _default_as_of(last: dt.datetime) -> dt.datetime:
    """Just after the last event, on a whole second."""
    return last.replace(microsecond=0) + dt.timedelta(seconds=1)


def churn_triggers(
    events: ir.Table,
    *,
    definition: ChurnDefinition | None = None,
    journey: Journey | None = None,
    as_of: dt.datetime | None = None,
    every: str | float = DEFAULT_EVERY,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    properties: Sequence[str] | None = None,
    max_levels: int = DEFAULT_MAX_LEVELS,
    pairs: bool = True,
    min_support: int = DEFAULT_MIN_SUPPORT,
) -> TriggerResult:
    """Events, event property values, pairs of consecutive events and (with ``journey``)
    touchpoints whose occurrence multiplies churn risk: see the module's documentation.

    ``every`` is the length of the exposure windows (``7d``); ``since``/``until`` keep the
    windows within a period; ``properties`` are the categorical properties whose values
    make triggers (default: every property with at most ``max_levels`` values); ``pairs``
    adds consecutive pairs. Events at or after ``as_of`` are ignored.
    """
    definition = definition or ChurnDefinition()
    seconds = parse_window(every)
    if seconds is None or seconds < 3600:
        raise ChurnError(f"the exposure windows must be an hour or longer, not {every!r}")
    # Whole seconds, and windows starting on whole seconds: events are bucketed by their
    # time truncated to the second, which then never moves one across a boundary.
    step = dt.timedelta(seconds=round(seconds))
    if definition.inactive_days is not None and definition.window < dt.timedelta(
        days=definition.inactive_days
    ):
        raise ChurnError(
            "triggers need a window at least as long as the inactivity period (activity in "
            "an exposure window would otherwise decide the outcome): drop --window or "
            f"make it {definition.inactive_days:g}d or more"
        )
    first_ts, last_ts = _log_range(events)
    as_of = utc_naive(as_of) if as_of is not None else _default_as_of(last_ts)
    events = events.filter(events["ts"] < as_of)
    first = dt.datetime.combine(first_ts.date(), dt.time()) + step  # somebody is alive then
    if since is not None:
        first = max(first, utc_naive(since).replace(microsecond=0))
    stop = as_of - definition.window
    if until is not None:
        stop = min(stop, utc_naive(until))
    windows = int((stop - first) / step) if stop > first else 0
    if windows < 1:
        raise ChurnError(
            f"no exposure window fits between {first:%Y-%m-%d} and {stop:%Y-%m-%d} (the "
            f"outcome needs {definition.window.days} days after each window): use a shorter "
            "--window or a wider period"
        )
    if properties is None:
        properties = categorical_properties(events, max_levels=max_levels)
    rows = exposure_counts(
        events,
        definition,
        first=first,
        every=step,
        windows=windows,
        properties=properties,
        journey=journey,
        pairs=pairs,
    )
    names = {tp.id: tp.name for _, tp in journey.iter_touchpoints()} if journey else {}
    starts = [first + j * step for j in range(windows)]
    by_token: dict[str, dict[dt.date, list[int]]] = {}
    for row in rows:  # aggregated by (trigger, window) already: a few per trigger
        months = by_token.setdefault(row["token"], {})
        cell = months.setdefault(_month(starts[row["j"]]), [0, 0])
        cell[0] += int(row["n"])
        cell[1] += int(row["churned"] or 0)
    month_totals = by_token.pop(ANY, {})
    population = sum(cell[0] for cell in month_totals.values())
    churned = sum(cell[1] for cell in month_totals.values())
    found = []
    for token, months in by_token.items():
        n1 = sum(cell[0] for cell in months.values())
        if n1 < min_support:
            continue
        a = sum(cell[1] for cell in months.values())
        ratio = risk_ratio(a, n1, churned - a, population - n1)
        peak = min(months, key=lambda m: (-months[m][1], m)) if a else None
        peak_lift = math.nan
        if peak is not None:
            m_n, m_churned = month_totals[peak]
            p_n, p_a = months[peak]
            peak_lift = risk_ratio(p_a, p_n, m_churned - p_a, m_n - p_n).lift
        kind, label = describe_token(token, names)
        found.append(
            Trigger(
                kind=kind,  # type: ignore[arg-type]
                trigger=label,
                exposed=n1,
                churned=a,
                risk_exposed=a / n1,
                risk_unexposed=(churned - a) / (population - n1) if population > n1 else math.nan,
                lift=ratio.lift,
                ci_low=ratio.interval[0],
                ci_high=ratio.interval[1],
                peak_period=peak,
                peak_churned=months[peak][1] if peak is not None else 0,
                peak_lift=peak_lift,
            )
        )
    found.sort(key=lambda t: (-_finite(t.ci_low), -_finite(t.lift), t.trigger))
    return TriggerResult(
        outcome=definition.describe(),
        every_days=seconds / 86_400,
        first_window=first.date(),
        last_window=(first + (windows - 1) * step).date(),
        customer_windows=population,
        churned=churned,
        min_support=min_support,
        triggers=tuple(found),
    )


def _finite(value: float) -> float:
    return -math.inf if math.isnan(value) else value


# --- the model -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """How the model trained at ``train_cutoff`` did on the held-out period after
    ``eval_cutoff`` (``positives``: customers with the outcome). ``fitted_customers``: how
    many of the training customers the model was fitted on (a weighted sample beyond
    :data:`~jornada.analytics._churn_model.MAX_FIT_ROWS`); ``final_fitted_customers``: the
    same for the model refitted on the held-out period, which scores the customers."""

    train_cutoff: dt.datetime
    eval_cutoff: dt.datetime
    train_customers: int
    train_positives: int
    eval_customers: int
    eval_positives: int
    metrics: Metrics
    fitted_customers: int
    final_fitted_customers: int
    evaluated_customers: int | None = None
    """How many of the held-out customers the metrics were measured on (None: all): a
    weighted sample beyond :data:`~jornada.analytics._churn_model.MAX_FIT_ROWS`, the one
    the final model is fitted on (decision 0005)."""

    def to_dict(self) -> dict[str, Any]:
        m = self.metrics
        evaluated = self.evaluated_customers
        return {
            "train_cutoff": self.train_cutoff.isoformat(),
            "eval_cutoff": self.eval_cutoff.isoformat(),
            "train_customers": self.train_customers,
            "train_positives": self.train_positives,
            "eval_customers": self.eval_customers,
            "eval_positives": self.eval_positives,
            "evaluated_customers": self.eval_customers if evaluated is None else evaluated,
            "fitted_customers": self.fitted_customers,
            "final_fitted_customers": self.final_fitted_customers,
            "roc_auc": m.roc_auc,
            "pr_auc": m.pr_auc,
            "brier": m.brier,
            "base_rate": m.base_rate,
            "calibration": [
                {
                    "low": b.low,
                    "high": b.high,
                    "customers": b.customers,
                    "mean_predicted": b.mean_predicted,
                    "observed": b.observed,
                }
                for b in m.calibration
            ],
        }


@dataclass(frozen=True)
class AtRiskCustomer:
    """One scored customer: the predicted probability, the top reasons, and where they were
    last seen."""

    customer_id: str
    risk: float
    reasons: tuple[Reason, ...]
    last_event: str | None
    last_event_at: dt.datetime | None
    last_touchpoint: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "risk": self.risk,
            "reasons": [
                {
                    "feature": r.feature,
                    "description": r.description,
                    "value": r.value,
                    "typical": r.typical,
                    "log_odds_effect": r.effect,
                    "risk_if_typical": r.risk_if_typical,
                }
                for r in self.reasons
            ],
            "last_event": self.last_event,
            "last_event_at": self.last_event_at.isoformat() if self.last_event_at else None,
            "last_touchpoint": self.last_touchpoint,
        }


@dataclass(frozen=True)
class _ScoredOutcome(AnalysisResult):
    outcome: str
    as_of: dt.datetime
    evaluation: Evaluation
    importance: tuple[Importance, ...]
    dependence: tuple[Dependence, ...]
    scored_customers: int
    mean_risk: float
    customers: tuple[AtRiskCustomer, ...]
    seed: int
    triggers: TriggerResult | None = field(default=None)
    triggers_skipped: str | None = field(default=None)
    """Why there are no triggers when they were asked for (the data or the definition)."""

    _noun: ClassVar[str] = "risk"

    def to_frame(self) -> pd.DataFrame:
        """The at-risk list (what ``--out`` writes): highest risk first."""
        columns = [
            "customer_id",
            self._noun,
            "reasons",
            "last_event",
            "last_event_at",
            "last_touchpoint",
        ]
        rows = [
            (
                c.customer_id,
                c.risk,
                "; ".join(str(r) for r in c.reasons),
                c.last_event,
                c.last_event_at,
                c.last_touchpoint,
            )
            for c in self.customers
        ]
        return pd.DataFrame(rows, columns=columns)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = json_ready(
            {
                "outcome": self.outcome,
                "as_of": self.as_of.isoformat(),
                "seed": self.seed,
                "evaluation": self.evaluation.to_dict(),
                "importance": [
                    {
                        "feature": i.feature,
                        "description": i.description,
                        "importance": i.importance,
                        "std": i.std,
                    }
                    for i in self.importance
                ],
                "partial_dependence": [
                    {
                        "feature": d.feature,
                        "description": d.description,
                        "grid": list(d.grid),
                        self._noun: list(d.risk),
                    }
                    for d in self.dependence
                ],
                "scored_customers": self.scored_customers,
                f"mean_{self._noun}": self.mean_risk,
                "customers": [_renamed(c.to_dict(), "risk", self._noun) for c in self.customers],
                "triggers": self.triggers.to_dict() if self.triggers else None,
                "triggers_skipped": self.triggers_skipped,
            }
        )
        return data

    def chart(self) -> go.Figure:
        """Permutation importance of the top columns and, for churn, the lift of the top
        triggers."""
        shown = self.importance[:15]
        columns = 2 if self.triggers is not None else 1
        titles = ["What predicts it (drop in ROC AUC when shuffled)"]
        if self.triggers is not None:
            titles.append("Moments before churn (lift, 95% CI)")
        figure = make_subplots(rows=1, cols=columns, subplot_titles=titles)
        figure.add_trace(
            go.Bar(
                x=[i.importance for i in shown],
                y=[i.description for i in shown],
                orientation="h",
                error_x={"type": "data", "array": [i.std for i in shown]},
                name="importance",
            ),
            row=1,
            col=1,
        )
        figure.update_yaxes(autorange="reversed", row=1, col=1)
        if self.triggers is not None:
            _lift_trace(figure, self.triggers.triggers[:15], row=1, col=2)
            figure.update_xaxes(type="log", row=1, col=2)
            figure.update_yaxes(autorange="reversed", row=1, col=2)
        figure.update_layout(title=self.outcome, showlegend=False)
        return figure

    def __rich__(self) -> Table:
        e, m = self.evaluation, self.evaluation.metrics
        grid = Table.grid(padding=(1, 0))
        grid.add_row(
            f"[b]{self.outcome}[/b]: {self.scored_customers:,} customers scored as of "
            f"{self.as_of:%Y-%m-%d %H:%M}, mean {self._noun} {self.mean_risk:.1%}"
        )
        sampled = (
            f", fitted on a sample of {e.fitted_customers:,}"
            if e.fitted_customers < e.train_customers
            else ""
        )
        measured = (
            f", measured on a weighted sample of {e.evaluated_customers:,}"
            if e.evaluated_customers is not None and e.evaluated_customers < e.eval_customers
            else ""
        )
        grid.add_row(
            f"trained at {e.train_cutoff:%Y-%m-%d} ({e.train_customers:,} customers, "
            f"{e.train_positives:,} positive{sampled}); held out at {e.eval_cutoff:%Y-%m-%d} "
            f"({e.eval_customers:,}, {e.eval_positives:,} positive{measured}): "
            f"ROC AUC {m.roc_auc:.3f}, "
            f"PR AUC {m.pr_auc:.3f} (base rate {m.base_rate:.1%}), Brier {m.brier:.4f}"
        )
        calibration = Table(
            "predicted", "customers", "mean predicted", "observed", box=None, title="calibration"
        )
        for b in m.calibration:
            calibration.add_row(
                f"{b.low:.0%}-{b.high:.0%}",
                f"{b.customers:,}",
                f"{b.mean_predicted:.1%}",
                f"{b.observed:.1%}",
            )
        grid.add_row(calibration)
        importance = Table("column", "importance", "± sd", box=None, title="drivers")
        for i in self.importance[:_SHOWN]:
            importance.add_row(i.description, f"{i.importance:.4f}", f"{i.std:.4f}")
        grid.add_row(importance)
        if self.triggers is not None and self.triggers.triggers:
            triggers = _trigger_table(self.triggers.triggers[:_SHOWN])
            triggers.title = "moments before churn"
            grid.add_row(triggers)
        elif self.triggers_skipped:
            grid.add_row(f"no triggers: {self.triggers_skipped}")
        at_risk = Table("customer", self._noun, "top reasons", "last event", box=None)
        for c in self.customers[:20]:
            at_risk.add_row(
                c.customer_id,
                f"{c.risk:.1%}",
                "; ".join(str(r) for r in c.reasons[:2]),
                c.last_event or "",
            )
        at_risk.title = "highest " + self._noun
        if len(self.customers) > 20:
            at_risk.caption = "the full list: --out FILE.csv"
        grid.add_row(at_risk)
        return grid


def _renamed(data: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {new if key == old else key: value for key, value in data.items()}


@dataclass(frozen=True)
class ChurnResult(_ScoredOutcome):
    """Churn: the evaluation, the drivers, the triggers and the at-risk list."""


@dataclass(frozen=True)
class PropensityResult(_ScoredOutcome):
    """Propensity: the evaluation, the drivers and the customers most likely to convert."""

    _noun: ClassVar[str] = "probability"


@dataclass(frozen=True)
class _Frame:
    """The population at a cutoff (``customers`` by id, their labels ``y``) and the
    features ``x`` (and ``info``) of its rows ``rows``: all of them when None."""

    customers: pa.ChunkedArray
    x: model_.Matrix
    y: model_.Vector
    info: pa.Table
    rows: npt.NDArray[np.intp] | None = None

    def features_of(self, rows: npt.NDArray[np.intp]) -> model_.Matrix:
        """The features of the population's ``rows`` (increasing; among :attr:`rows`)."""
        if self.rows is None:
            return self.x[rows]
        at = np.searchsorted(self.rows, rows)
        if not np.array_equal(self.rows[np.minimum(at, len(self.rows) - 1)], rows):
            raise ValueError("these rows' features were not computed")
        return self.x[at]


def _matrix(part: pa.Table, names: list[str]) -> model_.Matrix:
    # Column by column into a column-major matrix: contiguous writes.
    x = np.empty((part.num_rows, len(names)), order="F")
    for column, name in enumerate(names):
        # Integers become doubles in the assignment itself: one copy less.
        x[:, column] = part[name].to_numpy(zero_copy_only=False)
    return x


def _eval_rows(y: model_.Vector, seed: int) -> npt.NDArray[np.intp] | None:
    """The held-out customers whose features the model needs (None: all of them): the
    final fit's sample (also the weighted sample the evaluation is measured on) and the
    drivers' samples, drawn from the labels as :func:`_fit`, the evaluation and
    :mod:`~jornada.analytics._churn_model` draw them."""
    fit = model_.fit_rows(y, seed=seed, limit=model_.MAX_FIT_ROWS)
    if fit is None:
        return None
    drivers = model_.sample_rows(y, seed, limit=model_.MAX_DRIVER_ROWS)
    dependence = model_.sample_rows(np.zeros(len(y)), seed, limit=model_.MAX_DEPENDENCE_ROWS)
    if drivers is None or dependence is None:  # a small period: every customer
        return None
    return np.unique(np.concatenate([fit[0], drivers, dependence]))


def _features_of(
    events: ir.Table,
    wanted: pa.Table,
    cutoffs: Sequence[dt.datetime],
    spec: FeatureSpec,
    journey: Journey | None,
) -> pa.Table:
    """The rows of :func:`~jornada.analytics.features.features_by_cutoff` of the
    customers ``customer_id`` at the cutoffs ``cutoff_index`` of ``wanted``, by cutoff and
    customer: computed on those customers' events only (a semi join; a customer's
    features depend on their own events alone), as
    :func:`~jornada.analytics.features.features_by_cutoff_arrow` computes them."""
    keys = ibis.memtable(wanted.select(["customer_id"]).rename_columns(["w_customer"]))
    chosen = events.semi_join(keys, events["customer_id"] == keys["w_customer"])
    return features_by_cutoff_arrow(chosen, cutoffs, spec=spec, journey=journey, pairs=wanted)


def _sampled_frames(
    events: ir.Table,
    outcome: Outcome,
    cutoffs: Sequence[dt.datetime],
    spec: FeatureSpec,
    journey: Journey | None,
    seed: int,
) -> tuple[list[_Frame], pa.ChunkedArray]:
    """The populations at the training and evaluation cutoffs (by customer id), with their
    labels and the features of the customers the model needs only, and the customers
    alive at the scoring cutoff (by id, increasing).

    The labels come first (one small aggregation): they decide which customers the fits
    and the drivers are drawn from (:func:`_eval_rows`, :func:`~._churn_model.fit_rows`),
    so the features at the first two cutoffs are computed for those customers alone (their
    events through a semi join) and the models are the ones fitted on every customer's
    features. Everyone alive at the last cutoff is scored (:func:`_scores`, decision
    0005)."""
    train_cutoff, eval_cutoff = cutoffs[:2]
    windows: list[Window] = [(cutoff, cutoff + outcome.window) for cutoff in cutoffs]
    panel = outcome.panel(events, windows, journey)
    labels = panel.select("customer_id", "j", "label").order_by(["j", "customer_id"]).to_pyarrow()
    index = labels["j"].to_numpy(zero_copy_only=False)
    bounds = np.searchsorted(index, np.arange(len(cutoffs) + 1), side="left")
    populations = [labels.slice(int(bounds[k]), int(bounds[k + 1] - bounds[k])) for k in range(2)]
    ys = [part["label"].to_numpy(zero_copy_only=False).astype(bool) for part in populations]
    train_fit = model_.fit_rows(ys[0], seed=seed, limit=model_.MAX_FIT_ROWS)
    needed = [None if train_fit is None else train_fit[0], _eval_rows(ys[1], seed)]
    names = spec.columns()
    wanted = pa.table(
        {
            "customer_id": pa.concat_arrays(
                [
                    (part["customer_id"] if rows is None else part["customer_id"].take(rows))
                    .combine_chunks()
                    .cast(pa.string())
                    for part, rows in zip(populations, needed, strict=True)
                ]
            ),
            "cutoff_index": np.concatenate(
                [
                    np.full(part.num_rows if rows is None else len(rows), k, dtype="int64")
                    for k, (part, rows) in enumerate(zip(populations, needed, strict=True))
                ]
            ),
        }
    )
    arrow = _features_of(events, wanted, [train_cutoff, eval_cutoff], spec, journey)
    frames = []
    at = np.searchsorted(
        arrow["cutoff_index"].to_numpy(zero_copy_only=False), [0, 1, 2], side="left"
    )
    for k, (population, y, rows) in enumerate(zip(populations, ys, needed, strict=True)):
        part = arrow.slice(int(at[k]), int(at[k + 1] - at[k]))
        if part.num_rows != (len(y) if rows is None else len(rows)):
            raise ChurnError("the features do not cover the population: a bug, please report")
        info = part.select(list(INFO_COLUMNS))
        frames.append(_Frame(population["customer_id"], _matrix(part, names), y, info, rows))
    # Everyone alive at the scoring time is scored afterwards, range by range (_scores).
    alive = labels.slice(int(bounds[2]), int(bounds[3] - bounds[2]))["customer_id"]
    return frames, alive


def _alive_frame(
    events: ir.Table,
    as_of: dt.datetime,
    alive: pa.ChunkedArray,
    spec: FeatureSpec,
    journey: Journey | None,
    *,
    low: Any = None,
    high: Any = None,
) -> _Frame:
    """The features at ``as_of`` of the customers ``alive`` (by id, increasing), computed
    on the events of the customers from ``low`` (inclusive) up to ``high`` (exclusive; no
    bound when None): one aggregation of those customers, the alive ones picked here from
    the labels already fetched (the engine would compute the population again to join it).
    """
    if low is not None:
        events = events.filter(events["customer_id"] >= low)
    if high is not None:
        events = events.filter(events["customer_id"] < high)
    everyone = features_arrow(events, as_of, spec=spec, journey=journey)
    part = everyone.filter(pc.is_in(everyone["customer_id"], value_set=alive.combine_chunks()))
    if part.num_rows != len(alive):
        raise ChurnError("the features do not cover the population: a bug, please report")
    return _Frame(
        part["customer_id"],
        _matrix(part, spec.columns()),
        np.zeros(part.num_rows, dtype=bool),
        part.select(list(INFO_COLUMNS)),
    )


def _check_classes(frame: _Frame, when: dt.datetime, outcome: Outcome) -> None:
    positives = int(frame.y.sum())
    if len(frame.y) == 0:
        raise ChurnError(
            f"no customer is in the population at {when:%Y-%m-%d}: the data is too short for "
            f"'{outcome.describe()}'; use a shorter --window"
        )
    if positives in (0, len(frame.y)):
        which = "none" if positives == 0 else "all"
        raise ChurnError(
            f"{which} of the {len(frame.y):,} customers at the training cutoff "
            f"{when:%Y-%m-%d} had the outcome ({outcome.describe()}): a model needs both; "
            "check the definition or use another --window"
        )


def _fit(frame: _Frame, seed: int) -> tuple[HistGradientBoostingClassifier, int]:
    """The model fitted on ``frame`` (on a weighted, stratified sample beyond
    :data:`~jornada.analytics._churn_model.MAX_FIT_ROWS` customers), and on how many."""
    sample = model_.fit_rows(frame.y, seed=seed, limit=model_.MAX_FIT_ROWS)
    if sample is None:
        return model_.fit(frame.x, frame.y, seed=seed), len(frame.y)
    rows, weights = sample
    # Column-major like the frames: binning reads the matrix column by column.
    x = np.asfortranarray(frame.features_of(rows))
    return model_.fit(x, frame.y[rows], seed=seed, weights=weights), len(rows)


def _fit_alone(frame: _Frame, seed: int) -> tuple[HistGradientBoostingClassifier, int]:
    """:func:`_fit` for another thread: its native code on one thread too (the limit is
    a thread's own)."""
    with model_.limited_threads():
        return _fit(frame, seed)


def _features(frame: _Frame, rows: npt.NDArray[np.intp] | None) -> model_.Matrix:
    """The features of ``rows`` of the population (all of them when None)."""
    if rows is None:
        if frame.rows is not None:
            raise ValueError("the features of every customer were not computed")
        return frame.x
    return frame.features_of(rows)


def _highest(
    risk: model_.Matrix, customers: pa.ChunkedArray, *, top: int | None, min_risk: float
) -> list[int]:
    """The rows of the ``top`` highest risks at ``min_risk`` or more (all with None), the
    highest first, ties by customer id."""
    if top is not None and top <= 0:
        return []
    candidates = np.flatnonzero(risk >= min_risk)
    if top is not None and len(candidates) > top:
        # Only the risks from the top-th largest on can make it (ties with it included):
        # the Python sort below then sees a few rows, not the whole population.
        threshold = np.partition(risk[candidates], len(candidates) - top)[len(candidates) - top]
        candidates = candidates[risk[candidates] >= threshold]
    ids = customers.take(candidates).to_pylist()
    order = sorted(range(len(candidates)), key=lambda k: (-risk[candidates[k]], ids[k]))
    chosen = [int(candidates[k]) for k in order]
    return chosen if top is None else chosen[:top]


def _candidates(risk: model_.Matrix, *, top: int | None, min_risk: float) -> npt.NDArray[np.intp]:
    """The rows of ``risk`` that can be among the ``top`` highest of a larger population
    (any range holding one of those holds fewer than ``top`` higher risks): those at
    ``min_risk`` or more from the top-th largest risk on (every tie with it included)."""
    if top is not None and top <= 0:
        return np.zeros(0, dtype=np.intp)
    candidates = np.flatnonzero(risk >= min_risk)
    if top is not None and len(candidates) > top:
        threshold = np.partition(risk[candidates], len(candidates) - top)[len(candidates) - top]
        candidates = candidates[risk[candidates] >= threshold]
    return candidates


def _merged_counts(
    counts: tuple[model_.Matrix, npt.NDArray[np.int64]], values: model_.Matrix
) -> tuple[model_.Matrix, npt.NDArray[np.int64]]:
    """The distinct known ``values`` and how often each occurs, added to ``counts``."""
    new, times = np.unique(values[~np.isnan(values)], return_counts=True)
    merged, at = np.unique(np.concatenate([counts[0], new]), return_inverse=True)
    total = np.zeros(len(merged), dtype=np.int64)
    np.add.at(total, at, np.concatenate([counts[1], times]))
    return merged, total


def _median_of_counts(values: model_.Matrix, counts: npt.NDArray[np.int64]) -> float:
    """:func:`numpy.median` of the sorted distinct ``values`` each repeated ``counts``
    times, to the bit (0 for a column with no known value).

    >>> _median_of_counts(np.array([1.0, 2.0, 5.0]), np.array([1, 1, 2]))
    3.5
    """
    n = int(counts.sum())
    if n == 0:
        return 0.0
    ends = np.cumsum(counts)
    middle = values[np.searchsorted(ends, [(n - 1) // 2, n // 2], side="right")]
    return float(np.median(middle))


@dataclass(frozen=True)
class _Scores:
    """The risks of everyone alive at the scoring time (by id), the rows of the chosen
    ones (highest first) with their features ``x`` and ``info``, and the columns' medians.
    """

    risk: model_.Matrix
    chosen: list[int]
    ids: list[Any]
    x: model_.Matrix
    info: list[dict[str, Any]]
    typical: model_.Matrix


def _scores(
    events: ir.Table,
    as_of: dt.datetime,
    alive: pa.ChunkedArray,
    spec: FeatureSpec,
    journey: Journey | None,
    model: HistGradientBoostingClassifier,
    *,
    top: int | None,
    min_risk: float,
) -> _Scores:
    """Score the customers ``alive`` at ``as_of`` (by id, increasing) with ``model``, in
    ranges of ids of :data:`SCORE_RANGE` of them (one range up to that many), each range
    keeping its risks, the rows that can be among the ``top`` (:func:`_candidates`)
    and its columns' distinct values with their counts (the exact medians). The risks are
    concatenated in id order: every figure is the one of a single range, to the bit."""
    n = len(alive)
    ids = alive.combine_chunks()
    risks, customers, kept, xs, infos = [], [], [], [], []
    width = len(spec.columns())
    counts = [(np.zeros(0), np.zeros(0, dtype=np.int64)) for _ in range(width)]
    for start in range(0, max(n, 1), SCORE_RANGE):  # one (empty) range for nobody
        stop = min(start + SCORE_RANGE, n)
        frame = _alive_frame(
            events,
            as_of,
            alive.slice(start, stop - start),
            spec,
            journey,
            low=ids[start].as_py() if start else None,
            high=ids[stop].as_py() if stop < n else None,
        )
        risk = model_.predict(model, frame.x)
        rows = _candidates(risk, top=top, min_risk=min_risk)
        risks.append(risk)
        customers.extend(frame.customers.chunks)
        kept.append(rows + start)
        xs.append(frame.x[rows])
        infos.append(frame.info.take(rows))
        for column in range(width):
            counts[column] = _merged_counts(counts[column], frame.x[:, column])
    risk = np.concatenate(risks)
    everyone = pa.chunked_array(customers, type=frame.customers.type)
    chosen = _highest(risk, everyone, top=top, min_risk=min_risk)
    # The chosen rows are among the candidates kept (increasing, like the ranges).
    at = np.searchsorted(np.concatenate(kept), chosen).astype(np.intp)
    return _Scores(
        risk,
        chosen,
        everyone.take(np.array(chosen, dtype=np.intp)).to_pylist(),
        np.concatenate(xs)[at],
        pa.concat_tables(infos).take(at).to_pylist(),
        np.array([_median_of_counts(*pair) for pair in counts]),
    )


@dataclass(frozen=True)
class _Modelled:
    """The model trained on the training period and measured on the held-out one, and
    the final model (refitted on the held-out period) that scores."""

    final: HistGradientBoostingClassifier
    metrics: Metrics
    evaluated: int
    fitted: int
    final_fitted: int
    importance: tuple[Importance, ...]
    dependence: tuple[Dependence, ...]


def _modelled(
    train: _Frame, held_out: _Frame, names: list[str], descriptions: dict[str, str], seed: int
) -> _Modelled:
    """Fit, evaluate and explain the model: numpy and scikit-learn only (no engine), so
    it can run on a thread of its own, its native code on one thread."""
    both = 0 < held_out.y.sum() < len(held_out.y)
    with model_.limited_threads(), ThreadPoolExecutor(1, "jornada-fit") as fitting:
        # The final model (refitted on the held-out period) does not depend on the
        # trained one: fitted on the other core meanwhile (the same model, to the bit).
        refit = fitting.submit(_fit_alone, held_out, seed) if both else None
        trained, fitted = _fit(train, seed)
        # Beyond MAX_FIT_ROWS held-out customers the evaluation is measured on the final
        # fit's weighted sample (every customer of the rarer outcome, the others weighted):
        # the figures estimate those of the whole period (decision 0005).
        sample = model_.fit_rows(held_out.y, seed=seed, limit=model_.MAX_FIT_ROWS)
        if sample is None:
            metrics = model_.evaluate(model_.predict(trained, held_out.x), held_out.y)
            evaluated = len(held_out.y)
        else:
            rows, weights = sample
            risk_held_out = model_.predict(trained, held_out.features_of(rows))
            metrics = model_.evaluate(risk_held_out, held_out.y[rows], weights)
            evaluated = len(rows)
        drivers = model_.sample_rows(held_out.y, seed, limit=model_.MAX_DRIVER_ROWS)
        importance = model_.importances(
            trained,
            _features(held_out, drivers),
            held_out.y if drivers is None else held_out.y[drivers],
            names,
            descriptions,
            seed=seed,
        )
        top_columns = [
            names.index(i.feature) for i in importance[:_PD_FEATURES] if i.importance > 0
        ]
        typical_rows = model_.sample_rows(
            np.zeros(len(held_out.y)), seed, limit=model_.MAX_DEPENDENCE_ROWS
        )
        dependence = model_.dependences(
            trained, _features(held_out, typical_rows), top_columns, names, descriptions, seed=seed
        )
        final, final_fitted = refit.result() if refit is not None else (trained, fitted)
    return _Modelled(final, metrics, evaluated, fitted, final_fitted, importance, dependence)


def _scored(
    events: ir.Table,
    outcome: Outcome,
    *,
    journey: Journey | None,
    as_of: dt.datetime | None,
    top: int | None,
    min_risk: float,
    seed: int,
    top_events: int,
    top_channels: int,
    purchase: str,
    support: str,
    failed_payment: str,
    meanwhile: Callable[[dt.datetime], None] | None = None,
) -> dict[str, Any]:
    """The model's fields of a :class:`ChurnResult` (or :class:`PropensityResult`).

    ``meanwhile(as_of)`` runs on this thread while the model is fitted and measured on
    another (it may query the engine: the model's work does not)."""
    first, last = _log_range(events)
    as_of = utc_naive(as_of) if as_of is not None else _default_as_of(last)
    window = outcome.window
    eval_cutoff = as_of - window
    train_cutoff = eval_cutoff - window
    if train_cutoff <= first:
        days = (as_of - first).days
        raise ChurnError(
            f"the events span {days} days before {as_of:%Y-%m-%d}: a time-based split with a "
            f"{window.days}-day window needs more than {2 * window.days} days (train, then "
            "hold out); use a shorter --window"
        )
    spec = feature_spec(
        events,
        before=train_cutoff,
        journey=journey,
        top_events=top_events,
        top_channels=top_channels,
        purchase=purchase,
        support=support,
        failed_payment=failed_payment,
    )
    names, descriptions = spec.columns(), spec.describe()
    (train, held_out), alive = _sampled_frames(
        events, outcome, [train_cutoff, eval_cutoff, as_of], spec, journey, seed
    )
    _check_classes(train, train_cutoff, outcome)

    with ThreadPoolExecutor(1, "jornada-model") as modelling:
        # The model's work is numpy and scikit-learn's native code, the engine's queries
        # release the interpreter too: the caller's queries (churn's triggers) run
        # meanwhile, on this thread (the only one that uses the connection).
        model = modelling.submit(_modelled, train, held_out, names, descriptions, seed)
        if meanwhile is not None:
            meanwhile(as_of)
        trained = model.result()
    with model_.limited_threads():
        scores = _scores(
            events, as_of, alive, spec, journey, trained.final, top=top, min_risk=min_risk
        )
        risk = scores.risk
        reasons = model_.reasons(trained.final, scores.x, scores.typical, names, descriptions)
    # Only the chosen customers become Python objects (not the whole population).
    chosen, ids, info = scores.chosen, scores.ids, scores.info
    customers = tuple(
        AtRiskCustomer(
            customer_id=customer,
            risk=float(risk[i]),
            reasons=why,
            last_event=row["last_event"],
            last_event_at=row["last_event_at"],
            last_touchpoint=row["last_touchpoint"],
        )
        for i, customer, row, why in zip(chosen, ids, info, reasons, strict=True)
    )
    evaluation = Evaluation(
        train_cutoff=train_cutoff,
        eval_cutoff=eval_cutoff,
        train_customers=len(train.y),
        train_positives=int(train.y.sum()),
        eval_customers=len(held_out.y),
        eval_positives=int(held_out.y.sum()),
        metrics=trained.metrics,
        evaluated_customers=trained.evaluated,
        fitted_customers=trained.fitted,
        final_fitted_customers=trained.final_fitted,
    )
    return {
        "outcome": outcome.describe(),
        "as_of": as_of,
        "evaluation": evaluation,
        "importance": trained.importance,
        "dependence": trained.dependence,
        "scored_customers": len(risk),
        "mean_risk": float(risk.mean()) if len(risk) else math.nan,
        "customers": customers,
        "seed": seed,
    }


def churn(
    events: ir.Table,
    *,
    definition: ChurnDefinition | None = None,
    journey: Journey | None = None,
    as_of: dt.datetime | None = None,
    top: int | None = DEFAULT_TOP,
    min_risk: float = 0.0,
    seed: int = 0,
    triggers: bool = True,
    every: str | float = DEFAULT_EVERY,
    min_support: int = DEFAULT_MIN_SUPPORT,
    properties: Sequence[str] | None = None,
    top_events: int = DEFAULT_TOP_EVENTS,
    top_channels: int = DEFAULT_TOP_CHANNELS,
    purchase: str = "purchase",
    support: str = "support_ticket",
    failed_payment: str = "payment_failed",
) -> ChurnResult:
    """Who is about to churn and why: the model, its evaluation on a held-out period, the
    drivers, the behavioural triggers and the ``top`` customers at risk (all with
    ``top=None``; only those at ``min_risk`` or more). See the module's documentation.

    ``purchase``, ``support`` and ``failed_payment`` are the steps behind those feature
    columns; ``seed`` makes the model (and so every number) reproducible.
    """
    definition = definition or ChurnDefinition()
    found: TriggerResult | None = None
    skipped: str | None = None
    if (
        triggers
        and definition.inactive_days is not None
        and definition.window < dt.timedelta(days=definition.inactive_days)
    ):
        skipped = "the window is shorter than the inactivity period"

    def find_triggers(as_of: dt.datetime) -> None:
        nonlocal found, skipped
        try:
            found = churn_triggers(
                events,
                definition=definition,
                journey=journey,
                as_of=as_of,
                every=every,
                properties=properties,
                min_support=min_support,
            )
        except ChurnError as error:  # too little data for one exposure window
            skipped = str(error)

    scored = _scored(
        events,
        definition,
        journey=journey,
        as_of=as_of,
        top=top,
        min_risk=min_risk,
        seed=seed,
        top_events=top_events,
        top_channels=top_channels,
        purchase=purchase,
        support=support,
        failed_payment=failed_payment,
        # The triggers' queries run while the model is fitted (on another thread).
        meanwhile=find_triggers if triggers and skipped is None else None,
    )
    return ChurnResult(**scored, triggers=found, triggers_skipped=skipped)


def propensity(
    events: ir.Table,
    *,
    target: PurchaseTarget | None = None,
    journey: Journey | None = None,
    as_of: dt.datetime | None = None,
    top: int | None = DEFAULT_TOP,
    min_probability: float = 0.0,
    seed: int = 0,
    top_events: int = DEFAULT_TOP_EVENTS,
    top_channels: int = DEFAULT_TOP_CHANNELS,
    purchase: str = "purchase",
    support: str = "support_ticket",
    failed_payment: str = "payment_failed",
) -> PropensityResult:
    """The probability of a next ``target`` (default: any purchase within 60 days), for
    upsell and cross-sell: the same model, evaluation and drivers as :func:`churn`, and the
    ``top`` customers most likely to convert."""
    target = target or PurchaseTarget()
    scored = _scored(
        events,
        target,
        journey=journey,
        as_of=as_of,
        top=top,
        min_risk=min_probability,
        seed=seed,
        top_events=top_events,
        top_channels=top_channels,
        purchase=purchase,
        support=support,
        failed_payment=failed_payment,
    )
    return PropensityResult(**scored)
