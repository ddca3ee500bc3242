"""The worker process: one hardened DuckDB connection, one query at a time.

A worker is started by :mod:`gateway.engines.pool` and talks to it over a pipe (see
:mod:`gateway.engines.messages`). For each query it

1. refreshes any extra-schema tables whose snapshot changed (or, for a query naming a schema
   kept in a DuckDB file, opens a hardened connection with that file attached read-only for
   this query alone, so the service can append to the file between queries),
2. refuses anything but exactly one SELECT statement (``SET VARIABLE``, ``PRAGMA``,
   ``CHECKPOINT`` … never reach DuckDB, whatever the caller checked before),
3. runs it with its deadline armed: a watch thread (:mod:`gateway.engines.deadline`) calls
   ``con.interrupt()`` when the time limit is spent,
4. streams Arrow batches into the result file (:func:`~gateway.engines.spill.spill_batches`),
5. answers with the file's summary or a translated, value-free error.

A listener thread reads the control pipe: an :class:`~gateway.engines.messages.Interrupt` for
the query now running calls ``con.interrupt()`` (the main thread is inside DuckDB, where a
Python signal handler would never run), and the query ends as ``QueryCancelled``. The
listener repeats the interrupt until the query has ended, because DuckDB forgets an interrupt
that lands between two of its calls; one for a query that already ended is ignored.

Any other exception is a bug: it ends the process, and the parent reports the failure and
starts a replacement.

Each query runs under one memory limit, the worker's resident memory
(:mod:`gateway.engines.memory`): DuckDB gets a share of what the limit leaves above the idle
worker, and the data segment (``RLIMIT_DATA``) may grow only by what the limit leaves above the
worker's current resident memory, so allocations DuckDB does not count (``repeat('x', 2e9)``,
huge ``range`` lists, list and string aggregates) fail inside the worker as
:class:`~gateway.errors.ResourceLimit` instead of growing without bound. The parent's watchdog
on the worker's peak resident set and its hard deadline remain the last resort. The worker
spills to its own folder (``worker-<pid>`` under the engine's spill directory) and asks the
kernel to kill it if its parent dies, so an abandoned worker never keeps running a query.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path

import duckdb
import pyarrow as pa

from gateway.engines.base import QueryLimits
from gateway.engines.deadline import QueryDeadline
from gateway.engines.hardening import open_hardened, quote_identifier
from gateway.engines.memory import (
    MemoryBudget,
    limit_data_segment,
    memory_exceeded,
    process_memory,
    worker_spill_directory,
)
from gateway.engines.messages import (
    Interrupt,
    QueryDone,
    QueryFailed,
    Ready,
    RunQuery,
    TableSnapshot,
    WorkerConfig,
)
from gateway.engines.spill import spill_batches
from gateway.engines.translate import EngineFailure, describe_failure
from gateway.errors import (
    ConfigurationError,
    EngineUnavailable,
    GatewayError,
    QueryCancelled,
    ResourceLimit,
    SqlParseError,
    StatementNotAllowed,
)
from gateway.lru import LruCache

__all__ = [
    "WorkerSession",
    "listen_for_interrupts",
    "open_for_schema_files",
    "require_single_select",
    "run_query",
    "serve",
]

_PR_SET_PDEATHSIG = 1
#: How often the listener repeats an interrupt while its query is still running.
_REINTERRUPT_S = 0.05
#: How long a query waits for a schema file another process is writing.
_SCHEMA_FILE_WAIT_S = 5.0
#: Statement texts a worker remembers as checked single SELECTs.
_SINGLE_SELECTS_KEPT = 256


def serve(conn: Connection, config: WorkerConfig, control: Connection | None = None) -> None:
    """Entry point of a worker process: open the connection, then answer requests.

    Exits when the pipe closes, on :class:`Shutdown`, or after an error that leaves the
    connection untrustworthy (the parent then starts a replacement). ``control`` is the
    read end of the control pipe (:class:`Interrupt` messages), served by a listener thread.
    """
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.umask(0o077)  # result files (and DuckDB spill files) readable by the service only
    if config.temp_directory is not None:
        spill = worker_spill_directory(config.temp_directory, os.getpid())
        config = replace(config, temp_directory=str(spill))
    try:
        con = open_hardened(config)
    except GatewayError as exc:
        conn.send(QueryFailed(type(exc).__name__, exc.message, worker_unhealthy=True))
        return
    session = WorkerSession(con, config, baseline_bytes=process_memory().resident)
    conn.send(Ready(os.getpid()))
    if control is not None:
        threading.Thread(
            target=listen_for_interrupts,
            args=(control, session),
            name="gateway-interrupt-listener",
            daemon=True,
        ).start()
    try:
        while True:
            try:
                message = conn.recv()
            except EOFError:
                break
            if not isinstance(message, RunQuery):
                break
            reply = run_query(session, message)
            conn.send(reply)
            if isinstance(reply, QueryFailed) and reply.worker_unhealthy:
                break
    finally:
        con.close()


def listen_for_interrupts(control: Connection, session: WorkerSession) -> None:
    """The listener thread: interrupt the session's query when the parent asks (until EOF)."""
    while True:
        try:
            message = control.recv()
        except (EOFError, OSError):
            return
        except MemoryError:  # the query holds all its data segment: the next message may fit
            continue
        if isinstance(message, Interrupt):
            while session.interrupt(message.query_id):
                time.sleep(_REINTERRUPT_S)


