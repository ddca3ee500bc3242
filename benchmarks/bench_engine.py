"""Engine benchmark: what the hardened worker pool costs next to a plain DuckDB connection.

Prints, in one run:
  1. trivial-query latency (p50, p99) for
     a. a plain in-process DuckDB connection (``to_arrow_table``),
     b. the same hardened connection in-process, spilling to an Arrow file (no pool),
     c. the pool (worker round trip + spill + memory-mapped result; the SQL text repeats, so
        its parse comes from the cache as it does after ``verify``);
  2. the enforcement invariant check on DuckDB's parse tree (p50, p99), each query text new
     (no parse cache);
  3. throughput of a 1,000,000-row result (5 columns) in MB/s of Arrow data:
     a. plain ``to_arrow_table``, b. through the pool to a spilled, fingerprinted file
     (and the file read back through the memory map).

Usage:
    python benchmarks/bench_engine.py [--dir DIR] [--trivial N] [--workers W]

DIR defaults to a fresh temporary directory (the warehouse and results are written there).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from gateway.engines import DuckDBEngine, Expectation, QueryLimits
from gateway.engines.hardening import open_hardened
from gateway.engines.messages import WorkerConfig
from gateway.engines.spill import spill_batches

TRIVIAL = "SELECT count(*) AS n FROM small"
BIG = "SELECT * FROM big"
BIG_ROWS = 1_000_000
LIMITS = QueryLimits(timeout_s=60, memory_limit_mb=1024, max_rows=2_000_000, max_result_bytes=2**31)
POLICY = (
    "SELECT b.id, b.la, date_trunc('month', b.day) AS m "
    "FROM main.big AS b WHERE b.la IN ('E06000001', 'E06000002') AND EXISTS "
    "(SELECT 1 FROM main.small s WHERE s.id = b.id % 100) LIMIT 9223372036854775807"
)
POLICY_SHAPED = f"SELECT c.la, count(*) AS n FROM ({POLICY}) AS c GROUP BY ALL ORDER BY n DESC"
EXPECTED = Expectation(policy_subqueries=(("big", POLICY),))


def build_warehouse(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE small AS SELECT i AS id FROM range(100) t(i)")
    con.execute(
        f"""CREATE TABLE big AS
        SELECT i AS id, i * 0.5 AS amount, 'E0600000' || (i % 4 + 1) AS la,
               DATE '2024-01-01' + (i % 365)::INTEGER AS day, 'free text ' || i AS note
        FROM range({BIG_ROWS}) t(i)"""
    )
    con.close()


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered) * 1e3
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3
    return f"p50 {p50:7.3f} ms   p99 {p99:7.3f} ms"


def timed(fn: Callable[[], object], n: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--trivial", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-engine-"))
    warehouse = root / "warehouse.duckdb"
    if not warehouse.exists():
        build_warehouse(warehouse)
    results = root / "results"
    counter = iter(range(10**9))

    plain = duckdb.connect(str(warehouse), read_only=True, config={"threads": 1})
    config = WorkerConfig(str(warehouse), "warehouse", memory_limit_mb=1024)
    hardened = open_hardened(config)
    spill_dir = root / "spill"
    spill_dir.mkdir(exist_ok=True)

    def direct_spill(sql: str) -> None:
        path = spill_dir / f"s{next(counter)}.arrows"
        spill_batches(
            hardened.sql(sql).to_arrow_reader(65_536),
            path,
            max_rows=LIMITS.max_rows,
            max_result_bytes=LIMITS.max_result_bytes,
        )
        path.unlink()

    print(
        f"warehouse {warehouse} ({warehouse.stat().st_size / 1e6:.0f} MB), workers {args.workers}"
    )
    with DuckDBEngine(warehouse, results, workers=args.workers, limits=LIMITS) as engine:

        def pooled(sql: str) -> None:
            result = engine.execute(sql, {}, limits=LIMITS, query_id=f"b{next(counter)}")
            for _batch in result.reader():
                pass
            result.discard()

        n = args.trivial
        print(f"\n1. trivial query ({TRIVIAL!r}), {n} runs each")
        print(
            f"   a. plain DuckDB, in-process         {percentiles(timed(lambda: plain.sql(TRIVIAL).to_arrow_table(), n))}"
        )
        print(
            f"   b. hardened, in-process + spill     {percentiles(timed(lambda: direct_spill(TRIVIAL), n))}"
        )
        print(
            f"   c. pool (worker + spill + mmap)     {percentiles(timed(lambda: pooled(TRIVIAL), n))}"
        )

        fresh = iter(range(10**9))
        check = timed(lambda: engine.verify(f"{POLICY_SHAPED} LIMIT {next(fresh)}", EXPECTED), n)
        print(
            f"\n2. invariant check (verify) of a policy-shaped query ({len(POLICY_SHAPED)} chars),"
            f" uncached  {percentiles(check)}"
        )
        print("   (execute() reuses the parse when verify saw the same SQL just before)")

        print(f"\n3. {BIG_ROWS:,}-row result ({BIG!r}), best of 3")
        best_plain = min(timed(lambda: plain.sql(BIG).to_arrow_table(), 3))
        nbytes = plain.sql(BIG).to_arrow_table().nbytes
        print(
            f"   a. plain to_arrow_table             {best_plain * 1e3:8.1f} ms  {nbytes / best_plain / 1e6:8.1f} MB/s"
        )
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            result = engine.execute(BIG, {}, limits=LIMITS, query_id=f"b{next(counter)}")
            spilled = time.perf_counter() - start
            table = result.to_table()
            read_back = time.perf_counter() - start
            runs.append((spilled, read_back, result.num_bytes, table.num_rows))
            result.discard()
        spilled, read_back, file_bytes, rows = min(runs)
        assert rows == BIG_ROWS
        print(
            f"   b. pool → spilled file (fingerprinted) {spilled * 1e3:8.1f} ms  {nbytes / spilled / 1e6:8.1f} MB/s  (file {file_bytes / 1e6:.1f} MB)"
        )
        print(
            f"      … and mapped back as a table     {read_back * 1e3:8.1f} ms  {nbytes / read_back / 1e6:8.1f} MB/s"
        )
        print(f"   pool / plain time ratio: {spilled / best_plain:.2f}")
    hardened.close()
    plain.close()


if __name__ == "__main__":
    main()
