"""Customer lifetime value: RFM summaries from purchase events, BG/NBD, Pareto/NBD and
Gamma-Gamma fitted by maximum likelihood, and per-customer forecasts.

**RFM summary** (computed in the engine, one query). A customer's *transactions* are
their distinct purchase days (UTC), as in the literature: several purchases on one day
are one transaction, worth the sum of their values. Over the *calibration period*
(up to and including the ``until`` day; the whole log when not given):

- ``frequency`` *x*: repeat transactions, i.e. purchase days after the first;
- ``recency`` *tx*: from the first to the last purchase day;
- ``T``: from the first purchase day to the end of calibration;
- ``monetary_value``: the mean value of the repeat transactions (the first one is left
  out, as Gamma-Gamma expects); empty without repeat transactions with a value.

Times are in days or weeks (``unit``). Customers whose first purchase comes after
``until`` are left out. Purchase days after ``until``, up to the log's last event, are
the *holdout*: each customer's actual repeat transactions there are compared with
the model's forecast over the same length (per calibration frequency and overall).

**Models** (see :mod:`jornada.analytics._clv_models`): BG/NBD and Pareto/NBD for the
number of future transactions and the probability of being alive, Gamma-Gamma for the
value of a transaction. Forecasts use BG/NBD unless ``model="pareto_nbd"``.

**CLV** over a horizon ``H`` with an annual discount rate ``d``: the horizon is cut
into months (of 365.25/12 days; the last one partial when ``H`` is not a whole number
of months). The transactions expected in month ``k``, ``E[Y(t_k)] - E[Y(t_(k-1))]``,
are valued at the customer's expected transaction value (Gamma-Gamma) and discounted
from the month's end ``t_k``::

    CLV = E[M] · Σ_k (E[Y(t_k)] - E[Y(t_(k-1))]) / (1 + d)^(t_k / 1 year)

that is a monthly discrete approximation with the monthly rate ``(1 + d)^(1/12) - 1``
(FHL 2005's "RFM and CLV" discounts continuously; lifetimes sums by months the same way).
With ``d = 0`` it is ``E[M] · E[Y(H)]``.

>>> import ibis, datetime as dt
>>> d = dt.datetime
>>> events = ibis.memtable({
...     "customer_id": ["a", "a", "a", "a", "b"],
...     "ts": [d(2026, 1, 1, 9), d(2026, 1, 1, 18), d(2026, 1, 8), d(2026, 1, 22), d(2026, 1, 15)],
...     "event": ["purchase"] * 5, "value": [10.0, 5.0, 20.0, 30.0, 7.0]})
>>> summary = rfm_summary(events, "purchase", unit="day")
>>> summary.to_frame()[["customer_id", "frequency", "recency", "T", "monetary_value"]]
  customer_id  frequency  recency     T  monetary_value
0           a          2     21.0  21.0            25.0
1           b          0      0.0   7.0             NaN
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final, Literal, get_args

import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.graph_objects as go
import pyarrow as pa
from plotly.subplots import make_subplots
from rich.table import Table

from jornada.analytics import _clv_models as models
from jornada.analytics._exact import EXACT_DECIMAL
from jornada.analytics.results import AnalysisResult, json_ready
from jornada.analytics.steps import Step, resolve_step
from jornada.engine import Engine
from jornada.errors import JornadaError
from jornada.events.rules import NUMBER_PATTERN
from jornada.model import Journey

__all__ = [
    "FREQUENCY_GROUPS",
    "CLVError",
    "CLVResult",
    "HoldoutGroup",
    "HoldoutReport",
    "Model",
    "RFMSummary",
    "Unit",
    "clv",
    "fit_clv",
    "parse_horizon",
    "rfm_summary",
]

Unit = Literal["day", "week"]
Model = Literal["bgnbd", "pareto_nbd"]

_UNIT_DAYS: Final[dict[str, int]] = {"day": 1, "week": 7}
_EPOCH: Final = date(1970, 1, 1)
_YEAR_DAYS: Final = 365.25
_MONTH_DAYS: Final = _YEAR_DAYS / 12
_HORIZON: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dwmy])\s*$")
_HORIZON_DAYS: Final[dict[str, float]] = {"d": 1.0, "w": 7.0, "m": _MONTH_DAYS, "y": _YEAR_DAYS}

FREQUENCY_GROUPS: Final = 8
"""Holdout accuracy is reported for calibration frequencies 0 to 6 and 7 or more, as in
Fader, Hardie & Lee (2005)."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class CLVError(JornadaError):
    """A CLV analysis asked for something the data cannot give."""


