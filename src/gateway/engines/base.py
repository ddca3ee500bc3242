"""The engine contract: what the service asks of any query engine, and what it gets back.

An :class:`Engine` runs SQL the rewriter produced (already policy-enforced) under
:class:`QueryLimits`, and spills the result to an Arrow IPC stream file in a results directory
(:class:`QueryResult`). Spilling first lets the service complete the audit record before any row
leaves, fingerprint exactly the bytes a client will receive, and stream large results without
holding them in memory. A :class:`Cancellation` lets the caller withdraw a query while it runs
(the HTTP client went away): the engine stops it and raises
:class:`~gateway.errors.QueryCancelled`.

Example:
    >>> limits = QueryLimits(timeout_s=5, memory_limit_mb=256, max_rows=1000)
    >>> limits.max_rows
    1000
    >>> QueryLimits(timeout_s=0)
    Traceback (most recent call last):
    ...
    gateway.errors.ConfigurationError: query limit timeout_s must be positive, got 0
"""

from __future__ import annotations

import abc
import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pyarrow as pa

from gateway.errors import ConfigurationError
from gateway.lifetime import ClosesOnExit

__all__ = [
    "Cancellation",
    "Engine",
    "EngineStats",
    "Expectation",
    "QueryLimits",
    "QueryResult",
    "Verified",
]


