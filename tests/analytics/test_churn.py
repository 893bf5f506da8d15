"""Churn, its drivers and propensity: definitions, labels and triggers against hand-made
logs and the brute-force oracle, the model on a synthetic shop whose churn has a known
cause, the commands end to end, and the demo's support backlog found among the triggers."""

from __future__ import annotations

import datetime as dt
import json
import math
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import typer
import typer.main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

from jornada.analytics import _churn_model as model_
from jornada.analytics.churn import (
    ChurnDefinition,
    ChurnError,
    PurchaseTarget,
    _fit,
    _Frame,
    churn,
    churn_triggers,
    propensity,
    risk_ratio,
)
from jornada.analytics.features import FeatureSpec, features
from jornada.cli import churn as churn_cli
from jornada.demo import create_demo_workspace
from jornada.demo.generator import STORIES
from jornada.events.load import ColumnMapping
from jornada.model import EventBinding, Journey, Stage, Touchpoint
from jornada.workspace import Workspace
from tests.analytics.conftest import BASE, EventLog, LogRow
from tests.oracles import features as oracle

MakeLog = Callable[..., EventLog]


def day(n: float) -> dt.datetime:
    return BASE + dt.timedelta(days=n)


def at(n: float) -> str:
    return day(n).isoformat() + "Z"


def panel_of(table: Any) -> dict[tuple[str, int], bool]:
    return {(r["customer_id"], r["j"]): r["label"] for r in table.to_pyarrow().to_pylist()}


# --- definitions ---------------------------------------------------------------------------


def test_definitions_and_their_defaults() -> None:
    assert ChurnDefinition().inactive_days == 60
    assert ChurnDefinition().window == dt.timedelta(days=60)
    cancel_only = ChurnDefinition(cancel=("account_closed",))
    assert cancel_only.inactive_days is None
    assert cancel_only.window == dt.timedelta(days=60)
    both = ChurnDefinition(inactive_days=30, cancel=("account_closed",))
    assert both.window == dt.timedelta(days=30)
    assert both.describe() == (
        "no activity for 30 days or a cancellation (account_closed); "
        "churned within 30 days of the cutoff"
    )
    from_toml = ChurnDefinition.from_settings(
        {"inactive_days": 45, "cancel": "account_closed", "window": "8w"}, activity="visit"
    )
    assert from_toml == ChurnDefinition(
        inactive_days=45, cancel=("account_closed",), activity="visit", window_days=56
    )
    # Flags override the settings; absent flags keep them.
    assert (
        ChurnDefinition.from_settings({"inactive_days": 45}, inactive_days=10).inactive_days == 10
    )
    with pytest.raises(ChurnError, match="unknown key 'days'"):
        ChurnDefinition.from_settings({"days": 3})
    with pytest.raises(ChurnError, match="inactive days must be positive"):
        ChurnDefinition(inactive_days=0)
    with pytest.raises(ChurnError, match="positive duration"):
        ChurnDefinition.from_settings({"window": "0d"})
    assert PurchaseTarget("purchase", window_days=30).window == dt.timedelta(days=30)


# --- labels --------------------------------------------------------------------------------

LABEL_LOG: list[LogRow] = [
    ("a", at(0), "visit"),
    ("a", at(9), "visit"),
    ("a", at(25), "visit"),  # back after 16 days
    ("b", at(1), "visit"),
    ("b", at(12), "account_closed"),
    ("b", at(13), "visit"),  # after cancelling: still gone
    ("c", at(11), "visit"),  # not seen before day 10
    ("d", at(2), "visit"),  # quiet since day 2
    ("d", at(3), "ad_impression"),
]


def test_churn_labels_by_hand(make_log: MakeLog) -> None:
    events = make_log(LABEL_LOG).table
    windows = [(day(10), day(20)), (day(10), day(30))]
    inactivity = ChurnDefinition(inactive_days=10)
    # At day 10: a (visit at 9) is alive; b too; d's last event is 7 days old: alive.
    # By day 20: a silent since day 9 (churned), b active at 12 and 13 (the cancellation
    # is just an event here), d churned. By day 30: a came back at 25, b is silent.
    assert panel_of(inactivity.panel(events, windows)) == {
        ("a", 0): True,
        ("b", 0): False,
        ("d", 0): True,
        ("a", 1): False,
        ("b", 1): True,
        ("d", 1): True,
    }
    # Only visits count as activity: d's impression at day 3 does not keep them alive at
    # 12.5, nor b's cancellation at 12; a (visit at 9) and c (11) are alive and stay so.
    visits = ChurnDefinition(inactive_days=10, activity="visit")
    assert panel_of(visits.panel(events, [(day(12.5), day(14))])) == {
        ("a", 0): False,
        ("c", 0): False,
    }
    cancelled = ChurnDefinition(cancel=("account_closed",))
    assert panel_of(cancelled.panel(events, windows)) == {
        ("a", 0): False,
        ("b", 0): True,
        ("d", 0): False,
        ("a", 1): False,
        ("b", 1): True,
        ("d", 1): False,
    }
    # Cancelled before the start: out of the population.
    assert ("b", 0) not in panel_of(cancelled.panel(events, [(day(12.5), day(20))]))


