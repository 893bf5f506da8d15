"""The result cache: bounded LRU, one computation per missing key, versions dropped."""

from __future__ import annotations

import threading
import time

import pytest

from jornada.web.cache import CacheKey, ResultCache, cache_key, engine_lock
from jornada.workspace import Workspace


def test_least_recently_used_goes_first() -> None:
    cache = ResultCache[str](max_entries=2)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"  # a is now the most recent
    cache.put("c", "C")
    assert cache.get("b") is None
    assert cache.get("a") == "A"
    assert cache.get("c") == "C"
    assert cache.stats() == {"entries": 2, "hits": 3, "misses": 1}


def test_keys_ignore_how_parameters_are_written() -> None:
    one = cache_key("funnel", {"steps": ["a"], "window": None, "exclude": []}, version=1)
    two = cache_key("funnel", {"exclude": [], "steps": ["a"]}, version=1)
    assert one == two
    assert one != cache_key("funnel", {"steps": ["a"]}, version=2)
    assert one != cache_key("funnel", {"steps": ["b"]}, version=1)
    assert one != cache_key("sankey", {"steps": ["a"]}, version=1)


def test_concurrent_misses_compute_once() -> None:
    cache = ResultCache[int]()
    calls: list[int] = []
    start = threading.Barrier(8)
    results: list[tuple[int, bool]] = []
    lock = threading.Lock()

    def compute() -> int:
        calls.append(1)
        time.sleep(0.2)
        return 42

    def ask() -> None:
        start.wait()
        answer = cache.get_or_compute("k", compute)
        with lock:
            results.append(answer)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(calls) == 1
    assert sorted(results) == [(42, False)] + [(42, True)] * 7


def test_errors_reach_every_waiter_and_are_not_cached() -> None:
    cache = ResultCache[int]()
    start = threading.Barrier(3)
    errors: list[str] = []

    def failing() -> int:
        time.sleep(0.1)
        raise ValueError("bad steps")

    def ask() -> None:
        start.wait()
        try:
            cache.get_or_compute("k", failing)
        except ValueError as error:
            errors.append(str(error))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == ["bad steps"] * 3
    assert len(cache) == 0
    assert cache.get_or_compute("k", lambda: 7) == (7, False)


def test_forget_older_versions() -> None:
    cache = ResultCache[int]()
    for version in (1, 2, 3):
        cache.put(CacheKey("funnel", "{}", version), version)
    assert cache.forget_older(3) == 2
    assert cache.get(CacheKey("funnel", "{}", 3)) == 3
    assert cache.get(CacheKey("funnel", "{}", 2)) is None


def test_bounds() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ResultCache[int](max_entries=0)


def test_engine_lock_is_one_per_workspace(workspace: Workspace) -> None:
    other = Workspace.open(workspace.root)
    assert engine_lock(workspace) is engine_lock(workspace)
    assert engine_lock(workspace) is not engine_lock(other)
