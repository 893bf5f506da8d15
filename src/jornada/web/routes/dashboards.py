"""The analysis API and the dashboards built on it.

=====================================  ==================================================
``GET /api/analyses/{name}``           one analysis (funnel, transitions, sankey, ...)
                                       as JSON (``to_dict()``), ``?format=csv``
                                       (``to_frame()``), ``plotly`` (``chart()``) or
                                       ``table`` (the frame's first ``rows`` rows)
``GET /dashboards``                    the hub; ``/dashboards.json`` its JSON twin
``GET /dashboards/{id}``               one dashboard page; ``/dashboards/{id}.json``
``GET /static/vendor/plotly.js``       Plotly's JS, from the installed package (public)
=====================================  ==================================================

Every analysis takes the parameters of its CLI command (``steps``, ``mode``,
``window``, ``map`` ...) as typed query parameters, plus the filters every dashboard
shares:

- ``from`` / ``to``: the period, dates (UTC, both days included) on the events' ``ts``;
- ``channel``: only events of these channels (repeatable);
- ``segment``: only customers having at least one event that matches this rule
  (the rule language of ``where:`` blocks, compiled to Ibis: never SQL).

Event filters (period, channel) keep the per-event facts right: the position in the
path and the next event are recomputed on the events kept, so paths and transitions
describe the filtered log.

Results are cached (:mod:`jornada.web.cache`) by analysis, parameters and the
workspace's data version: a load makes them stale. Errors are JSON
``{"error": {"status", "code", "message"}}``: 400 for an analysis refusing its
parameters (an unknown step, a bad rule), 404 for an unknown map, 409 when no events
are loaded yet, 422 for unparseable parameters.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, cast

import ibis
import ibis.expr.types as ir
import plotly
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from jornada.analytics.attribution import Touch, attribution, parse_position_weights
from jornada.analytics.churn import ChurnDefinition, churn
from jornada.analytics.clv import Model, Unit, clv
from jornada.analytics.funnel import FunnelMode, PathUnit, funnel
from jornada.analytics.kpis import By, KpiPeriod, kpis
from jornada.analytics.paths import (
    PathBy,
    PathPattern,
    contains_sequence,
    excludes,
    sankey,
    step_matrix,
    transitions,
    variants,
)
from jornada.analytics.results import AnalysisResult, json_ready
from jornada.analytics.retention import Period, lifecycle, retention
from jornada.analytics.stages import DEFAULT_PERCENTILE, analyse_stages, find_stalled
from jornada.analytics.timing import time_to_convert, touches_before_conversion
from jornada.errors import JornadaError
from jornada.events.filters import EventScope, scope_events
from jornada.model import Journey
from jornada.model.problems import MapFileError
from jornada.web.auth import Access, WebError, guard
from jornada.web.cache import ResultCache, app_cache, cache_key, engine_lock
from jornada.web.pages import page_language, render_page, translator, workspace_of
from jornada.web.routes import READ
from jornada.web.routes.maps import is_map_id
from jornada.workspace import Workspace, WorkspaceError

__all__ = [
    "ANALYSES",
    "DASHBOARDS",
    "Filters",
    "analysis_cache",
    "filtered_events",
    "known_data_version",
    "router",
    "split_list",
]

router = APIRouter()

VIEWER = [guard(Access.VIEWER)]

Format = Literal["json", "csv", "plotly", "table"]

ANALYSES = (
    "funnel",
    "transitions",
    "sankey",
    "variants",
    "step-matrix",
    "retention",
    "lifecycle",
    "time-to-convert",
    "touches",
    "stages",
    "stalled",
    "attribution",
    "kpis",
    "clv",
    "churn",
)
"""Every analysis of the API, in the order of the docs."""

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The analysis refused its parameters (the message says why)."},
    404: {"description": "No such map."},
    409: {"description": "No events are loaded yet."},
    422: {"description": "A parameter could not be parsed."},
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The result: JSON (`to_dict()`), CSV, a Plotly figure or a table.",
        "content": {"application/json": {}, "text/csv": {}},
    },
    **_ERRORS,
}


# --- app-wide objects --------------------------------------------------------------------

_STATE_GUARD = threading.Lock()


def analysis_cache(request: Request) -> ResultCache[_Entry]:
    """The app's result cache (made on first use)."""
    return cast(ResultCache[_Entry], app_cache(request.app.state, "analysis_cache"))


VERSION_TTL_SECONDS = 1.0
"""How long a data version read is trusted. Loads through the app update it at once;
the re-read catches any other writer (the engine's file is locked by this process, so
there should be none)."""


