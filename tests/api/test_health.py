"""``/healthz`` and ``/readyz`` tell the truth, and the engine's workers are shared fairly.

Live servers on loopback with real engine workers: two heavy analysts hold their share of the
workers while a third analyst's small queries are answered within a second; the heavy users'
queries beyond their share wait, bounded, then get 503 ``busy`` with Retry-After; every
worker frozen with SIGSTOP makes ``/healthz`` fail and ``/readyz`` answer 503 until the
workers are replaced (or resumed in time).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from gateway.api.routes.health import assess
from gateway.api.schemas import AuditHealthOut
from gateway.cli.demo import grant_demo_access
from gateway.datadir import DataDir
from gateway.disclosure.isolation import PROCESS_NAME
from gateway.engines import EngineStats
from tests.gateway_server import LiveGateway, start_gateway

#: Endless for the policy's 60 s limit (a four-way self join of the analyst's crimes).
SLOW = {"sql": "SELECT count(*) AS n FROM crime a, crime b, crime c, crime d", "purpose": "SA-2026"}
QUICK = {"sql": "SELECT count(*) AS n FROM crime", "purpose": "SA-2026"}
HEAVY_USERS = ("a.khan", "j.taylor")
LIGHT_USER = "h.lee"
QUEUE_TIMEOUT_S = 5.0
LIVENESS_S = 3.0


def _own_gateway(
    demo_data_dir: DataDir, tmp_path_factory: pytest.TempPathFactory, env: Mapping[str, str]
) -> LiveGateway:
    root = tmp_path_factory.mktemp("health") / "data"
    root.mkdir()
    shutil.copyfile(demo_data_dir.warehouse, DataDir(root).warehouse)
    grant_demo_access(root)
    return start_gateway(root, env=env)


@pytest.fixture(scope="module")
def fair_gateway(
    demo_data_dir: DataDir, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveGateway]:
    """Four workers (two per user, one kept for users running nothing); the API's own cap of
    concurrent queries per user set high, so the engine's share is what holds users back."""
    gateway = _own_gateway(
        demo_data_dir,
        tmp_path_factory,
        {
            "GATEWAY_ENGINE_WORKERS": "4",
            "GATEWAY_CONCURRENT_QUERIES": "4",
            "GATEWAY_ENGINE_QUEUE_TIMEOUT_S": str(QUEUE_TIMEOUT_S),
        },
    )
    yield gateway
    gateway.stop()


@pytest.fixture(scope="module")
def frozen_gateway(
    demo_data_dir: DataDir, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveGateway]:
    """Two workers; one stopped or dead for LIVENESS_S is replaced."""
    gateway = _own_gateway(
        demo_data_dir,
        tmp_path_factory,
        {"GATEWAY_ENGINE_WORKERS": "2", "GATEWAY_ENGINE_LIVENESS_S": str(LIVENESS_S)},
    )
    yield gateway
    gateway.stop()


def _health(gateway: LiveGateway) -> httpx.Response:
    return httpx.get(gateway.url + "/healthz", timeout=10)


def _eventually(check: Callable[[], bool], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


# -- what /healthz and /readyz say ---------------------------------------------------------


def test_healthz_reports_workers_queue_and_audit(live_gateway: LiveGateway) -> None:
    answer = _health(live_gateway)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["status"], body["ready"], body["reasons"]) == ("ok", True, [])
    engine = body["engine"]
    assert engine["status"] == "ok"
    assert engine["workers_alive"] == engine["workers"] == 3
    assert engine["workers_stopped"] == 0
    assert engine["max_queue"] > engine["queue_depth"]
    assert (engine["per_user_workers"], engine["reserved_workers"]) == (1, 1)
    assert body["audit"]["status"] == "ok"
    ready = httpx.get(live_gateway.url + "/readyz", timeout=10)
    assert (ready.status_code, ready.json()) == (200, {"ready": True, "reasons": []})


