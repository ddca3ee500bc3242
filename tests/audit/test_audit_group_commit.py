"""Group commit (:class:`gateway.audit.storage.GroupCommit`): appends from concurrent threads
share commits, each caller gets its own record or its own error, and a failed commit fails
everyone in it. The stores' own behaviour under concurrent appends (one gap-free chain) is in
the store contract (``contract.py``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from gateway.audit.storage import GroupCommit, PendingAppend
from gateway.errors import AuditUnavailable, InputError


class SlowDisk:
    """A commit function that takes a while (like an fsync) and records its batches."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.fail = fail

    def __call__(self, batch: Sequence[PendingAppend]) -> None:
        time.sleep(0.02)
        if self.fail:
            raise AuditUnavailable("the disk is full")
        self.batches.append([str(item.details["n"]) for item in batch])
        for item in batch:
            if item.kind == "bad":
                item.error = InputError(f"record {item.details['n']} is malformed")
            else:
                item.event = f"event {item.details['n']}"  # type: ignore[assignment]


def _append_concurrently(group: GroupCommit, kinds: list[str]) -> list[object]:
    results: list[object] = [None] * len(kinds)
    start = threading.Barrier(len(kinds))

    def one(n: int) -> None:
        start.wait()
        try:
            results[n] = group.append(kinds[n], "u", "o", {"n": n}, None)
        except Exception as exc:
            results[n] = exc

    threads = [threading.Thread(target=one, args=(n,)) for n in range(len(kinds))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_concurrent_appends_share_commits_and_each_gets_its_own_record() -> None:
    disk = SlowDisk()
    results = _append_concurrently(GroupCommit(disk), ["query.started"] * 16)
    assert results == [f"event {n}" for n in range(16)]
    assert sorted(int(n) for batch in disk.batches for n in batch) == list(range(16))
    assert len(disk.batches) < 16  # shared: fewer commits than appends
    assert max(len(batch) for batch in disk.batches) > 1


def test_a_malformed_record_is_refused_alone() -> None:
    kinds = ["query.started"] * 8
    kinds[3] = "bad"
    results = _append_concurrently(GroupCommit(SlowDisk()), kinds)
    assert isinstance(results[3], InputError)
    assert [r for n, r in enumerate(results) if n != 3] == [
        f"event {n}" for n in range(8) if n != 3
    ]


def test_a_failed_commit_fails_every_append_in_it() -> None:
    results = _append_concurrently(GroupCommit(SlowDisk(fail=True)), ["query.started"] * 6)
    assert all(isinstance(r, AuditUnavailable) for r in results)


def test_a_lone_append_commits_at_once() -> None:
    disk = SlowDisk()
    assert GroupCommit(disk).append("query.started", "u", "o", {"n": 0}, None) == "event 0"
    assert disk.batches == [["0"]]
    with pytest.raises(InputError):
        GroupCommit(disk).append("bad", "u", "o", {"n": 1}, None)
