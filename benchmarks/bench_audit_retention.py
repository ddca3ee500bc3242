"""Audit retention and scoped review benchmark: what disposal and a local auditor's reads cost.

Builds a keyed audit log of N records (the older half dated eight years ago, the rest today,
over four organisations), then prints:
  1. the time to plan and to dispose of the older half (one transaction, secure delete, WAL
     checkpoint) and the database file's size before and after;
  2. ``verify`` before and after the disposal (records per second), which walks on from the
     disposal record;
  3. the time a local auditor's read of one organisation's records takes (filtered by the
     audit store itself, as ``GET /v1/audit/events`` does for a local auditor), next to the
     force auditor's unfiltered read.

Usage:
    python benchmarks/bench_audit_retention.py [--dir DIR] [--events N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path

from gateway.audit import AuditLog, verify_data_dir
from gateway.audit.retention import dispose_expired, plan_disposal
from gateway.datadir import DataDir
from gateway.policy.retention import RetentionSettings

ORGANISATIONS = ("Hartlepool", "Middlesbrough", "Redcar and Cleveland", "Stockton-on-Tees")


def build(data_dir: DataDir, events: int) -> float:
    now = datetime.now(UTC)
    old = now - timedelta(days=8 * 365)
    started = time.perf_counter()
    with AuditLog.open(data_dir, checkpoint_every=1000, checkpoint_interval=None) as log:
        for n in range(events):
            when = old + timedelta(seconds=n) if n < events // 2 else None
            log.store.append(
                "query.started",
                f"user{n % 40}",
                ORGANISATIONS[n % 4],
                {"query_id": f"Q{n}", "sql_submitted": "SELECT count(*) FROM crime " * 4},
                time=when,
            )
    return time.perf_counter() - started


def timed_verify(data_dir: DataDir) -> tuple[float, int, bool]:
    started = time.perf_counter()
    report = verify_data_dir(data_dir, witnesses=())
    return time.perf_counter() - started, report.records, report.ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--events", type=int, default=10_000)
    args = parser.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-retention-"))
    root.mkdir(parents=True, exist_ok=True)
    data_dir = DataDir(root)
    seconds = build(data_dir, args.events)
    print(f"built {args.events:,} records in {seconds:.1f} s")
    size_before = data_dir.audit.stat().st_size

    took, records, ok = timed_verify(data_dir)
    print(f"verify before: {records:,} records in {took:.2f} s ({records / took:,.0f}/s), ok={ok}")

    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        started = time.perf_counter()
        plan = plan_disposal(log.store, RetentionSettings())
        planned = time.perf_counter() - started
        started = time.perf_counter()
        run = dispose_expired(log, RetentionSettings(), actor="bench", reason="benchmark")
        disposed = time.perf_counter() - started
    assert run.record is not None
    print(f"plan: {planned * 1000:.1f} ms; dispose of {plan.records:,} records: {disposed:.2f} s")
    size_after = data_dir.audit.stat().st_size
    print(f"file: {size_before / 1e6:.1f} MB before, {size_after / 1e6:.1f} MB after")

    took, records, ok = timed_verify(data_dir)
    print(f"verify after: {records:,} records in {took:.2f} s ({records / took:,.0f}/s), ok={ok}")

    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        started = time.perf_counter()
        every = sum(1 for _ in islice(log.events(), None))
        whole = time.perf_counter() - started
        started = time.perf_counter()
        scoped = sum(1 for _ in log.events(organisation=ORGANISATIONS[1]))
        local = time.perf_counter() - started
    print(f"force auditor read: {every:,} records in {whole * 1000:.0f} ms")
    print(f"local auditor read: {scoped:,} of them in {local * 1000:.0f} ms")


if __name__ == "__main__":
    main()
