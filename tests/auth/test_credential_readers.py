"""The credential store's read connections (gateway.auth.tokens): each thread keeps one open
per file, and still sees every change at once — a revocation committed elsewhere, a file
replaced on disk, a file removed."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

from gateway.auth.tokens import TokenStore


def test_a_revocation_elsewhere_is_seen_by_the_next_read(tmp_path: Path) -> None:
    path = tmp_path / "governance.sqlite"
    store = TokenStore(path)
    issued = store.issue("a.khan", issued_by="test")
    assert store.find(issued.token) is not None  # this thread now keeps a reader
    other: list[object] = []
    thread = threading.Thread(  # another thread (another connection) revokes it
        target=lambda: other.append(
            TokenStore(path).revoke(issued.record.token_id, revoked_by="admin")
        )
    )
    thread.start()
    thread.join()
    assert other
    found = store.find(issued.token)
    assert found is not None
    assert found.revoked_by == "admin"


def test_a_replaced_or_removed_file_is_read_afresh(tmp_path: Path) -> None:
    path = tmp_path / "governance.sqlite"
    store = TokenStore(path)
    first = store.issue("a.khan", issued_by="test")
    elsewhere = tmp_path / "other" / "governance.sqlite"
    elsewhere.parent.mkdir()
    second = TokenStore(elsewhere).issue("b.jones", issued_by="test")
    assert store.find(first.token) is not None
    for suffix in ("", "-wal", "-shm"):  # the other register put in its place
        target = Path(f"{path}{suffix}")
        if Path(f"{elsewhere}{suffix}").exists():
            shutil.copy2(f"{elsewhere}{suffix}", f"{target}.new")
            os.replace(f"{target}.new", target)
        elif target.exists():
            target.unlink()
    assert store.find(first.token) is None
    assert store.find(second.token) is not None
