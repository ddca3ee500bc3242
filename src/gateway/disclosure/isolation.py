"""Disclosure control at a bounded cost: costly protection runs in a process that can be killed.

:func:`protect` is pure Python. Its cost is a table look-up per cell under the cell key method
(about 9 µs a cell: 20,000 cells in under 0.2 s), but cell suppression's search for secondary
cells grows much faster than the cells (about 1 s for 1,020 cells of a sparse two-way table),
and Python code in a thread cannot be stopped from outside: it stops only where it looks at its
budget. So :meth:`ProtectionProcesses.protect` protects a small or cheap table in the calling process
and hands any other to a **child process** (multiprocessing's ``forkserver``, as the engine's
workers: never forked from the threaded server) while the caller only waits. Children are
started ahead (``spares``, from a background thread; each warms up — both methods on a
one-cell table — before it says it is ready and joins the idle ones) and reused while they
answer; a killed one is replaced in the background. The fork server is shared with the engine's workers and is
started with both this module and the workers' preloaded (:class:`ProtectionProcesses` is
opened before the engine, :mod:`gateway.deployment`), so a child is ready within milliseconds
instead of importing pyarrow and the policy model itself (a second or more on a busy host):

- the API process spends no CPU on the protection itself, only on moving the table (Arrow IPC
  over a pipe, a few milliseconds for the largest table disclosure control accepts);
- the child runs under the query's own budget (deadline and a time cap), and the caller
  watches the same budget: when the query is withdrawn (the HTTP client went away) or out of
  time, the caller tells the child to stop (SIGUSR1: the protection stops at its next look at
  its budget, within one cell's work, and the child stays ready for the next table) and waits
  at most :data:`_GRACE_S` for it to say so, else **kills** it (SIGKILL) and reaps it — either
  way it costs no more CPU from that moment — and raises
  :class:`~gateway.errors.QueryCancelled` or :class:`~gateway.errors.QueryTimeout` as the
  in-process check would;
- a child that dies (killed by the kernel, a bug) ends the request with 503
  ``engine_unavailable``; an error the protection raises (``not_protectable``, bad input)
  is raised again in the caller with its code and message.

Cells vs seconds (in process, through the child, and end to end over HTTP) are printed by
``python benchmarks/bench_disclosure.py``.

Example:
    >>> import pyarrow as pa
    >>> from gateway.disclosure.spec import parse_disclosure_spec
    >>> from gateway.policy.disclosure import DisclosureRules
    >>> table = pa.table({"area": ["a", "b", "c"], "crimes": [4, 30, 51]})
    >>> spec = parse_disclosure_spec({"dimensions": ["area"], "counts": ["crimes"]})
    >>> with ProtectionProcesses(spares=0) as processes:
    ...     out = processes.protect(table, spec, DisclosureRules(min_count=10), isolate=True)
    >>> out.table.column("crimes").to_pylist(), out.report.primary
    ([None, None, 51], 1)
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pyarrow as pa

from gateway import errors
from gateway.disclosure.apply import UNLIMITED, ProtectedTable, protect
from gateway.disclosure.budget import Budget
from gateway.disclosure.spec import DisclosureSpec
from gateway.engines import worker as engine_worker
from gateway.errors import EngineUnavailable, GatewayError, QueryCancelled, QueryTimeout
from gateway.lifetime import ClosesOnExit
from gateway.policy.disclosure import DisclosureRules

__all__ = ["IN_PROCESS_CELLS", "ProtectionProcesses", "protect_bounded"]

#: Cells protected in the calling process, by method; larger tables go to a child process.
#: The cell key method costs a few microseconds a cell (the largest table disclosure control
#: accepts, 20,000 cells, in about 0.05 s of CPU), so it always runs here: handing it over
#: would cost more than it saves. Cell suppression grows much faster than its cells.
IN_PROCESS_CELLS = {"cell_key": 20_000, "suppression": 150}
#: How often the caller looks at the budget while the child works (seconds).
_POLL_S = 0.01
#: What a child says once it is ready (imported, warmed up).
_READY = ("ready",)
#: How long a spare child may take to be ready (seconds).
_START_S = 120.0
#: How long a withdrawn child has to say it stopped before it is killed, and how much longer
#: its own time limit runs than its caller's (seconds).
_GRACE_S = 0.25
#: What the shared fork server imports before it forks anything: the engine's workers' module
#: and this one (the engine sets only its own, and the first to start the server decides).
_PRELOAD = [engine_worker.__name__, __name__]


class _Child:
    """One protection process and the caller's end of its pipe."""

    def __init__(self, context: multiprocessing.context.ForkServerContext) -> None:
        self.conn, theirs = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(theirs,), name="gateway-disclosure", daemon=True
        )
        self.process.start()
        theirs.close()

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        with contextlib.suppress(ValueError):
            self.process.close()
        self.conn.close()


