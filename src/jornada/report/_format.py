"""Cells of the report's tables written for a language: numbers, shares, money, dates.

The separators and date forms are the living map's (:mod:`jornada.living.render`), so the
report and the map embedded in it write a number the same way.

>>> cell(1234.5, "money", "pt-BR", currency="BRL"), cell(0.25, "percent", "es")
('R$ 1.234,50', '25 %')
>>> cell(None, "count", "en"), cell(3 * 86400, "duration", "en"), cell(1e-6, "pvalue", "es")
('–', '3 d', '< 0,001')
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Final, Literal

from jornada.living.render import (
    format_count,
    format_date,
    format_decimal,
    format_percent,
    format_seconds,
)
from jornada.model import Language

__all__ = ["MISSING", "CellKind", "cell", "money"]

CellKind = Literal[
    "text", "count", "decimal", "percent", "money", "date", "duration", "ratio", "pvalue"
]
MISSING: Final = "–"
_SYMBOLS: Final = {"BRL": "R$", "USD": "US$", "EUR": "€", "GBP": "£", "MXN": "MX$", "ARS": "AR$"}


def money(value: float, language: Language, currency: str | None) -> str:
    """An amount with two decimals and the currency's symbol (its code when unknown).

    >>> money(12.5, "en", "USD"), money(3, "es", None)
    ('US$ 12.50', '3,00')
    """
    amount = format_decimal(value, language, 2)
    if currency is None:
        return amount
    return f"{_SYMBOLS.get(currency.upper(), currency.upper())} {amount}"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def cell(value: Any, kind: CellKind, language: Language, *, currency: str | None = None) -> str:
    """``value`` as the table shows it; a dash when there is none."""
    if _missing(value):
        return MISSING
    if kind == "count":
        return format_count(float(value), language)
    if kind == "decimal":
        number = float(value)
        return format_decimal(number, language, 2 if 0 < abs(number) < 1 else 1)
    if kind == "pvalue":
        small = float(value) < 0.001
        return (
            "< " + format_decimal(0.001, language, 3)
            if small
            else format_decimal(float(value), language, 3)
        )
    if kind == "ratio":
        return format_decimal(float(value), language, 2) + "×"
    if kind == "percent":
        return format_percent(float(value), language)
    if kind == "money":
        return money(float(value), language, currency)
    if kind == "duration":
        return format_seconds(float(value), language)
    if kind == "date":
        day = dt.date.fromisoformat(value) if isinstance(value, str) else value
        return format_date(day, language)
    return str(value)
