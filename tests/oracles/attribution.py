"""Brute-force references of :mod:`jornada.analytics.attribution`, in plain Python.

* :func:`conversion_paths`: each customer's events in order (time, then input order),
  walked one by one: touches pile up until a conversion takes those within the
  lookback; what is left after the last conversion is the non-converting path.
* Heuristic models straight from their definitions, path by path, touch by touch.
* :func:`markov_exact`: absorption probabilities of the chain by value iteration
  (``x <- r + Q x`` until it stops moving), not by a linear solve, over dicts.
* :func:`markov_simulated`: random walks on the chain (seeded), counting the
  conversions of the walks that visit each channel.
* :func:`shapley`: the Shapley value by its definition: every order of the channels,
  every marginal contribution of the coalition game.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from tests.oracles import Event, group_paths

Path = tuple[str, ...]
START, CONVERSION, NULL = ("<start>",), ("<conversion>",), ("<null>",)


@dataclass
class Conversion:
    """A converting path: its touches (label, time), the conversion's time and value."""

    touches: list[tuple[str, dt.datetime]]
    at: dt.datetime
    value: float


@dataclass
class Paths:
    converting: list[Conversion] = field(default_factory=list)
    non_converting: list[Path] = field(default_factory=list)
    without_touches: int = 0
    without_touches_value: float = 0.0

    def table(self) -> dict[Path, list[float]]:
        """path -> [conversions, nulls, value]."""
        rows: dict[Path, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
        for conversion in self.converting:
            row = rows[tuple(label for label, _ in conversion.touches)]
            row[0] += 1
            row[2] += conversion.value
        for path in self.non_converting:
            rows[path][1] += 1
        return dict(rows)


def conversion_paths(
    events: Iterable[Event],
    is_conversion: Callable[[Event], bool],
    *,
    label: str = "channel",
    lookback_seconds: float | None = None,
    only: Callable[[Event], bool] | None = None,
) -> Paths:
    found = Paths()
    window = None if lookback_seconds is None else dt.timedelta(seconds=lookback_seconds)
    for path in group_paths(events).values():
        pending: list[tuple[str, dt.datetime]] = []
        for event in path:
            if is_conversion(event):
                touches = [t for t in pending if window is None or event["ts"] - t[1] <= window]
                value = float(event.get("value") or 0.0)
                if touches:
                    found.converting.append(Conversion(touches, event["ts"], value))
                else:
                    found.without_touches += 1
                    found.without_touches_value += value
                pending = []
            elif event.get(label) is not None and (only is None or only(event)):
                pending.append((str(event[label]), event["ts"]))
        if pending:
            end = pending[-1][1]
            found.non_converting.append(
                tuple(name for name, at in pending if window is None or end - at <= window)
            )
    return found


# --- heuristic models -----------------------------------------------------------------------


def heuristic(
    paths: Paths,
    model: str,
    *,
    weights: tuple[float, float, float] = (0.4, 0.2, 0.4),
    half_life_seconds: float = 7 * 86400.0,
    value: bool = False,
) -> dict[str, float]:
    """Conversions (or value) per channel under a heuristic model."""
    got: dict[str, float] = defaultdict(float)
    for conversion in paths.converting:
        worth = conversion.value if value else 1.0
        names = [name for name, _ in conversion.touches]
        for name, share in zip(
            names, _shares(conversion, model, weights, half_life_seconds), strict=True
        ):
            got[name] += worth * share
    return dict(got)


def heuristic_on_table(
    table: dict[Path, list[float]],
    model: str,
    weights: tuple[float, float, float] = (0.4, 0.2, 0.4),
) -> dict[str, float]:
    """The same on a path table (no touch times: every model but time decay)."""
    got: dict[str, float] = defaultdict(float)
    for path, (conversions, _, _) in table.items():
        fake = Conversion(
            [(name, dt.datetime(2026, 1, 1)) for name in path], dt.datetime(2026, 1, 1), 0
        )
        for name, share in zip(path, _shares(fake, model, weights, 1.0), strict=True):
            got[name] += conversions * share
    return dict(got)


def _shares(
    conversion: Conversion, model: str, weights: tuple[float, float, float], half_life: float
) -> list[float]:
    n = len(conversion.touches)
    if model == "first_touch":
        return [1.0 if i == 0 else 0.0 for i in range(n)]
    if model == "last_touch":
        return [1.0 if i == n - 1 else 0.0 for i in range(n)]
    if model == "linear":
        return [1.0 / n] * n
    if model == "position_based":
        first, middle, last = weights
        if n == 1:
            return [1.0]
        if n == 2:
            head = first / (first + last) if first + last else 0.5
            return [head, 1 - head]
        return [first, *([middle / (n - 2)] * (n - 2)), last]
    if model == "time_decay":
        ages = [(conversion.at - at).total_seconds() for _, at in conversion.touches]
        raw = [2 ** (-(age - min(ages)) / half_life) for age in ages]
        return [w / sum(raw) for w in raw]
    raise ValueError(model)


# --- Markov chain ---------------------------------------------------------------------------------


def _states(path: Path, order: int, keep_repeats: bool) -> list[tuple[str, ...]]:
    touches = list(path)
    if not keep_repeats:
        touches = [name for i, name in enumerate(touches) if i == 0 or touches[i - 1] != name]
    return [tuple(touches[max(0, i + 1 - order) : i + 1]) for i in range(len(touches))]


def chain(
    table: dict[Path, list[float]], order: int = 1, keep_repeats: bool = False
) -> dict[tuple[str, ...], dict[tuple[str, ...], float]]:
    """Transition probabilities state -> next state (START, CONVERSION and NULL included)."""
    counts: dict[tuple[str, ...], Counter[tuple[str, ...]]] = defaultdict(Counter)
    for path, (conversions, nulls, _) in table.items():
        states = [START, *_states(path, order, keep_repeats)]
        for before, after in itertools.pairwise(states):
            counts[before][after] += conversions + nulls
        counts[states[-1]][CONVERSION] += conversions
        counts[states[-1]][NULL] += nulls
    probabilities = {}
    for state, following in counts.items():
        total = sum(following.values())
        if total > 0:
            probabilities[state] = {s: n / total for s, n in following.items() if n > 0}
    return probabilities


def markov_exact(
    table: dict[Path, list[float]], order: int = 1, keep_repeats: bool = False
) -> tuple[float, dict[str, float]]:
    """The conversion probability and each channel's removal effect, by value iteration."""
    moves = chain(table, order, keep_repeats)
    channels = sorted({name for path in table for name in path})
    everything = _absorption(moves, removed=None)
    effects = {}
    for name in channels:
        without = _absorption(moves, removed=name)
        effects[name] = (everything - without) / everything if everything > 0 else 0.0
    return everything, effects


def _absorption(
    moves: dict[tuple[str, ...], dict[tuple[str, ...], float]], removed: str | None
) -> float:
    x = dict.fromkeys(moves, 0.0)
    for _ in range(1_000_000):
        change = 0.0
        for state, following in moves.items():
            if removed is not None and removed in state:
                continue  # a removed channel's states lead to null
            new = 0.0
            for target, p in following.items():
                if target == CONVERSION:
                    new += p
                elif target != NULL and not (removed is not None and removed in target):
                    new += p * x[target]
            change = max(change, abs(new - x[state]))
            x[state] = new
        if change < 1e-15:
            break
    return x.get(START, 0.0)


def markov_simulated(
    table: dict[Path, list[float]], *, walks: int, seed: int, order: int = 1
) -> tuple[float, dict[str, float]]:
    """Random walks from START: the conversion rate, and per channel the share of the
    conversions whose walk visited it (= its removal effect)."""
    moves = chain(table, order)
    rng = random.Random(seed)
    table_of = {s: (list(f), list(itertools.accumulate(f.values()))) for s, f in moves.items()}
    converted = 0
    visited_by: Counter[str] = Counter()
    for _ in range(walks):
        state, seen = START, set()
        while state not in (CONVERSION, NULL):
            targets, cumulative = table_of[state]
            state = targets[
                min(_bisect(cumulative, rng.random() * cumulative[-1]), len(targets) - 1)
            ]
            if state not in (CONVERSION, NULL):
                seen.update(state)
        if state == CONVERSION:
            converted += 1
            visited_by.update(seen)
    channels = sorted({name for path in table for name in path})
    return converted / walks, {c: visited_by[c] / converted if converted else 0.0 for c in channels}


def _bisect(cumulative: Sequence[float], x: float) -> int:
    for index, bound in enumerate(cumulative):
        if x < bound:
            return index
    return len(cumulative) - 1


def normalised(effects: dict[str, float], total: float) -> dict[str, float]:
    weight = sum(effects.values())
    return {k: (v / weight * total if weight else 0.0) for k, v in effects.items()}


# --- Shapley values ---------------------------------------------------------------------------


def shapley(table: dict[Path, list[float]], *, value: bool = False) -> dict[str, float]:
    """Average marginal contribution over every order of the channels, of the game
    v(S) = conversions (or value) of the paths whose channels all lie in S."""
    channels = sorted({name for path in table for name in path})

    def worth(coalition: frozenset[str]) -> float:
        return sum(
            row[2] if value else row[0] for path, row in table.items() if set(path) <= coalition
        )

    got = dict.fromkeys(channels, 0.0)
    orders = list(itertools.permutations(channels))
    for ordering in orders:
        coalition: frozenset[str] = frozenset()
        for name in ordering:
            joined = coalition | {name}
            got[name] += worth(joined) - worth(coalition)
            coalition = joined
    return {k: v / len(orders) for k, v in got.items()} if orders else got


def close(a: float, b: float, tolerance: float = 1e-9) -> bool:
    return math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)
