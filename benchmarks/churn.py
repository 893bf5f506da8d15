"""Time the churn features (and, on request, the whole churn analysis) on the seeded demo log.

    python benchmarks/churn.py --events 1M               # a smoke run
    python benchmarks/churn.py                           # 10M events (~600k people)
    python benchmarks/churn.py --events 1M --full        # + the model, drivers, triggers
    python benchmarks/churn.py --events 1M --full --steps  # + where churn()'s time goes
    python benchmarks/churn.py --workspace demo-workspace --map b2c-ecommerce

The events come from :func:`jornada.demo.generator.generate_dataset` (seed 7), loaded once
by the real loader into ``benchmarks/data/timing-<N>-<seed>.duckdb``: the store
``benchmarks/timing.py`` builds and reuses (identities are not resolved, so a customer is a
source key). ``--workspace`` times an existing workspace instead.

Each step runs ``--repeat`` times on one read-only connection; the script prints the best
and median wall seconds, the CPU seconds of the best run (all threads: steadier than wall
time on a shared machine) and the peak resident memory. The features are materialised
(Arrow) at a cutoff 60 days before the end, as the churn model's evaluation period does.
Target at 10M events: the features of every customer (one aggregation) <= 5 s.
``--steps`` runs ``churn()`` once more under cProfile and prints the cumulative seconds of
its steps (profiling adds a little overhead; the engine's queries are not slowed).

``--report`` (with ``--workspace`` and ``--map``) times ``churn()`` as the report calls it:
the workspace opened as the product opens it (its ``memory_limit``), churn as its
``[churn]`` settings define it, the map, the 20 customers the report lists; ``--repeat``
runs, wall and CPU seconds of each.

``--auc`` measures what fitting on a sample costs (``churn()`` fits on a seeded, weighted
sample beyond ``MAX_FIT_ROWS`` customers): the model of the time-based split is fitted on
all the training customers and on samples of 200k, 100k, 50k... down to a tenth of them
(drawn as ``churn()`` draws them, seeds 0 and 1), and each one's ROC AUC, PR AUC and Brier
score on the whole held-out period are printed with its CPU seconds (one thread, as
``churn()`` fits). Every customer's features are computed as ``churn()`` computes those of
its samples (every customer wanted). ``--memory-limit 2GB`` keeps the engine small.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import pstats
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# The sibling scripts' "10M" parser, memory probe and store (benchmarks/ is on sys.path
# when a script there runs).
from generate import _peak_rss_mb, parse_count
from timing import benchmark_database

from jornada.analytics import _churn_model as model_
from jornada.analytics.churn import (
    ChurnDefinition,
    _default_as_of,
    _features_of,
    _log_range,
    _matrix,
    churn,
)
from jornada.analytics.features import feature_spec, features
from jornada.engine import Engine
from jornada.model import Journey
from jornada.model.templates import load_template

TARGETS = {"features": 5.0}
DEMO_CANCEL = ("account_closed", "email_unsubscribed")


def _timed(run: Callable[[], Any], repeat: int) -> tuple[list[tuple[float, float]], Any]:
    runs, result = [], None
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        result = run()
        runs.append((time.perf_counter() - started, time.process_time() - cpu))
    return runs, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=parse_count, default=parse_count("10M"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workspace", type=Path, help="time this workspace's events instead")
    parser.add_argument("--map", help="a template id: add touchpoint and stage columns too")
    parser.add_argument("--full", action="store_true", help="time churn() end to end too")
    parser.add_argument("--steps", action="store_true", help="with --full: churn() by step")
    parser.add_argument("--auc", action="store_true", help="held-out AUC with fit samples")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--memory-limit", help="the engine's memory limit, such as 2GB")
    parser.add_argument("--report", action="store_true", help="churn() as the report runs it")
    args = parser.parse_args(argv)
    if args.report:
        if args.workspace is None or args.map is None:
            parser.error("--report needs --workspace and --map")
        _report(args.workspace, args.map, args.repeat)
        return 0

    database = benchmark_database(args.events, args.seed, args.workspace)
    if database is None:
        return 1
    journey: Journey | None = load_template(args.map) if args.map else None
    engine = Engine.duckdb(
        database, read_only=True, threads=args.threads, memory_limit=args.memory_limit
    )
    try:
        events = engine.table("events")
        count = int(events.count().execute())
        last = events.ts.max().execute()
        cutoff = last.to_pydatetime().replace(microsecond=0) - dt.timedelta(days=60)
        print(f"{count:,} events ({database}), cutoff {cutoff:%Y-%m-%d %H:%M}")
        spec_runs, spec = _timed(
            lambda: feature_spec(events, before=cutoff, journey=journey), args.repeat
        )
        feature_runs, table = _timed(
            lambda: features(events, cutoff, spec=spec, journey=journey).to_pyarrow(),
            args.repeat,
        )
        print(f"{table.num_rows:,} customers x {len(spec.columns())} feature columns")
        steps: dict[str, list[tuple[float, float]]] = {
            "column choice (feature_spec)": spec_runs,
            "features": feature_runs,
        }
        if args.full:
            definition = ChurnDefinition(cancel=DEMO_CANCEL)
            steps["churn() end to end"], _ = _timed(
                lambda: churn(events, definition=definition, journey=journey), 1
            )
        print(
            f"{'step':<32}{'best s':>9}{'median s':>10}{'CPU s':>8}{'target':>8}"
            f"{'peak RSS MiB':>14}"
        )
        for name, runs in steps.items():
            best = min(runs)
            target = f"{TARGETS[name]:.1f}" if name in TARGETS else ""
            print(
                f"{name:<32}{best[0]:>9.3f}{statistics.median(w for w, _ in runs):>10.3f}"
                f"{best[1]:>8.2f}{target:>8}{_peak_rss_mb():>14,.0f}",
                flush=True,
            )
        if args.full and args.steps:
            _steps(lambda: churn(events, definition=definition, journey=journey))
        if args.auc:
            _auc(events, ChurnDefinition(cancel=DEMO_CANCEL), journey)
    finally:
        engine.close()
    return 0


def _report(root: Path, map_id: str, repeat: int) -> None:
    from jornada.workspace import Workspace

    workspace = Workspace.open(root)
    try:
        journey = workspace.load_map(map_id)
        settings = (workspace.settings.model_extra or {}).get("churn")
        definition = ChurnDefinition.from_settings(settings if isinstance(settings, dict) else None)
        events = workspace.events()
        print(f"churn as the report runs it: {root}, map {map_id}, {definition.describe()}")
        runs, _ = _timed(
            lambda: churn(events, definition=definition, journey=journey, top=20), repeat
        )
        for k, (wall, cpu) in enumerate(runs):
            print(f"run {k}: {wall:.2f} s, {cpu:.2f} CPU s, peak RSS {_peak_rss_mb():,.0f} MiB")
        print(f"best: {min(w for w, _ in runs):.2f} s, {min(c for _, c in runs):.2f} CPU s")
    finally:
        workspace.close()


def _everyone(
    events: Any, definition: ChurnDefinition, cutoffs: list[dt.datetime], journey: Journey | None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every customer's features (column-major) and labels at each cutoff: the rows
    ``churn()`` samples from, computed as it computes the sampled ones (every customer
    wanted)."""
    spec = feature_spec(events, before=cutoffs[0], journey=journey)
    windows = [(cutoff, cutoff + definition.window) for cutoff in cutoffs]
    panel = definition.panel(events, windows, journey)
    labels = panel.select("customer_id", "j", "label").order_by(["j", "customer_id"]).to_pyarrow()
    wanted = labels.select(["customer_id", "j"]).rename_columns(["customer_id", "cutoff_index"])
    table = _features_of(events, wanted, cutoffs, spec, journey)
    if table.num_rows != labels.num_rows:
        raise SystemExit("the features do not cover the population: a bug")
    index = labels["j"].to_numpy(zero_copy_only=False)
    frames = []
    for k in range(len(cutoffs)):
        rows = np.flatnonzero(index == k)
        part = table.slice(int(rows[0]), len(rows))
        if not part["customer_id"].equals(labels["customer_id"].take(rows)):
            raise SystemExit("the features and the labels are not in the same order: a bug")
        y = labels["label"].to_numpy(zero_copy_only=False)[rows].astype(bool)
        frames.append((_matrix(part, spec.columns()), y))
    return frames


