"""``gateway audit …`` run as a real process: exit codes and what it prints."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from audit_helpers import FilledLog, Tamper, make_request, make_started
from tests.cli_process import run_gateway

from gateway.audit import AuditLog, QueryDenied
from gateway.audit.checkpoints import CheckpointFile
from gateway.datadir import DataDir


def test_verify_exits_0_on_a_valid_log(filled: FilledLog) -> None:
    run = run_gateway("audit", "verify", "--data-dir", str(filled.data_dir.root))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "audit chain valid: 30 records, last checkpoint seq 30"


def test_verify_exits_1_and_names_the_first_bad_record(filled: FilledLog, tamper: Tamper) -> None:
    tamper(filled.data_dir.audit, "UPDATE audit_event SET kind = 'token.issued' WHERE seq = 12")
    tamper(filled.data_dir.audit, "DELETE FROM audit_event WHERE seq = 20")
    run = run_gateway("audit", "verify", "--data-dir", str(filled.data_dir.root))
    assert run.returncode == 1
    assert run.stdout.startswith(
        f"audit chain broken at seq 12 (event {filled.events[11].event_id}): "
    )


def test_verify_without_an_audit_log_is_a_clear_error(tmp_path: Path) -> None:
    run = run_gateway("audit", "verify", "--data-dir", str(tmp_path))
    assert run.returncode == 2
    assert run.stderr.startswith("error: audit log ")
    assert "no such file" in run.stderr
    assert "Traceback" not in run.stderr
    checkpoint = run_gateway("audit", "checkpoint", "--data-dir", str(tmp_path))
    assert checkpoint.returncode == 2
    assert "no such file" in checkpoint.stderr
    assert list(tmp_path.iterdir()) == []  # nothing created by either command


def test_checkpoint_command_signs_the_head(data_dir: DataDir) -> None:
    log = AuditLog.open(data_dir, checkpoint_every=1000, checkpoint_interval=None)
    for i in range(3):
        log.record(make_started(f"Q{i}"))
    log.store.close()  # as if the service died: no checkpoint on close
    run = run_gateway("audit", "checkpoint", "--data-dir", str(data_dir.root))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "checkpoint seq 3"
    genesis, line = CheckpointFile(data_dir.audit_checkpoints).read()
    assert genesis.checkpoint is not None
    assert genesis.checkpoint.seq == 0  # written when the log was created
    assert line.checkpoint is not None
    assert line.checkpoint.seq == 3


def test_report_denied_as_csv(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir) as log:
        log.record(make_started("Q1"))
        log.record(
            QueryDenied("Q2", make_request(user="b.lee"), "table_not_permitted", "no access")
        )
    run = run_gateway(
        "audit", "report", "denied", "--data-dir", str(data_dir.root), "--format", "csv"
    )
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert [(r["query_id"], r["user"], r["reason"]) for r in rows] == [
        ("Q2", "b.lee", "table_not_permitted")
    ]


def test_report_person_lookups_as_json_with_a_period(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir) as log:
        log.record(make_started("Q1", make_request(sql="SELECT count(*) FROM crime")))
        log.record(
            make_started("Q2", make_request(sql="SELECT * FROM person WHERE pnc_id = '01/2X'"))
        )
    root = str(data_dir.root)
    run = run_gateway("audit", "report", "person-lookups", "--data-dir", root, "--format", "json")
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)
    assert [(r["query_id"], r["pinned"]) for r in rows] == [("Q2", ["person.pnc_id"])]
    later = run_gateway(
        "audit",
        "report",
        "person-lookups",
        "--data-dir",
        root,
        "--format",
        "json",
        "--since",
        "2999-01-01",
    )
    assert json.loads(later.stdout) == []


def test_report_with_a_bad_date_is_a_clear_error(data_dir: DataDir) -> None:
    AuditLog.open(data_dir).close()
    run = run_gateway(
        "audit", "report", "activity", "--data-dir", str(data_dir.root), "--since", "last tuesday"
    )
    assert run.returncode == 2
    assert "is not an ISO date" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_report_run_on_the_host_is_audited_before_it_is_made(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir) as log:
        log.record(make_started("Q1"))
    run = run_gateway(
        "audit", "report", "activity", "--data-dir", str(data_dir.root), "--since", "2020-01-01"
    )
    assert run.returncode == 0, run.stderr
    with AuditLog.open(data_dir, checkpoint_interval=None) as log:
        reviews = list(log.events(kinds=("access.audit_reviewed",)))
    assert len(reviews) == 1
    review = reviews[0]
    assert review.actor.startswith("host:")
    assert review.details["subject"] == "report:activity"
    assert review.details["details"]["channel"] == "cli"
    assert review.details["details"]["since"].startswith("2020-01-01")
    assert run_gateway("audit", "verify", "--data-dir", str(data_dir.root)).returncode == 0


def test_a_report_is_refused_when_its_run_cannot_be_audited(
    data_dir: DataDir, tamper: Tamper
) -> None:
    with AuditLog.open(data_dir, checkpoint_every=1) as log:
        for i in range(3):
            log.record(make_started(f"Q{i}"))
    tamper(data_dir.audit, "DELETE FROM audit_event WHERE seq = 3")  # the log refuses appends
    run = run_gateway("audit", "report", "activity", "--data-dir", str(data_dir.root))
    assert run.returncode == 2
    assert run.stderr.startswith("error: the audit log failed its integrity check")
    assert "a.khan" not in run.stdout
