"""The contract every :class:`~gateway.audit.store.AuditStore` implementation passes.

One suite, run against each implementation in :data:`STORES` through the parametrized
``store_kind`` fixture (as ibis runs one backend suite over every engine): append, commit and
read back; an unbroken hash chain; record MACs and checkpoints over the store; reads by ``seq``
range; malformed events refused; a closed store failing closed; threads and processes appending
at once; a writer killed mid-append and the store reopened.

Adding a store (the PostgreSQL store of the scale-out issue) is one more :class:`StoreKind` in
:data:`STORES`: a name and a function opening the store kept at a location (a folder for
SQLite; for PostgreSQL, a fresh schema named after it). Tests particular to one implementation
(SQLite's pragmas, triggers, file errors, paging) stay in that implementation's test module.

Collected by pytest through ``python_files`` (``contract.py``) in ``pyproject.toml``.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.audit import GENESIS_HASH, AuditLog, SQLiteAuditStore, verify_store
from gateway.audit.chain import event_hash
from gateway.audit.checkpoints import CheckpointFile, genesis_checkpoint, record_mac
from gateway.audit.disposal import load_disposal
from gateway.audit.facts import AccessEvent
from gateway.audit.kinds import EventKind
from gateway.audit.store import AuditStore
from gateway.clock import utc_now
from gateway.errors import AuditUnavailable, InputError


@dataclass(frozen=True)
class StoreKind:
    """One implementation under contract.

    Attributes:
        name: the test id.
        open: opens (or reopens) the store kept at ``location``, signing records with
            ``record_key`` when one is given.
    """

    name: str
    open: Callable[[Path, bytes | None], AuditStore]


def _sqlite(location: Path, record_key: bytes | None) -> AuditStore:
    return SQLiteAuditStore(location / "audit.sqlite", record_key=record_key)


def _postgres(location: Path, record_key: bytes | None) -> AuditStore:
    """A schema of its own per location in the session's throwaway cluster."""
    from tests.postgres_cluster import shared_dsn

    from gateway.audit.postgresql import PostgresAuditStore

    try:
        dsn = shared_dsn()
    except FileNotFoundError as exc:
        pytest.skip(f"PostgreSQL server binaries are not installed: {exc}")
    schema = "t_" + hashlib.sha256(str(location).encode()).hexdigest()[:16]
    return PostgresAuditStore(dsn, schema=schema, record_key=record_key)


#: Every implementation the contract runs against.
STORES = (StoreKind("sqlite", _sqlite), StoreKind("postgresql", _postgres))

KEY = b"k" * 32


def _kind(name: str) -> StoreKind:
    return next(kind for kind in STORES if kind.name == name)


@pytest.fixture(params=STORES, ids=lambda kind: kind.name)
def store_kind(request: pytest.FixtureRequest) -> StoreKind:
    kind: StoreKind = request.param
    return kind