def test_a_server_scans_masked_projections_by_default(live_gateway: LiveGateway) -> None:
    """The shared server sets nothing about projections: it builds them and switches in."""
    _eventually(lambda: _health(live_gateway).json()["projections"] == "ready", within_s=60)
    answer = httpx.post(
        live_gateway.url + "/v1/query",
        json={"sql": "SELECT count(*) AS n FROM crime", "purpose": "SA-2026"},
        headers=live_gateway.headers("a.khan"),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


def _stats(**changes: int) -> EngineStats:
    base = {
        "workers": 4,
        "workers_alive": 4,
        "restarts": 0,
        "queue_depth": 0,
        "running": 0,
        "completed": 0,
        "failed": 0,
        "idle": 4,
        "max_queue": 8,
    }
    return EngineStats(**{**base, **changes})


OK = AuditHealthOut(status="ok")


@pytest.mark.parametrize(
    ("stats", "audit", "status", "ready"),
    [
        (_stats(), OK, "ok", True),
        (_stats(workers_alive=3, workers_stopped=1), OK, "degraded", True),
        (_stats(workers_alive=0, workers_stopped=4), OK, "failing", False),
        (_stats(queue_depth=8, running=4, idle=0), OK, "degraded", False),
        (_stats(), AuditHealthOut(status="degraded", reasons=["behind"]), "degraded", True),
        (_stats(), AuditHealthOut(status="failing", reasons=["disk full"]), "failing", False),
    ],
    ids=["ok", "one stopped", "all stopped", "queue full", "audit behind", "audit failing"],
)
def test_health_is_the_worst_of_engine_queue_and_audit(
    stats: EngineStats, audit: AuditHealthOut, status: str, ready: bool
) -> None:
    health = assess(stats, audit, stopping=False)
    assert (health.status, health.ready) == (status, ready)
    assert bool(health.reasons) == (status != "ok")
    assert not assess(stats, audit, stopping=True).ready


# -- fair shares over HTTP -----------------------------------------------------------------


class HeavyRequests:
    """Slow queries of ``user`` sent at once; each gives up reading after ``read_s`` (the
    server then cancels it) or gets its answer first (a 503 from the queue)."""

    def __init__(self, gateway: LiveGateway, user: str, count: int, read_s: float) -> None:
        self.answers: list[tuple[int, float, dict[str, str], dict[str, object]]] = []
        self.abandoned = 0
        self._lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._send, args=(gateway, user, read_s), daemon=True)
            for _ in range(count)
        ]
        for thread in self.threads:
            thread.start()

    def _send(self, gateway: LiveGateway, user: str, read_s: float) -> None:
        started = time.monotonic()
        try:
            answer = httpx.post(
                f"{gateway.url}/v1/query",
                json=SLOW,
                headers=gateway.headers(user),
                timeout=httpx.Timeout(10.0, read=read_s),
            )
        except httpx.ReadTimeout:
            with self._lock:
                self.abandoned += 1
            return
        with self._lock:
            self.answers.append(
                (
                    answer.status_code,
                    time.monotonic() - started,
                    dict(answer.headers),
                    answer.json(),
                )
            )

    def join(self) -> None:
        for thread in self.threads:
            thread.join(30)


def _engine(gateway: LiveGateway) -> dict[str, int]:
    engine: dict[str, int] = _health(gateway).json()["engine"]
    return engine