label_rows = st.lists(
    st.tuples(
        st.sampled_from("abcd"),
        st.integers(0, 40 * 8).map(lambda q: at(q / 8)),
        st.sampled_from(("visit", "visit", "ad_impression", "account_closed")),
    ),
    max_size=20,
)


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=label_rows,
    inactive=st.sampled_from([None, 4.0, 10.0]),
    cancel=st.booleans(),
    activity=st.booleans(),
    starts=st.lists(st.integers(1, 35), min_size=1, max_size=3),
    length=st.integers(1, 12),
)
def test_random_labels_match_the_oracle(
    make_log: MakeLog,
    rows: list[Any],
    inactive: float | None,
    cancel: bool,
    activity: bool,
    starts: list[int],
    length: int,
) -> None:
    log = make_log(rows)
    if inactive is None and not cancel:
        inactive = 60.0
    definition = ChurnDefinition(
        inactive_days=inactive,
        cancel=("account_closed",) if cancel else (),
        activity="visit" if activity else None,
    )
    windows = [(day(s), day(s + length)) for s in starts]
    got = panel_of(definition.panel(log.table, windows))
    want = oracle.churn_labels(
        log.rows(),
        windows,
        inactive_days=inactive,
        cancel=("account_closed",) if cancel else (),
        activity=("visit",) if activity else None,
    )
    assert got == want
    target = PurchaseTarget("visit", where="channel=web")
    got = panel_of(target.panel(log.table, windows))
    want = oracle.purchase_labels(log.rows(), windows, target="visit", where=("channel", "web"))
    # No event has a channel: every label is False, but the population is everyone seen.
    assert got == want


def test_propensity_labels_with_a_property(make_log: MakeLog) -> None:
    rows: list[LogRow] = [
        ("a", at(0), "visit"),
        ("a", at(12), "purchase", {"category": "trail"}),
        ("b", at(1), "visit"),
        ("b", at(12), "purchase", {"category": "road"}),
        ("c", at(12), "purchase", {"category": "trail"}),  # new at day 12: not scored
    ]
    log = make_log(rows)
    windows = [(day(10), day(20))]
    for where in ("category=trail", "properties.category = 'trail'"):
        target = PurchaseTarget("purchase", where=where)
        assert panel_of(target.panel(log.table, windows)) == {("a", 0): True, ("b", 0): False}
    only_visitors = PurchaseTarget("purchase", population="visit")
    assert panel_of(only_visitors.panel(log.table, windows)) == {("a", 0): True, ("b", 0): True}
    want = oracle.purchase_labels(
        log.rows(), windows, target="purchase", where=("category", "trail")
    )
    assert want == {("a", 0): True, ("b", 0): False}


# --- risk ratios -----------------------------------------------------------------------------


def test_risk_ratio_and_its_interval() -> None:
    ratio = risk_ratio(30, 100, 10, 100)
    se = math.sqrt(1 / 30 - 1 / 100 + 1 / 10 - 1 / 100)
    assert ratio.lift == pytest.approx(3.0)
    assert ratio.interval == pytest.approx(
        (3 * math.exp(-1.959964 * se), 3 * math.exp(1.959964 * se))
    )
    # A zero cell: 0.5 added to the four cells (a=1.5, b=0.5, c=0.5, d=1.5).
    assert risk_ratio(1, 1, 0, 1).lift == pytest.approx((1.5 / 2) / (0.5 / 2))
    assert math.isnan(risk_ratio(0, 0, 3, 10).lift)


# --- triggers --------------------------------------------------------------------------------

TRIGGER_LOG: list[LogRow] = [
    ("a", at(1), "visit"),
    ("a", at(6), "support_ticket", {"reason": "late"}),
    ("a", at(8), "account_closed"),
    ("b", at(2), "visit"),
    ("b", at(7), "visit"),
    ("c", at(3), "visit"),  # nothing in the first window: not in its population
    ("d", at(6), "visit"),  # first seen in the first window: alive only from the second
    ("e", at(0), "visit"),  # the log runs from day 0 ...
    ("e", at(30), "visit"),  # ... to day 30
]


