"""Benchmark of loading events into a new workspace, with where the time goes.

    python benchmarks/load.py                         # 1M events, Parquet
    python benchmarks/load.py --events 10M --format csv
    python benchmarks/load.py --profile               # the slowest SQL statements too
    python benchmarks/load.py --events 100M --memory-limit 3GB --keep /tmp/ws-100m

The seeded demo log (``benchmarks/generate.py``'s generator) is written once to
``benchmarks/data/load-<events>-<seed>/`` and reused. Each run loads it into a fresh
workspace with ``Workspace.load`` (the demo's column mapping: four identifier kinds)
and prints: wall seconds of the load proper (parse, quarantine, dedupe, insert) and
of the rebuild after it (identity resolution, ``events`` with sessions and facts,
``customers``), events per second, CPU seconds, peak RSS and the load average (the
machine may be shared: CPU seconds are the steadier figure). ``--memory-limit`` sets the
workspace's ``memory_limit`` (the engine works on disk past it: the 100M target is a peak
of 4 GB); ``--keep DIR`` loads into ``DIR`` and keeps it for the analyses' benchmarks.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from generate import parse_count

from jornada.demo.generator import LOAD_MAPPING, estimate_customers, generate_dataset
from jornada.events.load import ColumnMapping
from jornada.workspace import Workspace


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StatementClock:
    """Times each SQL statement (wall and CPU seconds, all threads): a statement runs
    until the next one is sent."""

    def __init__(self, *, echo: bool = False) -> None:
        self.spans: list[tuple[float, float, str]] = []
        self._last: tuple[float, float, str] | None = None
        self._echo = echo

    def __call__(self, query: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        if self._echo and query:  # long runs: where it is, as it goes
            print(f"{time.strftime('%H:%M:%S')} {' '.join(query.split())[:80]}", flush=True)
        if self._last is not None:
            self.spans.append((now - self._last[0], cpu - self._last[1], self._last[2]))
        self._last = (now, cpu, " ".join(query.split())[:100])

    def close(self) -> None:
        self("")


def data_file(events: int, seed: int, kind: str) -> Path:
    folder = Path(__file__).parent / "data" / f"load-{events}-{seed}"
    path = folder / f"events.{kind}"
    if not path.exists():
        print(f"generating {events:,} events ({kind}) in {folder} ...", flush=True)
        generate_dataset(
            folder,
            customers=estimate_customers(events),
            seed=seed,
            format="csv" if kind == "csv" else "parquet",
        )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=parse_count, default=parse_count("1M"))
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="print the slowest statements")
    parser.add_argument("--memory-limit", help="the workspace's engine memory limit, e.g. 3GB")
    parser.add_argument(
        "--max-temp", default="30GB", help="cap on DuckDB's spill files (a full disk is worse)"
    )
    parser.add_argument("--keep", type=Path, help="load into this new folder and keep it")
    parser.add_argument("--steps", action="store_true", help="print each statement as it starts")
    parser.add_argument(
        "--source", type=Path, help="load this file (the demo's columns) instead of generating one"
    )
    args = parser.parse_args(argv)

    source = args.source or data_file(args.events, args.seed, args.format)
    mapping = ColumnMapping(**LOAD_MAPPING)
    steps: list[tuple[str, float, float]] = []  # step, wall clock, CPU clock
    started = time.perf_counter()

    def progress(step: str) -> None:
        steps.append((step, time.perf_counter(), time.process_time()))

    clock = StatementClock(echo=args.steps)
    with tempfile.TemporaryDirectory() as folder:
        workspace = Workspace.init(args.keep or Path(folder) / "ws")
        if args.memory_limit:
            workspace.update_settings(memory_limit=args.memory_limit)
        engine = workspace.engine
        engine.sql(f"SET max_temp_directory_size = '{args.max_temp}'")
        cpu_started = time.process_time()
        started = time.perf_counter()
        with engine.tracing(clock):
            result = workspace.load(source, mapping, progress=progress)
        clock.close()
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        # What the store holds at rest: blocks in use (freed blocks stay in the file
        # until a later write reuses them).
        engine.sql("CHECKPOINT")
        size = engine.sql("PRAGMA database_size").fetchone()
        assert size is not None
        block_size, used_blocks, free_blocks = int(size[2]), int(size[4]), int(size[5])
        workspace.close()
        store = workspace.root / "jornada.duckdb"
        store_mb = store.stat().st_size / 1e6
    at = {step: (wall_at, cpu_at) for step, wall_at, cpu_at in steps}
    rebuild_started, rebuild_cpu = at.get(
        "resolving identities", (started + wall, cpu_started + cpu)
    )
    load_wall, load_cpu = rebuild_started - started, rebuild_cpu - cpu_started
    print(
        f"{args.format} {result.rows_read:,} rows: {result.loaded:,} loaded, "
        f"{result.duplicates:,} duplicates, {result.quarantined:,} quarantined"
    )
    print(
        f"load {load_wall:.2f} s ({result.rows_read / load_wall:,.0f} events/s, "
        f"{load_cpu:.2f} CPU-s), rebuild (identities, events, customers) "
        f"{wall - load_wall:.2f} s ({cpu - load_cpu:.2f} CPU-s), "
        f"total {wall:.2f} s ({result.rows_read / wall:,.0f} events/s), CPU {cpu:.2f} s, "
        f"peak RSS {_peak_rss_mb():,.0f} MB, store file {store_mb:,.0f} MB "
        f"({used_blocks * block_size / 1e6:,.0f} MB in use, "
        f"{free_blocks * block_size / 1e6:,.0f} MB free), "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    if args.profile:
        for seconds, cpu, query in sorted(clock.spans, key=lambda s: -s[1])[:15]:
            print(f"  {seconds:6.2f} s  {cpu:6.2f} CPU  {query}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
