"""The spend table the KPIs read beside the events: media spend, impressions and clicks
by day and channel (and campaign), as ad platforms export them.

Columns (names are matched without regard to case or surrounding spaces):

- ``date`` (or ``day``): the day, ``2026-03-01`` (a time of day is dropped);
- ``channel``: the channel, as the events name it (``social``, ``search``...);
- ``campaign`` (optional): the campaign, as the events' ``properties.campaign``;
- ``spend`` (or ``cost``): the amount spent, in the map's currency, 0 or more;
- ``impressions``, ``clicks`` (optional): counts the platform reports, 0 or more.

An empty cell is unknown, not zero: sums leave it out. Spend, impressions and clicks of
the table are *added* to those of the events (cost on ad events, impression and click
events), so give each number in one place only.

>>> import pyarrow as pa
>>> table = read_spend(pa.table({"Date": ["2026-03-01"], "Channel": ["social"], "Cost": [12.5]}))
>>> table.column_names
['date', 'channel', 'campaign', 'spend', 'impressions', 'clicks']
>>> table.column("spend").to_pylist(), str(table.column("date")[0])
([12.5], '2026-03-01')
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Final, TypeAlias

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from jornada.errors import JornadaError

__all__ = ["SPEND_COLUMNS", "KpiError", "SpendInput", "read_spend"]

SpendInput: TypeAlias = Path | str | pd.DataFrame | pa.Table
"""A spend table: a CSV or Parquet file, a pandas DataFrame or an Arrow table."""

SPEND_COLUMNS: Final = ("date", "channel", "campaign", "spend", "impressions", "clicks")

_ALIASES: Final = {"day": "date", "cost": "spend"}
_REQUIRED: Final = ("date", "channel", "spend")
_NUMBERS: Final = ("spend", "impressions", "clicks")


class KpiError(JornadaError, ValueError):
    """A KPI request that cannot be met (a bad spend table, an unknown KPI or scope)."""


def _read_file(path: Path) -> pa.Table:
    if not path.is_file():
        raise KpiError(f"spend table {path} not found; give a CSV or Parquet file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pq.read_table(path)
        if suffix in (".csv", ".tsv", ".txt"):
            delimiter = "\t" if suffix == ".tsv" else ","
            # Arrow infers the types; a column it leaves as text (a bad date or number)
            # is checked below, row by row, to name the culprit.
            return pa_csv.read_csv(
                path,
                parse_options=pa_csv.ParseOptions(delimiter=delimiter),
                convert_options=pa_csv.ConvertOptions(strings_can_be_null=True),
            )
    except (pa.ArrowInvalid, OSError) as error:
        raise KpiError(f"spend table {path}: cannot be read: {error}") from None
    raise KpiError(f"spend table {path}: use a .csv, .tsv or .parquet file, not {suffix!r}")


def _renamed(table: pa.Table, where: str) -> pa.Table:
    names: dict[str, str] = {}
    for original in table.column_names:
        name = original.strip().lower()
        name = _ALIASES.get(name, name)
        if name in SPEND_COLUMNS:
            if name in names.values():
                raise KpiError(f"{where}: two columns mean {name!r}; keep one")
            names[original] = name
    missing = [name for name in _REQUIRED if name not in names.values()]
    if missing:
        found = ", ".join(table.column_names) or "none"
        raise KpiError(
            f"{where}: missing column(s) {', '.join(missing)} (found: {found}); a spend "
            "table needs date, channel and spend, and may add campaign, impressions, clicks"
        )
    return table.select(list(names)).rename_columns(list(names.values()))


def _dates(column: pa.ChunkedArray, where: str) -> pa.Array:
    if pa.types.is_date(column.type):
        return column.cast(pa.date32())
    if pa.types.is_timestamp(column.type):
        return pc.cast(column, pa.timestamp("us")).cast(pa.date32())
    texts = column.cast(pa.string()).to_pylist()
    days: list[dt.date | None] = []
    for row, text in enumerate(texts, start=2):  # the spend table's own rows, not events
        if text is None or not text.strip():
            raise KpiError(f"{where}: row {row}: the date is empty")
        try:
            days.append(dt.date.fromisoformat(text.strip()[:10]))
        except ValueError:
            raise KpiError(
                f"{where}: row {row}: {text!r} is not a date; write dates as YYYY-MM-DD"
            ) from None
    return pa.array(days, type=pa.date32())


def _numbers(column: pa.ChunkedArray, name: str, where: str) -> pa.Array:
    try:
        values = pc.cast(column, pa.float64()) if column.type != pa.string() else None
    except pa.ArrowInvalid:
        values = None
    if values is None:
        parsed: list[float | None] = []
        for row, text in enumerate(column.cast(pa.string()).to_pylist(), start=2):
            if text is None or not text.strip():
                parsed.append(None)
                continue
            try:
                parsed.append(float(text))
            except ValueError:
                raise KpiError(
                    f"{where}: row {row}: {name} {text!r} is not a number "
                    "(use a dot for decimals, no thousands separator)"
                ) from None
        values = pa.chunked_array([pa.array(parsed, type=pa.float64())])
    negative = pc.sum(pc.less(values, 0)).as_py()
    if negative:
        raise KpiError(f"{where}: {name} has {negative} negative value(s); use 0 or more")
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def read_spend(source: SpendInput) -> pa.Table:
    """The spend table, checked, with the columns of :data:`SPEND_COLUMNS` (optional ones
    all null when absent). Raises :class:`KpiError` naming the file, row and fix."""
    if isinstance(source, str | Path):
        path = Path(source)
        where = f"spend table {path}"
        table = _read_file(path)
    elif isinstance(source, pd.DataFrame):
        where, table = "spend table", pa.Table.from_pandas(source, preserve_index=False)
    else:
        where, table = "spend table", source
    table = _renamed(table, where)
    rows = table.num_rows
    columns: dict[str, pa.Array] = {"date": _dates(table.column("date"), where)}
    for name in ("channel", "campaign"):
        if name in table.column_names:
            columns[name] = table.column(name).cast(pa.string()).combine_chunks()
        else:
            columns[name] = pa.nulls(rows, type=pa.string())
    for name in _NUMBERS:
        if name in table.column_names:
            columns[name] = _numbers(table.column(name), name, where)
        else:
            columns[name] = pa.nulls(rows, type=pa.float64())
    return pa.table({name: columns[name] for name in SPEND_COLUMNS})