def test_triggers_by_hand(make_log: MakeLog) -> None:
    events = make_log(TRIGGER_LOG).table
    definition = ChurnDefinition(cancel=("account_closed",), window_days=10)
    result = churn_triggers(events, definition=definition, every="5d", min_support=1)
    # Windows from day 5 (the first day + 5 days) while window + 10 days <= day 30:
    # [5, 10), [10, 15), [15, 20). Only the first has a population: a and b.
    assert (result.first_window, result.last_window) == (day(5).date(), day(15).date())
    assert (result.customer_windows, result.churned) == (2, 1)
    found = {t.trigger: (t.kind, t.exposed, t.churned) for t in result.triggers}
    assert found == {
        "support_ticket": ("event", 1, 1),
        "support_ticket · reason=late": ("property", 1, 1),
        "visit → support_ticket": ("sequence", 1, 1),
        "visit": ("event", 1, 0),
        "visit → visit": ("sequence", 1, 0),
    }  # a's cancellation (and the pair leading to it) happen as a leaves: not exposures
    ticket = result.triggers[0]
    assert ticket.trigger in (
        "support_ticket",
        "support_ticket · reason=late",
        "visit → support_ticket",
    )
    assert ticket.lift == pytest.approx(3.0)  # (1.5/2) / (0.5/2) after the zero-cell correction
    assert (ticket.peak_period, ticket.peak_churned) == (dt.date(2026, 1, 1), 1)
    assert result.risky() == ()  # two customers are no evidence
    frame = result.to_frame()
    assert list(frame["trigger"]) == [t.trigger for t in result.triggers]
    json.dumps(result.to_dict())
    assert result.chart().data
    # Without pairs and properties:
    bare = churn_triggers(
        events, definition=definition, every="5d", min_support=1, pairs=False, properties=()
    )
    assert {t.trigger for t in bare.triggers} == {"support_ticket", "visit"}
    # A map turns touchpoints into triggers, by name.
    journey = Journey(
        id="m",
        title="M",
        stages=[
            Stage(
                id="care",
                name="Care",
                touchpoints=[
                    Touchpoint(
                        id="help", name="Help desk", events=EventBinding(names=["support_ticket"])
                    )
                ],
            )
        ],
    )
    mapped = churn_triggers(
        events, definition=definition, journey=journey, every="5d", min_support=1
    )
    assert {t.trigger: t.kind for t in mapped.triggers}["Help desk"] == "touchpoint"


def test_trigger_errors(make_log: MakeLog) -> None:
    events = make_log(TRIGGER_LOG).table
    with pytest.raises(ChurnError, match="at least as long as the inactivity period"):
        churn_triggers(events, definition=ChurnDefinition(inactive_days=20, window_days=5))
    with pytest.raises(ChurnError, match="no exposure window fits"):
        churn_triggers(events, definition=ChurnDefinition(cancel=("account_closed",)))
    with pytest.raises(ChurnError, match="an hour or longer"):
        churn_triggers(events, every="10m")
    with pytest.raises(ChurnError, match="no events"):
        churn_triggers(make_log([]).table)