def parse_horizon(text: str | float) -> float:
    """Days of a horizon written as ``12m`` (months of 365.25/12 days), ``26w``, ``90d``,
    ``2y``, or a plain number of days.

    >>> parse_horizon("12m"), parse_horizon("2w"), parse_horizon(30)
    (365.25, 14.0, 30.0)
    """
    if isinstance(text, int | float):
        days = float(text)
    else:
        match = _HORIZON.match(text.lower())
        if match is None:
            raise CLVError(
                f"cannot read the horizon {text!r}: write a number and a unit, such as 12m "
                "(months), 26w, 90d or 1y"
            )
        days = float(match.group(1)) * _HORIZON_DAYS[match.group(2)]
    if not math.isfinite(days) or days <= 0:
        raise CLVError(f"the horizon must be longer than zero, not {text!r}")
    return days


def _check_unit(unit: str) -> Unit:
    if unit not in _UNIT_DAYS:
        raise CLVError(f"unknown time unit {unit!r}: use day or week")
    return unit  # type: ignore[return-value]


def _day_number(moment: date) -> int:
    return (moment - _EPOCH).days


def _day(number: int) -> date:
    return _EPOCH + timedelta(days=int(number))


# --- the RFM summary (engine) -----------------------------------------------------------------


def _value_column(events: ir.Table, name: str | None) -> ir.FloatingValue:
    """The value of a purchase: the ``value`` column, another numeric column, or a
    property (``properties.amount`` or ``amount``) read as a number (null when it is not
    one)."""
    if name is None:
        name = "value"
    if name in events.columns and name != "properties":
        column = events[name]
        if column.type().is_numeric():
            return column.cast("float64")
        text = column.cast("string")
    else:
        if "properties" not in events.columns:
            raise CLVError(f"no column or property {name!r} for the purchase value")
        text = events["properties"].get(ibis.literal(name.removeprefix("properties."), "string"))
    # Text that is not a number is no value (null), the same way on every backend.
    number: ir.FloatingValue = text.re_search(NUMBER_PATTERN).ifelse(
        text.try_cast("float64"), ibis.null("float64")
    )
    return number


