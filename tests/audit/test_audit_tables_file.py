"""The derived audit-tables file: private, caught up in batches, and rebuilt from the log whenever
it does not match it (it is never evidence: the log and its chain are)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import duckdb
import pytest
from audit_helpers import write_mixed

from gateway.audit import AuditLog, LiveAuditTables, SQLiteAuditStore, audit_tables
from gateway.audit.tables import AuditTables
from gateway.datadir import DataDir


def _same(live: AuditTables, full: AuditTables) -> None:
    assert live.events.equals(full.events)
    assert live.access.equals(full.access)
    assert live.exports.equals(full.exports)
    key = "query_id"
    assert sorted(live.queries.to_pylist(), key=lambda r: str(r[key])) == sorted(
        full.queries.to_pylist(), key=lambda r: str(r[key])
    )


def test_the_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        with SQLiteAuditStore(tmp_path / "audit.sqlite") as store:
            store.append("policy.loaded", "system", "", {})
            LiveAuditTables(store, tmp_path / "audit-tables.duckdb").catch_up()
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "audit-tables.duckdb").stat().st_mode) == 0o600


def test_small_batches_give_the_same_tables(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir) as log:
        write_mixed(log, 40)
        live = LiveAuditTables(log.store, data_dir.audit_tables, batch_events=3)
        assert live.catch_up() == log.store.head()[0]
        _same(live.refresh(), audit_tables(log.events()))


def test_a_file_of_another_log_is_rebuilt(data_dir: DataDir, tmp_path: Path) -> None:
    with SQLiteAuditStore(tmp_path / "other.sqlite") as other:
        for i in range(30):
            other.append("token.issued", "x", "o", {"i": i})
        LiveAuditTables(other, data_dir.audit_tables).catch_up()  # 30 records of another log
    with AuditLog.open(data_dir) as log:
        write_mixed(log, 12)  # fewer records: the file's head seq does not exist here
        live = LiveAuditTables(log.store, data_dir.audit_tables)
        _same(live.refresh(), audit_tables(log.events()))
        write_mixed(log, 30, prefix="B")  # now the seq exists, with another hash
        _same(live.refresh(), audit_tables(log.events()))


def test_an_edited_or_unreadable_file_is_rebuilt(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir) as log:
        write_mixed(log, 10)
        live = LiveAuditTables(log.store, data_dir.audit_tables)
        live.catch_up()
        with duckdb.connect(str(data_dir.audit_tables)) as con:
            con.execute("UPDATE gateway_state.head SET hash = 'edited'")
            con.execute("UPDATE events SET actor = 'nobody'")
        _same(live.refresh(), audit_tables(log.events()))
        data_dir.audit_tables.write_bytes(b"not a database" * 100)
        _same(live.refresh(), audit_tables(log.events()))


@pytest.mark.parametrize("records", [0, 1])
def test_an_empty_or_tiny_log(data_dir: DataDir, records: int) -> None:
    with SQLiteAuditStore(data_dir.audit) as store:
        for i in range(records):
            store.append("token.issued", "x", "o", {"i": i})
        tables = LiveAuditTables(store, data_dir.audit_tables).refresh()
        assert tables.events.num_rows == records
        _same(tables, audit_tables(store.events()))
