"""Time the path analyses at benchmark scale, next to pm4py and Retentioneering.

    python benchmarks/paths.py                  # 10M events, peers included
    python benchmarks/paths.py --events 1M --no-peers

Uses the seeded demo log (``benchmarks/data/events.parquet``, generated when missing:
``generate_dataset`` with seed 7) and builds the event store from it once
(``benchmarks/data/paths-store.duckdb``): the raw rows are inserted as they are (the
source's customer key is the customer: no identity resolution) and the product's own
``materialise_events`` computes sessions and the per-event facts.

Prints, for jornada: the first run and the best of ``--repeat`` runs of transitions
(plain and with START/END), the step matrix (from the start, and after an anchor),
the Sankey and the top variants, plus the peak RSS. Then the same work in pm4py 2.7
(DFG, performance DFG) and Retentioneering 5.2 (transition graph with each edge
weight we report, step matrix), each in a fresh process of the peers' virtualenv
(``python -m venv benchmarks/.venv-peers`` and ``pip install "pm4py==2.7.*"
"retentioneering==5.2.*"``), and the ratios peer time / jornada time. The peers read
the same Parquet columns into pandas first; that read is not timed, like our load.

``--store`` builds (once) and times another store (a copy, say); a store built before a
per-event fact existed is brought up to date first (the derived tables rebuilt).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
PEERS = HERE / ".venv-peers" / "bin" / "python"


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


def _count(text: str) -> int:
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    return round(float(text[:-1] if factor > 1 else text) * factor)


def ensure_parquet(events: int, seed: int) -> Path:
    from jornada.demo.generator import estimate_customers, generate_dataset

    path = DATA / "events.parquet"
    if not path.exists():
        print(f"generating {events:,} events (seed {seed}) ...", flush=True)
        generate_dataset(DATA, customers=estimate_customers(events), seed=seed)
    return path


def upgrade_store(store: Path) -> None:
    """Rebuild the derived tables of a store built before a per-event fact existed (as a
    workspace does when it opens), so the analyses read every fact."""
    from jornada.engine import Engine
    from jornada.engine.store import rebuild_derived, store_outdated

    engine = Engine.duckdb(store)
    try:
        if store_outdated(engine):
            started = time.perf_counter()
            rebuild_derived(engine, resolve=None, session_gap_seconds=1800)
            print(f"added the new per-event facts in {time.perf_counter() - started:.1f} s")
    finally:
        engine.close()


def ensure_store(parquet: Path, store: Path | None = None) -> Path:
    """The ``events`` table with the product's facts, built once from the Parquet file
    (into ``store``, by default ``benchmarks/data/paths-store.duckdb``)."""
    from jornada.engine import Engine
    from jornada.engine.store import ensure_store as create_tables
    from jornada.engine.store import materialise_events

    store = store or DATA / "paths-store.duckdb"
    if store.exists() and store.stat().st_mtime > parquet.stat().st_mtime:
        upgrade_store(store)
        return store
    store.unlink(missing_ok=True)
    started = time.perf_counter()
    engine = Engine.duckdb(store)
    create_tables(engine)
    engine.sql(
        """INSERT INTO events_raw
        SELECT event_id, customer_key, "timestamp"::TIMESTAMP, event, channel, NULL,
               value, cost, text, score, NULL, NULL, 'events.parquet', 1,
               row_number() OVER ()
        FROM read_parquet(?)""",
        [str(parquet)],
    )
    materialise_events(engine, session_gap_seconds=1800)
    engine.close()
    print(f"built the store in {time.perf_counter() - started:.1f} s: {store}", flush=True)
    return store


def timed(function: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(first run, best of ``repeat`` runs) in seconds."""
    times = []
    for _ in range(max(repeat, 1)):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times[0], min(times)


def run_jornada(store: Path, repeat: int) -> dict[str, float]:
    from jornada.analytics import paths
    from jornada.engine import Engine

    engine = Engine.duckdb(store, read_only=True)
    events = engine.table("events")
    counts = engine.execute(events.aggregate(n=events.count(), c=events.customer_id.nunique()))
    print(f"store        {int(counts.n[0]):,} events, {int(counts.c[0]):,} customers")
    work: dict[str, Callable[[], Any]] = {
        "transitions": lambda: paths.transitions(events),
        "transitions --with-start-end": lambda: paths.transitions(events, with_start_end=True),
        "transitions --by session": lambda: paths.transitions(events, by="session"),
        "step matrix (10 steps)": lambda: paths.step_matrix(events, steps=10),
        "step matrix after add_to_cart": lambda: paths.step_matrix(
            events, steps=10, after="add_to_cart"
        ),
        "sankey after add_to_cart (5)": lambda: paths.sankey(events, steps=5, after="add_to_cart"),
        "variants (top 20)": lambda: paths.variants(events, top=20),
    }
    best: dict[str, float] = {}
    print(f"\njornada (DuckDB, threads {os.cpu_count()}), first / best of {repeat}:")
    for name, function in work.items():
        first, fastest = timed(function, repeat)
        best[name] = fastest
        print(f"  {name:34s} {first:7.3f} s  {fastest:7.3f} s", flush=True)
    print(f"  peak RSS {_peak_rss_mb():,.0f} MiB")
    engine.close()
    return best