def _auc(events: Any, definition: ChurnDefinition, journey: Journey | None) -> None:
    _, last = _log_range(events)
    as_of = _default_as_of(last)
    eval_cutoff = as_of - definition.window
    train_cutoff = eval_cutoff - definition.window
    (train_x, train_y), (held_x, held_y) = _everyone(
        events, definition, [train_cutoff, eval_cutoff], journey
    )
    customers = len(train_y)
    sizes = [customers] + [
        n for n in (200_000, 100_000, 50_000, 20_000, 10_000) if customers // 10 <= n < customers
    ]
    print(
        f"held-out ROC/PR AUC by fit sample ({customers:,} training customers, "
        f"{len(held_y):,} held out, {int(held_y.sum()):,} positive):"
    )
    print(
        f"{'fitted on':>12}{'seed':>6}{'ROC AUC':>10}{'PR AUC':>10}{'Brier':>11}{'fit CPU s':>11}"
    )
    with model_.limited_threads():
        for size in sizes:
            for seed in (0, 1) if size < customers else (0,):
                sample = model_.fit_rows(train_y, seed=seed, limit=size)
                x, y, weights = train_x, train_y, None
                if sample is not None:
                    x = np.asfortranarray(train_x[sample[0]])  # column-major, as churn() fits
                    y, weights = train_y[sample[0]], sample[1]
                cpu = time.process_time()
                fitted = model_.fit(x, y, seed=seed, weights=weights)
                cpu = time.process_time() - cpu
                m = model_.evaluate(model_.predict(fitted, held_x), held_y)
                print(
                    f"{len(y):>12,}{seed:>6}{m.roc_auc:>10.4f}{m.pr_auc:>10.4f}"
                    f"{m.brier:>11.7f}{cpu:>11.2f}",
                    flush=True,
                )


