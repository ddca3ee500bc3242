"""Spark engine benchmark: DuckDB vs Spark (local mode) on the same published warehouse.

Prints, for a generated warehouse (``--scale``, ``--years``; kept in ``--dir``):
  1. publishing the warehouse as the Parquet lake (seconds, size);
  2. the fixed cost of a Spark query (``SELECT 1``: verify-free round trip, p50/p99) next to
     the DuckDB worker pool's;
  3. the same analytical queries on both engines, median of ``--repeat`` runs (the engines'
     own ``execute``: transpilation, job group, Arrow spill on Spark; worker, spill on DuckDB);
  4. Spark's invariant check on its own parse of a policy-enforced statement (p50).

Usage:
    python benchmarks/bench_spark.py [--dir DIR] [--scale 1] [--years 3] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from gateway.engines import DuckDBEngine, Engine, Expectation, QueryLimits
from gateway.engines.lake import publish_lake
from gateway.engines.spark.engine import SparkEngine
from gateway.generate import ensure

LIMITS = QueryLimits(
    timeout_s=600, memory_limit_mb=4096, max_rows=2_000_000, max_result_bytes=2**31
)
QUERIES = {
    "count crimes": "SELECT count(*) AS n FROM crime",
    "crimes by authority and month": (
        "SELECT local_authority_code, date_trunc('month', recorded_at) AS m, count(*) AS n "
        "FROM crime GROUP BY 1, 2 ORDER BY 1, 2"
    ),
    "one authority, one year": (
        "SELECT police_uk_category, count(*) AS n FROM crime "
        "WHERE local_authority_code = 'E06000002' AND recorded_at >= DATE '2025-01-01' "
        "AND recorded_at < DATE '2026-01-01' GROUP BY 1 ORDER BY 2 DESC"
    ),
    "incidents joined to crimes": (
        "SELECT i.grade, count(*) AS n FROM incident AS i JOIN crime AS c "
        "ON i.crime_id = c.crime_id GROUP BY 1 ORDER BY 1"
    ),
    "repeat locations": (
        "SELECT location_id, count(*) AS n FROM incident GROUP BY 1 HAVING count(*) > 5 "
        "ORDER BY 2 DESC LIMIT 100"
    ),
}
POLICY = (
    "SELECT b.crime_id AS crime_id, b.local_authority_code AS local_authority_code "
    "FROM main.crime AS b WHERE b.local_authority_code IN ('E06000002') LIMIT 9223372036854775807"
)


def _times(run: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        began = time.perf_counter()
        run()
        out.append(time.perf_counter() - began)
    return out


def _p(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-spark-"))
    ensure(root, seed=2026, years=args.years, scale=args.scale, end_month="2026-10")
    warehouse = root / "warehouse.duckdb"
    began = time.perf_counter()
    publish_lake(warehouse, root / "lake", replace=True)
    size = sum(p.stat().st_size for p in (root / "lake").rglob("*") if p.is_file())
    print(
        f"scale {args.scale} x {args.years} years; warehouse {warehouse.stat().st_size / 2**20:.0f} MB"
    )
    print(f"publish lake: {time.perf_counter() - began:.1f} s, {size / 2**20:.0f} MB Parquet")
    began = time.perf_counter()
    spark = SparkEngine(root / "lake", root / "results-spark", master="local[2]", limits=LIMITS)
    print(
        f"Spark engine start (application + lake views + warm-up): {time.perf_counter() - began:.1f} s"
    )
    duck = DuckDBEngine(warehouse, root / "results-duckdb", workers=2, limits=LIMITS)
    counter = iter(range(10**9))

    def run(engine: Engine, sql: str) -> None:
        engine.execute(sql, {}, limits=LIMITS, query_id=f"b{next(counter)}").discard()

    with spark, duck:
        for name, engine in (("duckdb", duck), ("spark", spark)):
            run(engine, "SELECT 1 AS x")
            fixed = _times(lambda e=engine: run(e, "SELECT 1 AS x"), 20)
            print(
                f"fixed cost {name:7s} SELECT 1: p50 {_p(fixed, 0.5):7.1f} ms  p99 {_p(fixed, 0.99):7.1f} ms"
            )
        print(f"{'query':32s} {'duckdb ms':>10s} {'spark ms':>10s}")
        for name, sql in QUERIES.items():
            run(duck, sql)
            run(spark, sql)
            d = statistics.median(_times(lambda sql=sql: run(duck, sql), args.repeat)) * 1000
            s = statistics.median(_times(lambda sql=sql: run(spark, sql), args.repeat)) * 1000
            print(f"{name:32s} {d:10.1f} {s:10.1f}")
        statement = f"SELECT count(*) AS n FROM ({POLICY}) AS c"
        expected = Expectation(policy_subqueries=(("crime", POLICY),))
        checks = _times(lambda: spark.verify(statement, expected), 20)
        print(f"Spark invariant check (two parses, JSON walk): p50 {_p(checks, 0.5):.1f} ms")


if __name__ == "__main__":
    main()
