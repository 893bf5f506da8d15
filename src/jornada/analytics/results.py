"""What every analysis result offers: a table, plain data, and a Plotly chart.

>>> from dataclasses import dataclass
>>> import pandas as pd, plotly.graph_objects as go
>>> @dataclass(frozen=True)
... class Count(AnalysisResult):
...     n: int
...     def to_frame(self) -> pd.DataFrame: return pd.DataFrame({"n": [self.n]})
...     def to_dict(self) -> dict[str, object]: return {"n": self.n}
...     def chart(self) -> go.Figure: return go.Figure(go.Bar(y=[self.n]))
>>> Count(3).to_dict()
{'n': 3}
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from rich.table import Table

__all__ = ["AnalysisResult", "json_ready", "wilson_interval"]


class AnalysisResult(ABC):
    """Base of analysis results (frozen dataclasses in each analysis module)."""

    @abstractmethod
    def to_frame(self) -> pd.DataFrame:
        """The result as one table (what ``--csv`` writes)."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data (what ``--json`` prints and the API returns)."""

    @abstractmethod
    def chart(self) -> go.Figure:
        """A Plotly figure of the result (what ``--chart`` writes)."""

    def __rich__(self) -> Table:
        """How the CLI shows the result: its table (the first 50 rows)."""
        frame = self.to_frame()
        table = Table(*map(str, frame.columns), box=None)
        for row in frame.head(50).itertuples(index=False):
            table.add_row(*(_cell(value) for value in row))
        if len(frame) > 50:
            table.caption = f"{len(frame) - 50:,} more rows: use --csv FILE"
        return table

    def write_csv(self, path: Path) -> None:
        self.to_frame().to_csv(path, index=False)

    def write_chart(self, path: Path) -> None:
        """A self-contained HTML chart: Plotly's JS is embedded, so it opens offline."""
        self.chart().write_html(path, include_plotlyjs=True, full_html=True)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    return str(value)


def json_ready(value: Any) -> Any:
    """Plain JSON data from numpy/pandas values: NaN becomes None, numpy scalars Python ones."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def wilson_interval(
    successes: int, trials: int, *, z: float = 1.959963984540054
) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (NaN, NaN when there are no trials).

    >>> [round(x, 4) for x in wilson_interval(50, 100)]
    [0.4038, 0.5962]
    """
    if trials == 0:
        return (math.nan, math.nan)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))
