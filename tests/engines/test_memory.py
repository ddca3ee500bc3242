"""One memory limit, measured: a worker running a query never holds more than the query's
``memory_limit_mb`` (plus the watchdog's tolerance), whatever the query asks for.

Each heavy shape asks for twice the limit; the worker's peak resident set is read from outside
(``PeakWatch``, the kernel's ``VmHWM``) while it runs. The answer is the query's result when
DuckDB could spill, else 422 ``resource_limit``; the pool answers the next query either way.
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pytest

from gateway.engines import DuckDBEngine, QueryLimits
from gateway.engines.memory import (
    DUCKDB_SHARE,
    MIN_QUERY_MB,
    MemoryBudget,
    PeakWatch,
    ProcessMemory,
    limit_data_segment,
    process_memory,
    sweep_spill_directories,
    worker_spill_directory,
)
from gateway.errors import ResourceLimit

from .conftest import CRIMES, LIMITS, TUNING
from .heavy_queries import HEAVY, SPILLABLE

LIMIT_MB = 256
SMALL = replace(LIMITS, memory_limit_mb=LIMIT_MB, timeout_s=30.0, max_result_bytes=2**33)
#: What a worker may hold above the limit: growth between two of the watchdog's samples
#: (benchmarks/bench_memory.py measured at most 9 MB); generous for a loaded test machine.
TOLERANCE_MB = 32
_MB = 2**20


def _ok(engine: DuckDBEngine, qid: Callable[[], str]) -> int:
    result = engine.execute("SELECT count(*) AS n FROM crime", {}, limits=SMALL, query_id=qid())
    return int(result.to_table().column("n")[0].as_py())


def _run_watched(
    engine: DuckDBEngine, sql: str, qid: Callable[[], str]
) -> tuple[str, float, ResourceLimit | None]:
    """Run ``sql``: its outcome ("ok" or the error code), the worker's peak MB, the error."""
    with PeakWatch(engine.worker_pids) as watch:
        try:
            engine.execute(sql, {}, limits=SMALL, query_id=qid()).discard()
        except ResourceLimit as exc:
            return exc.code, watch.peak_bytes / _MB, exc
    return "ok", watch.peak_bytes / _MB, None


@pytest.fixture
def spilling(
    make_engine: Callable[..., DuckDBEngine], tmp_path: Path
) -> Callable[..., DuckDBEngine]:
    """A one-worker engine that spills to ``tmp_path/spill``."""

    def make(**changes: object) -> DuckDBEngine:
        tuning = replace(TUNING, temp_directory=tmp_path / "spill", **changes)  # type: ignore[arg-type]
        return make_engine(workers=1, tuning=tuning)

    return make


