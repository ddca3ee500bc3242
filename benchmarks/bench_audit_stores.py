"""Audit appends per second: the embedded SQLite store vs the shared PostgreSQL store, with 1, 2
and 4 processes appending to one chain at once (as 1, 2 and 4 gateway processes would), and
with 1, 4 and 16 threads of one process (concurrent queries in one server: group commit lets
them share commits).

Every append is durable when it returns (SQLite: WAL + synchronous=FULL; PostgreSQL:
synchronous_commit=on, fsync on) and keyed (a record MAC, as a deployment's log is). The
PostgreSQL server is a throwaway cluster on this machine (``tests/postgres_cluster.py``), so
both stores pay the same disk's fsync; a networked database adds a round trip per append.

Usage:
    python benchmarks/bench_audit_stores.py [--events N] [--processes 1 2 4] [--threads 1 4 16]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.postgres_cluster import PostgresCluster  # noqa: E402

from gateway.audit.postgresql import PostgresAuditStore  # noqa: E402
from gateway.audit.sqlite import SQLiteAuditStore  # noqa: E402
from gateway.audit.store import AuditStore  # noqa: E402
from gateway.audit.verify import verify_store  # noqa: E402

KEY = b"k" * 32
DETAILS = {"query_id": "q20261204T120000Z-0123456789abcdef", "sql": "SELECT 1" * 20, "rows": 12}


def _open(location: str) -> AuditStore:
    if location.startswith("postgresql://"):
        dsn, _, schema = location.partition("#")
        return PostgresAuditStore(dsn, schema=schema, record_key=KEY)
    return SQLiteAuditStore(Path(location), record_key=KEY)


def _append(location: str, n: int, barrier: object) -> None:
    store = _open(location)
    barrier.wait()  # type: ignore[attr-defined]
    for _ in range(n):
        store.append("query.completed", "bench", "Org", DETAILS)
    store.close()


def appends_per_second(location: str, events: int, processes: int) -> float:
    """``events`` appends in total, shared by ``processes`` processes started together."""
    _open(location).close()  # create the schema first, outside the timing
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes + 1)
    workers = [
        context.Process(target=_append, args=(location, events // processes, barrier))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    barrier.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    store = _open(location)
    try:
        report = verify_store(store)
        if not report.ok:
            raise SystemExit(f"{location}: chain broken: {report.summary()}")
    finally:
        store.close()
    return (events // processes) * processes / elapsed


def appends_per_second_threads(location: str, events: int, threads: int) -> float:
    """``events`` appends in total from ``threads`` threads sharing one store (one process)."""
    store = _open(location)
    per_thread = events // threads
    start = threading.Barrier(threads + 1)

    def work() -> None:
        start.wait()
        for _ in range(per_thread):
            store.append("query.completed", "bench", "Org", DETAILS)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    try:
        if not verify_store(store).ok:
            raise SystemExit(f"{location}: chain broken")
    finally:
        store.close()
    return per_thread * threads / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()
    print(f"{'processes':>9}  {'SQLite appends/s':>16}  {'PostgreSQL appends/s':>20}  ratio")
    with PostgresCluster.start() as cluster, tempfile.TemporaryDirectory() as folder:
        dsn = cluster.create_database("bench")
        for n in args.processes:
            sqlite = appends_per_second(f"{folder}/audit-{n}.sqlite", args.events, n)
            postgres = appends_per_second(f"{dsn}#bench_{n}", args.events, n)
            print(f"{n:>9}  {sqlite:>16.0f}  {postgres:>20.0f}  {postgres / sqlite:5.2f}")
        print(
            f"\n{'threads':>9}  {'SQLite appends/s':>16}  {'PostgreSQL appends/s':>20}  (one process)"
        )
        for n in args.threads:
            sqlite = appends_per_second_threads(f"{folder}/threads-{n}.sqlite", args.events, n)
            postgres = appends_per_second_threads(f"{dsn}#threads_{n}", args.events, n)
            print(f"{n:>9}  {sqlite:>16.0f}  {postgres:>20.0f}")
    print("(every run's chain verified valid afterwards)")


if __name__ == "__main__":
    main()
