"""Issue 13, findings 2 and 4: checkpoints on time and count, failures that never undo a
committed record, witnesses, and the health the log reports.

Fault injection: the checkpoint file is replaced by a directory (writes fail with EISDIR even
for root, unlike a chmod), a witness command that fails, the log cut while it is open.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from audit_helpers import make_request, make_started, write_mixed

from gateway.audit import (
    AuditHealth,
    AuditLog,
    CommandWitness,
    FileWitness,
    SQLiteAuditStore,
    verify_data_dir,
)
from gateway.audit.checkpoints import CheckpointFile
from gateway.audit.witness import checkpoint_interval_from_env, witnesses_from_env
from gateway.datadir import DataDir
from gateway.errors import AuditUnavailable, ConfigurationError


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> float:
    """Seconds until ``condition()`` holds (fails the test after ``timeout``)."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.02)
    return time.monotonic() - began


def checkpointed_seqs(path: Path) -> list[int]:
    return [line.checkpoint.seq for line in CheckpointFile(path).read() if line.checkpoint]


def head(log: AuditLog) -> int:
    return log.store.head()[0]


def break_file(path: Path) -> Path:
    """Put a directory where the checkpoint file is (appends fail); returns the moved file."""
    aside = path.with_name(path.name + ".aside")
    path.rename(aside)
    path.mkdir()
    return aside


def mend_file(path: Path, aside: Path) -> None:
    path.rmdir()
    aside.rename(path)


def test_every_record_is_covered_within_the_interval_without_closing(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir, checkpoint_every=1000, checkpoint_interval=0.3) as log:
        write_mixed(log, 7)
        took = wait_for(lambda: 7 in checkpointed_seqs(data_dir.audit_checkpoints))
        assert took < 2.0
        assert verify_data_dir(data_dir).warnings == ()  # nothing uncovered
        write_mixed(log, 3, prefix="B")
        wait_for(lambda: 10 in checkpointed_seqs(data_dir.audit_checkpoints))
        time.sleep(0.8)  # an idle log writes no more checkpoints
        assert checkpointed_seqs(data_dir.audit_checkpoints).count(10) == 1


def test_the_default_interval_is_two_seconds_and_configurable() -> None:
    assert checkpoint_interval_from_env({}) == 2.0
    assert checkpoint_interval_from_env({"GATEWAY_AUDIT_CHECKPOINT_INTERVAL_S": "0.5"}) == 0.5
    with pytest.raises(ConfigurationError):
        checkpoint_interval_from_env({"GATEWAY_AUDIT_CHECKPOINT_INTERVAL_S": "0"})


def test_an_unwritable_checkpoint_file_degrades_health_and_recovers(data_dir: DataDir) -> None:
    """Records keep committing and returning; health says degraded; once the file is
    writable again the head is checkpointed within the interval and health is ok."""
    path = data_dir.audit_checkpoints
    with AuditLog.open(data_dir, checkpoint_every=4, checkpoint_interval=0.2) as log:
        write_mixed(log, 3)
        wait_for(lambda: 3 in checkpointed_seqs(path))
        assert log.health() == AuditHealth("ok")
        aside = break_file(path)
        events = write_mixed(log, 10, prefix="DURING")  # seq 4, 8, 12 hit the count too
        assert [e.seq for e in events] == list(range(4, 14))
        wait_for(lambda: log.health().status == "degraded")
        [reason] = log.health().reasons
        assert str(path) in reason
        assert "failing" in reason
        assert len(log.queries()) == 6  # every record stays
        mend_file(path, aside)
        wait_for(lambda: 13 in checkpointed_seqs(path), timeout=3)
        wait_for(lambda: log.health().status == "ok", timeout=3)
    report = verify_data_dir(data_dir)
    assert report.ok
    assert report.last_checkpoint_seq == 13
    assert report.warnings == ()


def test_a_failing_witness_degrades_health_but_never_the_records(
    data_dir: DataDir, tmp_path: Path
) -> None:
    witness = FileWitness(tmp_path / "witness" / "cp.jsonl")  # its directory is not there yet
    with AuditLog.open(
        data_dir, witnesses=(witness,), checkpoint_every=2, checkpoint_interval=0.2
    ) as log:
        write_mixed(log, 5)
        wait_for(lambda: log.health().status == "degraded")
        assert "witness file" in log.health().reasons[0]
        wait_for(lambda: 5 in checkpointed_seqs(data_dir.audit_checkpoints))  # local is fine
        witness.path.parent.mkdir()
        wait_for(lambda: 5 in checkpointed_seqs(witness.path), timeout=3)
        wait_for(lambda: log.health().status == "ok", timeout=3)
    assert verify_data_dir(data_dir, witnesses=(witness,)).ok


def test_a_command_witness_gets_each_checkpoint_on_stdin(data_dir: DataDir, tmp_path: Path) -> None:
    sink = tmp_path / "shipped.jsonl"
    shipper = CommandWitness(("sh", "-c", f"cat >> {sink}"))
    failing = CommandWitness(("sh", "-c", "echo no route to host >&2; exit 3"))
    with AuditLog.open(
        data_dir, witnesses=(shipper, failing), checkpoint_every=1000, checkpoint_interval=0.2
    ) as log:
        write_mixed(log, 4)
        wait_for(lambda: sink.is_file() and 4 in checkpointed_seqs(sink))
        wait_for(lambda: log.health().status == "degraded")
        health = log.health()
    assert any("exited with status 3: no route to host" in r for r in health.reasons)


