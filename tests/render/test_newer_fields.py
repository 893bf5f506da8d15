"""KPI periods and the map's currency, read when the model has them."""

from __future__ import annotations

import pytest

from jornada.model import Journey, KpiTarget
from jornada.render._view import build_view


def _kpis(journey: Journey, language: str = "en") -> dict[str, tuple[str | None, str | None]]:
    view = build_view(journey, language)  # type: ignore[arg-type]
    return {k.id: (k.target, k.note) for lane in view.lanes for c in lane.cells for k in c.kpis}


def test_period_is_shown_with_the_note(fixed_catalogue: None) -> None:
    if "period" not in KpiTarget.model_fields:
        pytest.skip("the model has no KPI period yet")
    journey = Journey.model_validate(
        {
            "id": "j",
            "title": "T",
            "kpis": [{"id": "sales", "name": "Sales"}],
            "stages": [
                {
                    "id": "a",
                    "name": "A",
                    "kpis": [{"kpi": "sales", "target": 5, "period": "month", "note": "net"}],
                }
            ],
        }
    )
    assert _kpis(journey)["sales"] == ("5", "per month · net")
    assert _kpis(journey, "pt-BR")["sales"] == ("5", "por mês · net")


def test_currency_targets_use_the_map_currency(fixed_catalogue: None) -> None:
    if "currency" not in Journey.model_fields:
        pytest.skip("the model has no map currency yet")
    journey = Journey.model_validate(
        {
            "id": "j",
            "title": "T",
            "currency": "BRL",
            "kpis": [{"id": "aov", "name": "Average order value", "unit": "currency"}],
            "stages": [{"id": "a", "name": "A", "kpis": [{"kpi": "aov", "target": 1320.5}]}],
        }
    )
    assert _kpis(journey, "pt-BR")["aov"] == ("R$ 1.320,50", None)
    chf = journey.model_copy(update={"currency": "CHF"})
    assert _kpis(chf)["aov"] == ("1,320.50 CHF", None)