def _summary_query(
    events: ir.Table, step: Step, value: ir.FloatingValue, until: int | None
) -> ir.Table:
    """One tagged table: a ``customer`` row per buyer, a ``track`` row per day with repeat
    transactions of the calibration cohort, and the ``end`` row (the log's last day)."""
    condition = step.condition if step.kind == "event" else step.condition.fill_null(False)
    # Whole days since the epoch; truncating first keeps the division exact everywhere.
    day = (events.ts.truncate("D").epoch_seconds().cast("int64") // 86400).name("day")
    # The source's customer key (when the store has one) names customers for people.
    key = events.customer_key if "customer_key" in events.columns else ibis.null("string")
    # Amounts are summed as exact decimals (nanounit precision), then read as floats: a
    # float sum's last bits depend on the order parallel threads add in, and a nearly
    # degenerate Gamma-Gamma fit turned those bits into different parameters, and a
    # "did not settle" note that came and went, from one run to the next.
    exact = value.cast(EXACT_DECIMAL)
    bought = events.filter(condition).select("customer_id", day=day, amount=exact, key=key)
    pairs = bought.group_by(["customer_id", "day"]).aggregate(
        amount=bought.amount.sum(), key=bought.key.min()
    )
    pairs = pairs.mutate(first=pairs.day.min().over(ibis.window(group_by=pairs.customer_id)))
    calibration: Any = ibis.literal(True) if until is None else pairs.day <= until
    repeat = calibration & (pairs.day > pairs.first)
    customers = pairs.group_by("customer_id").aggregate(
        key=pairs.key.min(),
        first=pairs.first.min(),
        last=pairs.day.max(where=calibration),
        days=pairs.day.count(where=calibration),
        valued=pairs.amount.count(where=repeat),
        amount=pairs.amount.sum(where=repeat).cast("float64"),
        held=pairs.day.count(where=~calibration),
        held_amount=pairs.amount.sum(where=~calibration).cast("float64"),
    )
    cohort = pairs.day > pairs.first
    if until is not None:
        cohort &= pairs.first <= until
    repeats = pairs.filter(cohort)
    track = repeats.group_by("day").aggregate(n=repeats.count())
    end = events.aggregate(last=events.ts.max())
    end_day = (end["last"].truncate("D").epoch_seconds().cast("int64") // 86400).name("last")

    def tagged(table: ir.Table, kind: str, **columns: Any) -> ir.Table:
        values: dict[str, Any] = {
            "customer_id": ibis.null("string"),
            "key": ibis.null("string"),
            "first": ibis.null("int64"),
            "last": ibis.null("int64"),
            "days": ibis.null("int64"),
            "valued": ibis.null("int64"),
            "amount": ibis.null("float64"),
            "held": ibis.null("int64"),
            "held_amount": ibis.null("float64"),
        }
        for name, column in columns.items():
            values[name] = column.cast(values[name].type())
        return table.select(kind=ibis.literal(kind), **values)

    names = (
        "customer_id",
        "key",
        "first",
        "last",
        "days",
        "valued",
        "amount",
        "held",
        "held_amount",
    )
    return ibis.union(
        tagged(customers, "customer", **{n: customers[n] for n in names}),
        tagged(track, "track", first=track.day, days=track.n),
        tagged(end.select(last=end_day), "end", first=end_day),
    )


def _column(table: Any, name: str, dtype: Any, fill: Any) -> Any:
    return np.asarray(table.column(name).fill_null(fill).to_numpy(zero_copy_only=False), dtype)


@dataclass(frozen=True, eq=False)
class RFMSummary(AnalysisResult):
    """Per-customer frequency, recency, age and monetary value (see the module docs),
    plus holdout transactions and the daily repeat transactions of the cohort."""

    purchase: str
    value: str
    unit: Unit
    calibration_end: date
    observation_end: date
    customer_ids: npt.NDArray[np.object_]
    customer_keys: npt.NDArray[np.object_] | None
    """The source's customer key of each customer (None when the store has none)."""
    first_day: IntArray
    """Day number (days since 1970-01-01) of each customer's first purchase."""
    frequency: IntArray
    recency: FloatArray
    T: FloatArray
    monetary_value: FloatArray
    """Mean value of the repeat transactions (NaN without a repeat transaction with a value)."""
    holdout_frequency: IntArray
    holdout_value: FloatArray
    late_customers: int
    """Customers whose first purchase is after the calibration period (left out)."""
    repeat_days: IntArray = field(repr=False)
    """Day numbers with repeat transactions of the calibration cohort ..."""
    repeat_counts: IntArray = field(repr=False)
    """... and how many (both periods: the tracking plot's actual curve)."""

    @property
    def customers(self) -> int:
        return len(self.customer_ids)

    @property
    def holdout_length(self) -> float:
        """Length of the holdout period in units (0 when there is none)."""
        days = max(0, (self.observation_end - self.calibration_end).days)
        return days / _UNIT_DAYS[self.unit]

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(
            {
                "customer_id": self.customer_ids,
                "customer_key": self.customer_keys,
                "first_purchase": [_day(n) for n in self.first_day],
                "frequency": self.frequency,
                "recency": self.recency,
                "T": self.T,
                "monetary_value": self.monetary_value,
            }
        )
        if self.customer_keys is None:
            frame = frame.drop(columns="customer_key")
        if self.holdout_length > 0:
            frame["holdout_frequency"] = self.holdout_frequency
            frame["holdout_value"] = self.holdout_value
        return frame

    def to_dict(self) -> dict[str, Any]:
        repeat = self.frequency > 0
        ready: dict[str, Any] = json_ready(
            {
                "purchase": self.purchase,
                "value": self.value,
                "unit": self.unit,
                "calibration_end": self.calibration_end.isoformat(),
                "observation_end": self.observation_end.isoformat(),
                "holdout_length": self.holdout_length,
                "customers": self.customers,
                "repeat_buyers": int(repeat.sum()),
                "late_customers": self.late_customers,
                "mean_frequency": _mean(self.frequency),
                "mean_recency": _mean(self.recency),
                "mean_T": _mean(self.T),
                "mean_monetary_value": float(np.nanmean(self.monetary_value))
                if np.isfinite(self.monetary_value).any()
                else None,
            }
        )
        return ready

    def chart(self) -> go.Figure:
        """How many customers made 0, 1, 2... repeat transactions."""
        counts = np.bincount(self.frequency) if self.customers else np.zeros(0, np.int64)
        figure = go.Figure(go.Bar(x=list(range(len(counts))), y=counts.tolist()))
        figure.update_layout(
            title=f"Repeat transactions per customer ({self.purchase})",
            xaxis_title="repeat transactions (distinct purchase days after the first)",
            yaxis_title="customers",
        )
        return figure


def _mean(values: npt.NDArray[Any]) -> float:
    return float(values.mean()) if len(values) else math.nan


def rfm_summary(
    events: ir.Table,
    purchase: str | Step = "purchase",
    *,
    value: str | None = None,
    unit: Unit = "week",
    until: date | None = None,
    journey: Journey | None = None,
    engine: Engine | None = None,
) -> RFMSummary:
    """The RFM summary of every buyer (see the module docs), in one engine query.

    ``purchase`` is a step: an event name, a touchpoint or stage id of ``journey``, or a
    rule. ``value`` names the column or property holding a purchase's value (default:
    the ``value`` column). ``until`` is the last day of the calibration period.
    """
    unit = _check_unit(unit)
    step = purchase if isinstance(purchase, Step) else resolve_step(purchase, events, journey)
    until_day = None if until is None else _day_number(until)
    query = _summary_query(events, step, _value_column(events, value), until_day)
    table = engine.to_arrow(query) if engine is not None else query.to_pyarrow()
    kinds = np.asarray(table.column("kind").to_numpy(zero_copy_only=False))
    end_rows = np.flatnonzero(kinds == "end")
    last_day = table.column("first")[int(end_rows[0])].as_py() if len(end_rows) else None
    if last_day is None:
        raise CLVError("the event log is empty: load events first")
    end_day = last_day if until_day is None else until_day
    customer_rows = table.filter(pa.array(kinds == "customer"))
    first_all = _column(customer_rows, "first", np.int64, 0)
    late = first_all > end_day
    if late.all():
        when = "" if until is None else f" by {until.isoformat()} (--until)"
        raise CLVError(
            f"no customer made a purchase ({step.label}){when}: check --purchase "
            "(an event name, a touchpoint or stage id of --map, or a rule) and --until"
        )
    rows = customer_rows.filter(pa.array(~late)).sort_by("customer_id")
    track = table.filter(pa.array(kinds == "track")).sort_by("first")
    unit_days = _UNIT_DAYS[unit]
    first = _column(rows, "first", np.int64, 0)
    valued = _column(rows, "valued", np.int64, 0)
    amount = _column(rows, "amount", np.float64, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(valued > 0, amount / np.maximum(valued, 1), np.nan)
    keys = rows.column("key")
    return RFMSummary(
        purchase=step.label,
        value=value or "value",
        unit=unit,
        calibration_end=_day(end_day),
        observation_end=_day(last_day),
        customer_ids=np.asarray(rows.column("customer_id").to_pylist(), dtype=object),
        customer_keys=None
        if keys.null_count == len(keys)
        else np.asarray(keys.to_pylist(), dtype=object),
        first_day=first,
        frequency=_column(rows, "days", np.int64, 0) - 1,
        recency=(_column(rows, "last", np.int64, 0) - first) / unit_days,
        T=(end_day - first) / unit_days,
        monetary_value=monetary,
        holdout_frequency=_column(rows, "held", np.int64, 0),
        holdout_value=_column(rows, "held_amount", np.float64, 0.0),
        late_customers=int(late.sum()),
        repeat_days=_column(track, "first", np.int64, 0),
        repeat_counts=_column(track, "days", np.int64, 0),
    )


# --- fitting and forecasting ------------------------------------------------------------------


@dataclass(frozen=True)
class HoldoutGroup:
    """Customers with one calibration frequency (``7+``: seven or more), and their mean
    actual and forecast repeat transactions in the holdout."""

    frequency: str
    customers: int
    actual: float
    predicted: float


@dataclass(frozen=True)
class HoldoutReport:
    """Forecast against actual repeat transactions in the holdout period."""

    length: float
    """Holdout length in the summary's unit."""
    customers: int
    actual_total: int
    predicted_total: float
    mae: float
    """Mean absolute error per customer."""
    rmse: float
    correlation: float
    """Pearson correlation of forecast and actual per customer (NaN if either is constant)."""
    groups: tuple[HoldoutGroup, ...]

    def to_dict(self) -> dict[str, Any]:
        ready: dict[str, Any] = json_ready(
            {
                "length": self.length,
                "customers": self.customers,
                "actual_total": self.actual_total,
                "predicted_total": self.predicted_total,
                "mae": self.mae,
                "rmse": self.rmse,
                "correlation": self.correlation,
                "groups": [vars(g) for g in self.groups],
            }
        )
        return ready


@dataclass(frozen=True, eq=False)
class CLVResult(AnalysisResult):
    """Fitted models and per-customer forecasts: ``to_frame()`` is the customer table."""

    summary: RFMSummary
    model: Model
    horizon_days: float
    discount_rate: float
    bgnbd: models.Fit[models.BGNBDParams]
    pareto_nbd: models.Fit[models.ParetoNBDParams] | None
    gamma_gamma: models.Fit[models.GammaGammaParams] | None
    gamma_gamma_customers: int
    frequency_value_correlation: float
    """Correlation of frequency and mean repeat value among repeat buyers: Gamma-Gamma
    assumes they are independent, so it should be near 0."""
    p_alive: FloatArray
    expected_purchases: FloatArray
    """Transactions expected over the horizon."""
    expected_value: FloatArray
    """Expected value of a transaction (Gamma-Gamma; NaN without a value model)."""
    clv: FloatArray
    holdout: HoldoutReport | None
    predicted_holdout: FloatArray | None
    tracking: pd.DataFrame = field(repr=False)
    """Weekly cumulative repeat transactions of the cohort: ``day``, ``actual``, ``expected``."""
    notes: tuple[str, ...] = ()

    @property
    def horizon(self) -> float:
        """The horizon in the summary's unit."""
        return self.horizon_days / _UNIT_DAYS[self.summary.unit]

    def to_frame(self) -> pd.DataFrame:
        """One row per customer, the most valuable first."""
        frame = self.summary.to_frame()
        frame["p_alive"] = self.p_alive
        frame["expected_purchases"] = self.expected_purchases
        frame["expected_value"] = self.expected_value
        frame["clv"] = self.clv
        if self.predicted_holdout is not None:
            frame["predicted_holdout"] = self.predicted_holdout
        by = ["clv", "expected_purchases", "customer_id"]
        frame = frame.sort_values(by, ascending=[False, False, True], na_position="last")
        return frame.reset_index(drop=True)

    def _fit_dict(self, fit: models.Fit[Any] | None) -> dict[str, Any] | None:
        if fit is None:
            return None
        return {
            **vars(fit.params),
            "log_likelihood": fit.log_likelihood,
            "converged": fit.converged and not fit.at_bound,
            "iterations": fit.iterations,
        }

    def to_dict(self) -> dict[str, Any]:
        finite = self.clv[np.isfinite(self.clv)]
        gamma_gamma = self._fit_dict(self.gamma_gamma)
        if gamma_gamma is not None and self.gamma_gamma is not None:
            gamma_gamma |= {
                "customers": self.gamma_gamma_customers,
                "mean_value": self.gamma_gamma.params.mean_value,
                "frequency_value_correlation": self.frequency_value_correlation,
            }
        ready: dict[str, Any] = json_ready(
            {
                "model": self.model,
                "unit": self.summary.unit,
                "horizon": {
                    "days": self.horizon_days,
                    "months": self.horizon_days / _MONTH_DAYS,
                    "units": self.horizon,
                },
                "discount_rate": self.discount_rate,
                "bgnbd": self._fit_dict(self.bgnbd),
                "pareto_nbd": self._fit_dict(self.pareto_nbd),
                "gamma_gamma": gamma_gamma,
                "summary": self.summary.to_dict(),
                "totals": {
                    "expected_purchases": float(self.expected_purchases.sum()),
                    "clv": float(finite.sum()) if len(finite) else None,
                    "mean_clv": float(finite.mean()) if len(finite) else None,
                    "median_clv": float(np.median(finite)) if len(finite) else None,
                    "mean_p_alive": _mean(self.p_alive),
                },
                "holdout": None if self.holdout is None else self.holdout.to_dict(),
                "tracking": [
                    {
                        "day": _day(row.day).isoformat(),
                        "actual": row.actual,
                        "expected": row.expected,
                    }
                    for row in self.tracking.itertuples()
                ],
                "notes": list(self.notes),
            }
        )
        return ready

    def chart(self) -> go.Figure:
        """The CLV distribution and the tracking plot (cumulative repeat transactions of
        the cohort, actual against expected, with the end of calibration marked)."""
        figure = make_subplots(
            rows=1,
            cols=2,
            subplot_titles=(
                f"CLV over {self.horizon_days / _MONTH_DAYS:.3g} months",
                "Cumulative repeat transactions",
            ),
        )
        finite = self.clv[np.isfinite(self.clv)]
        figure.add_trace(go.Histogram(x=finite.tolist(), name="customers", nbinsx=50), 1, 1)
        days = [_day(d).isoformat() for d in self.tracking["day"]]
        for name in ("actual", "expected"):
            figure.add_trace(
                go.Scatter(
                    x=days,
                    y=self.tracking[name].tolist(),
                    name=name,
                    mode="lines",
                    line={"dash": "dash"} if name == "expected" else {},
                ),
                1,
                2,
            )
        if self.holdout is not None:
            end = self.summary.calibration_end.isoformat()
            figure.add_vline(x=end, line_dash="dot", line_color="grey", row=1, col=2)
        figure.update_xaxes(title_text="CLV", row=1, col=1)
        figure.update_yaxes(title_text="customers", row=1, col=1)
        figure.update_yaxes(title_text="repeat transactions", row=1, col=2)
        figure.update_layout(title=f"Customer lifetime value ({self.model})")
        return figure

    def __rich__(self) -> Table:
        table = Table("", "", box=None)
        table.title = (
            f"CLV of {self.summary.customers:,} customers over "
            f"{self.horizon_days / _MONTH_DAYS:.3g} months ({self.model})"
        )
        data = self.to_dict()
        for name in ("bgnbd", "pareto_nbd", "gamma_gamma"):
            fit = data[name]
            if fit is not None:
                keys = [k for k in fit if k not in ("converged", "iterations", "customers")]
                text = ", ".join(f"{k} {_number(fit[k])}" for k in keys)
                table.add_row(name, text)
        totals = data["totals"]
        table.add_row("expected purchases", _number(totals["expected_purchases"]))
        for key in ("clv", "mean_clv", "median_clv", "mean_p_alive"):
            table.add_row(key.replace("_", " "), _number(totals[key]))
        if self.holdout is not None:
            h = self.holdout
            table.add_row(
                "holdout",
                f"{h.length:.3g} {self.summary.unit}s: actual {h.actual_total:,}, forecast "
                f"{h.predicted_total:,.1f}, MAE {h.mae:.3f}, correlation {_number(h.correlation)}",
            )
            for group in h.groups:
                table.add_row(
                    f"  frequency {group.frequency}",
                    f"{group.customers:,} customers: actual {group.actual:.3f}, "
                    f"forecast {group.predicted:.3f}",
                )
        for note in self.notes:
            table.add_row("note", note)
        table.caption = "per customer: --csv FILE or --out FILE"
        return table


def _number(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"
    return str(value)


def _holdout(summary: RFMSummary, predicted: FloatArray) -> HoldoutReport:
    actual = summary.holdout_frequency.astype(np.float64)
    groups = []
    capped = np.minimum(summary.frequency, FREQUENCY_GROUPS - 1)
    for k in range(FREQUENCY_GROUPS):
        members = capped == k
        if members.any():
            label = f"{k}+" if k == FREQUENCY_GROUPS - 1 else str(k)
            groups.append(
                HoldoutGroup(
                    label,
                    int(members.sum()),
                    float(actual[members].mean()),
                    float(predicted[members].mean()),
                )
            )
    errors = predicted - actual
    correlation = math.nan
    if len(actual) > 1 and actual.std() > 0 and predicted.std() > 0:
        correlation = float(np.corrcoef(predicted, actual)[0, 1])
    return HoldoutReport(
        length=summary.holdout_length,
        customers=len(actual),
        actual_total=int(actual.sum()),
        predicted_total=float(predicted.sum()),
        mae=float(np.abs(errors).mean()),
        rmse=float(np.sqrt((errors**2).mean())),
        correlation=correlation,
        groups=tuple(groups),
    )


def _tracking(summary: RFMSummary, expected: Any) -> pd.DataFrame:
    """Weekly cumulative repeat transactions of the cohort, actual and expected: the
    expected curve adds, over the customers' first days ``d``, ``E[X(t - d)]``."""
    start = int(summary.first_day.min())
    end = _day_number(summary.observation_end)
    span = end - start + 1
    cohort = np.bincount(summary.first_day - start, minlength=span).astype(np.float64)
    per_day = expected(np.arange(span, dtype=np.float64) / _UNIT_DAYS[summary.unit])
    expected_cumulative = np.convolve(cohort, per_day)[:span]
    actual = np.zeros(span, dtype=np.float64)
    inside = (summary.repeat_days >= start) & (summary.repeat_days <= end)
    np.add.at(actual, summary.repeat_days[inside] - start, summary.repeat_counts[inside])
    actual_cumulative = np.cumsum(actual)
    points = np.unique(np.append(np.arange(6, span, 7), span - 1))
    return pd.DataFrame(
        {
            "day": points + start,
            "actual": actual_cumulative[points],
            "expected": expected_cumulative[points],
        }
    )


def _month_ends(horizon_days: float) -> FloatArray:
    months = horizon_days / _MONTH_DAYS
    steps = max(1, math.ceil(months - 1e-9))
    ends: FloatArray = np.minimum(np.arange(1, steps + 1, dtype=np.float64), months) * _MONTH_DAYS
    return ends


def fit_clv(
    summary: RFMSummary,
    *,
    horizon: str | float = "12m",
    discount: float = 0.1,
    model: Model = "bgnbd",
    pareto: bool = True,
) -> CLVResult:
    """Fit the models to an RFM summary and forecast every customer (see the module docs).

    ``horizon`` is a duration (``12m``, ``26w``, ``90d``; a number is days); ``discount``
    the annual discount rate; ``pareto=False`` skips the Pareto/NBD fit (unless it is the
    forecasting ``model``).
    """
    if model not in get_args(Model):
        raise CLVError(f"unknown model {model!r}: use bgnbd or pareto_nbd")
    if not math.isfinite(discount) or discount < 0:
        raise CLVError(
            f"the discount rate must be zero or more (0.1 for 10% a year), not {discount}"
        )
    horizon_days = parse_horizon(horizon)
    x = summary.frequency.astype(np.float64)
    tx, age = summary.recency, summary.T
    repeat_buyers = int((x > 0).sum())
    if repeat_buyers == 0:
        raise CLVError(
            f"no customer bought on two different days by {summary.calibration_end.isoformat()} "
            f"({summary.customers:,} bought once): the models need repeat purchases "
            "(a longer calibration period, --until later, or another --purchase step)"
        )
    notes: list[str] = []
    (ux, utx, uage), weights, inverse = models.distinct_rows(x, tx, age)
    bgnbd = models.fit_bgnbd(ux, utx, uage, weights)
    pareto_fit = None
    if pareto or model == "pareto_nbd":
        pareto_fit = models.fit_pareto_nbd(ux, utx, uage, weights)
    for name, fit in (("BG/NBD", bgnbd), ("Pareto/NBD", pareto_fit)):
        if fit is not None and (not fit.converged or fit.at_bound):
            notes.append(
                f"the {name} fit did not settle (a parameter ran to a bound or the optimiser "
                "stopped): too few customers or repeat purchases to pin it down"
            )

    def conditional(t: float | FloatArray) -> FloatArray:
        if model == "pareto_nbd":
            assert pareto_fit is not None
            values = models.pareto_nbd_conditional_expected(pareto_fit.params, t, ux, utx, uage)
        else:
            values = models.bgnbd_conditional_expected(bgnbd.params, t, ux, utx, uage)
        return values[inverse]

    def unconditional(t: FloatArray) -> FloatArray:
        if model == "pareto_nbd":
            assert pareto_fit is not None
            return models.pareto_nbd_expected(pareto_fit.params, t)
        return models.bgnbd_expected(bgnbd.params, t)

    if model == "pareto_nbd":
        assert pareto_fit is not None
        alive = models.pareto_nbd_p_alive(pareto_fit.params, ux, utx, uage)[inverse]
    else:
        alive = models.bgnbd_p_alive(bgnbd.params, ux, utx, uage)[inverse]

    # Gamma-Gamma on repeat buyers with a positive mean repeat value.
    value = summary.monetary_value
    valued = (x > 0) & np.isfinite(value) & (value > 0)
    gamma_gamma = None
    correlation = math.nan
    if valued.sum() >= 2:
        gamma_gamma = models.fit_gamma_gamma(x[valued], value[valued])
        if not gamma_gamma.converged or gamma_gamma.at_bound:
            notes.append("the Gamma-Gamma fit did not settle: too few repeat buyers with values")
        if gamma_gamma.params.q <= 1:
            notes.append("Gamma-Gamma's q ≤ 1: the mean purchase value is not finite")
        if np.std(x[valued]) > 0 and np.std(value[valued]) > 0:
            correlation = float(np.corrcoef(x[valued], value[valued])[0, 1])
        skipped = repeat_buyers - int(valued.sum())
        if skipped:
            notes.append(
                f"{skipped:,} repeat buyers without a positive purchase value were left out of "
                "the Gamma-Gamma fit (their expected value is the population's)"
            )
        expected_value = models.gamma_gamma_expected_value(
            gamma_gamma.params, np.where(valued, x, 0.0), value
        )
    else:
        notes.append(
            f"no purchase values ({summary.value}) on repeat purchases, so no CLV: name "
            "the column or property holding them (--amount; on an event file --value COLUMN)"
        )
        expected_value = np.full(len(x), np.nan)

    unit_days = _UNIT_DAYS[summary.unit]
    ends = _month_ends(horizon_days)
    cumulative = [conditional(end / unit_days) for end in ends]
    factors = (1 + discount) ** (-ends / _YEAR_DAYS)
    previous = np.zeros(len(x))
    discounted = np.zeros(len(x))
    for factor, current in zip(factors, cumulative, strict=True):
        discounted += factor * (current - previous)
        previous = current
    expected_purchases = cumulative[-1]
    lifetime_value = expected_value * discounted

    holdout, predicted = None, None
    if summary.holdout_length > 0:
        predicted = conditional(summary.holdout_length)
        holdout = _holdout(summary, predicted)
    if summary.holdout_length == 0 and summary.calibration_end > summary.observation_end:
        notes.append(
            f"no holdout: the calibration period (to {summary.calibration_end.isoformat()}) "
            f"runs past the log's last day ({summary.observation_end.isoformat()})"
        )
    if summary.late_customers:
        notes.append(
            f"{summary.late_customers:,} customers first bought after the calibration period "
            "and are left out"
        )
    return CLVResult(
        summary=summary,
        model=model,
        horizon_days=horizon_days,
        discount_rate=discount,
        bgnbd=bgnbd,
        pareto_nbd=pareto_fit,
        gamma_gamma=gamma_gamma,
        gamma_gamma_customers=int(valued.sum()) if gamma_gamma is not None else 0,
        frequency_value_correlation=correlation,
        p_alive=alive,
        expected_purchases=expected_purchases,
        expected_value=expected_value,
        clv=lifetime_value,
        holdout=holdout,
        predicted_holdout=predicted,
        tracking=_tracking(summary, unconditional),
        notes=tuple(notes),
    )


def clv(
    events: ir.Table,
    purchase: str | Step = "purchase",
    *,
    value: str | None = None,
    unit: Unit = "week",
    until: date | None = None,
    horizon: str | float = "12m",
    discount: float = 0.1,
    model: Model = "bgnbd",
    pareto: bool = True,
    journey: Journey | None = None,
    engine: Engine | None = None,
) -> CLVResult:
    """RFM summary of ``events`` (:func:`rfm_summary`), then models and forecasts
    (:func:`fit_clv`).

    >>> import ibis, datetime as dt
    >>> start = dt.datetime(2026, 1, 1)
    >>> rows = [(c, start + dt.timedelta(days=d)) for c in range(40) for d in range(0, 90, 7 + c % 30)]
    >>> events = ibis.memtable({"customer_id": [str(c) for c, _ in rows], "ts": [t for _, t in rows],
    ...     "event": ["purchase"] * len(rows), "value": [10.0 + i % 7 for i in range(len(rows))]})
    >>> result = clv(events, until=dt.date(2026, 2, 28), horizon="6m", discount=0.1)
    >>> sorted(result.to_dict()["bgnbd"])[:4], result.holdout is not None
    (['a', 'alpha', 'b', 'converged'], True)
    """
    summary = rfm_summary(
        events, purchase, value=value, unit=unit, until=until, journey=journey, engine=engine
    )
    return fit_clv(summary, horizon=horizon, discount=discount, model=model, pareto=pareto)
