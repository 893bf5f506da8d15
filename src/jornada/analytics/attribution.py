"""Attribution: which channels (events, touchpoints) earn the conversions.

Paths come from events, built in the engine (:func:`conversion_paths`): each conversion
gets the customer's touches since the previous conversion that happened within the
lookback window before it; the touches after a customer's last conversion (all of them
for a customer who never converted), within the lookback window before the last of
them, make one non-converting path. Events are ordered by time, then load order; the
conversion events themselves are never touches; a conversion with no touch is counted
apart. Or paths come from an aggregated path table exported by another tool
(:func:`read_path_table`). The models then run on that small table:

- **first touch** / **last touch**: the whole conversion to the path's first / last touch;
- **linear**: each touch an equal share (a channel touched twice gets two shares);
- **position-based**: 40% to the first touch, 40% to the last, 20% shared by the touches
  between (configurable); a one-touch path gives its touch everything and a two-touch
  path splits in the ratio first : last (50/50 by default);
- **time decay**: touch ``i`` weighs ``2 ** (-(t_conversion - t_i) / half_life)``, shares
  proportional to the weights (only from events: a path table has no touch times);
- **Markov chain** of order 1-4: states are the last ``order`` touches; a channel's
  *removal effect* is the share of the conversion probability (from the start)
  lost when its states lead to no conversion, computed exactly from the absorbing
  chain by linear solves (not by simulation); conversions are shared in proportion to
  the removal effects. Repeated touches of one channel are merged first by default
  (``repeats="keep"`` keeps them as self-transitions and repeated states);
- **Shapley values** of the game whose worth of a set of channels is the conversions
  of the paths touching only channels of the set: exactly, each path's conversions
  shared equally by its distinct channels (see :func:`shapley_shares`), for any number
  of channels.

With conversion value, every model also attributes value (value of the conversions
for the heuristics and Shapley; expected value for Markov, each conversion worth the
mean value of the conversions leaving its last state). Every model's
column sums to the total conversions (conversions without touches are reported apart).
``ci=True`` adds 95% percentile bootstrap intervals on each channel's share of the
conversions: whole paths (converting or not) resampled with replacement, seeded; a
resampled conversion keeps the mean time-decay credits of its path.

>>> from jornada.analytics._attribution_paths import build_path_table
>>> table = build_path_table([("email", "web"), ("web",), ("email",)], [2, 1, 0], [0, 1, 2])
>>> result = attribute(table, models=["first_touch", "last_touch", "linear"])
>>> result.to_frame()[["channel", "first_touch", "last_touch", "linear"]].to_dict("records")
[{'channel': 'web', 'first_touch': 1.0, 'last_touch': 3.0, 'linear': 2.0}, {'channel': 'email', 'first_touch': 2.0, 'last_touch': 0.0, 'linear': 1.0}]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from rich.table import Table

from jornada.analytics._attribution_models import (
    HEURISTICS,
    MODELS,
    Repeats,
    credit_matrix,
    heuristic,
    markov_chain,
    markov_fit,
    shapley_shares,
    touch_shares,
)
from jornada.analytics._attribution_paths import (
    AttributionError,
    PathTable,
    Touch,
    build_path_table,
    conversion_paths,
    read_path_table,
)
from jornada.analytics.funnel import FunnelError, parse_window
from jornada.analytics.results import AnalysisResult, json_ready
from jornada.analytics.stages import StageTables
from jornada.engine import Engine
from jornada.model import Journey

__all__ = [
    "MODELS",
    "AttributionError",
    "AttributionResult",
    "AttributionSettings",
    "PathTable",
    "Repeats",
    "Touch",
    "attribute",
    "attribution",
    "build_path_table",
    "conversion_paths",
    "parse_models",
    "parse_position_weights",
    "read_path_table",
    "shapley_shares",
]

MODEL_LABELS: Final[dict[str, str]] = {
    "first_touch": "first touch",
    "last_touch": "last touch",
    "linear": "linear",
    "position_based": "position-based",
    "time_decay": "time decay",
    "markov": "Markov",
    "shapley": "Shapley",
}

DEFAULT_LOOKBACK: Final = "30d"
DEFAULT_HALF_LIFE: Final = "7d"
CI_LEVEL: Final = 0.95
DEFAULT_CI_SAMPLES: Final = 200


@dataclass(frozen=True)
class AttributionSettings:
    """How the attribution was computed (reported with the result)."""

    source: str = "events"  # "events", or the path table file read
    conversion: str | None = None
    touch: str | None = None
    only: str | None = None
    lookback_seconds: float | None = None
    order: int = 1
    repeats: Repeats = "drop"
    position_weights: tuple[float, float, float] = (0.4, 0.2, 0.4)
    half_life_seconds: float | None = None
    ci_samples: int | None = None
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "conversion": self.conversion,
            "touch": self.touch,
            "only": self.only,
            "lookback_seconds": self.lookback_seconds,
            "markov_order": self.order,
            "repeats": self.repeats,
            "position_weights": list(self.position_weights),
            "half_life_seconds": self.half_life_seconds,
            "ci": None
            if self.ci_samples is None
            else {"level": CI_LEVEL, "samples": self.ci_samples, "seed": self.seed},
        }


@dataclass(frozen=True)
class AttributionResult(AnalysisResult):
    """Conversions (and value) each channel gets under each model.

    ``conversions[model][i]`` is what ``channels[i]`` gets; ``intervals[model][i]`` the
    95% bootstrap interval of its *share* of the conversions (with ``ci``).

    >>> result = AttributionResult(("web",), ("linear",), {"linear": (3.0,)}, total_conversions=3.0)
    >>> result.to_dict()["channels"]
    [{'channel': 'web', 'linear': 3.0}]
    """

    channels: tuple[str, ...]
    models: tuple[str, ...]
    conversions: Mapping[str, tuple[float, ...]]
    values: Mapping[str, tuple[float, ...]] | None = None
    intervals: Mapping[str, tuple[tuple[float, float], ...]] | None = None
    total_conversions: float = 0.0
    total_value: float | None = None
    conversions_without_touches: float = 0.0
    value_without_touches: float | None = None
    non_converting_paths: float = 0.0
    distinct_paths: int = 0
    removal_effects: tuple[float, ...] | None = None
    conversion_probability: float | None = None
    settings: AttributionSettings = field(default_factory=AttributionSettings)
    notes: tuple[str, ...] = ()
    paths: PathTable | None = field(default=None, repr=False, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """One row per channel: each model's conversions, then values, share intervals
        and the Markov removal effect."""
        data: dict[str, Any] = {"channel": list(self.channels)}
        for model in self.models:
            data[model] = list(self.conversions[model])
        if self.values is not None:
            for model in self.models:
                data[f"{model}_value"] = list(self.values[model])
        if self.intervals is not None:
            for model in self.models:
                data[f"{model}_share_low"] = [low for low, _ in self.intervals[model]]
                data[f"{model}_share_high"] = [high for _, high in self.intervals[model]]
        if self.removal_effects is not None:
            data["markov_removal_effect"] = list(self.removal_effects)
        return pd.DataFrame(data)

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for index, channel in enumerate(self.channels):
            row: dict[str, Any] = {"channel": channel}
            for model in self.models:
                row[model] = self.conversions[model][index]
            if self.values is not None:
                for model in self.models:
                    row[f"{model}_value"] = self.values[model][index]
            if self.intervals is not None:
                for model in self.models:
                    row[f"{model}_share_ci"] = list(self.intervals[model][index])
            if self.removal_effects is not None:
                row["markov_removal_effect"] = self.removal_effects[index]
            rows.append(row)
        data: dict[str, Any] = {
            "channels": rows,
            "total_conversions": self.total_conversions,
            "models": list(self.models),
        }
        if self.total_value is not None:
            data["total_value"] = self.total_value
        data.update(
            conversions_without_touches=self.conversions_without_touches,
            non_converting_paths=self.non_converting_paths,
            distinct_paths=self.distinct_paths,
        )
        if self.value_without_touches is not None:
            data["value_without_touches"] = self.value_without_touches
        if self.conversion_probability is not None:
            data["markov_conversion_probability"] = self.conversion_probability
        data["settings"] = self.settings.to_dict()
        data["notes"] = list(self.notes)
        ready: dict[str, Any] = json_ready(data)
        return ready

    def share(self, model: str) -> tuple[float, ...]:
        """Each channel's share of the conversions under ``model``."""
        total = self.total_conversions
        return tuple(x / total if total else math.nan for x in self.conversions[model])

    def chart(self) -> go.Figure:
        """Grouped bars: per channel, the conversions each model gives it (with the
        bootstrap intervals as error bars when computed)."""
        figure = go.Figure()
        for model in self.models:
            error = None
            if self.intervals is not None:
                attributed = np.asarray(self.conversions[model])
                low = np.array([lo for lo, _ in self.intervals[model]]) * self.total_conversions
                high = np.array([hi for _, hi in self.intervals[model]]) * self.total_conversions
                error = {
                    "type": "data",
                    "symmetric": False,
                    "array": np.maximum(high - attributed, 0),
                    "arrayminus": np.maximum(attributed - low, 0),
                }
            figure.add_trace(
                go.Bar(
                    name=MODEL_LABELS[model],
                    x=list(self.channels),
                    y=list(self.conversions[model]),
                    error_y=error,
                    hovertemplate="%{x}: %{y:,.1f} conversions<extra>"
                    + MODEL_LABELS[model]
                    + "</extra>",
                )
            )
        figure.update_layout(
            barmode="group",
            title=f"Attribution of {self.total_conversions:,.0f} conversions by model",
            xaxis_title=self.settings.touch or "channel",
            yaxis_title="attributed conversions",
        )
        return figure

    def __rich__(self) -> Table:
        table = Table(
            self.settings.touch or "channel",
            *(MODEL_LABELS[m] for m in self.models),
            box=None,
            title=f"Attribution of {self.total_conversions:,.0f} conversions"
            + (f" to {self.settings.touch}s" if self.settings.touch else ""),
        )
        for index, channel in enumerate(self.channels):
            cells = []
            for model in self.models:
                cell = f"{self.conversions[model][index]:,.1f}"
                if self.intervals is not None:
                    low, high = self.intervals[model][index]
                    cell += f" ({low:.0%}-{high:.0%})"
                cells.append(cell)
            table.add_row(channel, *cells)
        caption = []
        if self.conversions_without_touches:
            caption.append(
                f"{self.conversions_without_touches:,.0f} conversions without touches "
                "are attributed to no channel"
            )
        if self.intervals is not None:
            caption.append("in brackets: 95% bootstrap interval of the share")
        caption.extend(self.notes)
        table.caption = "; ".join(caption) or None
        return table