@dataclass(frozen=True)
class QueryLimits:
    """Bounds one query runs under.

    Attributes:
        timeout_s: wall-clock budget; the engine interrupts the query when it is spent and
            kills its worker shortly after if the interrupt is not honoured.
        memory_limit_mb: the most resident memory the process running the query may hold,
            everything included (see :mod:`gateway.engines.memory`); a query that needs more
            is stopped with :class:`~gateway.errors.ResourceLimit`.
        max_rows: rows kept; a result with more is cut to this many and marked truncated.
        max_result_bytes: size of the spilled result file beyond which the query is refused.
    """

    timeout_s: float = 30.0
    memory_limit_mb: int = 1024
    max_rows: int = 1_000_000
    max_result_bytes: int = 1024 * 2**20

    def __post_init__(self) -> None:
        for name in ("timeout_s", "memory_limit_mb", "max_rows", "max_result_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ConfigurationError(f"query limit {name} must be positive, got {value!r}")
        for name in ("memory_limit_mb", "max_rows", "max_result_bytes"):
            if not isinstance(getattr(self, name), int):
                raise ConfigurationError(f"query limit {name} must be a whole number")


@dataclass(frozen=True)
class Expectation:
    """What the rewrite promises about the statement it generated.

    Attributes:
        policy_subqueries: ``(table, sql)`` for each base-table reference of the analyst's
            query: the policy subquery's SQL that stands in for it (repeats allowed).
        schema_tables: extra-schema tables (``audit.queries``) the statement may name bare.
        forbidden_functions: functions the statement may not call outside a policy subquery,
            beyond those every engine forbids (settings, variables, nested SQL).
    """

    policy_subqueries: tuple[tuple[str, str], ...] = ()
    schema_tables: tuple[str, ...] = ()
    forbidden_functions: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Verified:
    """A statement that holds the invariant, and which policy subqueries it runs.

    Attributes:
        tables: the table of each policy subquery found, in the statement's order.
    """

    tables: tuple[str, ...]


class Cancellation:
    """A request, made from any thread, that a running query stop (a one-way flag).

    The caller keeps it and calls :meth:`cancel` when the answer is no longer wanted; the
    engine checks it while it waits for a worker and while the query runs.

    Example:
        >>> cancel = Cancellation()
        >>> cancel.cancelled
        False
        >>> cancel.cancel()
        >>> cancel.cancelled, cancel.wait(0)
        (True, True)
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask for the query to stop (idempotent)."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._event.is_set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until cancelled or ``timeout_s`` passed; True when cancelled."""
        return self._event.wait(timeout_s)

    def __repr__(self) -> str:
        return f"Cancellation(cancelled={self.cancelled})"


@dataclass(frozen=True)
class QueryResult:
    """A finished query's result: an Arrow IPC stream, spilled to a file or, when small,
    held in memory.

    Attributes:
        query_id: the id the service gave the query (also the file's stem).
        path: the ``.arrows`` file holding the result (Arrow IPC streaming format); it does
            not exist when ``data`` holds the stream.
        schema: column names and Arrow types.
        num_rows: rows in the stream (at most ``max_rows``).
        num_bytes: size of the stream in bytes.
        truncated: True when the query produced more than ``max_rows`` rows.
        fingerprint: SHA-256 (hex) of the stream's bytes, i.e. of the IPC stream a client gets.
        duration_s: time from dispatch to the worker until the stream was complete.
        data: the stream itself for a small result (no file was written), else None.

    Example:
        >>> result = engine.execute("SELECT 1 AS x", {}, limits=QueryLimits(), query_id="q1")
        ... # doctest: +SKIP
        >>> result.to_table().column("x").to_pylist()  # doctest: +SKIP
        [1]
    """

    query_id: str
    path: Path
    schema: pa.Schema
    num_rows: int
    num_bytes: int
    truncated: bool
    fingerprint: str
    duration_s: float
    data: bytes | None = None

    def reader(self) -> pa.RecordBatchReader:
        """Stream the batches from memory or the memory-mapped file (buffers are not copied)."""
        if self.data is not None:
            return pa.ipc.open_stream(pa.py_buffer(self.data))
        return pa.ipc.open_stream(pa.memory_map(str(self.path), "r"))

    def to_table(self) -> pa.Table:
        """The whole result as one table (zero-copy views on the stream's buffers)."""
        return self.reader().read_all()

    def iter_bytes(self, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The raw IPC stream bytes (what the fingerprint covers), in chunks."""
        if self.data is not None:
            for start in range(0, len(self.data), chunk_size):
                yield self.data[start : start + chunk_size]
            return
        with self.path.open("rb") as fh:
            while chunk := fh.read(chunk_size):
                yield chunk

    def read_bytes(self) -> bytes:
        """The whole IPC stream (what the fingerprint covers)."""
        return self.data if self.data is not None else self.path.read_bytes()

    def discard(self) -> None:
        """Delete the result file, if there is one (idempotent)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


@dataclass(frozen=True)
class EngineStats:
    """A snapshot of the engine's workers, for health checks and metrics.

    Attributes:
        workers: configured pool size.
        workers_alive: worker processes alive and able to answer (not stopped).
        restarts: workers replaced since the engine started (killed or died).
        queue_depth: callers waiting for a free worker.
        running: queries executing now.
        completed: queries that returned a result.
        failed: queries that ended in an error (including timeouts and limits, not
            cancellations).
        cancelled: queries stopped because their caller withdrew them.
        workers_stopped: worker processes alive but not running (stopped, e.g. SIGSTOP);
            not counted in ``workers_alive``.
        idle: workers alive and free to take a query now.
        max_queue: callers that may wait for a worker (beyond those running).
        per_user_workers: workers one user may hold at once (fair scheduling).
        reserved_workers: free workers kept for users holding none.
    """

    workers: int
    workers_alive: int
    restarts: int
    queue_depth: int
    running: int
    completed: int
    failed: int
    cancelled: int = 0
    workers_stopped: int = 0
    idle: int = 0
    max_queue: int = 0
    per_user_workers: int = 0
    reserved_workers: int = 0


class Engine(ClosesOnExit):
    """One query engine behind the gateway (ibis-style: a dialect and a few verbs).

    Engines are context managers: leaving the ``with`` block closes them.
    """

    dialect: ClassVar[str]
    #: Whether :attr:`QueryLimits.memory_limit_mb` is enforced per query (ibis-style flag).
    supports_memory_limit: ClassVar[bool] = True

    @abc.abstractmethod
    def execute(
        self,
        sql: str,
        params: Mapping[str, object],
        *,
        limits: QueryLimits,
        query_id: str,
        cancel: Cancellation | None = None,
        user: str | None = None,
    ) -> QueryResult:
        """Run one SELECT (already policy-enforced) and spill its result.

        Args:
            sql: the generated SQL; named parameters are written ``$name``.
            params: values for the named parameters, bound by the engine (never spliced).
            limits: the bounds this query runs under.
            query_id: the service's id for the query; names the result file.
            cancel: when it is cancelled, stop the query (waiting or running) promptly.
            user: whose query it is, for the engine's fair share of workers per user (None:
                not attributed).

        Raises:
            gateway.errors.EngineBusy: no worker came free for ``user`` in time (503).
            gateway.errors.QueryCancelled: ``cancel`` was cancelled before the answer was in
                (no result file is left behind).
            gateway.errors.GatewayError: a subclass saying why, never echoing data values.
        """

    @abc.abstractmethod
    def verify(self, sql: str, expected: Expectation) -> Verified:
        """Check the enforcement invariant on the engine's own parse of ``sql``
        (:mod:`gateway.engines.invariant`): every stored relation read only through the
        expected policy subqueries, no table functions, no raw text.

        Raises:
            gateway.errors.PolicyCheckFailed: the statement breaks the invariant.
            gateway.errors.GatewayError: it is not one parseable SELECT.
        """

    @abc.abstractmethod
    def stats(self) -> EngineStats:
        """Current worker and queue figures."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop all workers; the engine refuses queries afterwards."""
