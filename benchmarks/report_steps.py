"""Run the report's steps one at a time, each timed: wall, CPU seconds, peak RSS, spill.

    python benchmarks/report_steps.py WORKSPACE                     # every step, in order
    python benchmarks/report_steps.py WORKSPACE --steps paths,clv   # some (no living map)
    python benchmarks/report_steps.py WORKSPACE --memory-limit 5GB --max-temp 14GB \\
        --kill-rss 9GB

The steps are those :func:`jornada.report.build_report` runs, in its order, on the same
objects (one :class:`~jornada.analytics.stages.StageTables`, the living map, the
:class:`~jornada.report._sections.Context`): ``living`` (stage tables and living map),
then each section builder, ``opportunities`` and ``html``. Sections that read the living
map (``living-map``, ``stages``, ``stalled``, ``kpis``, ``departments``,
``opportunities``) need the ``living`` step; the others run without it.

Peak RSS is per step: the kernel's high-water mark (``VmHWM``) is reset before each step
by writing 5 to ``/proc/self/clear_refs`` (Linux). A watcher thread samples the RSS and
the size of the engine's temporary directory (DuckDB's spill) every 0.2 s, keeps each
step's peak spill, and kills the process if the RSS passes ``--kill-rss``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jornada.events.filters import EventScope, scope_events
from jornada.living.overlay import default_conversion, living_map
from jornada.report._parts import Section
from jornada.report._sections import (
    BUILDERS,
    STAGE_TABLE_READERS,
    Context,
    _conversion_stage,
    opportunities,
)
from jornada.report.build import SECTION_ORDER, Report
from jornada.workspace import Workspace

NEEDS_LIVING = frozenset({"story", "living-map", "stages", "stalled", "kpis", "departments"})
UNITS = {"MB": 10**6, "GB": 10**9}


def _bytes(size: str) -> int:
    return int(float(size[:-2]) * UNITS[size[-2:].upper()])


def _status(field: str) -> int:
    """A ``/proc/self/status`` field in bytes (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def _disk_usage(folder: Path) -> int:
    total = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                    total += max(info.st_blocks * 512, info.st_size)
                except FileNotFoundError:
                    continue
    except FileNotFoundError:
        return 0
    return total


class Watcher(threading.Thread):
    """Samples RSS and spill; kills the process past ``kill_rss`` bytes."""

    def __init__(self, spill_dir: Path, kill_rss: int) -> None:
        super().__init__(daemon=True)
        self.spill_dir, self.kill_rss = spill_dir, kill_rss
        self.peak_spill = 0
        self.step = ""

    def reset(self, step: str) -> None:
        self.step, self.peak_spill = step, _disk_usage(self.spill_dir)

    def run(self) -> None:
        while True:
            rss = _status("VmRSS")
            self.peak_spill = max(self.peak_spill, _disk_usage(self.spill_dir))
            if rss > self.kill_rss:
                print(
                    f"!! watchdog: RSS {rss / 1e9:.2f} GB > {self.kill_rss / 1e9:.1f} GB "
                    f"in step {self.step!r}; spill {self.peak_spill / 1e9:.2f} GB: killed",
                    flush=True,
                )
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--map", default="b2c-ecommerce")
    parser.add_argument("--steps", help="Comma-separated steps (default: all, in order).")
    parser.add_argument("--memory-limit", default="5GB")
    parser.add_argument("--max-temp", default="14GB", help="DuckDB max_temp_directory_size.")
    parser.add_argument("--kill-rss", default="9GB")
    args = parser.parse_args(argv)

    workspace = Workspace.open(args.workspace)
    workspace.settings.memory_limit = args.memory_limit
    engine = workspace.engine
    engine.sql(f"SET max_temp_directory_size = '{args.max_temp}'")
    limit = engine.sql("SELECT current_setting('memory_limit')").fetchone()
    temp_dir = Path(
        str((engine.sql("SELECT current_setting('temp_directory')").fetchone() or "")[0])
    )
    journey = workspace.load_map(args.map)
    conversion = default_conversion(journey)
    watcher = Watcher(temp_dir, _bytes(args.kill_rss))
    watcher.start()
    print(f"memory_limit {limit}, spill in {temp_dir}, conversion {conversion!r}", flush=True)

    names = [name for name, _ in BUILDERS]
    every = ["living", *names, "opportunities", "html"]
    wanted = args.steps.split(",") if args.steps else every
    unknown = set(wanted) - set(every)
    if unknown:
        parser.error(f"unknown steps {sorted(unknown)}; steps: {', '.join(every)}")
    if "living" not in wanted and NEEDS_LIVING & set(wanted):
        parser.error(f"{sorted(NEEDS_LIVING & set(wanted))} need the 'living' step")

    events = workspace.events()
    scoped = scope_events(events, EventScope())
    state: dict[str, Any] = {}
    rows: list[tuple[str, float, float, float, float, float]] = []

    def step(name: str, run: Callable[[], Any]) -> Any:
        _reset_peak()
        watcher.reset(name)
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        row = (
            name,
            time.perf_counter() - wall,
            time.process_time() - cpu,
            _status("VmHWM") / 1e9,
            watcher.peak_spill / 1e9,
            _status("VmRSS") / 1e9,
        )
        rows.append(row)
        print(
            f"{row[1]:8.1f} s {row[2]:8.1f} CPU {row[3]:6.2f} GB peak RSS "
            f"{row[4]:6.2f} GB spill {row[5]:6.2f} GB after  {name}  (load {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        return result

    def living() -> Context:
        from jornada.analytics.stages import StageTables

        tables = StageTables(scoped, journey, facts=True)
        state["tables"] = tables
        result = living_map(events, journey, conversion=conversion, stage_tables=tables, facts=True)
        return Context(
            events=scoped,
            journey=journey,
            language="en",
            conversion=conversion,
            purchase="purchase",
            living=result,
            _stage_tables=tables,
        )

    context: Context
    if "living" in wanted:
        context = step("living", living)
    else:
        context = Context(scoped, journey, "en", conversion, "purchase", None)  # type: ignore[arg-type]
    built: dict[str, Any] = {}
    readers = [name for name in names if name in STAGE_TABLE_READERS and name in wanted]
    for name, builder in BUILDERS:
        if name not in wanted:
            continue
        built[name] = step(name, functools.partial(builder, context))
        if readers and name == readers[-1]:
            context.close()
    if "opportunities" in wanted:
        if "living" in wanted:
            built["opportunities"], ranked = step("opportunities", lambda: opportunities(context))
            if "html" in wanted:
                # Sections not run (churn, say) are left empty: the page is the rest.
                for name in SECTION_ORDER:
                    built.setdefault(name, Section(name, name))
                report = Report(
                    "report",
                    journey,
                    "en",
                    dt.datetime.now(dt.UTC),
                    conversion,
                    "purchase",
                    tuple(built[name] for name in SECTION_ORDER),
                    ranked,
                )
                html = step("html", report.to_html)
                print(f"HTML {len(html) / 1e6:.1f} MB", flush=True)
        else:
            from jornada.report._opportunities import week_funnels

            stage = _conversion_stage(context)
            assert stage is not None
            assert conversion is not None
            bound = [tp.id for tp in stage.touchpoints if tp.events is not None]
            step("week funnels", lambda: week_funnels(scoped, journey, conversion, bound))
    context.close()
    print(
        f"\nmax peak RSS {max(r[3] for r in rows):.2f} GB; total wall "
        f"{sum(r[1] for r in rows):.1f} s, CPU {sum(r[2] for r in rows):.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
