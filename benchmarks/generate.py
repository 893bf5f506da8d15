"""Generate the seeded demo event log at benchmark scale and report its speed.

    python benchmarks/generate.py --events 10M
    python benchmarks/generate.py --events 100M --format csv --out /data/jornada

Prints the events written, the wall and CPU time, events per second and the
peak resident memory (``resource.getrusage``). The number of people simulated is
estimated from ``--events`` (the generator averages about 16 events a person).
"""

from __future__ import annotations

import argparse
import re
import resource
import sys
import time
from pathlib import Path

from jornada.demo.generator import estimate_customers, generate_dataset

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)\s*$")
_FACTOR = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}


def parse_count(text: str) -> int:
    """``'10M'`` -> 10_000_000; ``'250k'``, ``'1.5M'`` and plain numbers work too."""
    match = _SIZE.match(text.replace("_", ""))
    if not match:
        raise argparse.ArgumentTypeError(f"not a count: {text!r} (try 1M, 250k, 5000)")
    number, unit = match.groups()
    return round(float(number) * _FACTOR[unit.lower()])


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=parse_count, default=parse_count("10M"))
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chunk", type=parse_count, default=50_000, help="people per chunk")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    args = parser.parse_args(argv)

    customers = estimate_customers(args.events)
    started = time.perf_counter()
    cpu_started = time.process_time()

    def progress(done: int) -> None:
        if not args.quiet:
            elapsed = time.perf_counter() - started
            print(f"\r  {done:>12,} / {customers:,} people  {elapsed:7.1f}s", end="", flush=True)

    data = generate_dataset(
        args.out,
        customers=customers,
        seed=args.seed,
        format=args.format,
        chunk_customers=args.chunk,
        progress=progress,
    )
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if not args.quiet:
        print()
    size = data.events_path.stat().st_size / 1024**2
    print(f"events       {data.events:,} ({data.customers:,} people, {data.profiles:,} profiles)")
    print(f"file         {data.events_path} ({size:,.1f} MiB)")
    print(f"time         {wall:.2f} s wall, {cpu:.2f} s CPU")
    print(f"throughput   {data.events / wall:,.0f} events/s")
    print(f"peak RSS     {_peak_rss_mb():,.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
