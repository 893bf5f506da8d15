"""The analysis API in-process, against the library's own answers on a loaded workspace.

One workspace (a generated shop of ~800 customers and its map) serves the module; each
analysis's JSON must equal the library function's ``to_dict()`` run directly, and the
filters are checked against brute-force counts on the events read into pandas.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from jornada.accounts import AppState
from jornada.accounts.sessions import start_session
from jornada.analytics.attribution import attribution
from jornada.analytics.churn import ChurnDefinition, churn
from jornada.analytics.clv import clv
from jornada.analytics.funnel import funnel
from jornada.analytics.kpis import kpis
from jornada.analytics.paths import sankey, step_matrix, transitions, variants
from jornada.analytics.results import AnalysisResult, json_ready
from jornada.analytics.retention import lifecycle, retention
from jornada.analytics.stages import analyse_stages, find_stalled
from jornada.analytics.timing import time_to_convert, touches_before_conversion
from jornada.demo.generator import LOAD_MAPPING, generate_dataset
from jornada.events.load import ColumnMapping
from jornada.model.templates import load_template
from jornada.web import create_app
from jornada.web.auth import SESSION_COOKIE
from jornada.web.routes.dashboards import ANALYSES
from jornada.workspace import Workspace
from tests.web.conftest import add_member

MAP = "b2c-ecommerce"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A workspace with events and a map, its app, and a viewer's client."""
    root = tmp_path_factory.mktemp("dash")
    workspace = Workspace.init(root / "ws", name="Shop")
    workspace.save_map(load_template(MAP, "en"))
    data = generate_dataset(root / "data", customers=800, seed=3)
    workspace.load(data.events_path, ColumnMapping(**LOAD_MAPPING))
    state = AppState.open(f"sqlite:///{root / 'app.sqlite'}")
    app = create_app(workspace, state=state)
    client = TestClient(app)
    session = start_session(state, add_member(state, workspace, "viewer"))
    client.cookies.set(SESSION_COOKIE, session.secret)
    try:
        yield {"workspace": workspace, "client": client, "app": app}
    finally:
        client.close()
        state.close()
        workspace.close()


def plain(data: Any) -> Any:
    """What JSON makes of ``data`` (tuples become lists, dates strings)."""
    return json.loads(json.dumps(json_ready(data), default=str))


def same(got: Any, want: Any, where: str = "") -> None:
    """``got == want``, floats to 1e-9 relative: the engine sums in parallel, so the
    last digits of a sum may differ between two runs of one query."""
    if isinstance(want, float) and isinstance(got, float | int):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-6), where
    elif isinstance(want, dict):
        assert isinstance(got, dict), where
        assert set(got) == set(want), where
        for key in want:
            same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list), where
        assert len(got) == len(want), where
        for index, (a, b) in enumerate(zip(got, want, strict=True)):
            same(a, b, f"{where}[{index}]")
    else:
        assert got == want, where


def get(shop: dict[str, Any], url: str) -> Any:
    response = shop["client"].get(url)
    assert response.status_code == 200, response.text
    return response


