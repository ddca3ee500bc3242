"""Policy at the cost of a scan (issue 18): the gateway over HTTP against raw DuckDB, same rows.

    python benchmarks/bench_policy_cost.py                         # scale 1 x 3 years
    python benchmarks/bench_policy_cost.py --scale 1 --scale 10 --years 1

For each warehouse (generated with the repository's generator and cached under
``--cache-dir``, so a scale 10 warehouse is built once):

1. the template-like query set of ``bench_rewrite.py``, run by ``s.patel`` (general level over
   all four authorities, so the gateway and raw DuckDB read the same rows) through a real
   ``gateway serve`` on loopback with the Python client (Arrow), and the same SQL on a plain
   read-only DuckDB connection with the same thread count; per query the medians and the ratio
   gateway / raw, then the median ratio and the worst query — for two servers side by side,
   one running the policy subqueries live and one scanning precomputed masked projections
   (``GATEWAY_PROJECTIONS=1``; its start, which builds them, is timed; ``--mode`` picks one),
   timed in turn rep by rep so passing load falls on every side alike;
2. the fixed cost per query: p50/p99 of a trivial query (``SELECT 1``, Arrow) and of
   ``SELECT count(*) FROM crime`` (JSON) over HTTP, against the latter in-process.

Figures are printed, never asserted. The issue's targets (median <= 1.3x raw at scale 10, no
query worse than 2x, trivial p50 <= 4 ms) are printed beside what was reached.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
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


def query_set(urls: dict[str, str], token: str, warehouse: Path, reps: int, threads: int) -> None:
    """Per query: raw DuckDB vs each gateway over HTTP (timed in turn, rep by rep, so load
    that comes and goes falls on every side alike), medians and ratios."""
    raw = duckdb.connect(str(warehouse), read_only=True, config={"threads": threads})
    counts = raw.sql("SELECT (SELECT count(*) FROM crime), (SELECT count(*) FROM incident)")
    crimes, incidents = counts.fetchall()[0]
    print(f"warehouse {warehouse}: {crimes:,} crimes, {incidents:,} incidents")
    header = "".join(f" {mode + ' ms':>16} {'/raw':>6}" for mode in urls)
    print(f"\n{'query':30} {'raw ms':>8}{header} {'rows':>6}")
    ratios: dict[str, dict[str, float]] = {mode: {} for mode in urls}
    timings: dict[str, dict[str, tuple[float, float]]] = {mode: {} for mode in urls}
    with ExitStack() as stack:
        gateways = {
            mode: stack.enter_context(connect(url, token, purpose=PURPOSE, timeout=600))
            for mode, url in urls.items()
        }
        for name, sql in QUERIES.items():
            rows = {mode: gw.query_arrow(sql).num_rows for mode, gw in gateways.items()}  # warm
            raw.sql(sql).to_arrow_table()
            sides: dict[str, Callable[[], object]] = {
                "raw": lambda sql=sql: raw.sql(sql).to_arrow_table()
            }
            sides.update(
                {mode: lambda gw=gw, sql=sql: gw.query_arrow(sql) for mode, gw in gateways.items()}
            )
            times: dict[str, list[float]] = {side: [] for side in sides}
            for _ in range(reps):
                for side, fn in sides.items():
                    times[side].extend(timed(fn, 1))
            t_raw = statistics.median(times["raw"])
            line = f"{name:30} {t_raw * 1e3:8.1f}"
            for mode in urls:
                t_gw = statistics.median(times[mode])
                ratios[mode][name] = t_gw / t_raw
                timings[mode][name] = (t_raw, t_gw)
                line += f" {t_gw * 1e3:16.1f} {t_gw / t_raw:6.2f}"
            print(f"{line} {'/'.join(str(n) for n in sorted(set(rows.values()))):>6}")
    raw.close()
    for mode in urls:
        worst = max(ratios[mode], key=lambda name: ratios[mode][name])
        t_raw, t_gw = timings[mode][worst]
        print(
            f"{mode:12} median gateway/raw {statistics.median(ratios[mode].values()):.2f}x "
            f"(target <= 1.3x at scale 10); worst {ratios[mode][worst]:.2f}x, {worst} "
            f"({t_gw * 1e3:.0f} vs {t_raw * 1e3:.0f} ms; target <= 2x)"
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


def data_dir_for(root: Path, mode: str) -> Path:
    """``root`` for the live server; for another mode a copy of it beside it (its own audit
    log, the same tokens, the warehouse hard-linked), so two servers never share a DuckDB file
    they write; its projections are built afresh (the start time includes the build)."""
    if mode == "live":
        return root
    copy = root.with_name(f"{root.name}-{mode}")
    shutil.rmtree(copy, ignore_errors=True)

    def link_or_copy(src: str, dst: str) -> object:
        if Path(src).name == "warehouse.duckdb":
            os.link(src, dst)
            return dst
        return shutil.copy2(src, dst)

    shutil.copytree(
        root, copy, copy_function=link_or_copy, ignore=shutil.ignore_patterns("tmp", "projections")
    )
    return copy


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
        processes = {}
        urls = {}
        # every copy is made before any server starts: a server writes its audit log and
        # register, and a copy taken while it writes could be torn
        roots = {mode: data_dir_for(root, mode) for mode in args.mode or list(MODES)}
        try:
            for mode, mode_root in roots.items():
                began = time.perf_counter()
                processes[mode], urls[mode] = serve(
                    mode_root, env=MODES[mode], start_timeout_s=1800
                )
                print(f"{mode}: server started in {time.perf_counter() - began:.1f} s")
            warehouse = DataDir(root).warehouse
            query_set(urls, tokens[PRINCIPAL], warehouse, args.reps, args.threads)
            for mode, url in urls.items():
                print(f"\n{mode}:")
                fixed_cost(url, tokens[PRINCIPAL], warehouse, args.trivial)
        finally:
            for process in processes.values():
                process.send_signal(signal.SIGINT)
                process.wait(timeout=60)


if __name__ == "__main__":
    main()