def known_data_version(request: Request) -> int:
    """The workspace's data version, read at most once a second (a query per request
    would queue every request on the engine lock). While a load holds the engine, the
    last version read is used: cached results stay available during a load."""
    workspace = workspace_of(request)
    state = request.app.state
    known: int | None = getattr(state, "known_data_version", None)
    read_at: float = getattr(state, "known_data_version_at", 0.0)
    if known is not None and time.monotonic() - read_at < VERSION_TTL_SECONDS:
        return known
    lock = engine_lock(workspace)
    if lock.acquire(blocking=known is None):
        try:
            version = workspace.data_version
        finally:
            lock.release()
        state.known_data_version, state.known_data_version_at = version, time.monotonic()
        return version
    assert known is not None  # the lock is only tried without blocking when known
    return known


# --- filters -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What every analysis request shares: filters, the map, the answer's format."""

    date_from: dt.date | None = None
    date_to: dt.date | None = None
    segment: str | None = None
    channel: tuple[str, ...] = ()
    map_id: str | None = None
    format: Format = "json"
    rows: int = 100

    def key(self) -> dict[str, Any]:
        """What changes the result (not the format: one result serves them all)."""
        return {
            "from": self.date_from,
            "to": self.date_to,
            "segment": self.segment,
            "channel": sorted(self.channel),
            "map": self.map_id,
        }

    @property
    def filters_events(self) -> bool:
        return bool(self.date_from or self.date_to or self.channel)

    @property
    def scope(self) -> EventScope:
        """The events these filters keep (a bad segment rule raises its ``RuleError``)."""
        return EventScope(self.date_from, self.date_to, self.channel, self.segment)


def _filters(
    date_from: Annotated[
        dt.date | None,
        Query(alias="from", description="First day of the period (UTC, included)."),
    ] = None,
    date_to: Annotated[
        dt.date | None, Query(alias="to", description="Last day of the period (UTC, included).")
    ] = None,
    segment: Annotated[
        str | None,
        Query(
            max_length=2000,
            description="Only customers with at least one event matching this rule, "
            "e.g. `properties.plan = 'pro'` or `channel = 'app'`.",
        ),
    ] = None,
    channel: Annotated[
        list[str] | None,
        Query(max_length=50, description="Only events of these channels (repeatable)."),
    ] = None,
    map_id: Annotated[
        str | None,
        Query(
            alias="map",
            max_length=64,
            description="A map of the workspace: its touchpoint and stage ids may be steps.",
        ),
    ] = None,
    format: Annotated[
        Format,
        Query(
            description="json: the result's data; csv: its table; plotly: its chart as a "
            "Plotly figure; table: the first `rows` rows of its table as JSON."
        ),
    ] = "json",
    rows: Annotated[int, Query(ge=1, le=10_000, description="Rows of `format=table`.")] = 100,
) -> Filters:
    if date_from and date_to and date_to < date_from:
        raise WebError(400, "bad_request", "web.dash.error.period")
    return Filters(
        date_from=date_from,
        date_to=date_to,
        segment=segment.strip() or None if segment else None,
        channel=tuple(sorted({c for c in channel or () if c})),
        map_id=map_id or None,
        format=format,
        rows=rows,
    )


Common = Annotated[Filters, Depends(_filters)]


def filtered_events(events: ir.Table, filters: Filters) -> ir.Table:
    """``events`` with the period, channel and segment filters applied
    (:func:`~jornada.events.filters.scope_events`: the same scoping as the CLI's)."""
    return scope_events(events, filters.scope)


def split_list(values: Sequence[str] | None) -> list[str]:
    """Query values as a list: each value may hold several, comma-separated, except
    inside quotes or parentheses (a rule such as ``channel in ('web', 'app')``).

    >>> split_list(["view, channel in ('web', 'app')", "purchase"])
    ['view', "channel in ('web', 'app')", 'purchase']
    """
    found: list[str] = []
    for value in values or ():
        depth, quote, start = 0, "", 0
        for position, char in enumerate(value):
            if quote:
                quote = "" if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char in "([":
                depth += 1
            elif char in ")]":
                depth -= 1
            elif char == "," and depth == 0:
                found.append(value[start:position])
                start = position + 1
        found.append(value[start:])
    return [part.strip() for part in found if part.strip()]


# --- running an analysis ----------------------------------------------------------------------


@dataclass
class _Entry:
    """A cached result and its answers in each format, made once each."""

    result: AnalysisResult
    renders: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class Context:
    """What an analysis runs on: the filtered events, the map, the engine."""

    workspace: Workspace
    events: ir.Table
    journey: Journey | None


