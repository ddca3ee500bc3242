"""One memory limit per query: how a query's ``memory_limit_mb`` is split and enforced.

``memory_limit_mb`` bounds the **resident memory of the worker process running the query**,
everything included: the worker's own footprint (Python, DuckDB, the warehouse catalog), DuckDB's
buffer pool, the memory DuckDB does not count (huge strings and lists, aggregate states,
regular expressions over big values), and the Arrow batches on their way to the result file.
An operator sizing a machine can count ``workers × memory_limit_mb``.

Three layers keep to it, each in its own place:

1. **DuckDB** gets :data:`DUCKDB_SHARE` of what the query may add to the idle worker
   (:meth:`MemoryBudget.duckdb_mb`); sorts, joins and aggregates beyond it spill to the
   worker's temp directory (bounded by ``max_temp_directory_mb``) or fail as out of memory;
2. **the operating system**: while a query runs, the worker's data segment (``RLIMIT_DATA``)
   may grow by at most what the limit leaves above its current resident memory
   (:meth:`MemoryBudget.data_segment_growth`), so most allocations DuckDB does not count
   fail inside the worker as out-of-memory errors, without a kill;
3. **the parent's watchdog** (:mod:`gateway.engines.pool`) resets the worker's peak resident
   set before each query, samples it (``VmHWM``) every ``poll_interval_s`` and kills the worker
   the moment the peak passes the limit; a query whose worker peaked above the limit never
   succeeds, even if it finished between two samples.

Every way out is the same error, :class:`~gateway.errors.ResourceLimit` (422
``resource_limit``). The tolerance is what the worker can allocate in one sampling interval
before it is killed; ``benchmarks/bench_memory.py`` measures it: at limits of 256, 512 and
1024 MB and queries asking for twice the limit, no worker peaked above the limit with the OS
guard on, and at most 9 MB above it with the watchdog alone (2 shared cores).

Example:
    >>> budget = MemoryBudget(limit_mb=256, baseline_mb=80)
    >>> budget.query_mb, budget.duckdb_mb
    (176, 88)
    >>> MemoryBudget(limit_mb=96, baseline_mb=80).problem()
    'the memory limit of 96 MB is too small: an engine worker needs 80 MB of its own, so the limit must be at least 112 MB'
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import ResourceLimit

__all__ = [
    "DUCKDB_SHARE",
    "MIN_QUERY_MB",
    "MemoryBudget",
    "PeakWatch",
    "ProcessMemory",
    "limit_data_segment",
    "memory_exceeded",
    "process_memory",
    "remove_spill_directory",
    "reset_peak",
    "sweep_spill_directories",
    "worker_spill_directory",
]

#: Fraction of a query's memory (the limit less the idle worker) given to DuckDB's buffer
#: manager; the rest is for what DuckDB does not count and for the Arrow result batches.
DUCKDB_SHARE = 0.5
#: Least memory a query must have beyond the idle worker for the limit to make sense.
MIN_QUERY_MB = 32
_MB = 2**20


@dataclass(frozen=True)
class MemoryBudget:
    """How one query's memory limit divides, for a worker with a given idle footprint.

    Attributes:
        limit_mb: the query's ``memory_limit_mb``: the worker's resident memory ceiling.
        baseline_mb: the worker's resident memory when idle after start.
    """

    limit_mb: int
    baseline_mb: int

    @property
    def query_mb(self) -> int:
        """Memory the query may add to the idle worker."""
        return max(0, self.limit_mb - self.baseline_mb)

    @property
    def duckdb_mb(self) -> int:
        """DuckDB's ``memory_limit`` for the query (at least 1 MB)."""
        return max(1, int(self.query_mb * DUCKDB_SHARE))

    @property
    def limit_bytes(self) -> int:
        """The ceiling the watchdog enforces on the worker's peak resident set."""
        return self.limit_mb * _MB

    def data_segment_growth(self, resident_bytes: int) -> int:
        """Bytes the data segment may still grow for a worker now holding ``resident_bytes``.

        Example:
            >>> MemoryBudget(256, 80).data_segment_growth(100 * 2**20) // 2**20
            156
        """
        return max(0, self.limit_bytes - resident_bytes)

    def may_start(self, resident_bytes: int) -> bool:
        """Whether a worker holding ``resident_bytes`` may take the query: at most the idle
        footprint, DuckDB's share (a full buffer cache, which DuckDB evicts as it needs) and
        half of the rest, so what DuckDB does not count still has room. A worker holding more
        is replaced first.

        Example:
            >>> budget = MemoryBudget(256, 80)
            >>> budget.may_start(200 * 2**20), budget.may_start(220 * 2**20)
            (True, False)
        """
        spare = (self.query_mb - self.duckdb_mb) // 2
        return resident_bytes <= (self.baseline_mb + self.duckdb_mb + spare) * _MB

    def problem(self) -> str | None:
        """Why no query can run under this limit (None when one can)."""
        if self.query_mb >= MIN_QUERY_MB:
            return None
        return (
            f"the memory limit of {self.limit_mb} MB is too small: an engine worker needs "
            f"{self.baseline_mb} MB of its own, so the limit must be at least "
            f"{self.baseline_mb + MIN_QUERY_MB} MB"
        )


