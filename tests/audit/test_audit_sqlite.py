"""The SQLite store: durable, chained, gap-free across threads and processes; fails closed."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.audit import GENESIS_HASH, SQLiteAuditStore, verify_store
from gateway.audit.chain import event_hash
from gateway.errors import AuditUnavailable, InputError


def test_appends_are_chained_gap_free_and_hashed(tmp_path: Path) -> None:
    with SQLiteAuditStore(tmp_path / "audit.sqlite") as store:
        assert store.head() == (0, GENESIS_HASH)
        written = [store.append("token.issued", f"u{i}", "Org", {"i": i}) for i in range(20)]
        read = list(store.events())
        assert read == written
        assert [e.seq for e in read] == list(range(1, 21))
        assert read[0].prev_hash == GENESIS_HASH
        for before, after in itertools.pairwise(read):
            assert after.prev_hash == before.hash
        assert all(event_hash(e) == e.hash for e in read)
        assert store.head() == (20, read[-1].hash)


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


def test_events_can_be_filtered(tmp_path: Path) -> None:
    t0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
    with SQLiteAuditStore(tmp_path / "audit.sqlite") as store:
        for i in range(10):
            kind = "query.started" if i % 2 else "token.issued"
            store.append(kind, f"user{i % 3}", "Org", {"i": i}, time=t0 + timedelta(hours=i))
        assert [e.details["i"] for e in store.events(kinds=["query.started"])] == [1, 3, 5, 7, 9]
        assert [e.details["i"] for e in store.events(actor="user1")] == [1, 4, 7]
        window = store.events(since=t0 + timedelta(hours=2), until=t0 + timedelta(hours=5))
        assert [e.details["i"] for e in window] == [2, 3, 4]
        assert [e.seq for e in store.events(after_seq=7)] == [8, 9, 10]
        assert [e.seq for e in store.events(limit=3)] == [1, 2, 3]
        assert list(store.events(kinds=[])) == []


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


def test_a_malformed_event_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with SQLiteAuditStore(tmp_path / "audit.sqlite") as store:
        store.append("token.issued", "admin", "Force", {})
        with pytest.raises(InputError):
            store.append("not a kind", "admin", "Force", {})
        with pytest.raises(InputError):
            store.append("token.issued", "admin", "Force", {"bad": float("inf")})
        assert store.head()[0] == 1
        assert store.append("token.revoked", "admin", "Force", {}).seq == 2


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


def test_closed_store_fails_closed(tmp_path: Path) -> None:
    store = SQLiteAuditStore(tmp_path / "audit.sqlite")
    store.close()
    store.close()
    with pytest.raises(AuditUnavailable, match="closed"):
        store.append("token.issued", "admin", "Force", {})


# --- concurrency -----------------------------------------------------------------------------


def test_threads_sharing_one_store_build_one_chain(tmp_path: Path) -> None:
    with SQLiteAuditStore(tmp_path / "audit.sqlite") as store:

        def work(n: int) -> None:
            for i in range(40):
                store.append("query.started", f"thread{n}", "Org", {"i": i})

        threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        report = verify_store(store)
        assert report.ok
        assert report.records == 240
        per_thread = {f"thread{n}": 0 for n in range(6)}
        for e in store.events():
            per_thread[e.actor] += 1
        assert set(per_thread.values()) == {40}


def _append_from_process(path: str, worker: int, count: int, start: object) -> None:
    start.wait()  # type: ignore[attr-defined]  # all workers open and append at once
    store = SQLiteAuditStore(Path(path))
    for i in range(count):
        store.append("query.started", f"worker{worker}", "Org", {"worker": worker, "i": i})
        time.sleep(0.001)  # a query's worth of work between appends, as in the service
    store.close()


def test_processes_appending_at_once_build_one_valid_gap_free_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite"  # created by the workers themselves, concurrently
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(4)
    workers = [
        ctx.Process(target=_append_from_process, args=(str(path), w, 50, start)) for w in range(4)
    ]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=120)
        assert p.exitcode == 0
    with SQLiteAuditStore(path, read_only=True) as store:
        report = verify_store(store)
        assert report.ok, report.summary()
        events = list(store.events())
    assert [e.seq for e in events] == list(range(1, 201))
    for w in range(4):
        mine = [e.details["i"] for e in events if e.actor == f"worker{w}"]
        assert mine == list(range(50))  # each worker's events, all there, in its own order
    # The workers really interleaved (not one after another).
    actors = [e.actor for e in events]
    assert sum(a != b for a, b in itertools.pairwise(actors)) > 3
