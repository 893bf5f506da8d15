"""Results of expensive analyses kept in memory, keyed by the data they were computed on.

A key is ``(analysis, normalised parameters, data version)``: the workspace's
``data_version`` changes with every load, so a load makes every older entry unreachable
(and :meth:`ResultCache.forget_older` drops them at once). The cache is bounded (least
recently used entries go first) and thread-safe; when many requests miss the same key
together, one computes and the others wait for its answer (no stampede on a cold
dashboard).

>>> cache = ResultCache(max_entries=2)
>>> key = cache_key("funnel", {"steps": ["a", "b"], "window": None}, version=3)
>>> cache.get_or_compute(key, lambda: 42), cache.get_or_compute(key, lambda: 0)
((42, False), (42, True))
>>> cache.stats()["hits"], cache.stats()["misses"]
(1, 1)

The engine lock
---------------
The workspace's engine is one DuckDB connection: two threads using it at once would
share its transaction (an analysis could read a load's half-written tables). The web
app therefore runs every engine query through :func:`engine_lock` of the workspace;
a load holds it from start to end.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from jornada.workspace import Workspace

__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "CacheKey",
    "ResultCache",
    "app_cache",
    "cache_key",
    "engine_lock",
    "forget_older_everywhere",
    "normalise_params",
]

DEFAULT_MAX_ENTRIES = 256
"""Entries kept (results of one dashboard are a few; 256 is many users' worth)."""

T = TypeVar("T")


@dataclass(frozen=True)
class CacheKey:
    """What a cached result depends on."""

    analysis: str
    params: str  # the parameters as canonical JSON (see normalise_params)
    version: int


def normalise_params(params: Mapping[str, Any]) -> str:
    """Parameters as canonical JSON: keys sorted, ``None`` and empty lists dropped, so
    equal requests written differently share one entry.

    >>> normalise_params({"b": 1, "a": None, "c": [], "d": ["x"]})
    '{"b":1,"d":["x"]}'
    >>> normalise_params({"d": ["x"], "b": 1}) == normalise_params({"b": 1, "d": ["x"]})
    True
    """
    kept = {key: value for key, value in params.items() if value is not None and value != []}
    return json.dumps(kept, sort_keys=True, separators=(",", ":"), default=str)


def cache_key(analysis: str, params: Mapping[str, Any], *, version: int) -> CacheKey:
    """The key of ``analysis`` run with ``params`` on data version ``version``."""
    return CacheKey(analysis, normalise_params(params), version)


@dataclass
class _Pending:
    """A computation in progress that other requests for the same key wait for."""

    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None
    error: BaseException | None = None


class ResultCache(Generic[T]):
    """A bounded, thread-safe LRU map of :class:`CacheKey` (or any hashable) to results."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, T] = OrderedDict()
        self._pending: dict[Hashable, _Pending] = {}
        self._lock = threading.Lock()
        self._hits = 0
        self._misses = 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, key: Hashable) -> T | None:
        """The cached value, or ``None`` (counts as a hit or a miss)."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self._hits += 1
                return self._entries[key]
            self._misses += 1
            return None

    def put(self, key: Hashable, value: T) -> None:
        with self._lock:
            self._store(key, value)

    def _store(self, key: Hashable, value: T) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> tuple[T, bool]:
        """``(value, hit)``: the cached value, or ``compute()``'s, stored. Concurrent
        callers of one missing key wait for a single computation; an error is raised to
        all of them and nothing is stored."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self._hits += 1
                return self._entries[key], True
            self._misses += 1
            pending = self._pending.get(key)
            owner = pending is None
            if pending is None:
                pending = self._pending[key] = _Pending()
        if not owner:
            pending.done.wait()
            if pending.error is not None:
                raise pending.error
            return pending.value, True
        try:
            value = compute()
        except BaseException as error:
            pending.error = error
            raise
        else:
            pending.value = value
            with self._lock:
                self._store(key, value)
            return value, False
        finally:
            with self._lock:
                self._pending.pop(key, None)
            pending.done.set()

    def forget_older(self, version: int) -> int:
        """Drop the entries of data versions before ``version`` (after a load); returns
        how many were dropped.

        >>> cache = ResultCache[int]()
        >>> cache.put(CacheKey("a", "{}", 1), 1); cache.put(CacheKey("a", "{}", 2), 2)
        >>> cache.forget_older(2), len(cache)
        (1, 1)
        """
        with self._lock:
            stale = [
                key for key in self._entries if isinstance(key, CacheKey) and key.version < version
            ]
            for key in stale:
                del self._entries[key]
            return len(stale)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def stats(self) -> dict[str, int]:
        """Entries, hits and misses so far (for tests and the load benchmark)."""
        with self._lock:
            return {"entries": len(self._entries), "hits": self._hits, "misses": self._misses}


def engine_lock(workspace: Workspace) -> threading.RLock:
    """The lock every web request holds while it uses ``workspace``'s engine (see the
    module's docstring): the workspace's own, re-entrant (a load may run analyses'
    helpers inside it).

    >>> import tempfile, pathlib
    >>> ws = Workspace.init(pathlib.Path(tempfile.mkdtemp()) / "w")
    >>> engine_lock(ws) is engine_lock(ws) is ws.lock
    True
    """
    return workspace.lock


_APP_CACHES = threading.Lock()


def app_cache(state: Any, name: str, max_entries: int = DEFAULT_MAX_ENTRIES) -> ResultCache[Any]:
    """The :class:`ResultCache` kept on an app's ``state`` as ``name``, made on first use
    (the dashboards' results, the living maps, ...)."""
    with _APP_CACHES:
        cache = getattr(state, name, None)
        if cache is None:
            cache = ResultCache[Any](max_entries)
            setattr(state, name, cache)
            names = getattr(state, _CACHE_NAMES, None)
            if names is None:
                names = set()
                setattr(state, _CACHE_NAMES, names)
            names.add(name)
        return cast(ResultCache[Any], cache)


_CACHE_NAMES = "result_cache_names"
"""The attribute of an app's state listing the names of its caches (made by app_cache)."""


def forget_older_everywhere(state: Any, version: int) -> int:
    """Drop the entries of data versions before ``version`` from every cache of an app's
    ``state`` (after a load: each route's cache, not only the one the load route knows);
    returns how many were dropped.

    >>> from types import SimpleNamespace
    >>> state = SimpleNamespace()
    >>> app_cache(state, "a").put(CacheKey("x", "{}", 1), 1)
    >>> app_cache(state, "b").put(CacheKey("y", "{}", 1), 2)
    >>> forget_older_everywhere(state, 2), len(app_cache(state, "a")), len(app_cache(state, "b"))
    (2, 0, 0)
    """
    with _APP_CACHES:
        names = sorted(getattr(state, _CACHE_NAMES, set()))
    return sum(app_cache(state, name).forget_older(version) for name in names)