# --- options ---------------------------------------------------------------------------------


def parse_models(models: Sequence[str] | str | None, *, have_times: bool = True) -> tuple[str, ...]:
    """Model names from a list or comma-separated text (``-`` or ``_``, any case); all
    of them when None (time decay only when touch times are known).

    >>> parse_models("markov, first-touch")
    ('first_touch', 'markov')
    """
    if models is None:
        return tuple(m for m in MODELS if have_times or m != "time_decay")
    texts = [models] if isinstance(models, str) else list(models)
    wanted = {
        part.strip().lower().replace("-", "_")
        for text in texts
        for part in text.split(",")
        if part.strip()
    }
    unknown = sorted(wanted - set(MODELS))
    if unknown:
        raise AttributionError(
            f"unknown model {', '.join(unknown)}: choose from {', '.join(MODELS)}"
        )
    if not wanted:
        raise AttributionError(f"give at least one model: {', '.join(MODELS)}")
    return tuple(m for m in MODELS if m in wanted)


def parse_position_weights(text: str | Sequence[float]) -> tuple[float, float, float]:
    """Position-based weights first/middle/last from ``40/20/40`` (percent) or
    ``0.4,0.2,0.4``; they must sum to 100% (or 1).

    >>> parse_position_weights("30/40/30")
    (0.3, 0.4, 0.3)
    """
    if isinstance(text, str):
        parts = [p for p in text.replace(",", "/").replace(":", "/").split("/") if p.strip()]
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            numbers = []
    else:
        numbers = [float(x) for x in text]
    if len(numbers) != 3 or any(not math.isfinite(x) or x < 0 for x in numbers):
        raise AttributionError(
            f"position weights {text!r}: give first/middle/last, such as 40/20/40"
        )
    total = sum(numbers)
    if math.isclose(total, 100.0, abs_tol=1e-6):
        numbers = [x / 100 for x in numbers]
    elif not math.isclose(total, 1.0, abs_tol=1e-9):
        raise AttributionError(
            f"position weights {text!r} sum to {total:g}: they must sum to 100 (or 1)"
        )
    return (numbers[0], numbers[1], numbers[2])


