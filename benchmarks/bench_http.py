"""End-to-end HTTP figures for the gateway, against raw DuckDB in the same run.

    python benchmarks/bench_http.py [--data-dir DIR] [--years 1] [--scale 0.1]

1. latency of a small query (``SELECT count(*) FROM crime``): p50/p99 over HTTP (JSON), and
   the same query on a plain DuckDB connection;
2. a 1,000,000-row Arrow result streamed over loopback (MB/s, rows/s) with the Python client,
   and the same rows fetched as Arrow from plain DuckDB;
3. 16 concurrent clients (16 distinct analysts) running small queries: throughput, p95 latency,
   error count.

It generates a warehouse (``gateway.generate.ensure``), adds demo users plus 16 benchmark
analysts, and runs ``python -m gateway serve`` on a free loopback port. Figures are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from importlib import resources
from pathlib import Path

import duckdb
import httpx
import pyarrow as pa

from gateway.audit.log import AuditLog
from gateway.auth import TokenStore, issue_token
from gateway.cli.demo import grant_demo_access
from gateway.client import connect
from gateway.datadir import DataDir
from gateway.generate import ensure

SMALL = "SELECT count(*) AS n FROM crime"
BIG = (
    "SELECT i.incident_id, i.reported_at, i.grade, i.asb_type, i.local_authority_code, "
    "l.lsoa_code AS other_lsoa FROM incident i CROSS JOIN lsoa l LIMIT 1000000"
)
AREAS = ("E06000001", "E06000002", "E06000003", "E06000004")
#: The benchmarks measure large record-level answers over /v1/query, which the default policy
#: refuses above 1,000 rows or 1 MiB (403 export_required: request an export); their data
#: directory's policy raises those limits, in the open.
BENCH_RELEASE_LIMITS = """
[exports]
query_record_max_rows = 10000000
query_record_max_bytes = 1000000000000
"""
CLIENTS = 16


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0


def prepare(
    root: Path, years: int, scale: float, *, clients: int = CLIENTS, prefix: str = "bench"
) -> dict[str, str]:
    """Warehouse, demo users and ``clients`` benchmark analysts (``<prefix>00`` …);
    returns username → token."""
    ensure(root, years=years, scale=scale)
    dd = DataDir(root)
    if not dd.policy.exists():  # measured: the throughput of large record-level answers
        default = resources.files("gateway.policy").joinpath("default_policy.toml")
        dd.policy.write_text(default.read_text("utf-8") + BENCH_RELEASE_LIMITS, "utf-8")
    users = dd.users.read_text("utf-8") if dd.users.exists() else ""
    if f'"{prefix}{clients - 1:02d}"' not in users:
        grant_demo_access(root)
        extra = "".join(
            f'\n[users."{prefix}{i:02d}"]\norganisation = "Benchmark"\nlevel = "general"\n'
            f'areas = ["{AREAS[i % 4]}"]\npurposes = ["SA-2026"]\nroles = ["analyst"]\n'
            for i in range(clients)
        )
        dd.users.write_text(dd.users.read_text("utf-8") + extra, "utf-8")
    tokens = {name: t["token"] for name, t in json.loads(dd.demo_tokens.read_text()).items()}
    store = TokenStore(dd.governance)
    with AuditLog.open(dd) as audit:
        for i in range(clients):
            tokens[f"{prefix}{i:02d}"] = issue_token(
                store, audit, f"{prefix}{i:02d}", issued_by="bench", expires_in=timedelta(hours=4)
            ).token
    return tokens


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(
    root: Path,
    env: dict[str, str] | None = None,
    log_level: str = "warning",
    extra_args: Sequence[str] = (),
    start_timeout_s: float = 60.0,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``gateway serve`` on a free loopback port with rate limits lifted (plus ``env``
    and ``extra_args``, e.g. ``--flight-port``); wait up to ``start_timeout_s`` for it to
    answer and to have settled: its masked projections (on unless ``GATEWAY_PROJECTIONS=0``),
    built in the background while it serves live, switched in, so nothing is timed during the
    build."""
    port = free_port()
    settings = {
        **os.environ,
        "GATEWAY_REQUESTS_PER_MINUTE": "1000000",
        "GATEWAY_REQUEST_BURST": "100000",
        **(env or {}),
    }
    # users.toml access (quick to prepare), enhanced analyst included: ungoverned, on purpose
    command = [
        *(sys.executable, "-m", "gateway", "serve", "--data-dir", str(root)),
        "--allow-ungoverned",
    ]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--log-level", log_level, *extra_args], env=settings
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + start_timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            health = httpx.get(url + "/healthz", timeout=1)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        projections = health.json().get("projections") if health.status_code == 200 else None
        if projections in ("off", "ready"):
            return process, url
        if projections == "failed":
            process.kill()
            raise SystemExit(f"the masked projections were not built: {health.json()['reasons']}")
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the gateway did not start (and settle) in time")