def memory_exceeded(limit_mb: int, reached_bytes: int | None = None) -> ResourceLimit:
    """The one error for a query stopped for memory, however it was stopped.

    Example:
        >>> memory_exceeded(256).message
        'the query needed more memory than its limit of 256 MB'
        >>> memory_exceeded(256, 300 * 2**20).message
        'the query needed more memory than its limit of 256 MB (its engine worker reached 300 MB) and was stopped'
    """
    message = f"the query needed more memory than its limit of {limit_mb} MB"
    if reached_bytes is not None:
        message += f" (its engine worker reached {reached_bytes // _MB} MB) and was stopped"
    return ResourceLimit(message)


@dataclass(frozen=True)
class ProcessMemory:
    """A process's memory figures from ``/proc/<pid>/status`` (bytes; 0 when unknown).

    Attributes:
        resident: ``VmRSS``, the resident set now.
        peak: ``VmHWM``, the highest resident set since start or the last :func:`reset_peak`.
        data: ``VmData``, the data segment (what ``RLIMIT_DATA`` bounds).
    """

    resident: int = 0
    peak: int = 0
    data: int = 0


def process_memory(pid: int | str | None = "self") -> ProcessMemory:
    """Read ``VmRSS``, ``VmHWM`` and ``VmData`` of process ``pid`` (all 0 off Linux or gone).

    Example:
        >>> process_memory().resident > 0
        True
    """
    fields = {"VmRSS": 0, "VmHWM": 0, "VmData": 0}
    wanted = len(fields)
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                name, _, value = line.partition(":")
                if name in fields:
                    fields[name] = int(value.split()[0]) * 1024
                    wanted -= 1
                    if wanted == 0:  # the rest of the file (signals, capabilities) is not read
                        break
    except (OSError, ValueError, IndexError):
        return ProcessMemory()
    return ProcessMemory(fields["VmRSS"], fields["VmHWM"], fields["VmData"])


def reset_peak(pid: int | str | None = "self") -> bool:
    """Reset process ``pid``'s ``VmHWM`` to its current resident set (Linux ``clear_refs``).

    Returns:
        False when the kernel does not allow it (the peak then covers the process's life).
    """
    try:
        with open(f"/proc/{pid}/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


@contextlib.contextmanager
def limit_data_segment(growth_bytes: int, now: ProcessMemory | None = None) -> Iterator[None]:
    """Within the block, let the data segment grow by at most ``growth_bytes``.

    Sets the soft ``RLIMIT_DATA`` from the current ``VmData`` (``now``'s, a sample of this
    process just taken, else read here) and restores the previous soft limit afterwards; off
    Linux (no ``VmData``) it does nothing.
    """
    data = (now or process_memory()).data
    if data == 0:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = data + growth_bytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


def worker_spill_directory(root: str | Path, pid: int) -> Path:
    """Where worker ``pid`` lets DuckDB spill: its own folder under the engine's ``root``
    (DuckDB instances must not share one; DuckDB creates it when it first spills).

    Example:
        >>> worker_spill_directory("/srv/gw/tmp/spill", 4242)
        PosixPath('/srv/gw/tmp/spill/worker-4242')
    """
    return Path(root) / f"worker-{pid}"


def remove_spill_directory(root: str | Path, pid: int | None) -> None:
    """Delete a finished worker's spill folder (a killed worker leaves its files behind)."""
    if pid is not None:
        shutil.rmtree(worker_spill_directory(root, pid), ignore_errors=True)


def sweep_spill_directories(root: str | Path) -> int:
    """Delete the spill folders of workers no longer running (left by a crash); return how many."""
    removed = 0
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(root):
            pid = entry.name.removeprefix("worker-")
            if entry.name.startswith("worker-") and pid.isdigit() and not _running(int(pid)):
                shutil.rmtree(entry.path, ignore_errors=True)
                removed += 1
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PeakWatch:
    """Record the highest resident set of some processes, seen from outside (a thread).

    It reads each process's ``VmHWM`` every ``interval_s``; as the kernel keeps the peak, a
    spike between two reads is not missed, only growth after the last read before the process
    ended. For operators, tests and ``benchmarks/bench_memory.py``, which check the watchdog
    from a second point of view.

    Example:
        >>> with PeakWatch(lambda: [os.getpid()]) as watch:
        ...     pass
        >>> watch.peak_bytes > 0
        True
    """

    def __init__(self, pids: Callable[[], Iterable[int]], interval_s: float = 0.002) -> None:
        self._pids = pids
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-watch", daemon=True)
        self.peaks: dict[int, int] = {}

    @property
    def peak_bytes(self) -> int:
        """The highest peak resident set seen in any of the processes."""
        return max(self.peaks.values(), default=0)

    def sample(self) -> None:
        """Read every process's peak once."""
        for pid in self._pids():
            peak = process_memory(pid).peak
            if peak > self.peaks.get(pid, 0):
                self.peaks[pid] = peak

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._interval_s)

    def __enter__(self) -> PeakWatch:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
