"""A withdrawn query stops promptly, its worker is reused (or replaced if it does not answer),
nothing is left behind, and an interrupt never reaches a query it was not meant for."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from gateway.engines import Cancellation, DuckDBEngine
from gateway.engines.hardening import open_hardened
from gateway.engines.messages import Interrupt, QueryDone, QueryFailed, RunQuery, WorkerConfig
from gateway.engines.worker import WorkerSession, listen_for_interrupts, run_query
from gateway.errors import QueryCancelled, QueryTimeout

from .conftest import CRIMES, LIMITS, TUNING
from .faults import frozen_when_busy
from .test_pool import ENDLESS

#: A time limit the tests never reach: only the cancellation can end ENDLESS.
LONG = replace(LIMITS, timeout_s=30.0)


def _ok(engine: DuckDBEngine, qid: Callable[[], str]) -> int:
    result = engine.execute("SELECT count(*) AS n FROM crime", {}, limits=LIMITS, query_id=qid())
    return int(result.to_table().column("n")[0].as_py())


def _cancel_after(seconds: float) -> Cancellation:
    cancel = Cancellation()
    timer = threading.Timer(seconds, cancel.cancel)
    timer.daemon = True
    timer.start()
    return cancel


def test_cancel_interrupts_the_query_and_the_worker_is_reused(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    patient = replace(TUNING, grace_s=3.0)  # room for a slow interrupt on a loaded machine
    engine = make_engine(workers=1, tuning=patient)
    pids = engine.worker_pids()
    cancel = _cancel_after(0.3)
    started = time.monotonic()
    with pytest.raises(QueryCancelled) as err:
        engine.execute(ENDLESS, {}, limits=LONG, query_id="withdrawn", cancel=cancel)
    assert time.monotonic() - started < 2.0
    assert err.value.code == "cancelled"
    assert err.value.status == 409
    assert _ok(engine, qid) == CRIMES
    assert engine.worker_pids() == pids  # the interrupt sufficed: warm worker kept
    stats = engine.stats()
    assert (stats.restarts, stats.cancelled, stats.completed, stats.failed) == (0, 1, 1, 0)
    assert not [p for p in engine.results_dir.iterdir() if p.name.startswith("withdrawn")]


def test_cancel_of_a_query_that_ignores_interrupts_kills_and_replaces_its_worker(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    # The worker stops answering mid-query (frozen, so the Interrupt is never acted on) and
    # its caller withdraws the query at that moment.
    engine = make_engine(workers=1)
    pids = engine.worker_pids()
    cancel = Cancellation()
    with frozen_when_busy(pids[0], then=cancel.cancel) as frozen:
        with pytest.raises(QueryCancelled) as err:
            engine.execute(ENDLESS, {}, limits=LONG, query_id="stubborn", cancel=cancel)
        ended = time.monotonic()
    assert frozen.at is not None, "the worker never started the query"
    assert ended - frozen.at < TUNING.grace_s + 1.5  # its time limit is 30 s
    assert "replaced" in err.value.message
    assert engine.stats().restarts == 1
    assert _ok(engine, qid) == CRIMES
    assert engine.worker_pids() != pids
    assert not [p for p in engine.results_dir.iterdir() if p.name.startswith("stubborn")]


def test_cancelled_before_it_starts_runs_nothing(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    engine = make_engine(workers=1)
    cancel = Cancellation()
    cancel.cancel()
    with pytest.raises(QueryCancelled):
        engine.execute("SELECT 1 AS x", {}, limits=LIMITS, query_id="never", cancel=cancel)
    assert not list(engine.results_dir.iterdir())
    assert _ok(engine, qid) == CRIMES
    stats = engine.stats()
    assert (stats.running, stats.queue_depth, stats.cancelled, stats.completed) == (0, 0, 1, 1)


def test_cancel_while_queued_leaves_the_queue_at_once(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    engine = make_engine(workers=1)  # queue_timeout_s is 30 s
    busy: list[BaseException] = []

    def occupy() -> None:
        try:
            engine.execute(ENDLESS, {}, limits=replace(LIMITS, timeout_s=1.5), query_id=qid())
        except QueryTimeout as exc:
            busy.append(exc)

    thread = threading.Thread(target=occupy)
    thread.start()
    time.sleep(0.2)
    cancel = _cancel_after(0.2)
    started = time.monotonic()
    with pytest.raises(QueryCancelled):
        engine.execute("SELECT 1 AS x", {}, limits=LIMITS, query_id=qid(), cancel=cancel)
    assert time.monotonic() - started < 0.2 + 0.5
    assert engine.stats().queue_depth == 0
    thread.join()
    assert len(busy) == 1
    assert _ok(engine, qid) == CRIMES


def test_an_uncancelled_token_changes_nothing(engine: DuckDBEngine, qid: Callable[[], str]) -> None:
    result = engine.execute(
        "SELECT count(*) AS n FROM crime", {}, limits=LIMITS, query_id=qid(), cancel=Cancellation()
    )
    assert result.to_table().column("n").to_pylist() == [CRIMES]


# --- the worker's side: the listener thread and the session ---------------------------------


@pytest.fixture
def session(warehouse: Path) -> Iterator[WorkerSession]:
    # In the test process itself: no data-segment limit on pytest, no footprint to count.
    config = WorkerConfig(
        warehouse=str(warehouse), catalog="warehouse", memory_limit_mb=128, os_memory_guard=False
    )
    con: duckdb.DuckDBPyConnection = open_hardened(config)
    yield WorkerSession(con, config)
    con.close()


def _request(name: str, sql: str, tmp_path: Path) -> RunQuery:
    return RunQuery(name, sql, (), LONG, str(tmp_path / f"{name}.arrows"))


def test_listener_interrupts_the_running_query(session: WorkerSession, tmp_path: Path) -> None:
    reader, writer = multiprocessing.Pipe(duplex=False)
    listener = threading.Thread(target=listen_for_interrupts, args=(reader, session))
    listener.start()
    timer = threading.Timer(0.3, writer.send, (Interrupt("w1"),))
    timer.start()
    started = time.monotonic()
    reply = run_query(session, _request("w1", ENDLESS, tmp_path))
    assert time.monotonic() - started < 2.0
    assert isinstance(reply, QueryFailed)
    assert (reply.error, reply.worker_unhealthy) == ("QueryCancelled", False)
    assert not list(tmp_path.iterdir())
    after = run_query(session, _request("w2", "SELECT 42 AS x", tmp_path))
    assert isinstance(after, QueryDone)
    writer.close()  # EOF ends the listener
    listener.join(2)
    assert not listener.is_alive()


def test_interrupt_for_another_query_is_ignored(session: WorkerSession, tmp_path: Path) -> None:
    session.begin("w1")
    assert session.interrupt("w0") is False  # a query that already ended
    assert not session.cancelled
    session.end()
    assert session.interrupt("w1") is False  # ended too: and it must not leak into the next
    reply = run_query(session, _request("w2", "SELECT count(*) AS n FROM crime", tmp_path))
    assert isinstance(reply, QueryDone)


def test_interrupt_that_arrives_before_its_query_cancels_it(
    session: WorkerSession, tmp_path: Path
) -> None:
    assert session.interrupt("w1") is False  # not running yet: remembered
    reply = run_query(session, _request("w1", "SELECT 42 AS x", tmp_path))
    assert isinstance(reply, QueryFailed)
    assert reply.error == "QueryCancelled"
    assert not list(tmp_path.iterdir())
