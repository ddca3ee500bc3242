"""Audit tables and the service's memory: startup RSS and audit-query latency against the log's size.

For each log size (default 10k, 100k, 300k records: query started/completed pairs with some
denials, access events and exports), it fills a data directory's audit log, then in a fresh
process opens the service (``open_service``) and prints:

  - ``open s``: time to open the deployment (with a derived audit-tables file to build: ``cold``;
    with one already up to date from an earlier run: ``warm``);
  - ``api MB``: the API process's RSS after opening, and after the audit queries;
  - ``first ms``: the first audit query (``SELECT … FROM audit.queries``), retried while the
    tables are still being built in the background (``cold``);
  - ``next ms``: median of 10 audit queries, each after one more analyst query;
  - ``workers MB``: the workers' RSS after the audit queries.

Run it against another checkout to compare (only ``Deployment.open`` — or the older
``open_service`` — and ``run_query`` are used)::

    PYTHONPATH=src python benchmarks/bench_audit_memory.py [--sizes 10000,100000] [--dir DIR]
    PYTHONPATH=/path/to/other/src python benchmarks/bench_audit_memory.py --dir DIR --reuse

The log is written straight into the SQLite store in one transaction per size (a valid chain
with record MACs, as the store writes them) so filling 300k records takes seconds, not minutes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from gateway.audit import AuditLog, QueryDenied, QueryRequest, QueryStarted
from gateway.audit.chain import format_time, new_event_id, seal
from gateway.audit.checkpoints import CHECKPOINT_KEY, record_mac
from gateway.clock import utc_now
from gateway.datadir import DataDir
from gateway.generate import build

SQL = "SELECT lsoa_code, count(*) AS crimes FROM crime WHERE recorded_at >= DATE '2026-01-01' "
AUDIT_SQL = (
    "SELECT user, count(*) AS n, sum(rows) AS rows FROM audit.queries "
    "WHERE decision = 'allowed' GROUP BY user ORDER BY n DESC"
)


def _request(i: int) -> QueryRequest:
    return QueryRequest(
        user=f"analyst{i % 40}",
        organisation="Middlesbrough Council",
        level="general",
        roles=("analyst",),
        purpose="SA-2026",
        sql_submitted=f"{SQL}AND ho_offence_code <> '{i}' GROUP BY lsoa_code",
        client_address="10.1.2.3",
        user_agent="bench",
    )


def _facts(i: int) -> list[tuple[str, str, dict[str, object]]]:
    """The records of the i-th step of the synthetic log (kind, actor, details)."""
    query_id = f"Q{i:08d}"
    request = _request(i)
    if i % 25 == 0:
        denied = QueryDenied(query_id, request, "table_not_permitted", "not permitted")
        return [(denied.kind, request.user, denied.details())]
    started = QueryStarted(
        query_id=query_id,
        request=request,
        sql_executed=f"SELECT lsoa_code, count(*) FROM (SELECT … FROM crime WHERE …) /* {i} */",
        policy_hash="p" * 64,
        tables=("crime",),
        columns=("crime.lsoa_code", "crime.recorded_at"),
        masks=("crime.modus_operandi=null", "crime.location_id=pseudonym"),
        row_filters=("crime: local_authority_code IN ('E06000002')",),
    )
    done = started.completed(outcome="ok", rows=80, bytes=2400, duration_ms=12.5)
    facts = [
        (started.kind, request.user, started.details()),
        (done.kind, request.user, done.details()),
    ]
    if i % 100 == 7:
        facts.append(
            ("access.endorsed", "m.jones", {"subject": f"R{i}", "comment": "ok", "details": {}})
        )
    return facts


def fill(data_dir: DataDir, records: int) -> None:
    """Write ``records`` chained, MAC'd records into the data directory's audit log."""
    with AuditLog.open(data_dir):
        pass  # schema, key, genesis checkpoint
    key = data_dir.secret(CHECKPOINT_KEY)
    con = sqlite3.connect(data_dir.audit, isolation_level=None)
    try:
        seq, prev = con.execute(
            "SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1"
        ).fetchone() or (0, "0" * 64)
        when = utc_now() - timedelta(days=30)
        con.execute("BEGIN")
        step = 0
        while seq < records:
            for kind, actor, details in _facts(step):
                seq += 1
                when += timedelta(milliseconds=50)
                e = seal(seq, new_event_id(when), when, kind, actor, "MBC", details, prev)
                con.execute(
                    "INSERT INTO audit_event VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        e.seq,
                        e.event_id,
                        format_time(e.time),
                        e.kind,
                        e.actor,
                        e.organisation,
                        e.details_json,
                        e.prev_hash,
                        e.hash,
                    ),
                )
                con.execute(
                    "INSERT INTO audit_mac VALUES (?, ?)", (e.hash, record_mac(key, e.hash))
                )
                prev = e.hash
            step += 1
        con.execute("COMMIT")
    finally:
        con.close()


_PROBE = r"""
import json, os, statistics, sys, time
from pathlib import Path
from gateway.datadir import DataDir
from gateway.errors import GatewayError
try:  # the composition root (older checkouts: open_service)
    from gateway.deployment import Deployment
    def open_service(data_dir, workers):
        return Deployment.open(data_dir, workers=workers)
