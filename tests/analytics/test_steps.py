"""Resolving a step against a map: a touchpoint id gives that touchpoint's own filter,
built alone (the other touchpoints' rules are not compiled)."""

from __future__ import annotations

import ibis
import pytest

from jornada.analytics.steps import resolve_step
from jornada.events.binding import touchpoint_filters
from jornada.events.rules import RuleError
from jornada.model import EventBinding, Journey, Stage, Touchpoint
from jornada.model.templates import load_template

EVENTS = ibis.table(
    {"event": "string", "channel": "string", "properties": "map<string, string>"},
    name="events",
)


def test_a_touchpoint_step_is_its_filter() -> None:
    journey = load_template("b2c-ecommerce")
    filters = touchpoint_filters(journey, EVENTS)
    assert len(filters) > 10
    names = {t.id: t.name for _, t in journey.iter_touchpoints()}
    for touchpoint_id, condition in filters.items():
        step = resolve_step(touchpoint_id, EVENTS, journey)
        assert (step.kind, step.label) == ("touchpoint", names[touchpoint_id])
        assert step.condition.equals(condition)


def test_only_the_named_touchpoint_is_compiled() -> None:
    broken = Touchpoint(id="broken", name="Broken", events=EventBinding(where="nope ==== 1"))
    cart = Touchpoint(id="cart", name="Cart", events=EventBinding(names=["add_to_cart"]))
    journey = Journey(
        id="shop",
        title="Shop",
        stages=[Stage(id="buy", name="Buy", touchpoints=[broken, cart])],
    )
    assert resolve_step("cart", EVENTS, journey).kind == "touchpoint"
    assert resolve_step("purchase", EVENTS, journey).kind == "event"
    # The broken rule is still reported where it is used, with where it is.
    with pytest.raises(RuleError, match="touchpoint 'broken'"):
        resolve_step("broken", EVENTS, journey)


def test_an_unbound_touchpoint_is_an_event_name() -> None:
    journey = Journey(
        id="shop",
        title="Shop",
        stages=[Stage(id="buy", name="Buy", touchpoints=[Touchpoint(id="cart", name="Cart")])],
    )
    step = resolve_step("cart", EVENTS, journey)
    assert (step.kind, step.label) == ("event", "cart")
