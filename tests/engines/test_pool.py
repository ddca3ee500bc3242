"""Runaway queries are stopped, their workers replaced, and the pool keeps serving others."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from gateway.engines import DuckDBEngine, EngineTuning
from gateway.errors import (
    ConfigurationError,
    EngineBusy,
    EngineUnavailable,
    GatewayError,
    QueryTimeout,
    ResourceLimit,
)

from .conftest import CRIMES, LIMITS, TUNING
from .faults import frozen_when_busy

FAST = replace(LIMITS, timeout_s=0.5)
# Four-way self join: 1.6e13 rows; DuckDB honours the interrupt between vectors.
ENDLESS = (
    "SELECT count(*) FROM crime a, crime b, crime c, crime d "
    "WHERE hash(a.crime_id, b.crime_id, c.crime_id, d.crime_id) = 42"
)
# One scalar call that runs for seconds on one row (whether an interrupt reaches inside it
# depends on the engine version: DuckDB 2.0.0 no, 2.0.1 yes).
SLOW_SCALAR = "SELECT levenshtein(repeat('a', 90000), repeat('b', 90000)) AS d"


def _ok(engine: DuckDBEngine, qid: Callable[[], str]) -> int:
    result = engine.execute("SELECT count(*) AS n FROM crime", {}, limits=LIMITS, query_id=qid())
    return int(result.to_table().column("n")[0].as_py())


def test_timeout_interrupts_and_the_worker_is_reused(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    patient = replace(TUNING, grace_s=3.0)  # room for a slow interrupt on a loaded machine
    engine = make_engine(workers=1, tuning=patient)
    pids = engine.worker_pids()
    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        engine.execute(ENDLESS, {}, limits=FAST, query_id=qid())
    assert time.monotonic() - started < FAST.timeout_s + patient.grace_s
    assert _ok(engine, qid) == CRIMES
    assert engine.worker_pids() == pids  # the interrupt sufficed: warm worker kept
    assert engine.stats().restarts == 0


def test_ignored_interrupt_means_kill_and_replace(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    # The worker stops answering mid-query (frozen: neither its own timer nor anything else
    # can stop the query), as one stuck where no interrupt reaches does.
    engine = make_engine(workers=1)
    (pid,) = engine.worker_pids()
    limits = replace(LIMITS, timeout_s=2.0)
    with frozen_when_busy(pid) as frozen:
        started = time.monotonic()
        with pytest.raises(QueryTimeout):
            engine.execute(ENDLESS, {}, limits=limits, query_id=qid())
        elapsed = time.monotonic() - started
    assert frozen.at is not None, "the worker never started the query"
    assert frozen.at - started < limits.timeout_s, "frozen too late to ignore its timer"
    assert elapsed < limits.timeout_s + TUNING.grace_s + 1.5  # the query alone runs for hours
    assert engine.stats().restarts == 1
    assert _ok(engine, qid) == CRIMES
    assert engine.worker_pids() != [pid]
    assert not list(engine.results_dir.glob("*.part"))


BOMBS = [
    "SELECT repeat('x', 2000000000) AS s",
    "SELECT length(repeat('x', 2000000000)) AS n",
    "SELECT list_sum(range(1000000000)) AS s",
    "SELECT length(range(300000000)) AS n",
    "SELECT length(string_agg(repeat(a.modus_operandi, 1000), ',')) FROM crime a, crime b",
    "SELECT list(a.modus_operandi || b.modus_operandi) FROM crime a, crime b",
    "SELECT * FROM crime a, crime b, crime c ORDER BY a.modus_operandi, b.modus_operandi",
    "WITH RECURSIVE r(n, s) AS (SELECT 1, 'x' UNION ALL SELECT n + 1, s || s FROM r) "
    "SELECT max(length(s)) FROM r",
]


@pytest.mark.parametrize("bomb", BOMBS)
def test_memory_bombs_are_stopped(bomb: str, engine: DuckDBEngine, qid: Callable[[], str]) -> None:
    with pytest.raises((ResourceLimit, QueryTimeout)):
        engine.execute(bomb, {}, limits=replace(LIMITS, timeout_s=2.0), query_id=qid())
    assert _ok(engine, qid) == CRIMES
    assert engine.stats().workers_alive == 2


def test_worker_killed_from_outside_mid_query(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    engine = make_engine(workers=1)
    (pid,) = engine.worker_pids()
    timer = threading.Timer(0.3, os.kill, (pid, signal.SIGKILL))
    timer.start()
    with pytest.raises(EngineUnavailable) as err:
        engine.execute(ENDLESS, {}, limits=replace(LIMITS, timeout_s=10.0), query_id=qid())
    timer.join()
    assert err.value.status == 503  # the service's fault, not the query's
    assert "stopped unexpectedly" in err.value.message
    assert "signal 9" in err.value.message
    assert _ok(engine, qid) == CRIMES
    assert engine.worker_pids() != [pid]
    assert engine.stats().restarts == 1


def test_idle_worker_death_is_repaired_before_use(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    engine = make_engine(workers=1)
    (pid,) = engine.worker_pids()
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.1)
    assert engine.stats().workers_alive == 0
    assert _ok(engine, qid) == CRIMES
    assert engine.stats().workers_alive == 1


def test_others_are_served_while_a_bomb_runs(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    engine = make_engine(workers=2)
    failures: list[BaseException] = []

    def bomb() -> None:
        try:
            engine.execute(SLOW_SCALAR, {}, limits=replace(FAST, timeout_s=1.0), query_id=qid())
        except GatewayError as exc:
            failures.append(exc)

    thread = threading.Thread(target=bomb)
    thread.start()
    time.sleep(0.2)
    answers = [_ok(engine, qid) for _ in range(5)]
    thread.join()
    assert answers == [CRIMES] * 5
    assert len(failures) == 1
    assert isinstance(failures[0], QueryTimeout)


def test_concurrent_callers_get_their_own_answers(
    engine: DuckDBEngine, warehouse: Path, qid: Callable[[], str]
) -> None:
    direct = duckdb.connect(str(warehouse), read_only=True)
    expected = {
        m: direct.execute(
            "SELECT count(*) FROM crime WHERE crime_id % 7 = $m", {"m": m}
        ).fetchall()[0][0]
        for m in range(7)
    }

    def ask(i: int) -> tuple[int, int]:
        m = i % 7
        result = engine.execute(
            "SELECT $m AS m, count(*) AS n FROM crime WHERE crime_id % 7 = $m",
            {"m": m},
            limits=LIMITS,
            query_id=qid(),
        )
        row = result.to_table().to_pylist()[0]
        result.discard()
        return row["m"], row["n"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(ask, range(40)))
    assert answers == [(i % 7, expected[i % 7]) for i in range(40)]
    stats = engine.stats()
    assert stats.running == 0
    assert stats.queue_depth == 0


def _run_in_background(engine: DuckDBEngine, query_id: str) -> threading.Thread:
    """Keep the engine's only worker busy for about a second."""

    def occupy() -> None:
        with pytest.raises(QueryTimeout):
            engine.execute(ENDLESS, {}, limits=replace(FAST, timeout_s=1.0), query_id=query_id)

    thread = threading.Thread(target=occupy)
    thread.start()
    time.sleep(0.2)
    return thread


