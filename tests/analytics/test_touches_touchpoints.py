"""Touches before conversion counted on a map's touchpoints (``touch="touchpoints"``): random
logs against the oracle, with touchpoints bound by name, by channel and by a property
rule (an event is a touch when any touchpoint's rule matches it; a rule on a missing
property matches nothing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jornada.analytics.timing import touches_before_conversion
from jornada.model import EventBinding, Journey, Stage, Touchpoint
from tests.analytics.conftest import EventLog, minutes
from tests.oracles import timing as oracle

MakeLog = Callable[..., EventLog]

EVENTS = ("visit", "ad", "cart", "purchase", "newsletter")
CHANNELS = ("web", "app", "social", "")
PAGES = ("/blog/a", "/shop", "")


def touch_map() -> Journey:
    """Touchpoints by name and channel, by channel alone, and by a property rule."""
    return Journey(
        id="touch",
        title="Touch",
        stages=[
            Stage(
                id="look",
                name="Look",
                touchpoints=[
                    Touchpoint(
                        id="ad",
                        name="Ad",
                        events=EventBinding(names=["ad"], channels=["social"]),
                    ),
                    Touchpoint(
                        id="blog",
                        name="Blog",
                        events=EventBinding(
                            names=["visit"], where="properties.page starts with '/blog'"
                        ),
                    ),
                ],
            ),
            Stage(
                id="buy",
                name="Buy",
                touchpoints=[
                    Touchpoint(id="app", name="App", events=EventBinding(channels=["app"])),
                    Touchpoint(id="pay", name="Pay", events=EventBinding(names=["purchase"])),
                ],
            ),
        ],
    )


def is_touchpoint(event: dict[str, Any]) -> bool:
    """The map's rules, by hand."""
    page = dict(event["properties"] or ()).get("page") or ""  # a map arrives as pairs
    return (
        (event["event"] == "ad" and event["channel"] == "social")
        or (event["event"] == "visit" and page.startswith("/blog"))
        or event["channel"] == "app"
        or event["event"] == "purchase"
    )


log_rows = st.lists(
    st.tuples(
        st.sampled_from("abcd"),
        st.integers(0, 240).map(lambda h: minutes(h * 60)),
        st.sampled_from(EVENTS),
        st.fixed_dictionaries(
            {"channel": st.sampled_from(CHANNELS), "page": st.sampled_from(PAGES)}
        ),
    ),
    max_size=20,
)


def test_the_property_rule_is_read_from_the_loaded_events(make_log: MakeLog) -> None:
    log = make_log(
        [
            ("a", minutes(0), "visit", {"channel": "web", "page": "/blog/a"}),
            ("a", minutes(1), "visit", {"channel": "web", "page": "/shop"}),
            ("a", minutes(2), "newsletter", {"channel": "app", "page": ""}),
            ("a", minutes(3), "purchase", {"channel": "web", "page": ""}),
        ]
    )
    result = touches_before_conversion(
        log.table, "purchase", touch="touchpoints", journey=touch_map()
    )
    assert result.converters.touches == ((2, 1),)  # the blog visit and the app newsletter
    assert result.converters.channels == ((2, 1),)


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=log_rows)
def test_random_logs_match_the_oracle(make_log: MakeLog, rows: list[Any]) -> None:
    log = make_log(rows)
    events = log.rows()
    expected = oracle.touches(events, lambda e: e["event"] == "purchase", is_touchpoint)
    result = touches_before_conversion(
        log.table, "purchase", touch="touchpoints", journey=touch_map()
    )
    for converted, data in ((True, result.converters), (False, result.non_converters)):
        pairs = expected[converted]
        assert data.customers == len(pairs)
        assert sorted(t for t, _ in pairs) == [n for n, c in data.touches for _ in range(c)]
        assert sorted(c for _, c in pairs) == [n for n, c in data.channels for _ in range(c)]
