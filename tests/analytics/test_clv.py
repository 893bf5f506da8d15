"""Customer lifetime value: the RFM summary by hand and against a brute-force oracle on
random logs, the models against their definitions (numerical integration) and against
simulated customers, the published CDNOW results, the holdout report and the command."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import optimize
from typer.testing import CliRunner

from jornada.analytics import _clv_models as models
from jornada.analytics.clv import (
    CLVError,
    clv,
    fit_clv,
    parse_horizon,
    rfm_summary,
)
from jornada.cli import app, command_of, run
from jornada.engine import Engine
from jornada.engine.store import ensure_store
from jornada.events.load import ColumnMapping, load_events
from tests.analytics.conftest import EventLog
from tests.oracles import clv as oracle

MakeLog = Callable[..., EventLog]
D = dt.date


def at(text: str) -> str:
    return text + "Z"


def same(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def one(value: float) -> np.ndarray:
    return np.array([float(value)])


# --- the RFM summary by hand ------------------------------------------------------------------


def hand_log(make_log: MakeLog) -> EventLog:
    def buy(customer: str, time: str, value: str = "", amount: str = "") -> Any:
        return (customer, at(time), "purchase", {"value": value, "amount": amount})

    return make_log(
        [
            buy("a", "2026-01-01T09:00:00", "10", "1"),
            buy("a", "2026-01-01T18:00:00", "5", "1"),  # the same day: one transaction
            buy("a", "2026-01-08T12:00:00", "20", "2"),
            ("a", at("2026-01-09T12:00:00"), "visit"),
            buy("a", "2026-01-15T23:59:59", "", "n/a"),  # no value: left out of the mean
            buy("a", "2026-01-16T00:00:00", "40", "4"),  # the next day: another one
            buy("a", "2026-01-25T10:00:00", "7", "7"),  # holdout
            buy("a", "2026-01-25T11:00:00", "3", "3"),
            buy("b", "2026-01-10T08:00:00", "100", "100"),
            ("b", at("2026-01-30T08:00:00"), "visit"),  # the log's last event
            buy("c", "2026-01-22T08:00:00", "9", "9"),  # first buys after --until: left out
            ("d", at("2026-01-05T08:00:00"), "visit"),  # never buys
        ]
    )


def test_rfm_by_hand(make_log: MakeLog) -> None:
    events = hand_log(make_log).table
    summary = rfm_summary(events, "purchase", unit="day", until=D(2026, 1, 20))
    frame = summary.to_frame().set_index("customer_id")
    assert list(frame.index) == ["a", "b"]
    assert frame.loc["a", ["frequency", "recency", "T", "monetary_value"]].tolist() == [
        3,
        15.0,
        19.0,
        30.0,  # (20 + 40) / 2: the first day and the day without a value are left out
    ]
    assert frame.loc["a", ["holdout_frequency", "holdout_value"]].tolist() == [1, 10.0]
    assert frame.loc["b", ["frequency", "recency", "T"]].tolist() == [0, 0.0, 10.0]
    assert math.isnan(frame.loc["b", "monetary_value"])
    assert frame.loc["a", "first_purchase"] == D(2026, 1, 1)
    assert frame.loc["a", "customer_key"] == "a"
    assert (summary.late_customers, summary.holdout_length) == (1, 10.0)
    assert (summary.calibration_end, summary.observation_end) == (D(2026, 1, 20), D(2026, 1, 30))
    repeat_days = [(D(1970, 1, 1) + dt.timedelta(days=int(d))) for d in summary.repeat_days]
    assert repeat_days == [D(2026, 1, 8), D(2026, 1, 15), D(2026, 1, 16), D(2026, 1, 25)]
    assert summary.repeat_counts.tolist() == [1, 1, 1, 1]

    weeks = rfm_summary(events, "purchase", until=D(2026, 1, 20))
    assert weeks.recency.tolist() == [15 / 7, 0.0]
    assert weeks.T.tolist() == [19 / 7, 10 / 7]
    assert weeks.holdout_length == 10 / 7

    everything = rfm_summary(events, "purchase", unit="day")  # calibration: the whole log
    frame = everything.to_frame().set_index("customer_id")
    assert frame.loc["a", ["frequency", "recency", "T"]].tolist() == [4, 24.0, 29.0]
    assert frame.loc["a", "monetary_value"] == pytest.approx((20 + 40 + 10) / 3)
    assert frame.loc["c", ["frequency", "T"]].tolist() == [0, 8.0]
    assert everything.holdout_length == 0.0
    assert "holdout_frequency" not in frame.columns
    data = json.loads(json.dumps(everything.to_dict(), allow_nan=False))
    assert (data["customers"], data["repeat_buyers"], data["late_customers"]) == (3, 1, 0)
    assert everything.chart().data[0].y == (2, 0, 0, 0, 1)


def test_amounts_are_summed_exactly_whatever_the_order(make_log: MakeLog) -> None:
    # 0.1 + 0.2 + 0.3 is 0.6000000000000001 or 0.6 in floats depending on the order of
    # addition, which parallel threads do not fix: the day's amount must be 0.6 in any
    # order of the rows (the summary is summed as exact decimals).
    for values in (("0.1", "0.2", "0.3"), ("0.3", "0.2", "0.1"), ("0.2", "0.3", "0.1")):
        rows = [("a", at("2026-01-01T09:00:00"), "purchase", {"value": "1"})]
        rows += [
            ("a", at(f"2026-01-02T0{k}:00:00"), "purchase", {"value": v})
            for k, v in enumerate(values)
        ]
        summary = rfm_summary(make_log(rows).table, "purchase", unit="day")
        assert summary.monetary_value.tolist() == [0.6], values


def test_value_from_a_property_and_purchase_as_a_rule(make_log: MakeLog) -> None:
    events = hand_log(make_log).table
    summary = rfm_summary(
        events, "event = 'purchase'", value="properties.amount", unit="day", until=D(2026, 1, 20)
    )
    frame = summary.to_frame().set_index("customer_id")
    assert frame.loc["a", "monetary_value"] == 3.0  # (2 + 4) / 2; 'n/a' is no number
    assert frame.loc["a", "holdout_value"] == 10.0
    same_by_bare_name = rfm_summary(events, "purchase", value="amount", unit="day")
    assert same_by_bare_name.to_frame().set_index("customer_id").loc["a", "monetary_value"] == (
        pytest.approx((2 + 4 + 10) / 3)
    )
    assert summary.purchase == "event = 'purchase'"
    assert summary.value == "properties.amount"


def test_bad_input_gets_clear_errors(make_log: MakeLog) -> None:
    events = hand_log(make_log).table
    with pytest.raises(CLVError, match=r"no customer made a purchase .* by 2025-12-31"):
        rfm_summary(events, "purchase", until=D(2025, 12, 31))
    with pytest.raises(CLVError, match="no customer made a purchase"):
        rfm_summary(events, "refund")
    with pytest.raises(CLVError, match="unknown time unit 'month'"):
        rfm_summary(events, "purchase", unit="month")  # type: ignore[arg-type]
    with pytest.raises(CLVError, match="event log is empty"):
        rfm_summary(make_log([]).table, "purchase")
    with pytest.raises(CLVError, match=r"no customer bought on two .* \(1 bought once\)"):
        clv(events, "purchase", until=D(2026, 1, 5))
    with pytest.raises(CLVError, match="cannot read the horizon '12 months'"):
        clv(events, "purchase", horizon="12 months")
    with pytest.raises(CLVError, match="longer than zero"):
        parse_horizon("0d")
    with pytest.raises(CLVError, match="discount rate must be zero or more"):
        clv(events, "purchase", discount=-0.1)
    with pytest.raises(CLVError, match="unknown model"):
        clv(events, "purchase", model="pareto")  # type: ignore[arg-type]


def test_parse_horizon() -> None:
    assert parse_horizon("12m") == 365.25
    assert parse_horizon("6M") == 365.25 / 2
    assert parse_horizon("26w") == 182.0
    assert parse_horizon("1y") == 365.25
    assert parse_horizon("90d") == 90.0
    assert parse_horizon(45) == 45.0


# --- random logs against the oracle -----------------------------------------------------------

NUMBER = re.compile(r"[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?")


def amount_of(event: Any) -> float | None:
    text = dict(event["properties"] or []).get("amount")
    return float(text) if text is not None and NUMBER.fullmatch(text) else None


log_rows = st.lists(
    st.tuples(
        st.sampled_from("abcde"),
        # Six-hour steps over five weeks: several events a day, ties, day boundaries.
        st.integers(0, 140).map(
            lambda q: (dt.datetime(2026, 1, 1) + dt.timedelta(hours=6 * q)).isoformat() + "Z"
        ),
        st.sampled_from(("visit", "purchase", "purchase")),
        st.fixed_dictionaries(
            {
                "value": st.sampled_from(("", "10", "2.5", "100")),
                "amount": st.sampled_from(("", "3", "1e1", "abc", "-2")),
            }
        ),
    ),
    max_size=24,
)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=log_rows,
    until=st.one_of(st.none(), st.integers(0, 36).map(lambda d: D(2026, 1, 1) + dt.timedelta(d))),
    unit=st.sampled_from(("day", "week")),
    by_amount=st.booleans(),
)
def test_random_logs_match_the_oracle(
    make_log: MakeLog, rows: list[Any], until: D | None, unit: Any, by_amount: bool
) -> None:
    log = make_log(rows)
    events = log.rows()
    expected = oracle.rfm(
        events,
        lambda e: e["event"] == "purchase",
        until=until,
        unit_days=7 if unit == "week" else 1,
        value_of=amount_of if by_amount else (lambda e: e["value"]),
    )
    value = "amount" if by_amount else None
    if not expected["customers"]:
        with pytest.raises(CLVError):
            rfm_summary(log.table, "purchase", value=value, unit=unit, until=until)
        return
    summary = rfm_summary(log.table, "purchase", value=value, unit=unit, until=until)
    want = expected["customers"]
    assert list(summary.customer_ids) == sorted(want)
    assert summary.late_customers == expected["late"]
    assert summary.observation_end == expected["end"]
    for i, customer in enumerate(summary.customer_ids):
        w = want[customer]
        assert summary.frequency[i] == w["frequency"]
        assert same(summary.recency[i], w["recency"])
        assert same(summary.T[i], w["T"])
        assert same(summary.monetary_value[i], w["monetary_value"])
        assert summary.holdout_frequency[i] == w["holdout_frequency"]
        assert same(summary.holdout_value[i], w["holdout_value"])
        assert D(1970, 1, 1) + dt.timedelta(days=int(summary.first_day[i])) == w["first"]
    track = {
        D(1970, 1, 1) + dt.timedelta(days=int(d)): int(n)
        for d, n in zip(summary.repeat_days, summary.repeat_counts, strict=True)
    }
    assert track == dict(expected["track"])


# --- the models against their definitions -----------------------------------------------------

bgnbd_cases = st.tuples(
    st.floats(0.1, 3),
    st.floats(0.5, 20),
    st.floats(0.2, 3),
    st.floats(0.5, 5),
    st.integers(0, 30),
    st.floats(0.0, 1.0),
    st.floats(1, 60),
    st.floats(0.5, 50),
)


@settings(max_examples=40)
@given(case=bgnbd_cases)
def test_bgnbd_against_its_definition(case: tuple[Any, ...]) -> None:
    r, alpha, a, b, x, share, age, t = case
    tx = share * age if x else 0.0
    params = models.BGNBDParams(r, alpha, a, b)
    ll = models.bgnbd_log_likelihood(params, one(x), one(tx), one(age))[0]
    assert ll == pytest.approx(
        math.log(oracle.bgnbd_likelihood_formula(r, alpha, a, b, x, tx, age)), abs=1e-9
    )
    assert ll == pytest.approx(
        math.log(oracle.bgnbd_likelihood_integral(r, alpha, a, b, x, tx, age)), abs=1e-8
    )
    alive, future = oracle.bgnbd_conditional_integral(r, alpha, a, b, t, x, tx, age)
    got_alive = models.bgnbd_p_alive(params, one(x), one(tx), one(age))[0]
    assert got_alive == pytest.approx(alive, rel=1e-8, abs=1e-12)
    got = models.bgnbd_conditional_expected(params, t, one(x), one(tx), one(age))[0]
    assert got == pytest.approx(future, rel=1e-7, abs=1e-12)
    expected = models.bgnbd_expected(params, one(t))[0]
    assert expected == pytest.approx(oracle.bgnbd_expected_integral(r, alpha, a, b, t), rel=1e-8)


@settings(max_examples=40)
@given(case=bgnbd_cases, ratio=st.floats(-4, 4))
def test_pareto_nbd_against_its_definition(case: tuple[Any, ...], ratio: float) -> None:
    r, alpha, s, _, x, share, age, t = case
    # β from 10^-4 to 10^4 times α: both branches of the closed form, and the quadrature
    # that takes over near z = 1.
    beta = alpha * 10**ratio
    tx = share * age if x else 0.0
    params = models.ParetoNBDParams(r, alpha, s, beta)
    ll = models.pareto_nbd_log_likelihood(params, one(x), one(tx), one(age))[0]
    assert ll == pytest.approx(
        math.log(oracle.pareto_likelihood_integral(r, alpha, s, beta, x, tx, age)), abs=1e-8
    )
    alive, future = oracle.pareto_conditional_integral(r, alpha, s, beta, t, x, tx, age)
    got_alive = models.pareto_nbd_p_alive(params, one(x), one(tx), one(age))[0]
    assert got_alive == pytest.approx(alive, rel=1e-8, abs=1e-12)
    got = models.pareto_nbd_conditional_expected(params, t, one(x), one(tx), one(age))[0]
    assert got == pytest.approx(future, rel=1e-8, abs=1e-12)
    expected = models.pareto_nbd_expected(params, one(t))[0]
    assert expected == pytest.approx(oracle.pareto_expected_integral(r, alpha, s, beta, t))


def test_bgnbd_forecast_where_its_closed_form_fails() -> None:
    # The quadrature that takes over where 2F1 overflows agrees with the definition...
    x, age, t = np.array([0.0, 3, 30]), np.array([0.0, 20, 40]), np.array([52.0, 10, 100])
    for r, alpha, a, b in ((0.243, 4.414, 0.793, 2.426), (2.0, 10.0, 0.3, 6.0)):
        params = models.BGNBDParams(r, alpha, a, b)
        got = models._bgnbd_future_by_quadrature(params, t, x, age)
        alive = models.bgnbd_p_alive(params, x, x * 0, age)
        for i in range(3):
            _, want = oracle.bgnbd_conditional_integral(
                r, alpha, a, b, t[i], int(x[i]), 0.0, age[i]
            )
            assert got[i] * alive[i] == pytest.approx(want, rel=1e-5)
    # ... and serves a fit that found no heterogeneity (r and α huge, p near 0): every
    # customer buys at about r/α a day.
    x, tx, age = np.array([2.0, 1, 0, 3]), np.array([8.0, 18, 0, 26]), np.array([29.0, 28, 27, 26])
    fit = models.fit_bgnbd(x, tx, age)
    assert fit.params.r > 1e3
    forecast = models.bgnbd_conditional_expected(fit.params, 52.0, x, tx, age)
    rate = fit.params.r / (fit.params.alpha + age)
    assert forecast == pytest.approx(rate * 52, rel=0.01)


@settings(max_examples=40)
@given(
    r=st.floats(0.01, 3000),
    alpha=st.floats(1e-3, 1e6),
    s=st.floats(0.01, 100),
    beta=st.floats(1e-3, 1e6),
    x=st.integers(0, 1000),
    share=st.floats(0.0, 1.0),
    age=st.floats(0.1, 3000),
)
def test_pareto_nbd_integral_by_quadrature(
    r: float, alpha: float, s: float, beta: float, x: int, share: float, age: float
) -> None:
    """The quadrature behind the Pareto/NBD likelihood, far into the corners."""
    tx = share * age if x else 0.0
    params = models.ParetoNBDParams(r, alpha, s, beta)
    got = models._pareto_log_gap_by_quadrature(params, one(x), one(tx), one(age))[0]
    want = oracle.pareto_log_gap(r, alpha, s, beta, x, tx, age)
    if math.isinf(want):
        assert got == want
    else:
        # two quadratures of a steep integrand: agree to ~1e-10, here and there 1e-9
        assert got == pytest.approx(want, rel=1e-8, abs=1e-8)


def test_pareto_nbd_stays_finite_where_the_textbook_form_overflows() -> None:
    # Many purchases, α and β far apart (z near 1): 2F1(r+s+x, ·; ·; z) itself overflows.
    x, tx, age = np.array([150.0, 400, 0]), np.array([199.0, 499, 0]), np.array([200.0, 500, 500])
    for alpha, beta in ((0.01, 100.0), (100.0, 0.01), (5.0, 5.0)):
        params = models.ParetoNBDParams(0.5, alpha, 0.8, beta)
        ll = models.pareto_nbd_log_likelihood(params, x, tx, age)
        assert np.isfinite(ll).all()
        assert ll[0] == pytest.approx(
            math.log(oracle.pareto_likelihood_integral(0.5, alpha, 0.8, beta, 150, 199.0, 200.0)),
            abs=1e-8,
        )
        alive = models.pareto_nbd_p_alive(params, x, tx, age)
        assert ((alive > 0) & (alive <= 1)).all()


@settings(max_examples=30)
@given(
    p=st.floats(0.3, 10),
    q=st.floats(1.2, 10),
    v=st.floats(0.5, 100),
    x=st.integers(1, 30),
    mean=st.floats(0.5, 200),
)
def test_gamma_gamma_against_its_definition(
    p: float, q: float, v: float, x: int, mean: float
) -> None:
    params = models.GammaGammaParams(p, q, v)
    ll = models.gamma_gamma_log_likelihood(params, one(x), one(mean))[0]
    assert ll == pytest.approx(
        math.log(oracle.gamma_gamma_density_integral(p, q, v, x, mean)), abs=1e-8
    )
    got = models.gamma_gamma_expected_value(params, one(x), one(mean))[0]
    assert got == pytest.approx(oracle.gamma_gamma_expected_integral(p, q, v, x, mean), rel=1e-9)
    prior = models.gamma_gamma_expected_value(params, one(0), one(math.nan))[0]
    assert prior == pytest.approx(params.mean_value, rel=1e-12)
    assert prior == pytest.approx(oracle.gamma_gamma_expected_integral(p, q, v, 0, mean), rel=1e-9)


def test_analytic_gradients_match_finite_differences() -> None:
    rng = np.random.default_rng(3)
    x, tx, age = oracle.simulate_bgnbd(300, 0.5, 6.0, 0.7, 2.5, 40.0, rng)
    weights = rng.integers(1, 4, len(x)).astype(float)
    for logs in (np.log([0.5, 6.0, 0.7, 2.5]), np.log([2.0, 0.5, 3.0, 0.3])):
        error = optimize.check_grad(
            lambda v: models._bgnbd_objective(v, x, tx, age, weights)[0],
            lambda v: models._bgnbd_objective(v, x, tx, age, weights)[1],
            logs,
        )
        assert error < 1e-5
    repeat = x > 0
    means = rng.gamma(4.0, 1 / rng.gamma(3.0, 1 / 20.0, repeat.sum()))
    error = optimize.check_grad(
        lambda v: models._gamma_gamma_objective(v, x[repeat], means, weights[repeat])[0],
        lambda v: models._gamma_gamma_objective(v, x[repeat], means, weights[repeat])[1],
        np.log([2.0, 3.0, 0.5]),
    )
    assert error < 1e-5


def test_fits_recover_the_parameters_of_simulated_customers() -> None:
    rng = np.random.default_rng(11)
    x, tx, age = oracle.simulate_bgnbd(6000, 0.6, 5.0, 0.8, 3.0, 52.0, rng)
    (ux, utx, uage), weights, _ = models.distinct_rows(x, tx, age)
    fit = models.fit_bgnbd(ux, utx, uage, weights)
    assert fit.converged
    assert not fit.at_bound
    got = fit.params
    assert (got.r, got.alpha, got.a, got.b) == pytest.approx((0.6, 5.0, 0.8, 3.0), rel=0.3)
    # Weighted distinct rows are the same likelihood as one row per customer.
    assert fit.log_likelihood == pytest.approx(
        models.bgnbd_log_likelihood(got, x, tx, age).sum(), rel=1e-12
    )
    direct = models.fit_bgnbd(x, tx, age)
    assert direct.log_likelihood == pytest.approx(fit.log_likelihood, abs=1e-6)

    x, tx, age = oracle.simulate_pareto(6000, 0.6, 5.0, 0.9, 12.0, 52.0, rng)
    (ux, utx, uage), weights, _ = models.distinct_rows(x, tx, age)
    pareto = models.fit_pareto_nbd(ux, utx, uage, weights)
    assert pareto.converged
    got_pareto = pareto.params
    assert (got_pareto.r, got_pareto.alpha) == pytest.approx((0.6, 5.0), rel=0.3)
    assert got_pareto.s / got_pareto.beta == pytest.approx(0.9 / 12.0, rel=0.3)  # mean death rate

    counts = rng.integers(1, 10, 4000).astype(float)
    nu = rng.gamma(4.0, 1 / 30.0, 4000)  # q = 4, v = 30
    means = rng.gamma(3.0 * counts, 1 / nu) / counts  # p = 3
    gamma_gamma = models.fit_gamma_gamma(counts, means * 1000)  # any currency unit
    assert gamma_gamma.converged
    p, q, v = gamma_gamma.params.p, gamma_gamma.params.q, gamma_gamma.params.v
    assert (p, q, v / 1000) == pytest.approx((3.0, 4.0, 30.0), rel=0.2)


# --- CDNOW: the published figures --------------------------------------------------------------


def lifetimes_data() -> Path:
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("the lifetimes package (test-only, for its CDNOW data file) is missing")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets"


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The CDNOW sample (2,357 customers, 6,919 purchases) loaded as events through
    jornada's loader; each line keeps its own id, because CDNOW has repeated lines that
    are distinct purchases."""
    data = lifetimes_data()
    path = tmp_path_factory.mktemp("cdnow") / "cdnow.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "customer", "date", "event", "amount"])
        for line, text in enumerate((data / "CDNOW_sample.txt").read_text().splitlines()):
            _, customer, day, _, amount = text.split()
            writer.writerow([line, customer, f"{day[:4]}-{day[4:6]}-{day[6:]}", "purchase", amount])
    engine = Engine.duckdb()
    ensure_store(engine)
    mapping = ColumnMapping(
        customer="customer", time="date", event="event", value="amount", id="line"
    )
    load_events(engine, path, mapping, session_gap_seconds=1800)
    yield engine, data, path
    engine.close()