def test_full_queue_is_refused_at_once(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    engine = make_engine(workers=1, tuning=replace(TUNING, max_queue=0))
    thread = _run_in_background(engine, qid())
    assert engine.stats().running == 1
    started = time.monotonic()
    with pytest.raises(EngineBusy):
        engine.execute("SELECT 1", {}, limits=LIMITS, query_id=qid())
    assert time.monotonic() - started < 1.0  # refused, not queued (queue_timeout_s is 30 s)
    thread.join()
    assert _ok(engine, qid) == CRIMES


def test_queue_wait_is_bounded(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    engine = make_engine(workers=1, tuning=replace(TUNING, queue_timeout_s=0.2))
    thread = _run_in_background(engine, qid())
    with pytest.raises(EngineBusy) as err:
        engine.execute("SELECT 1", {}, limits=LIMITS, query_id=qid())
    assert "busy" in err.value.message
    assert err.value.status == 503
    thread.join()


def test_stats_count_outcomes(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    engine = make_engine(workers=1)
    _ok(engine, qid)
    with pytest.raises(GatewayError):
        engine.execute("SELECT nosuch FROM crime", {}, limits=LIMITS, query_id=qid())
    stats = engine.stats()
    assert (stats.workers, stats.workers_alive, stats.completed, stats.failed) == (1, 1, 1, 1)


def test_closed_engine_refuses_and_leaves_no_workers(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    engine = make_engine(workers=2)
    pids = engine.worker_pids()
    engine.close()
    with pytest.raises(GatewayError):
        engine.execute("SELECT 1", {}, limits=LIMITS, query_id=qid())
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_unusable_warehouse_fails_at_start(tmp_path: Path) -> None:
    bad = tmp_path / "broken.duckdb"
    bad.write_bytes(b"not a database")
    with pytest.raises(GatewayError):
        DuckDBEngine(bad, tmp_path / "r", workers=1, tuning=EngineTuning(start_timeout_s=10))


def test_worker_that_cannot_start_gives_a_clear_error(
    warehouse: Path, tmp_path: Path, qid: Callable[[], str]
) -> None:
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    with DuckDBEngine(copy, tmp_path / "r", workers=1, limits=LIMITS, tuning=TUNING) as engine:
        assert _ok(engine, qid) == CRIMES
        copy.unlink()  # the running worker keeps its open file; a new one cannot open it
        (pid,) = engine.worker_pids()
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
        with pytest.raises(ConfigurationError) as err:
            _ok(engine, qid)
        assert "could not start" in err.value.message


@pytest.mark.parametrize("threads", [None, 1])
def test_a_worker_scans_with_the_cores_it_is_given(
    threads: int | None,
    make_engine: Callable[..., DuckDBEngine],
    qid: Callable[[], str],
) -> None:
    # Default: every core the process may use, so a query alone on the engine is not held to
    # one (raw DuckDB uses them all); a deployment may still pin it.
    engine = make_engine(tuning=replace(TUNING, threads_per_worker=threads))
    result = engine.execute(
        "SELECT current_setting('threads') AS t", {}, limits=LIMITS, query_id=qid()
    )
    expected = threads or len(os.sched_getaffinity(0))
    assert int(result.to_table().column("t")[0].as_py()) == expected


def test_one_callers_queries_in_turn_run_on_the_worker_that_ran_the_last(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    # The most recently used idle worker takes the next query (its DuckDB buffers still hold
    # what the last one read), so an analyst's queries in turn meet a warm worker instead of
    # going round the pool to the coldest one. Each worker spills into its own folder
    # (worker-<pid>), which names the worker that ran a query.
    engine = make_engine(workers=3)
    assert len(engine.worker_pids()) == 3

    def worker_of_query() -> str:
        result = engine.execute(
            "SELECT current_setting('temp_directory') AS d", {}, limits=LIMITS, query_id=qid()
        )
        return str(result.to_table().column("d")[0].as_py())

    ran_on = {worker_of_query() for _ in range(6)}
    assert len(ran_on) == 1
    (folder,) = ran_on
    assert Path(folder).name in {f"worker-{pid}" for pid in engine.worker_pids()}
