"""Soak: 16 then 64 concurrent clients on loopback for a bounded time each; throughput,
latency percentiles and the API process's memory over time.

    python benchmarks/bench_soak.py [--data-dir DIR] [--seconds 30] [--clients 16 64]
                                    [--hostile] [--years 1] [--scale 0.1]

Each client is a distinct general analyst (its own areas, its own per-user limits) running a
fixed mix, chosen at random with a fixed seed:

    70 %  small     SELECT count(*) … (JSON)
    15 %  grouped   counts by category and month (JSON, ~100 rows)
    10 %  csv       5,000 crimes as CSV
     5 %  arrow     100,000 rows as Arrow

With ``--hostile`` each phase also runs, alongside the clients, 300 slow-header connections
(a header line every 0.5 s, reopened when closed) and one client that asks for a 20 MB answer
every 5 s and never reads it: what the header timeout, the connection cap and the send timeout
are for.

It prints, per phase: requests/s, p50/p95/p99 per kind and overall, answers by status, and the
server's RSS (and anonymous RSS, i.e. not the memory-mapped result files) sampled every
second — start, peak and end, and a line every 5 s — plus the largest size the results
directory reached and what is left in it afterwards. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from bench_http import percentile, prepare, serve  # same folder: users, tokens, server

from gateway.datadir import DataDir

PURPOSE = "SA-2026"
MIX: tuple[tuple[str, float, dict[str, str]], ...] = (
    ("small", 0.70, {"sql": "SELECT count(*) AS n FROM crime"}),
    (
        "grouped",
        0.15,
        {
            "sql": "SELECT police_uk_category, date_trunc('month', recorded_at) AS month, "
            "count(*) AS n FROM crime GROUP BY ALL ORDER BY ALL"
        },
    ),
    ("csv", 0.10, {"sql": "SELECT * FROM crime LIMIT 5000", "format": "csv"}),
    (
        "arrow",
        0.05,
        {
            "sql": "SELECT i.incident_id, i.reported_at, i.grade FROM incident i, lsoa l "
            "LIMIT 100000",
            "format": "arrow",
        },
    ),
)
UNREAD_SQL = "SELECT crime_ref || repeat('x', 50000) AS s FROM crime LIMIT 400"


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, RssAnon) of ``pid`` in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "RssAnon"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("RssAnon", 0.0)


def folder_bytes(folder: Path) -> int:
    total = 0
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(folder):
            with contextlib.suppress(FileNotFoundError):
                total += entry.stat().st_size
    return total


@dataclass
class Phase:
    """What one phase measured."""

    clients: int
    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    memory: list[tuple[float, float, float]] = field(default_factory=list)  # (t, rss, anon)
    results_peak: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float, status: str) -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)
            self.statuses[status] += 1


def client_loop(url: str, token: str, seed: int, deadline: float, phase: Phase) -> None:
    rng = random.Random(seed)
    kinds = [k for k, _, _ in MIX]
    weights = [w for _, w, _ in MIX]
    bodies = {k: b for k, _, b in MIX}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as http:
        while time.monotonic() < deadline:
            kind = rng.choices(kinds, weights)[0]
            began = time.perf_counter()
            try:
                answer = http.post("/v1/query", json={**bodies[kind], "purpose": PURPOSE})
                status = str(answer.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            phase.record(kind, time.perf_counter() - began, status)


def sampler(pid: int, results: Path, stop: threading.Event, phase: Phase) -> None:
    began = time.monotonic()
    while not stop.is_set():
        with contextlib.suppress(FileNotFoundError):
            rss, anon = memory_mb(pid)
            phase.memory.append((time.monotonic() - began, rss, anon))
        phase.results_peak = max(phase.results_peak, folder_bytes(results))
        stop.wait(1.0)


def slow_headers(url: str, stop: threading.Event, count: int = 300) -> None:
    """``count`` connections sending a header line every 0.5 s, reopened when closed."""
    host, port = url.removeprefix("http://").split(":")
    sockets: list[socket.socket | None] = [None] * count
    while not stop.is_set():
        for i, sock in enumerate(sockets):
            try:
                if sock is None:
                    sock = socket.create_connection((host, int(port)), timeout=1)
                    sock.sendall(b"GET /v1/me HTTP/1.1\r\nHost: gateway\r\n")
                    sockets[i] = sock
                else:
                    sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                if sock is not None:
                    sock.close()
                sockets[i] = None
        stop.wait(0.5)
    for sock in sockets:
        if sock is not None:
            sock.close()


def unread_answers(url: str, token: str, stop: threading.Event) -> None:
    """Every 5 s, ask for a 20 MB answer and never read it."""
    host, port = url.removeprefix("http://").split(":")
    opened: list[socket.socket] = []
    payload = json.dumps({"sql": UNREAD_SQL, "purpose": PURPOSE, "format": "arrow"}).encode()
    head = (
        "POST /v1/query HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode()
    while not stop.is_set():
        with contextlib.suppress(OSError):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect((host, int(port)))
            sock.sendall(head + payload)
            opened.append(sock)
        stop.wait(5.0)
    for sock in opened:
        sock.close()


def run_phase(
    url: str,
    pid: int,
    results: Path,
    tokens: dict[str, str],
    clients: int,
    seconds: float,
    hostile: bool,
) -> Phase:
    phase = Phase(clients, seconds)
    stop = threading.Event()
    background: list[threading.Thread] = [
        threading.Thread(target=sampler, args=(pid, results, stop, phase))
    ]
    if hostile:
        background.append(threading.Thread(target=slow_headers, args=(url, stop)))
        background.append(
            threading.Thread(target=unread_answers, args=(url, tokens["j.taylor"], stop))
        )
    for thread in background:
        thread.start()
    deadline = time.monotonic() + seconds
    workers = [
        threading.Thread(
            target=client_loop, args=(url, tokens[f"soak{i:02d}"], 1000 + i, deadline, phase)
        )
        for i in range(clients)
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    stop.set()
    for thread in background:
        thread.join()
    return phase


def report(phase: Phase, results: Path) -> None:
    every = [t for ts in phase.latencies.values() for t in ts]
    print(
        f"\n== {phase.clients} clients, {phase.seconds:g} s: {len(every):,} requests, "
        f"{len(every) / phase.seconds:.1f} req/s; answers {dict(sorted(phase.statuses.items()))}"
    )

    def line(kind: str, values: list[float]) -> str:
        return (
            f"  {kind:8s} n={len(values):6,d}  p50 {percentile(values, 50) * 1e3:7.1f} ms  "
            f"p95 {percentile(values, 95) * 1e3:7.1f} ms  p99 {percentile(values, 99) * 1e3:7.1f} ms"
        )

    for kind, _, _ in MIX:
        print(line(kind, phase.latencies.get(kind, [])))
    print(line("all", every))
    if phase.memory:
        rss = [m[1] for m in phase.memory]
        anon = [m[2] for m in phase.memory]
        print(
            f"  API RSS MB: start {rss[0]:.0f}, peak {max(rss):.0f}, end {rss[-1]:.0f}; "
            f"anonymous: start {anon[0]:.0f}, peak {max(anon):.0f}, end {anon[-1]:.0f}"
        )
        timeline = ", ".join(f"{t:.0f}s {r:.0f}/{a:.0f}" for t, r, a in phase.memory[:: max(1, 5)])
        print(f"  RSS/anon over time: {timeline}")
    left = folder_bytes(results)
    print(
        f"  results dir: peak {phase.results_peak / 2**20:.1f} MB, "
        f"after the phase {left / 2**20:.1f} MB"
    )


def main(argv: list[str] | None = None, on_phase: Callable[[Phase], None] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--hostile", action="store_true", help="add slow and unread clients")
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--scale", type=float, default=0.1)
    args = parser.parse_args(argv)
    root = args.data_dir or Path(tempfile.mkdtemp(prefix="bench-soak-")) / "data"
    tokens = prepare(root, args.years, args.scale, clients=max(args.clients), prefix="soak")
    process, url = serve(
        root, {"GATEWAY_SEND_TIMEOUT_S": "5", "GATEWAY_HEADER_TIMEOUT_S": "5"}, log_level="error"
    )
    results = DataDir(root).results
    try:
        rss, anon = memory_mb(process.pid)
        print(
            f"gateway on {url}, data {root} ({os.cpu_count()} cores); idle RSS {rss:.0f} MB "
            f"(anonymous {anon:.0f} MB){'; hostile clients on' if args.hostile else ''}"
        )
        for clients in args.clients:
            phase = run_phase(
                url, process.pid, results, tokens, clients, args.seconds, args.hostile
            )
            report(phase, results)
            if on_phase is not None:
                on_phase(phase)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        print(
            f"\nSIGTERM: exit status {code}; results dir after stop {folder_bytes(results)} bytes"
        )


if __name__ == "__main__":
    main()
