"""Attribution models on a path table: numpy and scipy on the small aggregated table.

Every function takes the path weights (``conversions``, ``nulls``, ``value`` per
distinct path) as arguments rather than from the table, so the bootstrap can call them
again with resampled weights. No loop runs over paths or touches in Python: flat touch
arrays, ``bincount`` and sparse matrices do the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import scipy.sparse.linalg

from jornada.analytics._attribution_paths import AttributionError, PathTable

__all__ = [
    "HEURISTICS",
    "MODELS",
    "MarkovChain",
    "MarkovFit",
    "Repeats",
    "credit_matrix",
    "heuristic",
    "markov_chain",
    "markov_fit",
    "shapley_shares",
    "touch_shares",
]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

HEURISTICS: Final = ("first_touch", "last_touch", "linear", "position_based", "time_decay")
MODELS: Final = (*HEURISTICS, "markov", "shapley")

Repeats = Literal["drop", "keep"]


# --- heuristic models ----------------------------------------------------------------------


def touch_shares(
    table: PathTable, model: str, position_weights: tuple[float, float, float] = (0.4, 0.2, 0.4)
) -> Floats:
    """The share of one conversion each flat touch of the table gets under ``model``
    (the shares of a path sum to 1).

    Position-based: the first touch gets ``first``, the last ``last`` and the touches
    between share ``middle`` equally; a one-touch path gives its touch everything, a
    two-touch path splits in the ratio ``first : last`` (50/50 with 40/20/40). Time
    decay: the mean credit of the touch over the path's conversions.

    >>> from jornada.analytics._attribution_paths import build_path_table
    >>> table = build_path_table([("a", "b", "c", "d")], [1], [0])
    >>> touch_shares(table, "position_based").tolist()
    [0.4, 0.1, 0.1, 0.4]
    """
    length = table.lengths[table.parent].astype(np.float64)
    position = table.position
    first: Floats = (position == 0).astype(np.float64)
    last: Floats = (position == table.lengths[table.parent] - 1).astype(np.float64)
    if model == "first_touch":
        return first
    if model == "last_touch":
        return last
    if model == "linear":
        return np.asarray(1.0 / length, dtype=np.float64)
    if model == "position_based":
        at_first, at_last, inner = _position_shares(table.lengths, position_weights)
        parent = table.parent
        return np.where(
            first == 1, at_first[parent], np.where(last == 1, at_last[parent], inner[parent])
        )
    if model == "time_decay":
        if table.decay is None:
            raise AttributionError(
                "time decay needs the time of each touch, which a path table has not: "
                "compute attribution from events, or leave time_decay out"
            )
        per_conversion = table.conversions[table.parent]
        return np.divide(
            table.decay,
            per_conversion,
            out=np.zeros(len(table.codes), dtype=np.float64),
            where=per_conversion > 0,
        )
    raise AttributionError(f"unknown model {model!r}: choose from {', '.join(MODELS)}")


def heuristic(
    table: PathTable,
    model: str,
    conversions: Floats,
    value: Floats | None,
    *,
    position_weights: tuple[float, float, float] = (0.4, 0.2, 0.4),
) -> tuple[Floats, Floats | None]:
    """Conversions (and value) each channel gets under a heuristic model."""
    n = len(table.channels)
    if model == "time_decay" and table.decay is not None and conversions is table.conversions:
        # The table's own weights: exact per-conversion credits, not their path means.
        got = _sums(table.codes, table.decay, n)
        worth = None
        if value is not None and table.decay_value is not None:
            worth = _sums(table.codes, table.decay_value, n)
        return got, worth
    if model == "time_decay":  # resampled weights: the mean credits of each path
        shares = touch_shares(table, model, position_weights)
        got = _sums(table.codes, shares * conversions[table.parent], n)
        worth = None if value is None else _sums(table.codes, shares * value[table.parent], n)
        return got, worth
    got = _credited(table, model, conversions, position_weights)
    worth = None if value is None else _credited(table, model, value, position_weights)
    return got, worth


def _credited(
    table: PathTable,
    model: str,
    weights: Floats,
    position_weights: tuple[float, float, float],
) -> Floats:
    """What each channel gets under first touch, last touch, linear or position-based
    when path ``i`` weighs ``weights[i]``: each touch's share (as :func:`touch_shares`
    gives it) times its path's weight, summed per channel in the same order, so the very
    same numbers; but the shares are worked out per path, and only the touches that can
    get something are summed (the path ends, for first and last touch).
    """
    n = len(table.channels)
    first = table.offsets[:-1]
    last = table.offsets[1:] - 1
    if model == "first_touch":
        return _sums(table.codes[first], weights, n)
    if model == "last_touch":
        return _sums(table.codes[last], weights, n)
    length = table.lengths.astype(np.float64)
    if model == "linear":
        return _sums(table.codes, (1.0 / length * weights)[table.parent], n)
    if model != "position_based":
        raise AttributionError(f"unknown model {model!r}: choose from {', '.join(MODELS)}")
    at_first, at_last, inner = _position_shares(table.lengths, position_weights)
    spread = (inner * weights)[table.parent]
    spread[last] = at_last * weights
    spread[first] = at_first * weights  # after the last: a one-touch path's touch is first
    return _sums(table.codes, spread, n)


def _position_shares(
    lengths: Ints, position_weights: tuple[float, float, float]
) -> tuple[Floats, Floats, Floats]:
    """Per path of ``lengths`` touches, the position-based share of its first touch, of
    its last and of each touch between: a one-touch path gives its touch everything, a
    two-touch path splits in the ratio ``first : last``.

    >>> [s.tolist() for s in _position_shares(np.array([1, 2, 4]), (0.4, 0.2, 0.4))]
    [[1.0, 0.5, 0.4], [0.0, 0.5, 0.4], [0.0, 0.0, 0.1]]
    """
    head, middle, tail = position_weights
    ends = head + tail
    pair_head = head / ends if ends > 0 else 0.5
    length = lengths.astype(np.float64)
    inner = np.where(length > 2, middle / np.maximum(length - 2, 1), 0.0)
    at_first = np.where(length == 1, 1.0, np.where(length == 2, pair_head, head))
    at_last = np.where(length == 1, 0.0, np.where(length == 2, 1 - pair_head, tail))
    return at_first, at_last, inner


def _sums(codes: Ints, weights: Floats, n: int) -> Floats:
    """The weights summed per code (0..n-1)."""
    return np.asarray(np.bincount(codes, weights=weights, minlength=n), dtype=np.float64)


def credit_matrix(table: PathTable, shares: Floats) -> sp.csr_matrix:
    """Paths x channels: the share of one conversion of the path each channel gets
    (resampled conversion counts times this matrix give a model's attribution)."""
    matrix = sp.coo_matrix(
        (shares, (table.parent, table.codes)), shape=(table.size, len(table.channels))
    )
    return matrix.tocsr()


# --- Markov chain ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class MarkovChain:
    """The states and transitions a path table defines, with weights left open.

    States are the last ``order`` touches (fewer at the start of a path); state
    ``start`` (the last index) is the journey's start. Each transition between transient
    states belongs to one path (``edge_path``): its count is that path's weight
    (``conversions + nulls``); each path leaves its last state (``exit_state``) to
    conversion ``conversions`` times and to null ``nulls`` times.
    """

    size: int  # transient states, START included
    start: int
    edge_from: Ints
    edge_to: Ints
    edge_path: Ints
    exit_state: Ints
    removed: tuple[Ints, ...]  # per channel: the states containing it


def markov_chain(table: PathTable, order: int = 1, repeats: Repeats = "drop") -> MarkovChain:
    """The chain of ``order`` (1-4) of the table's paths. ``repeats="drop"`` first merges
    consecutive touches of one channel (``a > a > b`` is ``a > b``), so no state moves
    to itself at order 1 and no state has one channel twice in a row at higher orders.

    >>> from jornada.analytics._attribution_paths import build_path_table
    >>> chain = markov_chain(build_path_table([("a", "a", "b")], [1], [0]), order=2)
    >>> chain.size, [r.tolist() for r in chain.removed]
    (3, [[0, 1], [1]])
    """
    if not 1 <= order <= 4:
        raise AttributionError(f"the Markov order must be 1 to 4, not {order}")
    n = len(table.channels)
    codes, parent = table.codes, table.parent
    if repeats == "drop":
        same = np.zeros(len(codes), dtype=bool)
        same[1:] = (codes[1:] == codes[:-1]) & (parent[1:] == parent[:-1])
        codes, parent = codes[~same], parent[~same]
    starts = np.ones(len(codes), dtype=bool)
    starts[1:] = parent[1:] != parent[:-1]
    index = np.arange(len(codes), dtype=np.int64)
    position = index - np.maximum.accumulate(np.where(starts, index, 0))
    base = n + 1
    if base**order >= 2**62:
        raise AttributionError(f"{n} channels are too many for a Markov chain of order {order}")
    # A state is the last `order` codes (+1; 0 pads the shorter states at a path's start).
    key = np.zeros(len(codes), dtype=np.int64)
    for back in range(order):
        earlier = np.zeros(len(codes), dtype=np.int64)
        earlier[back:] = codes[: len(codes) - back] + 1
        key += np.where(position >= back, earlier, 0) * base**back
    unique, state = np.unique(key, return_inverse=True)
    state = state.astype(np.int64).reshape(-1)
    start = len(unique)
    is_last = np.ones(len(codes), dtype=bool)
    is_last[:-1] = starts[1:]
    edge_from = np.where(starts, start, np.roll(state, 1))
    exit_state = np.full(table.size, start, dtype=np.int64)
    exit_state[parent[is_last]] = state[is_last]
    digits = [(unique // base**back) % base for back in range(order)]
    removed = tuple(
        np.flatnonzero(np.any([d == c + 1 for d in digits], axis=0)).astype(np.int64)
        for c in range(n)
    )
    return MarkovChain(
        size=start + 1,
        start=start,
        edge_from=edge_from.astype(np.int64),
        edge_to=state,
        edge_path=parent.astype(np.int64),
        exit_state=exit_state,
        removed=removed,
    )


@dataclass(frozen=True)
class MarkovFit:
    """Conversion probability from the start and each channel's removal effect (the
    share of that probability lost when the channel's states lead to null), for
    conversions and, with value, for the expected value."""

    probability: float
    removal_effects: Floats
    value_per_journey: float | None = None
    value_removal_effects: Floats | None = None

    def attributed(self, total: float) -> Floats:
        return _normalised(self.removal_effects, total)

    def attributed_value(self, total: float) -> Floats | None:
        if self.value_removal_effects is None:
            return None
        return _normalised(self.value_removal_effects, total)


def _normalised(effects: Floats, total: float) -> Floats:
    weight = float(effects.sum())
    return effects * (total / weight) if weight > 0 else np.zeros_like(effects)


def markov_fit(
    chain: MarkovChain, conversions: Floats, nulls: Floats, value: Floats | None = None
) -> MarkovFit:
    """Removal effects computed exactly: absorption probabilities of the absorbing
    chain by linear solves, ``(I - Q) x = r``, once with every state and once per
    channel without its states.

    The expected value uses the same chain with each conversion exit worth the mean
    value of the conversions leaving that state.
    """
    weights = conversions + nulls
    counts = sp.coo_matrix(
        (weights[chain.edge_path], (chain.edge_from, chain.edge_to)),
        shape=(chain.size, chain.size),
    ).tocsr()
    to_conversion = np.bincount(chain.exit_state, weights=conversions, minlength=chain.size)
    to_null = np.bincount(chain.exit_state, weights=nulls, minlength=chain.size)
    leaving = np.asarray(counts.sum(axis=1)).reshape(-1) + to_conversion + to_null
    scale = np.divide(1.0, leaving, out=np.zeros(chain.size), where=leaving > 0)
    moves = sp.diags(scale) @ counts
    system = (sp.identity(chain.size, format="csr") - moves).tocsr()
    targets = [to_conversion * scale]
    if value is not None:
        targets.append(np.bincount(chain.exit_state, weights=value, minlength=chain.size) * scale)
    rhs = np.column_stack(targets)
    everything = np.arange(chain.size, dtype=np.int64)
    full = _solve(system, rhs, everything, chain.start)
    effects = np.zeros((len(chain.removed), rhs.shape[1]))
    for channel, states in enumerate(chain.removed):
        kept = np.setdiff1d(everything, states, assume_unique=True)
        without = _solve(system, rhs, kept, chain.start)
        effects[channel] = np.divide(full - without, full, out=np.zeros_like(full), where=full > 0)
    return MarkovFit(
        probability=float(full[0]),
        removal_effects=np.clip(effects[:, 0], 0.0, None),
        value_per_journey=None if value is None else float(full[1]),
        value_removal_effects=None if value is None else np.clip(effects[:, 1], 0.0, None),
    )


def _solve(system: sp.csr_matrix, rhs: Floats, kept: Ints, start: int) -> Floats:
    """The absorption probabilities from the start over the ``kept`` states (the others
    lead to null): row ``start`` of the solution of the system restricted to them."""
    reduced = system[kept][:, kept]
    where = int(np.searchsorted(kept, start))
    # A sparse LU even for a few states: the chain's rows are sparse, and a dense
    # solve would wake the BLAS threads for nothing.
    solution = scipy.sparse.linalg.spsolve(reduced.tocsc(), rhs[kept])
    rows: Floats = np.asarray(solution, dtype=np.float64).reshape(len(kept), -1)
    found: Floats = rows[where]
    return found


# --- Shapley values ----------------------------------------------------------------------------


DENSE_PRESENCE_LIMIT: Final = 50_000_000
"""Largest paths x channels table marked densely (a byte each) to find each path's
distinct channels; beyond it, a sort of the (path, channel) pairs does (slower)."""


def shapley_shares(table: PathTable, *, dense_limit: int = DENSE_PRESENCE_LIMIT) -> sp.csr_matrix:
    """Paths x channels: the Shapley share of one conversion of each path, ``1 / k`` for
    each of its ``k`` distinct channels.

    The game: the worth of a set ``S`` of channels is the conversions of the paths whose
    channels all lie in ``S`` (the paths that would still convert if only ``S``
    existed; Zhao, Mahboobi and Bagheri, 2018). That worth is the sum, over the channel
    sets ``T`` within ``S``, of the conversions of the paths with exactly the channels
    ``T``: each such path is a unanimity game of its channels, whose Shapley value
    splits it equally among them. So the values are exact for any number of channels,
    with no enumeration of coalitions (``tests/oracles/attribution.py`` enumerates them).

    >>> from jornada.analytics._attribution_paths import build_path_table
    >>> table = build_path_table([("a", "b", "a")], [1], [0])
    >>> shapley_shares(table).toarray().tolist()
    [[0.5, 0.5]]
    """
    n = max(len(table.channels), 1)
    if table.size * n <= dense_limit:
        # Marking each (path, channel) seen is one scatter; finding the distinct pairs by
        # sorting them was most of the time at 10M events.
        presence = np.zeros((table.size, n), dtype=bool)
        presence[table.parent, table.codes] = True
        path, channel = np.nonzero(presence)
    else:
        pairs = np.unique(table.parent * n + table.codes)
        path, channel = pairs // n, pairs % n
    distinct = np.bincount(path, minlength=table.size).astype(np.float64)
    matrix = sp.coo_matrix(
        (1.0 / distinct[path], (path, channel)), shape=(table.size, len(table.channels))
    )
    return matrix.tocsr()