def test_light_user_answered_in_a_second_while_heavy_users_hold_their_share(
    fair_gateway: LiveGateway,
) -> None:
    read_s = QUEUE_TIMEOUT_S + 3.0
    heavy = [HeavyRequests(fair_gateway, user, 3, read_s) for user in HEAVY_USERS]
    # Two workers each at most, and the fourth kept for users running nothing: 3 run and
    # the heavy users' other 3 queries wait in their own queues.
    _eventually(
        lambda: (lambda e: (e["running"], e["queue_depth"]) == (3, 3))(_engine(fair_gateway)),
        within_s=QUEUE_TIMEOUT_S - 1.5,
    )
    timings = []
    with fair_gateway.client(LIGHT_USER, timeout=10) as http:
        for _ in range(5):
            started = time.monotonic()
            answer = http.post("/v1/query", json=QUICK)
            timings.append(time.monotonic() - started)
            assert answer.status_code == 200, answer.text
    assert max(timings) < 1.0, timings
    engine = _engine(fair_gateway)
    assert engine["running"] == 3  # the light user's worker is free again; none went to them

    for requests in heavy:
        requests.join()
    answers = [a for r in heavy for a in r.answers]
    # The queries beyond each user's share waited, bounded, then got a clear 503 busy.
    assert len(answers) == 3, answers
    assert sum(r.abandoned for r in heavy) == 3  # those running until their client left
    for status, waited, headers, body in answers:
        assert status == 503
        assert body["error"]["code"] == "busy"  # type: ignore[index]
        assert int(headers["retry-after"]) >= 1
        assert QUEUE_TIMEOUT_S - 0.5 <= waited < QUEUE_TIMEOUT_S + 2.0
    # The abandoned ones were cancelled: every worker is free for the next user.
    _eventually(lambda: _engine(fair_gateway)["running"] == 0, within_s=5.0)


# -- frozen workers ------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text("ascii")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _engine_workers(gateway: LiveGateway) -> set[int]:
    """The server's engine workers: the children of its multiprocessing forkserver, except
    the disclosure-control child that shares it (named apart)."""
    workers: set[int] = set()
    for child in _children(gateway.process.pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"forkserver" in command:
            workers.update(w for w in _children(child) if _name(w) != PROCESS_NAME)
    return workers


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text("ascii").strip()
    except OSError:
        return ""


def _signal_all(pids: set[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def test_all_workers_stopped_fails_health_and_readiness_until_replaced(
    frozen_gateway: LiveGateway,
) -> None:
    pids = _engine_workers(frozen_gateway)
    assert len(pids) == 2
    try:
        _signal_all(pids, signal.SIGSTOP)
        _eventually(lambda: _health(frozen_gateway).status_code == 503, within_s=1.0)
        failing = _health(frozen_gateway).json()
        assert failing["status"] == "failing"
        assert failing["engine"]["workers_alive"] == 0
        assert failing["engine"]["workers_stopped"] == 2
        assert "no engine worker is answering" in failing["reasons"][0]
        ready = httpx.get(frozen_gateway.url + "/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["ready"] is False
        # The pool replaces workers still stopped at the liveness deadline.
        _eventually(lambda: _health(frozen_gateway).status_code == 200, within_s=LIVENESS_S + 5)
        _eventually(lambda: _health(frozen_gateway).json()["status"] == "ok", within_s=5.0)
        assert httpx.get(frozen_gateway.url + "/readyz", timeout=10).status_code == 200
        assert not _engine_workers(frozen_gateway) & pids
        with frozen_gateway.client(LIGHT_USER, timeout=30) as http:
            answer = http.post("/v1/query", json=QUICK)
        assert answer.status_code == 200, answer.text
        assert _health(frozen_gateway).json()["engine"]["restarts"] >= 2
    finally:
        _signal_all(pids, signal.SIGCONT)  # whatever the pool did not kill


def test_workers_resumed_before_the_deadline_are_kept(frozen_gateway: LiveGateway) -> None:
    pids = _engine_workers(frozen_gateway)
    restarts = _health(frozen_gateway).json()["engine"]["restarts"]
    try:
        _signal_all(pids, signal.SIGSTOP)
        _eventually(lambda: _health(frozen_gateway).status_code == 503, within_s=1.0)
    finally:
        _signal_all(pids, signal.SIGCONT)
    _eventually(lambda: _health(frozen_gateway).json()["status"] == "ok", within_s=1.0)
    time.sleep(LIVENESS_S)
    assert _engine_workers(frozen_gateway) == pids
    assert _health(frozen_gateway).json()["engine"]["restarts"] == restarts
    assert httpx.get(frozen_gateway.url + "/readyz", timeout=10).status_code == 200
