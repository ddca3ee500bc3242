"""A pool of killable worker processes, each holding one hardened DuckDB connection.

Callers (the HTTP server's threads) call :meth:`WorkerPool.run`; each call takes an idle
worker, sends it the query and waits for the answer while guarding three limits from the
parent side, where a runaway query cannot interfere:

- **hard deadline**: ``timeout_s + grace_s`` after dispatch the worker is SIGKILLed (the
  worker's own timer interrupts DuckDB at ``timeout_s``; this catches work that does not
  honour the interrupt, such as one huge allocation);
- **memory**: the worker's resident set is polled from ``/proc/<pid>/statm``; above
  ``2 × memory_limit_mb + rss_headroom_mb`` the worker is SIGKILLed;
- **death**: a worker that exits for any reason (crash, OOM killer, a signal from outside) is
  noticed at once through its process sentinel.

In every case the caller gets a :class:`~gateway.errors.QueryTimeout` or
:class:`~gateway.errors.ResourceLimit`, the partial result file is removed, and a fresh worker
takes the old one's place, so the pool keeps serving everyone else. Workers are started with
the ``forkserver`` method (never forked from a threaded server) and reused across queries,
keeping DuckDB's buffer cache warm.

A caller may also withdraw its query through a :class:`~gateway.engines.base.Cancellation`
(the HTTP client went away). Waiting for a worker, it leaves the queue; running, the parent
sends :class:`~gateway.engines.messages.Interrupt` on the worker's control pipe and waits up
to ``grace_s`` for the worker's answer, after which the worker is killed and replaced like a
runaway. Either way the caller gets :class:`~gateway.errors.QueryCancelled`, no result file
is left, and a worker that answered in time is reused.

Example:
    >>> pool = WorkerPool(config, PoolSettings(size=2))  # doctest: +SKIP
    >>> done = pool.run(request)  # doctest: +SKIP
    >>> pool.close()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path

from gateway import errors
from gateway.engines.base import Cancellation, EngineStats, QueryLimits
from gateway.engines.messages import (
    Interrupt,
    QueryDone,
    QueryFailed,
    Ready,
    RunQuery,
    Shutdown,
    TableSnapshot,
    WorkerConfig,
)
from gateway.engines.spill import partial_path
from gateway.engines.worker import serve
from gateway.errors import (
    ConfigurationError,
    EngineBusy,
    EngineUnavailable,
    GatewayError,
    QueryCancelled,
    QueryTimeout,
    ResourceLimit,
)

__all__ = ["PoolSettings", "WorkerPool", "rss_limit_bytes"]

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
#: How often a queued caller that can be cancelled checks whether it was.
_QUEUE_POLL_S = 0.05


@dataclass(frozen=True)
class PoolSettings:
    """How many workers, how long callers may queue, and the parent-side guards.

    Attributes:
        size: worker processes.
        max_queue: callers allowed to wait for a worker beyond those running.
        queue_timeout_s: how long a caller waits for a free worker before giving up.
        start_timeout_s: how long a new worker may take to open its connection.
        grace_s: time after the query's timeout, or after it was cancelled, before its worker
            is killed.
        poll_interval_s: how often the parent checks a running worker's memory.
        rss_headroom_mb: resident memory allowed above twice the query's memory limit.
    """

    size: int
    max_queue: int = 64
    queue_timeout_s: float = 30.0
    start_timeout_s: float = 60.0
    grace_s: float = 1.0
    poll_interval_s: float = 0.02
    rss_headroom_mb: int = 512

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ConfigurationError(f"the engine needs at least one worker, got {self.size}")
        if self.max_queue < 0:
            raise ConfigurationError("max_queue cannot be negative")


def rss_limit_bytes(limits: QueryLimits, headroom_mb: int) -> int:
    """Resident memory above which a worker running a query with ``limits`` is killed.

    Example:
        >>> rss_limit_bytes(QueryLimits(memory_limit_mb=256), 512) // 2**20
        1024
    """
    return (2 * limits.memory_limit_mb + headroom_mb) * 2**20


class _Worker:
    """The parent's handle on one worker process."""

    def __init__(self, process: BaseProcess, conn: Connection, control: Connection) -> None:
        self.process = process
        self.conn = conn
        self.control = control
        self.ready = False
        self.versions: dict[str, int] = {}

    def wait_ready(self, timeout_s: float) -> None:
        if self.ready:
            return
        if not self.conn.poll(timeout_s):
            raise EngineUnavailable("an engine worker did not start in time")
        try:
            message = self.conn.recv()
        except EOFError:
            raise EngineUnavailable("an engine worker stopped while starting") from None
        if isinstance(message, QueryFailed):
            raise ConfigurationError(f"an engine worker could not start: {message.message}")
        if not isinstance(message, Ready):
            raise EngineUnavailable("an engine worker sent an unexpected message while starting")
        self.ready = True

    def rss_bytes(self) -> int:
        try:
            with open(f"/proc/{self.process.pid}/statm", "rb") as fh:
                return int(fh.read().split()[1]) * _PAGE_SIZE
        except (OSError, IndexError, ValueError):
            return 0

    def interrupt(self, query_id: str) -> bool:
        """Ask the worker to stop ``query_id``; False if the control pipe is broken."""
        try:
            self.control.send(Interrupt(query_id))
        except OSError:
            return False
        return True

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()
        self.control.close()

    def stop(self, timeout_s: float) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(Shutdown())
        self.process.join(timeout_s)
        self.kill()


