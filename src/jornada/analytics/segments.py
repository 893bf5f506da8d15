"""Segments: groups of customers defined by what they did and how they arrived, a
``segment`` column so any analysis can run per segment, and a test of whether a share
differs between segments more than chance would explain.

A :class:`Segment` is a name and a rule evaluated once per customer over all of their
events. Rules are built from two leaves and combined with ``&``, ``|`` and ``~``:

* :class:`HasEvent` -- customers with at least one (or ``at_least`` n) events matching a
  rule of the rule language (``event = 'purchase' and value > 100``);
* :class:`FirstEvent` -- customers whose first event matches one
  (``properties.utm_source = 'instagram'``: how the customer arrived).

Each rule compiles to one per-customer aggregate, so a whole segment (or a list of them)
is a single ``GROUP BY customer_id``: no loop over customers or events.

:func:`split_by_segment` adds a ``segment`` column to the events table: a plain string,
constant per customer, that any analysis taking a breakdown column (the funnel's
``breakdown``) can group by, or filter on to run one analysis per segment.

>>> import ibis
>>> from jornada.engine import Engine
>>> engine = Engine.duckdb()
>>> _ = engine.sql("create table events as select * from (values "
...     "('a', timestamp '2026-01-01', 'ad_click', 'social', 0, 0.0),"
...     "('a', timestamp '2026-01-02', 'purchase', 'web', 1, 50.0),"
...     "('b', timestamp '2026-01-01', 'page_view', 'web', 0, null)"
...     ") t(customer_id, ts, event, channel, idx, value)")
>>> events = engine.table("events")
>>> social = Segment("social", FirstEvent("channel = 'social'"))
>>> buyers = Segment("buyers", HasEvent("event = 'purchase'") & ~FirstEvent("channel = 'web'"))
>>> sorted(social.customers(events).to_pyarrow()["customer_id"].to_pylist())
['a']
>>> buyers.customers(events).to_pyarrow()["customer_id"].to_pylist()
['a']
>>> split = split_by_segment(events, [social])
>>> sorted(split.select("customer_id", "segment").distinct().to_pyarrow().to_pylist(),
...        key=lambda r: r["customer_id"])
[{'customer_id': 'a', 'segment': 'social'}, {'customer_id': 'b', 'segment': 'other'}]
"""

from __future__ import annotations

import functools
import math
import operator
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd
import plotly.graph_objects as go
from scipy import stats  # type: ignore[import-untyped, unused-ignore]

from jornada.analytics.results import AnalysisResult, json_ready, wilson_interval
from jornada.events.rules import Rule, compile_rule, parse_rule

__all__ = [
    "AllOf",
    "AnyOf",
    "FirstEvent",
    "GroupShare",
    "HasEvent",
    "Not",
    "ProportionTest",
    "Segment",
    "SegmentRule",
    "compare_proportions",
    "compare_segments",
    "segment_labels",
    "split_by_segment",
    "with_positions",
]

DEFAULT_COLUMN = "segment"
DEFAULT_REMAINDER = "other"


def with_positions(events: ir.Table) -> ir.Table:
    """The events with the store's ``idx`` fact (position in the customer's path, from 0),
    computed from ``ts`` then ``seq`` when the table lacks it. Shared with the stages."""
    if "idx" in events.columns:
        return events
    order = [events["ts"], *([events["seq"]] if "seq" in events.columns else [])]
    window = ibis.window(group_by=events["customer_id"], order_by=order)
    return events.mutate(idx=ibis.row_number().over(window))


# --- rules over customers --------------------------------------------------------------


class SegmentRule(ABC):
    """A yes/no question about a customer, answered from all of their events.

    Combine rules with ``&`` (both), ``|`` (either) and ``~`` (not).
    """

    @abstractmethod
    def compile(self, events: ir.Table) -> ir.BooleanScalar:
        """A per-customer aggregate (use inside ``group_by("customer_id").aggregate``)."""

    def __and__(self, other: SegmentRule) -> SegmentRule:
        return AllOf((self, other))

    def __or__(self, other: SegmentRule) -> SegmentRule:
        return AnyOf((self, other))

    def __invert__(self) -> SegmentRule:
        return Not(self)


def _parsed(rule: Rule | str) -> Rule:
    return parse_rule(rule) if isinstance(rule, str) else rule


