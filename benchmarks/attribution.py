"""Time attribution on the seeded demo events (10M by default), beside ChannelAttribution.

    python benchmarks/generate.py --events 10M          # writes benchmarks/data/events.parquet
    python benchmarks/attribution.py                     # builds the store once, then times
    python benchmarks/attribution.py --events /tmp/1m/events.parquet --store /tmp/1m/store.duckdb
    python benchmarks/attribution.py --skip-peer --repeat 5
    python benchmarks/attribution.py --only-events --repeat 5   # figure 1 alone

Three figures (targets of issue 5 in brackets):

1. attribution from raw events: path building in the engine + first/last touch, linear,
   position-based, time decay + Markov chain of order 3 (<= 1.5 s at 10M);
2. Shapley values for 12 channels: the 12 most frequent non-conversion events as
   touches (touch = event), models timed on the path table (<= 1 s);
3. the living map's call: touches by touchpoint of the b2c-ecommerce map (every event
   labelled by the map's rules), conversion its first milestone, position-based model;
   then the same from the stage tables' labelled events, as the living map reads them;
4. ChannelAttribution 2.2 on the same file: its paths built with pandas (the same rules:
   touches before each conversion within the lookback, restarting after it, the rest a
   non-converting path), then its heuristic models and its Markov model of the same
   order (Monte-Carlo); the ratio of its time to jornada's is printed.

The store is built with the product's own fact computation, as ``benchmarks/funnel.py``
does (and the same file: a store built by either is reused). Prints wall and CPU
seconds (CPU of all threads: steadier than the wall clock on a busy machine), events
per second and the peak resident memory.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import resource
import sys
import time
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from jornada.analytics.attribution import attribute, attribution, conversion_paths
from jornada.analytics.stages import StageTables
from jornada.engine import Engine
from jornada.living.overlay import default_conversion
from jornada.model.templates import load_template

sys.path.insert(0, str(Path(__file__).parent))
from funnel import build_store  # the sibling benchmark's store builder

HEURISTICS_AND_MARKOV = "first_touch,last_touch,linear,position_based,time_decay,markov"
DAY = 86400


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024  # bytes vs KiB


def _timed(label: str, run: Any, repeat: int) -> tuple[float, float, Any]:
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = run()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu_started)
        print(f"  {label:<34} {walls[-1]:.3f} s ({cpus[-1]:.3f} s CPU)")
    return min(walls), min(cpus), result


def peer_paths(parquet: Path, conversion: str, lookback_days: int) -> pd.DataFrame:
    """ChannelAttribution's input built with pandas: path, total_conversions, total_null."""
    frame = pd.read_parquet(parquet, columns=["customer_key", "timestamp", "event", "channel"])
    frame = frame.sort_values(["customer_key", "timestamp"], kind="stable")
    converts = (frame["event"] == conversion).to_numpy()
    # number of conversions before each event: touches with the same number form a path
    before = frame.assign(_c=converts).groupby("customer_key", sort=False)["_c"].cumsum()
    frame = frame.assign(k=before.to_numpy() - converts)
    conversions = frame[converts][["customer_key", "k", "timestamp"]].rename(
        columns={"timestamp": "cts"}
    )
    touches = frame[~converts & frame["channel"].notna()]
    touches = touches.merge(conversions, on=["customer_key", "k"], how="left")
    window = pd.Timedelta(days=lookback_days)
    converting = touches[touches["cts"].notna()]
    converting = converting[converting["cts"] - converting["timestamp"] <= window]
    tail = touches[touches["cts"].isna()]
    ends = tail.groupby("customer_key")["timestamp"].transform("max")
    tail = tail[ends - tail["timestamp"] <= window]
    keyed = pd.concat([converting.assign(conv=1), tail.assign(conv=0)])
    paths = keyed.groupby(["customer_key", "k"], sort=False).agg(
        path=("channel", " > ".join), conv=("conv", "max")
    )
    table = paths.groupby("path").agg(
        total_conversions=("conv", "sum"), total_null=("conv", lambda c: int((c == 0).sum()))
    )
    return table.reset_index()


