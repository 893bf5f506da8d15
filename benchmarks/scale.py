"""Build a 100M-event store out of core and time the journey analyses on it (issue 4).

    python benchmarks/scale.py build                     # 100M store, DuckDB limit 6GB
    python benchmarks/scale.py time                      # each analysis in its own process
    python benchmarks/scale.py time --store /tmp/x/funnel-store.duckdb --memory-limit 8GB

``build`` makes the store the way ``benchmarks/funnel.py`` does (the generator's Parquet
columns inserted into ``events_raw``, then the product's own ``materialise_events``:
positions, next event, sessions, customer numbers; no identity resolution) but with the
engine held to ``--memory-limit`` and spilling to ``--temp-dir`` (capped at
``--max-temp``, so a runaway spill fails the build instead of filling the disk). The raw
rows are dropped at the end (the analyses read only ``events``) and the file is
checkpointed. Each step prints its wall and CPU seconds; the process's peak RSS is printed
at the end.

``time`` runs each analysis of the 10M benchmarks (transitions, the 4-step 30-day ordered
funnel, the 10-step matrix, weekly cohort retention, touches before purchase) in a fresh
process (so the peak RSS printed is that analysis's own), ``--repeat`` times in it (the
first run includes Ibis's compilation warm-up), read-only, with the same memory limit and
spill directory settings.

Found on 2026-11-24 (2 cores shared, load average 8-14): at 100M events the product's
one-statement ``materialise_events`` fails under a 6GB limit after 839 s (383 CPU-s),
its spill past 23.2 GiB ("failed to offload data block"). Built in eight ranges of
customers (then by a first version of this script; the product now does the same past
``RANGE_ROWS`` events), at most 2.3 GiB of spill and 6.3 GB RSS per range, 1723 s in all
on a quiet machine. ``--chunks N`` sets the number of ranges (default: the product's
``RANGE_ROWS``); ``--resume`` reuses the raw rows an interrupted build left in the
``.partial`` file.

>>> _count("100M"), _count("2.5k")
(100000000, 2500)
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
SOURCE = DATA / "load-100000000-7" / "events.parquet"
STORE = DATA / "scale-100000000.duckdb"
SPILL = Path(tempfile.gettempdir()) / "jornada-scale-spill"  # deleted after each run
FUNNEL_STEPS = ["product_view", "add_to_cart", "checkout_started", "purchase"]


def _count(text: str) -> int:
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    return round(float(text[:-1] if factor > 1 else text) * factor)


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


def _settle(engine: Any, temp_dir: Path, max_temp: str, *, ordered: bool) -> None:
    """Point DuckDB's spill at ``temp_dir`` (capped at ``max_temp``). Without insertion
    order DuckDB need not buffer rows to keep their order; no query here relies on it
    (``materialise_events`` sorts with an explicit ORDER BY)."""
    temp_dir.mkdir(parents=True, exist_ok=True)
    engine.sql(f"SET temp_directory = '{temp_dir}'")
    engine.sql(f"SET max_temp_directory_size = '{max_temp}'")
    if not ordered:
        engine.sql("SET preserve_insertion_order = false")


class _Step:
    """Print the wall and CPU seconds of a block."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        self.started, self.cpu = time.perf_counter(), time.process_time()
        print(f"{time.strftime('%H:%M:%S')} {self.name} ...", flush=True)

    def __exit__(self, *exc: object) -> None:
        wall, cpu = time.perf_counter() - self.started, time.process_time() - self.cpu
        print(
            f"{time.strftime('%H:%M:%S')} {self.name}: {wall:.1f} s wall, {cpu:.1f} CPU-s,"
            f" peak RSS so far {_peak_rss_mb():,.0f} MiB",
            flush=True,
        )