# The steps of churn() (function names in jornada.analytics and scikit-learn).
STEPS = {
    "features and labels, 3 cutoffs": ("churn.py", "_sampled_frames"),
    "  the sampled customers' features": ("churn.py", "_features_of"),
    "model fits (train, final)": ("_churn_model.py", "fit"),
    "predictions (held out, current)": ("_churn_model.py", "predict"),
    "permutation importance": ("_churn_model.py", "importances"),
    "partial dependence": ("_churn_model.py", "dependences"),
    "reasons (top customers)": ("_churn_model.py", "reasons"),
    "triggers: property choice": ("_churn_triggers.py", "categorical_properties"),
    "triggers: exposure counts": ("_churn_triggers.py", "exposure_counts"),
    "churn() end to end": ("churn.py", "churn"),
}


def _steps(run: Callable[[], Any]) -> None:
    profile = cProfile.Profile(time.process_time)  # CPU seconds of this process
    started = time.perf_counter()
    profile.runcall(run)
    wall = time.perf_counter() - started
    stats: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    print(f"churn() by step (wall {wall:.2f} s; CPU seconds of the Python process):")
    for label, (filename, function) in STEPS.items():
        cpu = sum(
            value[3]
            for (path, _, name), value in stats.items()
            if name == function and path.endswith("/analytics/" + filename)
        )
        print(f"  {label:<34}{cpu:>8.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