def _checked(settings: AttributionSettings) -> AttributionSettings:
    """The settings, once their model options are known to be usable."""
    if not 1 <= settings.order <= 4:
        raise AttributionError(f"the Markov --order must be 1 to 4, not {settings.order}")
    if settings.repeats not in ("drop", "keep"):
        raise AttributionError(f"repeats must be 'drop' or 'keep', not {settings.repeats!r}")
    if settings.ci_samples is not None and settings.ci_samples < 2:
        raise AttributionError("--ci-samples must be at least 2")
    return settings


def _seconds(text: str | float | None, option: str) -> float | None:
    try:
        return parse_window(text)
    except FunnelError as error:
        raise AttributionError(f"{option}: {error}") from None


# --- the analysis --------------------------------------------------------------------------------


def attribution(
    events: ir.Table,
    *,
    conversion: str,
    touch: Touch | str = Touch.channel,
    only: str | None = None,
    lookback: str | float | None = DEFAULT_LOOKBACK,
    models: Sequence[str] | str | None = None,
    order: int = 1,
    repeats: Repeats = "drop",
    position_weights: str | Sequence[float] = (0.4, 0.2, 0.4),
    half_life: str | float = DEFAULT_HALF_LIFE,
    value: bool | None = None,
    ci: bool = False,
    ci_samples: int = DEFAULT_CI_SAMPLES,
    seed: int = 0,
    journey: Journey | None = None,
    engine: Engine | None = None,
    stage_tables: StageTables | None = None,
) -> AttributionResult:
    """Attribute the conversions of ``events`` to touches (by ``touch``: channel, event
    name or map touchpoint), with every model or those listed.

    ``conversion`` is an event name, a touchpoint or stage id of ``journey`` or a rule;
    ``only`` (same forms) keeps just the matching events as touches. ``lookback`` and
    ``half_life`` are durations (``30d``, ``12h``, seconds); ``lookback=None`` keeps
    every touch since the previous conversion. ``stage_tables``: the
    :class:`~jornada.analytics.stages.StageTables` of ``events`` and ``journey`` (built
    without ``as_of``): touches by touchpoint are then read from their labelled events,
    not labelled again (the same numbers).

    >>> from jornada.engine import Engine
    >>> events = Engine.duckdb().con.sql(
    ...     "SELECT * FROM (VALUES ('a', 0, TIMESTAMP '2026-01-01', 'ad', 'social'),"
    ...     " ('a', 1, TIMESTAMP '2026-01-02', 'visit', 'web'),"
    ...     " ('a', 2, TIMESTAMP '2026-01-03', 'purchase', 'web'))"
    ...     " AS t(customer_id, idx, ts, event, channel)")
    >>> result = attribution(events, conversion="purchase", models="first_touch,markov")
    >>> result.conversions
    {'first_touch': (1.0, 0.0), 'markov': (0.5, 0.5)}
    """
    wanted = parse_models(models)
    lookback_seconds = _seconds(lookback, "--lookback")
    half_life_seconds = _seconds(half_life, "--half-life") if "time_decay" in wanted else None
    if half_life_seconds is not None and half_life_seconds <= 0:
        raise AttributionError("--half-life must be longer than zero (such as 7d)")
    settings = _checked(
        AttributionSettings(
            conversion=conversion,
            touch=Touch(touch).value,
            only=only,
            lookback_seconds=lookback_seconds,
            order=order,
            repeats=repeats,
            position_weights=parse_position_weights(position_weights),
            half_life_seconds=half_life_seconds,
            ci_samples=ci_samples if ci else None,
            seed=seed,
        )
    )
    table = conversion_paths(
        events,
        conversion=conversion,
        touch=touch,
        only=only,
        lookback_seconds=lookback_seconds,
        half_life_seconds=half_life_seconds,
        value=value,
        journey=journey,
        engine=engine,
        stage_tables=stage_tables,
    )
    return attribute(table, models=wanted, settings=settings, ci=ci)


