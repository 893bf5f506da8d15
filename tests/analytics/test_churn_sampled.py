"""Churn computes the training and held-out features of the customers its models need
only (decision 0005): those features are the full ones restricted to them, on random logs,
and the models, drivers and scores are the ones the full features give."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from jornada.analytics import _churn_model as model_
from jornada.analytics._churn_labels import Outcome
from jornada.analytics.churn import (
    _alive_frame,
    _default_as_of,
    _features_of,
    _fit,
    _Frame,
    _log_range,
    _matrix,
    _sampled_frames,
    churn,
)
from jornada.analytics.features import FeatureSpec, feature_spec, features_by_cutoff
from jornada.model import Journey
from jornada.workspace import Workspace
from tests.analytics.conftest import EventLog
from tests.analytics.test_churn import DEFINITION, shop  # noqa: F401 (a fixture)
from tests.analytics.test_features import PLAIN, cutoff_spec, journey_of, log_rows

MakeLog = Callable[..., EventLog]
BASE = dt.datetime(2026, 1, 1)


def frames(
    events: Any,
    outcome: Outcome,
    cutoffs: list[dt.datetime],
    spec: FeatureSpec,
    journey: Journey | None,
) -> list[_Frame]:
    """The reference churn samples from: every customer's features at each of ``cutoffs``
    (the one-query :func:`features_by_cutoff`, joined with the labels), by customer id."""
    table = features_by_cutoff(events, cutoffs, spec=spec, journey=journey)
    panel = outcome.panel(events, [(c, c + outcome.window) for c in cutoffs], journey)
    panel = panel.select(p_customer=panel["customer_id"], p_j=panel["j"], label=panel["label"])
    joined = table.join(
        panel,
        [table["customer_id"] == panel["p_customer"], table["cutoff_index"] == panel["p_j"]],
    ).drop("p_customer", "p_j")
    arrow = joined.order_by(["cutoff_index", "customer_id"]).to_pyarrow()
    index = arrow["cutoff_index"].to_numpy(zero_copy_only=False)
    bounds = np.searchsorted(index, np.arange(len(cutoffs) + 1), side="left")
    found = []
    for k in range(len(cutoffs)):
        part = arrow.slice(int(bounds[k]), int(bounds[k + 1] - bounds[k]))
        y = part["label"].to_numpy(zero_copy_only=False).astype(bool)
        info = part.select(["last_event", "last_event_at", "last_touchpoint"])
        found.append(_Frame(part["customer_id"], _matrix(part, spec.columns()), y, info))
    return found


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=log_rows,
    cutoff_days=st.lists(st.integers(1, 22), min_size=1, max_size=3, unique=True),
    with_map=st.booleans(),
    facts=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_the_features_of_some_customers_are_the_full_features_restricted_to_them(
    make_log: MakeLog,
    rows: list[Any],
    cutoff_days: list[int],
    with_map: bool,
    facts: bool,
    seed: int,
) -> None:
    """Every customer and cutoff wanted (a random part of them) gets exactly the row of
    the query over everyone: with the store's facts and on a plain table without them."""
    log = make_log(rows)
    table = log.table
    if not facts:  # positions and sessions recomputed on the semi-joined events
        table = table.select(
            "customer_id", "ts", "event", "channel", "value", "score", "session_id"
        )
    cutoffs = [BASE + dt.timedelta(days=d) for d in sorted(cutoff_days)]
    journey = journey_of(PLAIN) if with_map else None
    spec = cutoff_spec(with_map)
    full = features_by_cutoff(table, cutoffs, spec=spec, journey=journey)
    everyone = {(r["customer_id"], r["cutoff_index"]): r for r in full.to_pyarrow().to_pylist()}
    pick = random.Random(seed)
    keys = sorted(k for k in everyone if pick.random() < 0.5)
    keys.append(("nobody", 0))  # a key without events has no row
    wanted = pa.table(
        {
            "customer_id": pa.array([c for c, _ in keys], pa.string()),
            "cutoff_index": pa.array([k for _, k in keys], pa.int64()),
        }
    )
    got = _features_of(table, wanted, cutoffs, spec, journey).to_pylist()
    assert [(r["customer_id"], r["cutoff_index"]) for r in got] == sorted(
        keys[:-1], key=lambda k: (k[1], k[0])
    )
    for row in got:
        expected = everyone[(row["customer_id"], row["cutoff_index"])]
        for column, value in expected.items():
            assert _same(row[column], value), (row["customer_id"], column, row[column], value)


