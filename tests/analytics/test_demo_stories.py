"""The demo's planted stories are found by the product's own analyses, end to end:
generator → loader (with identity resolution) → funnel."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from jornada.analytics.funnel import funnel
from jornada.demo import create_demo_workspace
from jornada.demo.generator import STORIES
from jornada.workspace import Workspace


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    workspace = create_demo_workspace(tmp_path_factory.mktemp("demo") / "ws", customers=4000)
    yield workspace
    workspace.close()


def checkout_conversion(events: object) -> float:
    result = funnel(events, ["checkout_started", "purchase"], window="1d")
    return result.steps[1].paths / result.steps[0].paths


@pytest.mark.slow
def test_the_checkout_bug_week_shows_in_the_funnel(demo: Workspace) -> None:
    story = STORIES["checkout_bug_week"]
    events = demo.events()
    # The store's clock is UTC−03:00; a day of margin keeps the comparison clean.
    start = dt.datetime.combine(story.start, dt.time()) + dt.timedelta(hours=3)
    end = dt.datetime.combine(story.end, dt.time()) + dt.timedelta(hours=3)
    web = events.filter(events.channel == "web")
    during = checkout_conversion(web.filter((web.ts >= start) & (web.ts < end)))
    before = checkout_conversion(web.filter(web.ts < start - dt.timedelta(days=1)))
    assert during < before / 2, (during, before)


@pytest.mark.slow
def test_referral_arrivals_convert_about_twice_as_often(demo: Workspace) -> None:
    events = demo.events()
    referred = funnel(events, ["referral_click", "purchase"])
    advertised = funnel(events, ["ad_click", "purchase"])
    rate = referred.steps[1].paths / referred.steps[0].paths
    baseline = advertised.steps[1].paths / advertised.steps[0].paths
    assert rate > 1.4 * baseline, (rate, baseline)


@pytest.mark.slow
def test_the_demo_workspace_holds_events_and_customers(demo: Workspace, tmp_path: Path) -> None:
    counts = demo.engine.sql(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM customers), "
        "(SELECT count(*) FROM customers WHERE attributes IS NOT NULL)"
    ).fetchone()
    assert counts is not None
    events, customers, with_profile = counts
    assert events > 40_000
    assert 1000 < customers < 4000 * 2
    assert with_profile > 100
    assert Workspace.open(demo.root).settings.mappings["demo"].customer == "customer_key"
