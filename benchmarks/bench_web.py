"""The web console's fixed cost per request, against the API on the same server.

    python benchmarks/bench_web.py [--n 200]

First, in process: :meth:`gateway.auth.signin.SignIn.resolve` of one active session, the
session check every page and console request makes (read the session, the person, the lock;
keep the idle timer).

Then it starts ``gateway serve`` over the tests' tiny warehouse (every demo user with a known
password) and times, one after another from one client:

1. ``POST /console/query`` (a signed-in web session, JSON answer) of a small query, and the same
   query as ``POST /v1/query`` with the person's bearer token: what the session costs beyond a
   token (the session is read, the idle timer kept, the person admitted);
2. ``GET /password`` with the session (a page: the session alone) and ``GET /v1/me`` with a
   token (authentication alone, the token's idle rule included);
3. the same page and ``/v1/me`` from ``--clients`` concurrent clients (one session each, one
   token): where a write per request queues behind SQLite's one writer (queries are left out:
   one person may run one at a time).

Figures (median and p95 in ms) are printed, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.web.conftest

from tests.gateway_server import start_gateway
from tests.web.conftest import PASSWORD, WebClient, web_data_dir

from gateway.audit.log import AuditLog
from gateway.auth.signin import SignIn
from gateway.datadir import DataDir
from gateway.deployment import Deployment

QUERY = "SELECT count(*) AS n FROM crime"
PURPOSE = "SA-2026"


def timed(n: int, call: Callable[[], httpx.Response]) -> list[float]:
    call()  # warm: the first call pays for connections and caches
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text
    return times


def report(label: str, times: list[float]) -> None:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(f"{label:<44} median {statistics.median(times):6.1f} ms   p95 {p95:6.1f} ms")


def resolve_in_process(root: Path, n: int) -> list[float]:
    """``SignIn.resolve`` of one active session, ``n`` times (ms each)."""
    dd = DataDir(root)
    with Deployment.open(dd, engine=False) as deployment, AuditLog.open(dd) as audit:
        signin = SignIn.open(dd.governance, deployment.directory, audit, deployment.policy.login)
        secret, _ = signin.sign_in("h.lee", PASSWORD, "127.0.0.1")
        secret, _ = signin.accept_syops(secret, signin.rules.syops_version, "127.0.0.1")
        times = []
        for _ in range(n):
            start = time.perf_counter()
            signin.resolve(secret)
            times.append((time.perf_counter() - start) * 1000)
        signin.sign_out(secret)
    return times


def concurrent(
    clients: int, n: int, make: Callable[[], Callable[[], httpx.Response]]
) -> list[float]:
    calls = [make() for _ in range(clients)]
    with ThreadPoolExecutor(clients) as pool:
        runs = list(pool.map(lambda call: timed(n, call), calls))
    return [t for run in runs for t in run]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="requests per measurement")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients in part 3")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = web_data_dir(Path(tmp) / "data").root
        resolved = resolve_in_process(root, args.n)
        gateway = start_gateway(root)
        try:
            web = WebClient(gateway).sign_in("h.lee")
            csrf = web.csrf()
            form = {"sql": QUERY, "purpose": PURPOSE, "format": "json"}
            with gateway.client("h.lee") as api:
                console = timed(
                    args.n, lambda: web.post("/console/query", form, **{"X-CSRF-Token": csrf})
                )
                query = timed(
                    args.n, lambda: api.post("/v1/query", json={"sql": QUERY, "purpose": PURPOSE})
                )
                me = timed(args.n, lambda: api.get("/v1/me"))
            page = timed(args.n, lambda: web.get("/password"))
            web.close()
            sessions: list[WebClient] = []

            def page_call() -> Callable[[], httpx.Response]:
                client = WebClient(gateway).sign_in("h.lee")
                sessions.append(client)
                return lambda: client.get("/password")

            def me_call() -> Callable[[], httpx.Response]:
                client = gateway.client("h.lee")
                return lambda: client.get("/v1/me")

            per_client = max(1, args.n // args.clients)
            page_many = concurrent(args.clients, per_client, page_call)
            me_many = concurrent(args.clients, per_client, me_call)
            for client in sessions:
                client.close()
        finally:
            gateway.stop()
    print(f"{args.n} requests each, one client, tiny warehouse, loopback")
    report("SignIn.resolve (in process)", resolved)
    report("POST /console/query (web session)", console)
    report("POST /v1/query (bearer token)", query)
    report("GET /password (web session, a page)", page)
    report("GET /v1/me (bearer token)", me)
    report(f"{args.clients} clients: GET /password (sessions)", page_many)
    report(f"{args.clients} clients: GET /v1/me (token)", me_many)
    print(f"console - API, median: {statistics.median(console) - statistics.median(query):.1f} ms")


if __name__ == "__main__":
    main()
