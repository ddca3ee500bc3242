"""A pool of killable worker processes, each holding one hardened DuckDB connection.

Callers (the HTTP server's threads) call :meth:`WorkerPool.run` for a user; each call waits
for the worker the fair scheduler gives it, sends it the query and waits for the answer while
guarding three limits from the parent side, where a runaway query cannot interfere:

- **hard deadline**: ``timeout_s + grace_s`` after dispatch the worker is SIGKILLed (the
  worker's own timer interrupts DuckDB at ``timeout_s``; this catches work that does not
  honour the interrupt, such as one huge allocation);
- **memory**: the query's ``memory_limit_mb`` bounds the worker's resident memory
  (:mod:`gateway.engines.memory`). The worker's peak resident set is reset before the query
  is sent and read (``VmHWM``) every ``poll_interval_s``; the moment it passes the limit the
  worker is SIGKILLed, and a reply from a worker that peaked above it is refused the same way.
  A worker holding more than a query may start with (memory a finished query left behind) is
  replaced before it gets the query;
- **death**: a worker that exits for any reason (crash, OOM killer, a signal from outside) is
  noticed at once through its process sentinel.

In every case the caller gets a :class:`~gateway.errors.QueryTimeout` or
:class:`~gateway.errors.ResourceLimit`, the partial result file is removed, and a fresh worker
takes the old one's place, so the pool keeps serving everyone else. Workers are started with
the ``forkserver`` method (never forked from a threaded server) and reused across queries,
keeping DuckDB's buffer cache warm; the most recently used idle worker takes the next query,
so queries in turn meet the warmest cache, not the coldest (round the pool, each of four
workers read a table afresh: a scale 10 monthly count took 11–16 ms on a worker's first run
of it, 5 ms on the next).

**Fair shares.** Who gets a free worker is decided by a
:class:`~gateway.engines.scheduling.FairQueue`: a user holds at most their share of the pool,
the last free worker is reserved for users holding none, and the next waiter is the one whose
user holds the fewest. A caller waits at most ``queue_timeout_s``; a full queue (the pool's or
the user's own) refuses at once. Both answer :class:`~gateway.errors.EngineBusy` with a
``retry_after`` by which a worker that caller may use is certain to be free (the soonest hard
deadline among those workers' queries).

**Liveness.** A watchdog thread reads every worker's process state each
``liveness_interval_s``. A stopped (SIGSTOP: it would never answer) or dead worker counts as
not alive at once (:meth:`WorkerPool.stats`) and is never handed a query; an idle one still so
after ``liveness_deadline_s`` is killed and replaced; a busy one stopped for ``frozen_query_s``
is killed (its caller gets :class:`~gateway.errors.EngineUnavailable`) and replaced.

A caller may also withdraw its query through a :class:`~gateway.engines.base.Cancellation`
(the HTTP client went away). Waiting for a worker, it leaves the queue; running, the parent
sends :class:`~gateway.engines.messages.Interrupt` on the worker's control pipe and waits up
to ``grace_s`` for the worker's answer, after which the worker is killed and replaced like a
runaway. Either way the caller gets :class:`~gateway.errors.QueryCancelled`, no result file
is left, and a worker that answered in time is reused.

Example:
    >>> pool = WorkerPool(config, PoolSettings(size=4, user_share=0.5))  # doctest: +SKIP
    >>> done = pool.run(request, {}, user="a.khan")  # doctest: +SKIP
    >>> pool.close()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path

from gateway import errors
from gateway.engines.base import Cancellation, EngineStats, QueryLimits
from gateway.engines.memory import (
    MemoryBudget,
    ProcessMemory,
    memory_exceeded,
    process_memory,
    remove_spill_directory,
    reset_peak,
    sweep_spill_directories,
)
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
from gateway.engines.scheduling import FairQueue, Ticket
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

__all__ = ["PoolSettings", "WorkerPool"]

#: How often a queued caller that can be cancelled checks whether it was.
_QUEUE_POLL_S = 0.05
#: Process states (``/proc/<pid>/stat``) of a worker that cannot answer: stopped, traced,
#: zombie, dead.
_UNRESPONSIVE_STATES = frozenset("TtZX")


@dataclass(frozen=True)
class PoolSettings:
    """How many workers, who may hold them, how long callers may queue, and the guards.

    Attributes:
        size: worker processes.
        max_queue: callers allowed to wait for a worker beyond those running.
        queue_timeout_s: how long a caller waits for a free worker before giving up.
        start_timeout_s: how long a new worker may take to open its connection.
        grace_s: time after the query's timeout, or after it was cancelled, before its worker
            is killed.
        poll_interval_s: how often the parent checks a running worker's peak memory (what a
            worker can allocate in this time beyond the limit is the limit's tolerance).
        user_share: fraction of the workers one user may hold at once (at least one worker).
        reserved_workers: free workers kept for users who hold none (at most ``size - 1``).
        max_user_queue: queries one user may have waiting (None: as many as their share).
        fair: False turns the share, the reserve and the ordering off (first come, first
            served, as before fair scheduling; for comparisons).
        liveness_interval_s: how often the watchdog reads the workers' process states.
        liveness_deadline_s: an idle worker stopped or dead this long is replaced.
        frozen_query_s: a busy worker stopped this long is killed (its query fails 503).
    """

    size: int
    max_queue: int = 64
    queue_timeout_s: float = 30.0
    start_timeout_s: float = 60.0
    grace_s: float = 1.0
    poll_interval_s: float = 0.01
    user_share: float = 0.5
    reserved_workers: int = 1
    max_user_queue: int | None = None
    fair: bool = True
    liveness_interval_s: float = 0.25
    liveness_deadline_s: float = 1.0
    frozen_query_s: float = 10.0

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ConfigurationError(f"the engine needs at least one worker, got {self.size}")
        if self.max_queue < 0:
            raise ConfigurationError("max_queue cannot be negative")
        for name in ("liveness_interval_s", "liveness_deadline_s", "frozen_query_s"):
            if not getattr(self, name) > 0:
                raise ConfigurationError(f"{name} must be positive")
        self.scheduler()  # validates the share settings

    def scheduler(self) -> FairQueue:
        """A fresh fair queue for a pool with these settings."""
        return FairQueue(
            self.size,
            user_share=self.user_share,
            reserved=self.reserved_workers,
            max_user_queue=self.max_user_queue,
            fair=self.fair,
        )


class _Worker:
    """The parent's handle on one worker process."""

    def __init__(self, process: BaseProcess, conn: Connection, control: Connection) -> None:
        self.process = process
        self.conn = conn
        self.control = control
        self.ready = False
        self.versions: dict[str, int] = {}
        #: When the watchdog first saw the worker stopped or dead (None: answering).
        self.unwell_since: float | None = None
        #: Why the watchdog killed it, for the error its caller gets.
        self.lost_reason = ""
        #: Resident memory once it was ready (its own footprint), in bytes.
        self.baseline_bytes = 0
        #: The pool configuration it was started with (:meth:`WorkerPool.reconfigure`).
        self.generation = 0
        #: Its resident memory as last sampled, when it has run nothing since (idle workers
        #: do not grow): the next query's start check reads this instead of /proc again.
        self.resident_since_last_query: int | None = None

    def responsive(self) -> bool:
        """Alive and not stopped: it would answer a message now."""
        return self.process.is_alive() and not _stopped(self.process.pid)

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
            unavailable = message.error == EngineUnavailable.__name__  # e.g. a replaced warehouse
            error = EngineUnavailable if unavailable else ConfigurationError
            raise error(f"an engine worker could not start: {message.message}")
        if not isinstance(message, Ready):
            raise EngineUnavailable("an engine worker sent an unexpected message while starting")
        self.ready = True
        self.baseline_bytes = self.memory().resident

    def memory(self) -> ProcessMemory:
        return process_memory(self.process.pid)

    def budget(self, limits: QueryLimits) -> MemoryBudget:
        return MemoryBudget(limits.memory_limit_mb, -(-self.baseline_bytes // 2**20))

    def interrupt(self, query_id: str) -> bool:
        """Ask the worker to stop ``query_id``; False if the control pipe is broken."""
        try:
            self.control.send(Interrupt(query_id))
        except OSError:
            return False
        return True

    def kill(self, spill_root: str | None = None) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()
        self.control.close()
        if spill_root is not None:
            remove_spill_directory(spill_root, self.process.pid)

    def stop(self, timeout_s: float, spill_root: str | None = None) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(Shutdown())
        self.process.join(timeout_s)
        self.kill(spill_root)


class WorkerPool:
    """Worker processes, a fair queue of callers, the parent-side guards and a watchdog.

    Safe to call from many threads at once.
    """

    def __init__(self, config: WorkerConfig, settings: PoolSettings) -> None:
        self.config = config
        self.settings = settings
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["gateway.engines.worker"])
        self._lock = threading.Lock()
        #: Notified when workers are handed to waiting callers, or the pool closes.
        self._granted = threading.Condition(self._lock)
        self._fair = settings.scheduler()
        #: Idle workers, the most recently used last: it takes the next query (its DuckDB
        #: buffers still hold what the last query read; an analyst's queries in turn meet a
        #: warm worker, not the coldest one in the pool).
        self._idle: deque[_Worker] = deque()
        self._handed: dict[Ticket, _Worker] = {}
        self._busy_until: dict[Ticket, float] = {}  # hard deadline of each running query
        self._workers: set[_Worker] = set()
        self._calls = itertools.count()
        self._closed = False
        self._restarts = 0
        self._completed = 0
        self._failed = 0
        self._cancelled = 0
        self._stop_watching = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._generation = 0  # bumped by reconfigure: workers of an older one are replaced
        if config.temp_directory is not None:
            sweep_spill_directories(config.temp_directory)
        started = [self._start_worker() for _ in range(settings.size)]
        try:
            for worker in started:
                worker.wait_ready(settings.start_timeout_s)
        except GatewayError:
            self.close()
            raise
        for worker in started:
            self._checkin(worker)
        self._watchdog = threading.Thread(
            target=self._watch, name="gateway-engine-watchdog", daemon=True
        )
        self._watchdog.start()

    def run(
        self,
        request: RunQuery,
        snapshots: Mapping[str, TableSnapshot],
        cancel: Cancellation | None = None,
        *,
        user: str | None = None,
    ) -> QueryDone:
        """Run ``request`` on the worker the fair queue gives ``user``; return its summary.

        Args:
            request: the query (its ``snapshots`` field is filled in per worker).
            snapshots: the current extra-schema tables; a worker gets those it lacks.
            cancel: withdraws the query when cancelled (queued or running).
            user: whose query it is (its share of the workers is counted under this name);
                None for a caller of its own, never held back by anyone's share.

        Raises:
            gateway.errors.EngineBusy: the queue (the pool's, or the user's) is full, or no
                worker came free for this user within ``queue_timeout_s``.
            gateway.errors.GatewayError: the translated query error, or QueryTimeout /
                ResourceLimit when a guard stopped the worker, or QueryCancelled.
        """
        ticket = self._enqueue(user)
        outcome = "failed"
        try:
            worker = self._prepare(self._wait_for_grant(ticket, cancel), request.limits)
            with self._lock:
                self._busy_until[ticket] = (
                    time.monotonic() + request.limits.timeout_s + self.settings.grace_s
                )
            done = self._dispatch(worker, request, snapshots, cancel)
            outcome = "completed"
            return done
        except GatewayError as exc:
            outcome = _outcome(exc)
            raise
        finally:
            self._finish(ticket, outcome)

    def reconfigure(self, config: WorkerConfig) -> None:
        """Start workers with ``config`` from now on and retire those started before.

        A query dispatched after this returns runs on a worker started with ``config``: a
        worker of an older configuration is replaced before it takes a query. Idle ones are
        replaced here, one at a time, a fresh worker ready before the old one leaves (the
        pool is one worker short meanwhile, never a query kept waiting for a start); busy
        ones when their query ends.

        Raises:
            gateway.errors.EngineUnavailable: a worker with ``config`` did not start (the
                others keep serving; later replacements still use ``config``).
        """
        with self._lock:
            if self._closed:
                raise EngineUnavailable("the engine is closed")
            self.config = config
            self._generation += 1
            generation = self._generation
        while True:
            with self._lock:
                if self._closed:
                    return
                old = next((w for w in self._idle if w.generation != generation), None)
                if old is None:
                    return  # the busy ones are replaced when their query ends
                self._idle.remove(old)
            fresh = self._start_worker()
            try:
                fresh.wait_ready(self.settings.start_timeout_s)
            except GatewayError:
                fresh.kill(config.temp_directory)
                with self._lock:
                    self._workers.discard(fresh)
                self._checkin(old)  # still answers; replaced before its next query
                raise
            with self._lock:
                self._workers.discard(old)
            self._checkin(fresh)
            old.stop(2.0, config.temp_directory)

    def stats(self) -> EngineStats:
        """Workers answering, restarts, queue depth and query counts right now."""
        with self._lock:
            workers = list(self._workers)
            idle = list(self._idle)
            counts = (self._restarts, self._completed, self._failed, self._cancelled)
            waiting, running = self._fair.waiting(), self._fair.running()
        # Process states are read outside the lock (a /proc read per worker).
        alive = {w for w in workers if w.process.is_alive()}
        responsive = {w for w in alive if w.responsive()}
        restarts, completed, failed, cancelled = counts
        return EngineStats(
            workers=self.settings.size,
            workers_alive=len(responsive),
            restarts=restarts,
            queue_depth=waiting,
            running=running,
            completed=completed,
            failed=failed,
            cancelled=cancelled,
            workers_stopped=len(alive - responsive),
            idle=sum(1 for w in idle if w in responsive),
            max_queue=self.settings.max_queue,
            per_user_workers=self._fair.per_user_limit,
            reserved_workers=self._fair.reserve,
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
            idle = set(self._idle)
            self._idle.clear()
            self._granted.notify_all()  # waiting callers give up at once
        self._stop_watching.set()
        watchdog = self._watchdog
        if watchdog is not None and watchdog is not threading.current_thread():
            watchdog.join(5)
        for worker in workers:
            if worker in idle:
                worker.stop(2.0, self.config.temp_directory)
            else:
                worker.kill(self.config.temp_directory)

    # -- the fair queue --------------------------------------------------------------------

    def _enqueue(self, user: str | None) -> Ticket:
        """A place in the queue for ``user``, granted at once if a worker is free for them."""
        key = user if user is not None else f"\0call-{next(self._calls)}"
        with self._lock:
            if self._closed:
                raise GatewayError("the engine is closed")
            ticket = self._fair.enqueue(key)
            self._grant()
            if ticket.granted:
                return ticket
            refusal: EngineBusy | None = None
            if self._fair.waiting() > self.settings.max_queue:
                refusal = EngineBusy(
                    "the engine is at capacity; try again shortly",
                    retry_after=self._retry_after(key),
                )
            elif self._fair.user_queue_exceeded(key):
                refusal = EngineBusy(
                    f"you have {self._fair.holding(key)} queries running and "
                    f"{self._fair.waiting_for(key) - 1} waiting for the engine (one user may "
                    f"hold {self._fair.per_user_limit} of its {self.settings.size} workers); "
                    "try again when one has finished",
                    retry_after=self._retry_after(key),
                )
            if refusal is not None:
                self._fair.withdraw(ticket)
                self._failed += 1
                raise refusal
            return ticket

    def _wait_for_grant(self, ticket: Ticket, cancel: Cancellation | None) -> _Worker:
        """The worker handed to ``ticket``, waiting at most ``queue_timeout_s``.

        A caller whose ``cancel`` can fire looks at it every ``_QUEUE_POLL_S``.
        """
        deadline = time.monotonic() + self.settings.queue_timeout_s
        with self._lock:
            while not ticket.granted:
                if self._closed:
                    self._fair.withdraw(ticket)
                    raise EngineUnavailable("the engine closed while the query waited")
                if cancel is not None and cancel.cancelled:
                    self._fair.withdraw(ticket)
                    raise QueryCancelled("the query was cancelled before it started")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._fair.withdraw(ticket)
                    raise EngineBusy(
                        "all engine workers this query may use are busy; try again shortly",
                        retry_after=self._retry_after(ticket.key),
                    )
                self._granted.wait(remaining if cancel is None else min(_QUEUE_POLL_S, remaining))
            return self._handed.pop(ticket)

    def _grant(self) -> None:
        """Hand the idle workers to the callers the fair queue picks (lock held)."""
        chosen = self._fair.grant(len(self._idle))
        for ticket in chosen:
            self._handed[ticket] = self._idle.pop()
        if chosen:
            self._granted.notify_all()

    def _finish(self, ticket: Ticket, outcome: str) -> None:
        """The caller is done (or gave up waiting): count it, free its place, grant more."""
        with self._lock:
            if ticket.granted:
                self._fair.release(ticket)
            else:
                self._fair.withdraw(ticket)
            self._busy_until.pop(ticket, None)
            if outcome == "completed":
                self._completed += 1
            elif outcome == "cancelled":
                self._cancelled += 1
            else:
                self._failed += 1
            self._grant()

    def _retry_after(self, key: str) -> float:
        """Seconds until a worker ``key`` may use is certain to be free (lock held).

        A user at their share waits for one of their own queries to end, anyone else for any
        query to; each ends by its hard deadline. At least 1 s, at most ``queue_timeout_s``.
        """
        now = time.monotonic()
        own = [until for t, until in self._busy_until.items() if t.key == key]
        candidates = own if own and self._fair.at_share(key) else self._busy_until.values()
        soonest = min(candidates, default=now) - now
        return max(1.0, min(soonest, self.settings.queue_timeout_s))

    def _prepare(self, worker: _Worker, limits: QueryLimits) -> _Worker:
        """``worker`` ready to take a query under ``limits``: a dead or stopped one, or one
        holding more memory than the query may start with, is replaced first (not for a limit
        no worker can meet: that query is refused as it is, and the worker kept)."""
        budget = worker.budget(limits)
        if (
            not worker.responsive()
            or worker.generation != self._generation
            or (
                worker.ready
                and budget.problem() is None
                and not budget.may_start(_resident(worker))
            )
        ):
            worker = self._replace(worker, checkin=False)
        try:
            worker.wait_ready(self.settings.start_timeout_s)
        except GatewayError:
            self._replace(worker)
            raise
        return worker

    # -- one query ---------------------------------------------------------------------------

    def _dispatch(
        self,
        worker: _Worker,
        request: RunQuery,
        snapshots: Mapping[str, TableSnapshot],
        cancel: Cancellation | None,
    ) -> QueryDone:
        if cancel is not None and cancel.cancelled:
            self._checkin(worker)
            raise QueryCancelled("the query was cancelled before it started")
        if (too_small := worker.budget(request.limits).problem()) is not None:
            self._checkin(worker)
            raise ResourceLimit(too_small)
        stale = tuple(s for s in snapshots.values() if worker.versions.get(s.schema) != s.version)
        worker.resident_since_last_query = None  # running from now on
        peak_resets = reset_peak(worker.process.pid)
        try:
            worker.conn.send(replace(request, snapshots=stale))
        except OSError:
            self._discard(worker, request)
            raise _worker_lost(worker) from None
        try:
            reply, problem = self._await(worker, request, cancel, peak_resets=peak_resets)
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
        self,
        worker: _Worker,
        request: RunQuery,
        cancel: Cancellation | None,
        *,
        peak_resets: bool,
    ) -> tuple[object, GatewayError | None]:
        """The worker's reply, or the guard that stopped waiting for it (worker to discard).

        ``peak_resets`` says the worker's peak was reset for this query; when the kernel does
        not allow that, the resident set sampled now is what is watched.
        """
        limits = request.limits
        deadline = time.monotonic() + limits.timeout_s + self.settings.grace_s
        budget = worker.budget(limits)

        def over_memory() -> ResourceLimit | None:
            memory = worker.memory()
            worker.resident_since_last_query = memory.resident  # the query may have ended
            used = memory.peak if peak_resets else memory.resident
            if used <= budget.limit_bytes:
                return None
            return memory_exceeded(limits.memory_limit_mb, used)

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
                    reply = worker.conn.recv()
                except (EOFError, OSError):
                    return None, _worker_lost(worker)
                # A peak above the limit between two samples still fails the query.
                return reply, over_memory()
            if sentinel in ready:
                return None, over_memory() or _worker_lost(worker)
            if (exceeded := over_memory()) is not None:
                return None, exceeded

    # -- worker lifecycle --------------------------------------------------------------------

    def _start_worker(self) -> _Worker:
        with self._lock:
            config, generation = self.config, self._generation
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        control_in, control_out = self._ctx.Pipe(duplex=False)
        process = self._ctx.Process(
            target=serve,
            args=(child_end, config, control_in),
            name="gateway-engine-worker",
            daemon=True,
        )
        process.start()
        child_end.close()
        control_in.close()
        worker = _Worker(process, parent_end, control_out)
        worker.generation = generation
        with self._lock:
            self._workers.add(worker)
        return worker

    def _checkin(self, worker: _Worker) -> None:
        """``worker`` is free: hand it to the next caller the fair queue picks."""
        with self._lock:
            self._idle.append(worker)
            self._grant()

    def _checkin_or_recycle(self, worker: _Worker) -> None:
        """Reuse ``worker`` unless it holds more than a query at the engine's default limit
        may start with (a query with another limit checks again before it runs), or it was
        started with a configuration the pool no longer uses."""
        default = QueryLimits(memory_limit_mb=self.config.memory_limit_mb)
        if worker.generation == self._generation and worker.budget(default).may_start(
            _resident(worker)
        ):
            self._checkin(worker)
        else:
            self._replace(worker)

    def _discard(self, worker: _Worker, request: RunQuery) -> None:
        self._replace(worker)
        partial_path(Path(request.result_path)).unlink(missing_ok=True)

    def _replace(self, worker: _Worker, *, checkin: bool = True) -> _Worker:
        worker.kill(self.config.temp_directory)
        with self._lock:
            self._workers.discard(worker)
            self._restarts += 1
            closed = self._closed
        if closed:
            return worker
        fresh = self._start_worker()
        if checkin:
            self._checkin(fresh)
        return fresh

    # -- liveness ----------------------------------------------------------------------------

    def _watch(self) -> None:
        """The watchdog thread: check every worker each ``liveness_interval_s`` until close."""
        while not self._stop_watching.wait(self.settings.liveness_interval_s):
            self._check_liveness()

    def _check_liveness(self) -> None:
        """Replace idle workers stopped or dead for ``liveness_deadline_s``; kill busy ones
        stopped for ``frozen_query_s`` (their callers replace them). Run by the watchdog."""
        now = time.monotonic()
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            alive = worker.process.is_alive()
            stopped = alive and not worker.responsive()
            if alive and not stopped:
                worker.unwell_since = None
                continue
            if worker.unwell_since is None:
                worker.unwell_since = now
            unwell_for = now - worker.unwell_since
            if unwell_for >= self.settings.liveness_deadline_s and self._take_idle(worker):
                self._replace(worker)
            elif stopped and unwell_for >= self.settings.frozen_query_s:
                worker.lost_reason = f"stopped for {unwell_for:.0f} s"
                worker.process.kill()  # the caller waiting on it sees it die and replaces it

    def _take_idle(self, worker: _Worker) -> bool:
        """Remove ``worker`` from the idle workers; False if it is not idle (busy, gone)."""
        with self._lock:
            if self._closed or worker not in self._idle:
                return False
            self._idle.remove(worker)
            return True


def _resident(worker: _Worker) -> int:
    """``worker``'s resident memory: the sample taken when its last query ended, if it has
    run nothing since, else read now (and kept until its next query)."""
    if worker.resident_since_last_query is None:
        worker.resident_since_last_query = worker.memory().resident
    return worker.resident_since_last_query


def _process_state(pid: int | None) -> str:
    """The kernel's one-letter state of process ``pid`` ("" when unknown: not Linux, gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0].decode("ascii")
    except (OSError, IndexError, UnicodeDecodeError):
        return ""


def _stopped(pid: int | None) -> bool:
    """True when process ``pid`` cannot run: stopped (SIGSTOP), traced, or a zombie."""
    return _process_state(pid) in _UNRESPONSIVE_STATES


def _outcome(exc: GatewayError) -> str:
    return "cancelled" if isinstance(exc, QueryCancelled) else "failed"


def _worker_lost(worker: _Worker) -> EngineUnavailable:
    worker.process.join(1)
    if worker.lost_reason:
        return EngineUnavailable(
            f"the engine worker running the query stopped responding ({worker.lost_reason}); "
            "it has been replaced, try again"
        )
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