def small_latency(url: str, token: str, warehouse: Path, n: int = 200) -> None:
    body = {"sql": SMALL, "purpose": "SA-2026"}
    times = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
        for _ in range(10):
            http.post("/v1/query", json=body)
        for _ in range(n):
            began = time.perf_counter()
            answer = http.post("/v1/query", json=body)
            times.append(time.perf_counter() - began)
            answer.raise_for_status()
    con = duckdb.connect(str(warehouse), read_only=True)
    raw = []
    for _ in range(n):
        began = time.perf_counter()
        con.execute("SELECT count(*) FROM crime WHERE local_authority_code IN ('E06000001')")
        con.fetchall()
        raw.append(time.perf_counter() - began)
    con.close()
    print(
        f"small query over HTTP (JSON), {n} sequential: p50 {percentile(times, 50) * 1e3:.1f} ms,"
        f" p99 {percentile(times, 99) * 1e3:.1f} ms"
    )
    print(
        f"same query, plain DuckDB in-process:  p50 {percentile(raw, 50) * 1e3:.2f} ms,"
        f" p99 {percentile(raw, 99) * 1e3:.2f} ms"
    )


def big_result(url: str, token: str, warehouse: Path) -> None:
    with connect(url, token, purpose="SA-2026", timeout=600) as gw:
        gw.query_arrow("SELECT 1 AS x")
        began = time.perf_counter()
        table = gw.query_arrow(BIG)
        http_s = time.perf_counter() - began
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    size_mb = sink.getvalue().size / 1e6
    con = duckdb.connect(str(warehouse), read_only=True)
    began = time.perf_counter()
    raw = con.sql(BIG).to_arrow_table()
    raw_s = time.perf_counter() - began
    con.close()
    print(
        f"1M-row Arrow result over HTTP (policy rewrite, audit, spill, stream, client read): "
        f"{table.num_rows:,} rows, {size_mb:.1f} MB in {http_s:.2f} s = {size_mb / http_s:.0f} MB/s, "
        f"{table.num_rows / http_s / 1e6:.2f} M rows/s"
    )
    print(
        f"same rows, plain DuckDB to Arrow in-process: {raw.num_rows:,} rows in {raw_s:.2f} s = "
        f"{size_mb / raw_s:.0f} MB/s"
    )


def concurrent(url: str, tokens: dict[str, str], per_client: int = 25) -> None:
    body = {"sql": SMALL, "purpose": "SA-2026"}

    def client(i: int) -> tuple[list[float], int]:
        times, errors = [], 0
        headers = {"Authorization": f"Bearer {tokens[f'bench{i:02d}']}"}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
            for _ in range(per_client):
                began = time.perf_counter()
                answer = http.post("/v1/query", json=body)
                times.append(time.perf_counter() - began)
                errors += answer.status_code != 200
        return times, errors

    began = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(client, range(CLIENTS)))
    wall = time.perf_counter() - began
    times = [t for ts, _ in results for t in ts]
    errors = sum(e for _, e in results)
    print(
        f"{CLIENTS} concurrent clients x {per_client} small queries: {len(times) / wall:.0f} "
        f"queries/s, p50 {percentile(times, 50) * 1e3:.0f} ms, "
        f"p95 {percentile(times, 95) * 1e3:.0f} ms, errors {errors}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--scale", type=float, default=0.1)
    args = parser.parse_args()
    root = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-http-")) / "data"
    tokens = prepare(root, args.years, args.scale)
    process, url = serve(root, {"GATEWAY_MAX_JSON_RESULT_BYTES": str(256 << 20)})
    try:
        print(f"gateway on {url}, data {root} ({os.cpu_count()} cores)")
        warehouse = DataDir(root).warehouse
        small_latency(url, tokens["h.lee"], warehouse)
        big_result(url, tokens["s.patel"], warehouse)
        concurrent(url, tokens)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


if __name__ == "__main__":
    main()