_PM4PY = r"""
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
import pyarrow.parquet as pq
frame = pq.read_table(sys.argv[1], columns=["customer_key", "event", "timestamp"]).to_pandas()
import pm4py
out = {"version": pm4py.__version__}
keys = dict(case_id_key="customer_key", activity_key="event", timestamp_key="timestamp")
started = time.perf_counter()
dfg, starts, ends = pm4py.discover_dfg(frame, **keys)
out["dfg"] = time.perf_counter() - started
out["edges"] = len(dfg)
started = time.perf_counter()
pm4py.discover_performance_dfg(frame, **keys)
out["performance dfg"] = time.perf_counter() - started
out["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""

_RETENTIONEERING = r"""
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
import pyarrow.parquet as pq
frame = pq.read_table(sys.argv[1], columns=["customer_key", "event", "timestamp"]).to_pandas()
frame = frame.rename(columns={"customer_key": "user_id"})
frame["timestamp"] = frame["timestamp"].dt.tz_localize(None)
import retentioneering
out = {"version": retentioneering.__version__}
started = time.perf_counter()
stream = retentioneering.Eventstream(
    frame, schema={"path_cols": ["user_id"], "event_col": "event", "timestamp_col": "timestamp"}
)
out["eventstream"] = time.perf_counter() - started
for weight in ("count", "unique_paths", "proba_out", "proba_in", "time_median", "time_q95"):
    started = time.perf_counter()
    stream.transition_graph_data(edge_weight=weight)
    out["graph " + weight] = time.perf_counter() - started
started = time.perf_counter()
stream.step_matrix_data(max_steps=10)
out["step matrix"] = time.perf_counter() - started
out["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def run_peer(name: str, script: str, parquet: Path) -> dict[str, Any] | None:
    if not PEERS.exists():
        print(f"\n{name}: no peers' virtualenv at {PEERS} (see this file's docstring)")
        return None
    env = {**os.environ, "RETENTIONEERING_NO_TRACK": "1"}
    done = subprocess.run(  # noqa: S603 - our own script, run by the peers' Python
        [str(PEERS), "-c", script, str(parquet)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=3600,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        print(f"\n{name} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
        return None
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=_count, default=_count("10M"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-peers", action="store_true", help="time jornada only")
    parser.add_argument(
        "--parquet", type=Path, help="the events (generator columns); default: generated"
    )
    parser.add_argument("--store", type=Path, help="the DuckDB store to build once and time")
    args = parser.parse_args(argv)

    parquet = args.parquet or ensure_parquet(args.events, args.seed)
    store = ensure_store(parquet, args.store)
    ours = run_jornada(store, args.repeat)
    if args.no_peers:
        return 0
    transitions = ours["transitions"]
    with_ends = ours["transitions --with-start-end"]
    matrix = ours["step matrix (10 steps)"]

    pm4py = run_peer("pm4py", _PM4PY, parquet)
    if pm4py:
        print(f"\npm4py {pm4py['version']} (pandas), peak RSS {pm4py['rss']:,.0f} MiB:")
        print(
            f"  DFG (counts, start/end)            {pm4py['dfg']:7.3f} s"
            f"  = {pm4py['dfg'] / with_ends:5.1f} x jornada transitions --with-start-end"
        )
        print(
            f"  performance DFG (times)            {pm4py['performance dfg']:7.3f} s"
            f"  = {pm4py['performance dfg'] / transitions:5.1f} x jornada transitions"
        )

    rete = run_peer("Retentioneering", _RETENTIONEERING, parquet)
    if rete:
        graph = sum(v for k, v in rete.items() if k.startswith("graph "))
        print(f"\nRetentioneering {rete['version']}, peak RSS {rete['rss']:,.0f} MiB:")
        print(f"  Eventstream (sort, index)          {rete['eventstream']:7.3f} s")
        for key in [k for k in rete if k.startswith("graph ")]:
            print(f"  transition graph, {key[6:]:17s}{rete[key]:7.3f} s")
        print(
            f"  transition graph, all six weights  {graph:7.3f} s"
            f"  = {graph / with_ends:5.1f} x jornada transitions --with-start-end"
        )
        print(
            f"  graph count only                   {rete['graph count']:7.3f} s"
            f"  = {rete['graph count'] / with_ends:5.1f} x"
        )
        print(
            f"  step matrix (10 steps)             {rete['step matrix']:7.3f} s"
            f"  = {rete['step matrix'] / matrix:5.1f} x jornada step matrix"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
