"""Issue 13, finding 4: tampering and loss that verification used to miss.

Each case tampers with a data directory as someone with write access to it would, then shows
that the real ``gateway audit verify`` (a subprocess) exits 1 naming the problem, and that the
log refuses to be opened for writing (the startup check the server runs) — without writing a
checkpoint that would vouch for the damage. Acknowledging (``gateway audit acknowledge``, itself
audited) lets it be used again, and only for what was acknowledged.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from audit_helpers import Tamper, write_mixed
from tests.cli_process import run_gateway

from gateway.audit import AuditEvent, AuditLog, verify_data_dir
from gateway.audit.chain import GENESIS_HASH, format_time, new_event_id, seal
from gateway.audit.checkpoints import CheckpointFile
from gateway.audit.kinds import EventKind
from gateway.clock import utc_now
from gateway.datadir import DataDir
from gateway.errors import AuditUnavailable


def _verify(data_dir: DataDir, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_gateway("audit", "verify", "--data-dir", str(data_dir.root), *extra)


def _refused(data_dir: DataDir, *, witness: Path | None = None) -> str:
    """Open the log for writing as the server does; return why it was refused."""
    checkpoints = data_dir.audit_checkpoints
    before = checkpoints.read_bytes() if checkpoints.is_file() else None
    witnesses = () if witness is None else (_file_witness(witness),)
    with pytest.raises(AuditUnavailable) as refused:
        AuditLog.open(data_dir, witnesses=witnesses, checkpoint_interval=None)
    after = checkpoints.read_bytes() if checkpoints.is_file() else None
    assert after == before, "a refused open wrote a checkpoint"
    assert "gateway audit acknowledge" in refused.value.message
    return refused.value.message


def _file_witness(path: Path):  # type: ignore[no-untyped-def]
    from gateway.audit import FileWitness

    return FileWitness(path)


def _crashed_log(data_dir: DataDir, n: int = 15, every: int = 10) -> list[AuditEvent]:
    """``n`` records, checkpoints every ``every``, then a crash (no closing checkpoint): the
    records after the last checkpoint are the *uncovered tail*."""
    log = AuditLog.open(data_dir, checkpoint_every=every, checkpoint_interval=None)
    events = write_mixed(log, n)
    log.store.close()  # as if the process died
    return events


def _row(e: AuditEvent) -> tuple[object, ...]:
    return (
        e.seq,
        e.event_id,
        format_time(e.time),
        e.kind,
        e.actor,
        e.organisation,
        e.details_json,
        e.prev_hash,
        e.hash,
    )


def _rehash(events: list[AuditEvent], prev_hash: str) -> list[tuple[object, ...]]:
    """``events`` re-sealed into a consistent plain-hash chain after ``prev_hash``."""
    rows = []
    for e in events:
        e = seal(e.seq, e.event_id, e.time, e.kind, e.actor, e.organisation, e.details, prev_hash)
        rows.append(_row(e))
        prev_hash = e.hash
    return rows


_INSERT = "INSERT INTO audit_event VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"


# --- the checkpoint file -------------------------------------------------------------------


def test_a_deleted_checkpoint_file_fails_verify_and_startup(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        write_mixed(log, 5)
    data_dir.audit_checkpoints.unlink()
    run = _verify(data_dir)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "checkpoint file" in run.stdout
    assert "missing" in run.stdout
    assert "missing" in _refused(data_dir)


def test_an_emptied_checkpoint_file_fails_verify_and_startup(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        write_mixed(log, 5)
    data_dir.audit_checkpoints.write_bytes(b"")
    run = _verify(data_dir)
    assert run.returncode == 1
    assert "no signed checkpoint at all" in run.stdout
    assert "no validly signed checkpoint" in _refused(data_dir)


def test_a_new_log_starts_its_checkpoint_file_with_a_genesis_line(data_dir: DataDir) -> None:
    AuditLog.open(data_dir).close()
    [genesis] = CheckpointFile(data_dir.audit_checkpoints).read()
    assert genesis.checkpoint is not None
    assert (genesis.checkpoint.seq, genesis.checkpoint.hash) == (0, GENESIS_HASH)
    assert genesis.checkpoint.keyed_from == 1
    assert _verify(data_dir).returncode == 0


# --- the tail no checkpoint covers yet ----------------------------------------------------


def test_a_record_removed_from_the_uncovered_tail_and_renumbered_is_found(
    data_dir: DataDir, tamper: Tamper
) -> None:
    events = _crashed_log(data_dir)
    # Remove seq 12 and close the gap: renumber 13..15 and rebuild a consistent plain chain.
    moved = [
        seal(e.seq - 1, e.event_id, e.time, e.kind, e.actor, e.organisation, e.details, "")
        for e in events[12:]
    ]
    rows = _rehash(moved, events[10].hash)
    tamper(data_dir.audit, "DELETE FROM audit_event WHERE seq >= 12", *((_INSERT, r) for r in rows))
    run = _verify(data_dir)
    assert run.returncode == 1
    assert run.stdout.startswith(f"audit chain broken at seq 12 (event {events[12].event_id})")
    assert "MAC" in run.stdout
    assert "seq 12" in _refused(data_dir)


def test_reordered_records_in_the_uncovered_tail_are_found(
    data_dir: DataDir, tamper: Tamper
) -> None:
    events = _crashed_log(data_dir)
    tamper(
        data_dir.audit,
        "UPDATE audit_event SET seq = -1 WHERE seq = 13",
        "UPDATE audit_event SET seq = 13 WHERE seq = 14",
        "UPDATE audit_event SET seq = 14 WHERE seq = -1",
    )
    run = _verify(data_dir)
    assert run.returncode == 1
    assert run.stdout.startswith(f"audit chain broken at seq 13 (event {events[13].event_id})")
    assert "seq 13" in _refused(data_dir)


def test_a_rewritten_and_rehashed_uncovered_tail_is_found(
    data_dir: DataDir, tamper: Tamper
) -> None:
    events = _crashed_log(data_dir)
    edited = [
        seal(e.seq, e.event_id, e.time, e.kind, "someone.else", e.organisation, e.details, "")
        for e in events[10:]
    ]
    rows = _rehash(edited, events[9].hash)  # seq 10 is checkpointed: rewrite 11..15
    tamper(data_dir.audit, "DELETE FROM audit_event WHERE seq > 10", *((_INSERT, r) for r in rows))
    assert verify_data_dir(data_dir).broken is not None
    run = _verify(data_dir)
    assert run.returncode == 1
    assert run.stdout.startswith(f"audit chain broken at seq 11 (event {events[10].event_id})")
    assert "MAC" in run.stdout
    assert "MAC" in _refused(data_dir)


def test_a_forged_record_appended_with_a_valid_hash_is_found(
    data_dir: DataDir, tamper: Tamper
) -> None:
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        events = write_mixed(log, 8)
    t = utc_now()
    forged = seal(9, new_event_id(t), t, "token.issued", "mallory", "", {}, events[-1].hash)
    tamper(data_dir.audit, (_INSERT, _row(forged)))
    run = _verify(data_dir)
    assert run.returncode == 1
    assert run.stdout.startswith(f"audit chain broken at seq 9 (event {forged.event_id})")
    assert "no record MAC" in run.stdout
    assert "no record MAC" in _refused(data_dir)


def test_stripping_every_record_mac_does_not_pass_for_an_unkeyed_log(
    data_dir: DataDir, tamper: Tamper
) -> None:
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        write_mixed(log, 6)
    tamper(
        data_dir.audit,
        "DROP TRIGGER audit_mac_no_delete",
        "DELETE FROM audit_mac",
        "DROP TRIGGER audit_meta_no_delete",
        "DELETE FROM audit_meta",
    )
    run = _verify(data_dir)  # the signed checkpoints say records are keyed from seq 1
    assert run.returncode == 1
    assert "audit chain broken at seq 1" in run.stdout
    assert "no record MAC" in run.stdout


# --- truncation, rollback, WAL damage ------------------------------------------------------


def test_a_truncated_tail_and_restart_is_found_and_the_restart_vouches_for_nothing(
    data_dir: DataDir, tamper: Tamper
) -> None:
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        write_mixed(log, 20)  # closed: the closing checkpoint covers seq 20
    tamper(data_dir.audit, "DELETE FROM audit_event WHERE seq > 17")
    assert "records 18..20 were removed" in _refused(data_dir)  # the restart is refused …
    assert "records 18..20 were removed" in _refused(data_dir)  # … every time
    run = _verify(data_dir)  # and no closing checkpoint hid the cut
    assert run.returncode == 1
    assert run.stdout.startswith("audit chain broken at seq 18: records 18..20 are missing")


def test_rolling_back_database_and_checkpoints_together_is_found_through_the_witness(
    data_dir: DataDir, tmp_path: Path
) -> None:
    witness_file = tmp_path / "witness" / "checkpoints.jsonl"
    witness_file.parent.mkdir()
    witnesses = (_file_witness(witness_file),)
    with AuditLog.open(data_dir, witnesses=witnesses, checkpoint_interval=None) as log:
        write_mixed(log, 10)
    backup = tmp_path / "backup"
    shutil.copytree(data_dir.root, backup)  # audit.sqlite and its checkpoint file together
    with AuditLog.open(data_dir, witnesses=witnesses, checkpoint_interval=None) as log:
        write_mixed(log, 7, prefix="LATER")  # checkpointed in both places on close
    shutil.rmtree(data_dir.root)
    shutil.copytree(backup, data_dir.root)  # the rollback
    # Without the witness the rolled-back directory is consistent with itself …
    assert _verify(data_dir).returncode == 0
    # … with it, the cut is plain (the witness file from the command line or the environment).
    run = _verify(data_dir, "--witness", str(witness_file))
    assert run.returncode == 1
    assert "records 11..17 are missing" in run.stdout
    env_run = subprocess.run(
        [sys.executable, "-m", "gateway", "audit", "verify", "--data-dir", str(data_dir.root)],
        capture_output=True,
        text=True,
        env={**os.environ, "GATEWAY_AUDIT_WITNESS_FILE": str(witness_file)},
        check=False,
    )
    assert env_run.returncode == 1
    assert "records 11..17 were removed" in _refused(data_dir, witness=witness_file)


_CRASHING_WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from audit_helpers import write_mixed
from gateway.audit import AuditLog
from gateway.datadir import DataDir
log = AuditLog.open(DataDir(Path(sys.argv[1])), checkpoint_every=1000, checkpoint_interval=None)
write_mixed(log, 60)
log.checkpoint()   # every record is covered, as the checkpointer does within seconds
print("ready", flush=True)
time.sleep(60)
"""


