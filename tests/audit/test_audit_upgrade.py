"""A log written before records were keyed (no MACs, no genesis line, checkpoints without
``keyed_from``) keeps verifying, is keyed from its next record on, and from then on a forged
record is found like in a new log."""

from __future__ import annotations

import sqlite3

from audit_helpers import Tamper, forged_row, write_mixed

from gateway.audit import AuditLog, SQLiteAuditStore, verify_data_dir
from gateway.audit.checkpoints import (
    CHECKPOINT_KEY,
    CheckpointFile,
    sign_checkpoint,
)
from gateway.clock import utc_now
from gateway.datadir import DataDir


def legacy_log(data_dir: DataDir, n: int) -> None:
    """``n`` records as an older gateway wrote them: plain chain, checkpoint on close."""
    with SQLiteAuditStore(data_dir.audit) as store:
        for i in range(n):
            store.append("query.started", "a.khan", "MBC", {"query_id": f"OLD{i}"})
        seq, head = store.head()
        last = store.stored_record(seq)
    con = sqlite3.connect(data_dir.audit)
    con.execute("DROP TABLE audit_mac")  # the older schema had neither table
    con.execute("DROP TABLE audit_meta")
    con.commit()
    con.close()
    assert last is not None
    assert last.event_id is not None
    key = data_dir.secret(CHECKPOINT_KEY)
    CheckpointFile(data_dir.audit_checkpoints).append(
        sign_checkpoint(key, seq, head, last.event_id, utc_now())  # no keyed_from
    )


def test_an_older_log_is_keyed_from_its_next_record(data_dir: DataDir, tamper: Tamper) -> None:
    legacy_log(data_dir, 5)
    assert verify_data_dir(data_dir).ok
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        events = write_mixed(log, 4)
    report = verify_data_dir(data_dir)
    assert report.ok, report.summary()
    assert report.records == 9
    with SQLiteAuditStore(data_dir.audit, read_only=True) as store:
        assert store.keyed_from() == 6
        assert [r.mac is not None for r in store.stored_records()] == [False] * 5 + [True] * 4
    row = forged_row(data_dir, 10, events[-1].hash)
    tamper(data_dir.audit, ("INSERT INTO audit_event VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row))
    broken = verify_data_dir(data_dir).broken
    assert broken is not None
    assert (broken.seq, "no record MAC" in broken.reason) == (10, True)
