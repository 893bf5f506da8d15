"""The map's KPI board (roles and scopes packed in bits, rules on properties) gives the
same answers on PySpark as on DuckDB (on the parity sample; see test_spark.py)."""

from __future__ import annotations

from typing import Any

import pytest

from jornada.analytics.kpis import kpis
from jornada.model.templates import load_template
from tests.parity.conftest import same

pytest.importorskip("pyspark", reason="install the spark extra: pip install -e .[spark]")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.spark,
    pytest.mark.xdist_group("spark"),  # one Spark session, on one worker
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]


def test_the_kpi_board_agrees(backends: tuple[Any, Any]) -> None:
    journey = load_template("b2c-ecommerce", "en")
    duck_events, spark_events = backends
    expected = kpis(duck_events, journey=journey).to_dict()
    assert any(row["value"] for row in expected["rows"])
    same(expected, kpis(spark_events, journey=journey).to_dict(), "the KPI board")
