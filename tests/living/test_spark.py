"""The living-map analyses give the same answers on PySpark as on DuckDB (on a sample of
the demo data): measured emotion, conformance and the discovered map."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import ibis
import pytest

from jornada.demo.generator import LOAD_MAPPING, generate_dataset
from jornada.events.load import ColumnMapping
from jornada.living.conformance import conformance
from jornada.living.discover import discover_map
from jornada.living.sentiment import measured_emotion
from jornada.model.templates import load_template
from jornada.workspace import Workspace

pyspark = pytest.importorskip("pyspark", reason="install the spark extra: pip install -e .[spark]")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.spark,
    pytest.mark.xdist_group("spark"),  # one Spark session, on one worker
    # PySpark and its py4j bridge warn about their own internals; none of it is ours.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    from pyspark.sql import SparkSession

    folder = tmp_path_factory.mktemp("living-parity")
    dataset = generate_dataset(folder / "data", customers=250, seed=11)
    workspace = Workspace.init(folder / "ws")
    workspace.load(dataset.events_path, ColumnMapping(**LOAD_MAPPING))
    duck_events = workspace.events()
    session = (
        SparkSession.builder.master("local[2]")
        .appName("jornada-living-parity")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    frame = duck_events.to_pyarrow().to_pandas()
    # Arrow maps arrive in pandas as lists of pairs; as dicts, Spark reads them as maps.
    for column in ("properties", "identifiers"):
        frame[column] = frame[column].map(lambda pairs: dict(pairs) if pairs is not None else None)
    session.createDataFrame(frame).createOrReplaceTempView("living_events")
    spark_events = ibis.pyspark.connect(session).table("living_events")
    yield duck_events, spark_events
    session.stop()
    workspace.close()


def same(a: Any, b: Any, where: str = "") -> None:
    """Equal plain data, floats to 1e-9 relative, NaN equal to NaN."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert (math.isnan(a) and math.isnan(b)) or math.isclose(
            a, b, rel_tol=1e-9, abs_tol=1e-9
        ), (where, a, b)
    else:
        assert a == b, (where, a, b)


MAP = load_template("b2c-ecommerce", "en")


def test_measured_emotion_agrees(backends: tuple[Any, Any]) -> None:
    duck, spark = backends
    same(
        measured_emotion(duck, journey=MAP).to_dict(),
        measured_emotion(spark, journey=MAP).to_dict(),
    )


def test_conformance_agrees(backends: tuple[Any, Any]) -> None:
    duck, spark = backends
    same(conformance(duck, MAP).to_dict(), conformance(spark, MAP).to_dict())


def test_discovered_map_agrees(backends: tuple[Any, Any]) -> None:
    duck, spark = backends
    same(discover_map(duck, stages=4).to_dict(), discover_map(spark, stages=4).to_dict())