class WorkerPool:
    """Worker processes, a bounded queue of callers, and the parent-side guards.

    Safe to call from many threads at once.
    """

    def __init__(self, config: WorkerConfig, settings: PoolSettings) -> None:
        self.config = config
        self.settings = settings
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["gateway.engines.worker"])
        self._lock = threading.Lock()
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._workers: set[_Worker] = set()
        self._closed = False
        self._waiting = 0
        self._running = 0
        self._restarts = 0
        self._completed = 0
        self._failed = 0
        self._cancelled = 0
        started = [self._start_worker() for _ in range(settings.size)]
        try:
            for worker in started:
                worker.wait_ready(settings.start_timeout_s)
        except GatewayError:
            self.close()
            raise
        for worker in started:
            self._idle.put(worker)

    def run(
        self,
        request: RunQuery,
        snapshots: Mapping[str, TableSnapshot],
        cancel: Cancellation | None = None,
    ) -> QueryDone:
        """Run ``request`` on a free worker and return its summary.

        Args:
            request: the query (its ``snapshots`` field is filled in per worker).
            snapshots: the current extra-schema tables; a worker gets those it lacks.
            cancel: withdraws the query when cancelled (queued or running).

        Raises:
            gateway.errors.GatewayError: the translated query error, or QueryTimeout /
                ResourceLimit when a guard stopped the worker, or QueryCancelled.
        """
        self._admit()
        try:
            worker = self._checkout(cancel)
        except GatewayError as exc:
            self._leave(_outcome(exc), running=False)
            raise
        outcome = "failed"
        try:
            done = self._dispatch(worker, request, snapshots, cancel)
            outcome = "completed"
            return done
        except GatewayError as exc:
            outcome = _outcome(exc)
            raise
        finally:
            self._leave(outcome, running=True)

    def stats(self) -> EngineStats:
        """Workers alive, restarts, queue depth and query counts right now."""
        with self._lock:
            alive = sum(1 for w in self._workers if w.process.is_alive())
            return EngineStats(
                workers=self.settings.size,
                workers_alive=alive,
                restarts=self._restarts,
                queue_depth=self._waiting,
                running=self._running,
                completed=self._completed,
                failed=self._failed,
                cancelled=self._cancelled,
            )

    def worker_pids(self) -> list[int]:
        """Process ids of the current workers (for operators and tests)."""
        with self._lock:
            return [w.process.pid for w in self._workers if w.process.pid is not None]

    def close(self) -> None:
        """Stop idle workers gracefully and kill busy ones; later calls to run() fail."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers)
            self._workers.clear()
        idle: set[_Worker] = set()
        while True:
            try:
                idle.add(self._idle.get_nowait())
            except queue.Empty:
                break
        for worker in workers:
            if worker in idle:
                worker.stop(2.0)
            else:
                worker.kill()

    # -- admission and checkout ------------------------------------------------------------

    def _admit(self) -> None:
        with self._lock:
            if self._closed:
                raise GatewayError("the engine is closed")
            if self._waiting + self._running >= self.settings.size + self.settings.max_queue:
                self._failed += 1
                raise EngineBusy("the engine is at capacity; try again shortly")
            self._waiting += 1

    def _leave(self, outcome: str, *, running: bool) -> None:
        with self._lock:
            if running:
                self._running -= 1
            else:
                self._waiting -= 1
            if outcome == "completed":
                self._completed += 1
            elif outcome == "cancelled":
                self._cancelled += 1
            else:
                self._failed += 1

    def _checkout(self, cancel: Cancellation | None) -> _Worker:
        worker = self._next_idle(cancel)
        if not worker.process.is_alive():
            worker = self._replace(worker, checkin=False)
        try:
            worker.wait_ready(self.settings.start_timeout_s)
        except GatewayError:
            self._replace(worker)
            raise
        with self._lock:
            self._waiting -= 1
            self._running += 1
        return worker

    def _next_idle(self, cancel: Cancellation | None) -> _Worker:
        """An idle worker, waiting at most ``queue_timeout_s`` (less if cancelled)."""
        if cancel is None:
            try:
                return self._idle.get(timeout=self.settings.queue_timeout_s)
            except queue.Empty:
                raise _busy() from None
        deadline = time.monotonic() + self.settings.queue_timeout_s
        while not cancel.cancelled:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _busy()
            try:
                return self._idle.get(timeout=min(_QUEUE_POLL_S, remaining))
            except queue.Empty:
                continue
        raise QueryCancelled("the query was cancelled before it started")

    # -- one query ---------------------------------------------------------------------------

    def _dispatch(
        self,
        worker: _Worker,
        request: RunQuery,
        snapshots: Mapping[str, TableSnapshot],
        cancel: Cancellation | None,
    ) -> QueryDone:
        if cancel is not None and cancel.cancelled:
            self._idle.put(worker)
            raise QueryCancelled("the query was cancelled before it started")
        stale = tuple(s for s in snapshots.values() if worker.versions.get(s.schema) != s.version)
        try:
            worker.conn.send(replace(request, snapshots=stale))
        except OSError:
            self._discard(worker, request)
            raise _worker_lost(worker) from None
        try:
            reply, problem = self._await(worker, request, cancel)
        except BaseException:  # e.g. KeyboardInterrupt: the worker's state is unknown
            self._discard(worker, request)
            raise
        if problem is not None:
            self._discard(worker, request)
            raise problem
        if isinstance(reply, QueryDone):
            worker.versions.update({s.schema: s.version for s in stale})
        if cancel is not None and cancel.cancelled:
            # Withdrawn before the answer was in: whatever the worker said, nobody wants it.
            if isinstance(reply, QueryDone) or (
                isinstance(reply, QueryFailed) and not reply.worker_unhealthy
            ):
                self._checkin_or_recycle(worker)
                Path(request.result_path).unlink(missing_ok=True)
            else:
                self._discard(worker, request)
            raise QueryCancelled("the query was cancelled: its caller withdrew it")
        if isinstance(reply, QueryDone):
            self._checkin_or_recycle(worker)
            return reply
        if isinstance(reply, QueryFailed):
            if reply.worker_unhealthy:
                self._discard(worker, request)
            else:
                self._checkin_or_recycle(worker)
            raise _rebuild_error(reply)
        self._discard(worker, request)
        raise GatewayError("an engine worker sent an unexpected reply")

    def _await(
        self, worker: _Worker, request: RunQuery, cancel: Cancellation | None
    ) -> tuple[object, GatewayError | None]:
        """The worker's reply, or the guard that stopped waiting for it (worker to discard)."""
        limits = request.limits
        deadline = time.monotonic() + limits.timeout_s + self.settings.grace_s
        rss_limit = rss_limit_bytes(limits, self.settings.rss_headroom_mb)
        sentinel = worker.process.sentinel
        withdrawn = False
        while True:
            if not withdrawn and cancel is not None and cancel.cancelled:
                withdrawn = True
                # The worker has grace_s to answer; a broken control pipe means kill now.
                grace = self.settings.grace_s if worker.interrupt(request.query_id) else 0.0
                deadline = time.monotonic() + grace
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if withdrawn:
                    return None, QueryCancelled(
                        "the query was cancelled: its caller withdrew it (its engine worker "
                        "did not stop in time and was replaced)"
                    )
                return None, QueryTimeout(
                    f"the query ran longer than its time limit of {limits.timeout_s:g} s "
                    "and was stopped"
                )
            ready = wait(
                [worker.conn, sentinel], timeout=min(self.settings.poll_interval_s, remaining)
            )
            if worker.conn in ready:
                try:
                    return worker.conn.recv(), None
                except (EOFError, OSError):
                    return None, _worker_lost(worker)
            if sentinel in ready:
                return None, _worker_lost(worker)
            if worker.rss_bytes() > rss_limit:
                return None, ResourceLimit(
                    f"the query used more memory than allowed ({rss_limit // 2**20} MB) "
                    "and was stopped"
                )

    # -- worker lifecycle --------------------------------------------------------------------

    def _start_worker(self) -> _Worker:
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        control_in, control_out = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=serve,
            args=(child_end, self.config, control_in),
            name="gateway-engine-worker",
            daemon=True,
        )
        process.start()
        child_end.close()
        control_in.close()
        worker = _Worker(process, parent_end, control_out)
        with self._lock:
            self._workers.add(worker)
        return worker

    def _checkin_or_recycle(self, worker: _Worker) -> None:
        idle_limit = (2 * self.config.memory_limit_mb + self.settings.rss_headroom_mb) * 2**20
        if worker.rss_bytes() > idle_limit:
            self._replace(worker)
        else:
            self._idle.put(worker)

    def _discard(self, worker: _Worker, request: RunQuery) -> None:
        self._replace(worker)
        partial_path(Path(request.result_path)).unlink(missing_ok=True)

    def _replace(self, worker: _Worker, *, checkin: bool = True) -> _Worker:
        worker.kill()
        with self._lock:
            self._workers.discard(worker)
            self._restarts += 1
            closed = self._closed
        if closed:
            return worker
        fresh = self._start_worker()
        if checkin:
            self._idle.put(fresh)
        return fresh


def _busy() -> EngineBusy:
    return EngineBusy("all engine workers are busy; try again shortly")


def _outcome(exc: GatewayError) -> str:
    return "cancelled" if isinstance(exc, QueryCancelled) else "failed"


def _worker_lost(worker: _Worker) -> EngineUnavailable:
    worker.process.join(1)
    code = worker.process.exitcode
    how = f" (signal {-code})" if code is not None and code < 0 else ""
    return EngineUnavailable(
        f"the engine worker running the query stopped unexpectedly{how}; "
        "it has been replaced, try again"
    )


def _rebuild_error(reply: QueryFailed) -> GatewayError:
    cls = getattr(errors, reply.error, None)
    if not (isinstance(cls, type) and issubclass(cls, GatewayError)):
        cls = GatewayError
    return cls(reply.message, position=reply.position)
