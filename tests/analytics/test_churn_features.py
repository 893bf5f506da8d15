"""The features churn scores everyone with: :func:`features_arrow` is :func:`features` to the
bit (computed as two aggregations and a numpy spread of the counts), as
:func:`features_by_cutoff_arrow` (the sampled customers' features) is
:func:`features_by_cutoff`; and the numbered labels the features count touchpoints and stages
with are :func:`label_events`' labels."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jornada.analytics.churn import ChurnDefinition, churn_triggers
from jornada.analytics.features import (
    FeatureSpec,
    _numbered,
    features,
    features_arrow,
    features_by_cutoff,
    features_by_cutoff_arrow,
)
from jornada.events.binding import label_events
from jornada.model import EventBinding, Journey, Stage, Touchpoint
from tests.analytics.conftest import EventLog
from tests.analytics.test_features import NAMES, PLAIN, journey_of, log_rows

MakeLog = Callable[..., EventLog]
BASE = dt.datetime(2026, 1, 1)

# Repeated ids (a touchpoint in two stages, two stages of one id), a stage's own block for
# the events of no touchpoint, a rule on a property, a touchpoint without a block.
TANGLED = Journey(
    id="tangled",
    title="Tangled",
    stages=[
        Stage(
            id="look",
            name="Look",
            events=EventBinding(names=["support_ticket"]),
            touchpoints=[
                Touchpoint(id="web_visit", name="Web", events=EventBinding(channels=["web"])),
                Touchpoint(id="idle", name="Idle"),
            ],
        ),
        Stage(
            id="pay",
            name="Pay",
            touchpoints=[
                Touchpoint(
                    id="paid",
                    name="Paid",
                    events=EventBinding(names=["purchase"], where="properties.survey = 'csat'"),
                ),
                Touchpoint(id="web_visit", name="Web again", events=EventBinding(names=["visit"])),
                Touchpoint(
                    id="failed", name="Failed", events=EventBinding(names=["payment_failed"])
                ),
            ],
        ),
        Stage(id="look", name="Look again", events=EventBinding(names=["survey_response"])),
        Stage(id="end", name="End", events=EventBinding(channels=["app"])),
    ],
)


def _plain(table: Any) -> Any:
    # A plain table: positions and sessions recomputed, no store facts.
    return table.select(
        "customer_id", "ts", "event", "channel", "value", "score", "session_id", "properties"
    )


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=log_rows,
    cutoff_day=st.integers(1, 22),
    journey_kind=st.sampled_from(["none", "plain", "tangled"]),
    facts=st.booleans(),
    touchpoints=st.permutations(["look_tp", "pay_tp", "help_tp", "paid", "web_visit", "nowhere"]),
)
def test_features_arrow_is_the_ordered_features_table(
    make_log: MakeLog,
    rows: list[Any],
    cutoff_day: int,
    journey_kind: str,
    facts: bool,
    touchpoints: list[str],
) -> None:
    """Same columns, types, rows and numbers, with and without the store's facts, with
    names, channels and touchpoints the data or the map does not have."""
    log = make_log(rows)
    table = log.table if facts else _plain(log.table)
    journey = {"none": None, "plain": journey_of(PLAIN), "tangled": TANGLED}[journey_kind]
    spec = FeatureSpec(
        events=(*NAMES, "never_seen"),
        channels=("web", "app", "sms"),
        surveys=("csat", "nps", ""),
        touchpoints=tuple(touchpoints[:4]) if journey is not None else (),
        stages=journey is not None,
        recent_days=5,
    )
    cutoff = BASE + dt.timedelta(days=cutoff_day)
    want: pa.Table = features(table, cutoff, spec=spec, journey=journey)
    want = want.order_by("customer_id").to_pyarrow()
    got = features_arrow(table, cutoff, spec=spec, journey=journey)
    assert got.schema.equals(want.schema), (got.schema, want.schema)
    assert got.equals(want), [n for n in want.column_names if not got[n].equals(want[n])]


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=log_rows,
    cutoff_days=st.lists(st.integers(1, 22), min_size=1, max_size=3, unique=True),
    journey_kind=st.sampled_from(["none", "plain", "tangled"]),
    facts=st.booleans(),
    touchpoints=st.permutations(["look_tp", "pay_tp", "help_tp", "paid", "web_visit", "nowhere"]),
    seed=st.integers(0, 2**16),
)
def test_features_by_cutoff_arrow_is_the_ordered_table_by_cutoff(
    make_log: MakeLog,
    rows: list[Any],
    cutoff_days: list[int],
    journey_kind: str,
    facts: bool,
    touchpoints: list[str],
    seed: int,
) -> None:
    """Same columns, types, rows and numbers as :func:`features_by_cutoff` ordered by
    cutoff and customer, for everyone and for some (customer, cutoff) pairs (a random
    part, with pairs of no row), with and without the store's facts."""
    log = make_log(rows)
    table = log.table if facts else _plain(log.table)
    journey = {"none": None, "plain": journey_of(PLAIN), "tangled": TANGLED}[journey_kind]
    spec = FeatureSpec(
        events=(*NAMES, "never_seen"),
        channels=("web", "app", "sms"),
        surveys=("csat", "nps", ""),
        touchpoints=tuple(touchpoints[:4]) if journey is not None else (),
        stages=journey is not None,
        recent_days=3,
    )
    cutoffs = [BASE + dt.timedelta(days=d) for d in sorted(cutoff_days)]
    want: pa.Table = features_by_cutoff(table, cutoffs, spec=spec, journey=journey)
    want = want.order_by(["cutoff_index", "customer_id"]).to_pyarrow()
    got = features_by_cutoff_arrow(table, cutoffs, spec=spec, journey=journey)
    assert got.schema.equals(want.schema), (got.schema, want.schema)
    assert got.equals(want), [n for n in want.column_names if not got[n].equals(want[n])]
    pick = random.Random(seed)
    keep = [pick.random() < 0.5 for _ in range(want.num_rows)]
    chosen = want.filter(pa.array(keep, pa.bool_()))
    pairs = pa.table(
        {
            "customer_id": [*chosen["customer_id"].to_pylist(), "nobody", "a"],
            "cutoff_index": [*chosen["cutoff_index"].to_pylist(), 0, len(cutoffs)],
        }
    )
    some = features_by_cutoff_arrow(table, cutoffs, spec=spec, journey=journey, pairs=pairs)
    assert some.equals(chosen), [n for n in want.column_names if not some[n].equals(chosen[n])]


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=log_rows, journey_kind=st.sampled_from(["plain", "tangled"]))
def test_the_numbered_labels_are_the_labels(
    make_log: MakeLog, rows: list[Any], journey_kind: str
) -> None:
    log = make_log(rows)
    journey = journey_of(PLAIN) if journey_kind == "plain" else TANGLED
    table = log.table.mutate(_row=log.table["idx"])
    numbered, ids = _numbered(journey, table)
    assert ids == tuple(dict.fromkeys(t.id for _, t in journey.iter_touchpoints() if t.events))
    got = numbered.select("customer_id", "_row", "touchpoint_id", "stage_id", "_tp", "_stage")
    want = label_events(journey, table).select("customer_id", "_row", "touchpoint_id", "stage_id")
    key = ["customer_id", "_row"]
    got_rows = got.order_by(key).to_pyarrow().to_pylist()
    want_rows = want.order_by(key).to_pyarrow().to_pylist()
    stages = [s.id for s in journey.ordered_stages()]
    for g, w in zip(got_rows, want_rows, strict=True):
        assert (g["touchpoint_id"], g["stage_id"]) == (w["touchpoint_id"], w["stage_id"]), (g, w)
        assert g["_tp"] == (ids.index(w["touchpoint_id"]) if w["touchpoint_id"] else None)
        # The first stage of an id when ids repeat.
        assert g["_stage"] == (stages.index(w["stage_id"]) if w["stage_id"] else None)


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=log_rows, with_map=st.booleans())
def test_triggers_keyed_by_customer_number_are_those_keyed_by_id(
    make_log: MakeLog, rows: list[Any], with_map: bool
) -> None:
    """The exposure counts group and join customers by the store's ``customer_no`` when
    the table has it, else by ``customer_id``: the same triggers either way."""
    log = make_log([*rows, ("y", at_day(0), "visit"), ("z", at_day(21), "visit")])
    definition = ChurnDefinition(cancel=("payment_failed",), window_days=4)
    journey = journey_of(PLAIN) if with_map else None

    def triggers(table: Any) -> dict[str, Any]:
        found = churn_triggers(
            table, definition=definition, journey=journey, every="2d", min_support=1
        )
        return found.to_dict()

    assert "customer_no" in log.table.columns
    assert triggers(log.table) == triggers(log.table.drop("customer_no"))


def at_day(days: float) -> str:
    return (BASE + dt.timedelta(days=days)).isoformat() + "Z"