def attribute(
    table: PathTable,
    *,
    models: Sequence[str] | str | None = None,
    order: int | None = None,
    repeats: Repeats | None = None,
    position_weights: str | Sequence[float] | None = None,
    ci: bool = False,
    ci_samples: int | None = None,
    seed: int | None = None,
    settings: AttributionSettings | None = None,
) -> AttributionResult:
    """Run the models on a path table (from :func:`conversion_paths` or
    :func:`read_path_table`). Options given here override ``settings``."""
    settings = settings or AttributionSettings()
    if ci and ci_samples is None:
        ci_samples = settings.ci_samples or DEFAULT_CI_SAMPLES
    settings = _checked(
        replace(
            settings,
            order=settings.order if order is None else order,
            repeats=settings.repeats if repeats is None else repeats,
            position_weights=settings.position_weights
            if position_weights is None
            else parse_position_weights(position_weights),
            half_life_seconds=table.half_life_seconds,
            ci_samples=ci_samples if ci else None,
            seed=settings.seed if seed is None else seed,
        )
    )
    have_times = table.decay is not None
    notes: list[str] = []
    if models is None:
        wanted = parse_models(None, have_times=have_times)
        if not have_times:
            notes.append("time decay needs touch times, which a path table has not")
    else:
        wanted = parse_models(models)
        if "time_decay" in wanted and not have_times:
            raise AttributionError(
                "time decay needs the time of each touch, which a path table has not: "
                "compute attribution from events, or choose other --model values"
            )
    value = table.value
    computed = _models(table, wanted, table.conversions, table.nulls, value, settings)
    intervals = None
    if settings.ci_samples is not None:
        intervals = _bootstrap(table, wanted, settings)

    # Channels in a stable, useful order: most conversions over the models first.
    n = len(table.channels)
    mean = np.zeros(n)
    for model in wanted:
        mean += computed.conversions[model]
    order_of = sorted(range(n), key=lambda i: (-round(float(mean[i]), 9), table.channels[i]))

    def arranged(values: np.ndarray[Any, Any]) -> tuple[float, ...]:
        return tuple(float(values[i]) for i in order_of)

    return AttributionResult(
        channels=tuple(table.channels[i] for i in order_of),
        models=wanted,
        conversions={m: arranged(computed.conversions[m]) for m in wanted},
        values=None if value is None else {m: arranged(computed.values[m]) for m in wanted},
        intervals=None
        if intervals is None
        else {
            m: tuple((float(intervals[m][i, 0]), float(intervals[m][i, 1])) for i in order_of)
            for m in wanted
        },
        total_conversions=table.total_conversions,
        total_value=table.total_value,
        conversions_without_touches=table.conversions_without_touches,
        value_without_touches=None if value is None else table.value_without_touches,
        non_converting_paths=float(table.nulls.sum()),
        distinct_paths=table.size,
        removal_effects=None
        if computed.removal_effects is None
        else arranged(computed.removal_effects),
        conversion_probability=computed.probability,
        settings=settings,
        notes=tuple(notes),
        paths=table,
    )