@pytest.fixture
def location(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def open_store(store_kind: StoreKind, location: Path) -> Iterator[Callable[..., AuditStore]]:
    """Opens the store under test at this test's location (closed at the end)."""
    opened: list[AuditStore] = []

    def open_(record_key: bytes | None = None) -> AuditStore:
        store = store_kind.open(location, record_key)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


# --- append, commit, read back ---------------------------------------------------------------


def test_appends_are_chained_gap_free_and_hashed(open_store: Callable[..., AuditStore]) -> None:
    store = open_store()
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
    assert store.check_integrity() == ()


def test_a_committed_append_is_seen_by_a_store_opened_afresh(
    open_store: Callable[..., AuditStore],
) -> None:
    event = open_store().append("policy.loaded", "system", "", {"policy_hash": "abc"})
    assert list(open_store().events()) == [event]


def test_events_can_be_filtered(open_store: Callable[..., AuditStore]) -> None:
    t0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
    store = open_store()
    for i in range(10):
        kind = "query.started" if i % 2 else "token.issued"
        org = "Org" if i < 8 else "Other"
        store.append(kind, f"user{i % 3}", org, {"i": i}, time=t0 + timedelta(hours=i))
    assert [e.details["i"] for e in store.events(kinds=["query.started"])] == [1, 3, 5, 7, 9]
    assert [e.details["i"] for e in store.events(actor="user1")] == [1, 4, 7]
    assert [e.details["i"] for e in store.events(organisation="Other")] == [8, 9]
    assert [e.details["i"] for e in store.events(organisation="Org", actor="user2")] == [2, 5]
    scoped = store.events(organisation="Org", after_seq=6, limit=5)
    assert [e.details["i"] for e in scoped] == [6, 7]
    assert list(store.events(organisation="org")) == []  # exact, not case-folded
    window = store.events(since=t0 + timedelta(hours=2), until=t0 + timedelta(hours=5))
    assert [e.details["i"] for e in window] == [2, 3, 4]
    assert list(store.events(kinds=[])) == []


def test_reads_by_seq_range(open_store: Callable[..., AuditStore]) -> None:
    store = open_store()
    written = [store.append("token.issued", "u", "o", {"i": i}) for i in range(50)]
    assert [e.seq for e in store.events(after_seq=47)] == [48, 49, 50]
    assert [e.seq for e in store.events(limit=3)] == [1, 2, 3]
    assert [e.seq for e in store.events(after_seq=10, limit=15)] == list(range(11, 26))
    assert [e.seq for e in store.events(after_seq=50)] == []
    assert [r.seq for r in store.stored_records()] == list(range(1, 51))
    assert [r.seq for r in store.stored_records(after_seq=47)] == [48, 49, 50]
    record = store.stored_record(17)
    assert record is not None
    assert (record.seq, record.hash, record.prev_hash) == (17, written[16].hash, written[15].hash)
    assert store.stored_record(51) is None


def test_a_malformed_event_is_refused_and_nothing_is_written(
    open_store: Callable[..., AuditStore],
) -> None:
    store = open_store()
    store.append("token.issued", "admin", "Force", {})
    with pytest.raises(InputError):
        store.append("not a kind", "admin", "Force", {})
    with pytest.raises(InputError):
        store.append("token.issued", "admin", "Force", {"bad": float("inf")})
    assert store.head()[0] == 1
    assert store.append("token.revoked", "admin", "Force", {}).seq == 2


def test_a_closed_store_fails_closed(open_store: Callable[..., AuditStore]) -> None:
    store = open_store()
    store.close()
    store.close()
    with pytest.raises(AuditUnavailable):
        store.append("token.issued", "admin", "Force", {})
    with pytest.raises(AuditUnavailable):
        store.head()


# --- record MACs and checkpoints -------------------------------------------------------------


def test_a_keyed_store_macs_every_record_and_refuses_unkeyed_appends(
    open_store: Callable[..., AuditStore],
) -> None:
    store = open_store(KEY)
    written = [store.append("token.issued", "u", "o", {"i": i}) for i in range(5)]
    assert store.keyed_from() == 1
    assert [r.mac for r in store.stored_records()] == [record_mac(KEY, e.hash) for e in written]
    with pytest.raises(AuditUnavailable, match="key"):
        open_store().append("token.issued", "u", "o", {})
    assert store.head() == (5, written[-1].hash)


def test_checkpoints_over_the_store_verify(
    open_store: Callable[..., AuditStore], location: Path
) -> None:
    store = open_store(KEY)
    file = CheckpointFile(location / "audit.checkpoints")
    file.append(genesis_checkpoint(KEY, utc_now(), keyed_from=store.keyed_from()))
    log = AuditLog(store, checkpoints=file, checkpoint_key=KEY, checkpoint_every=5)
    for i in range(12):
        log.record(AccessEvent(EventKind.ACCESS_ENDORSED, "m.jones", "MBC", subject=f"R{i}"))
    report = verify_store(store, file, KEY)
    assert report.ok, report
    assert report.last_checkpoint_seq is not None
    assert report.last_checkpoint_seq >= 10
    assert report.head_seq == store.head()[0]


# --- concurrent writers ----------------------------------------------------------------------


def test_threads_sharing_one_store_build_one_chain(open_store: Callable[..., AuditStore]) -> None:
    store = open_store()

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


def _append_from_process(kind: str, location: str, worker: int, count: int, start: object) -> None:
    start.wait()  # type: ignore[attr-defined]  # all workers open and append at once
    store = _kind(kind).open(Path(location), None)
    for i in range(count):
        store.append("query.started", f"worker{worker}", "Org", {"worker": worker, "i": i})
        time.sleep(0.001)  # a query's worth of work between appends, as in the service
    store.close()


def test_processes_appending_at_once_build_one_valid_gap_free_chain(
    store_kind: StoreKind, location: Path, open_store: Callable[..., AuditStore]
) -> None:
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(4)
    workers = [
        ctx.Process(
            target=_append_from_process, args=(store_kind.name, str(location), w, 50, start)
        )
        for w in range(4)
    ]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=120)
        assert p.exitcode == 0
    store = open_store()
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


