"""Benchmark of identity resolution on a synthetic identifiers table.

    python benchmarks/identity.py                  # 10M events
    python benchmarks/identity.py --events 1000000 --seed 7
    python benchmarks/identity.py --database /tmp/ids.duckdb   # keep the data for reruns

A seeded population of people (one in eight events' worth) with 1-3 devices, an
e-mail (85%), a phone (70%) and a loyalty card (40%) produces events on three
channels, each with its source key as kind ``customer``:

- web (60%): key = a device id (an md5 hex); the e-mail when logged in (25%);
- store (20%): key = the loyalty card, else the phone, else a receipt number; the
  phone (80%), the e-mail (20%), or one of 50 shop e-mails typed for the customer
  (1%: the guard rail's case);
- e-mail (20%, people with an e-mail): key = the e-mail address, and the e-mail.

That is three identifier kinds (customer, email, phone), about 1.45 identifier rows
per event, in the order a loader writes them (per source and column, event ids are
content hashes). The table is built from Arrow through DuckDB in a temporary
database file by a child process; this process then opens the file, times
:func:`resolve_identities` and prints seconds, identifier rows per second, CPU
seconds, peak RSS (of this process: the resolution only) and the load average (the
machine may be shared).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from jornada.engine import Engine
from jornada.events.identity import resolve_identities

KINDS = ["customer", "email", "phone"]
# value types, formatted in SQL from integer codes
DEVICE, LOYALTY, PHONE, EMAIL, RECEIPT, SHOP_EMAIL = range(6)


def synthetic_codes(events: int, seed: int) -> pa.Table:
    """Identifier rows as integer codes: event, kind, value type, value code."""
    rng = np.random.default_rng(seed)
    people = max(1, events // 8)
    has_email = rng.random(people) < 0.85
    has_phone = rng.random(people) < 0.70
    has_loyalty = rng.random(people) < 0.40
    devices = rng.integers(1, 4, people)
    first_device = np.concatenate([[0], np.cumsum(devices)[:-1]])
    activity = rng.lognormal(0.0, 1.0, people)
    person = rng.choice(people, size=events, p=activity / activity.sum())
    channel = rng.choice(3, size=events, p=[0.6, 0.2, 0.2])
    channel = np.where((channel == 2) & ~has_email[person], 0, channel)
    event = np.arange(events, dtype=np.int64)
    web, store, mail = channel == 0, channel == 1, channel == 2
    parts: list[tuple[np.ndarray, int, int, np.ndarray]] = []

    def add(mask: np.ndarray, kind: int, vtype: int, code: np.ndarray) -> None:
        parts.append((event[mask], kind, vtype, code[mask]))

    device = first_device[person] + (rng.random(events) * devices[person]).astype(np.int64)
    add(web, 0, DEVICE, device)
    add(web & has_email[person] & (rng.random(events) < 0.25), 1, EMAIL, person)
    loyal = store & has_loyalty[person]
    by_phone = store & ~has_loyalty[person] & has_phone[person]
    add(loyal, 0, LOYALTY, person)
    add(by_phone, 0, PHONE, person)
    add(store & ~loyal & ~by_phone, 0, RECEIPT, event)
    add(store & has_phone[person] & (rng.random(events) < 0.8), 2, PHONE, person)
    draw = rng.random(events)
    add(store & has_email[person] & (draw < 0.2), 1, EMAIL, person)
    add(store & (draw >= 0.2) & (draw < 0.21), 1, SHOP_EMAIL, rng.integers(0, 50, events))
    add(mail, 0, EMAIL, person)
    add(mail, 1, EMAIL, person)
    return pa.table(
        {
            "event": np.concatenate([p[0] for p in parts]),
            "kind": np.concatenate([np.full(len(p[0]), p[1], np.int8) for p in parts]),
            "vtype": np.concatenate([np.full(len(p[0]), p[2], np.int8) for p in parts]),
            "code": np.concatenate([p[3].astype(np.int64) for p in parts]),
        }
    )


def build(path: Path, events: int, seed: int) -> None:
    """Create table ``identifiers(event_id, kind, value)`` in the DuckDB file."""
    engine = Engine.duckdb(path)
    engine.sql("SET enable_progress_bar = false")
    engine.duck.register("codes", synthetic_codes(events, seed))
    engine.sql(
        "CREATE TABLE identifiers AS SELECT "
        "  left(md5('event ' || event::VARCHAR), 20) AS event_id, "
        "  ($kinds)[kind + 1] AS kind, "
        "  CASE vtype "
        "    WHEN 0 THEN md5('device ' || code::VARCHAR) "
        "    WHEN 1 THEN 'L' || lpad(code::VARCHAR, 10, '0') "
        "    WHEN 2 THEN '55' || (11 + code % 89)::VARCHAR || '9' "
        "                || lpad((code % 100000000)::VARCHAR, 8, '0') "
        "    WHEN 3 THEN 'user' || code::VARCHAR || '@example.com' "
        "    WHEN 4 THEN 'receipt-' || code::VARCHAR "
        "    ELSE 'loja' || code::VARCHAR || '@shop.example' END AS value "
        "FROM codes",
        {"kinds": KINDS},
    )
    engine.duck.unregister("codes")
    engine.close()


def build_in_child(path: Path, events: int, seed: int) -> None:
    """Build the data in a child process, so that this one's peak RSS is the resolution's."""
    started = time.perf_counter()
    child = multiprocessing.get_context("spawn").Process(target=build, args=(path, events, seed))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"building the data failed ({child.exitcode})")
    print(f"built {events:,} events in {time.perf_counter() - started:.1f} s")


def run(path: Path, events: int, threads: int | None) -> None:
    """Time :func:`resolve_identities` on the database at ``path`` and print the figures."""
    engine = Engine.duckdb(path, threads=threads)
    rows = engine.sql("SELECT count(*) FROM identifiers").fetchone()
    count = int(rows[0]) if rows else 0
    load = os.getloadavg()[0]
    cpu = time.process_time()
    started = time.perf_counter()
    report = resolve_identities(engine)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine.close()
    print(str(report).splitlines()[0])
    print(
        f"{events:,} events, {count:,} identifier rows: {seconds:.2f} s, "
        f"{count / seconds:,.0f} identifier rows/s, {cpu:.1f} CPU s, "
        f"peak RSS {peak:,.0f} MB, load average before {load:.1f} on {os.cpu_count()} cores"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads")
    parser.add_argument(
        "--database",
        type=Path,
        default=None,
        help="keep the data in this DuckDB file (built when missing) instead of a temporary one",
    )
    args = parser.parse_args()
    if args.database is not None:
        if not args.database.exists():
            build_in_child(args.database, args.events, args.seed)
        run(args.database, args.events, args.threads)
        return
    with tempfile.TemporaryDirectory(prefix="jornada-identity-") as folder:
        path = Path(folder) / "bench.duckdb"
        build_in_child(path, args.events, args.seed)
        run(path, args.events, args.threads)


if __name__ == "__main__":
    main()
