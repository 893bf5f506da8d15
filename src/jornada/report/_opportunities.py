"""Improvement opportunities with an estimated impact, from the analyses' own numbers.

Two estimates are made here; both only rearrange figures the analyses computed:

* **Stage gap** (:func:`stage_gaps`): the stages of the map measured separately for the
  customers of each *arrival channel* (the channel of their first event: a
  :class:`~jornada.analytics.segments.Segment` per channel), by :func:`channel_reach` in
  one grouped aggregate over the report's stage tables
  (:meth:`~jornada.analytics.stages.StageTables.reach_by`: the reach
  :func:`~jornada.analytics.stages.analyse_stages` gives on each channel's customers
  alone). For each stage, if its conversion to
  the next stage rose from the overall rate to that of its best arrival channel, this many
  more customers would reach the next stage: ``(best - overall) × reached``. Only a
  channel with at least :data:`MIN_SEGMENT_CUSTOMERS` customers in the stage counts, and
  only when the lower end of its 95% Wilson interval is above the overall rate (so chance
  alone does not make a gap).
* **Bad week** (:func:`bad_weeks`): for each touchpoint of the conversion's stage, a
  funnel (:func:`~jornada.analytics.funnel.funnel`) from the touchpoint to the conversion
  within a day, by session, broken down by ISO week and channel of the session's first
  touch. A week whose conversion fell at least :data:`MIN_DROP` below that channel's other
  weeks, with a one-sided two-proportion z-test p below :data:`MAX_P` and at least
  :data:`MIN_WEEK_PATHS` sessions, is reported with ``(usual - rate) × sessions`` lost
  conversions. Only whole weeks that ended a day before the data does are judged.

The value of a conversion is the mean value of the conversions
(:func:`~jornada.analytics.attribution.attribution`'s totals); customers who reach a later
stage before the conversion are valued at the share of that stage's customers who convert.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from scipy import stats

from jornada.analytics.funnel import FunnelResult, funnel
from jornada.analytics.results import wilson_interval
from jornada.analytics.stages import StageAnalysis, StageReachByGroup, StageTables
from jornada.model import Journey

__all__ = [
    "MAX_P",
    "MIN_DROP",
    "MIN_SEGMENT_CUSTOMERS",
    "MIN_WEEK_PATHS",
    "BadWeek",
    "StageGap",
    "arrival_channels",
    "bad_weeks",
    "channel_reach",
    "stage_gaps",
    "week_funnels",
]

MIN_SEGMENT_CUSTOMERS: Final = 30
MIN_WEEK_PATHS: Final = 10
MIN_OTHER_PATHS: Final = 30
MIN_DROP: Final = 0.3
MAX_P: Final = 0.001
WEEK_COLUMN: Final = "_report_week_channel"


@dataclass(frozen=True)
class StageGap:
    """Stage ``stage_id``'s conversion to the next overall and in its best arrival channel."""

    stage_id: str
    stage: str
    next_stage: str
    reached: int
    rate: float
    best_channel: str
    best_reached: int
    best_rate: float
    best_low: float
    recovered: float


@dataclass(frozen=True)
class BadWeek:
    """A week in which sessions touching ``touchpoint_id`` on ``channel`` converted less."""

    touchpoint_id: str
    week: dt.date
    channel: str
    sessions: int
    converted: int
    other_sessions: int
    other_converted: int
    p_value: float

    @property
    def rate(self) -> float:
        return self.converted / self.sessions

    @property
    def usual_rate(self) -> float:
        return self.other_converted / self.other_sessions

    @property
    def lost(self) -> float:
        return (self.usual_rate - self.rate) * self.sessions


def arrival_channels(events: Any, *, top: int = 4, min_share: float = 0.05) -> list[str]:
    """The channels most customers arrive by (their first event's), at most ``top`` of
    those bringing at least ``min_share`` of the customers."""
    firsts = events.filter(events.idx == 0)
    counts = firsts.channel.value_counts().to_pyarrow().to_pylist()
    total = sum(row["channel_count"] for row in counts) or 1
    ranked = sorted(
        (row for row in counts if row["channel"] is not None),
        key=lambda row: (-row["channel_count"], row["channel"]),
    )
    return [row["channel"] for row in ranked if row["channel_count"] / total >= min_share][:top]


def channel_reach(tables: StageTables, events: Any, channels: Sequence[str]) -> StageReachByGroup:
    """Per arrival channel (in ``channels`` order) and stage: the customers arriving by
    it who reached the stage, and the next one too. ``tables`` are the stages measured on
    ``events``; a channel's customers are those whose first event is of it (as in
    :func:`arrival_channels`)."""
    if not channels:
        return StageReachByGroup(tables.journey.id, tables.as_of, (), (), ())
    arrivals = events.filter(events.idx == 0).select("customer_id", "channel")
    return tables.reach_by(arrivals, column="channel", values=channels)


