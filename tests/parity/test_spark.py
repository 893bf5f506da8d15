"""The same analyses give the same answers on PySpark as on DuckDB (on a sample).

Every analysis runs unchanged on both Ibis backends (``backends`` in conftest.py) and the
results must agree (floats to 1e-9 relative: sums in a different order differ in the
last bits).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from jornada.analytics import churn, features, paths, stages, timing
from jornada.analytics import funnel as funnels
from jornada.analytics import retention as retentions
from jornada.analytics.attribution import attribution
from jornada.analytics.clv import rfm_summary
from jornada.analytics.kpis import kpis
from jornada.analytics.stages import StageTables
from jornada.analytics.touchpoints import touchpoint_measures, touchpoint_trend
from jornada.living.conformance import conformance
from jornada.living.discover import discover_map
from jornada.living.sentiment import measured_emotion, measured_emotions
from jornada.model.templates import load_template
from tests.parity.conftest import same

pytest.importorskip("pyspark", reason="install the spark extra: pip install -e .[spark]")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.spark,
    pytest.mark.xdist_group("spark"),  # one Spark session, on one worker
    # PySpark and its py4j bridge warn about their own internals; none of it is ours.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

MAP = load_template("b2c-ecommerce", "en")

ANALYSES: dict[str, Callable[[Any], Any]] = {
    "funnel ordered, 30-day window": lambda e: funnels.funnel(
        e, ["product_view", "add_to_cart", "purchase"], window="30d"
    ),
    "funnel strict": lambda e: funnels.funnel(e, ["checkout_started", "purchase"], mode="strict"),
    "funnel unordered": lambda e: funnels.funnel(
        e, ["add_to_cart", "product_view"], mode="unordered", window="7d"
    ),
    "funnel by session with exclusion": lambda e: funnels.funnel(
        e, ["product_view", "add_to_cart"], by="session", exclude=["page_view"]
    ),
    "funnel with breakdown": lambda e: funnels.funnel(
        e, ["checkout_started", "purchase"], breakdown="channel"
    ),
    "transitions": lambda e: paths.transitions(e),
    "transitions by session with start and end": lambda e: paths.transitions(
        e, by="session", with_start_end=True
    ),
    "step matrix": lambda e: paths.step_matrix(e, steps=5),
    "sankey after an event": lambda e: paths.sankey(e, steps=3, after="add_to_cart"),
    "variants": lambda e: paths.variants(e, top=10, collapse_repeats=True),
    "time to convert": lambda e: timing.time_to_convert(e, "purchase"),
    "time between": lambda e: timing.time_between(e, "add_to_cart", "purchase"),
    "touches before conversion": lambda e: timing.touches_before_conversion(e, "purchase"),
    "retention by week": lambda e: retentions.retention(e, period="week"),
    "lifecycle by month": lambda e: retentions.lifecycle(e, period="month"),
    "stages of the map": lambda e: stages.analyse_stages(e, MAP),
    "touchpoint measures": lambda e: touchpoint_measures(e, MAP, conversion="first_order"),
    "touchpoint trend, 14-day window": lambda e: touchpoint_trend(
        e, MAP, conversion="first_order", within_seconds=14 * 86400.0
    ),
    "attribution by channel, Markov order 2": lambda e: attribution(
        e, conversion="purchase", touch="channel", order=2
    ),
    "attribution by touchpoint": lambda e: attribution(
        e, conversion="purchase", touch="touchpoint", journey=MAP, lookback=None
    ),
    "RFM summary with a holdout": lambda e: rfm_summary(e, "purchase", until=dt.date(2026, 4, 30)),
    "KPIs by channel and month": lambda e: kpis(
        e, by="channel", period="month", only=["ctr", "sales", "conversion_rate", "nps"]
    ),
    "measured emotion": lambda e: measured_emotion(e, journey=MAP),
    "conformance": lambda e: conformance(e, MAP),
    "discovered map": lambda e: discover_map(e, stages=4),
    "churn triggers": lambda e: churn.churn_triggers(
        e,
        definition=churn.ChurnDefinition(cancel=("account_closed", "email_unsubscribed")),
        journey=MAP,
        min_support=2,
    ),
}


class _Emotions:
    """Both groupings of the measured emotion read from the stage tables' labelled events
    (as the living map reads them), as one result."""

    def __init__(self, events: Any) -> None:
        with StageTables(events, MAP) as tables:
            found = measured_emotions(
                events, by=("touchpoint_id", "stage_id"), journey=MAP, stage_tables=tables
            )
        self.found = {str(key): value.to_dict() for key, value in found.items()}

    def to_dict(self) -> dict[str, Any]:
        return self.found


ANALYSES["measured emotion through the stage tables"] = _Emotions


class _Rows:
    """A table's rows as a result (so the features compare like the analyses)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows}


ANALYSES["churn features at a cutoff"] = lambda e: _Rows(
    features.features(
        e,
        dt.datetime(2026, 4, 15),
        spec=features.FeatureSpec(
            events=("purchase", "page_view"), channels=("web",), surveys=("csat",)
        ),
    )
    .order_by("customer_id")
    .to_pyarrow()
    .to_pylist()
)


@pytest.mark.parametrize("name", list(ANALYSES))
def test_duckdb_and_spark_agree(name: str, backends: tuple[Any, Any]) -> None:
    duck_events, spark_events = backends
    analysis = ANALYSES[name]
    same(analysis(duck_events).to_dict(), analysis(spark_events).to_dict(), name)
