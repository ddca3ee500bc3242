"""Issue 13, findings 2 and 4, against a real ``gateway serve`` process.

- The checkpoint file replaced by a directory while queries run: every query still answers,
  its records stay, the witness keeps receiving checkpoints, ``/healthz`` reports the audit
  log ``degraded``, and the file gets a checkpoint of the head within seconds of being
  writable again (``ok`` again).
- A cut audit log: the server refuses to start (and writes no checkpoint vouching for the cut)
  until an operator acknowledges it; afterwards it serves and verification passes.
- Database and checkpoint file rolled back together: the server refuses to start when the
  witness it is configured with holds a later checkpoint.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.audit import SQLiteAuditStore
from gateway.audit.checkpoints import CheckpointFile
from gateway.cli.demo import grant_demo_access
from gateway.datadir import DataDir
from tests.cli_process import run_gateway
from tests.gateway_server import LiveGateway, start_gateway

QUICK = {"sql": "SELECT count(*) AS n FROM crime", "purpose": "SA-2026"}


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.05)


def max_checkpoint(path: Path) -> int:
    seqs = [line.checkpoint.seq for line in CheckpointFile(path).read() if line.checkpoint]
    return max(seqs, default=-1)


def audit_head(data_dir: DataDir) -> int:
    with SQLiteAuditStore(data_dir.audit, read_only=True) as store:
        return store.head()[0]


def completed_ok(data_dir: DataDir, query_ids: list[str]) -> list[str]:
    with SQLiteAuditStore(data_dir.audit, read_only=True) as store:
        done = {
            str(e.details.get("query_id"))
            for e in store.events(kinds=("query.completed",))
            if e.details.get("outcome") == "ok"
        }
    return [q for q in query_ids if q in done]


@pytest.fixture
def own_data_dir(demo_data_dir: DataDir, tmp_path: Path) -> DataDir:
    """A data directory of this test's own (the demo warehouse, demo users and tokens)."""
    root = tmp_path / "data"
    root.mkdir()
    shutil.copyfile(demo_data_dir.warehouse, DataDir(root).warehouse)
    grant_demo_access(root)
    return DataDir(root)


def serve(data_dir: DataDir, witness: Path | None = None) -> LiveGateway:
    env = {"GATEWAY_AUDIT_CHECKPOINT_INTERVAL_S": "0.3"}
    if witness is not None:
        env["GATEWAY_AUDIT_WITNESS_FILE"] = str(witness)
    return start_gateway(data_dir.root, env=env)


def audit_status(gateway: LiveGateway) -> str:
    """The audit part of ``/healthz`` (``AuditLog.health()``)."""
    with gateway.client() as http:
        return str(http.get("/healthz").json()["audit"]["status"])


def ask(gateway: LiveGateway, n: int) -> list[str]:
    """``n`` quick queries as h.lee, each answered 200 with its row; their query ids."""
    ids = []
    with gateway.client("h.lee") as http:
        for _ in range(n):
            answer = http.post("/v1/query", json=QUICK)
            assert answer.status_code == 200, answer.text
            assert answer.json()["rows"][0][0] > 0
            ids.append(answer.headers["x-query-id"])
    return ids


def test_queries_answer_and_stay_recorded_while_the_checkpoint_file_is_unwritable(
    own_data_dir: DataDir, tmp_path: Path
) -> None:
    witness = tmp_path / "witness" / "checkpoints.jsonl"
    witness.parent.mkdir()
    path = own_data_dir.audit_checkpoints
    gateway = serve(own_data_dir, witness)
    try:
        ask(gateway, 1)
        wait_for(lambda: max_checkpoint(path) >= audit_head(own_data_dir))
        aside = path.with_name("moved-aside.jsonl")
        path.rename(aside)
        path.mkdir()  # EISDIR on every append, even for root
        during = ask(gateway, 8)
        assert completed_ok(own_data_dir, during) == during  # recorded, and sent
        head = audit_head(own_data_dir)
        wait_for(lambda: max_checkpoint(witness) >= head)  # the witness still gets them
        wait_for(lambda: audit_status(gateway) == "degraded")
        path.rmdir()
        aside.rename(path)
        began = time.monotonic()
        wait_for(lambda: max_checkpoint(path) >= head, timeout=5)
        assert time.monotonic() - began < 3
        wait_for(lambda: audit_status(gateway) == "ok", timeout=5)
    finally:
        gateway.stop()
    run = run_gateway(
        "audit", "verify", "--data-dir", str(own_data_dir.root), "--witness", str(witness)
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_server_refuses_a_cut_log_until_an_operator_acknowledges_it(
    own_data_dir: DataDir,
) -> None:
    gateway = serve(own_data_dir)
    try:
        ask(gateway, 3)
    finally:
        gateway.stop()
    head = audit_head(own_data_dir)
    con = sqlite3.connect(own_data_dir.audit)
    con.execute("DROP TRIGGER audit_event_no_delete")
    con.execute(f"DELETE FROM audit_event WHERE seq > {head - 2}")
    con.commit()
    con.close()
    checkpoints = own_data_dir.audit_checkpoints.read_bytes()
    with pytest.raises(RuntimeError, match="failed its integrity check"):
        serve(own_data_dir)
    assert own_data_dir.audit_checkpoints.read_bytes() == checkpoints  # nothing vouched for
    verify = run_gateway("audit", "verify", "--data-dir", str(own_data_dir.root))
    assert verify.returncode == 1
    assert f"records {head - 1}..{head} are missing" in verify.stdout
    ack = run_gateway(
        "audit", "acknowledge", "--data-dir", str(own_data_dir.root), "--reason", "INC-13 drill"
    )
    assert ack.returncode == 0, ack.stdout + ack.stderr
    gateway = serve(own_data_dir)
    try:
        ask(gateway, 1)
    finally:
        gateway.stop()
    assert run_gateway("audit", "verify", "--data-dir", str(own_data_dir.root)).returncode == 0


def test_the_server_refuses_a_rollback_its_witness_contradicts(
    own_data_dir: DataDir, tmp_path: Path
) -> None:
    witness = tmp_path / "witness" / "checkpoints.jsonl"
    witness.parent.mkdir()
    gateway = serve(own_data_dir, witness)
    try:
        ask(gateway, 2)
    finally:
        gateway.stop()
    backup = tmp_path / "backup"
    backup.mkdir()
    saved = [own_data_dir.audit, own_data_dir.audit_checkpoints]
    for file in saved:
        shutil.copy2(file, backup / file.name)
    gateway = serve(own_data_dir, witness)
    try:
        ask(gateway, 3)
    finally:
        gateway.stop()
    for file in saved:  # roll the database and its checkpoint file back together
        shutil.copy2(backup / file.name, file)
    with pytest.raises(RuntimeError, match="failed its integrity check"):
        serve(own_data_dir, witness)
