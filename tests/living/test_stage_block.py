"""The stage block's shortcuts give the numbers of the longer ways: the visits' previous
stage read from the one window over the staged events, the stalled customers counted
without the customers' last touchpoints and events, and the deviating paths ranked by
their stage numbers (as numbers: stage 2 before stage 10) on a map of twelve stages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from jornada.analytics.stages import StageTables, stage_visits
from jornada.living.conformance import conformance
from jornada.model import EventBinding, Journey, Stage, Touchpoint
from jornada.model.templates import load_template
from tests.living.conftest import Row, Store
from tests.living.test_conformance import SHOP, journey_of
from tests.living.test_stored_facts import logs

MAPS: tuple[Journey, ...] = (journey_of(SHOP), load_template("b2c-ecommerce"))


@settings(max_examples=15, deadline=None)
@given(rows=logs(), as_of=st.sampled_from([None, 1, 30]), facts=st.booleans())
def test_stalled_counts_are_those_of_the_stalled_list(
    store: Store, rows: Sequence[Row], as_of: int | None, facts: bool
) -> None:
    events = store.load(rows).table
    moment = None if as_of is None else dt.datetime(2026, 1, 1) + dt.timedelta(minutes=as_of)
    for journey in MAPS:
        with StageTables(events, journey, as_of=moment, facts=facts) as tables:
            # the analysis first: it counts before the current stages are ever built
            analysis = tables.analysis(percentile=50)
            counts = tables.stalled(percentile=50).counts()
            assert {s.stage_id: s.stalled for s in analysis.stages} == {
                stage_id: len(
                    {c.customer_id for c in tables.stalled(50).customers if c.stage_id == stage_id}
                )
                for stage_id in counts
            }
            assert tables.analysis(percentile=50) == analysis


@settings(max_examples=15, deadline=None)
@given(rows=logs())
def test_each_visit_knows_the_stage_of_the_visit_before(store: Store, rows: Sequence[Row]) -> None:
    journey = load_template("b2c-ecommerce")
    events = store.load(rows).table
    with StageTables(events, journey) as tables:
        labelled = tables.labelled.select(tables.key, "idx", "stage_index").to_pyarrow()
        visits = stage_visits(tables.labelled, tables.key).to_pyarrow().to_pylist()
    staged: dict[object, list[tuple[int, int]]] = {}
    for row in labelled.to_pylist():
        if row["stage_index"] is not None:
            staged.setdefault(row[tables.key], []).append((row["idx"], row["stage_index"]))
    expected = set()
    for customer, path in staged.items():
        before = None
        for idx, stage in sorted(path):
            if stage != before:
                expected.add((customer, idx, stage, before))
            before = stage
    got = {(v[tables.key], v["idx"], v["stage_index"], v["previous"]) for v in visits}
    assert got == expected


def test_deviating_paths_rank_stage_numbers_as_numbers(store: Store) -> None:
    twelve = Journey(
        id="twelve",
        title="Twelve",
        stages=[
            Stage(
                id=f"s{k}",
                name=f"S{k}",
                touchpoints=[
                    Touchpoint(id=f"t{k}", name=f"t{k}", events=EventBinding(names=[f"e{k}"]))
                ],
            )
            for k in range(12)
        ],
    )
    # One customer each: s0 > s10 and s0 > s2 (tied; the lower stage number first, as
    # text "10" would come before "2"), and s0 > s2 > s1 (also tied, after s0 > s2).
    rows = [
        Row("a", 0, "e0"),
        Row("a", 1, "e10"),
        Row("b", 0, "e0"),
        Row("b", 1, "e2"),
        Row("c", 0, "e0"),
        Row("c", 1, "e2"),
        Row("c", 2, "e1"),
        Row("d", 0, "e0"),
        Row("d", 1, "e1"),
    ]
    result = conformance(store.load(rows).table, twelve)
    assert [(p.stages, p.customers) for p in result.paths] == [
        (("s0", "s2"), 1),
        (("s0", "s2", "s1"), 1),
        (("s0", "s10"), 1),
    ]
    assert (result.conforming, result.deviating, result.distinct_deviating) == (1, 3, 3)


@settings(max_examples=15, deadline=None)
@given(rows=logs(), as_of=st.sampled_from([None, 0, 1, 30, 45]))
def test_customers_counted_from_the_facts(
    store: Store, rows: Sequence[Row], as_of: int | None
) -> None:
    """With the stored facts the customers are counted by their last events up to
    ``as_of`` (one each), without them by a distinct count: the same number, that of a
    count in Python."""
    events = store.load(rows).table
    moment = None if as_of is None else dt.datetime(2026, 1, 1) + dt.timedelta(minutes=as_of)
    journey = load_template("b2c-ecommerce")
    expected = len({r.customer for r in rows if as_of is None or r.minute <= as_of})
    for facts in (False, True):
        with StageTables(events, journey, as_of=moment, facts=facts) as tables:
            assert tables.facts == facts
            assert tables.total_customers == expected
