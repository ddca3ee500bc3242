"""What a reviewer's look-ups cost on a long audit log: one query's record (the dashboard's
drill-down) and a local auditor's report read.

Builds an audit log of N queries (a ``query.started`` and a ``query.completed`` each, ids made
by the service's :func:`~gateway.service.new_query_id`, spread over a year, four
organisations), then prints:
  1. one query's record read within the window its id gives
     (:func:`~gateway.service.query_record_window`, what ``/audit/queries/{id}`` and
     :meth:`~gateway.api.review.AuditReview.query` read) next to reading every query record
     and picking it out;
  2. a local auditor's records (the store's organisation filter) next to the whole log.

Usage:
    python benchmarks/bench_audit_lookup.py [--dir DIR] [--queries N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.audit import AuditLog
from gateway.datadir import DataDir
from gateway.service import new_query_id, query_record_window

ORGANISATIONS = ("Hartlepool", "Middlesbrough", "Redcar and Cleveland", "Stockton-on-Tees")


def build(data_dir: DataDir, queries: int) -> list[str]:
    start = datetime.now(UTC) - timedelta(days=365)
    step = timedelta(days=365) / queries
    ids = []
    with AuditLog.open(data_dir, checkpoint_every=5000, checkpoint_interval=None) as log:
        for n in range(queries):
            when = start + n * step
            query_id = new_query_id(when)
            ids.append(query_id)
            org = ORGANISATIONS[n % 4]
            request = {"query_id": query_id, "sql_submitted": "SELECT count(*) FROM crime"}
            log.store.append("query.started", f"user{n % 40}", org, request, time=when)
            done = {"query_id": query_id, "outcome": "ok", "rows": 1}
            log.store.append("query.completed", f"user{n % 40}", org, done, time=when)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--queries", type=int, default=20_000)
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-lookup-"))
    root.mkdir(parents=True, exist_ok=True)
    data_dir = DataDir(root)
    started = time.perf_counter()
    ids = build(data_dir, args.queries)
    print(f"built {2 * args.queries:,} records in {time.perf_counter() - started:.1f} s")
    wanted = ids[len(ids) // 2]
    window = query_record_window(wanted)
    assert window is not None
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        started = time.perf_counter()
        near = [v for v in log.queries(since=window[0], until=window[1]) if v.query_id == wanted]
        windowed = time.perf_counter() - started
        started = time.perf_counter()
        every = [v for v in log.queries() if v.query_id == wanted]
        whole = time.perf_counter() - started
        assert near == every
        assert [v.status for v in near] == ["completed"]
        print(f"one query's record, its window: {windowed * 1000:.1f} ms")
        print(f"one query's record, every query read: {whole * 1000:.0f} ms")
        started = time.perf_counter()
        scoped = sum(1 for _ in log.events(organisation=ORGANISATIONS[1]))
        local = time.perf_counter() - started
        started = time.perf_counter()
        total = sum(1 for _ in log.events())
        force = time.perf_counter() - started
    print(f"local auditor's records: {scoped:,} in {local * 1000:.0f} ms")
    print(f"whole log: {total:,} in {force * 1000:.0f} ms")


if __name__ == "__main__":
    main()
