"""Fairness benchmark: a light user's latency while two heavy users keep the engine busy.

One engine (real worker processes), three users:

- two **heavy** users, each keeping ``--heavy-concurrency`` queries in flight (the API's default
  cap of concurrent queries per user is 2) — each query runs until its time limit
  (``--heavy-s``) and is resubmitted at once;
- one **light** user running a small aggregate, one at a time, ``--light`` times, with a short
  pause between queries.

Printed, in one run: the light user's p50 / p95 / max latency and its refusals

  1. alone (no heavy load),
  2. under the heavy load with fair scheduling (per-user share, a reserved worker,
     fewest-running first: the gateway's default),
  3. under the same load with fair scheduling off (first come, first served, as the pool
     scheduled before), unless ``--skip-unfair``,

and how many heavy queries ran, and the most workers the heavy users held at once.

Usage:
    python benchmarks/bench_fairness.py [--workers 4] [--heavy-s 2] [--light 60] [--dir DIR]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from gateway.engines import Cancellation, DuckDBEngine, EngineTuning, QueryLimits
from gateway.errors import EngineBusy, GatewayError

ROWS = 1_000_000
LIGHT_SQL = "SELECT la, count(*) AS n, sum(amount) AS total FROM big WHERE la = $la GROUP BY la"
# Runs until its time limit: a four-way self join of a small table.
HEAVY_SQL = (
    "SELECT count(*) FROM small a, small b, small c, small d "
    "WHERE hash(a.id, b.id, c.id, d.id) = 42"
)
LIGHT_LIMITS = QueryLimits(timeout_s=30, memory_limit_mb=512)


def build_warehouse(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute(
        f"""CREATE TABLE big AS SELECT i AS id, i * 0.5 AS amount, 'E0600000' || (i % 4 + 1) AS la
        FROM range({ROWS}) t(i)"""
    )
    con.execute("CREATE TABLE small AS SELECT i AS id FROM range(5000) t(i)")
    con.close()


@dataclass
class Scenario:
    """What one run measured."""

    light: list[float] = field(default_factory=list)
    light_busy: int = 0
    heavy_done: int = 0
    heavy_busy: int = 0
    heavy_peak: int = 0


def run_scenario(
    warehouse: Path, root: Path, *, workers: int, fair: bool, heavy: int, args: argparse.Namespace
) -> Scenario:
    ids = itertools.count()
    out = Scenario()
    lock = threading.Lock()
    stop = Cancellation()
    heavy_limits = QueryLimits(timeout_s=args.heavy_s, memory_limit_mb=512)
    tuning = EngineTuning(fair=fair, queue_timeout_s=args.queue_timeout_s, grace_s=1.0)
    results = root / f"results-{'fair' if fair else 'fifo'}-{heavy}"
    with DuckDBEngine(warehouse, results, workers=workers, tuning=tuning) as engine:

        def heavy_user(user: str) -> None:
            while not stop.cancelled:
                try:
                    engine.execute(
                        HEAVY_SQL,
                        {},
                        limits=heavy_limits,
                        query_id=f"h{next(ids)}",
                        cancel=stop,
                        user=user,
                    )
                except EngineBusy:
                    with lock:
                        out.heavy_busy += 1
                except GatewayError:
                    pass  # its time limit: the expected end of a heavy query
                finally:
                    with lock:
                        out.heavy_done += 1

        threads = [
            threading.Thread(target=heavy_user, args=(f"heavy-{u}",), daemon=True)
            for u in range(2)
            for _ in range(heavy)
        ]
        for thread in threads:
            thread.start()
        if heavy:
            time.sleep(1.0)  # let the heavy users take what they can
        for i in range(args.light):
            started = time.perf_counter()
            try:
                result = engine.execute(
                    LIGHT_SQL,
                    {"la": f"E0600000{i % 4 + 1}"},
                    limits=LIGHT_LIMITS,
                    query_id=f"l{next(ids)}",
                    user="light",
                )
                result.discard()
                out.light.append(time.perf_counter() - started)
            except EngineBusy:
                out.light_busy += 1
            out.heavy_peak = max(out.heavy_peak, engine.stats().running)  # light one done
            time.sleep(args.pause_s)
        stop.cancel()
        for thread in threads:
            thread.join(30)
    return out


def describe(samples: list[float]) -> str:
    if not samples:
        return "no answers"
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {p50 * 1e3:8.1f} ms   p95 {p95 * 1e3:8.1f} ms   max {ordered[-1] * 1e3:8.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--heavy-concurrency", type=int, default=2)
    parser.add_argument("--heavy-s", type=float, default=2.0, help="each heavy query's time")
    parser.add_argument("--light", type=int, default=60, help="light queries per scenario")
    parser.add_argument("--pause-s", type=float, default=0.05)
    parser.add_argument("--queue-timeout-s", type=float, default=30.0)
    parser.add_argument("--skip-unfair", action="store_true")
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-fairness-"))
    warehouse = root / "warehouse.duckdb"
    if not warehouse.exists():
        build_warehouse(warehouse)
    print(
        f"{args.workers} workers on {os.cpu_count()} cores; 2 heavy users × "
        f"{args.heavy_concurrency} queries of {args.heavy_s:g} s; light user: {args.light} "
        f"queries ({LIGHT_SQL!r} over {ROWS:,} rows)"
    )
    runs = [
        ("1. light user alone", True, 0),
        ("2. + 2 heavy users, fair scheduling", True, args.heavy_concurrency),
    ]
    if not args.skip_unfair:
        runs.append(("3. + 2 heavy users, first come first served", False, args.heavy_concurrency))
    for title, fair, heavy in runs:
        got = run_scenario(warehouse, root, workers=args.workers, fair=fair, heavy=heavy, args=args)
        print(f"\n{title}")
        print(f"   light  {describe(got.light)}   refused busy: {got.light_busy}")
        if heavy:
            print(
                f"   heavy  {got.heavy_done} queries ended, {got.heavy_busy} refused busy; "
                f"most workers busy at once while the light user ran: {got.heavy_peak}"
            )


if __name__ == "__main__":
    main()
