"""The one gateway to the analytics backend (DuckDB by default, PySpark or any Ibis backend).

Nothing outside this package connects to a backend or imports duckdb / pyspark.
Analyses are written as Ibis expressions (the portable expression language) and
run through an :class:`Engine`.
"""

from jornada.engine.backend import Engine, EngineError

__all__ = ["Engine", "EngineError"]
