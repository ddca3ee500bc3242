"""Tamper evidence: each kind of tampering is found, and the first bad record is named.

The log is tampered with directly in the SQLite file, as someone with write access would.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from audit_helpers import FilledLog, Tamper, forged_row, make_request, make_started, write_mixed

from gateway.analysis.lookups import analyse_lookups
from gateway.audit import AuditLog, QueryDenied, verify_data_dir
from gateway.audit.chain import seal
from gateway.catalog import load_catalog
from gateway.datadir import DataDir


def test_an_untouched_log_verifies(filled: FilledLog) -> None:
    report = verify_data_dir(filled.data_dir)
    assert report.ok
    assert report.records == 30
    assert report.head_seq == 30
    assert report.last_checkpoint_seq == 30
    assert report.checkpoints_checked == 3
    assert report.summary() == "audit chain valid: 30 records, last checkpoint seq 30"


def test_an_empty_log_verifies(data_dir: DataDir) -> None:
    AuditLog.open(data_dir).close()
    report = verify_data_dir(data_dir)
    assert report.ok
    assert report.summary() == "audit chain valid: 0 records, no checkpoint yet"


def test_an_edited_field_is_found_at_its_record(filled: FilledLog, tamper: Tamper) -> None:
    tamper(filled.data_dir.audit, "UPDATE audit_event SET actor = 'someone.else' WHERE seq = 12")
    report = verify_data_dir(filled.data_dir)
    assert not report.ok
    assert report.broken is not None
    assert report.broken.seq == 12
    assert report.broken.event_id == filled.events[11].event_id
    assert report.summary().startswith(
        f"audit chain broken at seq 12 (event {filled.events[11].event_id}): "
    )
    assert "do not match its hash" in report.summary()


def test_edited_details_are_found(filled: FilledLog, tamper: Tamper) -> None:
    # Make query Q5's completion claim fewer rows, keeping the JSON valid.
    target = next(e for e in filled.events if e.kind == "query.completed" and e.seq > 3)
    edited = json.dumps({**target.details, "rows": 1}, sort_keys=True, separators=(",", ":"))
    tamper(
        filled.data_dir.audit,
        ("UPDATE audit_event SET details = ? WHERE seq = ?", (edited, target.seq)),
    )
    report = verify_data_dir(filled.data_dir)
    assert report.broken is not None
    assert report.broken.seq == target.seq


def test_a_deleted_record_is_found(filled: FilledLog, tamper: Tamper) -> None:
    tamper(filled.data_dir.audit, "DELETE FROM audit_event WHERE seq = 7")
    report = verify_data_dir(filled.data_dir)
    assert report.broken is not None
    assert report.broken.seq == 7
    assert "missing" in report.broken.reason


def _make_room_at(seq: int) -> tuple[str, str]:
    """Renumber records seq.. upwards by one (two steps: the primary key must stay unique)."""
    return (
        f"UPDATE audit_event SET seq = -seq WHERE seq >= {seq}",
        "UPDATE audit_event SET seq = 1 - seq WHERE seq < 0",
    )


def test_an_inserted_record_is_found(filled: FilledLog, tamper: Tamper) -> None:
    row = list(forged_row(filled.data_dir, 15, "f" * 64))
    row[-1] = "0" * 64  # a careless forgery: its hash is made up
    tamper(
        filled.data_dir.audit,
        *_make_room_at(15),
        ("INSERT INTO audit_event VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row),
    )
    report = verify_data_dir(filled.data_dir)
    assert report.broken is not None
    assert report.broken.seq == 15
    assert report.broken.event_id == row[1]


def test_a_carefully_forged_insertion_is_found_at_the_forged_record(
    filled: FilledLog, tamper: Tamper
) -> None:
    # The forged record links correctly to seq 14 and hashes correctly, but its MAC (keyed
    # with the checkpoint key) cannot be made without the key.
    row = forged_row(filled.data_dir, 15, filled.events[13].hash)
    tamper(
        filled.data_dir.audit,
        *_make_room_at(15),
        ("INSERT INTO audit_event VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row),
    )
    report = verify_data_dir(filled.data_dir)
    assert report.broken is not None
    assert report.broken.seq == 15
    assert report.broken.event_id == row[1]
    assert "MAC" in report.broken.reason


def test_reordered_records_are_found(filled: FilledLog, tamper: Tamper) -> None:
    tamper(
        filled.data_dir.audit,
        "UPDATE audit_event SET seq = -1 WHERE seq = 21",
        "UPDATE audit_event SET seq = 21 WHERE seq = 22",
        "UPDATE audit_event SET seq = 22 WHERE seq = -1",
    )
    report = verify_data_dir(filled.data_dir)
    assert report.broken is not None
    assert report.broken.seq == 21
    assert report.broken.event_id == filled.events[21].event_id  # the one moved up


def test_a_truncated_tail_is_found_through_the_checkpoints(
    filled: FilledLog, tamper: Tamper
) -> None:
    tamper(filled.data_dir.audit, "DELETE FROM audit_event WHERE seq > 26")
    report = verify_data_dir(filled.data_dir)
    assert report.broken is not None
    assert report.broken.seq == 27
    assert "tail" in report.broken.reason
    assert report.summary().startswith("audit chain broken at seq 27: records 27..30 are missing")


def test_a_rewritten_and_rehashed_history_is_found_at_the_first_checkpoint_after_it(
    filled: FilledLog, tamper: Tamper
) -> None:
    # Rebuild a perfectly consistent chain from seq 12 onwards with one record altered.
    statements: list[str | tuple[str, tuple[object, ...]]] = []
    prev = filled.events[10].hash
    for original in filled.events[11:]:
        actor = "someone.else" if original.seq == 12 else original.actor
        e = seal(
            original.seq,
            original.event_id,
            original.time,
            original.kind,
            actor,
            original.organisation,
            original.details,
            prev,
        )
        statements.append(
            (
                "UPDATE audit_event SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                (e.actor, e.prev_hash, e.hash, e.seq),
            )
        )
        prev = e.hash
    tamper(filled.data_dir.audit, *statements)
    report = verify_data_dir(filled.data_dir)
    assert report.broken is not None
    assert report.broken.seq == 12  # the first re-hashed record: its MAC no longer matches
    assert "MAC" in report.broken.reason
    # Every rewritten record is found, and so is the signed checkpoint they contradict.
    everything = verify_data_dir(filled.data_dir, collect=True)
    assert [b.seq for b in everything.breaks if "MAC" in b.reason] == list(range(12, 31))
    assert [b.seq for b in everything.breaks if "checkpoint" in b.reason] == [20, 30]


def test_an_edited_checkpoint_line_is_found(filled: FilledLog) -> None:
    path = filled.data_dir.audit_checkpoints
    lines = path.read_text().splitlines()
    raw = json.loads(lines[1])
    raw["seq"] = 19
    lines[1] = json.dumps(raw)
    path.write_text("\n".join(lines) + "\n")
    report = verify_data_dir(filled.data_dir)
    assert not report.ok
    assert report.broken is None
    assert report.summary() == (
        "audit checkpoints broken: checkpoint line 2 does not match its signature (line edited)"
    )


def test_checkpoints_signed_with_another_key_are_not_trusted(filled: FilledLog) -> None:
    (filled.data_dir.secrets_dir / "audit-checkpoint.key").write_text("ab" * 32)
    report = verify_data_dir(filled.data_dir)
    assert not report.ok
    assert len(report.checkpoint_problems) == 4  # genesis, 10, 20, 30
    assert all("another key" in p for p in report.checkpoint_problems)
    assert report.broken is not None  # and the records' MACs were made with the other key
    assert (report.broken.seq, "MAC" in report.broken.reason) == (1, True)


def test_records_after_the_last_checkpoint_are_reported_as_uncovered(data_dir: DataDir) -> None:
    log = AuditLog.open(data_dir, checkpoint_every=10, checkpoint_interval=None)

    write_mixed(log, 14)
    report = verify_data_dir(data_dir)  # before close: checkpoint at 10 only
    assert report.ok
    assert report.last_checkpoint_seq == 10
    assert report.warnings == (
        "4 records after the last checkpoint (seq 10) are not yet covered by a checkpoint",
    )
    log.close()
    assert verify_data_dir(data_dir).last_checkpoint_seq == 14


def test_checkpoint_file_can_live_elsewhere(data_dir: DataDir, tmp_path: Path) -> None:
    elsewhere = tmp_path / "shipped" / "cp.jsonl"
    elsewhere.parent.mkdir()
    with AuditLog.open(
        data_dir, checkpoint_every=5, checkpoints=elsewhere, checkpoint_interval=None
    ) as log:
        from conftest import write_mixed

        write_mixed(log, 12)
    assert not data_dir.audit_checkpoints.exists()
    report = verify_data_dir(data_dir, checkpoints=elsewhere)
    assert report.ok
    assert report.checkpoints_checked == 3  # 5, 10 and 12 (on close)


def test_records_with_and_without_a_lookup_analysis_verify_together(data_dir: DataDir) -> None:
    """Old records (no ``person_lookups``) and new ones chain and verify as one log."""
    hostile = "SELECT " + "(" * 3000 + "1" + ")" * 3000
    with AuditLog.open(data_dir, checkpoint_every=2) as log:
        write_mixed(log, 5, prefix="OLD")
        request = make_request(sql=hostile)
        analysed = dataclasses.replace(
            request, person_lookups=analyse_lookups(hostile, load_catalog())
        )
        log.record(QueryDenied("NEW1", analysed, "parse_error", "nested too deeply"))
        log.record(make_started("NEW2", dataclasses.replace(analysed, sql_submitted="1")))
        events = list(log.events())
    assert "person_lookups" not in events[0].details
    assert events[5].details["person_lookups"]["status"] == "too_deep"
    report = verify_data_dir(data_dir)
    assert report.ok, report.summary()
    assert report.records == 7