def test_cdnow_summary_matches_the_published_one(cdnow: Any) -> None:
    engine, data, _ = cdnow
    summary = rfm_summary(engine.table("events"), "purchase", until=D(1997, 9, 30))
    assert summary.customers == 2357
    frame = summary.to_frame().set_index("customer_id")
    published = pd.read_csv(data / "cdnow_customers_summary_with_transactions.csv")
    published.index = published["ID"].map(lambda n: f"{n:04d}")
    joined = frame.join(published, how="inner", rsuffix="_published")
    assert len(joined) == 2357
    assert (joined["frequency"] == joined["x"]).all()
    # The published file rounds to two decimals.
    assert np.abs(joined["recency"] - joined["t_x"]).max() <= 0.005 + 1e-9
    assert np.abs(joined["T"] - joined["T_published"]).max() <= 0.005 + 1e-9
    repeat = joined["x"] > 0
    assert np.abs(joined["monetary_value"][repeat] - joined["zbar"][repeat]).max() <= 0.005 + 1e-9


def test_cdnow_reproduces_fader_hardie_lee_2005(cdnow: Any) -> None:
    engine, _, _ = cdnow
    result = clv(engine.table("events"), "purchase", until=D(1997, 9, 30), engine=engine)
    bgnbd = result.bgnbd.params
    assert round(bgnbd.r, 3) == 0.243
    assert round(bgnbd.alpha, 3) == 4.414
    assert round(bgnbd.a, 3) == 0.793
    assert round(bgnbd.b, 3) == 2.426
    assert round(result.bgnbd.log_likelihood, 1) == -9582.4
    assert result.gamma_gamma is not None
    assert result.gamma_gamma_customers == 946
    gg = result.gamma_gamma.params
    assert (round(gg.p, 2), round(gg.q, 2), round(gg.v, 2)) == (6.25, 3.74, 15.44)
    # Pareto/NBD, from the same paper's comparison (r, α, s, β, LL).
    assert result.pareto_nbd is not None
    pareto = result.pareto_nbd.params
    assert (round(pareto.r, 3), round(pareto.alpha, 2), round(pareto.s, 3)) == (0.553, 10.58, 0.606)
    assert round(pareto.beta, 2) == 11.67
    assert round(result.pareto_nbd.log_likelihood, 1) == -9595.0
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["bgnbd"]["log_likelihood"] == pytest.approx(-9582.43, abs=0.01)
    assert set(data["gamma_gamma"]) >= {"p", "q", "v", "log_likelihood"}


