"""What the engine and its worker processes say to each other (all frozen, all picklable).

    parent ──WorkerConfig (at start)──► worker
    parent ◄──────────Ready──────────── worker    (hardened connection open, limits set)
    parent ──────────RunQuery─────────► worker
    parent ◄────QueryDone | QueryFailed─ worker    (result file written, or a safe error)
    parent ──────────Shutdown─────────► worker

    parent ═════Interrupt(query_id)════► worker    (control pipe, read by a listener thread)

The control pipe is one-way and carries only :class:`Interrupt`: the worker's main thread is
inside DuckDB while a query runs, so a second thread listens there and interrupts the
connection if, and only if, that query is still the one running.

Errors cross the process boundary already translated (class name, safe message, position),
never as DuckDB exceptions, so nothing unvetted reaches the parent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.engines.base import QueryLimits

__all__ = [
    "Interrupt",
    "QueryDone",
    "QueryFailed",
    "Ready",
    "RunQuery",
    "Shutdown",
    "TableSnapshot",
    "WorkerConfig",
]


@dataclass(frozen=True)
class WorkerConfig:
    """How every worker opens its hardened connection.

    Attributes:
        warehouse: path of the DuckDB warehouse file (attached read-only).
        catalog: name the warehouse is attached under (its file stem).
        memory_limit_mb: the engine's default query memory limit (DuckDB's ``memory_limit``
            until the first query sets its own share, see :mod:`gateway.engines.memory`).
        threads: DuckDB ``threads`` of each worker.
        temp_directory: where DuckDB may spill (each worker in its own ``worker-<pid>``
            folder under it), or None to forbid spilling.
        max_temp_directory_mb: bound on each worker's spill folder.
        os_memory_guard: limit the data segment (RLIMIT_DATA) while a query runs to what its
            memory limit leaves; False leaves the OS limit off (the parent's watchdog stays).
        batch_rows: rows per Arrow batch pulled from DuckDB.
        inline_result_bytes: a result stream at most this large comes back in the
            :class:`QueryDone` message instead of a file (0: always a file).
        session_variables: ``SET VARIABLE`` name/value pairs set before the lock.
        session_macros: trusted ``CREATE TEMP MACRO`` statements run before the lock (the
            policy's pseudonym function, which keeps ``getvariable`` out of generated SQL).
        attachments: other DuckDB files attached read-only, ``(name, path)`` (the pseudonym
            vault); generated SQL may only reach them where the cross-check allows.
        extra_schemas: names of in-memory catalogs for :class:`TableSnapshot` tables.
        warehouse_identity: when set, the warehouse file's ``(device, inode, size, mtime_ns)``
            it must still have for a worker to open it (derived data — the vault, masked
            projections — was built from exactly that file; a replaced warehouse fails closed
            until the engine is switched to it: :meth:`DuckDBEngine.refresh`).
        schema_files: extra schemas kept in DuckDB files that the service appends to,
            ``(name, path)``; never attached to the worker's own connection (a writer could
            not open the file then), but to a hardened connection opened for each query that
            names one (:attr:`RunQuery.attach`) and closed after it.
    """

    warehouse: str
    catalog: str
    memory_limit_mb: int
    threads: int = 1
    temp_directory: str | None = None
    max_temp_directory_mb: int = 0
    os_memory_guard: bool = True
    batch_rows: int = 65_536
    inline_result_bytes: int = 0
    session_variables: tuple[tuple[str, object], ...] = ()
    session_macros: tuple[str, ...] = ()
    attachments: tuple[tuple[str, str], ...] = ()
    extra_schemas: tuple[str, ...] = ()
    schema_files: tuple[tuple[str, str], ...] = ()
    warehouse_identity: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class TableSnapshot:
    """A named set of read-only tables for one extra schema, as Arrow IPC stream bytes."""

    schema: str
    version: int
    tables: tuple[tuple[str, bytes], ...] = field(default=())


@dataclass(frozen=True)
class RunQuery:
    """Run one SELECT and spill its result to ``result_path``."""

    query_id: str
    sql: str
    params: tuple[tuple[str, object], ...]
    limits: QueryLimits
    result_path: str
    snapshots: tuple[TableSnapshot, ...] = ()
    #: names of :attr:`WorkerConfig.schema_files` the query reads (attached for it alone).
    attach: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ready:
    """The worker is serving; ``pid`` is its process id."""

    pid: int


@dataclass(frozen=True)
class QueryDone:
    """The result is complete: in the result file, or in ``data`` when it was small (then
    there is no file)."""

    num_rows: int
    num_bytes: int
    truncated: bool
    fingerprint: str
    data: bytes | None = None


@dataclass(frozen=True)
class QueryFailed:
    """The query failed; ``error`` names a :mod:`gateway.errors` class, ``message`` is safe."""

    error: str
    message: str
    position: tuple[int, int] | None = None
    worker_unhealthy: bool = False


@dataclass(frozen=True)
class Interrupt:
    """Stop query ``query_id`` if it is still running: its caller withdrew it."""

    query_id: str


@dataclass(frozen=True)
class Shutdown:
    """Close the connection and exit."""
