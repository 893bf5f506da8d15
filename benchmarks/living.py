"""Time the living map and the full report on the demo workspace at 1M/10M/100M events.

    python benchmarks/living.py                      # 10M events (~610k people)
    python benchmarks/living.py --events 1M
    python benchmarks/living.py --workspace demo-workspace --map b2c-ecommerce
    python benchmarks/living.py --skip-report        # the living map only
    python benchmarks/living.py --workspace W --skip-parts --skip-report --stage-block
                                                     # and its stage block, part by part

Unlike ``timing.py``'s bare store, the living map needs a whole workspace: identities
resolved, the customer file, the demo's maps bound to the events. It is created once by
:func:`jornada.demo.create_demo_workspace` (seed 7) in ``benchmarks/data/demo-<N>/`` and
reused. The script prints each analysis the living map is made of (timed on its own, to
show where the time goes), the living map itself, then each step of the report (its
progress calls) and the HTML written, with CPU seconds (all threads: steadier than wall
time on a shared machine), peak resident memory and the load average.
Targets at 10M events: living map <= 5 s; report <= 30 s (and <= 2 min, 8 GB at 100M).
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The sibling script's "10M" parser and memory probe (benchmarks/ is on sys.path when a
# script there runs).
from generate import _peak_rss_mb, parse_count

from jornada.analytics.attribution import attribution
from jornada.analytics.kpis import kpis
from jornada.analytics.stages import StageTables, analyse_stages
from jornada.analytics.touchpoints import touchpoint_measures, touchpoint_trend
from jornada.demo import create_demo_workspace
from jornada.demo.generator import estimate_customers
from jornada.living.conformance import conformance
from jornada.living.overlay import CONVERSION_WINDOW_DAYS, default_conversion, living_map
from jornada.living.sentiment import measured_emotion, measured_emotions
from jornada.report import build_report, write_report
from jornada.workspace import Workspace

DATA = Path(__file__).parent / "data"
TARGETS = {"living map": 5.0, "report (build + HTML)": 30.0}


def demo_workspace(events: int) -> Path:
    """The demo workspace of about ``events`` events (created on first use)."""
    root = DATA / f"demo-{events}"
    if (root / "jornada.toml").exists() and (root / "jornada.duckdb").exists():
        return root
    started = time.perf_counter()

    def say(step: str) -> None:
        print(f"  {time.perf_counter() - started:7.1f} s  {step}", flush=True)

    print(f"creating the demo workspace of ~{events:,} events in {root} ...", flush=True)
    create_demo_workspace(root, customers=estimate_customers(events), progress=say)
    say("done")
    return root


def _clock(label: str, run: Callable[[], Any], rows: list[tuple[str, float, float]]) -> Any:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    rows.append((label, time.perf_counter() - wall, time.process_time() - cpu))
    print(f"{rows[-1][1]:8.2f} s {rows[-1][2]:8.2f} CPU  {label}", flush=True)
    return result


def _stage_block(
    events: Any, journey: Any, conversion: str | None, rows: list[tuple[str, float, float]]
) -> None:
    """The living map's stage block, each part timed, in the living map's order and on one
    StageTables (the parts read its cached tables: timed alone, they would label the
    events again); then the measured emotion, which reads the same tables."""
    print("-- the living map's stage block, part by part", flush=True)
    parts: list[tuple[str, float, float]] = []
    tables = _clock("stage tables", lambda: StageTables(events, journey, facts=True), parts)
    with tables:
        _clock("stage analysis", lambda: tables.analysis(), parts)
        _clock(
            "conformance",
            lambda: conformance(events, journey, stage_tables=tables, facts=True),
            parts,
        )
        _clock(
            "touchpoint measures",
            lambda: touchpoint_measures(
                events, journey, conversion=conversion, stage_tables=tables
            ),
            parts,
        )
        if conversion is not None:
            _clock(
                "touchpoint trend",
                lambda: touchpoint_trend(
                    events,
                    journey,
                    conversion=conversion,
                    within_seconds=CONVERSION_WINDOW_DAYS * 86400.0,
                    stage_tables=tables,
                ),
                parts,
            )
        wall, cpu = sum(part[1] for part in parts), sum(part[2] for part in parts)
        rows += parts
        rows.append(("stage block", wall, cpu))
        print(f"{wall:8.2f} s {cpu:8.2f} CPU  stage block", flush=True)
        # Not part of the block's total (comparable with earlier rounds), but read from
        # its tables as the living map does.
        _clock(
            "measured emotion (both, from the stage tables)",
            lambda: measured_emotions(
                events, by=("touchpoint_id", "stage_id"), journey=journey, stage_tables=tables
            ),
            rows,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=parse_count, default=parse_count("10M"))
    parser.add_argument("--workspace", type=Path, help="An existing workspace instead.")
    parser.add_argument("--map", default="b2c-ecommerce", help="The map's id.")
    parser.add_argument("--skip-parts", action="store_true", help="Not each analysis alone.")
    parser.add_argument("--skip-report", action="store_true")
    parser.add_argument(
        "--stage-block",
        action="store_true",
        help="Also time the living map's stage block part by part, in its order, on one "
        "StageTables (as the living map shares them).",
    )
    parser.add_argument("--runs", type=int, default=1, help="Times to run the living map.")
    args = parser.parse_args(argv)

    root = args.workspace or demo_workspace(args.events)
    workspace = Workspace.open(root)
    journey = workspace.load_map(args.map)
    events = workspace.events()
    total = int(events.count().to_pyarrow().as_py())
    print(f"{root}: {total:,} events, map {journey.id!r}", flush=True)
    rows: list[tuple[str, float, float]] = []
    conversion = default_conversion(journey)
    if not args.skip_parts:
        print("-- the living map's analyses, each alone", flush=True)
        _clock("stages (funnel, dwell, stalled)", lambda: analyse_stages(events, journey), rows)
        _clock(
            "touchpoint measures",
            lambda: touchpoint_measures(events, journey, conversion=conversion),
            rows,
        )
        if conversion is not None:
            _clock(
                "touchpoint trend (weekly, 14-day window)",
                lambda: touchpoint_trend(
                    events,
                    journey,
                    conversion=conversion,
                    within_seconds=CONVERSION_WINDOW_DAYS * 86400.0,
                ),
                rows,
            )
        _clock(
            "measured emotion (touchpoints)",
            lambda: measured_emotion(events, by="touchpoint_id", journey=journey),
            rows,
        )
        _clock(
            "measured emotion (stages)",
            lambda: measured_emotion(events, by="stage_id", journey=journey),
            rows,
        )
        _clock(
            "measured emotion (both, as the living map: one scan)",
            lambda: measured_emotions(events, by=("touchpoint_id", "stage_id"), journey=journey),
            rows,
        )
        _clock("conformance", lambda: conformance(events, journey, facts=True), rows)
        _clock("KPIs", lambda: kpis(events, journey=journey), rows)
        if conversion is not None:
            by_touchpoint: dict[str, Any] = {
                "conversion": conversion,
                "touch": "touchpoint",
                "journey": journey,
                "models": "position_based",
            }
            _clock(
                "attribution (position based, touchpoints)",
                lambda: attribution(events, **by_touchpoint),
                rows,
            )
            # The living map's own call reads the touches from its stage tables (their
            # labelled events): timed on tables built beforehand (not counted).
            with StageTables(events, journey, facts=True) as tables:
                _clock(
                    "attribution (the same, from the stage tables)",
                    lambda: attribution(events, **by_touchpoint, stage_tables=tables),
                    rows,
                )
    if args.stage_block:
        _stage_block(events, journey, conversion, rows)
    print("-- the living map", flush=True)
    for _ in range(args.runs):
        _clock("living map", lambda: living_map(events, journey, facts=True), rows)
    if not args.skip_report:
        print("-- the report", flush=True)
        steps: list[tuple[str, float, float]] = []

        def progress(what: str, _done: int, _total: int) -> None:
            steps.append((what, time.perf_counter(), time.process_time()))

        wall, cpu = time.perf_counter(), time.process_time()
        report = build_report(workspace, journey, progress=progress)
        steps.append(("end", time.perf_counter(), time.process_time()))
        for (what, t0, c0), (_next, t1, c1) in itertools.pairwise(steps):
            print(f"    {t1 - t0:8.2f} s {c1 - c0:8.2f} CPU  {what}", flush=True)
        with tempfile.TemporaryDirectory() as folder:
            path = write_report(report, Path(folder) / "report.html")
            size = path.stat().st_size
        rows.append(
            ("report (build + HTML)", time.perf_counter() - wall, time.process_time() - cpu)
        )
        print(f"{rows[-1][1]:8.2f} s {rows[-1][2]:8.2f} CPU  report ({size / 1e6:.1f} MB HTML)")
    print()
    for label, target in TARGETS.items():
        for name, seconds, _cpu in rows:
            if name == label:
                verdict = "met" if seconds <= target else "MISSED"
                print(f"{label}: {seconds:.2f} s (target <= {target:.0f} s at 10M): {verdict}")
    print(f"peak RSS {_peak_rss_mb():,.0f} MB, load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