def test_cdnow_holdout_report(cdnow: Any) -> None:
    engine, data, _ = cdnow
    result = clv(engine.table("events"), "purchase", until=D(1997, 9, 30), horizon="39w")
    holdout = result.holdout
    assert holdout is not None
    assert result.predicted_holdout is not None
    assert holdout.length == 39.0  # 1997-10-01 to 1998-06-30
    # Actual repeat transactions in the holdout, counted from the raw file.
    days: dict[str, set[str]] = {}
    for text in (data / "CDNOW_sample.txt").read_text().splitlines():
        _, customer, day, _, _ = text.split()
        if day > "19970930":
            days.setdefault(customer, set()).add(day)
    assert holdout.actual_total == sum(len(d) for d in days.values())
    assert holdout.customers == 2357
    assert [g.frequency for g in holdout.groups] == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert sum(g.customers for g in holdout.groups) == 2357
    summary = result.summary
    capped = np.minimum(summary.frequency, 7)
    for k, group in enumerate(holdout.groups):
        members = capped == k
        assert group.actual == pytest.approx(summary.holdout_frequency[members].mean())
        assert group.predicted == pytest.approx(result.predicted_holdout[members].mean())
    # The forecast is the model's conditional expectation over the 39 holdout weeks...
    params = result.bgnbd.params
    forecast = models.bgnbd_conditional_expected(
        params, 39.0, summary.frequency.astype(float), summary.recency, summary.T
    )
    assert np.allclose(result.predicted_holdout, forecast, rtol=1e-12)
    # ... and over a 39-week horizon the expected purchases are the same numbers.
    assert np.allclose(result.expected_purchases, forecast, rtol=1e-9)
    errors = forecast - summary.holdout_frequency
    assert holdout.mae == pytest.approx(np.abs(errors).mean())
    assert holdout.rmse == pytest.approx(math.sqrt((errors**2).mean()))
    assert holdout.correlation == pytest.approx(
        pd.Series(forecast).corr(pd.Series(summary.holdout_frequency.astype(float)))
    )
    assert holdout.predicted_total == pytest.approx(forecast.sum())
    # FHL 2005 (figure 4): the forecast tracks the actual means by calibration frequency.
    assert holdout.correlation > 0.6
    assert abs(holdout.predicted_total / holdout.actual_total - 1) < 0.15