def run_peer(parquet: Path, conversion: str, lookback_days: int, order: int) -> pd.DataFrame:
    table = peer_paths(parquet, conversion, lookback_days)
    with contextlib.redirect_stdout(io.StringIO()):  # its banners and progress
        import ChannelAttribution as ca  # noqa: N813  (the peer: pip install channelattribution)

        ca.heuristic_models(table, "path", "total_conversions", flg_pro=False)
        result = ca.markov_model(
            table,
            "path",
            "total_conversions",
            var_null="total_null",
            order=order,
            verbose=False,
            flg_pro=False,
        )
    frame: pd.DataFrame = result
    return frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=Path, default=Path("benchmarks/data/events.parquet"))
    parser.add_argument("--store", type=Path, default=Path("benchmarks/data/funnel-store.duckdb"))
    parser.add_argument("--conversion", default="purchase")
    parser.add_argument("--lookback-days", type=int, default=30)
    parser.add_argument("--order", type=int, default=3)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-peer", action="store_true", help="do not run ChannelAttribution")
    parser.add_argument(
        "--only-events",
        action="store_true",
        help="time only figure 1, attribution from raw events (quicker A/B runs)",
    )
    args = parser.parse_args(argv)

    if not args.store.exists():
        if not args.events.exists():
            parser.error(f"{args.events} is missing: run benchmarks/generate.py first")
        build_store(args.events, args.store)
    engine = Engine.duckdb(args.store, read_only=True, threads=args.threads)
    events = engine.table("events")
    count = int(engine.execute(events.count()))
    print(f"events       {count:,}")

    print("1. path building + heuristic models + Markov order", args.order)
    wall, cpu, result = _timed(
        "attribution",
        lambda: attribution(
            events,
            conversion=args.conversion,
            lookback=f"{args.lookback_days}d",
            models=HEURISTICS_AND_MARKOV,
            order=args.order,
            engine=engine,
        ),
        args.repeat,
    )
    assert result is not None
    print(
        f"  {result.total_conversions:,.0f} conversions, {result.non_converting_paths:,.0f} "
        f"non-converting paths, {result.distinct_paths:,} distinct paths, "
        f"{len(result.channels)} channels"
    )
    for channel, markov in zip(result.channels, result.conversions["markov"], strict=True):
        print(f"    {channel:<12} markov {markov:>12,.1f}")
    print(f"  best         {wall:.3f} s ({cpu:.3f} s CPU), {count / wall:,.0f} events/s")
    if args.only_events:
        print(f"peak RSS     {_peak_rss_mb():,.0f} MiB")
        engine.close()
        return 0

    print("2. Shapley values for 12 channels (touch = event)")
    others = events.filter(events.event != args.conversion)
    counted = others.group_by("event").aggregate(n=others.count())
    names = engine.to_pandas(counted.order_by([ibis.desc("n"), "event"]).limit(12))["event"]
    names = names.tolist()
    only = "event in (" + ", ".join(f"'{name}'" for name in names) + ")"
    table = conversion_paths(
        events,
        conversion=args.conversion,
        touch="event",
        only=only,
        lookback_seconds=args.lookback_days * DAY,
        engine=engine,
    )
    shapley_wall, shapley_cpu, shapley = _timed(
        f"shapley ({len(table.channels)} channels)",
        lambda: attribute(table, models="shapley"),
        args.repeat,
    )
    assert np.isclose(sum(shapley.conversions["shapley"]), table.total_conversions)
    print(f"  best         {shapley_wall:.4f} s ({shapley_cpu:.4f} s CPU)")

    journey = load_template("b2c-ecommerce", "en")
    milestone = default_conversion(journey)
    assert milestone is not None
    print(f"3. by touchpoint of the {journey.id} map, position-based (conversion {milestone})")
    by_touchpoint: dict[str, Any] = {
        "conversion": milestone,
        "touch": "touchpoint",
        "journey": journey,
        "lookback": f"{args.lookback_days}d",
        "models": "position_based",
        "engine": engine,
    }
    map_wall, map_cpu, by_map = _timed(
        "attribution by touchpoint", lambda: attribution(events, **by_touchpoint), args.repeat
    )
    print(
        f"  {by_map.total_conversions:,.0f} conversions, {by_map.distinct_paths:,} distinct "
        f"paths, {len(by_map.channels)} touchpoints"
    )
    print(f"  best         {map_wall:.3f} s ({map_cpu:.3f} s CPU)")
    # As the living map calls it: the touches read from its stage tables' labelled
    # events (built once beforehand, not timed).
    with StageTables(events, journey) as tables:
        tables_wall, tables_cpu, from_tables = _timed(
            "from the stage tables",
            lambda: attribution(events, **by_touchpoint, stage_tables=tables),
            args.repeat,
        )
    assert from_tables.channels == by_map.channels
    print(f"  best         {tables_wall:.3f} s ({tables_cpu:.3f} s CPU)")

    if not args.skip_peer:
        print(f"4. ChannelAttribution (paths with pandas, heuristics, Markov order {args.order})")
        peer_wall, peer_cpu, _ = _timed(
            "ChannelAttribution",
            lambda: run_peer(args.events, args.conversion, args.lookback_days, args.order),
            1,
        )
        print(f"  ratio        {peer_wall / wall:.1f}x jornada's time (CPU {peer_cpu / cpu:.1f}x)")
    print(f"peak RSS     {_peak_rss_mb():,.0f} MiB")
    engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