def _journey(workspace: Workspace, map_id: str | None) -> Journey | None:
    if map_id is None:
        return None
    if not is_map_id(map_id):
        raise WebError(404, "not_found", "web.error.bad_map_id")
    try:
        return workspace.load_map(map_id)
    except WorkspaceError:  # its message names server paths: not for the client
        raise WebError(404, "not_found", "web.error.no_map", id=map_id) from None
    except MapFileError:
        raise WebError(422, "map_has_problems", "web.dash.error.map_problems", id=map_id) from None


def _client_message(error: Exception, workspace: Workspace) -> str:
    """The analysis's own message, without server paths."""
    text = str(error).strip() or type(error).__name__
    for path in {str(workspace.root.resolve()), str(workspace.root)}:
        text = text.replace(path + "/", "").replace(path, "the workspace")
    return text.splitlines()[0][:1000]


def _render(entry: _Entry, name: str, filters: Filters) -> tuple[bytes, str]:
    """The result in ``filters.format``, made once per entry (and row count)."""
    fmt = filters.format
    slot = f"{fmt}:{filters.rows}" if fmt == "table" else fmt
    with entry.lock:
        if slot in entry.renders:
            return entry.renders[slot]
        result = entry.result
        if fmt == "json":
            body = _json_bytes(result.to_dict())
            rendered = (body, "application/json")
        elif fmt == "plotly":
            rendered = (result.chart().to_json().encode(), "application/json")
        elif fmt == "csv":
            rendered = (result.to_frame().to_csv(index=False).encode(), "text/csv; charset=utf-8")
        else:
            frame = result.to_frame()
            head = frame.head(filters.rows)
            rows = [json_ready(list(row)) for row in head.itertuples(index=False)]
            table = {
                "analysis": name,
                "columns": [str(column) for column in frame.columns],
                "rows": rows,
                "total": len(frame),
            }
            rendered = (_json_bytes(table), "application/json")
        entry.renders[slot] = rendered
        return rendered


def _json_bytes(data: Any) -> bytes:
    return json.dumps(json_ready(data), ensure_ascii=False, default=str).encode()


def run_analysis(
    request: Request,
    name: str,
    filters: Filters,
    params: dict[str, Any],
    compute: Callable[[Context], AnalysisResult],
) -> Response:
    """Answer an analysis request: from the cache, or computed under the engine lock.

    Refusals are :class:`WebError` s (the app answers them as JSON errors).
    """
    return _run(request, name, filters, params, compute)


def _run(
    request: Request,
    name: str,
    filters: Filters,
    params: dict[str, Any],
    compute: Callable[[Context], AnalysisResult],
) -> Response:
    workspace = workspace_of(request)
    version = known_data_version(request)
    if version == 0:
        raise WebError(409, "no_events", "web.dash.error.no_events")
    key = cache_key(name, {**params, **filters.key()}, version=version)

    def calculate() -> _Entry:
        with engine_lock(workspace):
            journey = _journey(workspace, filters.map_id)
            try:
                events = filtered_events(workspace.events(), filters)
                return _Entry(compute(Context(workspace, events, journey)))
            except (JornadaError, ValueError) as error:
                raise WebError(400, "invalid_analysis", _client_message(error, workspace)) from None

    cache = analysis_cache(request)
    cache.forget_older(version)
    entry, hit = cache.get_or_compute(key, calculate)
    body, media_type = _render(entry, name, filters)
    headers = {"X-Jornada-Cache": "hit" if hit else "miss", "X-Jornada-Data-Version": str(version)}
    if filters.format == "csv":
        headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return Response(body, media_type=media_type, headers=headers)


# --- the analyses ---------------------------------------------------------------------------

Steps = Annotated[
    list[str],
    Query(
        min_length=1,
        max_length=50,
        description="Steps: event names, touchpoint or stage ids of `map`, or rules; "
        "repeat the parameter or separate with commas.",
    ),
]
PathByQuery = Annotated[PathBy, Query(description="What a path is: a customer's, or a session's.")]
AfterQuery = Annotated[
    str | None, Query(max_length=500, description="Steps after the first occurrence of this step.")
]
BeforeQuery = Annotated[
    str | None, Query(max_length=500, description="Steps back from the first occurrence of this.")
]
StepQuery = Annotated[
    str | None,
    Query(
        max_length=500, description="An event name, a touchpoint or stage id of `map`, or a rule."
    ),
]


def _one_anchor(after: str | None, before: str | None) -> None:
    if after and before:
        raise WebError(400, "bad_request", "web.dash.error.after_before")


