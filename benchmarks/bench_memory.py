"""Memory benchmark: one limit, measured. Does a worker stay within ``memory_limit_mb``?

For each limit (256, 512, 1024 MB by default) and each memory-heavy query shape of
``tests/engines/heavy_queries.py`` (asking for twice the limit; sorts, joins and aggregates,
which spill, for once the limit), runs the query on a one-worker
engine and prints the outcome (ok, or the error code), the seconds it took, the worker's peak
resident memory (``VmHWM``, read from outside every 2 ms by
:class:`gateway.engines.memory.PeakWatch`) against the limit, and whether the worker was
replaced. It then runs the shapes again with the OS guard off (``os_memory_guard=False``), so
only the parent's watchdog stands between the query and the machine: the difference between
its peak and the limit is the watchdog's tolerance.

Usage:
    python benchmarks/bench_memory.py [--limits 256 512 1024] [--factor 2.0] [--dir DIR]
        [--shapes sort repeat ...] [--no-spill]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.engines.heavy_queries

from tests.engines.conftest import build_warehouse
from tests.engines.heavy_queries import HEAVY, SPILLABLE

from gateway.engines import DuckDBEngine, EngineTuning, QueryLimits
from gateway.engines.memory import PeakWatch
from gateway.errors import GatewayError

_MB = 2**20


def run(args: argparse.Namespace) -> None:
    root = Path(args.dir or tempfile.mkdtemp(prefix="bench-memory-"))
    root.mkdir(parents=True, exist_ok=True)
    warehouse = root / "warehouse.duckdb"
    if not warehouse.exists():
        build_warehouse(warehouse)
    guards = (True, False) if args.watchdog_only is None else (not args.watchdog_only,)
    print(
        f"{'guard':9} {'limit':>6} {'shape':13} {'outcome':15} {'s':>5} "
        f"{'peak MB':>8} {'peak/limit':>10} {'over MB':>8} {'replaced':>8}"
    )
    worst: dict[bool, float] = {}
    for os_guard in guards:
        for limit in args.limits:
            tuning = EngineTuning(
                os_memory_guard=os_guard,
                spill=not args.no_spill,
                temp_directory=root / "spill",
                max_temp_directory_mb=4 * limit,
                start_timeout_s=60,
            )
            limits = QueryLimits(
                timeout_s=120, memory_limit_mb=limit, max_rows=1000, max_result_bytes=2**34
            )
            with DuckDBEngine(
                warehouse,
                root / f"results-{limit}-{os_guard}",
                workers=1,
                limits=limits,
                tuning=tuning,
            ) as engine:
                for name in args.shapes:
                    factor = args.spill_factor if name in SPILLABLE else args.factor
                    sql = HEAVY[name](int(limit * _MB * factor))
                    restarts = engine.stats().restarts
                    started = time.monotonic()
                    with PeakWatch(engine.worker_pids) as watch:
                        try:
                            engine.execute(
                                sql, {}, limits=limits, query_id=f"{name}-{time.time_ns()}"
                            ).discard()
                            outcome = "ok"
                        except GatewayError as exc:
                            outcome = exc.code
                    elapsed = time.monotonic() - started
                    peak = watch.peak_bytes / _MB
                    over = max(0.0, peak - limit)
                    worst[os_guard] = max(worst.get(os_guard, 0.0), over)
                    replaced = engine.stats().restarts - restarts
                    label = "os+watch" if os_guard else "watchdog"
                    print(
                        f"{label:9} {limit:6} {name:13} {outcome:15} {elapsed:5.1f} "
                        f"{peak:8.0f} {peak / limit:10.2f} {over:8.0f} {replaced:8}",
                        flush=True,
                    )
                    engine.execute(
                        "SELECT count(*) AS n FROM crime",
                        {},
                        limits=limits,
                        query_id=f"next-{time.time_ns()}",
                    ).discard()
    for os_guard, over in worst.items():
        label = "OS guard + watchdog" if os_guard else "watchdog alone"
        print(f"largest peak above the limit, {label}: {over:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limits", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--factor", type=float, default=2.0, help="memory asked / limit")
    parser.add_argument(
        "--spill-factor", type=float, default=1.0, help="the same for sorts, joins, aggregates"
    )
    parser.add_argument("--shapes", nargs="+", default=list(HEAVY), choices=list(HEAVY))
    parser.add_argument("--dir", help="working directory (default: a new temporary one)")
    parser.add_argument("--no-spill", action="store_true", help="DuckDB may not spill")
    parser.add_argument(
        "--watchdog-only",
        action="store_true",
        default=None,
        help="only the run without the OS guard",
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()
