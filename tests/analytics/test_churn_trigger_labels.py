"""Churn's trigger tokens of a map's touchpoints, counted by the touchpoints' numbers (the
features' labelling), against an oracle of the map's rules; the triggers :func:`churn`
returns are those of :func:`churn_triggers` alone, and its model is the one without them
(the final model is fitted on another thread)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jornada.analytics.churn import ChurnDefinition, churn, churn_triggers
from jornada.model import EventBinding, Journey, Stage, Touchpoint
from jornada.workspace import Workspace
from tests.analytics.conftest import EventLog
from tests.analytics.test_churn import DEFINITION, at, shop  # noqa: F401 (the fixture)
from tests.oracles import group_paths
from tests.oracles.features import _alive, _churned, property_map

MakeLog = Callable[..., EventLog]

JOURNEY = Journey(
    id="m",
    title="M",
    stages=[
        Stage(
            id="care",
            name="Care",
            touchpoints=[
                # A rule with a where first: the flat CASE and the lookup differ there.
                Touchpoint(
                    id="late",
                    name="Late order",
                    events=EventBinding(
                        names=["support_ticket"], where="properties.reason = 'late'"
                    ),
                ),
                Touchpoint(
                    id="help", name="Help desk", events=EventBinding(names=["support_ticket"])
                ),
                Touchpoint(
                    id="web",
                    name="Web visit",
                    events=EventBinding(names=["visit"], channels=["web"]),
                ),
            ],
        )
    ],
)


def _touchpoint(event: dict[str, Any]) -> str | None:
    """The map's first touchpoint whose rule the event matches (the oracle of the labels)."""
    if event["event"] == "support_ticket":
        return "Late order" if property_map(event).get("reason") == "late" else "Help desk"
    if event["event"] == "visit" and event["channel"] == "web":
        return "Web visit"
    return None


def _touchpoint_counts(
    rows: list[dict[str, Any]],
    *,
    first: dt.datetime,
    every: dt.timedelta,
    windows: int,
    window: dt.timedelta,
    cancel: set[str],
) -> dict[str, tuple[int, int]]:
    """{touchpoint name: (customer-windows exposed, churned)}, as the module defines them."""
    counts: dict[str, list[int]] = {}
    for j in range(windows):
        start, end = first + j * every, first + (j + 1) * every
        for path in group_paths(rows).values():
            if not _alive(path, start, None, cancel, None):
                continue
            stop = min((e["ts"] for e in path if e["event"] in cancel), default=None)
            inside = [
                e for e in path if start <= e["ts"] < end and (stop is None or e["ts"] < stop)
            ]
            if not inside:
                continue
            label = _churned(path, end + window, None, cancel, None)
            for name in {_touchpoint(e) for e in inside} - {None}:
                cell = counts.setdefault(str(name), [0, 0])
                cell[0] += 1
                cell[1] += label
    return {k: (v[0], v[1]) for k, v in counts.items()}


map_rows = st.lists(
    st.tuples(
        st.sampled_from("abcde"),
        st.integers(0, 30 * 6).map(lambda q: at(q / 6)),
        st.sampled_from(("visit", "visit", "support_ticket", "account_closed")),
        st.fixed_dictionaries(
            {"channel": st.sampled_from(["web", "app"])},
            optional={"reason": st.sampled_from(["late", "size"])},
        ),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=map_rows)
def test_random_touchpoint_triggers_match_the_oracle(make_log: MakeLog, rows: list[Any]) -> None:
    # The touchpoints are counted by their numbers (the features' labels), named after.
    log = make_log(
        [
            *rows,
            ("y", at(0), "visit", {"channel": "app"}),
            ("z", at(31), "visit", {"channel": "app"}),
        ]
    )
    definition = ChurnDefinition(cancel=("account_closed",), window_days=6)
    result = churn_triggers(
        log.table, definition=definition, journey=JOURNEY, every="3d", min_support=1, pairs=False
    )
    first = dt.datetime.combine(result.first_window, dt.time())
    windows = (result.last_window - result.first_window).days // 3 + 1
    want = _touchpoint_counts(
        log.rows(),
        first=first,
        every=dt.timedelta(days=3),
        windows=windows,
        window=dt.timedelta(days=6),
        cancel={"account_closed"},
    )
    found = {t.trigger: (t.exposed, t.churned) for t in result.triggers if t.kind == "touchpoint"}
    assert found == want


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


@pytest.mark.parametrize("journey", [None, JOURNEY])
def test_triggers_of_churn_are_those_computed_alone(
    shop: Workspace,  # noqa: F811 (the fixture)
    journey: Journey | None,
) -> None:
    events = shop.events()
    result = churn(events, definition=DEFINITION, journey=journey, top=5, seed=1)
    assert result.triggers is not None
    alone = churn_triggers(events, definition=DEFINITION, journey=journey, as_of=result.as_of)
    assert _json(result.triggers.to_dict()) == _json(alone.to_dict())
    # ... and the model is the one without them (the final fit on another thread).
    model = churn(events, definition=DEFINITION, journey=journey, top=5, seed=1, triggers=False)
    assert _json({**result.to_dict(), "triggers": None}) == _json(model.to_dict())
