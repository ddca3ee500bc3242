"""Extra schemas kept in DuckDB files (the audit tables): read as last updated, attached only for
the queries that name them, never written through SQL, and updated only while no query has the
file open."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from gateway.engines import Cancellation, DuckDBEngine
from gateway.engines.schema_files import SchemaFileLock
from gateway.errors import (
    ConfigurationError,
    EngineUnavailable,
    QueryCancelled,
    StatementNotAllowed,
)

from .conftest import KEY, KEY_NAME, LIMITS, TUNING
from .test_pool import ENDLESS

COUNT = "SELECT count(*) AS n FROM audit.records"


def _write(path: Path, rows: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE IF NOT EXISTS records (record_id BIGINT, username VARCHAR)")
        con.execute(
            "INSERT INTO records SELECT i, 'user' || i FROM range($n) t(i)", {"n": int(rows)}
        )


@pytest.fixture
def audit_file(tmp_path: Path) -> Path:
    path = tmp_path / "audit-tables.duckdb"
    _write(path, 3)
    return path


@pytest.fixture
def file_engine(warehouse: Path, tmp_path: Path, audit_file: Path) -> DuckDBEngine:
    with DuckDBEngine(
        warehouse,
        tmp_path / "results",
        workers=2,
        limits=LIMITS,
        session_variables={KEY_NAME: KEY},
        schema_files={"audit": audit_file},
        tuning=replace(TUNING, grace_s=3.0),
    ) as engine:
        yield engine


def _n(engine: DuckDBEngine, qid: Callable[[], str]) -> int:
    result = engine.execute(COUNT, {}, limits=LIMITS, query_id=qid())
    return int(result.to_table()["n"][0].as_py())


def test_queries_read_the_file_as_last_updated(
    file_engine: DuckDBEngine, audit_file: Path, qid: Callable[[], str]
) -> None:
    assert [_n(file_engine, qid) for _ in range(3)] == [3, 3, 3]
    file_engine.update_schema_file("audit", lambda: _write(audit_file, 4))
    assert [_n(file_engine, qid) for _ in range(4)] == [7, 7, 7, 7]  # on every worker
    with pytest.raises(StatementNotAllowed):
        file_engine.execute(
            "INSERT INTO audit.records VALUES (1, 'x')", {}, limits=LIMITS, query_id=qid()
        )
    assert _n(file_engine, qid) == 7
    with pytest.raises(ConfigurationError):
        file_engine.update_schema_file("elsewhere", lambda: None)


def test_a_worker_holds_the_file_only_while_its_query_runs(
    file_engine: DuckDBEngine, audit_file: Path, qid: Callable[[], str]
) -> None:
    assert _n(file_engine, qid) == 3
    warehouse_only = file_engine.execute(
        "SELECT count(*) AS n FROM crime", {}, limits=LIMITS, query_id=qid()
    )
    assert warehouse_only.num_rows == 1
    # Nobody has the file open now: this process can write it without the engine's lock.
    _write(audit_file, 1)
    assert _n(file_engine, qid) == 4


def test_a_query_on_the_file_can_be_cancelled_and_the_writer_then_proceeds(
    file_engine: DuckDBEngine, audit_file: Path, qid: Callable[[], str]
) -> None:
    endless = f"SELECT count(*) FROM audit.records r, ({ENDLESS}) e"
    cancel = Cancellation()
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            file_engine.execute(
                endless,
                {},
                limits=replace(LIMITS, timeout_s=30.0),
                query_id="on-file",
                cancel=cancel,
            )
        except BaseException as exc:  # kept for the assertion below
            outcome.append(exc)

    query = threading.Thread(target=run)
    query.start()
    time.sleep(0.5)  # the query holds the file
    timer = threading.Timer(0.5, cancel.cancel)
    timer.start()
    started = time.monotonic()
    file_engine.update_schema_file("audit", lambda: _write(audit_file, 10))  # waits its turn
    assert time.monotonic() - started >= 0.3
    query.join(timeout=30)
    assert len(outcome) == 1
    assert isinstance(outcome[0], QueryCancelled)
    assert _n(file_engine, qid) == 13


def test_the_lock_lets_readers_share_and_a_writer_wait() -> None:
    lock = SchemaFileLock()
    order: list[str] = []
    with lock.reading(), lock.reading():  # two queries at once
        writer = threading.Thread(target=lambda: _write_with(lock, order))
        writer.start()
        time.sleep(0.2)
        order.append("readers done")
    writer.join(timeout=10)
    assert order == ["readers done", "written"]


def _write_with(lock: SchemaFileLock, order: list[str]) -> None:
    with lock.writing(timeout_s=10):
        order.append("written")


def test_a_waiting_writer_goes_before_new_readers_and_waits_are_bounded() -> None:
    lock = SchemaFileLock()
    with lock.reading():
        writer = threading.Thread(target=lambda: _write_with(lock, []))
        writer.start()
        time.sleep(0.2)  # the writer is waiting: a new query must not slip in before it
        with pytest.raises(EngineUnavailable), lock.reading(timeout_s=0.2):
            pass
    writer.join(timeout=10)
    with lock.reading(), pytest.raises(EngineUnavailable), lock.writing(timeout_s=0.2):
        pass
    with lock.writing(timeout_s=1.0):  # nothing left held
        pass