def test_cdnow_tracking_curve(cdnow: Any) -> None:
    engine, _, _ = cdnow
    result = clv(engine.table("events"), "purchase", until=D(1997, 9, 30))
    tracking = result.tracking
    summary = result.summary
    total = int((summary.frequency + summary.holdout_frequency).sum())
    assert tracking["actual"].iloc[-1] == total
    assert (np.diff(tracking["actual"]) >= 0).all()
    # The expected curve: every customer's E[X(t - first purchase)], summed by brute force.
    for row in tracking.iloc[[5, 30, -1]].itertuples():
        ages = (row.day - summary.first_day) / 7
        ages = ages[ages > 0]
        brute = models.bgnbd_expected(result.bgnbd.params, ages).sum()
        assert row.expected == pytest.approx(brute, rel=1e-9)
    chart = result.chart()
    assert [trace.name for trace in chart.data] == ["customers", "actual", "expected"]


def test_clv_discounting(cdnow: Any) -> None:
    engine, _, _ = cdnow
    events = engine.table("events")
    summary = rfm_summary(events, "purchase", until=D(1997, 9, 30))
    undiscounted = fit_clv(summary, horizon="12m", discount=0.0, pareto=False)
    assert undiscounted.pareto_nbd is None
    assert np.allclose(
        undiscounted.clv, undiscounted.expected_value * undiscounted.expected_purchases
    )
    # 10% a year, over 45 days: a whole month and a partial one of 45 - 30.4375 days.
    result = fit_clv(summary, horizon="45d", discount=0.1, pareto=False)
    x, tx, age = summary.frequency.astype(float), summary.recency, summary.T
    month = 365.25 / 12

    def by(days: float) -> np.ndarray:
        return models.bgnbd_conditional_expected(result.bgnbd.params, days / 7, x, tx, age)

    first, second = by(month), by(45.0)
    manual = result.expected_value * (
        first / 1.1 ** (month / 365.25) + (second - first) / 1.1 ** (45 / 365.25)
    )
    assert np.allclose(result.clv, manual, rtol=1e-12)
    assert np.allclose(result.expected_purchases, second)
    assert (result.clv < result.expected_value * result.expected_purchases).all()
    frame = result.to_frame()
    assert frame["clv"].is_monotonic_decreasing
    assert len(frame) == 2357
    pareto = fit_clv(summary, horizon="12m", model="pareto_nbd")
    assert pareto.pareto_nbd is not None
    assert np.allclose(
        pareto.p_alive,
        models.pareto_nbd_p_alive(pareto.pareto_nbd.params, x, tx, age),
    )