@dataclass(frozen=True)
class HasEvent(SegmentRule):
    """Customers with at least ``at_least`` events matching ``rule``.

    >>> str(HasEvent("event = 'purchase'", at_least=2))
    "at least 2 events where event = 'purchase'"
    """

    rule: Rule | str
    at_least: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule", _parsed(self.rule))
        if self.at_least < 1:
            raise ValueError(f"at_least must be 1 or more, not {self.at_least}")

    def compile(self, events: ir.Table) -> ir.BooleanScalar:
        matches = compile_rule(self.rule, events).cast("int64").sum()
        return matches.fill_null(0) >= self.at_least

    def __str__(self) -> str:
        if self.at_least == 1:
            return f"an event where {self.rule}"
        return f"at least {self.at_least} events where {self.rule}"


@dataclass(frozen=True)
class FirstEvent(SegmentRule):
    """Customers whose first event (in time, then load order) matches ``rule``.

    >>> str(FirstEvent("properties.utm_source = 'instagram'"))
    "first event where properties.utm_source = 'instagram'"
    """

    rule: Rule | str

    def __post_init__(self) -> None:
        object.__setattr__(self, "rule", _parsed(self.rule))

    def compile(self, events: ir.Table) -> ir.BooleanScalar:
        # The rule's value at the smallest idx (min_by on Spark, arg_min on DuckDB).
        matches = compile_rule(self.rule, events).cast("int64")
        return matches.argmin(events["idx"]).fill_null(0) == 1

    def __str__(self) -> str:
        return f"first event where {self.rule}"


@dataclass(frozen=True)
class AllOf(SegmentRule):
    """Customers every one of ``rules`` describes."""

    rules: tuple[SegmentRule, ...]

    def compile(self, events: ir.Table) -> ir.BooleanScalar:
        return functools.reduce(operator.and_, (r.compile(events) for r in self.rules))

    def __str__(self) -> str:
        return " and ".join(f"({r})" for r in self.rules)


@dataclass(frozen=True)
class AnyOf(SegmentRule):
    """Customers at least one of ``rules`` describes."""

    rules: tuple[SegmentRule, ...]

    def compile(self, events: ir.Table) -> ir.BooleanScalar:
        return functools.reduce(operator.or_, (r.compile(events) for r in self.rules))

    def __str__(self) -> str:
        return " or ".join(f"({r})" for r in self.rules)


@dataclass(frozen=True)
class Not(SegmentRule):
    """Customers ``rule`` does not describe."""

    rule: SegmentRule

    def compile(self, events: ir.Table) -> ir.BooleanScalar:
        return ~self.rule.compile(events)

    def __str__(self) -> str:
        return f"not ({self.rule})"


# --- segments --------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A named group of customers: those ``rule`` describes.

    >>> Segment("repeat buyers", HasEvent("event = 'purchase'", at_least=2)).name
    'repeat buyers'
    """

    name: str
    rule: SegmentRule

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("a segment needs a name")

    def customers(self, events: ir.Table) -> ir.Table:
        """The segment's customers: an Ibis table with one column, ``customer_id``."""
        events = with_positions(events)
        flags = events.group_by("customer_id").aggregate(_in=self.rule.compile(events))
        return flags.filter(flags["_in"]).select("customer_id")


def _check_names(segments: Sequence[Segment], remainder: str | None) -> None:
    names = [s.name for s in segments]
    if not names:
        raise ValueError("give at least one segment")
    if len(set(names)) != len(names):
        raise ValueError(f"segment names must differ: {names}")
    if remainder is not None and remainder in names:
        raise ValueError(f"{remainder!r} is a segment's name; choose another remainder")


def segment_labels(
    events: ir.Table,
    segments: Sequence[Segment],
    *,
    remainder: str | None = DEFAULT_REMAINDER,
) -> ir.Table:
    """One row per customer: ``customer_id`` and ``segment``, the first of ``segments`` (in
    the order given) that describes them, else ``remainder`` (customers in no segment are
    left out when ``remainder`` is None). One aggregate over the events.

    >>> import ibis
    >>> events = ibis.table({"customer_id": "string", "event": "string", "idx": "int64"}, name="e")
    >>> segment_labels(events, [Segment("buyers", HasEvent("event = 'purchase'"))]).columns
    ('customer_id', 'segment')
    """
    _check_names(segments, remainder)
    events = with_positions(events)
    flags = events.group_by("customer_id").aggregate(
        **{f"_s{i}": segment.rule.compile(events) for i, segment in enumerate(segments)}
    )
    label = ibis.cases(
        *(
            (flags[f"_s{i}"].fill_null(False), ibis.literal(segment.name, type="string"))
            for i, segment in enumerate(segments)
        ),
        else_=ibis.literal(remainder, type="string")
        if remainder is not None
        else ibis.null("string"),
    )
    labels = flags.select("customer_id", segment=label)
    return labels.filter(labels["segment"].notnull()) if remainder is None else labels


