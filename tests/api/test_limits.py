"""Per-user rate limits and concurrent-query caps (429 with Retry-After), failed-login
throttling, and a slow query that times out without holding up other users."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from importlib import resources

import httpx
import pytest

from gateway.cli.demo import grant_demo_access
from gateway.datadir import DataDir
from tests.gateway_server import LiveGateway, start_gateway

SLOW = "SELECT count(*) AS n FROM crime a, crime b, crime c, crime d"
QUICK = {"sql": "SELECT count(*) AS n FROM crime", "purpose": "SA-2026"}


@pytest.fixture(scope="module")
def strict_gateway(
    demo_data_dir: DataDir, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveGateway]:
    """A second server with tight limits and a 3 s query timeout for general analysts."""
    root = tmp_path_factory.mktemp("strict") / "data"
    root.mkdir()
    shutil.copyfile(demo_data_dir.warehouse, DataDir(root).warehouse)
    policy = resources.files("gateway.policy").joinpath("default_policy.toml").read_text("utf-8")
    assert "timeout_s = 60" in policy
    DataDir(root).policy.write_text(policy.replace("timeout_s = 60", "timeout_s = 3", 1), "utf-8")
    grant_demo_access(root)
    gateway = start_gateway(
        root,
        env={
            "GATEWAY_REQUESTS_PER_MINUTE": "30",
            "GATEWAY_REQUEST_BURST": "6",
            "GATEWAY_CONCURRENT_QUERIES": "1",
            "GATEWAY_FAILED_LOGINS_PER_MINUTE": "1",
            "GATEWAY_FAILED_LOGIN_BURST": "3",
        },
    )
    yield gateway
    gateway.stop()


def test_request_rate_is_limited_per_user(strict_gateway):  # type: ignore[no-untyped-def]
    with strict_gateway.client("h.lee") as http:
        statuses = [http.get("/v1/me").status_code for _ in range(8)]
        limited = http.get("/v1/me")
    assert statuses[:6] == [200] * 6
    assert 429 in statuses[6:]
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1
    with strict_gateway.client("r.wilson") as other:
        assert other.get("/v1/me").status_code == 200


def test_failed_logins_are_throttled_per_address(strict_gateway):  # type: ignore[no-untyped-def]
    bad = {"Authorization": "Bearer pgw_" + "B" * 43}
    statuses = [
        httpx.get(strict_gateway.url + "/v1/me", headers=bad, timeout=10).status_code
        for _ in range(5)
    ]
    assert statuses[:3] == [401, 401, 401]
    assert statuses[-1] == 429


def test_slow_query_times_out_without_holding_up_others(strict_gateway):  # type: ignore[no-untyped-def]
    outcome: dict[str, object] = {}

    def slow() -> None:
        began = time.monotonic()
        with strict_gateway.client("a.khan", timeout=60) as http:
            answer = http.post("/v1/query", json={"sql": SLOW, "purpose": "SA-2026"})
        outcome["status"] = answer.status_code
        outcome["body"] = answer.json()
        outcome["seconds"] = time.monotonic() - began

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.5)
    quick_times = []
    with strict_gateway.client("j.taylor") as http:
        for _ in range(4):
            began = time.monotonic()
            assert http.post("/v1/query", json=QUICK).status_code == 200
            quick_times.append(time.monotonic() - began)
    with strict_gateway.client("a.khan") as same_user:
        second = same_user.post("/v1/query", json=QUICK)
    thread.join(timeout=60)
    assert second.status_code == 429
    assert "already have" in second.json()["error"]["message"]
    assert outcome["status"] == 422  # its own limit: not a fault of the service
    assert outcome["body"]["error"]["code"] == "timeout"  # type: ignore[index]
    assert max(quick_times) < 2.5
    assert outcome["seconds"] >= 2.5  # type: ignore[operator]
