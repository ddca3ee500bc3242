"""Audit retention: records past ``[retention] audit_days`` are disposed of, the disposal is
recorded, ``gateway audit verify`` stays valid, nothing inside the schedule goes — and a
deletion that is not an authentic disposal still breaks the chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from audit_helpers import Tamper, write_mixed
from tests.cli_process import run_gateway

from gateway.audit import AuditLog, LiveAuditTables, SQLiteAuditStore, verify_data_dir
from gateway.audit.chain import format_time, new_event_id, seal
from gateway.audit.disposal import load_disposal
from gateway.audit.retention import dispose_expired, plan_disposal
from gateway.datadir import DataDir
from gateway.errors import AuditUnavailable
from gateway.policy.retention import RetentionSettings

NOW = datetime.now(UTC)
SEVEN_YEARS = timedelta(days=2557)
#: Text only the old records carry: it must be gone from the file after disposal.
OLD_MARKER = "old-record-marker-7f3a9c"


def _fill(data_dir: DataDir, *, old: int, old_age: timedelta, recent: int) -> None:
    """``old`` records of age ``old_age`` (oldest first), then ``recent`` records of today."""
    with AuditLog.open(data_dir, checkpoint_every=4, checkpoint_interval=None) as log:
        for n in range(old):
            when = NOW - old_age - timedelta(hours=old - n)
            log.store.append(
                "token.issued", "gw.admin", "Cleveland Police", {"note": OLD_MARKER}, time=when
            )
        log.checkpoint()
        write_mixed(log, recent)


def _seqs(data_dir: DataDir) -> list[int]:
    with SQLiteAuditStore(data_dir.audit, read_only=True) as store:
        return [r.seq for r in store.stored_records()]


def test_disposal_past_the_schedule_is_recorded_and_verify_stays_valid(
    data_dir: DataDir,
) -> None:
    _fill(data_dir, old=6, old_age=SEVEN_YEARS + timedelta(days=30), recent=10)
    assert OLD_MARKER.encode() in data_dir.audit.read_bytes()
    run = run_gateway(
        "audit", "dispose", "--data-dir", str(data_dir.root), "--reason", "yearly disposal R-17"
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("disposed of 6 records (seq 1..6), older than ")
    assert _seqs(data_dir) == list(range(7, 18))  # 10 recent + the disposal record
    with SQLiteAuditStore(data_dir.audit, read_only=True) as store:
        record = store.stored_record(17)
        anchor = load_disposal(store, data_dir.secret("audit-checkpoint"))
    assert record is not None
    assert record.kind == "audit.disposed"
    assert record.actor.startswith("host:")
    assert anchor is not None
    assert (anchor.through_seq, anchor.record_seq) == (6, 17)
    assert '"records":6' in (record.details or "")
    assert '"reason":"yearly disposal R-17"' in (record.details or "")
    assert '"retention_days":2557' in (record.details or "")
    assert '"break_glass":{"os_uid":' in (record.details or "")
    # the disposed content is gone from the database file, not only unlinked
    assert OLD_MARKER.encode() not in data_dir.audit.read_bytes()
    verify = run_gateway("audit", "verify", "--data-dir", str(data_dir.root))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith("audit chain valid: 11 records (records up to seq 6 disposed")
    assert "records up to seq 6 disposed of at seq 17 by host:" in verify.stderr
    # the startup check accepts the log, and appending goes on from the disposal record
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        later = write_mixed(log, 2, prefix="after")
    assert [e.seq for e in later] == [18, 19]
    assert verify_data_dir(data_dir).ok


def test_nothing_within_the_schedule_is_disposed_of(data_dir: DataDir) -> None:
    # one day inside the schedule: kept, whatever runs
    _fill(data_dir, old=5, old_age=SEVEN_YEARS - timedelta(days=1), recent=3)
    before = _seqs(data_dir)
    run = run_gateway("audit", "dispose", "--data-dir", str(data_dir.root), "--reason", "R-18")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("nothing to dispose of: no record is older than ")
    assert _seqs(data_dir) == before
    assert verify_data_dir(data_dir).ok


def test_a_record_inside_the_schedule_stops_the_disposal_before_it(data_dir: DataDir) -> None:
    """Clocks may run backwards: only the records before the first one inside the schedule
    go, even if older ones follow it."""
    old = NOW - SEVEN_YEARS - timedelta(days=10)
    inside = NOW - timedelta(days=100)
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        for when in (old, old, inside, old, NOW):
            log.store.append("token.issued", "gw.admin", "", {}, time=when)
        plan = plan_disposal(log.store, RetentionSettings(), now=NOW)
        assert (plan.first_seq, plan.through_seq, plan.records) == (1, 2, 2)
        run = dispose_expired(log, RetentionSettings(), actor="host:t", reason="R", now=NOW)
    assert run.record is not None
    assert _seqs(data_dir) == [3, 4, 5, 6]
    report = verify_data_dir(data_dir)
    assert report.ok, report.summary()
    assert report.disposed_through == 2


def test_a_dry_run_disposes_of_nothing(data_dir: DataDir) -> None:
    _fill(data_dir, old=3, old_age=SEVEN_YEARS * 2, recent=2)
    before = data_dir.audit.read_bytes()
    run = run_gateway("audit", "dispose", "--data-dir", str(data_dir.root), "--dry-run")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("would dispose of 3 records (seq 1..3)")
    assert _seqs(data_dir) == list(range(1, 6))
    assert OLD_MARKER.encode() in data_dir.audit.read_bytes()
    assert len(before) == len(data_dir.audit.read_bytes())


def test_a_disposal_needs_a_reason_and_is_never_in_someone_elses_name(
    data_dir: DataDir,
) -> None:
    _fill(data_dir, old=2, old_age=SEVEN_YEARS * 2, recent=1)
    run = run_gateway("audit", "dispose", "--data-dir", str(data_dir.root))
    assert run.returncode == 2
    assert "--reason" in run.stderr
    named = run_gateway(
        "audit", "dispose", "--data-dir", str(data_dir.root), "--reason", "R", "--by", "s.patel"
    )
    assert named.returncode == 2
    assert "--as/--by are gone" in named.stderr
    assert _seqs(data_dir) == [1, 2, 3]


def test_a_policy_schedule_is_followed(data_dir: DataDir) -> None:
    data_dir.policy.write_text(
        (Path(__file__).parents[2] / "src/gateway/policy/default_policy.toml")
        .read_text("utf-8")
        .replace("audit_days = 2557", "audit_days = 400"),
        "utf-8",
    )
    _fill(data_dir, old=4, old_age=timedelta(days=401), recent=2)
    run = run_gateway("audit", "dispose", "--data-dir", str(data_dir.root), "--reason", "R-19")
    assert run.returncode == 0, run.stderr
    assert "(400 days)" in run.stdout
    assert _seqs(data_dir)[0] == 5


def test_two_disposals_chain_on(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir, checkpoint_every=2, checkpoint_interval=None) as log:
        for days in (4000, 3990, 3000, 2900, 10):
            log.store.append("token.issued", "gw.admin", "", {}, time=NOW - timedelta(days=days))
        dispose_expired(log, RetentionSettings(audit_days=3500), actor="op", reason="a", now=NOW)
        dispose_expired(log, RetentionSettings(), actor="op", reason="b", now=NOW)
    assert _seqs(data_dir) == [5, 6, 7]
    report = verify_data_dir(data_dir)
    assert report.ok, report.summary()
    assert report.disposed_through == 4


# --- attacks: deleting the start without an authentic disposal -----------------------------------


def test_deleting_old_records_by_hand_still_breaks_the_chain(
    data_dir: DataDir, tamper: Tamper
) -> None:
    _fill(data_dir, old=4, old_age=SEVEN_YEARS * 2, recent=4)
    tamper(data_dir.audit, "DELETE FROM audit_event WHERE seq <= 4")
    report = verify_data_dir(data_dir)
    assert not report.ok
    assert report.broken is not None
    assert "record missing" in report.broken.reason
    with pytest.raises(AuditUnavailable):
        AuditLog.open(data_dir, checkpoint_interval=None)


def test_a_forged_disposal_record_is_not_accepted(data_dir: DataDir, tamper: Tamper) -> None:
    """Someone without the key deletes the start and appends an ``audit.disposed`` record
    naming it, with a valid plain hash: it has no MAC, so it anchors nothing."""
    _fill(data_dir, old=4, old_age=SEVEN_YEARS * 2, recent=4)
    with SQLiteAuditStore(data_dir.audit, read_only=True) as store:
        head_seq, head_hash = store.head()
        fourth = store.stored_record(4)
    assert fourth is not None
    t = NOW
    forged = seal(
        head_seq + 1,
        new_event_id(t),
        t,
        "audit.disposed",
        "mallory",
        "",
        {"through_seq": 4, "through_hash": fourth.hash, "through_event_id": fourth.event_id},
        head_hash,
    )
    row = (
        forged.seq,
        forged.event_id,
        format_time(forged.time),
        forged.kind,
        forged.actor,
        forged.organisation,
        forged.details_json,
        forged.prev_hash,
        forged.hash,
    )
    tamper(
        data_dir.audit,
        ("INSERT INTO audit_event VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row),
        "DELETE FROM audit_event WHERE seq <= 4",
    )
    report = verify_data_dir(data_dir)
    assert not report.ok
    assert report.disposed_through == 0
    assert report.broken is not None
    assert "record missing" in report.broken.reason


def test_records_removed_after_a_disposal_are_still_a_gap(
    data_dir: DataDir, tamper: Tamper
) -> None:
    _fill(data_dir, old=3, old_age=SEVEN_YEARS * 2, recent=6)
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        dispose_expired(log, RetentionSettings(), actor="op", reason="R", now=NOW)
    assert verify_data_dir(data_dir).ok
    tamper(data_dir.audit, "DELETE FROM audit_event WHERE seq = 4")  # the first kept record
    report = verify_data_dir(data_dir)
    assert not report.ok
    assert report.broken is not None
    assert report.broken.seq == 4


def test_the_audit_tables_forget_disposed_records(data_dir: DataDir) -> None:
    _fill(data_dir, old=3, old_age=SEVEN_YEARS * 2, recent=5)
    store = SQLiteAuditStore(data_dir.audit, record_key=data_dir.secret("audit-checkpoint"))
    try:
        live = LiveAuditTables(store, data_dir.audit_tables)
        assert live.refresh().events.column("seq").to_pylist()[0] == 1
        with AuditLog.open(data_dir, checkpoint_interval=None) as log:
            dispose_expired(log, RetentionSettings(), actor="op", reason="R", now=NOW)
        events = live.refresh().events
    finally:
        store.close()
    seqs = events.column("seq").to_pylist()
    assert seqs[0] == 4
    assert seqs[-1] == 9
    assert OLD_MARKER not in " ".join(events.column("details").to_pylist())
