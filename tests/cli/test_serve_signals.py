"""``gateway serve`` stops cleanly on SIGTERM (issue 13, item 6): it stops accepting, cancels
the queries in flight (audited ``cancelled``; the client gets a JSON 503 with the query id, not
a plain-text 500), removes export work folders and result files, and exits with status 0.

Each test runs its own server process on its own copy of the demo data directory and kills
it with a real signal.
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.audit.log import AuditLog
from gateway.cli.demo import grant_demo_access
from gateway.datadir import DataDir
from tests.gateway_server import LiveGateway, start_gateway

ANALYST = "a.khan"
#: Endless for the policy's 60 s limit (a four-way self join of the analyst's crimes).
SLOW = "SELECT count(*) AS n FROM crime a, crime b, crime c, crime d"
#: A quick query whose result takes a while to write as XLSX.
WIDE = "SELECT c.crime_id, c.crime_ref, c.lsoa_code FROM crime c, crime d LIMIT 300000"


@pytest.fixture
def server(demo_data_dir: DataDir, tmp_path: Path) -> Iterator[LiveGateway]:
    root = tmp_path / "data"
    root.mkdir()
    shutil.copyfile(demo_data_dir.warehouse, DataDir(root).warehouse)
    grant_demo_access(root)
    gateway = start_gateway(root, env={"GATEWAY_SHUTDOWN_GRACE_S": "10"})
    yield gateway
    gateway.stop()


def _wait_running(gateway: LiveGateway, within_s: float = 10) -> None:
    """Until the engine runs a query (its gauge in /metrics)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        metrics = httpx.get(f"{gateway.url}/metrics", timeout=5).text
        if "gateway_engine_running 1" in metrics:
            return
        time.sleep(0.05)
    raise AssertionError("the query never started")


def _terminate(gateway: LiveGateway, within_s: float = 30) -> float:
    """SIGTERM the server, wait for it to exit; how long it took."""
    began = time.monotonic()
    gateway.process.send_signal(signal.SIGTERM)
    gateway.process.wait(timeout=within_s)
    return time.monotonic() - began


def _leftovers(gateway: LiveGateway) -> list[str]:
    data = DataDir(gateway.data_dir)
    found = [p.name for p in data.exports.glob(".tmp-*")] if data.exports.exists() else []
    if data.results.exists():
        found += [p.name for p in data.results.iterdir()]
    return found


def _audited(gateway: LiveGateway, query_id: str) -> tuple[str, list[str]]:
    """The query's completed outcome and every event kind about it (read from the file)."""
    with AuditLog.open(DataDir(gateway.data_dir)) as log:
        views = [q for q in log.queries(actor=ANALYST) if q.query_id == query_id]
        kinds = [e.kind for e in log.events() if e.details.get("query_id") == query_id]
    assert len(views) == 1, views
    completed = views[0].completed
    assert completed is not None, "no completed record"
    return str(completed.details["outcome"]), kinds


def _in_background(work: Any) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["answer"] = work()
        except Exception as exc:  # reported by the test
            box["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


def test_sigterm_mid_export_cancels_it_and_exits_0(server: LiveGateway) -> None:
    def export() -> httpx.Response:
        with server.client(ANALYST, timeout=60) as http:
            return http.post(
                "/v1/exports", json={"sql": SLOW, "purpose": "SA-2026", "format": "gpkg"}
            )

    thread, box = _in_background(export)
    _wait_running(server)
    took = _terminate(server)
    thread.join(30)
    assert server.process.returncode == 0
    assert took < 15
    answer = box["answer"]
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert error["code"] == "engine_unavailable"
    assert "shutting down" in error["message"]
    query_id = answer.headers["x-query-id"]
    assert error["query_id"] == query_id
    outcome, kinds = _audited(server, query_id)
    assert outcome == "cancelled"
    assert "export.registered" not in kinds
    assert _leftovers(server) == []
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log
    assert "Internal Server Error" not in log


def test_sigterm_mid_query_cancels_it_and_exits_0(server: LiveGateway) -> None:
    def query() -> httpx.Response:
        with server.client(ANALYST, timeout=60) as http:
            return http.post("/v1/query", json={"sql": SLOW, "purpose": "SA-2026"})

    thread, box = _in_background(query)
    _wait_running(server)
    _terminate(server)
    thread.join(30)
    assert server.process.returncode == 0
    answer = box["answer"]
    assert answer.status_code == 503
    outcome, _ = _audited(server, answer.headers["x-query-id"])
    assert outcome == "cancelled"
    assert _leftovers(server) == []


def test_sigterm_while_an_export_file_is_written_removes_its_work_folder(
    server: LiveGateway,
) -> None:
    """The query is done (audited ok); the file is being written: it is abandoned, its work
    folder removed and nothing registered; the progress stream says so."""
    lines: list[dict[str, Any]] = []
    writing = threading.Event()

    def export() -> None:
        with httpx.stream(
            "POST",
            f"{server.url}/v1/exports",
            params={"progress": "true"},
            json={"sql": WIDE, "purpose": "SA-2026", "format": "xlsx"},
            headers=server.headers(ANALYST),
            timeout=120,
        ) as answer:
            for line in answer.iter_lines():
                lines.append(json.loads(line))
                progress = lines[-1].get("progress") or {}
                if progress.get("stage") == "write" and progress.get("done"):
                    writing.set()

    thread, box = _in_background(export)
    assert writing.wait(60), lines
    _terminate(server)
    thread.join(30)
    assert "error" not in box, box
    assert server.process.returncode == 0
    assert lines[-1]["error"]["code"] == "cancelled", lines[-1]
    assert _leftovers(server) == []
    with AuditLog.open(DataDir(server.data_dir)) as log:
        assert not [e for e in log.events() if e.kind == "export.registered"]
    assert not any((DataDir(server.data_dir).exports).glob("q*"))


def test_sigterm_when_idle_exits_0_at_once(server: LiveGateway) -> None:
    with server.client(ANALYST) as http:
        assert http.get("/v1/me").status_code == 200
    took = _terminate(server)
    assert server.process.returncode == 0
    assert took < 5
    assert "gateway: stopped" in server.log.read_text(errors="replace")