trigger_rows = st.lists(
    st.tuples(
        st.sampled_from("abcde"),
        st.integers(0, 30 * 6).map(lambda q: at(q / 6)),
        st.sampled_from(("visit", "visit", "support_ticket", "account_closed")),
        st.fixed_dictionaries({"reason": st.sampled_from(["", "late", "size"])}),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=trigger_rows, inactive=st.sampled_from([None, 3.0]), pairs=st.booleans())
def test_random_triggers_match_the_oracle(
    make_log: MakeLog, rows: list[Any], inactive: float | None, pairs: bool
) -> None:
    # The log runs from day 0 to day 31, whatever was drawn.
    log = make_log(
        [*rows, ("y", at(0), "visit", {"reason": ""}), ("z", at(31), "visit", {"reason": ""})]
    )
    definition = ChurnDefinition(inactive_days=inactive, cancel=("account_closed",), window_days=6)
    result = churn_triggers(
        log.table,
        definition=definition,
        every="3d",
        min_support=1,
        pairs=pairs,
        properties=["reason"],
    )
    first = dt.datetime.combine(result.first_window, dt.time())
    windows = (result.last_window - result.first_window).days // 3 + 1
    assert first == dt.datetime.combine(
        min(log.rows(), key=lambda e: e["ts"])["ts"].date(), dt.time()
    ) + dt.timedelta(days=3)
    (population, churned), want = oracle.trigger_counts(
        log.rows(),
        first=first,
        every=dt.timedelta(days=3),
        windows=windows,
        window=dt.timedelta(days=6),
        inactive_days=inactive,
        cancel=("account_closed",),
        properties=("reason",),
        pairs=pairs,
    )
    assert (result.customer_windows, result.churned) == (population, churned)
    assert {t.trigger: (t.exposed, t.churned) for t in result.triggers} == want
    for t in result.triggers:
        expected = risk_ratio(t.churned, t.exposed, churned - t.churned, population - t.exposed)
        assert t.lift == pytest.approx(expected.lift, nan_ok=True)


sparse_rows = st.lists(
    st.tuples(
        st.sampled_from("abcd"),
        st.integers(0, 30 * 6).map(lambda q: at(q / 6)),
        st.sampled_from(("visit", "support_ticket", "account_closed")),
        # Keys an event may lack, and one that makes no trigger (not asked for).
        st.fixed_dictionaries(
            {},
            optional={
                "reason": st.sampled_from(["late", "size"]),
                "tier": st.sampled_from(["gold", "late"]),
                "device": st.sampled_from(["ios", "web"]),
            },
        ),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=sparse_rows)
def test_random_sparse_property_triggers_match_the_oracle(
    make_log: MakeLog, rows: list[Any]
) -> None:
    # Property triggers come from the keys each event has: absent keys, keys not asked for
    # and two asked-for keys with a shared value must count as the oracle says.
    log = make_log([*rows, ("y", at(0), "visit", {}), ("z", at(31), "visit", {})])
    definition = ChurnDefinition(cancel=("account_closed",), window_days=6)
    result = churn_triggers(
        log.table, definition=definition, every="3d", min_support=1, properties=["reason", "tier"]
    )
    first = dt.datetime.combine(result.first_window, dt.time())
    windows = (result.last_window - result.first_window).days // 3 + 1
    (population, churned), want = oracle.trigger_counts(
        log.rows(),
        first=first,
        every=dt.timedelta(days=3),
        windows=windows,
        window=dt.timedelta(days=6),
        inactive_days=None,
        cancel=("account_closed",),
        properties=("reason", "tier"),
        pairs=True,
    )
    assert (result.customer_windows, result.churned) == (population, churned)
    assert {t.trigger: (t.exposed, t.churned) for t in result.triggers} == want
    assert not any("device" in t.trigger for t in result.triggers)


# --- the model on a synthetic shop -------------------------------------------------------------


def synthetic_shop(customers: int = 1000, days: int = 150, seed: int = 3) -> list[LogRow]:
    """Visits every few days from a start spread over the period; half the customers are
    unhappy: they open support tickets often and close their account 5-15 days after
    their second ticket. Everyone prefers one category, viewed on visits and bought now
    and then (trail runners buy far more often)."""
    rng = random.Random(seed)
    rows: list[LogRow] = []
    for i in range(customers):
        who = f"c{i:04d}"
        unhappy = rng.random() < 0.5
        category = rng.choice(["trail", "road", "road"])
        t = rng.uniform(0, days * 0.9)
        tickets = 0
        closing = math.inf
        while t < min(days, closing):
            channel = rng.choice(["web", "app"])
            rows.append((who, at(t), "visit", {"channel": channel, "category": category}))
            if rng.random() < (0.3 if category == "trail" else 0.05):
                rows.append((who, at(t + 0.01), "purchase", {"value": "40", "category": category}))
            if rng.random() < (0.15 if unhappy else 0.02):
                tickets += 1
                rows.append((who, at(t + 0.02), "support_ticket", {"reason": "late"}))
                if unhappy and tickets == 2:
                    closing = t + rng.uniform(5, 15)
            t += rng.expovariate(1 / 3)
        if closing < days:
            rows.append((who, at(closing), "account_closed"))
    return rows


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The synthetic shop loaded into a workspace from CSV, with a [churn] table."""
    path = tmp_path_factory.mktemp("shop") / "events.csv"
    names = ["channel", "value", "category", "reason"]
    with path.open("w", encoding="utf-8") as handle:
        handle.write("customer,ts,event," + ",".join(names) + "\n")
        for row in synthetic_shop():
            extra = row[3] if len(row) == 4 else {}  # type: ignore[misc]
            handle.write(
                ",".join([row[0], row[1], row[2], *(str(extra.get(n, "")) for n in names)]) + "\n"
            )
    root = tmp_path_factory.mktemp("ws") / "shop"
    workspace = Workspace.init(root)
    workspace.load(
        path,
        ColumnMapping(
            customer="customer", time="ts", event="event", channel="channel", value="value"
        ),
    )
    with (root / "jornada.toml").open("a", encoding="utf-8") as handle:
        handle.write('\n[churn]\ncancel = ["account_closed"]\nwindow = "25d"\n')
    yield workspace
    workspace.close()


DEFINITION = ChurnDefinition(cancel=("account_closed",), window_days=25)


def test_the_model_finds_the_cause_and_is_evaluated_on_a_later_period(shop: Workspace) -> None:
    events = shop.events()
    result = churn(events, definition=DEFINITION, top=10, triggers=False, seed=1)
    e = result.evaluation
    assert e.eval_cutoff - e.train_cutoff == dt.timedelta(days=25)
    assert result.as_of - e.eval_cutoff == dt.timedelta(days=25)
    # The counts are the labels' (checked against the oracle above) at both cutoffs.
    rows = [dict(r, properties=None) for r in shop.engine.to_arrow(events).to_pylist()]
    for cutoff, customers, positives in (
        (e.train_cutoff, e.train_customers, e.train_positives),
        (e.eval_cutoff, e.eval_customers, e.eval_positives),
    ):
        labels = oracle.churn_labels(
            rows,
            [(cutoff, cutoff + dt.timedelta(days=25))],
            inactive_days=None,
            cancel=("account_closed",),
        )
        assert (customers, positives) == (len(labels), sum(labels.values()))
    m = e.metrics
    assert m.roc_auc > 0.8, m
    assert m.pr_auc > m.base_rate
    assert sum(b.customers for b in m.calibration) == e.eval_customers
    observed = sum(b.observed * b.customers for b in m.calibration)
    assert observed == pytest.approx(e.eval_positives)
    assert m.base_rate == pytest.approx(e.eval_positives / e.eval_customers)
    # Tickets are the cause: they lead the drivers and the reasons of the riskiest.
    top_features = {i.feature for i in result.importance[:2]}
    assert top_features & {"support_tickets", "event_support_ticket"}, result.importance[:3]
    assert result.dependence
    assert result.dependence[0].feature == result.importance[0].feature
    riskiest = result.customers[0]
    assert any("ticket" in r.feature for r in riskiest.reasons), riskiest.reasons
    assert len(result.customers) == 10
    assert [c.risk for c in result.customers] == sorted(
        (c.risk for c in result.customers), reverse=True
    )
    # Seeded: the same answer twice.
    again = churn(events, definition=DEFINITION, top=10, triggers=False, seed=1)
    assert again.to_dict() == result.to_dict()


def test_results_have_a_frame_a_dict_a_chart_and_a_text_view(shop: Workspace) -> None:
    result = churn(shop.events(), definition=DEFINITION, top=5, min_support=5)
    frame = result.to_frame()
    assert list(frame.columns) == [
        "customer_id",
        "risk",
        "reasons",
        "last_event",
        "last_event_at",
        "last_touchpoint",
    ]
    assert len(frame) == 5
    assert frame["risk"].is_monotonic_decreasing
    data = json.loads(json.dumps(result.to_dict()))
    assert data["evaluation"]["roc_auc"] > 0.8
    assert data["triggers"]["triggers"][0]["trigger"].startswith("support_ticket")
    figure = result.chart()
    assert len(figure.data) == 2  # importance and trigger lifts
    console = Console(width=200, record=True)
    console.print(result)
    text = console.export_text()
    for heading in ("ROC AUC", "calibration", "drivers", "moments before churn", "highest risk"):
        assert heading in text


def test_triggers_are_skipped_with_a_reason_when_they_cannot_be_found(shop: Workspace) -> None:
    both = ChurnDefinition(inactive_days=30, cancel=("account_closed",), window_days=25)
    result = churn(shop.events(), definition=both, top=3, min_risk=0.2)
    assert result.triggers is None
    assert result.triggers_skipped == "the window is shorter than the inactivity period"
    assert all(c.risk >= 0.2 for c in result.customers)
    console = Console(width=200, record=True)
    console.print(result)
    assert "no triggers: the window is shorter" in console.export_text()


def test_evaluate_matches_a_brute_force_computation() -> None:
    risk = np.array([0.1, 0.4, 0.35, 0.8, 0.05, 0.6])
    y = np.array([0, 0, 1, 1, 0, 1])
    metrics = model_.evaluate(risk, y)
    pairs = [(p, n) for p in risk[y == 1] for n in risk[y == 0]]
    auc = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)
    ranked = sorted(zip(risk, y, strict=True), reverse=True)
    hits, precision_sum = 0, 0.0
    for k, (_, label) in enumerate(ranked, start=1):
        if label:
            hits += 1
            precision_sum += hits / k
    assert metrics.roc_auc == pytest.approx(auc)
    assert metrics.pr_auc == pytest.approx(precision_sum / y.sum())
    assert metrics.brier == pytest.approx(float(np.mean((risk - y) ** 2)))
    assert [(b.low, b.customers, b.observed) for b in metrics.calibration] == [
        (0.0, 1, 0.0),
        (0.1, 1, 0.0),
        (0.3, 1, 1.0),
        (0.4, 1, 0.0),
        (0.6, 1, 1.0),  # 0.6 is in [0.6, 0.7), whatever the float rounding of the edges
        (0.8, 1, 1.0),
    ]
    assert metrics.calibration[2].mean_predicted == pytest.approx(0.35)
    assert math.isnan(model_.evaluate(risk, np.zeros(6)).roc_auc)


def test_reasons_are_what_the_model_says_with_a_typical_value() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    y = (x[:, 0] + 0.2 * rng.normal(size=600) > 1).astype(int)
    with model_.limited_threads():
        fitted = model_.fit(x, y, seed=0)
        typical = np.median(x, axis=0)  # the population's typical value, as churn passes it
        rows = x[np.argsort(-model_.predict(fitted, x))[:5]]
        found = model_.reasons(fitted, rows, typical, ["a", "b", "c"], {"a": "column a"})
        for row, reasons in zip(rows, found, strict=True):
            assert (reasons[0].feature, reasons[0].description) == ("a", "column a")
            changed = row.copy()
            changed[0] = typical[0]
            assert reasons[0].risk_if_typical == pytest.approx(
                model_.predict(fitted, changed[None])[0]
            )
            assert reasons[0].risk == pytest.approx(model_.predict(fitted, row[None])[0])
            assert all(r.effect > 0 for r in reasons)


def test_permutation_importance_is_scikit_learns() -> None:
    # The same shuffles and scores as scikit-learn's permutation_importance, to the bit;
    # a column no tree splits on (constant) has exactly 0.
    from sklearn.inspection import permutation_importance

    rng = np.random.default_rng(3)
    x = rng.normal(size=(900, 4))
    x[:, 3] = 1.0
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(size=900) > 1).astype(int)
    names = ["a", "b", "c", "d"]
    with model_.limited_threads():
        fitted = model_.fit(x, y, seed=0)
        found = model_.importances(fitted, x, y, names, {}, seed=5)
        expected = permutation_importance(
            fitted, x, y, scoring="roc_auc", n_repeats=model_.PERMUTATION_REPEATS, random_state=5
        )
    by_name = {i.feature: (i.importance, i.std) for i in found}
    for k, name in enumerate(names):
        assert by_name[name] == (expected.importances_mean[k], expected.importances_std[k])
    assert by_name["d"] == (0.0, 0.0)
    assert [i.feature for i in found][:2] == ["a", "b"]


def test_permutation_importance_without_the_trees_is_still_scikit_learns() -> None:
    # A model whose internals are not gradient boosting's (no trees whose outputs could be
    # kept): every column is predicted again in full, with scikit-learn's numbers still.
    from sklearn.inspection import permutation_importance
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(4)
    x = rng.normal(size=(700, 4))
    x[:, 3] = 1.0
    y = (x[:, 0] - 0.7 * x[:, 2] + rng.normal(size=700) > 0.8).astype(int)
    names = ["a", "b", "c", "d"]
    with model_.limited_threads():
        fitted = LogisticRegression().fit(x, y)
        found = model_.importances(fitted, x, y, names, {}, seed=2)
        expected = permutation_importance(
            fitted, x, y, scoring="roc_auc", n_repeats=model_.PERMUTATION_REPEATS, random_state=2
        )
    by_name = {i.feature: (i.importance, i.std) for i in found}
    for k, name in enumerate(names):
        assert by_name[name] == (expected.importances_mean[k], expected.importances_std[k])
    assert [i.feature for i in found][:2] == ["a", "c"]
    assert by_name["d"] == (0.0, 0.0)


def test_partial_dependence_is_the_mean_risk_over_a_grid() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(800, 3))
    x[:, 1] = rng.integers(0, 4, size=800)  # four distinct values: the grid is them
    x[:5, 0] = np.nan
    y = (np.nan_to_num(x[:, 0]) + 0.5 * x[:, 1] + rng.normal(size=800) > 1.5).astype(int)
    weights = np.where(y == 1, 1.0, 2.0)  # a weighted fit, as on a sample
    with model_.limited_threads():
        fitted = model_.fit(x, y, seed=0, weights=weights)
        found = model_.dependences(fitted, x, [0, 1], ["a", "b", "c"], {}, seed=0)
        assert [d.feature for d in found] == ["a", "b"]
        known = x[5:, 0]
        low, high = np.percentile(known, [5, 95])
        assert found[0].grid == pytest.approx(np.linspace(low, high, model_.GRID_POINTS))
        assert found[1].grid == (0.0, 1.0, 2.0, 3.0)
        for dependence, column in zip(found, [0, 1], strict=True):
            for value, risk in zip(dependence.grid, dependence.risk, strict=True):
                changed = x.copy()
                changed[:, column] = value
                assert risk == pytest.approx(model_.predict(fitted, changed).mean())


def test_the_fit_sample_is_seeded_keeps_the_rare_class_and_weighs_the_other() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(10_000) < 0.03
    sample = model_.fit_rows(y, seed=4, limit=1_000)
    assert sample is not None
    rows, weights = sample
    assert len(rows) == 1_000
    assert len(set(rows.tolist())) == len(rows)
    assert list(rows) == sorted(rows)
    # Every positive (the rarer class), the negatives weighted up to their number.
    assert set(np.flatnonzero(y)) <= set(rows.tolist())
    assert (weights[y[rows]] == 1.0).all()
    assert weights[~y[rows]].sum() == pytest.approx((~y).sum())
    again = model_.fit_rows(y, seed=4, limit=1_000)
    assert again is not None
    assert list(again[0]) == list(rows)
    assert model_.fit_rows(y, seed=4, limit=10_000) is None
    # A balanced outcome: half of the sample from each class.
    balanced = np.arange(10_000) % 2 == 0
    halves = model_.fit_rows(balanced, seed=0, limit=1_000)
    assert halves is not None
    assert int(balanced[halves[0]].sum()) == 500
    assert halves[1].sum() == pytest.approx(10_000)


def test_the_risks_of_a_model_fitted_on_a_sample_stay_calibrated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A rare outcome (about 2.5%) among 40,000 customers, fitted on 10,000: the sample
    # keeps every positive customer (a tenth of it, four times their share) and weighs the
    # others up to their number, so the mean predicted risk of everyone stays near the
    # base rate (13% above it: the trees overfit the sparser negatives a little; 75% above
    # on a sample of 3,000); unweighted, it is 3.4 times the base rate.
    rng = np.random.default_rng(11)
    x = rng.normal(size=(40_000, 3))
    y = rng.random(40_000) < 1 / (1 + np.exp(4.6 - 1.2 * x[:, 0] + 0.8 * x[:, 1]))
    base_rate = float(y.mean())
    assert 0.02 < base_rate < 0.03
    monkeypatch.setattr(model_, "MAX_FIT_ROWS", 10_000)
    frame = _Frame(pa.chunked_array([range(len(y))]), np.asfortranarray(x), y, pa.table({}))
    with model_.limited_threads():
        fitted, fitted_on = _fit(frame, seed=0)
        risk = model_.predict(fitted, x)
    assert fitted_on == 10_000
    assert float(risk.mean()) == pytest.approx(base_rate, rel=0.25)
    assert model_.evaluate(risk, y).roc_auc > 0.8


def test_a_column_without_any_value_is_ignored_by_the_fit() -> None:
    # A rare column can have no value among the customers of a fit sample: the model is
    # then the one without that column (scikit-learn alone refuses to bin it).
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2_000, 3))
    y = x[:, 0] + rng.normal(size=2_000) > 1
    with_empty = np.asfortranarray(np.column_stack([x[:, :1], np.full(2_000, np.nan), x[:, 1:]]))
    with model_.limited_threads():
        expected = model_.predict(model_.fit(x, y, seed=0), x)
        fitted = model_.fit(with_empty, y, seed=0, weights=np.full(2_000, 2.0))
        assert np.isnan(with_empty[:, 1]).all()  # the caller's matrix is left as it was
        unweighted = model_.fit(with_empty, y, seed=0)
        assert np.array_equal(model_.predict(unweighted, with_empty), expected)
        with_empty[:5, 1] = 7.0  # a value met later changes nothing
        assert np.array_equal(model_.predict(unweighted, with_empty), expected)
        assert model_.evaluate(model_.predict(fitted, with_empty), y).roc_auc > 0.8


def test_the_model_says_how_many_customers_it_was_fitted_on(
    shop: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = shop.events()
    full = churn(events, definition=DEFINITION, top=5, triggers=False, seed=1)
    e = full.evaluation
    assert (e.fitted_customers, e.final_fitted_customers) == (e.train_customers, e.eval_customers)
    limit = e.train_customers // 2
    monkeypatch.setattr(model_, "MAX_FIT_ROWS", limit)
    sampled = churn(events, definition=DEFINITION, top=5, triggers=False, seed=1)
    s = sampled.evaluation
    assert abs(s.fitted_customers - limit) <= 1
    assert abs(s.final_fitted_customers - limit) <= 1
    assert s.metrics.roc_auc > 0.8
    assert sampled.to_dict()["evaluation"]["fitted_customers"] == s.fitted_customers
    console = Console(width=200, record=True)
    console.print(sampled)
    assert f"fitted on a sample of {s.fitted_customers:,}" in console.export_text()
    # Everyone is still scored.
    assert sampled.scored_customers == full.scored_customers


def test_the_highest_risks_are_ranked_with_ties_by_customer() -> None:
    import pyarrow as pa

    from jornada.analytics.churn import _highest

    risk = np.array([0.2, 0.9, 0.5, 0.9, 0.1, 0.5, 0.5])
    ids = pa.chunked_array([["g", "f", "e", "d", "c", "b", "a"]])
    everyone = sorted(range(7), key=lambda i: (-risk[i], ids[i].as_py()))
    assert _highest(risk, ids, top=None, min_risk=0.0) == everyone
    for top in range(8):
        assert _highest(risk, ids, top=top, min_risk=0.0) == everyone[:top]
    assert _highest(risk, ids, top=3, min_risk=0.6) == [3, 1]
    assert _highest(risk, ids, top=None, min_risk=0.95) == []


def test_propensity_with_a_category(shop: Workspace) -> None:
    journey = Journey(
        id="shop",
        title="Shop",
        stages=[
            Stage(
                id="browse",
                name="Browse",
                touchpoints=[
                    Touchpoint(
                        id=f"{c}_pages",
                        name=f"{c} pages",
                        events=EventBinding(names=["visit"], where=f"properties.category = '{c}'"),
                    )
                    for c in ("trail", "road")
                ],
            )
        ],
    )
    target = PurchaseTarget("purchase", where="category=trail", window_days=25)
    result = propensity(shop.events(), target=target, journey=journey, top=20, seed=2)
    assert result.outcome == "a purchase (category=trail) within 25 days of the cutoff"
    assert result.evaluation.metrics.roc_auc > 0.85
    assert "touchpoint_trail_pages" in {i.feature for i in result.importance[:3]}
    assert list(result.to_frame().columns)[1] == "probability"
    assert "mean_probability" in result.to_dict()
    rows = [dict(r) for r in shop.engine.to_arrow(shop.events()).to_pylist()]
    cutoff = result.evaluation.eval_cutoff
    want = oracle.purchase_labels(
        rows,
        [(cutoff, cutoff + dt.timedelta(days=25))],
        target="purchase",
        where=("category", "trail"),
    )
    assert result.evaluation.eval_customers == len(want)
    assert result.evaluation.eval_positives == sum(want.values())


def test_model_errors(make_log: MakeLog, shop: Workspace) -> None:
    short = make_log(LABEL_LOG).table
    with pytest.raises(ChurnError, match="needs more than 120 days"):
        churn(short)
    with pytest.raises(ChurnError, match="no events"):
        churn(make_log([]).table)
    never = ChurnDefinition(cancel=("no_such_event",), window_days=25)
    with pytest.raises(ChurnError, match=r"none of the .* customers"):
        churn(shop.events(), definition=never)


def test_feature_columns_of_the_model_are_the_spec(shop: Workspace) -> None:
    table = features(shop.events(), day(100), spec=FeatureSpec(events=("visit",)))
    assert "event_visit" in table.columns


# --- the commands --------------------------------------------------------------------------


def app() -> typer.Typer:
    application = typer.Typer()
    churn_cli.register(application)
    return application


def test_commands_end_to_end(shop: Workspace, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "at_risk.csv"
    root = str(shop.root)
    shop.close()  # the commands open the workspace themselves
    result = runner.invoke(
        app(), ["churn", root, "--top", "7", "--out", str(out), "--json", "--min-support", "5"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # The [churn] table of jornada.toml is the definition.
    assert (
        data["outcome"] == "a cancellation (account_closed); churned within 25 days of the cutoff"
    )
    assert len(data["customers"]) == 7
    lines = out.read_text().splitlines()
    assert lines[0] == "customer_id,risk,reasons,last_event,last_event_at,last_touchpoint"
    assert len(lines) == 8
    result = runner.invoke(
        app(), ["churn", root, "--inactive-days", "20", "--no-triggers", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["outcome"].startswith("no activity for 20 days or a cancellation")
    assert data["triggers"] is None
    chart = tmp_path / "lift.html"
    args = [
        "churn-triggers",
        root,
        "--since",
        "2026-02-01",
        "--min-support",
        "5",
        "--chart",
        str(chart),
    ]
    result = runner.invoke(app(), [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["first_window"] >= "2026-02-01"
    assert chart.exists()
    likely = tmp_path / "likely.csv"
    args = [
        "propensity",
        root,
        "--where",
        "category=trail",
        "--window",
        "25d",
        "--out",
        str(likely),
    ]
    result = runner.invoke(app(), args)
    assert result.exit_code == 0, result.output
    assert "ROC AUC" in result.stdout
    assert likely.read_text().startswith("customer_id,probability,")
    result = runner.invoke(app(), ["churn", root, "--window", "200d"])
    assert result.exit_code == 1
    assert isinstance(result.exception, ChurnError)


@pytest.mark.parametrize("command", ["churn", "churn-triggers", "propensity"])
def test_help_shows_an_example(command: str) -> None:
    result = CliRunner().invoke(app(), [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout
    command_info = typer.main.get_command(app()).commands[command]  # type: ignore[attr-defined]
    for param in command_info.params:
        assert param.help, f"{command} {param.name} has no help"


# --- the demo's story ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    # More people than the default demo: the backlog's follow-ups need a few dozen.
    workspace = create_demo_workspace(tmp_path_factory.mktemp("demo") / "ws", customers=20_000)
    yield workspace
    workspace.close()


@pytest.mark.slow
def test_the_support_backlog_is_among_the_top_churn_triggers(demo: Workspace) -> None:
    story = STORIES["support_backlog"]
    definition = ChurnDefinition(cancel=("account_closed", "email_unsubscribed"))
    result = churn_triggers(demo.events(), definition=definition)
    top = result.triggers[:5]
    backlog = [t for t in top if "follow_up" in t.trigger]
    assert backlog, [t.trigger for t in top]
    (follow_up,) = backlog
    assert follow_up.ci_low > 10
    # It happened in the backlog's month.
    assert follow_up.peak_period == story.start.replace(day=1)
    # Before the backlog, the trigger does not exist.
    before = churn_triggers(
        demo.events(),
        definition=definition,
        until=dt.datetime.combine(story.start, dt.time()),
        min_support=1,
    )
    assert not [t for t in before.triggers if "follow_up" in t.trigger]


@pytest.mark.slow
def test_a_weighted_sample_of_the_held_out_period_keeps_the_demo_figures(
    demo: Workspace,
) -> None:
    """Beyond MAX_FIT_ROWS held-out customers the evaluation is measured on the final
    fit's weighted sample (decision 0005): on the demo, a sample of a quarter of them keeps
    ROC AUC within 0.005 of the full figure and the base rate exactly (0.0007 and exact at
    10M events)."""
    from jornada.analytics.churn import _default_as_of, _log_range
    from jornada.analytics.features import feature_spec
    from tests.analytics.test_churn_sampled import frames

    events = demo.events()
    definition = ChurnDefinition(cancel=("account_closed", "email_unsubscribed"))
    _, last = _log_range(events)
    eval_cutoff = _default_as_of(last) - definition.window
    train_cutoff = eval_cutoff - definition.window
    spec = feature_spec(events, before=train_cutoff)
    train, held_out = frames(events, definition, [train_cutoff, eval_cutoff], spec, None)
    with model_.limited_threads():
        trained, _ = _fit(train, seed=0)
        risk = model_.predict(trained, held_out.x)
    full = model_.evaluate(risk, held_out.y)
    for seed in (0, 1):
        sample = model_.fit_rows(held_out.y, seed=seed, limit=len(held_out.y) // 4)
        assert sample is not None
        rows, weights = sample
        assert held_out.y[rows].sum() == held_out.y.sum()  # the rare outcome kept whole
        estimate = model_.evaluate(risk[rows], held_out.y[rows], weights)
        assert estimate.base_rate == pytest.approx(full.base_rate, rel=1e-12)
        assert abs(estimate.roc_auc - full.roc_auc) <= 0.005, (estimate.roc_auc, full.roc_auc)
        # Seven churned customers here: a negative more or less above them moves PR AUC
        # (0.5% at 10M events, with 238 of them and a sample of a quarter).
        assert abs(estimate.pr_auc - full.pr_auc) <= 0.25 * full.pr_auc