@dataclass
class _Computed:
    conversions: dict[str, np.ndarray[Any, Any]]
    values: dict[str, np.ndarray[Any, Any]]
    removal_effects: np.ndarray[Any, Any] | None = None
    probability: float | None = None


def _models(
    table: PathTable,
    models: Sequence[str],
    conversions: np.ndarray[Any, Any],
    nulls: np.ndarray[Any, Any],
    value: np.ndarray[Any, Any] | None,
    settings: AttributionSettings,
) -> _Computed:
    computed = _Computed({}, {})
    total = float(conversions.sum())
    for model in models:
        worth: np.ndarray[Any, Any] | None
        if model in HEURISTICS:
            got, worth = heuristic(
                table, model, conversions, value, position_weights=settings.position_weights
            )
        elif model == "markov":
            fit = markov_fit(
                markov_chain(table, settings.order, settings.repeats), conversions, nulls, value
            )
            got = fit.attributed(total)
            worth = fit.attributed_value(0.0 if value is None else float(value.sum()))
            computed.removal_effects = fit.removal_effects
            computed.probability = fit.probability
        else:
            shares = shapley_shares(table)
            got = shares.T @ conversions
            worth = None if value is None else shares.T @ value
        computed.conversions[model] = np.asarray(got, dtype=np.float64)
        if worth is not None:
            computed.values[model] = np.asarray(worth, dtype=np.float64)
    return computed


