"""The AuditLog facade: the query lifecycle, incomplete queries, checkpoints, fail-closed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from audit_helpers import make_request, make_started

from gateway.audit import (
    AccessEvent,
    AuditLog,
    ExportRegistered,
    QueryDenied,
    ResultFingerprint,
    SQLiteAuditStore,
    fingerprint_table,
    verify_data_dir,
)
from gateway.audit.checkpoints import CheckpointFile, checkpoint_valid
from gateway.audit.log import CHECKPOINT_KEY
from gateway.datadir import DataDir
from gateway.errors import AuditUnavailable, ConfigurationError


def test_a_completed_query_reads_as_one_complete_record(data_dir: DataDir) -> None:
    started = make_started("Q1")
    with AuditLog.open(data_dir) as log:
        first = log.record(started)
        log.record(
            started.completed(outcome="ok", rows=42, bytes=1234, duration_ms=12.5, fingerprint="f")
        )
        [view] = log.queries()
    assert view.query_id == "Q1"
    assert view.status == "completed"
    assert view.complete
    assert view.decision == "allowed"
    assert view.started == first
    assert view.request["sql_submitted"] == started.request.sql_submitted
    assert view.request["sql_executed"] == started.sql_executed
    assert view.request["row_filters"] == list(started.row_filters)
    assert view.result["rows"] == 42
    assert view.completed is not None
    assert view.completed.actor == "a.khan"


def test_a_denied_query_is_one_complete_record_with_its_reason(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir) as log:
        log.record(QueryDenied("Q9", make_request(), "table_not_permitted", "intelligence_report"))
        [view] = log.queries()
    assert view.status == "denied"
    assert view.complete
    assert view.request["reason"] == "table_not_permitted"


def test_a_started_query_without_completion_reads_as_incomplete(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir) as log:
        done = make_started("Q1")
        log.record(done)
        log.record(done.completed(outcome="timeout", rows=0, bytes=0, duration_ms=30e3))
        log.record(make_started("Q2"))
        assert [q.query_id for q in log.incomplete_queries()] == ["Q2"]
        statuses = {q.query_id: q.status for q in log.queries()}
    assert statuses == {"Q1": "completed", "Q2": "incomplete"}


_KILLED_WORKER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from audit_helpers import make_started
from gateway.audit import AuditLog
from gateway.datadir import DataDir
log = AuditLog.open(DataDir(Path(sys.argv[1])), checkpoint_every=1000)
log.record(make_started("Q-killed"))
print("started", flush=True)
time.sleep(60)  # "running the query" when it is killed
"""


def test_a_worker_killed_mid_query_leaves_a_valid_chain_and_an_incomplete_query(
    data_dir: DataDir,
) -> None:
    with AuditLog.open(data_dir, checkpoint_every=1000) as log:
        before = make_started("Q-before")
        log.record(before)
        log.record(before.completed(outcome="ok", rows=1, bytes=8, duration_ms=1.0))
    worker = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WORKER, str(data_dir.root), str(Path(__file__).parent)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None
    assert worker.stdout.readline().strip() == "started"
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL
    report = verify_data_dir(data_dir)
    assert report.ok, report.summary()
    with AuditLog.open(data_dir) as log:
        assert [q.query_id for q in log.incomplete_queries()] == ["Q-killed"]
        after = make_started("Q-after")  # the log carries on after the crash
        log.record(after)
        log.record(after.completed(outcome="ok", rows=1, bytes=8, duration_ms=1.0))
    assert verify_data_dir(data_dir).ok


def test_exports_and_access_events_are_recorded(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir) as log:
        export = log.record(
            ExportRegistered(
                "Q1",
                "a.khan",
                "MBC",
                "tab",
                "burglary.tab",
                "ab" * 32,
                2048,
                "OFFICIAL-SENSITIVE",
                "pending",
            )
        )
        access = log.record(
            AccessEvent(
                "access.suspended",
                "sec.officer",
                "Cleveland Police",
                subject="a.khan",
                comment="left the partnership",
                extra={"request_id": "R7"},
            )
        )
    assert export.kind == "export.registered"
    assert export.actor == "a.khan"
    assert export.details["file_sha256"] == "ab" * 32
    assert export.details["approval"] == "pending"
    assert access.kind == "access.suspended"
    assert access.organisation == "Cleveland Police"
    assert access.details == {
        "subject": "a.khan",
        "comment": "left the partnership",
        "details": {"request_id": "R7"},
    }