def test_wal_damage_that_drops_committed_records_is_found(data_dir: DataDir) -> None:
    writer = subprocess.Popen(
        [sys.executable, "-c", _CRASHING_WRITER, str(data_dir.root), str(Path(__file__).parent)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "ready"
    os.kill(writer.pid, signal.SIGKILL)  # the records live only in the WAL now
    writer.wait(timeout=30)
    wal = Path(f"{data_dir.audit}-wal")
    page_size = 4096
    frames = (wal.stat().st_size - 32) // (24 + page_size)
    assert frames > 20
    with wal.open("r+b") as f:  # damage one frame in the middle: SQLite drops it and the rest
        f.seek(32 + (frames // 2) * (24 + page_size) + 24 + 100)
        f.write(b"\xff" * 64)
    run = _verify(data_dir)
    assert run.returncode == 1, run.stdout
    assert "are missing" in run.stdout
    assert "vouches for seq 60" in run.stdout
    assert "were removed" in _refused(data_dir)


def test_a_corrupted_database_is_refused_and_cannot_be_acknowledged(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        write_mixed(log, 200)
    with data_dir.audit.open("r+b") as f:
        for page in (2, 3, 4):  # b-tree page headers, past the file header on page 1
            f.seek(4096 * (page - 1))
            f.write(b"\xff" * 64)
    run = _verify(data_dir)
    assert run.returncode == 1
    assert run.stdout.startswith("audit database damaged")
    with pytest.raises(AuditUnavailable):
        AuditLog.open(data_dir, checkpoint_interval=None)
    ack = run_gateway(
        "audit", "acknowledge", "--data-dir", str(data_dir.root), "--reason", "INC-42"
    )
    assert ack.returncode != 0


# --- acknowledging -------------------------------------------------------------------------


def test_an_acknowledged_cut_lets_the_log_serve_and_anything_new_still_fails(
    data_dir: DataDir, tamper: Tamper
) -> None:
    with AuditLog.open(data_dir, checkpoint_every=5, checkpoint_interval=None) as log:
        write_mixed(log, 12)
    tamper(data_dir.audit, "DELETE FROM audit_event WHERE seq > 8")
    _refused(data_dir)
    ack = run_gateway(
        "audit",
        "acknowledge",
        "--data-dir",
        str(data_dir.root),
        "--reason",
        "INC-7: restored from the 02:00 backup",
    )
    assert ack.returncode == 0, ack.stdout + ack.stderr
    assert "acknowledging: records 9..12 are missing" in ack.stdout
    assert f"acknowledged at seq 9 by host:{getpass.getuser()}" in ack.stdout
    run = _verify(data_dir)
    assert run.returncode == 0, run.stdout
    assert "INC-7: restored from the 02:00 backup" in run.stderr  # reported as a note
    with AuditLog.open(data_dir, checkpoint_every=5, checkpoint_interval=None) as log:
        [recorded] = log.events(kinds=(EventKind.AUDIT_ACKNOWLEDGED,))
        assert recorded.actor == f"host:{getpass.getuser()}"
        assert recorded.details["reason"] == "INC-7: restored from the 02:00 backup"
        assert recorded.details["head_seq"] == 8
        write_mixed(log, 6, prefix="AFTER")  # grows past the old seq 10: still only a note
    assert _verify(data_dir).returncode == 0
    tamper(data_dir.audit, "DELETE FROM audit_event WHERE seq > 13")  # a new cut
    assert _verify(data_dir).returncode == 1
    assert "were removed" in _refused(data_dir)


def test_nothing_to_acknowledge_writes_nothing(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        write_mixed(log, 3)
    ack = run_gateway("audit", "acknowledge", "--data-dir", str(data_dir.root), "--reason", "x")
    assert ack.returncode == 0
    assert ack.stdout.startswith("nothing to acknowledge")
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        assert [e.seq for e in log.events()] == [1, 2, 3]


def test_a_forged_acknowledgement_is_not_honoured(data_dir: DataDir, tamper: Tamper) -> None:
    with AuditLog.open(data_dir, checkpoint_every=5, checkpoint_interval=None) as log:
        events = write_mixed(log, 10)
    tamper(data_dir.audit, "DELETE FROM audit_event WHERE seq > 6")
    macs = [
        line.checkpoint.mac
        for line in CheckpointFile(data_dir.audit_checkpoints).read()
        if line.checkpoint is not None
    ]
    t = utc_now()
    forged = seal(
        7,
        new_event_id(t),
        t,
        EventKind.AUDIT_ACKNOWLEDGED,
        "mallory",
        "",
        {"reason": "nothing to see", "breaks": [], "checkpoints": macs},
        events[5].hash,
    )
    tamper(data_dir.audit, (_INSERT, _row(forged)))
    assert _verify(data_dir).returncode == 1
    _refused(data_dir)


def test_sqlite_keyless_writers_cannot_append_to_a_keyed_log(data_dir: DataDir) -> None:
    from gateway.audit import SQLiteAuditStore

    AuditLog.open(data_dir).close()
    with SQLiteAuditStore(data_dir.audit) as bare, pytest.raises(AuditUnavailable, match="key"):
        bare.append("policy.loaded", "system", "", {})
    con = sqlite3.connect(data_dir.audit)
    try:
        assert con.execute("SELECT count(*) FROM audit_event").fetchone() == (0,)
    finally:
        con.close()