# --- retention disposal -----------------------------------------------------------------------


def test_a_disposal_removes_the_start_and_the_rest_still_verifies(
    open_store: Callable[..., AuditStore],
) -> None:
    store = open_store(KEY)
    old = datetime(2017, 1, 1, tzinfo=UTC)
    for i in range(6):
        store.append("token.issued", "gw.admin", "Org", {"i": i}, time=old + timedelta(days=i))
    for i in range(2):
        store.append("token.issued", "gw.admin", "Org", {"i": 6 + i})
    assert store.last_seq_before(datetime(2018, 1, 1, tzinfo=UTC)) == 6
    assert store.disposed_through() == 0
    record = store.dispose(4, "audit.disposed", "operator:root", "", {"reason": "retention"})
    assert record.seq == 9
    assert (record.details["through_seq"], record.details["records"]) == (4, 4)
    assert [r.seq for r in store.stored_records()] == [5, 6, 7, 8, 9]
    assert store.disposed_through() == 4
    assert load_disposal(store, KEY) is not None
    with pytest.raises(InputError):
        store.dispose(3, "audit.disposed", "operator:root", "", {"reason": "again"})
    after = store.append("policy.loaded", "system", "", {})
    assert (after.seq, after.prev_hash) == (10, record.hash)
    report = verify_store(store, key=KEY)  # no checkpoint file here: the chain alone
    assert report.breaks == ()
    assert report.damage == ()
    assert (report.disposed_through, report.records, report.head_seq) == (4, 6, 10)


# --- a writer killed mid-append --------------------------------------------------------------

_KEEP_APPENDING = """
import sys
from pathlib import Path
sys.path[:0] = sys.argv[3:]
from contract import _kind
store = _kind(sys.argv[1]).open(Path(sys.argv[2]), None)
i = 0
while True:
    store.append("query.started", "writer", "Org", {"i": i, "sql": "x" * 500})
    i += 1
"""


def test_a_writer_killed_mid_append_leaves_a_valid_log_that_goes_on(
    store_kind: StoreKind, location: Path, open_store: Callable[..., AuditStore]
) -> None:
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _KEEP_APPENDING,
            store_kind.name,
            str(location),
            str(Path(__file__).parent),
            *sys.path,
        ]
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.05)
            if _head_seq(store_kind, location) >= 20:
                break
        os.kill(writer.pid, signal.SIGKILL)  # in the middle of some append
    finally:
        writer.wait(timeout=30)
    store = open_store()
    report = verify_store(store)
    assert report.ok, report.summary()
    seq, last = store.head()
    assert seq >= 20
    assert [e.details["i"] for e in store.events()] == list(range(seq))  # nothing half-written
    after = store.append("policy.loaded", "system", "", {})
    assert (after.seq, after.prev_hash) == (seq + 1, last)


def _head_seq(kind: StoreKind, location: Path) -> int:
    try:
        store = kind.open(location, None)
    except AuditUnavailable:
        return 0  # not created yet
    try:
        return store.head()[0]
    finally:
        store.close()