def test_checkpoints_are_written_every_n_events_and_on_close(data_dir: DataDir) -> None:
    log = AuditLog.open(data_dir, checkpoint_every=4, checkpoint_interval=None)
    for i in range(10):
        log.record(make_started(f"Q{i}"))
    lines = CheckpointFile(data_dir.audit_checkpoints).read()
    assert [line.checkpoint.seq for line in lines if line.checkpoint] == [0, 4, 8]  # 0: genesis
    log.close()
    log.close()  # idempotent
    lines = CheckpointFile(data_dir.audit_checkpoints).read()
    checkpoints = [line.checkpoint for line in lines if line.checkpoint]
    assert [cp.seq for cp in checkpoints] == [0, 4, 8, 10]
    key = data_dir.secret(CHECKPOINT_KEY)
    assert all(checkpoint_valid(key, cp) for cp in checkpoints)
    # The key lives outside the audit database, in the secrets directory.
    assert (data_dir.secrets_dir / f"{CHECKPOINT_KEY}.key").exists()


def test_an_unwritable_checkpoint_file_never_undoes_a_committed_record(
    data_dir: DataDir, tmp_path: Path
) -> None:
    """Issue 13, finding 2: the record at a checkpoint boundary is committed, so the write
    returns it (the operation goes ahead); the missing checkpoint shows in health."""
    missing_dir = tmp_path / "not-there" / "cp.jsonl"
    with AuditLog.open(
        data_dir, checkpoint_every=2, checkpoints=missing_dir, checkpoint_interval=None
    ) as log:
        log.record(make_started("Q1"))
        second = log.record(make_started("Q2"))  # seq 2: its checkpoint fails
        assert second.seq == 2
        assert log.health().status == "degraded"
        assert any("not-there" in reason for reason in log.health().reasons)
        with pytest.raises(AuditUnavailable, match="checkpoint"):
            log.checkpoint()  # asked for explicitly: told it failed
        log.close()  # never raises for a checkpoint
    with AuditLog(SQLiteAuditStore(data_dir.audit, read_only=True)) as reader:
        assert [q.query_id for q in reader.queries()] == ["Q1", "Q2"]


def test_an_unavailable_store_refuses_the_write_ahead_record(data_dir: DataDir) -> None:
    log = AuditLog.open(data_dir, max_size_bytes=64 * 1024)
    big = make_request(sql="SELECT 1 -- " + "x" * 4000)
    recorded = 0
    failure: AuditUnavailable | None = None
    for i in range(100):
        try:
            log.record(make_started(f"Q{i}", big))
        except AuditUnavailable as exc:
            failure = exc
            break
        recorded += 1
    assert failure is not None
    assert "full" in failure.message
    assert len(log.queries()) == recorded  # the refused one left no trace and no gap
    log.close()
    assert verify_data_dir(data_dir).ok


def test_bad_configuration_is_refused(data_dir: DataDir) -> None:
    with pytest.raises(ConfigurationError):
        AuditLog.open(data_dir, checkpoint_every=0)


def test_result_fingerprint_follows_the_batches() -> None:
    table = pa.table({"lsoa_code": ["E01012001", "E01012002"], "crimes": [12, 7]})
    same = pa.table({"lsoa_code": ["E01012001", "E01012002"], "crimes": [12, 7]})
    other = pa.table({"lsoa_code": ["E01012001", "E01012002"], "crimes": [12, 8]})
    assert fingerprint_table(table) == fingerprint_table(same)
    assert fingerprint_table(table) != fingerprint_table(other)
    fp = ResultFingerprint(table.schema)
    for batch in table.to_batches():
        fp.update(batch)
    assert fp.rows == 2
    assert fp.bytes == table.nbytes
    assert fp.hexdigest() == fingerprint_table(table)


def test_many_short_lived_logs_keep_appending_to_one_chain(data_dir: DataDir) -> None:
    """Each CLI run or worker opens and closes the log; the chain continues across them."""
    for i in range(5):
        with AuditLog.open(data_dir, checkpoint_every=3) as log:
            log.record(make_started(f"Q{i}"))
            log.record(make_started(f"Q{i}b"))
    report = verify_data_dir(data_dir)
    assert report.ok
    assert report.records == 10
    assert report.last_checkpoint_seq == 10
