"""Brute-force reference of :func:`jornada.living.sentiment.measured_emotion`: each event's
emotion from its survey score (the documented formulas, written again here) or its text
(scored by the product's scorer: the lexicon is the product, the aggregation is checked),
then plain means, standard deviations and Student-t intervals per group."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable
from typing import Any

from scipy import stats

from tests.oracles import Event

FORMULAS: dict[str, tuple[float, float, Callable[[float], float]]] = {
    "csat": (1, 5, lambda s: s - 3),
    "nps": (0, 10, lambda s: (s - 5) / 2.5),
    "ces": (1, 7, lambda s: (s - 4) / 1.5),
    "ces_effort": (1, 7, lambda s: (4 - s) / 1.5),
}


def properties(event: Event) -> dict[str, str]:
    """The event's properties (Arrow gives a map as a list of pairs)."""
    return dict(event.get("properties") or [])


def score_emotion(event: Event) -> float | None:
    survey = (properties(event).get("survey") or "").strip().lower()
    score = event.get("score")
    if survey not in FORMULAS or score is None or math.isnan(score):
        return None
    low, high, formula = FORMULAS[survey]
    return formula(score) if low <= score <= high else None


def text_emotion(event: Event, emotion_of: Callable[[str, str | None], float]) -> float | None:
    text = event.get("text")
    if text is None or not text.strip():
        return None
    return emotion_of(text, properties(event).get("language") or None)


def per_group(
    events: Iterable[Event],
    group_of: Callable[[Event], str | None],
    emotion_of: Callable[[str, str | None], float],
) -> dict[str | None, dict[str, Any]]:
    groups: dict[str | None, dict[str, list[float]]] = {}
    for event in events:
        scored = score_emotion(event)
        said = text_emotion(event, emotion_of)
        if scored is None and said is None:
            continue
        entry = groups.setdefault(group_of(event), {"all": [], "scores": [], "texts": []})
        entry["all"].append(scored if scored is not None else said)  # type: ignore[arg-type]
        if scored is not None:
            entry["scores"].append(scored)
        if said is not None:
            entry["texts"].append(said)
    result: dict[str | None, dict[str, Any]] = {}
    for group, entry in groups.items():
        values = entry["all"]
        n = len(values)
        mean = statistics.fmean(values) if values else None
        if n >= 2 and mean is not None:
            half = stats.t.ppf(0.975, n - 1) * statistics.stdev(values) / math.sqrt(n)
            low, high = max(-2.0, mean - half), min(2.0, mean + half)
        else:
            low = high = math.nan
        result[group] = {
            "responses": n,
            "emotion": mean,
            "low": low,
            "high": high,
            "scores": len(entry["scores"]),
            "score_emotion": statistics.fmean(entry["scores"]) if entry["scores"] else None,
            "texts": len(entry["texts"]),
            "text_emotion": statistics.fmean(entry["texts"]) if entry["texts"] else None,
        }
    return result