def test_the_models_are_those_of_the_full_features(
    shop: Workspace,  # noqa: F811 (the fixture)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fitted on a sample (a limit below both populations), the models, the drivers'
    inputs and the scores are those of the features of every customer, to the bit."""
    events = shop.events()
    _, last = _log_range(events)
    as_of = _default_as_of(last)
    eval_cutoff = as_of - DEFINITION.window
    train_cutoff = eval_cutoff - DEFINITION.window
    cutoffs = [train_cutoff, eval_cutoff, as_of]
    spec = feature_spec(events, before=train_cutoff)
    full = frames(events, DEFINITION, cutoffs, spec, None)
    limit = len(full[0].y) // 2
    assert limit < len(full[1].y)
    monkeypatch.setattr(model_, "MAX_FIT_ROWS", limit)
    monkeypatch.setattr(model_, "MAX_DRIVER_ROWS", limit // 4)
    monkeypatch.setattr(model_, "MAX_DEPENDENCE_ROWS", limit // 8)
    two, alive = _sampled_frames(events, DEFINITION, cutoffs, spec, None, seed=3)
    sampled = [*two, _alive_frame(events, as_of, alive, spec, None)]
    for whole, part in zip(full, sampled, strict=True):
        assert part.customers.equals(whole.customers)
        if part is sampled[2]:  # everyone is scored
            assert part.rows is None
            np.testing.assert_array_equal(part.x, whole.x)
            assert part.info.equals(whole.info)
            continue
        np.testing.assert_array_equal(part.y, whole.y)
        assert part.rows is not None
        assert len(part.rows) < len(whole.y)
        np.testing.assert_array_equal(part.x, whole.x[part.rows])
    with model_.limited_threads():
        for whole, part in zip(full[:2], sampled[:2], strict=True):
            a, fitted_a = _fit(whole, seed=3)
            b, fitted_b = _fit(part, seed=3)
            assert fitted_a == fitted_b == limit
            np.testing.assert_array_equal(
                model_.predict(a, full[2].x), model_.predict(b, sampled[2].x)
            )
    # The result says on how many held-out customers the figures were measured.
    result = churn(events, definition=DEFINITION, top=5, triggers=False, seed=3)
    e = result.evaluation
    assert e.evaluated_customers == e.final_fitted_customers < e.eval_customers
    assert result.to_dict()["evaluation"]["evaluated_customers"] == e.evaluated_customers
    console = Console(width=250, record=True)
    console.print(result)
    assert f"measured on a weighted sample of {e.evaluated_customers:,}" in console.export_text()
    # The drivers' samples are among the held-out rows computed.
    held_out = sampled[1]
    for rows in (
        model_.sample_rows(held_out.y, 3, limit=model_.MAX_DRIVER_ROWS),
        model_.sample_rows(np.zeros(len(held_out.y)), 3, limit=model_.MAX_DEPENDENCE_ROWS),
    ):
        assert rows is not None
        np.testing.assert_array_equal(held_out.features_of(rows), full[1].x[rows])


def test_a_weighted_sample_estimates_the_held_out_figures(
    shop: Workspace,  # noqa: F811 (the fixture)
) -> None:
    """The weights make the sample count as the whole period: the base rate is exact,
    the bins count the customers, the AUCs stay near the full ones (on a small shop whose
    outcome is not rare, so its sample halves both classes: the demo's test is tighter)."""
    events = shop.events()
    _, last = _log_range(events)
    as_of = _default_as_of(last)
    eval_cutoff = as_of - DEFINITION.window
    train_cutoff = eval_cutoff - DEFINITION.window
    spec = feature_spec(events, before=train_cutoff)
    train, held_out = frames(events, DEFINITION, [train_cutoff, eval_cutoff], spec, None)
    with model_.limited_threads():
        model, _ = _fit(train, seed=0)
        risk = model_.predict(model, held_out.x)
    full = model_.evaluate(risk, held_out.y)
    sample = model_.fit_rows(held_out.y, seed=0, limit=len(held_out.y) // 2)
    assert sample is not None
    rows, weights = sample
    estimate = model_.evaluate(risk[rows], held_out.y[rows], weights)
    assert estimate.base_rate == pytest.approx(full.base_rate, rel=1e-12)
    assert sum(b.customers for b in estimate.calibration) == len(held_out.y)
    assert estimate.roc_auc == pytest.approx(full.roc_auc, abs=0.03)
    assert estimate.pr_auc == pytest.approx(full.pr_auc, abs=0.05)
    assert estimate.brier == pytest.approx(full.brier, rel=0.1)
    # Weights of one are the plain figures.
    _close(model_.evaluate(risk, held_out.y, np.ones(len(risk))), full)


def _close(a: model_.Metrics, b: model_.Metrics) -> None:
    assert (a.roc_auc, a.pr_auc, a.brier, a.base_rate) == pytest.approx(
        (b.roc_auc, b.pr_auc, b.brier, b.base_rate), rel=1e-12
    )
    assert len(a.calibration) == len(b.calibration)
    for x, y in zip(a.calibration, b.calibration, strict=True):
        assert (x.low, x.high, x.customers) == (y.low, y.high, y.customers)
        assert (x.mean_predicted, x.observed) == pytest.approx(
            (y.mean_predicted, y.observed), rel=1e-12
        )


def test_weights_count_rows_as_that_many_customers() -> None:
    risk = np.array([0.1, 0.9, 0.35, 0.2, 0.8])
    y = np.array([False, True, False, True, True])
    _close(model_.evaluate(risk, y, np.ones(5)), model_.evaluate(risk, y))
    # A row of weight 2 is that row twice.
    twice = [0, 1, 2, 2, 3, 4]
    _close(
        model_.evaluate(risk, y, np.array([1.0, 1, 2, 1, 1])),
        model_.evaluate(risk[twice], y[twice]),
    )
