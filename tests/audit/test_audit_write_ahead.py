"""Issue 13, finding 2: the record and the change commit together or neither does.

A record that is committed is never followed by its operation being undone: with the
checkpoint file unwritable (a directory where the file should be), tokens stay issued,
revocations stay revoked, queries stay recorded. With the audit store unwritable nothing
changes at all.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from audit_helpers import make_started

from gateway.audit import AuditLog, SQLiteAuditStore
from gateway.audit.checkpoints import CHECKPOINT_KEY, CheckpointFile
from gateway.audit.kinds import EventKind
from gateway.auth.admin import issue_token, revoke_token
from gateway.auth.tokens import TokenRecord, TokenStore, TokenStoreUnavailable
from gateway.datadir import DataDir
from gateway.errors import AuditUnavailable


def broken_checkpoints(data_dir: DataDir) -> AuditLog:
    """The deployment's log, checkpointing every record, with a directory where its checkpoint
    file should be: every checkpoint write fails, every record commits."""
    path = data_dir.audit_checkpoints
    AuditLog.open(data_dir).close()
    path.unlink()
    path.mkdir()
    return AuditLog(
        SQLiteAuditStore(data_dir.audit, record_key=data_dir.secret(CHECKPOINT_KEY)),
        checkpoints=CheckpointFile(path),
        checkpoint_key=data_dir.secret(CHECKPOINT_KEY),
        checkpoint_every=1,
    )


def unwritable_audit(data_dir: DataDir) -> AuditLog:
    AuditLog.open(data_dir).close()
    return AuditLog(SQLiteAuditStore(data_dir.audit, read_only=True))


def kinds(data_dir: DataDir) -> list[str]:
    with SQLiteAuditStore(data_dir.audit, read_only=True) as store:
        return [e.kind for e in store.events()]


def test_a_token_recorded_as_issued_stays_issued_when_checkpoints_fail(
    data_dir: DataDir,
) -> None:
    tokens = TokenStore(data_dir.governance)
    with broken_checkpoints(data_dir) as log:
        issued = issue_token(tokens, log, "a.khan", issued_by="admin")
        assert log.health().status == "degraded"
    found = tokens.find(issued.token)
    assert found is not None
    assert found.state(found.issued_at) == "active"
    assert kinds(data_dir) == [EventKind.TOKEN_ISSUED]


def test_a_revocation_recorded_stays_revoked_when_checkpoints_fail(data_dir: DataDir) -> None:
    tokens = TokenStore(data_dir.governance)
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        issued = issue_token(tokens, log, "a.khan", issued_by="admin")
    with broken_checkpoints(data_dir) as log:
        revoke_token(tokens, log, issued.record.token_id, revoked_by="admin")
    assert tokens.get(issued.record.token_id).revoked_at is not None  # type: ignore[union-attr]


def test_no_token_without_its_record(data_dir: DataDir) -> None:
    tokens = TokenStore(data_dir.governance)
    with unwritable_audit(data_dir) as log, pytest.raises(AuditUnavailable):
        issue_token(tokens, log, "a.khan", issued_by="admin")
    assert tokens.list() == []  # rolled back, not "issued and revoked"
    assert kinds(data_dir) == []


def test_no_revocation_without_its_record(data_dir: DataDir) -> None:
    tokens = TokenStore(data_dir.governance)
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        issued = issue_token(tokens, log, "a.khan", issued_by="admin")
    with unwritable_audit(data_dir) as log, pytest.raises(AuditUnavailable):
        revoke_token(tokens, log, issued.record.token_id, revoked_by="admin")
    assert tokens.find(issued.token).revoked_at is None  # type: ignore[union-attr]


class _StoreThatFailsToCommit(TokenStore):
    """A token store whose commit fails after the audit record was written."""

    def issue(self, username: str, **kwargs):  # type: ignore[no-untyped-def,override]
        def failing_record(record: TokenRecord) -> None:
            kwargs["record"](record)
            raise TokenStoreUnavailable("disk I/O error at commit")

        return super().issue(username, **{**kwargs, "record": failing_record})


def test_a_token_whose_commit_fails_after_its_record_is_recorded_as_failed(
    data_dir: DataDir,
) -> None:
    tokens = _StoreThatFailsToCommit(data_dir.governance)
    with (
        AuditLog.open(data_dir, checkpoint_interval=None) as log,
        pytest.raises(TokenStoreUnavailable),
    ):
        issue_token(tokens, log, "a.khan", issued_by="admin", expires_in=timedelta(days=1))
    assert tokens.list() == []
    assert kinds(data_dir) == [EventKind.TOKEN_ISSUED, EventKind.TOKEN_ISSUE_FAILED]
    with SQLiteAuditStore(data_dir.audit, read_only=True) as store:
        issued, failed = store.events()
    assert issued.details["details"]["token_id"] == failed.details["details"]["token_id"]


def test_queries_recorded_at_a_checkpoint_boundary_are_not_refused(data_dir: DataDir) -> None:
    with broken_checkpoints(data_dir) as log:
        for i in range(3):  # every one is at a checkpoint boundary (checkpoint_every=1)
            started = make_started(f"Q{i}")
            log.record(started)
            log.record(started.completed(outcome="ok", rows=1, bytes=8, duration_ms=1))
        assert [q.status for q in log.queries()] == ["completed"] * 3


def test_the_checkpoint_is_written_once_the_file_is_writable_again(
    data_dir: DataDir, tmp_path: Path
) -> None:
    log = broken_checkpoints(data_dir)
    issue_token(TokenStore(data_dir.governance), log, "a.khan", issued_by="admin")
    path = data_dir.audit_checkpoints
    path.rmdir()
    log.close()  # the closing checkpoint goes through now
    [line] = CheckpointFile(path).read()
    assert line.checkpoint is not None
    assert line.checkpoint.seq == 1
