"""Audit trail benchmark: append throughput and the per-query audit overhead, in one run.

Prints:
  1. appends per second, one process (SQLiteAuditStore, WAL, synchronous=FULL);
  2. appends per second, 4 processes appending to the same file at once;
  3. time of a started + completed pair through AuditLog (the per-query audit cost), next to
     a trivial DuckDB query without audit, and the audited-queries-per-second that implies;
  4. verification speed (records per second);
  5. building the audit tables: in memory, as the derived DuckDB file, and catching the file
     up after one more query (see bench_audit_memory.py for memory and query latency);
  6. checkpoints: appends/s with record MACs (the deployment's keyed store), the latency of
     one checkpoint (sign, append, fsync), and how long a record waits until a time-based
     checkpoint covers it (default interval 2 s).

Usage:
    python benchmarks/bench_audit.py [--dir DIR] [--events N]

DIR defaults to a fresh temporary directory; put it on the disk the deployment will use,
since the cost is dominated by fsync.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path

import duckdb

from gateway.audit import (
    AuditLog,
    LiveAuditTables,
    QueryRequest,
    QueryStarted,
    SQLiteAuditStore,
    audit_tables,
    new_event_id,
    verify_data_dir,
)
from gateway.audit.checkpoints import CheckpointFile
from gateway.clock import utc_now
from gateway.datadir import DataDir

SQL = "SELECT lsoa_code, count(*) AS crimes FROM crime GROUP BY lsoa_code"


def started_record(query_id: str) -> QueryStarted:
    request = QueryRequest(
        user="a.khan",
        organisation="Middlesbrough Council",
        level="general",
        roles=("analyst",),
        purpose="SA-2026",
        sql_submitted=SQL,
        client_address="10.1.2.3",
        user_agent="bench",
    )
    return QueryStarted(
        query_id=query_id,
        request=request,
        sql_executed=f"SELECT lsoa_code, count(*) FROM (SELECT … FROM crime WHERE …) {SQL}",
        policy_hash="p" * 64,
        tables=("crime",),
        columns=("crime.lsoa_code",),
        masks=("crime.modus_operandi=null", "crime.location_id=pseudonym"),
        row_filters=("crime: local_authority_code IN ('E06000002')",),
    )


def appends_single(path: Path, n: int, key: bytes | None = None) -> float:
    details = started_record("Q").details()
    with SQLiteAuditStore(path, record_key=key) as store:
        began = time.perf_counter()
        for _ in range(n):
            store.append("query.started", "a.khan", "Middlesbrough Council", details)
        return n / (time.perf_counter() - began)


def _worker(path: str, n: int, barrier: object) -> None:
    details = started_record("Q").details()
    store = SQLiteAuditStore(Path(path))
    barrier.wait()  # type: ignore[attr-defined]
    for _ in range(n):
        store.append("query.started", "a.khan", "Middlesbrough Council", details)
    store.close()


def appends_parallel(path: Path, n_per_process: int, processes: int) -> float:
    SQLiteAuditStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes + 1)
    workers = [
        ctx.Process(target=_worker, args=(str(path), n_per_process, barrier))
        for _ in range(processes)
    ]
    for w in workers:
        w.start()
    barrier.wait()
    began = time.perf_counter()
    for w in workers:
        w.join()
        if w.exitcode != 0:
            raise SystemExit(f"worker failed with exit code {w.exitcode}")
    return processes * n_per_process / (time.perf_counter() - began)


def checkpoint_ms(data_dir: DataDir, n: int) -> list[float]:
    times = []
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        for _ in range(n):
            began = time.perf_counter()
            log.checkpoint()
            times.append((time.perf_counter() - began) * 1000)
    return times


def coverage_delay_s(data_dir: DataDir, n: int, interval: float) -> list[float]:
    """Seconds from an append until a time-based checkpoint covers it."""
    path = data_dir.audit_checkpoints
    delays = []
    with AuditLog.open(data_dir, checkpoint_every=10**9, checkpoint_interval=interval) as log:
        for i in range(n):
            seq = log.record(started_record(f"C{i}")).seq
            began = time.perf_counter()
            while not any(
                line.checkpoint is not None and line.checkpoint.seq >= seq
                for line in CheckpointFile(path).read_tail(4096)
            ):
                time.sleep(0.005)
            delays.append(time.perf_counter() - began)
            time.sleep(interval * 0.37)  # land at different points of the timer's cycle
    return delays


def audit_pair_ms(data_dir: DataDir, n: int) -> list[float]:
    times = []
    with AuditLog.open(data_dir, checkpoint_every=100) as log:
        for _ in range(n):
            began = time.perf_counter()
            started = started_record(new_event_id(utc_now()))
            log.record(started)
            log.record(started.completed(outcome="ok", rows=350, bytes=5600, duration_ms=1.0))
            times.append((time.perf_counter() - began) * 1000)
    return times


def duckdb_ms(n: int) -> list[float]:
    con = duckdb.connect()
    con.sql("CREATE TABLE crime AS SELECT 'E0101' || (i % 350) AS lsoa_code FROM range(1000) t(i)")
    times = []
    for _ in range(n):
        began = time.perf_counter()
        con.sql("SELECT 42 AS answer").to_arrow_table()
        times.append((time.perf_counter() - began) * 1000)
    con.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-audit-"))
    root.mkdir(parents=True, exist_ok=True)
    n = args.events

    single = appends_single(root / "single.sqlite", n)
    keyed = appends_single(root / "keyed.sqlite", n, key=b"k" * 32)
    parallel = appends_parallel(root / "parallel.sqlite", n // 4, 4)

    data_dir = DataDir(root / "gw")
    data_dir.root.mkdir(exist_ok=True)
    pairs = audit_pair_ms(data_dir, n // 2)
    plain = duckdb_ms(n // 2)
    pair_med, plain_med = statistics.median(pairs), statistics.median(plain)
    pair_p95 = statistics.quantiles(pairs, n=20)[-1]

    began = time.perf_counter()
    report = verify_data_dir(data_dir)
    verify_s = time.perf_counter() - began

    with AuditLog.open(data_dir) as log:
        began = time.perf_counter()
        full = audit_tables(log.events())
        full_s = time.perf_counter() - began
        live = LiveAuditTables(log.store, data_dir.audit_tables)
        began = time.perf_counter()
        live.catch_up()
        build_s = time.perf_counter() - began
        started = started_record(new_event_id(utc_now()))
        log.record(started)
        log.record(started.completed(outcome="ok", rows=1, bytes=8, duration_ms=1.0))
        began = time.perf_counter()
        live.catch_up()
        refresh_s = time.perf_counter() - began

    cp_dir = DataDir(root / "cp")
    cp_dir.root.mkdir(exist_ok=True)
    with AuditLog.open(cp_dir, checkpoint_interval=None) as log:
        log.record(started_record("Q0"))
    checkpoints = checkpoint_ms(cp_dir, 200)
    delays = coverage_delay_s(cp_dir, 6, 2.0)

    print(f"directory: {root}")
    print(f"appends/s, 1 process:            {single:,.0f}")
    print(f"appends/s, 1 process, keyed MAC: {keyed:,.0f}")
    print(f"appends/s, 4 processes together: {parallel:,.0f}")
    print(f"audit pair (started+completed):  median {pair_med:.3f} ms, p95 {pair_p95:.3f} ms")
    print(f"trivial DuckDB query, no audit:  median {plain_med:.3f} ms")
    print(
        f"audited trivial queries/s (1 thread, engine + audit in series): "
        f"{1000 / (pair_med + plain_med):,.0f} vs {1000 / plain_med:,.0f} unaudited"
    )
    print(
        f"verify: {report.records:,} records in {verify_s:.3f} s "
        f"({report.records / verify_s:,.0f}/s), {report.summary()}"
    )
    print(
        f"audit tables for {full.events.num_rows:,} events: in memory {full_s * 1000:.1f} ms; "
        f"derived file built {build_s * 1000:.1f} ms, caught up after one more query "
        f"{refresh_s * 1000:.1f} ms"
    )
    print(
        f"checkpoint (sign + append + fsync): median {statistics.median(checkpoints):.3f} ms, "
        f"p95 {statistics.quantiles(checkpoints, n=20)[-1]:.3f} ms"
    )
    print(
        f"record covered by a time-based checkpoint (interval 2 s) after: "
        f"median {statistics.median(delays):.2f} s, max {max(delays):.2f} s"
    )


if __name__ == "__main__":
    main()