def split_by_segment(
    events: ir.Table,
    segments: Sequence[Segment],
    *,
    column: str = DEFAULT_COLUMN,
    remainder: str | None = DEFAULT_REMAINDER,
) -> ir.Table:
    """``events`` with one more column (``segment`` by default): the customer's segment,
    as :func:`segment_labels` assigns it. Each customer is in exactly one segment (the
    first that matches), so the groups can be compared as independent samples; with
    ``remainder=None`` the events of customers in no segment are dropped.

    Run any analysis per segment by grouping on the column (a funnel's ``breakdown``) or
    by filtering it: ``analyse_stages(split.filter(split.segment == "mobile"), journey)``.

    >>> import ibis
    >>> events = ibis.table({"customer_id": "string", "event": "string", "idx": "int64"}, name="e")
    >>> split_by_segment(events, [Segment("buyers", HasEvent("event = 'purchase'"))]).columns
    ('customer_id', 'event', 'idx', 'segment')
    """
    if column in events.columns:
        raise ValueError(f"the events already have a column {column!r}; choose another name")
    labels = segment_labels(events, segments, remainder=remainder)
    labels = labels.select(_segment_customer=labels["customer_id"], **{column: labels["segment"]})
    joined = events.join(labels, events["customer_id"] == labels["_segment_customer"])
    return joined.drop("_segment_customer")


# --- comparing shares between segments -------------------------------------------------


@dataclass(frozen=True)
class GroupShare:
    """One group's ``successes`` out of ``trials``, with its 95% Wilson interval."""

    label: str
    successes: int
    trials: int

    @property
    def share(self) -> float:
        return self.successes / self.trials

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.trials)


TestName = Literal["two-proportion z", "chi-square"]


@dataclass(frozen=True)
class ProportionTest(AnalysisResult):
    """Whether a share differs between groups: a two-proportion z-test for two groups
    (``statistic`` is z, signed as the second group minus the first), a chi-square test of
    homogeneity (``dof`` = groups - 1) for more. Both are two-sided, without continuity
    correction (for two groups z² equals the chi-square statistic and the p-values agree).
    """

    groups: tuple[GroupShare, ...]
    test: TestName
    statistic: float
    p_value: float
    dof: int
    alpha: float = 0.05

    @property
    def significant(self) -> bool:
        """True when the difference is significant at level ``alpha``."""
        return self.p_value < self.alpha

    @property
    def difference(self) -> float | None:
        """Second group's share minus the first's (two groups only)."""
        if len(self.groups) != 2:
            return None
        return self.groups[1].share - self.groups[0].share

    def to_frame(self) -> pd.DataFrame:
        """One row per group: counts, share and interval."""
        rows = []
        for group in self.groups:
            low, high = group.interval
            rows.append(
                {
                    "group": group.label,
                    "successes": group.successes,
                    "trials": group.trials,
                    "share": group.share,
                    "share_low": low,
                    "share_high": high,
                }
            )
        return pd.DataFrame(
            rows, columns=["group", "successes", "trials", "share", "share_low", "share_high"]
        )

    def to_dict(self) -> dict[str, Any]:
        ready: dict[str, Any] = json_ready(
            {
                "test": self.test,
                "statistic": self.statistic,
                "p_value": self.p_value,
                "dof": self.dof,
                "alpha": self.alpha,
                "significant": self.significant,
                "difference": self.difference,
                "groups": self.to_frame().to_dict("records"),
            }
        )
        return ready

    def chart(self) -> go.Figure:
        """The shares with their 95% intervals; the test in the title."""
        frame = self.to_frame()
        figure = go.Figure(
            go.Bar(
                x=frame["group"],
                y=frame["share"],
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": frame["share_high"] - frame["share"],
                    "arrayminus": frame["share"] - frame["share_low"],
                },
            )
        )
        verdict = "significant" if self.significant else "not significant"
        figure.update_layout(
            title=f"{self.test}: p = {self.p_value:.3g} ({verdict} at {self.alpha:g})",
            yaxis_title="share",
            yaxis_tickformat=".0%",
        )
        return figure