# (url, the same analysis computed directly) for every analysis of the API.
Direct = Callable[[Workspace], AnalysisResult]
CASES: dict[str, tuple[str, Direct]] = {
    "funnel": (
        "funnel?steps=product_view,add_to_cart&steps=purchase&window=30d",
        lambda ws: funnel(
            ws.events(), ["product_view", "add_to_cart", "purchase"], window="30d", engine=ws.engine
        ),
    ),
    "transitions": (
        "transitions?with_start_end=true",
        lambda ws: transitions(ws.events(), with_start_end=True),
    ),
    "sankey": (
        "sankey?steps=3&after=add_to_cart",
        lambda ws: sankey(ws.events(), steps=3, after="add_to_cart"),
    ),
    "variants": (
        "variants?top=5&collapse_repeats=true",
        lambda ws: variants(ws.events(), top=5, collapse_repeats=True),
    ),
    "step-matrix": ("step-matrix?steps=4", lambda ws: step_matrix(ws.events(), steps=4)),
    "retention": (
        "retention?period=month&return=purchase",
        lambda ws: retention(ws.events(), period="month", returning="purchase"),
    ),
    "lifecycle": ("lifecycle?period=month", lambda ws: lifecycle(ws.events(), period="month")),
    "time-to-convert": (
        "time-to-convert?conversion=purchase&start=add_to_cart",
        lambda ws: time_to_convert(ws.events(), "purchase", start="add_to_cart"),
    ),
    "touches": (
        "touches?conversion=purchase",
        lambda ws: touches_before_conversion(ws.events(), "purchase"),
    ),
    "stages": (
        f"stages?map={MAP}&percentile=90",
        lambda ws: analyse_stages(ws.events(), ws.load_map(MAP), percentile=90),
    ),
    "stalled": (
        f"stalled?map={MAP}",
        lambda ws: find_stalled(ws.events(), ws.load_map(MAP)),
    ),
    "attribution": (
        "attribution?conversion=purchase&model=first_touch,last_touch&model=markov",
        lambda ws: attribution(
            ws.events(),
            conversion="purchase",
            models=["first_touch", "last_touch", "markov"],
            engine=ws.engine,
        ),
    ),
    "kpis": (
        f"kpis?map={MAP}",
        lambda ws: kpis(ws.events(), journey=ws.load_map(MAP)),
    ),
    "clv": (
        "clv?purchase=purchase&horizon=6m",
        lambda ws: clv(ws.events(), "purchase", horizon="6m", engine=ws.engine),
    ),
    "churn": (
        "churn?inactive_days=30&top=20&triggers=false",
        lambda ws: churn(
            ws.events(),
            definition=ChurnDefinition.from_settings(None, inactive_days=30),
            top=20,
            triggers=False,
        ),
    ),
}
SLOW = {"kpis", "churn", "clv", "stages", "stalled"}


def test_every_analysis_has_a_case() -> None:
    assert set(CASES) == set(ANALYSES)


@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else []) for name in CASES],
)
def test_analysis_equals_the_library(shop: dict[str, Any], name: str) -> None:
    url, direct = CASES[name]
    response = get(shop, f"/api/analyses/{url}")
    assert response.headers["content-type"].startswith("application/json")
    expected = direct(shop["workspace"])
    same(response.json(), plain(expected.to_dict()))
    # The CSV export is the result's table.
    csv = get(shop, f"/api/analyses/{url}&format=csv")
    assert csv.headers["content-disposition"] == f'attachment; filename="{name}.csv"'
    got = pd.read_csv(io.StringIO(csv.text))
    want = pd.read_csv(io.StringIO(expected.to_frame().to_csv(index=False)))
    pd.testing.assert_frame_equal(got, want, rtol=1e-9)


def test_plotly_and_table_formats(shop: dict[str, Any]) -> None:
    figure = get(shop, "/api/analyses/sankey?steps=3&format=plotly").json()
    assert figure["data"][0]["type"] == "sankey"
    assert figure["data"][0]["link"]["value"]
    expected = sankey(shop["workspace"].events(), steps=3).chart().to_plotly_json()
    assert figure["data"][0]["link"]["value"] == list(expected["data"][0]["link"]["value"])
    table = get(shop, "/api/analyses/transitions?format=table&rows=7").json()
    frame = transitions(shop["workspace"].events()).to_frame()
    assert table["columns"] == list(frame.columns)
    assert table["total"] == len(frame)
    assert len(table["rows"]) == 7
    assert table["rows"][0][:3] == plain(list(frame.iloc[0][:3]))


@pytest.fixture(scope="module")
def frame(shop: dict[str, Any]) -> pd.DataFrame:
    """Every event, read once, for the brute-force checks of the filters."""
    events = shop["workspace"].events()
    return events.select("customer_id", "ts", "seq", "event", "channel").to_pandas()


def brute_funnel_reach(frame: pd.DataFrame, steps: list[str]) -> list[int]:
    """Customers reaching each step in order (other events between allowed), no window."""
    reach = [0] * len(steps)
    for _, group in frame.sort_values(["customer_id", "ts", "seq"]).groupby("customer_id"):
        position = 0
        for event in group["event"]:
            if position < len(steps) and event == steps[position]:
                reach[position] += 1
                position += 1
    return reach


