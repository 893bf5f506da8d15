"""Time the timing and retention analyses on the seeded demo log at 10M events.

    python benchmarks/timing.py                      # build (once) and time 10M events
    python benchmarks/timing.py --events 1M --repeat 5
    python benchmarks/timing.py --workspace demo-workspace

The events come from :func:`jornada.demo.generator.generate_dataset` (seed 7), loaded
once into ``benchmarks/data/timing-<N>.duckdb`` by the real loader (sessions and
per-event facts as the product computes them; identities are not resolved, so a
customer is a source key: more, shorter paths than after resolution). ``--workspace``
times an existing workspace instead.

Each analysis runs ``--repeat`` times on one read-only connection; the script prints
the best and median wall seconds, the CPU seconds of the best run (all DuckDB threads:
steadier than wall time on a shared machine) and the process's peak resident memory
after it (the store is built in a child process, so loading does not count).
Targets at 10M events: cohort retention and touches before conversion <= 0.5 s.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The sibling script's "10M" parser and memory probe (benchmarks/ is on sys.path when a
# script there runs).
from generate import _peak_rss_mb, parse_count

from jornada.analytics.retention import lifecycle, retention
from jornada.analytics.timing import dwell_times, time_to_convert, touches_before_conversion
from jornada.demo.generator import LOAD_MAPPING, estimate_customers, generate_dataset
from jornada.engine import Engine
from jornada.engine.store import ensure_store, rebuild_derived, store_outdated
from jornada.events.load import ColumnMapping, load_events
from jornada.model.templates import load_template

DATA = Path(__file__).parent / "data"
TARGETS = {"retention (week)": 0.5, "touches before purchase": 0.5}


def build_store(events: int, seed: int) -> Path:
    """The DuckDB store of the seeded log (built on first use, then reused)."""
    database = DATA / f"timing-{events}-{seed}.duckdb"
    if database.exists():
        return database
    out = DATA / f"generated-{events}-{seed}"
    parquet = out / "events.parquet"
    if not parquet.exists():
        print(f"generating {events:,} events ...", flush=True)
        generate_dataset(out, customers=estimate_customers(events), seed=seed)
    print("loading ...", flush=True)
    started = time.perf_counter()
    partial = database.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    engine = Engine.duckdb(partial)
    try:
        ensure_store(engine)
        # No identity columns: the benchmark is about the analyses, not resolution.
        mapping = ColumnMapping(**{k: v for k, v in LOAD_MAPPING.items() if k != "identities"})
        load_events(engine, parquet, mapping)
    finally:
        engine.close()
    partial.rename(database)
    print(f"loaded in {time.perf_counter() - started:.1f} s", flush=True)
    return database


def benchmark_database(events: int, seed: int, workspace: Path | None = None) -> Path | None:
    """The DuckDB file to time: ``workspace``'s, or the seeded store of ``events`` events
    (built once, in a child process so that the loader's memory is not the analyses',
    and brought up to date when it predates a per-event fact). None when building it
    failed."""
    if workspace is not None:
        return workspace / "jornada.duckdb"
    DATA.mkdir(parents=True, exist_ok=True)
    database = DATA / f"timing-{events}-{seed}.duckdb"
    if not database.exists():
        child = multiprocessing.get_context("spawn").Process(
            target=build_store, args=(events, seed)
        )
        child.start()
        child.join()
        if child.exitcode != 0:
            return None
    engine = Engine.duckdb(database)
    try:
        if store_outdated(engine):  # built before a per-event fact existed
            print("adding the new per-event facts ...", flush=True)
            rebuild_derived(engine, resolve=None, session_gap_seconds=1800)
    finally:
        engine.close()
    return database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=parse_count, default=parse_count("10M"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workspace", type=Path, help="time this workspace's events instead")
    args = parser.parse_args(argv)

    database = benchmark_database(args.events, args.seed, args.workspace)
    if database is None:
        return 1
    journey = load_template("b2c-ecommerce")
    analyses: dict[str, Callable[[Any], object]] = {
        "retention (week)": lambda e: retention(e, period="week"),
        "touches before purchase": lambda e: touches_before_conversion(e, "purchase"),
        "retention (month, purchase)": lambda e: retention(
            e, period="month", start="purchase", returning="purchase"
        ),
        "time to convert": lambda e: time_to_convert(e, "purchase"),
        "lifecycle (week)": lambda e: lifecycle(e, period="week"),
        "dwell (b2c map)": lambda e: dwell_times(e, journey),
    }
    engine = Engine.duckdb(database, read_only=True)
    try:
        events = engine.table("events")
        count = int(events.count().execute())
        customers = int(events.customer_id.nunique().execute())
        print(f"{count:,} events, {customers:,} customers ({database})")
        print(
            f"{'analysis':<30}{'best s':>9}{'median s':>10}{'CPU s':>8}{'target':>8}"
            f"{'peak RSS MiB':>14}"
        )
        for name, run in analyses.items():
            runs = []
            for _ in range(args.repeat):
                started, cpu = time.perf_counter(), time.process_time()
                run(events)
                runs.append((time.perf_counter() - started, time.process_time() - cpu))
            best = min(runs)
            target = f"{TARGETS[name]:.1f}" if name in TARGETS else ""
            print(
                f"{name:<30}{best[0]:>9.3f}{statistics.median(w for w, _ in runs):>10.3f}"
                f"{best[1]:>8.2f}{target:>8}{_peak_rss_mb():>14,.0f}",
                flush=True,
            )
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