class WorkerSession:
    """The worker's connection and what it has loaded (snapshots, DuckDB's memory limit).

    It also knows which query is running, so an interrupt meant for one query never stops
    the next (:meth:`interrupt` and the start and end of a query share one lock).

    Attributes:
        baseline_mb: the worker's resident memory when it was ready (its own footprint,
            which every query's memory limit includes).
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, config: WorkerConfig, *, baseline_bytes: int = 0
    ) -> None:
        self.con = con
        self.config = config
        self.versions: dict[str, int] = {}
        self.baseline_mb = -(-baseline_bytes // 2**20)
        self.duckdb_memory_mb = config.memory_limit_mb
        #: Interrupts the running query when its time limit is spent (one thread, armed per query).
        self.deadline = QueryDeadline()
        self._single_selects: LruCache[str, bool] = LruCache(_SINGLE_SELECTS_KEPT)
        self._lock = threading.Lock()
        self._running: str | None = None
        self._withdrawn: str | None = None  # interrupted before it began
        self._cancelled = False

    def known_single_select(self, sql: str) -> bool:
        """Whether ``sql`` passed :func:`require_single_select` lately (a pure function of
        the text: templates repeat theirs, and parsing one again cost up to 0.4 ms)."""
        return bool(self._single_selects.get(sql))

    def remember_single_select(self, sql: str) -> None:
        self._single_selects.put(sql, True)

    @property
    def cancelled(self) -> bool:
        """True when the running (or last) query was interrupted by :meth:`interrupt`."""
        with self._lock:
            return self._cancelled

    def begin(self, query_id: str) -> None:
        """``query_id`` is running from now on (cancelled already if it was withdrawn)."""
        with self._lock:
            self._running = query_id
            self._cancelled = self._withdrawn == query_id
            self._withdrawn = None

    def end(self) -> None:
        """No query is running any more; later interrupts are ignored."""
        with self._lock:
            self._running = None

    def interrupt(self, query_id: str) -> bool:
        """Interrupt ``query_id`` if it is the query running; False if it is not (any more).

        Safe from any thread (DuckDB's ``interrupt`` is meant to be called from another one).
        """
        with self._lock:
            if self._running is None:
                # The request may still be in the other pipe: remember the withdrawal.
                self._withdrawn = query_id
                return False
            if self._running != query_id:
                return False
            self._cancelled = True
            self.con.interrupt()
            return True

    @contextlib.contextmanager
    def borrowed(self, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """Run the next query on ``con`` (interrupts reach it; its memory limit is set as on
        the worker's own), then close it and return to the worker's own connection."""
        with self._lock:
            own = (self.con, self.duckdb_memory_mb)
            self.con, self.duckdb_memory_mb = con, -1  # unknown: set before the query
        try:
            yield
        finally:
            with self._lock:
                self.con, self.duckdb_memory_mb = own
            con.close()

    def budget(self, memory_limit_mb: int) -> MemoryBudget:
        """How a query limited to ``memory_limit_mb`` divides in this worker."""
        return MemoryBudget(limit_mb=memory_limit_mb, baseline_mb=self.baseline_mb)

    def set_duckdb_memory(self, duckdb_mb: int) -> None:
        """Set DuckDB's ``memory_limit`` (the one setting left changeable by the lock)."""
        if duckdb_mb != self.duckdb_memory_mb:
            try:
                self.con.execute(f"SET memory_limit = '{int(duckdb_mb)}MB'")
            except duckdb.Error:
                raise EngineUnavailable(
                    f"the engine cannot lower its memory to {duckdb_mb} MB right now"
                ) from None
            self.duckdb_memory_mb = duckdb_mb

    def memory_guard(self, budget: MemoryBudget) -> contextlib.AbstractContextManager[None]:
        """The OS limit on the data segment for a query under ``budget`` (if configured)."""
        if not self.config.os_memory_guard:
            return contextlib.nullcontext()
        now = process_memory()  # one read of /proc for both figures
        return limit_data_segment(budget.data_segment_growth(now.resident), now)


def run_query(session: WorkerSession, request: RunQuery) -> QueryDone | QueryFailed:
    """Run one request in ``session`` and spill its result; never raises for query errors.

    Args:
        session: the worker's hardened connection and state.
        request: what to run and under which limits.
    """
    if not request.attach:
        return _run_begun(session, request)
    try:
        con = open_for_schema_files(session.config, request)
    except GatewayError as exc:
        return _failed(exc)
    with session.borrowed(con):
        return _run_begun(session, request)


def open_for_schema_files(config: WorkerConfig, request: RunQuery) -> duckdb.DuckDBPyConnection:
    """A hardened connection like the worker's own, with the schema files the request names
    attached read-only before the lock (as the warehouse is).

    Raises:
        gateway.errors.EngineUnavailable: a file is not a schema file of this worker, or it
            cannot be opened now (missing, or held by its writer).
    """
    files = dict(config.schema_files)
    unknown = sorted(set(request.attach) - set(files))
    if unknown:
        raise EngineUnavailable(f"{', '.join(unknown)} is not a schema this engine serves")
    attached = replace(
        config,
        attachments=config.attachments + tuple((name, files[name]) for name in request.attach),
    )
    deadline = time.monotonic() + _SCHEMA_FILE_WAIT_S
    while True:
        try:
            return open_hardened(attached)
        except ConfigurationError:
            # Another process (a CLI command on the same directory) may be writing the file.
            if time.monotonic() > deadline:
                raise EngineUnavailable(
                    f"the {', '.join(request.attach)} tables cannot be opened right now; try again"
                ) from None
            time.sleep(0.05)


def _run_begun(session: WorkerSession, request: RunQuery) -> QueryDone | QueryFailed:
    session.begin(request.query_id)
    try:
        return _run_query(session, request)
    finally:
        session.end()


def _run_query(session: WorkerSession, request: RunQuery) -> QueryDone | QueryFailed:
    con, limits = session.con, request.limits
    budget = session.budget(limits.memory_limit_mb)
    try:
        if not session.known_single_select(request.sql):
            require_single_select(con, request.sql)
            session.remember_single_select(request.sql)
        if (problem := budget.problem()) is not None:
            raise ResourceLimit(problem)
        session.set_duckdb_memory(budget.duckdb_mb)
    except GatewayError as exc:
        return _failed(exc)
    try:
        with (
            session.deadline.armed(limits.timeout_s, con.interrupt) as timer,
            session.memory_guard(budget),
        ):
            try:
                _apply_snapshots(con, request.snapshots, session.versions)
            except duckdb.Error as exc:  # loading a snapshot failed (e.g. out of memory)
                failure = _describe(exc, limits, timed_out=timer.fired)
                return _failed(failure.error, worker_unhealthy=True)
            if session.cancelled:
                return _failed(_cancelled())
            relation = con.sql(request.sql, params=dict(request.params) or None)
            if relation is None:
                raise StatementNotAllowed("only a SELECT statement may run")
            summary = spill_batches(
                relation.to_arrow_reader(session.config.batch_rows),
                Path(request.result_path),
                max_rows=limits.max_rows,
                max_result_bytes=limits.max_result_bytes,
                inline_bytes=session.config.inline_result_bytes,
            )
    except GatewayError as exc:
        return _failed(exc)
    except (MemoryError, pa.ArrowMemoryError):
        # Python or Arrow could not allocate under the data-segment limit: the worker's heap
        # may be in any state, so it is replaced.
        return _failed(memory_exceeded(limits.memory_limit_mb), worker_unhealthy=True)
    except (duckdb.Error, pa.ArrowException, OSError) as exc:
        failure = _describe(exc, limits, timed_out=timer.fired)
        if session.cancelled and not failure.worker_unhealthy:
            return _failed(_cancelled())
        return _failed(failure.error, worker_unhealthy=failure.worker_unhealthy)
    return QueryDone(
        summary.num_rows, summary.num_bytes, summary.truncated, summary.fingerprint, summary.data
    )


def _describe(exc: BaseException, limits: QueryLimits, *, timed_out: bool) -> EngineFailure:
    return describe_failure(
        exc, timed_out=timed_out, timeout_s=limits.timeout_s, memory_limit_mb=limits.memory_limit_mb
    )


def require_single_select(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything that is not exactly one SELECT statement.

    Raises:
        gateway.errors.SqlParseError: DuckDB cannot parse the text.
        gateway.errors.StatementNotAllowed: zero or several statements, or not a SELECT.
    """
    try:
        statements = duckdb.extract_statements(sql, connection=con)
    except duckdb.Error:
        raise SqlParseError("the engine could not parse the query") from None
    if len(statements) != 1:
        raise StatementNotAllowed(f"exactly one statement may run, the query has {len(statements)}")
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise StatementNotAllowed(f"only SELECT statements may run, not {kind.name}")


def _cancelled() -> QueryCancelled:
    return QueryCancelled("the query was cancelled: its caller withdrew it")


def _failed(error: GatewayError, *, worker_unhealthy: bool = False) -> QueryFailed:
    return QueryFailed(type(error).__name__, error.message, error.position, worker_unhealthy)


def _apply_snapshots(
    con: duckdb.DuckDBPyConnection,
    snapshots: tuple[TableSnapshot, ...],
    versions: dict[str, int],
) -> None:
    for snapshot in snapshots:
        if versions.get(snapshot.schema) == snapshot.version:
            continue
        catalog = quote_identifier(snapshot.schema)
        existing = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = $catalog",
            {"catalog": snapshot.schema},
        ).fetchall()
        for (name,) in existing:
            con.execute(f"DROP TABLE {catalog}.main.{quote_identifier(name)}")
        for name, payload in snapshot.tables:
            table = pa.ipc.open_stream(payload).read_all()
            con.register("__gateway_snapshot", table)
            try:
                con.execute(
                    f"CREATE TABLE {catalog}.main.{quote_identifier(name)} AS "
                    "SELECT * FROM __gateway_snapshot"
                )
            finally:
                con.unregister("__gateway_snapshot")
        versions[snapshot.schema] = snapshot.version


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