def test_segment_filter_keeps_whole_customers(shop: dict[str, Any], frame: pd.DataFrame) -> None:
    steps = ["product_view", "add_to_cart", "purchase"]
    data = get(
        shop,
        "/api/analyses/funnel?steps=product_view,add_to_cart,purchase"
        "&segment=channel%20%3D%20%27app%27",
    ).json()
    members = set(frame.loc[frame["channel"] == "app", "customer_id"])
    assert 0 < len(members) < frame["customer_id"].nunique()
    kept = frame[frame["customer_id"].isin(members)]
    assert [step["paths"] for step in data["steps"]] == brute_funnel_reach(kept, steps)


def test_period_and_channel_filters_recompute_paths(
    shop: dict[str, Any], frame: pd.DataFrame
) -> None:
    """Transitions inside the period and channels: consecutive kept events only."""
    data = get(
        shop, "/api/analyses/transitions?from=2026-02-01&to=2026-03-31&channel=web&channel=app"
    ).json()
    kept = frame[
        (frame["ts"] >= pd.Timestamp("2026-02-01"))
        & (frame["ts"] < pd.Timestamp("2026-04-01"))
        & frame["channel"].isin(["web", "app"])
    ].sort_values(["customer_id", "ts", "seq"])
    following = kept.groupby("customer_id")["event"].shift(-1)
    pairs = pd.DataFrame({"source": kept["event"], "target": following}).dropna()
    expected = pairs.value_counts().to_dict()
    got = {(edge["source"], edge["target"]): edge["count"] for edge in data["edges"]}
    assert got == expected
    assert sum(expected.values()) > 100


def test_funnel_from_map_steps(shop: dict[str, Any]) -> None:
    journey = shop["workspace"].load_map(MAP)
    stage_ids = [stage.id for stage in journey.stages[:3]]
    data = get(shop, f"/api/analyses/funnel?map={MAP}&steps={','.join(stage_ids)}").json()
    expected = funnel(shop["workspace"].events(), stage_ids, journey=journey)
    same(data, plain(expected.to_dict()))


@pytest.mark.parametrize(
    ("url", "status", "code", "words"),
    [
        ("funnel", 422, "invalid_input", "steps"),
        ("funnel?steps=purchase&mode=sideways", 422, "invalid_input", "mode"),
        ("sankey?steps=0", 422, "invalid_input", "steps"),
        ("funnel?steps=purchase&segment=channel%20%3D%3D", 400, "invalid_analysis", "rule"),
        ("funnel?steps=purchase&from=2026-03-01&to=2026-02-01", 400, "bad_request", "period"),
        ("stalled", 400, "bad_request", "map"),
        ("stages?map=nope", 404, "not_found", "no map"),
        ("stages?map=..%2Fetc", 404, "not_found", "map id"),
        ("sankey?after=a&before=b", 400, "bad_request", "not both"),
        ("funnel?steps=purchase&window=soon", 400, "invalid_analysis", "soon"),
        ("kpis?count=conversion", 400, "bad_request", "ROLE=STEP"),
    ],
)
def test_errors_are_clear_json(
    shop: dict[str, Any], url: str, status: int, code: str, words: str
) -> None:
    response = shop["client"].get(f"/api/analyses/{url}")
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status
    assert error["code"] == code
    assert words.lower() in error["message"].lower()
    assert "Traceback" not in response.text
    assert str(shop["workspace"].root) not in response.text


def test_no_events_yet(client: TestClient) -> None:
    """The conftest workspace has a map and no events: a 409 saying how to load."""
    response = client.get("/api/analyses/funnel?steps=purchase")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_events"
    assert "jornada load" in response.json()["error"]["message"]
    page = client.get("/dashboards/funnel")
    assert page.status_code == 200
    assert "No events loaded yet" in page.text
    assert 'href="/loads"' in page.text