def _api(name: str, summary: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    return router.api_route(
        f"/api/analyses/{name}",
        methods=READ,
        dependencies=VIEWER,
        summary=summary,
        tags=["analyses"],
        responses=_RESPONSES,
        response_class=Response,
    )


@_api("funnel", "Funnel: customers (or sessions) reaching each step")
def funnel_api(
    request: Request,
    filters: Common,
    steps: Steps,
    mode: Annotated[FunnelMode, Query(description="ordered, strict or unordered.")] = "ordered",
    window: Annotated[
        str | None, Query(max_length=20, description="All steps within this time: 30d, 12h.")
    ] = None,
    exclude: Annotated[
        list[str] | None, Query(max_length=20, description="Events voiding an attempt.")
    ] = None,
    by: Annotated[PathUnit, Query(description="Count customers or sessions.")] = "customer",
    breakdown: Annotated[
        str | None,
        Query(
            max_length=200, description="Split by a column or property: channel, properties.plan."
        ),
    ] = None,
) -> Response:
    chosen, excluded = split_list(steps), split_list(exclude)
    params = {
        "steps": chosen,
        "mode": mode,
        "window": window,
        "exclude": excluded,
        "by": by,
        "breakdown": breakdown,
    }
    return run_analysis(
        request,
        "funnel",
        filters,
        params,
        lambda c: funnel(
            c.events,
            chosen,
            mode=mode,
            window=window or None,
            exclude=excluded,
            by=by,
            breakdown=breakdown or None,
            journey=c.journey,
            engine=c.workspace.engine,
        ),
    )


@_api("transitions", "Transitions: each event to the next, with counts and times")
def transitions_api(
    request: Request,
    filters: Common,
    by: PathByQuery = PathBy.customer,
    with_start_end: Annotated[bool, Query(description="Add START and END edges.")] = False,
) -> Response:
    params = {"by": by.value, "with_start_end": with_start_end}
    return run_analysis(
        request,
        "transitions",
        filters,
        params,
        lambda c: transitions(c.events, by=by, with_start_end=with_start_end),
    )


@_api("sankey", "Sankey of paths over N steps")
def sankey_api(
    request: Request,
    filters: Common,
    steps: Annotated[int, Query(ge=1, le=20, description="Steps to follow.")] = 5,
    after: AfterQuery = None,
    before: BeforeQuery = None,
    by: PathByQuery = PathBy.customer,
) -> Response:
    _one_anchor(after, before)
    params = {"steps": steps, "after": after, "before": before, "by": by.value}
    return run_analysis(
        request,
        "sankey",
        filters,
        params,
        lambda c: sankey(
            c.events,
            steps=steps,
            after=after or None,
            before=before or None,
            by=by,
            journey=c.journey,
        ),
    )


@_api("variants", "Top path variants")
def variants_api(
    request: Request,
    filters: Common,
    top: Annotated[int, Query(ge=1, le=1000, description="Variants to list.")] = 20,
    collapse_repeats: Annotated[bool, Query(description="A run of one event counts once.")] = False,
    having: Annotated[
        list[str] | None,
        Query(max_length=10, description="Only paths with these events in this order (commas)."),
    ] = None,
    without: Annotated[
        list[str] | None, Query(max_length=20, description="Only paths with none of these.")
    ] = None,
    by: PathByQuery = PathBy.customer,
) -> Response:
    sequences = [split_list([value]) for value in having or ()]
    absent = split_list(without)
    params = {
        "top": top,
        "collapse_repeats": collapse_repeats,
        "having": sequences,
        "without": absent,
        "by": by.value,
    }

    def compute(c: Context) -> AnalysisResult:
        pattern = PathPattern()
        for sequence in sequences:
            if sequence:
                pattern &= contains_sequence(sequence)
        if absent:
            pattern &= excludes(*absent)
        return variants(
            c.events,
            top=top,
            collapse_repeats=collapse_repeats,
            pattern=pattern,
            by=by,
            journey=c.journey,
        )

    return run_analysis(request, "variants", filters, params, compute)


@_api("step-matrix", "Step matrix: the share of paths with each event at step k")
def step_matrix_api(
    request: Request,
    filters: Common,
    steps: Annotated[int, Query(ge=1, le=50, description="Steps to show.")] = 10,
    after: AfterQuery = None,
    before: BeforeQuery = None,
    by: PathByQuery = PathBy.customer,
) -> Response:
    _one_anchor(after, before)
    params = {"steps": steps, "after": after, "before": before, "by": by.value}
    return run_analysis(
        request,
        "step-matrix",
        filters,
        params,
        lambda c: step_matrix(
            c.events,
            steps=steps,
            after=after or None,
            before=before or None,
            by=by,
            journey=c.journey,
        ),
    )


@_api("retention", "Cohort retention")
def retention_api(
    request: Request,
    filters: Common,
    period: Annotated[Period, Query(description="day, week (ISO) or month, UTC.")] = "week",
    start: StepQuery = None,
    returning: Annotated[
        str | None,
        Query(alias="return", max_length=500, description="What counts as coming back."),
    ] = None,
    periods: Annotated[int | None, Query(ge=1, le=520, description="Periods 0 to N-1.")] = None,
) -> Response:
    params = {"period": period, "start": start, "return": returning, "periods": periods}
    return run_analysis(
        request,
        "retention",
        filters,
        params,
        lambda c: retention(
            c.events,
            period=period,
            start=start or None,
            returning=returning or None,
            journey=c.journey,
            periods=periods,
        ),
    )


@_api("lifecycle", "New, returning, resurrected and dormant customers per period")
def lifecycle_api(
    request: Request,
    filters: Common,
    period: Annotated[Period, Query(description="day, week (ISO) or month, UTC.")] = "week",
    active: StepQuery = None,
) -> Response:
    params = {"period": period, "active": active}
    return run_analysis(
        request,
        "lifecycle",
        filters,
        params,
        lambda c: lifecycle(c.events, period=period, active=active or None, journey=c.journey),
    )


@_api("time-to-convert", "Time from the first event (or a start step) to a conversion")
def time_to_convert_api(
    request: Request,
    filters: Common,
    conversion: Annotated[str, Query(min_length=1, max_length=500, description="The conversion.")],
    start: StepQuery = None,
) -> Response:
    params = {"conversion": conversion, "start": start}
    return run_analysis(
        request,
        "time-to-convert",
        filters,
        params,
        lambda c: time_to_convert(c.events, conversion, start=start or None, journey=c.journey),
    )


@_api("touches", "Touches and channels before the first conversion")
def touches_api(
    request: Request,
    filters: Common,
    conversion: Annotated[str, Query(min_length=1, max_length=500, description="The conversion.")],
    touch: Annotated[
        str | None,
        Query(max_length=500, description="What a touch is (a step, or 'touchpoints')."),
    ] = None,
) -> Response:
    params = {"conversion": conversion, "touch": touch}
    return run_analysis(
        request,
        "touches",
        filters,
        params,
        lambda c: touches_before_conversion(
            c.events, conversion, touch=touch or None, journey=c.journey
        ),
    )


PercentileQuery = Annotated[
    float,
    Query(gt=0, le=100, description="Slow beyond this percentile of those who moved on."),
]
AsOfQuery = Annotated[
    dt.datetime | None, Query(description="Measure as of this UTC time (default: last event).")
]


def _needs_map(journey: Journey | None) -> Journey:
    if journey is None:
        raise WebError(400, "bad_request", "web.dash.error.needs_map")
    return journey


@_api("stages", "Per stage of a map: reach, conversion, dwell, milestones")
def stages_api(
    request: Request,
    filters: Common,
    percentile: PercentileQuery = DEFAULT_PERCENTILE,
    as_of: AsOfQuery = None,
) -> Response:
    params = {"percentile": percentile, "as_of": as_of}
    return run_analysis(
        request,
        "stages",
        filters,
        params,
        lambda c: analyse_stages(
            c.events, _needs_map(c.journey), percentile=percentile, as_of=as_of
        ),
    )


@_api("stalled", "Customers stalled in their stage of a map")
def stalled_api(
    request: Request,
    filters: Common,
    percentile: PercentileQuery = DEFAULT_PERCENTILE,
    as_of: AsOfQuery = None,
) -> Response:
    params = {"percentile": percentile, "as_of": as_of}
    return run_analysis(
        request,
        "stalled",
        filters,
        params,
        lambda c: find_stalled(c.events, _needs_map(c.journey), percentile=percentile, as_of=as_of),
    )


@_api("attribution", "Attribution of conversions to channels, events or touchpoints")
def attribution_api(
    request: Request,
    filters: Common,
    conversion: Annotated[str, Query(min_length=1, max_length=500, description="The conversion.")],
    touch: Annotated[Touch, Query(description="channel, event or touchpoint (of `map`).")] = (
        Touch.channel
    ),
    only: StepQuery = None,
    lookback: Annotated[
        str, Query(max_length=20, description="Touches up to this long before: 30d; 'none'.")
    ] = "30d",
    model: Annotated[
        list[str] | None,
        Query(
            max_length=10,
            description="Models (default all): first_touch, last_touch, "
            "linear, position_based, time_decay, markov, shapley.",
        ),
    ] = None,
    order: Annotated[int, Query(ge=1, le=4, description="Order of the Markov chain.")] = 1,
    keep_repeats: Annotated[bool, Query(description="Markov: keep repeated touches.")] = False,
    position: Annotated[str, Query(max_length=20, description="Position weights, %.")] = "40/20/40",
    half_life: Annotated[str, Query(max_length=20, description="Time decay half-life.")] = "7d",
    ci: Annotated[bool, Query(description="95% bootstrap intervals of the shares.")] = False,
    ci_samples: Annotated[int, Query(ge=2, le=1000, description="Bootstrap samples.")] = 200,
    seed: Annotated[int, Query(ge=0, description="Seed of the bootstrap.")] = 0,
) -> Response:
    models = split_list(model) or None
    no_limit = lookback.strip().lower() in ("none", "all")
    params = {
        "conversion": conversion,
        "touch": touch.value,
        "only": only,
        "lookback": lookback,
        "model": models,
        "order": order,
        "keep_repeats": keep_repeats,
        "position": position,
        "half_life": half_life,
        "ci": ci,
        "ci_samples": ci_samples,
        "seed": seed,
    }
    return run_analysis(
        request,
        "attribution",
        filters,
        params,
        lambda c: attribution(
            c.events,
            conversion=conversion,
            touch=touch,
            only=only or None,
            lookback=None if no_limit else lookback,
            models=models,
            order=order,
            repeats="keep" if keep_repeats else "drop",
            position_weights=parse_position_weights(position),
            half_life=half_life,
            ci=ci,
            ci_samples=ci_samples,
            seed=seed,
            journey=c.journey,
            engine=c.workspace.engine,
        ),
    )


@_api("kpis", "KPIs by scope and period, with the map's targets")
def kpis_api(
    request: Request,
    filters: Common,
    period: Annotated[KpiPeriod | None, Query(description="day, week, month, quarter, year.")] = (
        None
    ),
    by: Annotated[By | None, Query(description="channel, campaign, stage or touchpoint.")] = None,
    kpi: Annotated[list[str] | None, Query(max_length=50, description="Only these KPIs.")] = None,
    count: Annotated[
        list[str] | None,
        Query(max_length=20, description="ROLE=STEP: what counts as a role (conversion=...)."),
    ] = None,
    lang: Annotated[Literal["en", "pt", "pt-BR", "es"] | None, Query(description="Language.")] = (
        None
    ),
    tolerance: Annotated[float, Query(ge=0, le=10, description="Share of a target 'at risk'.")] = (
        0.1
    ),
) -> Response:
    only = split_list(kpi) or None
    counts: dict[str, str] = {}
    for text in count or ():
        role, equals, step = text.partition("=")
        if not equals or not role.strip() or not step.strip():
            raise WebError(400, "bad_request", "web.dash.error.count", text=text)
        counts[role.strip()] = step.strip()
    language: Any = {"pt": "pt-BR"}.get(lang, lang) if lang else None
    params = {
        "period": period,
        "by": by,
        "kpi": only,
        "count": counts,
        "lang": language,
        "tolerance": tolerance,
    }

    def compute(c: Context) -> AnalysisResult:
        chosen = language
        if chosen is None and c.journey is None:
            chosen = c.workspace.settings.language
        return kpis(
            c.events,
            journey=c.journey,
            by=by,
            period=period,
            only=only,
            counts=counts or None,
            language=chosen,
            tolerance=tolerance,
        )

    return run_analysis(request, "kpis", filters, params, compute)


@_api("clv", "Customer lifetime value: BG/NBD (or Pareto/NBD) and Gamma-Gamma")
def clv_api(
    request: Request,
    filters: Common,
    purchase: Annotated[str, Query(min_length=1, max_length=500, description="A purchase.")] = (
        "purchase"
    ),
    amount: Annotated[
        str | None, Query(max_length=200, description="Column or property of the value.")
    ] = None,
    unit: Annotated[Unit, Query(description="day or week.")] = "week",
    until: Annotated[dt.date | None, Query(description="Last day of calibration.")] = None,
    horizon: Annotated[
        str, Query(max_length=20, description="Forecast horizon: 12m, 26w.")
    ] = "12m",
    discount: Annotated[float, Query(ge=0, le=10, description="Annual discount rate.")] = 0.1,
    model: Annotated[Model, Query(description="bgnbd or pareto_nbd.")] = "bgnbd",
) -> Response:
    params = {
        "purchase": purchase,
        "amount": amount,
        "unit": unit,
        "until": until,
        "horizon": horizon,
        "discount": discount,
        "model": model,
    }
    return run_analysis(
        request,
        "clv",
        filters,
        params,
        lambda c: clv(
            c.events,
            purchase,
            value=amount or None,
            unit=unit,
            until=until,
            horizon=horizon,
            discount=discount,
            model=model,
            journey=c.journey,
            engine=c.workspace.engine,
        ),
    )


@_api("churn", "Churn: model evaluation, drivers, triggers and customers at risk")
def churn_api(
    request: Request,
    filters: Common,
    inactive_days: Annotated[
        float | None, Query(gt=0, le=3650, description="Churned after this many days idle.")
    ] = None,
    cancel: Annotated[
        list[str] | None, Query(max_length=20, description="Events that end a relationship.")
    ] = None,
    activity: StepQuery = None,
    window_days: Annotated[
        float | None, Query(gt=0, le=3650, description="Churn within this many days.")
    ] = None,
    as_of: AsOfQuery = None,
    top: Annotated[int, Query(ge=0, le=10_000, description="Customers at risk to list.")] = 100,
    min_risk: Annotated[float, Query(ge=0, le=1, description="List only from this risk.")] = 0.0,
    seed: Annotated[int, Query(ge=0, description="Seed of the model.")] = 0,
    triggers: Annotated[bool, Query(description="Find the triggers too.")] = True,
) -> Response:
    cancels = split_list(cancel)
    params = {
        "inactive_days": inactive_days,
        "cancel": cancels,
        "activity": activity,
        "window_days": window_days,
        "as_of": as_of,
        "top": top,
        "min_risk": min_risk,
        "seed": seed,
        "triggers": triggers,
    }

    def compute(c: Context) -> AnalysisResult:
        extra: dict[str, Any] = c.workspace.settings.model_extra or {}
        settings = extra.get("churn")
        definition = ChurnDefinition.from_settings(
            settings if isinstance(settings, dict) else None,
            inactive_days=inactive_days,
            cancel=tuple(cancels),
            activity=activity or None,
            window_days=window_days,
        )
        return churn(
            c.events,
            definition=definition,
            journey=c.journey,
            as_of=as_of,
            top=top or None,
            min_risk=min_risk,
            seed=seed,
            triggers=triggers,
        )

    return run_analysis(request, "churn", filters, params, compute)


# --- Plotly, served by the app ----------------------------------------------------------------


@functools.cache
def _plotly_js() -> bytes:
    from plotly.offline import get_plotlyjs

    text: str = get_plotlyjs()
    return text.encode()


PLOTLY_URL = f"/static/vendor/plotly.js?v={plotly.__version__}"


@router.api_route("/static/vendor/plotly.js", methods=READ, dependencies=[guard(Access.PUBLIC)])
def plotly_js() -> Response:
    """Plotly's JS from the installed package (no CDN); the URL carries its version, so
    it may be kept for a year."""
    return Response(
        _plotly_js(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


# --- the dashboard pages ----------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """One chart or table of a dashboard, fed by one analysis of the API."""

    analysis: str
    kind: Literal["chart", "table"]
    title: str  # a UI string key
    extra: tuple[tuple[str, str], ...] = ()  # fixed query parameters of this panel

    def to_dict(self, t: Callable[..., str]) -> dict[str, Any]:
        return {
            "analysis": self.analysis,
            "kind": self.kind,
            "title": t(self.title),
            "api": f"/api/analyses/{self.analysis}",
            "params": dict(self.extra),
        }


@dataclass(frozen=True)
class Dashboard:
    id: str
    panels: tuple[Panel, ...]
    needs_map: bool = False

    def to_dict(self, t: Callable[..., str]) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": t(f"web.dash.{self.id}.title"),
            "description": t(f"web.dash.{self.id}.description"),
            "url": f"/dashboards/{self.id}",
            "json_url": f"/dashboards/{self.id}.json",
            "needs_map": self.needs_map,
            "panels": [panel.to_dict(t) for panel in self.panels],
        }


DASHBOARDS: dict[str, Dashboard] = {
    dashboard.id: dashboard
    for dashboard in (
        Dashboard(
            "funnel",
            (
                Panel("funnel", "chart", "web.dash.panel.funnel"),
                Panel("funnel", "table", "web.dash.panel.steps"),
            ),
        ),
        Dashboard(
            "paths",
            (
                Panel("sankey", "chart", "web.dash.panel.sankey"),
                Panel("transitions", "chart", "web.dash.panel.transitions"),
                Panel("variants", "table", "web.dash.panel.variants"),
            ),
        ),
        Dashboard(
            "attribution",
            (
                Panel("attribution", "chart", "web.dash.panel.attribution"),
                Panel("attribution", "table", "web.dash.panel.channels"),
            ),
        ),
        Dashboard(
            "kpis",
            (
                Panel("kpis", "chart", "web.dash.panel.kpis"),
                Panel("kpis", "table", "web.dash.panel.kpi_table"),
            ),
        ),
        Dashboard(
            "retention",
            (
                Panel("retention", "chart", "web.dash.panel.retention"),
                Panel("lifecycle", "chart", "web.dash.panel.lifecycle"),
            ),
        ),
        Dashboard(
            "clv",
            (
                Panel("clv", "chart", "web.dash.panel.clv"),
                Panel("clv", "table", "web.dash.panel.clv_table"),
            ),
        ),
        Dashboard(
            "churn",
            (
                Panel("churn", "chart", "web.dash.panel.churn"),
                Panel("churn", "table", "web.dash.panel.at_risk"),
            ),
        ),
        Dashboard(
            "stalled",
            (
                Panel("stages", "chart", "web.dash.panel.stages"),
                Panel("stalled", "table", "web.dash.panel.stalled"),
            ),
            needs_map=True,
        ),
    )
}
"""The dashboards, in the order of the hub."""


def _choices(request: Request, version: int) -> dict[str, Any]:
    """What the controls offer: event names, channels (with counts), and the maps with
    their stages and touchpoints. Read once per data version."""
    workspace = workspace_of(request)
    state = request.app.state
    with _STATE_GUARD:
        known = getattr(state, "dashboard_choices", None)
    if known is not None and known[0] == version:
        data = known[1]
    else:
        events: list[dict[str, Any]] = []
        channels: list[dict[str, Any]] = []
        if version:
            with engine_lock(workspace):
                table = workspace.events()
                names = table.group_by("event").aggregate(count=table.count())
                frame = names.order_by(ibis.desc("count")).limit(500).to_pandas()
                events = json_ready(frame.to_dict("records"))
                channel = table.filter(table.channel.notnull())
                by_channel = channel.group_by("channel").aggregate(count=channel.count())
                frame = by_channel.order_by(ibis.desc("count")).limit(200).to_pandas()
                channels = json_ready(frame.to_dict("records"))
        data = {"events": events, "channels": channels}
        with _STATE_GUARD:
            state.dashboard_choices = (version, data)
    maps = []
    for entry in workspace.list_maps():
        journey = entry.journey
        if journey is None or not is_map_id(entry.id):
            continue
        maps.append(
            {
                "id": entry.id,
                "title": journey.title,
                "stages": [{"id": stage.id, "name": stage.name} for stage in journey.stages],
                "touchpoints": [
                    {"id": tp.id, "name": tp.name, "stage": stage.name}
                    for stage in journey.stages
                    for tp in stage.touchpoints
                ],
            }
        )
    return {**data, "maps": maps}


def dashboards_data(request: Request) -> dict[str, Any]:
    """The hub: every dashboard, and whether events are loaded."""
    t = translator(page_language(request))
    version = known_data_version(request)
    return {
        "events_loaded": version > 0,
        "data_version": version,
        "dashboards": [dashboard.to_dict(t) for dashboard in DASHBOARDS.values()],
        "api": {name: f"/api/analyses/{name}" for name in ANALYSES},
    }


def dashboard_data(request: Request, dashboard: Dashboard) -> dict[str, Any]:
    """One dashboard: its panels, and the choices its controls offer."""
    t = translator(page_language(request))
    version = known_data_version(request)
    return {
        "events_loaded": version > 0,
        "data_version": version,
        "dashboard": dashboard.to_dict(t),
        "choices": _choices(request, version),
    }


@router.api_route("/dashboards", methods=READ, dependencies=VIEWER)
def hub(request: Request) -> Response:
    data = dashboards_data(request)
    return render_page(
        request,
        "dashboards/index.html",
        {"data": data, "section": "dashboards"},
        json_url="/dashboards.json",
    )


@router.api_route("/dashboards.json", methods=READ, dependencies=VIEWER)
def hub_json(request: Request) -> Response:
    return Response(_json_bytes(dashboards_data(request)), media_type="application/json")


@router.api_route("/dashboards/{name}", methods=READ, dependencies=VIEWER)
def dashboard_page(request: Request, name: str) -> Response:
    """A dashboard page, or its JSON twin (``/dashboards/funnel.json``)."""
    dashboard_id, _, suffix = name.partition(".")
    dashboard = DASHBOARDS.get(dashboard_id)
    if dashboard is None or suffix not in ("", "json"):
        raise WebError(404, "not_found", "web.dash.error.no_dashboard")
    data = dashboard_data(request, dashboard)
    if suffix == "json":
        return Response(_json_bytes(data), media_type="application/json")
    return render_page(
        request,
        "dashboards/dashboard.html",
        {"data": data, "section": "dashboards", "plotly_url": PLOTLY_URL},
        json_url=f"/dashboards/{dashboard.id}.json",
    )