def compare_proportions(
    groups: Mapping[str, tuple[int, int]], *, alpha: float = 0.05
) -> ProportionTest:
    """Test whether ``successes / trials`` differs between groups (``{label: (successes,
    trials)}``, in the order given): a two-proportion z-test for two groups, a chi-square
    test for more. When every group has the same all-or-nothing share (0% or 100%) there is
    no variation to test: the statistic is 0 and the p-value 1.

    >>> test = compare_proportions({"desktop": (120, 1000), "mobile": (90, 1000)})
    >>> test.test, round(test.statistic, 3), round(test.p_value, 4), test.significant
    ('two-proportion z', -2.188, 0.0287, True)
    >>> compare_proportions({"a": (10, 100), "b": (12, 100), "c": (30, 100)}).dof
    2
    """
    if len(groups) < 2:
        raise ValueError("compare at least two groups")
    shares = []
    for label, (successes, trials) in groups.items():
        if trials <= 0 or not 0 <= successes <= trials:
            raise ValueError(
                f"group {label!r}: need 0 <= successes <= trials and trials > 0, "
                f"not {successes} of {trials}"
            )
        shares.append(GroupShare(str(label), int(successes), int(trials)))
    total_successes = sum(g.successes for g in shares)
    total_trials = sum(g.trials for g in shares)
    pooled = total_successes / total_trials
    two = len(shares) == 2
    test: TestName = "two-proportion z" if two else "chi-square"
    dof = len(shares) - 1
    if total_successes in (0, total_trials):
        return ProportionTest(tuple(shares), test, 0.0, 1.0, dof, alpha)
    if two:
        first, second = shares
        error = math.sqrt(pooled * (1 - pooled) * (1 / first.trials + 1 / second.trials))
        z = (second.share - first.share) / error
        p_value = float(2 * stats.norm.sf(abs(z)))
        return ProportionTest(tuple(shares), test, float(z), p_value, dof, alpha)
    table = [[g.successes for g in shares], [g.trials - g.successes for g in shares]]
    chi2, p_value, dof_found, _ = stats.chi2_contingency(table, correction=False)
    return ProportionTest(tuple(shares), test, float(chi2), float(p_value), int(dof_found), alpha)


def compare_segments(
    events: ir.Table,
    segments: Sequence[Segment],
    outcome: SegmentRule,
    *,
    remainder: str | None = None,
    alpha: float = 0.05,
) -> ProportionTest:
    """Compare the share of customers ``outcome`` describes between segments: does it
    differ more than chance would explain? One query: the segment and the outcome per
    customer, counted per segment. Segments with no customers are left out.

    >>> from jornada.engine import Engine
    >>> engine = Engine.duckdb()
    >>> _ = engine.sql("create table events as select 'c' || i as customer_id, "
    ...     "timestamp '2026-01-01' as ts, 0 as idx, "
    ...     "case when i % 2 = 0 then 'app' else 'web' end as channel, "
    ...     "case when i % 3 = 0 then 'purchase' else 'view' end as event from range(60) r(i)")
    >>> test = compare_segments(engine.table("events"),
    ...     [Segment("app", FirstEvent("channel = 'app'")), Segment("web", FirstEvent("channel = 'web'"))],
    ...     HasEvent("event = 'purchase'"))
    >>> [(g.label, g.successes, g.trials) for g in test.groups], test.significant
    ([('app', 10, 30), ('web', 10, 30)], False)
    """
    labels = segment_labels(events, segments, remainder=remainder)
    positioned = with_positions(events)
    outcomes = positioned.group_by("customer_id").aggregate(_yes=outcome.compile(positioned))
    outcomes = outcomes.rename(_o_customer="customer_id")
    joined = labels.join(outcomes, labels["customer_id"] == outcomes["_o_customer"])
    counts = joined.group_by("segment").aggregate(
        successes=joined["_yes"].fill_null(False).cast("int64").sum(), trials=joined.count()
    )
    found = {row["segment"]: row for row in counts.to_pyarrow().to_pylist()}
    order = [s.name for s in segments] + ([remainder] if remainder is not None else [])
    groups = {
        name: (int(found[name]["successes"]), int(found[name]["trials"]))
        for name in order
        if name in found
    }
    return compare_proportions(groups, alpha=alpha)