def stage_gaps(overall: StageAnalysis, by_channel: StageReachByGroup) -> list[StageGap]:
    """The stages whose conversion to the next is clearly better in one arrival channel.

    >>> from jornada.analytics.stages import StageReach, StageSummary
    >>> stages = (StageSummary("a", "A", 0, 1000, 0, 200, 1000, 1000, 0, None, None, 0),
    ...           StageSummary("b", "B", 1, 200, 0, None, 200, 1000, 0, None, None, 0))
    >>> overall = StageAnalysis("j", None, 80.0, 1000, 1000, stages)
    >>> def reach(channel, reached, nxt):
    ...     return (StageReach(channel, "a", "A", 0, reached, nxt),
    ...             StageReach(channel, "b", "B", 1, nxt, None))
    >>> by_channel = StageReachByGroup("j", None, ("ads", "friends"), (800, 200),
    ...     reach("ads", 800, 80) + reach("friends", 200, 120))
    >>> [(g.best_channel, round(g.recovered, 6)) for g in stage_gaps(overall, by_channel)]
    [('friends', 400.0)]
    """
    gaps = []
    stages = overall.stages
    for index, stage in enumerate(stages[:-1]):
        if stage.reached_next is None or stage.reached == 0:
            continue
        rate = stage.reached_next / stage.reached
        best: tuple[float, float, str, int] | None = None
        for channel in by_channel.groups:
            summary = by_channel.stage(channel, stage.stage_id)
            if summary.reached < MIN_SEGMENT_CUSTOMERS or summary.reached_next is None:
                continue
            channel_rate = summary.reached_next / summary.reached
            low, _ = wilson_interval(summary.reached_next, summary.reached)
            if best is None or channel_rate > best[0]:
                best = (channel_rate, low, channel, summary.reached)
        if best is None or best[1] <= rate:
            continue
        gaps.append(
            StageGap(
                stage_id=stage.stage_id,
                stage=stage.name,
                next_stage=stages[index + 1].name,
                reached=stage.reached,
                rate=rate,
                best_channel=best[2],
                best_reached=best[3],
                best_rate=best[0],
                best_low=best[1],
                recovered=(best[0] - rate) * stage.reached,
            )
        )
    return gaps


def week_funnels(
    events: Any, journey: Journey, conversion: str, touchpoints: Sequence[str]
) -> dict[str, FunnelResult]:
    """Per touchpoint: the funnel touchpoint -> conversion within a day, by session,
    broken down by the ISO week and channel of the session's first touch."""
    week = events.ts.truncate("W").cast("date").cast("string")
    labelled = events.mutate(**{WEEK_COLUMN: week.concat(" ", events.channel.fill_null("-"))})
    return {
        tp: funnel(
            labelled,
            [tp, conversion],
            by="session",
            window="1d",
            breakdown=WEEK_COLUMN,
            journey=journey,
        )
        for tp in touchpoints
    }


def bad_weeks(funnels: dict[str, FunnelResult], last_seen: dt.datetime | None) -> list[BadWeek]:
    """The weeks of :func:`week_funnels` converting clearly worse than their channel's
    other weeks (see the module), the largest loss first, one per week and channel."""
    if last_seen is None:
        return []
    judged_until = last_seen.date() - dt.timedelta(days=1)
    found: dict[tuple[dt.date, str], BadWeek] = {}
    for touchpoint_id, result in funnels.items():
        if result.breakdown is None:
            continue
        by_channel: dict[str, list[tuple[dt.date, int, int]]] = {}
        for group, paths in zip(result.breakdown.groups, result.breakdown.paths, strict=True):
            day, _, channel = str(group).partition(" ")
            start = dt.date.fromisoformat(day)
            if start + dt.timedelta(days=7) <= judged_until:
                by_channel.setdefault(channel, []).append((start, paths[0], paths[-1]))
        for channel, weeks in by_channel.items():
            sessions = sum(n for _, n, _ in weeks)
            converted = sum(c for _, _, c in weeks)
            for start, n, c in weeks:
                rest_n, rest_c = sessions - n, converted - c
                if n < MIN_WEEK_PATHS or rest_n < MIN_OTHER_PATHS or rest_c == 0:
                    continue
                rate, usual = c / n, rest_c / rest_n
                if rate > usual * (1 - MIN_DROP):
                    continue
                pooled = converted / sessions
                se = math.sqrt(pooled * (1 - pooled) * (1 / n + 1 / rest_n))
                p = float(stats.norm.cdf((rate - usual) / se)) if se else 1.0
                if p >= MAX_P:
                    continue
                week = BadWeek(touchpoint_id, start, channel, n, c, rest_n, rest_c, p)
                key = (start, channel)
                if key not in found or week.lost > found[key].lost:
                    found[key] = week
    return sorted(found.values(), key=lambda w: (-w.lost, w.week, w.channel))
