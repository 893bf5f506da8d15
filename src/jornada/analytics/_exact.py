"""Sums that do not depend on the order the engine adds in.

A float sum's last bits follow the order the engine's threads add the rows in, so the
same events gave revenues, spends, times and path values apart in the last digits from
one run to the next (and a nearly degenerate CLV fit different parameters). Amounts are
therefore added as exact decimals (nanounit precision) and read back as floats.

>>> import ibis
>>> t = ibis.memtable({"v": [0.1, 0.2, 0.3]})
>>> t.aggregate(total=exact_sum(t.v)).to_pyarrow().to_pylist()
[{'total': 0.6}]
"""

from __future__ import annotations

from typing import Any, Final

import ibis.expr.types as ir

__all__ = ["EXACT_DECIMAL", "exact_sum"]

EXACT_DECIMAL: Final = "decimal(38, 9)"
"""The type amounts are added in: 29 digits before the point, 9 after."""


def exact_sum(values: ir.NumericValue, where: Any = None) -> ir.NumericScalar:
    """The sum of ``values`` (rows where ``where`` holds); floats are added as
    :data:`EXACT_DECIMAL` and read back as floats, other numbers summed as they are."""
    if values.type().is_floating():
        exact: ir.NumericScalar = values.cast(EXACT_DECIMAL).sum(where=where)
        return exact.cast("float64")
    return values.sum(where=where)