def _bootstrap(
    table: PathTable, models: Sequence[str], settings: AttributionSettings
) -> dict[str, np.ndarray[Any, Any]]:
    """Percentile intervals of each channel's share: the paths (converting and not)
    resampled with replacement, as many as there are, ``ci_samples`` times."""
    assert settings.ci_samples is not None
    rng = np.random.default_rng(settings.seed)
    cells = np.concatenate([table.conversions, table.nulls])
    paths = round(float(cells.sum()))
    n = len(table.channels)
    if paths == 0:
        return {m: np.full((n, 2), np.nan) for m in models}
    chances = cells / cells.sum()
    # Every model but Markov is linear in the conversions of each path: a matrix.
    credits = {
        m: shapley_shares(table)
        if m == "shapley"
        else credit_matrix(table, touch_shares(table, m, settings.position_weights))
        for m in models
        if m != "markov"
    }
    chain = markov_chain(table, settings.order, settings.repeats) if "markov" in models else None
    draws = {m: np.full((settings.ci_samples, n), np.nan) for m in models}
    for sample in range(settings.ci_samples):
        counts = rng.multinomial(paths, chances).astype(np.float64)
        conversions, nulls = counts[: table.size], counts[table.size :]
        total = conversions.sum()
        if total == 0:
            continue  # no conversion drawn: no shares (left out of the percentiles)
        for model, matrix in credits.items():
            draws[model][sample] = (matrix.T @ conversions) / total
        if chain is not None:
            fit = markov_fit(chain, conversions, nulls)
            draws["markov"][sample] = fit.attributed(total) / total
    return {m: _interval(d) for m, d in draws.items()}


def _interval(draws: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The percentile interval of each column of ``draws``; NaN for a column without a
    single draw (when no sample drew a conversion), where NumPy would warn."""
    tail = (1 - CI_LEVEL) / 2 * 100
    found = np.full((draws.shape[1], 2), np.nan)
    drawn = ~np.isnan(draws).all(axis=0)
    if drawn.any():
        found[drawn] = np.column_stack(
            [
                np.nanpercentile(draws[:, drawn], tail, axis=0),
                np.nanpercentile(draws[:, drawn], 100 - tail, axis=0),
            ]
        )
    return found