except ImportError:
    from gateway.deployment import open_service
from gateway.principal import Principal

def rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0

areas = ("E06000001", "E06000002", "E06000003", "E06000004")
senior = Principal("s.patel", "Cleveland Police", "general", areas, ("AUDIT-2026",),
                   frozenset({"senior_analyst"}))
analyst = Principal("a.khan", "Middlesbrough Council", "general", areas, ("SA-2026",),
                    frozenset({"analyst"}))
began = time.perf_counter()
service = open_service(DataDir(Path(sys.argv[1])), workers=1)
opened = time.perf_counter() - began
api_open = rss_mb(os.getpid())
audit_sql = sys.argv[2]

def timed(principal, sql, purpose):
    t = time.perf_counter()
    outcome = getattr(service, "service", service).run_query(principal, sql, purpose)
    outcome.result.path.unlink(missing_ok=True)
    return (time.perf_counter() - t) * 1000

t0 = time.perf_counter()
while True:  # a first build runs in the background: 503 engine_unavailable until it is done
    try:
        timed(senior, audit_sql, "AUDIT-2026")
        break
    except GatewayError as exc:
        if exc.code != "engine_unavailable" or time.perf_counter() - t0 > 3600:
            raise
first = (time.perf_counter() - t0) * 1000
nexts = []
for _ in range(10):
    timed(analyst, "SELECT count(*) AS n FROM crime", "SA-2026")
    nexts.append(timed(senior, audit_sql, "AUDIT-2026"))
engine = getattr(service, "service", service).engine
workers = sum(rss_mb(pid) for pid in engine.worker_pids())
print(json.dumps({"open_s": opened, "api_open_mb": api_open, "api_after_mb": rss_mb(os.getpid()),
                  "first_ms": first, "next_ms": statistics.median(nexts), "workers_mb": workers}))
service.close()
"""


def probe(data_dir: DataDir) -> dict[str, float]:
    """Open the service in a fresh process and measure it (see the module docstring)."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(data_dir.root), AUDIT_SQL],
        check=False,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"the probe failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,300000")
    parser.add_argument("--dir", type=Path, default=None, help="keep the data directories here")
    parser.add_argument("--reuse", action="store_true", help="reuse filled directories in --dir")
    args = parser.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="bench-audit-memory-"))
    print(
        f"{'records':>8} {'run':>5} {'open s':>7} {'api MB':>7} {'after MB':>8} "
        f"{'first ms':>9} {'next ms':>8} {'workers MB':>10}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        root = base / f"log-{size}"
        data_dir = DataDir(root)
        if not (args.reuse and data_dir.audit.exists()):
            shutil.rmtree(root, ignore_errors=True)
            build(root, seed=7, years=1, scale=0.02, end_month="2026-10")
            began = time.perf_counter()
            fill(data_dir, size)
            print(f"# filled {size} records in {time.perf_counter() - began:.1f} s")
        (root / "audit-tables.duckdb").unlink(missing_ok=True)  # "cold": built at startup
        for run in ("cold", "warm"):
            m = probe(data_dir)
            print(
                f"{size:>8} {run:>5} {m['open_s']:>7.2f} {m['api_open_mb']:>7.0f} "
                f"{m['api_after_mb']:>8.0f} {m['first_ms']:>9.1f} {m['next_ms']:>8.1f} "
                f"{m['workers_mb']:>10.0f}",
                flush=True,
            )
    print(f"# data directories in {base}")


if __name__ == "__main__":
    main()