def build(args: argparse.Namespace) -> int:
    from jornada.engine import Engine
    from jornada.engine.store import ensure_store, materialise_events

    sys.path.insert(0, str(HERE))
    from funnel import INSERT_RAW  # the sibling benchmark's raw rows of the generator file

    store: Path = args.store
    partial = store.with_name(store.name + ".partial")
    resume = args.resume and partial.exists()
    if not resume:
        partial.unlink(missing_ok=True)
    started, cpu = time.perf_counter(), time.process_time()
    engine = Engine.duckdb(partial, memory_limit=args.memory_limit, threads=args.threads)
    try:
        _settle(engine, args.temp_dir, args.max_temp, ordered=args.ordered)
        ensure_store(engine)
        if resume:
            print(f"resuming     {partial}: events_raw as an earlier build left it", flush=True)
        else:
            with _Step("insert events_raw"):
                engine.sql(INSERT_RAW, [str(args.source)])
            with _Step("checkpoint"):
                engine.sql("CHECKPOINT")
        print(f"file         {partial.stat().st_size / 1024**3:.2f} GiB", flush=True)
        with _Step("materialise_events (in ranges of customers past RANGE_ROWS events)"):
            if args.chunks is None:
                materialise_events(engine, session_gap_seconds=1800)
            else:  # ranges sized to give --chunks of them
                row = engine.sql("SELECT count(*) FROM events_raw").fetchone()
                assert row is not None
                range_rows = max(1, -(-int(row[0]) // args.chunks))
                materialise_events(engine, session_gap_seconds=1800, range_rows=range_rows)
        with _Step("checkpoint"):
            engine.sql("CHECKPOINT")
        print(f"file         {partial.stat().st_size / 1024**3:.2f} GiB", flush=True)
        if not args.keep_raw:
            with _Step("drop events_raw, checkpoint"):
                engine.sql("DROP TABLE events_raw")
                ensure_store(engine)  # an empty events_raw again: the store's schema
                engine.sql("CHECKPOINT")
        row = engine.sql("SELECT count(*), max(customer_no) FROM events").fetchone()
        assert row is not None
        print(f"events       {row[0]:,} ({row[1]:,} customers)", flush=True)
    finally:
        engine.close()
    partial.replace(store)
    shutil.rmtree(args.temp_dir, ignore_errors=True)
    print(
        f"built        {store} in {time.perf_counter() - started:.1f} s wall,"
        f" {time.process_time() - cpu:.1f} CPU-s; {store.stat().st_size / 1024**3:.2f} GiB;"
        f" peak RSS {_peak_rss_mb():,.0f} MiB",
        flush=True,
    )
    return 0


def _analyses(engine: Any) -> dict[str, Callable[[Any], object]]:
    """The calls of the 10M benchmarks (paths.py, funnel.py, timing.py)."""
    from jornada.analytics import paths
    from jornada.analytics.funnel import funnel
    from jornada.analytics.retention import retention
    from jornada.analytics.timing import touches_before_conversion

    return {
        "transitions": lambda e: paths.transitions(e),
        "funnel": lambda e: funnel(e, FUNNEL_STEPS, mode="ordered", window="30d", engine=engine),
        "step_matrix": lambda e: paths.step_matrix(e, steps=10),
        "retention": lambda e: retention(e, period="week"),
        "touches": lambda e: touches_before_conversion(e, "purchase"),
    }


ANALYSES = ("transitions", "funnel", "step_matrix", "retention", "touches")


def run_one(args: argparse.Namespace) -> int:
    """One analysis, ``--repeat`` times, in this process; prints one JSON line."""
    from jornada.engine import Engine

    engine = Engine.duckdb(
        args.store, read_only=True, memory_limit=args.memory_limit, threads=args.threads
    )
    out: dict[str, Any] = {"analysis": args.one, "runs": []}
    try:
        _settle(engine, args.temp_dir, args.max_temp, ordered=args.ordered)
        work = _analyses(engine)[args.one]
        events = engine.table("events")
        for _ in range(args.repeat):
            started, cpu = time.perf_counter(), time.process_time()
            work(events)
            out["runs"].append([time.perf_counter() - started, time.process_time() - cpu])
    except Exception as error:  # reported, not raised: the driver goes on with the next
        out["error"] = f"{type(error).__name__}: {error}"[:2000]
    finally:
        engine.close()
    out["rss_mb"] = _peak_rss_mb()
    print(json.dumps(out), flush=True)
    return 0


def time_all(args: argparse.Namespace) -> int:
    names = args.only.split(",") if args.only else list(ANALYSES)
    print(
        f"{time.strftime('%H:%M:%S')} {args.store} ({args.store.stat().st_size / 1024**3:.2f}"
        f" GiB), memory limit {args.memory_limit}, {args.repeat} run(s) per process",
        flush=True,
    )
    print(f"{'analysis':<14}{'runs: wall s / CPU s':<40}{'peak RSS MiB':>14}", flush=True)
    for name in names:
        command = [
            sys.executable,
            __file__,
            "time",
            "--one",
            name,
            "--store",
            str(args.store),
            "--memory-limit",
            args.memory_limit,
            "--temp-dir",
            str(args.temp_dir),
            "--max-temp",
            args.max_temp,
            "--repeat",
            str(args.repeat),
        ]
        if args.threads is not None:
            command += ["--threads", str(args.threads)]
        if args.ordered:
            command.append("--ordered")
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if not lines:
            print(f"{name:<14}FAILED (exit {done.returncode}): {done.stderr[-1500:]}", flush=True)
            continue
        result = json.loads(lines[-1])
        runs = "  ".join(f"{w:.2f}/{c:.2f}" for w, c in result["runs"])
        print(f"{name:<14}{runs:<40}{result['rss_mb']:>14,.0f}", flush=True)
        if "error" in result:
            print(f"  error: {result['error']}", flush=True)
    shutil.rmtree(args.temp_dir, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("action", choices=("build", "time"))
    parser.add_argument("--source", type=Path, default=SOURCE, help="generator Parquet")
    parser.add_argument("--store", type=Path, default=STORE)
    parser.add_argument("--memory-limit", default=None, help="6GB to build, 8GB to time")
    parser.add_argument("--temp-dir", type=Path, default=SPILL)
    parser.add_argument("--max-temp", default="25GB", help="cap on DuckDB's spill files")
    parser.add_argument("--threads", type=int)
    parser.add_argument(
        "--ordered", action="store_true", help="keep preserve_insertion_order (default: off)"
    )
    parser.add_argument("--chunks", type=int, help="build events in this many ranges of customers")
    parser.add_argument("--resume", action="store_true", help="reuse the loaded .partial")
    parser.add_argument("--keep-raw", action="store_true", help="keep events_raw's rows")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", help="comma-separated analyses (default: all)")
    parser.add_argument("--one", choices=ANALYSES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.action == "build":
        args.memory_limit = args.memory_limit or "6GB"
        return build(args)
    args.memory_limit = args.memory_limit or "8GB"
    return run_one(args) if args.one else time_all(args)


if __name__ == "__main__":
    raise SystemExit(main())
