"""Fixtures for the audit tests: a data directory, a filled log, and a way to tamper with it."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest
from audit_helpers import FilledLog, Tamper, write_mixed

from gateway.audit import AuditLog
from gateway.datadir import DataDir


@pytest.fixture
def data_dir(tmp_path: Path) -> DataDir:
    root = tmp_path / "gw"
    root.mkdir()
    return DataDir(root)


@pytest.fixture
def filled(data_dir: DataDir) -> FilledLog:
    """30 events, a checkpoint every 10 (so at 10, 20 and 30, no time-based ones), cleanly
    closed."""
    with AuditLog.open(data_dir, checkpoint_every=10, checkpoint_interval=None) as log:
        events = write_mixed(log, 30)
    return FilledLog(data_dir, events)


@pytest.fixture
def tamper() -> Tamper:
    """Run SQL directly on an audit database, as someone with write access to the file would
    (dropping the append-only triggers first)."""

    def run(path: Path, *statements: str | tuple[str, Sequence[object]]) -> None:
        con = sqlite3.connect(path)
        try:
            con.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
            con.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
            for statement in statements:
                if isinstance(statement, tuple):
                    con.execute(statement[0], tuple(statement[1]))
                else:
                    con.execute(statement)
            con.commit()
        finally:
            con.close()

    return run