class ProtectionProcesses(ClosesOnExit):
    """Child processes that protect large tables, started ahead and killed on demand.

    Attributes:
        spares: children kept started and idle (0: each protection starts its own).
    """

    def __init__(self, spares: int = 1) -> None:
        self.spares = spares
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(_PRELOAD)
        forkserver.ensure_running()  # now, with that preload (no effect if already running)
        self._idle: list[_Child] = []
        self._lock = threading.Lock()
        self._closed = False
        self._top_up()

    def protect(
        self,
        table: pa.Table,
        spec: DisclosureSpec,
        rules: DisclosureRules,
        *,
        cell_keys: Mapping[str, Sequence[int | None]] | None = None,
        budget: Budget = UNLIMITED,
        isolate: bool | None = None,
        started: Callable[[int], None] | None = None,
    ) -> ProtectedTable:
        """:func:`~gateway.disclosure.apply.protect`, in a killable child process unless the
        table is small enough to protect here at once.

        Args:
            table, spec, rules, cell_keys: as :func:`~gateway.disclosure.apply.protect`.
            budget: the query's deadline and withdrawal; the child is killed when either comes.
            isolate: force a child (True) or the calling process (False); None: by size and
                method (:data:`IN_PROCESS_CELLS`; no method: here).
            started: called with the child's process id as it takes the table (to watch it).

        Raises:
            QueryCancelled, QueryTimeout: withdrawn or out of time (the child is gone).
            EngineUnavailable: the child died.
            GatewayError: what the protection refused (its own code).
        """
        if isolate is None:
            limit = IN_PROCESS_CELLS.get(rules.method)
            isolate = limit is not None and table.num_rows > limit
        if not isolate:
            return protect(table, spec, rules, cell_keys=cell_keys, budget=budget)
        budget.check()
        child = self._take()
        reusable = False
        try:
            if started is not None:
                started(child.process.pid or 0)
            job = (_ipc(table), spec, rules, dict(cell_keys or {}), _seconds_left(budget))
            child.conn.send(job)
            try:
                answer = _wait(child, budget)
            except (QueryCancelled, QueryTimeout):
                reusable = _withdraw(child)  # stopped at once; killed if it does not stop
                raise
            reusable = True
        finally:
            if reusable and not self._closed:
                with self._lock:
                    self._idle.append(child)
            else:
                child.stop()
                self._top_up()
        if answer[0] == "error":
            _, name, message = answer
            kind = getattr(errors, name, None)
            if isinstance(kind, type) and issubclass(kind, GatewayError):
                raise kind(message)
            raise EngineUnavailable("disclosure control failed")
        _, data, report = answer
        return ProtectedTable(table=_table(data), report=report)

    def _take(self) -> _Child:
        with self._lock:
            while self._idle:
                child = self._idle.pop()
                if child.process.is_alive():
                    break
                child.stop()
            else:
                child = None
        if child is None:
            child = _Child(self._context)
        self._top_up()
        return child

    def _top_up(self) -> None:
        """Start children up to ``spares`` in the background (never on a request's path)."""
        with self._lock:
            missing = 0 if self._closed else self.spares - len(self._idle)
        if missing > 0:
            threading.Thread(target=self._start, args=(missing,), daemon=True).start()

    def _start(self, count: int) -> None:
        for _ in range(count):
            child = _Child(self._context)
            try:
                ready = child.conn.poll(_START_S) and child.conn.recv() == _READY
            except (EOFError, OSError):
                ready = False
            if not ready:
                child.stop()
                continue
            with self._lock:
                if self._closed or len(self._idle) >= self.spares:
                    keep = False
                else:
                    self._idle.append(child)
                    keep = True
            if not keep:
                child.stop()

    def close(self) -> None:
        """Stop every idle child (a busy one is stopped by its caller)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for child in idle:
            child.stop()


def protect_bounded(
    table: pa.Table,
    spec: DisclosureSpec,
    rules: DisclosureRules,
    *,
    cell_keys: Mapping[str, Sequence[int | None]] | None = None,
    budget: Budget = UNLIMITED,
    processes: ProtectionProcesses | None = None,
) -> ProtectedTable:
    """Protect with ``processes`` when given, else in the calling process (callers without a
    deployment: template tests, products built on the host, benchmarks)."""
    if processes is None:
        return protect(table, spec, rules, cell_keys=cell_keys, budget=budget)
    return processes.protect(table, spec, rules, cell_keys=cell_keys, budget=budget)


def _wait(child: _Child, budget: Budget) -> tuple[Any, ...]:
    """The child's answer; the caller kills the child when this raises."""
    while True:
        budget.check()  # raises when withdrawn or out of time
        try:
            if child.conn.poll(_POLL_S):
                answer: tuple[Any, ...] = child.conn.recv()
                if answer != _READY:  # a child started for this table says it is ready first
                    return answer
        except (EOFError, OSError) as exc:
            raise EngineUnavailable("disclosure control stopped unexpectedly") from exc
        if not child.process.is_alive() and not child.conn.poll(0):
            raise EngineUnavailable("disclosure control stopped unexpectedly")


