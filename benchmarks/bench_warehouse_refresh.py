"""A warehouse refresh while the gateway serves (issue 18): how long it takes, and what queries
see meanwhile.

    python benchmarks/bench_warehouse_refresh.py --scale 10 --years 1 [--mode live]

A ``gateway serve`` (``--mode projections``: with masked projections, the default) on a copy of
the cached warehouse of ``bench_policy_cost.py`` answers one analyst's query in a loop from
another thread; the benchmark then replaces the warehouse file as a load job does (a changed
copy renamed over it: fewer custody records), and waits until the answers change. Printed:
the time from the rename to the first new answer and the part of it spent rebuilding (the
audit records), latency p50/max of the loop before, during and after, and how many queries
failed (the promise: none) or mixed the two versions (none: an answer is the old count or the
new one). Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
from bench_http import prepare
from bench_policy_cost import PRINCIPAL, PURPOSE, data_dir_for, serve_mode

from gateway.audit.kinds import EventKind
from gateway.audit.log import AuditLog
from gateway.datadir import DataDir

SQL = "SELECT count(*) AS n FROM custody"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=10)
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--mode", choices=("live", "projections"), default="projections")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "gateway-bench-policy-cost"
    )
    args = parser.parse_args()
    source = args.cache_dir / f"s{args.scale:g}-y{args.years}"
    tokens = prepare(source, args.years, args.scale, clients=1)
    root = data_dir_for(source, f"refresh-{args.mode}")
    os.environ["GATEWAY_WAREHOUSE_CHECK_S"] = "1"
    try:
        process, url = serve_mode(root, args.mode)
        try:
            run(root, url, tokens[PRINCIPAL])
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
        with AuditLog.open(DataDir(root)) as audit:  # what the server recorded, in order
            kinds = {EventKind.POLICY_PROJECTIONS_READY, EventKind.POLICY_WAREHOUSE_REFRESHED}
            for event in audit.events(kinds=kinds):
                extra = event.details.get("details", {})
                built = f", built in {extra['built_s']} s" if "built_s" in extra else ""
                print(f"  audited {event.time:%H:%M:%S.%f} {event.kind}{built}")
    finally:
        shutil.rmtree(root, ignore_errors=True)  # the copy (its warehouse was hard-linked)


def run(root: Path, url: str, token: str) -> None:
    warehouse = DataDir(root).warehouse
    body = {"sql": SQL, "purpose": PURPOSE}
    samples: list[tuple[float, float, object]] = []  # (started, seconds, count or error)
    stop = threading.Event()

    def loop() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
            while not stop.is_set():
                began = time.monotonic()
                answer = http.post("/v1/query", json=body, timeout=120)
                took = time.monotonic() - began
                value = (
                    answer.json()["rows"][0][0] if answer.status_code == 200 else answer.status_code
                )
                samples.append((began, took, value))

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    time.sleep(5)
    old = samples[-1][2]
    fresh = root / "incoming.duckdb"
    shutil.copy2(warehouse, fresh)
    with duckdb.connect(str(fresh)) as con:
        con.execute("DELETE FROM custody WHERE custody_id % 10 = 0")
        new = con.sql(SQL).fetchall()[0][0]
    replaced = time.monotonic()
    os.replace(fresh, warehouse)
    while not any(s[0] > replaced and s[2] == new for s in samples):
        if time.monotonic() - replaced > 1800:
            raise SystemExit("the refreshed warehouse was not taken up in 30 minutes")
        time.sleep(0.05)
    switched = next(s[0] + s[1] for s in samples if s[0] > replaced and s[2] == new)
    time.sleep(5)
    stop.set()
    thread.join()
    phases = {
        "before": [s for s in samples if s[0] + s[1] < replaced],
        "during": [s for s in samples if replaced <= s[0] + s[1] <= switched],
        "after": [s for s in samples if s[0] > switched],
    }
    print(f"warehouse {warehouse}: custody {old:,} records before, {new:,} after")
    print(
        f"replaced at {datetime.now(UTC) - timedelta(seconds=time.monotonic() - replaced):%H:%M:%S.%f}; first new answer {switched - replaced:.1f} s later (looks every 1 s)"
    )
    for phase, rows in phases.items():
        times = sorted(s[1] * 1e3 for s in rows)
        failed = sum(1 for s in rows if s[2] not in (old, new))
        print(
            f"{phase:7} n={len(rows):5}  p50 {statistics.median(times):7.1f} ms  "
            f"max {times[-1]:7.1f} ms  failed {failed}  "
            f"answers {sorted({str(s[2]) for s in rows})}"
        )


if __name__ == "__main__":
    main()
