"""The server disposes of what is past the retention schedule by itself (issue 15, finding 9):
a live gateway over a log whose oldest record is years past ``[retention] audit_days``."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from gateway.audit.log import AuditLog
from gateway.datadir import DataDir
from tests.cli_process import run_gateway
from tests.gateway_server import prepare_data_dir, start_gateway


def test_the_server_disposes_of_records_past_the_schedule_and_the_log_still_verifies(
    tmp_path: Path,
) -> None:
    root = tmp_path / "data"
    root.mkdir()
    with AuditLog.open(DataDir(root)) as log:
        old = log.store.append(
            "policy.loaded", "system", "", {}, time=datetime(2015, 1, 1, tzinfo=UTC)
        )
    prepare_data_dir(None, root)
    gateway = start_gateway(root, env={"GATEWAY_RETENTION_INTERVAL_S": "3600"})
    try:
        deadline = time.monotonic() + 30
        disposed = []
        while not disposed and time.monotonic() < deadline:
            with AuditLog.open(DataDir(root)) as log:
                disposed = list(log.events(kinds=["audit.disposed"]))
            time.sleep(0.2)
        assert len(disposed) == 1
        record = disposed[0]
        assert record.actor == "system"
        assert record.details["through_seq"] == old.seq
        assert "retention schedule" in record.details["reason"]
        with AuditLog.open(DataDir(root)) as log:
            assert log.store.stored_record(old.seq) is None  # gone
    finally:
        gateway.stop()
    verified = run_gateway("audit", "verify", "--data-dir", str(root))
    assert verified.returncode == 0, verified.stdout + verified.stderr
