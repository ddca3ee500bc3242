"""What is particular to the SQLite store: WAL and durability, triggers, paging, and each way
the file can fail (always AuditUnavailable). The contract every store passes (chain, reads,
MACs, checkpoints, concurrent writers, a killed writer) is ``contract.py``."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gateway.audit import SQLiteAuditStore, verify_store
from gateway.errors import AuditUnavailable


def test_an_append_is_durable_when_it_returns(tmp_path: Path) -> None:
    """Another process, opening the file afresh, sees the event at once."""
    path = tmp_path / "audit.sqlite"
    store = SQLiteAuditStore(path)
    event = store.append("policy.loaded", "system", "", {"policy_hash": "abc"})
    script = (
        "import sqlite3, sys; con = sqlite3.connect(sys.argv[1]);"
        "print(con.execute('SELECT seq, hash FROM audit_event').fetchall())"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == repr([(1, event.hash)])
    assert store.read_only is False
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_reads_page_through_long_logs(tmp_path: Path) -> None:
    with SQLiteAuditStore(tmp_path / "audit.sqlite", page_rows=7) as store:
        for i in range(50):
            store.append("token.issued", "u", "o", {"i": i})
        assert [e.details["i"] for e in store.events()] == list(range(50))
        assert [r.seq for r in store.stored_records()] == list(range(1, 51))
        assert [r.seq for r in store.stored_records(after_seq=47)] == [48, 49, 50]
        assert [e.seq for e in store.events(after_seq=10, limit=15)] == list(range(11, 26))
        assert [e.seq for e in store.events(after_seq=14, limit=14)] == list(range(15, 29))


def test_the_database_refuses_updates_and_deletes(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    with SQLiteAuditStore(path) as store:
        store.append("token.issued", "admin", "Force", {})
    con = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute("UPDATE audit_event SET actor = 'someone'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute("DELETE FROM audit_event")
    con.close()


# --- failure modes: every one is AuditUnavailable --------------------------------------------


@contextmanager
def read_only_file(path: Path) -> Iterator[None]:
    """Make ``path`` unwritable, even for root (immutable attribute) where needed."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], check=False).returncode:
        pytest.skip("running as root without chattr: cannot make a file read-only")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def test_read_only_audit_file_fails_closed(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    with SQLiteAuditStore(path) as store:
        store.append("token.issued", "admin", "Force", {})
    # Opening works (reads are fine); the first write is refused.
    with (
        read_only_file(path),
        SQLiteAuditStore(path) as store,
        pytest.raises(AuditUnavailable, match="read-only"),
    ):
        store.append("query.started", "a.khan", "MBC", {"query_id": "Q1"})
    with SQLiteAuditStore(path, read_only=True) as reader:
        assert reader.head()[0] == 1


def test_store_opened_read_only_refuses_appends(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    SQLiteAuditStore(path).close()
    with (
        SQLiteAuditStore(path, read_only=True) as reader,
        pytest.raises(AuditUnavailable, match="read-only"),
    ):
        reader.append("token.issued", "admin", "Force", {})


def test_disk_full_fails_closed_and_leaves_a_valid_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    with SQLiteAuditStore(path, max_size_bytes=64 * 1024) as store:
        written = 0
        failure: AuditUnavailable | None = None
        for i in range(1000):
            try:
                store.append("query.started", "a.khan", "MBC", {"i": i, "sql": "x" * 1500})
            except AuditUnavailable as exc:
                failure = exc
                break
            written += 1
        assert failure is not None
        assert "full" in str(failure)
        assert written > 0
        assert store.head()[0] == written
    with SQLiteAuditStore(path) as store:
        report = verify_store(store)
        assert report.ok
        assert report.records == written


def test_lock_held_too_long_fails_closed(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    SQLiteAuditStore(path).close()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with (
            SQLiteAuditStore(path, busy_timeout=0.2) as store,
            pytest.raises(AuditUnavailable, match="locked"),
        ):
            store.append("token.issued", "admin", "Force", {})
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_corrupted_file_fails_closed(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"
    path.write_bytes(os.urandom(8192))
    with pytest.raises(AuditUnavailable, match="corrupted"):
        SQLiteAuditStore(path)


def test_missing_directory_fails_closed(tmp_path: Path) -> None:
    with pytest.raises(AuditUnavailable, match="cannot be opened"):
        SQLiteAuditStore(tmp_path / "no" / "such" / "audit.sqlite")


def test_missing_file_is_not_created_when_reading(tmp_path: Path) -> None:
    with pytest.raises(AuditUnavailable, match="no such file"):
        SQLiteAuditStore(tmp_path / "audit.sqlite", read_only=True)
    assert not (tmp_path / "audit.sqlite").exists()
