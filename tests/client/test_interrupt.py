"""Interrupting the Python client (Ctrl-C in a script, "interrupt kernel" in a notebook) closes
its connection, so the server cancels the query even though the process lives on."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from typing import Any

from tests.gateway_server import REPO, LiveGateway

#: A notebook cell: the query is interrupted, the kernel (and the Connection object) stay.
NOTEBOOK = """
import sys, time
from gateway.client import connect
gw = connect(sys.argv[1], sys.argv[2], purpose="SA-2026")
print("sending", flush=True)
try:
    gw.query(sys.argv[3])
except KeyboardInterrupt:
    print("interrupted", flush=True)
time.sleep(30)
"""


def _query_record(gateway: LiveGateway, tag: str) -> dict[str, Any] | None:
    """The completed record of the query whose SQL carries ``tag``, once there is one."""
    with gateway.client("s.patel") as http:
        events = http.get(
            "/v1/audit/events",
            params={"kind": ["query.started", "query.completed"], "actor": "a.khan", "limit": 1000},
        ).json()["events"]
    ids = {
        e["details"]["query_id"]
        for e in events
        if e["kind"] == "query.started" and tag in e["details"]["sql_submitted"]
    }
    done = [e for e in events if e["kind"] == "query.completed" and e["details"]["query_id"] in ids]
    return done[0]["details"] if done else None


def test_keyboard_interrupt_in_the_client_cancels_the_query(live_gateway: LiveGateway) -> None:
    tag = f"n_{uuid.uuid4().hex[:10]}"
    sql = f"SELECT count(*) AS {tag} FROM crime a, crime b, crime c, crime d"  # 60 s limit
    notebook = subprocess.Popen(
        [sys.executable, "-c", NOTEBOOK, live_gateway.url, live_gateway.token("a.khan"), sql],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert notebook.stdout is not None
        assert notebook.stdout.readline().strip() == "sending"
        time.sleep(0.7)
        notebook.send_signal(signal.SIGINT)
        assert notebook.stdout.readline().strip() == "interrupted"
        interrupted = time.monotonic()
        record = None
        while record is None and time.monotonic() - interrupted < 3.0:
            time.sleep(0.05)
            record = _query_record(live_gateway, tag)
        assert record is not None, "the query was not cancelled while the client lived on"
        assert record["outcome"] == "cancelled"
        assert notebook.poll() is None  # the process (and its Connection) is still there
    finally:
        notebook.kill()
        notebook.wait(10)