def test_missing_values_leave_clv_empty_with_a_note(make_log: MakeLog) -> None:
    rows = [
        (c, at(f"2026-01-{day:02d}T10:00:00"), "purchase")
        for c, days in (("a", (1, 5, 9)), ("b", (2, 20)), ("c", (3,)), ("d", (4, 6, 8, 30)))
        for day in days
    ]
    result = clv(make_log(rows).table, "purchase", unit="day")
    assert result.gamma_gamma is None
    assert np.isnan(result.clv).all()
    assert np.isfinite(result.expected_purchases).all()
    assert any("no purchase values" in note for note in result.notes)
    assert not any("no holdout" in note for note in result.notes)
    later = clv(make_log(rows).table, "purchase", unit="day", until=D(2026, 3, 1))
    assert later.holdout is None
    assert any("runs past the log's last day (2026-01-30)" in note for note in later.notes)
    assert later.summary.T.max() == (D(2026, 3, 1) - D(2026, 1, 1)).days
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["gamma_gamma"] is None
    assert data["totals"]["clv"] is None


# --- the command --------------------------------------------------------------------------------


def test_command_end_to_end(cdnow: Any, tmp_path: Path) -> None:
    engine, _, path = cdnow
    flags = ["--customer", "customer", "--time", "date", "--event", "event"]
    flags += ["--value", "amount", "--id", "line"]
    out, chart = tmp_path / "customers.csv", tmp_path / "clv.html"
    args = ["clv", str(path), "--purchase", "purchase", "--until", "1997-09-30"]
    args += ["--horizon", "12m", "--discount", "0.1", "--json", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--chart", str(chart), *flags])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    expected = clv(engine.table("events"), "purchase", until=D(1997, 9, 30), discount=0.1)
    for name in ("r", "alpha", "a", "b"):
        assert data["bgnbd"][name] == pytest.approx(getattr(expected.bgnbd.params, name))
    assert data["bgnbd"]["log_likelihood"] == pytest.approx(expected.bgnbd.log_likelihood)
    assert data["gamma_gamma"]["p"] == pytest.approx(6.25, abs=0.005)
    assert data["holdout"]["actual_total"] == expected.holdout.actual_total  # type: ignore[union-attr]
    assert data["totals"]["clv"] == pytest.approx(float(np.nansum(expected.clv)))
    table = pd.read_csv(out, dtype={"customer_key": str})
    assert len(table) == 2357
    assert set(table["customer_key"]) == {f"{n:04d}" for n in range(1, 2358)}
    assert {"p_alive", "expected_purchases", "clv", "predicted_holdout"} <= set(table.columns)
    assert chart.exists()
    shown = CliRunner().invoke(app, ["clv", str(path), "--unit", "day", *flags])  # for people
    assert shown.exit_code == 0, shown.output
    assert "bgnbd" in shown.stdout
    assert "gamma_gamma" in shown.stdout


def test_command_errors_are_one_line(cdnow: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _, _, path = cdnow
    flags = ["--customer", "customer", "--time", "date", "--event", "event", "--id", "line"]
    assert run(["clv", str(path), "--until", "1997-01-01", *flags]) == 1
    assert "need repeat purchases" in capsys.readouterr().err
    assert run(["clv", str(path), "--horizon", "a year", *flags]) == 1
    assert "cannot read the horizon" in capsys.readouterr().err
    assert run(["clv", str(path), "--until", "30/09/1997", *flags]) == 2


def test_help_shows_an_example() -> None:
    result = CliRunner().invoke(app, ["clv", "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout
    command_info = command_of("clv")
    for param in command_info.params:
        assert param.help, f"clv {param.name} has no help"