def test_witnesses_are_configured_from_the_environment_outside_the_data_dir(
    data_dir: DataDir, tmp_path: Path
) -> None:
    env = {
        "GATEWAY_AUDIT_WITNESS_FILE": str(tmp_path / "w.jsonl"),
        "GATEWAY_AUDIT_WITNESS_SYSLOG": "local3@127.0.0.1:9",
        "GATEWAY_AUDIT_WITNESS_COMMAND": "logger -t gateway-audit",
    }
    names = [w.name for w in witnesses_from_env(env, data_dir=data_dir.root)]
    assert names == [
        f"witness file {tmp_path / 'w.jsonl'}",
        "witness syslog local3@127.0.0.1:9",
        "witness command logger",
    ]
    inside = {"GATEWAY_AUDIT_WITNESS_FILE": str(data_dir.root / "copy.jsonl")}
    with pytest.raises(ConfigurationError, match="inside the data directory"):
        witnesses_from_env(inside, data_dir=data_dir.root)
    with pytest.raises(ConfigurationError, match="facility"):
        witnesses_from_env({"GATEWAY_AUDIT_WITNESS_SYSLOG": "nonsense"})


def test_the_log_opened_by_the_service_uses_the_environment_witness(
    data_dir: DataDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    witness_path = tmp_path / "w.jsonl"
    monkeypatch.setenv("GATEWAY_AUDIT_WITNESS_FILE", str(witness_path))
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        write_mixed(log, 3)
    assert checkpointed_seqs(witness_path) == [3]
    assert verify_data_dir(data_dir).ok  # verify reads the same setting


def test_a_log_cut_while_open_is_failing_and_never_vouched_for(data_dir: DataDir) -> None:
    path = data_dir.audit_checkpoints
    log = AuditLog.open(data_dir, checkpoint_every=1000, checkpoint_interval=0.2)
    write_mixed(log, 10)
    wait_for(lambda: 10 in checkpointed_seqs(path))
    con = sqlite3.connect(data_dir.audit)
    con.execute("DROP TRIGGER audit_event_no_delete")
    con.execute("DELETE FROM audit_event WHERE seq > 6")
    con.commit()
    con.close()
    wait_for(lambda: log.health().status == "failing")
    assert "behind a checkpoint" in log.health().reasons[0]
    with pytest.raises(AuditUnavailable, match="behind"):
        log.checkpoint()
    log.close()
    assert max(checkpointed_seqs(path)) == 10
    assert 6 not in checkpointed_seqs(path)  # nothing vouches for the cut head
    assert not verify_data_dir(data_dir).ok


def test_a_failed_append_is_failing_and_a_later_one_clears_it(data_dir: DataDir) -> None:
    log = AuditLog.open(data_dir, max_size_bytes=64 * 1024, checkpoint_interval=None)
    big = make_request(sql="SELECT 1 -- " + "x" * 4000)
    with pytest.raises(AuditUnavailable):  # noqa: PT012 (fill the log until it refuses)
        for i in range(200):
            log.record(make_started(f"Q{i}", big))
    health = log.health()
    assert health.status == "failing"
    assert "cannot be written" in health.reasons[0]
    log.close()
    assert log.health().status == "failing"  # closed


def test_health_is_ok_for_a_log_without_checkpoints(tmp_path: Path) -> None:
    with AuditLog(SQLiteAuditStore(tmp_path / "audit.sqlite")) as log:
        log.record(make_started("Q1"))
        assert log.health() == AuditHealth("ok", ())


def test_count_checkpoints_go_to_witnesses_from_the_thread(
    data_dir: DataDir, tmp_path: Path
) -> None:
    witness = FileWitness(tmp_path / "w.jsonl")
    with AuditLog.open(
        data_dir, witnesses=(witness,), checkpoint_every=3, checkpoint_interval=30
    ) as log:
        write_mixed(log, 3)
        assert 3 in checkpointed_seqs(data_dir.audit_checkpoints)  # at once, on the append
        wait_for(lambda: 3 in checkpointed_seqs(witness.path), timeout=3)


def test_checkpoint_files_are_private(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        write_mixed(log, 2)
    assert os.stat(data_dir.audit_checkpoints).st_mode & 0o077 == 0


def test_a_syslog_witness_sends_one_message_per_checkpoint(data_dir: DataDir) -> None:
    import socket

    from gateway.audit import SyslogWitness

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(10)
        port = listener.getsockname()[1]
        witness = SyslogWitness("local3", f"127.0.0.1:{port}")
        with AuditLog.open(data_dir, witnesses=(witness,), checkpoint_interval=None) as log:
            write_mixed(log, 2)
        message = listener.recv(65536).decode()
    assert message.startswith("<157>gateway-audit: {")  # local3 (19) * 8 + notice (5)
    assert '"seq":2' in message
