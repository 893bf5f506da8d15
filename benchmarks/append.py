"""Benchmark of appending events to a loaded workspace (decision 0009: a load rebuilds
only the customers it touched).

    python benchmarks/append.py                              # 10M stored, +1k and +100k
    python benchmarks/append.py --events 1M --append 1k --append 10k --append 100k
    python benchmarks/append.py --whole                      # the whole rebuild, to compare

The stored workspace is made once from the seeded demo log (``benchmarks/load.py``'s
file, four identifier kinds) in ``benchmarks/data/append-<events>-<seed>/`` and copied
for each run, so every append starts from the same store. An append is the first rows of
the same log with new event ids: returning customers, as a nightly export brings. Each
is loaded with ``Workspace.load`` (identity resolution and the rebuild included) and
timed: wall and CPU seconds, events per second, peak RSS, and whether ``events`` was
rebuilt in place (the table kept) or whole. ``--whole`` turns the in-place rebuild off.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))

from generate import parse_count
from load import data_file

from jornada.demo.generator import LOAD_MAPPING
from jornada.engine import store
from jornada.events.load import ColumnMapping
from jornada.workspace import Workspace


def stored_workspace(events: int, seed: int) -> Path:
    """The workspace holding the seeded log, made once."""
    root = Path(__file__).parent / "data" / f"append-{events}-{seed}"
    if not (root / "jornada.toml").exists():
        source = data_file(events, seed, "parquet")
        print(f"loading {source} into {root} (once) ...", flush=True)
        shutil.rmtree(root, ignore_errors=True)
        workspace = Workspace.init(root)
        workspace.load(source, ColumnMapping(**LOAD_MAPPING))
        workspace.close()
    return root


def appended_rows(events: int, seed: int, count: int, tag: str) -> pa.Table:
    """The log's first ``count`` rows with new event ids."""
    batches = pq.ParquetFile(data_file(events, seed, "parquet")).iter_batches(batch_size=count)
    rows = pa.Table.from_batches([next(batches)])  # the first rows, not the whole file read
    ids = pc.binary_join_element_wise(pa.scalar(f"{tag}-"), rows["event_id"], "")
    return rows.set_column(rows.schema.get_field_index("event_id"), "event_id", ids)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=parse_count, default=parse_count("10M"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--append", type=parse_count, action="append", help="events to append (repeatable)"
    )
    parser.add_argument("--whole", action="store_true", help="rebuild everything each time")
    args = parser.parse_args(argv)
    counts = args.append or [parse_count("1k"), parse_count("100k")]
    base = stored_workspace(args.events, args.seed)
    if args.whole:
        store.TOUCHED_SHARE = 0.0  # nothing is rebuilt in place
    for number, count in enumerate(counts):
        rows = appended_rows(args.events, args.seed, count, f"append{number}")
        with tempfile.TemporaryDirectory(dir=base.parent) as folder:
            copy = Path(folder) / "ws"
            shutil.copytree(base, copy)
            workspace = Workspace.open(copy)
            table = "SELECT table_oid FROM duckdb_tables() WHERE table_name = 'events'"
            before: Any = workspace.engine.sql(table).fetchone()
            wall, cpu = time.perf_counter(), time.process_time()
            result = workspace.load(rows, ColumnMapping(**LOAD_MAPPING), source_name="append")
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            in_place = workspace.engine.sql(table).fetchone() == before
            workspace.close()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"+{count:,} events into {args.events:,}: {result.loaded:,} loaded in {wall:.2f} s "
            f"({count / wall:,.0f} events/s, {cpu:.2f} CPU-s), "
            f"{'in place' if in_place else 'whole rebuild'}, peak RSS so far {peak:,.0f} MB, "
            f"load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
