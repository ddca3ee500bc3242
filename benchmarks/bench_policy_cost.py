"""Policy at the cost of a scan (issue 18): the gateway over HTTP against raw DuckDB, same rows.

    python benchmarks/bench_policy_cost.py                         # scale 1 x 3 years
    python benchmarks/bench_policy_cost.py --scale 1 --scale 10 --years 1

For each warehouse (generated with the repository's generator and cached under
``--cache-dir``, so a scale 10 warehouse is built once):

1. the template-like query set of ``bench_rewrite.py``, run by ``s.patel`` (general level over
   all four authorities, so the gateway and raw DuckDB read the same rows) through a real
   ``gateway serve`` on loopback with the Python client (Arrow), and the same SQL on a plain
   read-only DuckDB connection with the same thread count; per query the medians and the ratio
   gateway / raw, then the median ratio and the worst query — once with the policy subqueries
   run live and once with precomputed masked projections (``GATEWAY_PROJECTIONS=1``; the
   server's start, which builds them, is timed; ``--mode`` picks one);
2. the fixed cost per query: p50/p99 of a trivial query (``SELECT 1``, Arrow) and of
   ``SELECT count(*) FROM crime`` (JSON) over HTTP, against the latter in-process.

Figures are printed, never asserted. The issue's targets (median <= 1.3x raw at scale 10, no
query worse than 2x, trivial p50 <= 4 ms) are printed beside what was reached.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import httpx
from bench_http import percentile, prepare, serve
from bench_rewrite import QUERIES

from gateway.client import connect
from gateway.datadir import DataDir

PRINCIPAL = "s.patel"  # general level, all four authorities
PURPOSE = "SA-2026"
TRIVIAL = "SELECT 1 AS x"
SMALL = "SELECT count(*) AS n FROM crime"


def timed(fn: Callable[[], object], reps: int) -> list[float]:
    """Wall-clock seconds of ``reps`` calls of ``fn``."""
    out = []
    for _ in range(reps):
        began = time.perf_counter()
        fn()
        out.append(time.perf_counter() - began)
    return out


MODES = {"live": {}, "projections": {"GATEWAY_PROJECTIONS": "1"}}


def query_set(url: str, token: str, warehouse: Path, reps: int, threads: int) -> None:
    """Per query: raw DuckDB vs the gateway over HTTP, medians and ratios."""
    raw = duckdb.connect(str(warehouse), read_only=True, config={"threads": threads})
    counts = raw.sql("SELECT (SELECT count(*) FROM crime), (SELECT count(*) FROM incident)")
    crimes, incidents = counts.fetchall()[0]
    print(f"warehouse {warehouse}: {crimes:,} crimes, {incidents:,} incidents")
    print(f"\n{'query':30} {'raw ms':>8} {'gateway ms':>11} {'gw/raw':>7} {'rows':>6}")
    ratios: dict[str, float] = {}
    timings: dict[str, tuple[float, float]] = {}
    with connect(url, token, purpose=PURPOSE, timeout=600) as gateway:
        for name, sql in QUERIES.items():
            rows = gateway.query_arrow(sql).num_rows  # warm both sides once
            raw.sql(sql).to_arrow_table()
            t_raw = statistics.median(timed(lambda sql=sql: raw.sql(sql).to_arrow_table(), reps))
            t_gw = statistics.median(timed(lambda sql=sql: gateway.query_arrow(sql), reps))
            ratios[name] = t_gw / t_raw
            timings[name] = (t_raw, t_gw)
            print(f"{name:30} {t_raw * 1e3:8.1f} {t_gw * 1e3:11.1f} {t_gw / t_raw:7.2f} {rows:6d}")
    raw.close()
    worst = max(ratios, key=lambda name: ratios[name])
    t_raw, t_gw = timings[worst]
    print(
        f"\nmedian gateway/raw {statistics.median(ratios.values()):.2f}x (target <= 1.3x at "
        f"scale 10); worst {ratios[worst]:.2f}x, {worst} ({t_gw * 1e3:.0f} vs "
        f"{t_raw * 1e3:.0f} ms; target <= 2x)"
    )


def fixed_cost(url: str, token: str, warehouse: Path, n: int) -> None:
    """p50/p99 of a trivial query over HTTP, and of a small count over HTTP and in-process."""
    with connect(url, token, purpose=PURPOSE) as gateway:
        for _ in range(10):
            gateway.query_arrow(TRIVIAL)
        trivial = timed(lambda: gateway.query_arrow(TRIVIAL), n)
    body = {"sql": SMALL, "purpose": PURPOSE}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
        for _ in range(10):
            http.post("/v1/query", json=body).raise_for_status()
        small = timed(lambda: http.post("/v1/query", json=body).raise_for_status(), n)
    con = duckdb.connect(str(warehouse), read_only=True)
    plain = timed(lambda: con.execute(SMALL).fetchall(), n)
    con.close()
    for label, times in (
        (f"{TRIVIAL!r} over HTTP (Arrow)", trivial),
        (f"{SMALL!r} over HTTP (JSON)", small),
        (f"{SMALL!r} plain DuckDB in-process", plain),
    ):
        print(
            f"{label:56} p50 {percentile(times, 50) * 1e3:6.2f} ms  "
            f"p99 {percentile(times, 99) * 1e3:6.2f} ms  (n={n})"
        )
    print("target: trivial-query p50 over HTTP <= 4 ms")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, action="append", help="repeatable; default 1")
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--trivial", type=int, default=200, help="trivial queries timed")
    parser.add_argument("--threads", type=int, default=2, help="raw DuckDB threads")
    parser.add_argument(
        "--mode", choices=sorted(MODES), action="append", help="repeatable; default both"
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "gateway-bench-policy-cost",
        help="generated warehouses are kept here, one folder per scale and years",
    )
    args = parser.parse_args()
    for scale in args.scale or [1.0]:
        root = args.cache_dir / f"s{scale:g}-y{args.years}"
        began = time.perf_counter()
        tokens = prepare(root, args.years, scale, clients=1)
        print(
            f"\n=== scale {scale:g} x {args.years} years ({time.perf_counter() - began:.0f} s) ==="
        )
        for mode in args.mode or list(MODES):
            began = time.perf_counter()
            process, url = serve(root, env=MODES[mode], start_timeout_s=1800)
            print(f"\n--- {mode}: server started in {time.perf_counter() - began:.1f} s ---")
            try:
                warehouse = DataDir(root).warehouse
                query_set(url, tokens[PRINCIPAL], warehouse, args.reps, args.threads)
                print()
                fixed_cost(url, tokens[PRINCIPAL], warehouse, args.trivial)
            finally:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=60)


if __name__ == "__main__":
    main()