def test_openapi_documents_typed_parameters(shop: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        # GET+HEAD routes of other modules share operation ids (FastAPI warns).
        warnings.simplefilter("ignore", UserWarning)
        schema = shop["app"].openapi()
    for name in ANALYSES:
        assert f"/api/analyses/{name}" in schema["paths"]
    funnel_doc = schema["paths"]["/api/analyses/funnel"]["get"]
    parameters = {p["name"]: p for p in funnel_doc["parameters"]}
    assert parameters["steps"]["required"] is True
    assert set(parameters) >= {"steps", "mode", "window", "from", "to", "segment", "channel"}
    assert "409" in funnel_doc["responses"]
    assert "/api/loads" in schema["paths"]


def test_csv_of_stalled_customers(shop: dict[str, Any]) -> None:
    response = get(shop, f"/api/analyses/stalled?map={MAP}&format=csv")
    table = pd.read_csv(io.StringIO(response.text))
    expected = find_stalled(shop["workspace"].events(), shop["workspace"].load_map(MAP))
    assert len(table) == len(expected.customers) > 0
    assert {"customer_id", "stage", "days_in_stage", "reason"} <= set(table.columns)


def test_plotly_is_served_by_the_app(shop: dict[str, Any]) -> None:
    page = get(shop, "/dashboards/funnel")
    assert "/static/vendor/plotly.js?v=" in page.text
    assert "cdn" not in page.text.lower()
    script = shop["client"].get("/static/vendor/plotly.js?v=1")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "immutable" in script.headers["cache-control"]
    assert len(script.content) > 1_000_000


def test_pages_and_json_twins(shop: dict[str, Any]) -> None:
    hub = get(shop, "/dashboards.json").json()
    assert hub["events_loaded"] is True
    ids = [item["id"] for item in hub["dashboards"]]
    assert ids == ["funnel", "paths", "attribution", "kpis", "retention", "clv", "churn", "stalled"]
    page = get(shop, "/dashboards")
    for item in hub["dashboards"]:
        assert f'href="{item["url"]}"' in page.text
        twin = get(shop, item["json_url"]).json()
        assert twin["dashboard"]["id"] == item["id"]
        html = get(shop, item["url"]).text
        assert 'aria-current="page">Dashboards' in html
        assert "<script>" not in html  # the CSP forbids inline scripts
    funnel_page = get(shop, "/dashboards/funnel.json").json()
    events = {item["event"]: item["count"] for item in funnel_page["choices"]["events"]}
    assert events["purchase"] > 0
    maps = {item["id"]: item for item in funnel_page["choices"]["maps"]}
    assert [stage["id"] for stage in maps[MAP]["stages"]][:2] == ["discover", "compare"]
    assert shop["client"].get("/dashboards/nope").status_code == 404
    assert get(shop, "/dashboards/funnel?lang=pt").text.count("Construtor de funil") >= 1


def test_dates_are_inclusive(shop: dict[str, Any], frame: pd.DataFrame) -> None:
    """``to`` includes its whole day."""
    day = dt.date(2026, 2, 10)
    data = get(shop, f"/api/analyses/lifecycle?period=day&from={day}&to={day}").json()
    active = frame[frame["ts"].dt.date == day]["customer_id"].nunique()
    (period,) = [p for p in data["periods"] if str(p["period"]).startswith(str(day))]
    counted = sum(period[key] for key in ("new", "returning", "resurrected"))
    assert counted == active > 0


@pytest.mark.parametrize(
    "query",
    [
        "funnel?steps=product_view,purchase&breakdown=pl%00an",
        "funnel?steps=product_v%00iew,purchase",
        "sankey?after=add_to%00cart",
    ],
)
def test_a_nul_character_is_refused_not_a_server_error(shop: dict[str, Any], query: str) -> None:
    """A NUL ended DuckDB's SQL literal early: a parser error, a 500 (the fuzzer found it)."""
    response = shop["client"].get(f"/api/analyses/{query}")
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert "NUL" in error["message"]


def test_attribution_interval_without_a_conversion_drawn(shop: dict[str, Any]) -> None:
    """No bootstrap sample with a conversion: the interval is unknown (null), not a 500
    (NumPy's all-NaN warning escaped; the fuzzer found it)."""
    response = shop["client"].get(
        "/api/analyses/attribution?conversion=never_happens&ci=true&ci_samples=2"
    )
    assert response.status_code < 500, response.text
