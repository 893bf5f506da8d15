"""Time customer lifetime value: the model fits on 100k customers and the RFM summary
from 10M events.

    python benchmarks/clv.py                          # 100k-customer fit, RFM on 10M events
    python benchmarks/clv.py --customers 1M --repeat 5
    python benchmarks/clv.py --events 100k            # a quick run on a small log
    python benchmarks/clv.py --workspace my-ws --purchase order
    python benchmarks/clv.py --skip-rfm               # the fits only

**Fits.** ``--customers`` customers are drawn from the BG/NBD story with CDNOW's
parameters (r 0.243, α 4.414, a 0.793, b 2.426, weeks), first purchases spread over a
year and times kept to whole days as an RFM summary from events has them, and values
from the Gamma-Gamma story (p 6.25, q 3.74, v 15.44). Timed: the BG/NBD fit as
``fit_clv`` runs it (distinct rows, then L-BFGS-B; target ≤ 1 s at 100k), the Gamma-Gamma
and Pareto/NBD fits, and the whole of ``fit_clv`` (all three fits, P(alive), monthly
forecasts over 12 months, CLV, the tracking curve).

**RFM.** The events come from :func:`jornada.demo.generator.generate_dataset` (seed 7),
loaded once into ``benchmarks/data/timing-<N>-<seed>.duckdb`` by the sibling
``timing.py`` (shared with it); the summary of ``--purchase`` events (one engine query)
is timed on a read-only connection. ``--workspace`` times an existing workspace instead.

Prints the best and median wall seconds of ``--repeat`` runs, the CPU seconds of the
best run (all threads: steadier than the wall clock on a shared machine) and the peak
resident memory after each step (the store is built in a child process, so loading
does not count).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

# Sibling scripts: the "10M" parser and memory probe, and the shared 10M-event store
# (benchmarks/ is on sys.path when a script there runs).
from generate import _peak_rss_mb, parse_count
from timing import benchmark_database

from jornada.analytics import _clv_models as models
from jornada.analytics.clv import RFMSummary, fit_clv, rfm_summary
from jornada.engine import Engine

TARGETS = {"BG/NBD fit": 1.0}
CDNOW_BGNBD = (0.243, 4.414, 0.793, 2.426)
CDNOW_GAMMA_GAMMA = (6.25, 3.74, 15.44)


def simulated_summary(customers: int, seed: int) -> RFMSummary:
    """An RFM summary (weeks) of customers drawn from the BG/NBD and Gamma-Gamma stories."""
    rng = np.random.default_rng(seed)
    r, alpha, a, b = CDNOW_BGNBD
    rates = rng.gamma(r, 1 / alpha, customers)  # purchases a week while alive
    drop = rng.beta(a, b, customers)
    first = rng.integers(0, 365, customers)  # first purchase day within a year
    ages = (365 - first) / 7
    count, last = np.zeros(customers, np.int64), np.zeros(customers)
    clock, alive = np.zeros(customers), np.ones(customers, bool)
    while alive.any():  # one round of purchases for everyone still buying
        who = np.flatnonzero(alive)
        clock[who] += rng.exponential(1 / rates[who])
        within = clock[who] <= ages[who]
        alive[who[~within]] = False
        bought = who[within]
        count[bought] += 1
        last[bought] = clock[bought]
        alive[bought[rng.random(len(bought)) < drop[bought]]] = False
    recency = np.floor(last * 7) / 7  # whole days, as from events
    p, q, v = CDNOW_GAMMA_GAMMA
    nu = rng.gamma(q, 1 / v, customers)
    values = np.where(
        count > 0, rng.gamma(p * np.maximum(count, 1), 1 / nu) / np.maximum(count, 1), np.nan
    )
    epoch_day = (date(2025, 1, 1) - date(1970, 1, 1)).days
    empty = np.zeros(0, np.int64)
    return RFMSummary(
        purchase="purchase",
        value="value",
        unit="week",
        calibration_end=date(2025, 12, 31),
        observation_end=date(2025, 12, 31),
        customer_ids=np.array([f"c{i}" for i in range(customers)], dtype=object),
        customer_keys=None,
        first_day=first + epoch_day,
        frequency=count,
        recency=recency,
        T=ages,
        monetary_value=values,
        holdout_frequency=np.zeros(customers, np.int64),
        holdout_value=np.zeros(customers),
        late_customers=0,
        repeat_days=empty,
        repeat_counts=empty,
    )


def timed(name: str, run: Callable[[], Any], repeat: int) -> Any:
    runs, result = [], None
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        result = run()
        runs.append((time.perf_counter() - started, time.process_time() - cpu))
    best = min(runs)
    target = f"{TARGETS[name]:.1f}" if name in TARGETS else ""
    print(
        f"{name:<30}{best[0]:>9.3f}{statistics.median(w for w, _ in runs):>10.3f}"
        f"{best[1]:>8.2f}{target:>8}{_peak_rss_mb():>14,.0f}",
        flush=True,
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--customers", type=parse_count, default=parse_count("100k"))
    parser.add_argument("--events", type=parse_count, default=parse_count("10M"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--purchase", default="purchase")
    parser.add_argument("--workspace", type=Path, help="time this workspace's events instead")
    parser.add_argument("--skip-rfm", action="store_true", help="time the fits only")
    args = parser.parse_args(argv)

    header = (
        f"{'step':<30}{'best s':>9}{'median s':>10}{'CPU s':>8}{'target':>8}{'peak RSS MiB':>14}"
    )
    summary = simulated_summary(args.customers, args.seed)
    x = summary.frequency.astype(np.float64)
    repeat = x > 0
    print(f"{args.customers:,} simulated customers, {int(repeat.sum()):,} repeat buyers")
    print(header)

    def bgnbd() -> models.Fit[models.BGNBDParams]:
        (ux, utx, uage), weights, _ = models.distinct_rows(x, summary.recency, summary.T)
        return models.fit_bgnbd(ux, utx, uage, weights)

    fit = timed("BG/NBD fit", bgnbd, args.repeat)
    timed(
        "Gamma-Gamma fit",
        lambda: models.fit_gamma_gamma(x[repeat], summary.monetary_value[repeat]),
        args.repeat,
    )
    (ux, utx, uage), weights, _ = models.distinct_rows(x, summary.recency, summary.T)
    print(f"  {len(ux):,} distinct (frequency, recency, T) rows")
    timed("Pareto/NBD fit", lambda: models.fit_pareto_nbd(ux, utx, uage, weights), args.repeat)
    timed("fit_clv (all, 12m)", lambda: fit_clv(summary, horizon="12m"), args.repeat)
    got = fit.params
    print(
        f"  BG/NBD r {got.r:.3f} alpha {got.alpha:.3f} a {got.a:.3f} b {got.b:.3f} "
        f"(drawn with {', '.join(map(str, CDNOW_BGNBD))})"
    )

    if args.skip_rfm:
        return 0
    database = benchmark_database(args.events, args.seed, args.workspace)
    if database is None:
        return 1
    engine = Engine.duckdb(database, read_only=True)
    try:
        events = engine.table("events")
        count = int(engine.execute(events.count()))
        print(f"{count:,} events ({database})")
        print(header)
        rfm = timed(
            "RFM summary",
            lambda: rfm_summary(events, args.purchase, engine=engine),
            args.repeat,
        )
        print(f"  {rfm.customers:,} buyers, {int((rfm.frequency > 0).sum()):,} repeat buyers")
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