@pytest.mark.parametrize("shape", sorted(HEAVY))
def test_a_heavy_query_stays_within_the_limit(
    shape: str, spilling: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    engine = spilling()
    size = int(LIMIT_MB * _MB * (0.6 if shape in SPILLABLE else 2))
    outcome, peak_mb, error = _run_watched(engine, HEAVY[shape](size), qid)
    assert outcome == ("ok" if shape in SPILLABLE else "resource_limit")
    if error is not None:
        assert f"limit of {LIMIT_MB} MB" in error.message
    assert peak_mb <= LIMIT_MB + TOLERANCE_MB
    assert _ok(engine, qid) == CRIMES


@pytest.mark.parametrize("shape", ["repeat", "range_list", "regex"])
def test_without_the_os_guard_the_watchdog_stops_the_worker_at_the_limit(
    shape: str, spilling: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    engine = spilling(os_memory_guard=False)
    outcome, peak_mb, error = _run_watched(engine, HEAVY[shape](4 * LIMIT_MB * _MB), qid)
    assert outcome == "resource_limit"
    assert error is not None
    assert "its engine worker reached" in error.message
    assert peak_mb <= LIMIT_MB + TOLERANCE_MB
    assert engine.stats().restarts == 1
    assert _ok(engine, qid) == CRIMES


def test_the_os_guard_turns_a_huge_allocation_into_an_error_without_a_kill(
    spilling: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    engine = spilling()
    started = time.monotonic()
    with pytest.raises(ResourceLimit):
        engine.execute(HEAVY["repeat"](2 * 10**9), {}, limits=SMALL, query_id=qid())
    assert time.monotonic() - started < 2.0
    assert engine.stats().restarts == 0
    assert _ok(engine, qid) == CRIMES


def test_without_spilling_a_big_sort_is_refused_not_grown(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    engine = make_engine(workers=1, tuning=replace(TUNING, spill=False))
    outcome, peak_mb, _ = _run_watched(engine, HEAVY["sort"](LIMIT_MB * _MB), qid)
    assert outcome == "resource_limit"
    assert peak_mb <= LIMIT_MB + TOLERANCE_MB
    assert _ok(engine, qid) == CRIMES


def test_a_limit_below_the_workers_own_footprint_is_refused_clearly(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    engine = make_engine(workers=1)
    restarts = engine.stats().restarts
    with pytest.raises(ResourceLimit) as err:
        engine.execute(
            "SELECT 1 AS x", {}, limits=replace(LIMITS, memory_limit_mb=40), query_id=qid()
        )
    assert "memory limit of 40 MB is too small" in err.value.message
    assert err.value.status == 422
    assert engine.stats().restarts == restarts


def test_duckdb_gets_its_share_of_each_query_limit(
    engine: DuckDBEngine, qid: Callable[[], str]
) -> None:
    def duckdb_limit_mib(limit_mb: int) -> float:
        limits = QueryLimits(memory_limit_mb=limit_mb)
        result = engine.execute(
            "SELECT current_setting('memory_limit') AS m", {}, limits=limits, query_id=qid()
        )
        text = result.to_table().column("m")[0].as_py()
        number, unit = text.split()
        return float(number) * {"MiB": 1, "GiB": 1024}[unit]

    small, large = duckdb_limit_mib(256), duckdb_limit_mib(1024)
    # A share of what the limit leaves above the idle worker, never the whole limit.
    assert small < 256 * DUCKDB_SHARE
    assert large < 1024 * DUCKDB_SHARE
    assert large - small == pytest.approx((1024 - 256) * DUCKDB_SHARE * 0.95367, abs=2)


def test_a_replaced_workers_spill_folder_is_removed(
    spilling: Callable[..., DuckDBEngine], tmp_path: Path, qid: Callable[[], str]
) -> None:
    engine = spilling(os_memory_guard=False)
    (pid,) = engine.worker_pids()
    with pytest.raises(ResourceLimit):
        engine.execute(HEAVY["repeat"](4 * LIMIT_MB * _MB), {}, limits=SMALL, query_id=qid())
    assert not worker_spill_directory(tmp_path / "spill", pid).exists()


def test_spill_folders_of_dead_workers_are_swept(tmp_path: Path) -> None:
    live = worker_spill_directory(tmp_path, os.getpid())
    dead = worker_spill_directory(tmp_path, 2**22 + 1)  # above the default pid_max
    for folder in (live, dead):
        folder.mkdir()
        (folder / "duckdb_temp_storage-0.tmp").write_bytes(b"x")
    (tmp_path / "other").mkdir()
    assert sweep_spill_directories(tmp_path) == 1
    assert live.exists()
    assert not dead.exists()
    assert (tmp_path / "other").exists()


def test_the_budget_divides_the_limit() -> None:
    budget = MemoryBudget(limit_mb=1024, baseline_mb=100)
    assert budget.query_mb == 924
    assert budget.duckdb_mb == int(924 * DUCKDB_SHARE)
    assert budget.data_segment_growth(300 * _MB) == 724 * _MB
    assert budget.data_segment_growth(2000 * _MB) == 0
    held = 100 + budget.duckdb_mb + (924 - budget.duckdb_mb) // 2
    assert budget.may_start(held * _MB)
    assert not budget.may_start((held + 1) * _MB)
    assert budget.problem() is None
    assert MemoryBudget(100 + MIN_QUERY_MB - 1, 100).problem() is not None


def test_a_worker_left_holding_more_than_a_query_may_start_with_is_replaced(
    make_engine: Callable[..., DuckDBEngine], qid: Callable[[], str]
) -> None:
    # A ~150 MB extra-schema snapshot stays loaded in the worker that read it: more than a
    # query at the engine's 256 MB may start with (the idle worker, DuckDB's share and half
    # the rest), so the worker is replaced rather than the next query being stopped for
    # memory it never used.
    rows = 2_000_000
    records = pa.table({"record_id": range(rows), "text": ["x" * 60] * rows})
    engine = make_engine(workers=1, extra_tables={"audit": {"records": records}})
    (before,) = engine.worker_pids()
    count = "SELECT count(*) AS n FROM audit.records"
    loading = replace(SMALL, memory_limit_mb=512)  # room to load it
    result = engine.execute(count, {}, limits=loading, query_id=qid())
    assert result.to_table()["n"][0].as_py() == rows
    (after,) = engine.worker_pids()
    assert before != after
    tight = replace(SMALL, memory_limit_mb=160)
    with PeakWatch(engine.worker_pids) as watch:
        assert _ok(engine, qid) == CRIMES
        engine.execute("SELECT 1 AS x", {}, limits=tight, query_id=qid())
    assert engine.worker_pids() == [after]
    assert watch.peaks[after] <= 160 * _MB


def _status_fields(pid: int | str) -> dict[str, int]:
    """VmRSS, VmHWM and VmData from a full read of ``/proc/<pid>/status`` (bytes)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text("ascii", errors="replace").splitlines():
        name, _, value = line.partition(":")
        if name in {"VmRSS", "VmHWM", "VmData"}:
            fields[name] = int(value.split()[0]) * 1024
    return fields


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_memory_sample_reads_the_three_figures_of_the_process() -> None:
    # A process that is not this one and holds still, so two reads agree exactly.
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        time.sleep(0.1)
        sample = process_memory(sleeper.pid)
        expected = _status_fields(sleeper.pid)
        assert (sample.resident, sample.peak, sample.data) == (
            expected["VmRSS"],
            expected["VmHWM"],
            expected["VmData"],
        )
        assert 0 < sample.resident <= sample.peak
    finally:
        sleeper.kill()
        sleeper.wait()
    assert process_memory(sleeper.pid) == ProcessMemory()  # gone: all 0


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_the_data_segment_limit_starts_from_the_sample_it_is_given() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    now = process_memory()
    with limit_data_segment(64 * _MB, now):
        inside = resource.getrlimit(resource.RLIMIT_DATA)[0]
    expected = now.data + 64 * _MB
    assert inside == (expected if hard == resource.RLIM_INFINITY else min(expected, hard))
    assert resource.getrlimit(resource.RLIMIT_DATA) == (soft, hard)  # restored