def _withdraw(child: _Child) -> bool:
    """Tell a busy child to stop (SIGUSR1: its protection stops at its next look at its
    budget, within one cell's work) and wait for it to say so; kill it when it does not
    within :data:`_GRACE_S`. True: it stopped and may take another table."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(child.process.pid or 0, signal.SIGUSR1)
    until = time.monotonic() + _GRACE_S
    try:
        while child.conn.poll(max(0.0, until - time.monotonic())):
            if child.conn.recv() != _READY:  # its answer to the withdrawn table
                return True
    except (EOFError, OSError):
        pass
    return False


def _seconds_left(budget: Budget) -> float:
    """The child's own time limit: the caller's, plus a grace, so that the caller (which stops
    the child) acts first; the child's limit only stops one whose caller is gone."""
    if budget.deadline == float("inf"):
        return -1.0
    return max(0.0, budget.deadline - time.monotonic()) + _GRACE_S


#: The child's name in ``ps`` and ``/proc/PID/comm`` (apart from the engine's workers, which
#: share the same fork server).
PROCESS_NAME = "gw-disclosure"


def name_process(name: str) -> None:
    """Set this process's kernel name (Linux ``/proc/self/comm``; elsewhere nothing)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text(name[:15], "ascii")


def _serve(conn: Connection) -> None:
    """A child process: protect one table after another, each within the time it was given
    and until its caller withdraws it (SIGUSR1), until the pipe closes."""
    withdrawn = [False]  # set by the signal handler (no lock a handler could deadlock on)

    def withdraw(*_: object) -> None:
        withdrawn[0] = True

    signal.signal(signal.SIGUSR1, withdraw)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server's Ctrl-C is the server's
    name_process(PROCESS_NAME)
    try:
        _warm_up()
        conn.send(_READY)
        while True:
            try:
                data, spec, rules, keys, seconds = conn.recv()
            except EOFError:
                return
            withdrawn[0] = False  # a late signal for the previous table does not stop this one
            deadline = time.monotonic() + seconds if seconds >= 0 else float("inf")
            budget = Budget(deadline=deadline, cancelled=lambda: withdrawn[0])
            try:
                out = protect(_table(data), spec, rules, cell_keys=keys, budget=budget)
            except GatewayError as exc:
                conn.send(("error", type(exc).__name__, exc.message))
                continue
            conn.send(("ok", _ipc(out.table), out.report))
    finally:
        conn.close()


def _warm_up() -> None:
    """Run both methods once on a one-cell table, so that what they load on first use is
    loaded before the child says it is ready."""
    tiny = _table(_ipc(pa.table({"n": [3]})))
    spec = DisclosureSpec(counts=("n",))
    protect(tiny, spec, DisclosureRules(min_count=10))
    protect(tiny, spec, DisclosureRules(min_count=10, method="cell_key"), cell_keys={"n": [1]})


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _table(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()
