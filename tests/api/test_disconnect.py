"""A query whose HTTP client goes away is cancelled, audited as cancelled, and frees its worker
and the user's concurrent-query slot — long before its time limit."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.cli.demo import grant_demo_access
from gateway.datadir import DataDir
from tests.gateway_server import LiveGateway, start_gateway

#: Endless for the policy's 60 s limit (a four-way self join of the analyst's crimes).
SLOW = {"sql": "SELECT count(*) AS n FROM crime a, crime b, crime c, crime d", "purpose": "SA-2026"}
QUICK = {"sql": "SELECT count(*) AS n FROM crime", "purpose": "SA-2026"}
ANALYST = "a.khan"


@pytest.fixture(scope="module")
def lone_gateway(
    demo_data_dir: DataDir, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveGateway]:
    """A server with one engine worker and one concurrent query per user, so a query that
    kept running after its client left would block the next one."""
    root = tmp_path_factory.mktemp("lone") / "data"
    root.mkdir()
    shutil.copyfile(demo_data_dir.warehouse, DataDir(root).warehouse)
    grant_demo_access(root)
    gateway = start_gateway(
        root, env={"GATEWAY_CONCURRENT_QUERIES": "1", "GATEWAY_ENGINE_WORKERS": "1"}
    )
    yield gateway
    gateway.stop()


def _completed(gateway: LiveGateway, query_id: str | None = None) -> list[dict[str, Any]]:
    with gateway.client("s.patel") as http:
        answer = http.get(
            "/v1/audit/events",
            params={"kind": ["query.started", "query.completed"], "actor": ANALYST, "limit": 1000},
        )
    assert answer.status_code == 200, answer.text
    return [e for e in answer.json()["events"] if query_id in (None, e["details"]["query_id"])]


def _abandon_slow_query(gateway: LiveGateway, after_s: float) -> float:
    """Send the slow query and give up waiting after ``after_s``: httpx closes the connection.
    Returns when it was closed (monotonic)."""
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{gateway.url}/v1/query",
            json=SLOW,
            headers=gateway.headers(ANALYST),
            timeout=httpx.Timeout(10.0, read=after_s),
        )
    return time.monotonic()


def _wait_for_cancelled(gateway: LiveGateway, seen: int, within_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        events = _completed(gateway)[seen:]
        done = [e for e in events if e["kind"] == "query.completed"]
        if done:
            return done[0]
        time.sleep(0.05)
    raise AssertionError(f"no completed record within {within_s} s")


def test_disconnect_cancels_the_query_and_releases_slot_and_worker(
    lone_gateway: LiveGateway,
) -> None:
    seen = len(_completed(lone_gateway))
    dropped = _abandon_slow_query(lone_gateway, after_s=0.5)
    completed = _wait_for_cancelled(lone_gateway, seen, within_s=3.0)
    audited = time.monotonic() - dropped
    query_id = completed["details"]["query_id"]
    trail = [e["kind"] for e in _completed(lone_gateway, query_id)]
    assert trail == ["query.started", "query.completed"]
    assert completed["details"]["outcome"] == "cancelled"
    assert completed["details"]["rows"] == 0
    assert completed["details"]["duration_ms"] < 2500  # the limit is 60 s
    assert audited < 2.0
    # One slot per user and one engine worker: both must be free again at once.
    began = time.monotonic()
    with lone_gateway.client(ANALYST, timeout=10) as http:
        again = http.post("/v1/query", json=QUICK)
    assert again.status_code == 200, again.text
    assert time.monotonic() - began < 2.0
    metrics = httpx.get(lone_gateway.url + "/metrics").text
    assert 'gateway_engine_queries_total{outcome="cancelled"} 1' in metrics
    assert 'gateway_errors_total{code="cancelled"} 1' in metrics
    assert 'gateway_http_requests_total{route="/v1/query",method="POST",status="409"} 1' in metrics


def test_a_query_answered_in_time_is_not_cancelled(lone_gateway: LiveGateway) -> None:
    """Watching the connection does not disturb clients that stay: concurrent users get
    their answers and every query is audited ok."""
    answers: list[int] = []

    def ask(user: str) -> None:
        with lone_gateway.client(user, timeout=30) as http:
            answers.append(http.post("/v1/query", json=QUICK).status_code)

    threads = [threading.Thread(target=ask, args=(u,)) for u in ("a.khan", "j.taylor", "h.lee")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == [200, 200, 200]


@pytest.mark.parametrize("progress", [False, True], ids=["export", "export with progress"])
def test_disconnect_withdraws_an_export_query(lone_gateway: LiveGateway, progress: bool) -> None:
    """Exports run the same audited query path: a client that leaves withdraws it too (for
    the NDJSON progress stream, closing the stream does)."""
    seen = len(_completed(lone_gateway))

    def read_until_idle() -> None:
        with httpx.stream(
            "POST",
            f"{lone_gateway.url}/v1/exports",
            params={"progress": "true"} if progress else None,
            json={**SLOW, "format": "csv"},
            headers=lone_gateway.headers(ANALYST),
            timeout=httpx.Timeout(10.0, read=0.5),
        ) as response:
            for _ in response.iter_lines():  # the first progress line, then nothing for 0.5 s
                pass

    with pytest.raises(httpx.ReadTimeout):
        read_until_idle()
    completed = _wait_for_cancelled(lone_gateway, seen, within_s=3.0)
    assert completed["details"]["outcome"] == "cancelled"
    assert completed["details"]["duration_ms"] < 2500
    with lone_gateway.client(ANALYST, timeout=10) as http:
        assert http.post("/v1/query", json=QUICK).status_code == 200
