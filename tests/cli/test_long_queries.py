"""A long query shows how long it has run, and Ctrl-C withdraws it: the command exits 130 and
the server stops the query and audits it as cancelled — long before its time limit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gateway.cli.waiting import CANCELLED_EXIT
from tests.gateway_server import LiveGateway

#: Endless for the policy's 60 s limit (a four-way self join of the analyst's crimes).
SLOW = "SELECT count(*) AS n FROM crime a, crime b, crime c, crime d"
ANALYST = "j.taylor"


def _completed(gateway: LiveGateway) -> list[dict[str, Any]]:
    with gateway.client("s.patel") as http:
        answer = http.get(
            "/v1/audit/events",
            params={"kind": "query.completed", "actor": ANALYST, "limit": 1000},
        )
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


def _analyst_env(live_gateway: LiveGateway, tmp_path: Path) -> dict[str, str]:
    """The environment of a client process acting as the analyst (no saved profile)."""
    return {
        **os.environ,
        "GATEWAY_URL": live_gateway.url,
        "GATEWAY_TOKEN": live_gateway.token(ANALYST),
        "GATEWAY_CONFIG": str(tmp_path / "config.toml"),
    }


def _next_completed(live_gateway: LiveGateway, seen: int) -> dict[str, Any]:
    """The one completed record after the first ``seen`` (waiting up to 10 s for it)."""
    deadline = time.monotonic() + 10
    while len(events := _completed(live_gateway)) == seen and time.monotonic() < deadline:
        time.sleep(0.1)
    (record,) = events[seen:]
    return record


def test_a_long_query_shows_its_time_and_ctrl_c_cancels_it(
    live_gateway: LiveGateway, tmp_path: Path
) -> None:
    seen = len(_completed(live_gateway))
    env = _analyst_env(live_gateway, tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "query", SLOW, "--purpose", "SA-2026"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stderr is not None
    line = process.stderr.readline()  # blocks until the command says something
    assert line.startswith("running for "), line
    assert "Ctrl-C to cancel" in line
    began = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=30)
    assert process.returncode == CANCELLED_EXIT, rest
    assert "cancelled" in rest
    assert "Traceback" not in rest
    assert _next_completed(live_gateway, seen)["details"]["outcome"] == "cancelled"
    assert time.monotonic() - began < 10  # not the 60 s time limit


def test_interrupting_the_client_library_cancels_the_query(
    live_gateway: LiveGateway, tmp_path: Path
) -> None:
    """A notebook's stop button (KeyboardInterrupt) closes the connection the same way."""
    seen = len(_completed(live_gateway))
    env = _analyst_env(live_gateway, tmp_path)
    script = (
        "import sys\n"
        "from gateway.client import connect\n"
        "gw = connect(purpose='SA-2026')\n"
        "print('asking', flush=True)\n"
        "try:\n"
        f"    gw.query({SLOW!r})\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
        "    sys.exit(3)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "asking\n"
    time.sleep(1.5)  # the query is running on the server
    began = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 3, out
    assert _next_completed(live_gateway, seen)["details"]["outcome"] == "cancelled"
    assert time.monotonic() - began < 10
