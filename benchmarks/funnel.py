"""Time a 4-step, 30-day funnel on the seeded demo events (10M by default) and report it.

    python benchmarks/generate.py --events 10M          # writes benchmarks/data/events.parquet
    python benchmarks/funnel.py                          # builds the store once, then times
    python benchmarks/funnel.py --mode strict --repeat 5
    python benchmarks/funnel.py --workspace my-ws --steps view,cart,purchase
    python benchmarks/funnel.py --store /tmp/me/funnel-store.duckdb --memory-limit 2GB

The events store is built once from ``events.parquet`` into ``--store`` with the
product's own fact computation (``materialise_events``: positions, next event,
sessions); identity resolution is skipped (the generated ``customer_key`` is the
customer), because the funnel, not loading, is measured; a store built before a per-event
fact existed is brought up to date first. ``--workspace`` times an existing workspace
instead. Prints the seconds of each run (the first includes Ibis's
compilation warm-up) and their CPU time (all threads: on a busy machine a steadier
figure than the wall clock), the best, and the peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

from jornada.analytics.funnel import funnel
from jornada.engine import Engine
from jornada.engine.store import (
    ensure_store,
    materialise_events,
    rebuild_derived,
    store_outdated,
)

DEMO_STEPS = "product_view,add_to_cart,checkout_started,purchase"


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


INSERT_RAW = """
INSERT INTO events_raw
SELECT event_id, customer_key, "timestamp"::TIMESTAMP, event, channel,
       session_id, value, cost, text, score,
       MAP {'page': page, 'device': device, 'city': city},
       MAP {'customer': customer_key},
       'events.parquet', 1, row_number() OVER () - 1
FROM read_parquet(?)
"""
"""The generator's Parquet file (one parameter: its path) as raw rows of the store."""


def build_store(parquet: Path, store: Path) -> None:
    """The ``events`` table of ``parquet`` (generator columns) in a new DuckDB file."""
    started = time.perf_counter()
    store.parent.mkdir(parents=True, exist_ok=True)
    partial = store.with_name(store.name + ".partial")
    partial.unlink(missing_ok=True)
    engine = Engine.duckdb(partial)
    try:
        ensure_store(engine)
        engine.sql(
            INSERT_RAW,
            [str(parquet)],
        )
        materialise_events(engine, session_gap_seconds=1800)
        engine.sql("CHECKPOINT")
    finally:
        engine.close()
    partial.replace(store)
    print(f"store        {store} built in {time.perf_counter() - started:.1f} s")


def upgrade_store(store: Path) -> None:
    """Rebuild the derived tables of a store built before a per-event fact existed (as a
    workspace does when it opens), so the funnel reads the store the product makes."""
    engine = Engine.duckdb(store)
    try:
        if store_outdated(engine):
            started = time.perf_counter()
            rebuild_derived(engine, resolve=None, session_gap_seconds=1800)
            print(
                f"store        new per-event facts added in {time.perf_counter() - started:.1f} s"
            )
    finally:
        engine.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=Path, default=Path("benchmarks/data/events.parquet"))
    parser.add_argument("--store", type=Path, default=Path("benchmarks/data/funnel-store.duckdb"))
    parser.add_argument("--workspace", type=Path, help="time this workspace instead")
    parser.add_argument("--steps", default=DEMO_STEPS)
    parser.add_argument("--mode", choices=("ordered", "strict", "unordered"), default="ordered")
    parser.add_argument("--window", default="30d")
    parser.add_argument("--exclude", action="append", default=[])
    parser.add_argument("--by", choices=("customer", "session"), default="customer")
    parser.add_argument("--breakdown")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--memory-limit", help="DuckDB's memory limit, such as 2GB")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    if args.workspace is not None:
        database = args.workspace / "jornada.duckdb"
    else:
        if not args.store.exists():
            if not args.events.exists():
                parser.error(f"{args.events} is missing: run benchmarks/generate.py first")
            build_store(args.events, args.store)
        upgrade_store(args.store)
        database = args.store
    engine = Engine.duckdb(
        database, read_only=True, threads=args.threads, memory_limit=args.memory_limit
    )
    events = engine.table("events")
    print(f"events       {engine.execute(events.count()):,}")
    steps = args.steps.split(",")
    times, cpu_times = [], []
    result = None
    for _ in range(args.repeat):
        started = time.perf_counter()
        cpu_started = time.process_time()
        result = funnel(
            events,
            steps,
            mode=args.mode,
            window=args.window,
            exclude=args.exclude,
            by=args.by,
            breakdown=args.breakdown,
            engine=engine,
        )
        times.append(time.perf_counter() - started)
        cpu_times.append(time.process_time() - cpu_started)
        print(f"run          {times[-1]:.3f} s ({cpu_times[-1]:.3f} s CPU, all threads)")
    assert result is not None
    for step in result.steps:
        print(f"  {step.step:<24} {step.paths:>10,}  {step.conversion_from_start:7.2%}")
    print(f"best         {min(times):.3f} s (median {statistics.median(times):.3f} s)")
    print(f"best CPU     {min(cpu_times):.3f} s")
    print(f"peak RSS     {_peak_rss_mb():,.0f} MiB")
    engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
