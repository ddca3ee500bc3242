"""The DuckDB engine: hardened connections in a pool of killable worker processes.

:class:`DuckDBEngine` is what the service calls. Each :meth:`~DuckDBEngine.execute`

1. re-parses the SQL with DuckDB's parser (one SELECT; no table functions, SHOW, PIVOT …)
   and checks the ``$name`` parameters against the statement;
2. hands it to a worker (:mod:`gateway.engines.pool`) whose connection was opened by
   :func:`~gateway.engines.hardening.open_hardened` (a cancelled
   :class:`~gateway.engines.base.Cancellation` interrupts it there);
3. returns a :class:`~gateway.engines.base.QueryResult` over the spilled Arrow file.

:meth:`~DuckDBEngine.verify` checks the enforcement invariant on SQL the rewriter generated.

Workers are started with multiprocessing's ``forkserver`` method, which imports the program's
main module in each worker: a script that creates an engine must keep its top-level code under
``if __name__ == "__main__":`` (console scripts, ``python -m gateway`` and pytest already do).

Example:
    >>> from pathlib import Path
    >>> engine = DuckDBEngine(Path("warehouse.duckdb"), Path("results"), workers=2)
    ... # doctest: +SKIP
    >>> result = engine.execute("SELECT count(*) AS n FROM crime WHERE lsoa_code = $lsoa",
    ...                         {"lsoa": "E01012001"}, limits=QueryLimits(), query_id="q-1")
    ... # doctest: +SKIP
    >>> result.to_table().column("n").to_pylist()  # doctest: +SKIP
    [42]
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import duckdb
import pyarrow as pa

from gateway.engines.base import (
    Cancellation,
    Engine,
    EngineStats,
    Expectation,
    QueryLimits,
    QueryResult,
    Verified,
)
from gateway.engines.crosscheck import ParsedQuery, SqlTreeParser, check_tree
from gateway.engines.hardening import open_hardened, quote_identifier
from gateway.engines.invariant import verify
from gateway.engines.messages import RunQuery, TableSnapshot, WorkerConfig
from gateway.engines.parameters import bind_parameters
from gateway.engines.pool import PoolSettings, WorkerPool
from gateway.engines.schema_files import SchemaFileLock
from gateway.engines.spill import discard_result_files
from gateway.errors import ConfigurationError, Conflict, GatewayError, ParameterError
from gateway.lru import LruCache

__all__ = ["DuckDBEngine", "EngineTuning", "open_hardened"]

T = TypeVar("T")

_REMEMBERED_IDS = 100_000
_QUERY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_MACRO_NAME = re.compile(r"CREATE\s+TEMP\s+MACRO\s+([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)


@dataclass(frozen=True)
class EngineTuning:
    """Knobs most deployments leave alone.

    Attributes:
        threads_per_worker: DuckDB threads in each worker; None: the CPU cores this process may
            use, so a query alone on the engine scans with all of them (queries running at
            once share the cores through the OS; the workers bound how many run).
        spill: let DuckDB spill sorts, joins and aggregates larger than its share of a
            query's memory limit to disk; False refuses them (``resource_limit``) and disables
            DuckDB's local file system altogether.
        temp_directory: where it spills (each worker in its own ``worker-<pid>`` folder,
            removed when the worker ends); None: a ``spill`` folder beside the results
            directory (a deployment passes :attr:`gateway.datadir.DataDir.spill`).
        max_temp_directory_mb: bound on each worker's spill folder.
        os_memory_guard: while a query runs, limit the worker's data segment (RLIMIT_DATA) to
            what the query's memory limit leaves, so most allocations DuckDB does not count
            fail inside the worker without a kill; the parent's watchdog on the worker's peak
            resident memory applies either way (see :mod:`gateway.engines.memory`).
        max_queue: callers that may wait for a worker beyond those running.
        queue_timeout_s: how long a caller waits for a free worker.
        start_timeout_s: how long a new worker may take to start.
        grace_s: time after a query's timeout before its worker is killed.
        batch_rows: rows per Arrow batch pulled from DuckDB.
        inline_result_bytes: results at most this large come back from the worker in memory
            (no result file to create, rename, map and delete); 0 spills every result.
        user_share: fraction of the workers one user may hold at once (at least one).
        reserved_workers: free workers kept for users holding none.
        fair: False for first-come-first-served with no share or reserve (comparisons).
        liveness_deadline_s: an idle worker stopped or dead this long is replaced.
        frozen_query_s: a busy worker stopped this long is killed and replaced.
    """

    threads_per_worker: int | None = None
    spill: bool = True
    temp_directory: Path | None = None
    max_temp_directory_mb: int = 1024
    os_memory_guard: bool = True
    max_queue: int = 64
    queue_timeout_s: float = 30.0
    start_timeout_s: float = 60.0
    grace_s: float = 1.0
    batch_rows: int = 65_536
    inline_result_bytes: int = 1 << 20
    user_share: float = 0.5
    reserved_workers: int = 1
    fair: bool = True
    liveness_deadline_s: float = 1.0
    frozen_query_s: float = 10.0


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, else the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _attached(config: WorkerConfig, files: Mapping[str, Path]) -> tuple[tuple[str, str], ...]:
    """``config``'s attachments with ``files`` attached under their names (replacing any)."""
    attached = dict(config.attachments)
    attached.update({name: str(Path(path).resolve()) for name, path in files.items()})
    return tuple(attached.items())


class DuckDBEngine(Engine):
    """The default engine: a read-only DuckDB warehouse behind hardened, killable workers."""

    dialect = "duckdb"

    def __init__(
        self,
        warehouse: Path,
        results_dir: Path,
        *,
        workers: int | None = None,
        limits: QueryLimits | None = None,
        session_variables: Mapping[str, object] | None = None,
        session_macros: Sequence[str] = (),
        attachments: Mapping[str, Path] | None = None,
        extra_tables: Mapping[str, Mapping[str, pa.Table]] | None = None,
        schema_files: Mapping[str, Path] | None = None,
        tuning: EngineTuning | None = None,
        warehouse_identity: tuple[int, int, int, int] | None = None,
    ) -> None:
        """Open the warehouse and start the workers.

        Args:
            warehouse: the DuckDB warehouse file (opened read-only).
            results_dir: where result files are written (created, mode 0700).
            workers: worker processes; defaults to the number of CPU cores.
            limits: default limits (the workers' initial memory limit comes from here).
            session_variables: ``getvariable()`` values for the policy's SQL (e.g. the
                pseudonym key); set before the configuration is locked, never in SQL text.
            session_macros: trusted ``CREATE TEMP MACRO`` statements defined before the lock.
            attachments: other DuckDB files attached read-only by name (the pseudonym vault).
            extra_tables: read-only tables in extra schemas, ``{schema: {table: arrow}}``,
                e.g. ``{"audit": {"records": table}}``; replace them with
                :meth:`publish_tables`.
            schema_files: read-only extra schemas kept in DuckDB files that the service
                appends to, ``{schema: path}`` (the audit tables); a query naming one reads
                the file as it is after :meth:`update_schema_file`.
            tuning: see :class:`EngineTuning`.
            warehouse_identity: the warehouse file's identity
                (:func:`~gateway.engines.hardening.file_identity`) that data attached beside it
                was derived from: a worker refuses to open a replaced or rewritten warehouse,
                so queries fail closed (503) until :meth:`refresh` switches to it
                (:mod:`gateway.warehouse_refresh` rebuilds the derived files first).

        Raises:
            gateway.errors.ConfigurationError: missing warehouse, bad names, or a worker
                that could not open its hardened connection.
        """
        warehouse = Path(warehouse).resolve()
        if not warehouse.is_file():
            raise ConfigurationError(f"the warehouse {warehouse} does not exist")
        self.limits = limits or QueryLimits()
        self.results_dir = Path(results_dir)
        self.results_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.catalog = warehouse.stem
        quote_identifier(self.catalog)
        tuning = tuning or EngineTuning()
        spill_dir = None
        if tuning.spill:
            spill_dir = Path(tuning.temp_directory or self.results_dir.parent / "spill").resolve()
            spill_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        extra = dict(extra_tables or {})
        files = {name: str(Path(path).resolve()) for name, path in (schema_files or {}).items()}
        for name in files:
            quote_identifier(name)
            if name.lower() in {e.lower() for e in extra}:
                raise ConfigurationError(f"{name!r} is both an extra schema and a schema file")
        self._file_locks = {name.lower(): SchemaFileLock() for name in files}
        self._snapshot_lock = threading.Lock()
        self._snapshots = {schema: _snapshot(schema, 1, tables) for schema, tables in extra.items()}
        self._config = WorkerConfig(
            warehouse=str(warehouse),
            catalog=self.catalog,
            memory_limit_mb=self.limits.memory_limit_mb,
            threads=tuning.threads_per_worker or usable_cores(),
            temp_directory=None if spill_dir is None else str(spill_dir),
            max_temp_directory_mb=tuning.max_temp_directory_mb,
            os_memory_guard=tuning.os_memory_guard,
            batch_rows=tuning.batch_rows,
            inline_result_bytes=tuning.inline_result_bytes,
            session_variables=tuple((session_variables or {}).items()),
            session_macros=tuple(session_macros),
            attachments=tuple((n, str(Path(p).resolve())) for n, p in (attachments or {}).items()),
            extra_schemas=tuple(extra),
            schema_files=tuple(files.items()),
            warehouse_identity=warehouse_identity,
        )
        self._tables, self._reserved = _catalog_names(self._config)
        self._macros = frozenset(_MACRO_NAME.findall(" ".join(self._config.session_macros)))
        self._verified: LruCache[tuple[str, Expectation], Verified] = LruCache(256)
        self._structured: LruCache[str, bool] = LruCache(256)  # texts that passed check_tree
        self._ids_lock = threading.Lock()
        # Ids of recent queries: a result held in memory leaves no file to show its id is
        # taken (bounded: the service's ids are unique by construction; this catches reuse).
        self._used_ids: OrderedDict[str, None] = OrderedDict()
        self._parser = SqlTreeParser()
        self._closed = False
        try:
            self._pool = WorkerPool(
                self._config,
                PoolSettings(
                    size=workers or os.cpu_count() or 1,
                    max_queue=tuning.max_queue,
                    queue_timeout_s=tuning.queue_timeout_s,
                    start_timeout_s=tuning.start_timeout_s,
                    grace_s=tuning.grace_s,
                    user_share=tuning.user_share,
                    reserved_workers=tuning.reserved_workers,
                    fair=tuning.fair,
                    liveness_deadline_s=tuning.liveness_deadline_s,
                    frozen_query_s=tuning.frozen_query_s,
                ),
            )
        except BaseException:
            self._parser.close()
            raise

    def _check_structure(self, parsed: ParsedQuery) -> None:
        """:func:`check_tree`'s structure check (no table functions, no SHOW …), remembered
        for the texts that passed it: a pure function of the text, which templates repeat."""
        if self._structured.get(parsed.sql):
            return
        check_tree(parsed, allowed_tables=None)
        self._structured.put(parsed.sql, True)

    def attach(self, name: str, path: Path) -> None:
        """Attach the DuckDB file ``path`` read-only as catalog ``name`` in every worker from
        now on (the masked projections, built while the engine served: :mod:`gateway.projections`).

        A statement verified or dispatched after this returns sees it: the workers started
        without it are replaced (:meth:`WorkerPool.reconfigure`). Like the vault, the catalog
        is admitted only inside the policy subqueries the engine verifies.

        Raises:
            ConfigurationError: the file cannot be attached (nothing changed).
            EngineUnavailable: a worker with it did not start.
        """
        self._require_open()
        self._switch(replace(self._config, attachments=_attached(self._config, {name: path})))

    def refresh(
        self, warehouse_identity: tuple[int, int, int, int], attachments: Mapping[str, Path]
    ) -> None:
        """Serve the warehouse file as it is now, ``warehouse_identity``
        (:func:`~gateway.engines.hardening.file_identity`), with the files derived from it:
        ``attachments`` replace those attached under the same names (the vault, the
        projections). A worker started before has the old file open and is replaced as by
        :meth:`attach`; one started from now on refuses any other version of the file.

        Raises:
            ConfigurationError: the files cannot be opened as they are now (nothing changed).
            EngineUnavailable: a worker with them did not start.
        """
        self._require_open()
        self._switch(
            replace(
                self._config,
                attachments=_attached(self._config, attachments),
                warehouse_identity=warehouse_identity,
            )
        )

    def _switch(self, config: WorkerConfig) -> None:
        tables, reserved = _catalog_names(config)  # opens it as a worker will
        self._pool.reconfigure(config)
        self._config = config
        self._tables, self._reserved = tables, reserved
        self._verified.clear()

    @property
    def warehouse_tables(self) -> frozenset[str]:
        """Names of the warehouse's tables and views (lower case)."""
        return self._tables

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
        """Run one SELECT in a worker and spill its result (see :meth:`Engine.execute`).

        Example:
            >>> engine.execute("SELECT $x AS x", {"x": 1}, limits=QueryLimits(),
            ...                query_id="q1").num_rows  # doctest: +SKIP
            1
            >>> cancel = Cancellation()  # another thread calls cancel.cancel()
            >>> engine.execute(slow_sql, {}, limits=QueryLimits(), query_id="q2",
            ...                cancel=cancel)  # doctest: +SKIP
            Traceback (most recent call last):
            ...
            gateway.errors.QueryCancelled: the query was cancelled: its caller withdrew it
        """
        self._require_open()
        path = self._result_path(query_id)
        parsed = self._parser.parse(sql)
        self._check_structure(parsed)
        bound = bind_parameters(params, parsed.parameter_names())
        request = RunQuery(query_id, sql, bound, limits, str(path))
        # Only the extra schemas this query names travel with it; a worker loads a new
        # snapshot when a query first needs it, so publishing costs warehouse queries nothing.
        named = parsed.qualifiers()
        snapshots = {k: v for k, v in self._snapshots.items() if k.lower() in named}
        attach = tuple(name for name, _ in self._config.schema_files if name.lower() in named)
        request = replace(request, attach=attach)
        started = time.perf_counter()
        try:
            with ExitStack() as held:
                for name in attach:  # the writer waits until this query is done with the file
                    held.enter_context(self._file_locks[name.lower()].reading())
                done = self._pool.run(request, snapshots, cancel, user=user)
            duration = time.perf_counter() - started
            if done.data is not None:
                schema = pa.ipc.open_stream(pa.py_buffer(done.data)).schema
            else:
                with pa.memory_map(str(path), "r") as source:
                    schema = pa.ipc.open_stream(source).schema
        except BaseException:
            # A worker killed after it finished writing leaves a complete file nobody will
            # read (a killed one mid-write, a partial file): neither outlives the failure.
            discard_result_files(path)
            raise
        return QueryResult(
            query_id=query_id,
            path=path,
            schema=schema,
            num_rows=done.num_rows,
            num_bytes=done.num_bytes,
            truncated=done.truncated,
            fingerprint=done.fingerprint,
            duration_s=duration,
            data=done.data,
        )

    def verify(self, sql: str, expected: Expectation) -> Verified:
        """Check the enforcement invariant on DuckDB's parse of ``sql``
        (:func:`gateway.engines.invariant.verify`); this engine's trusted macros are among the
        functions the statement may not call outside a policy subquery.

        Example:
            >>> engine.verify("SELECT * FROM main.crime", Expectation())  # doctest: +SKIP
            Traceback (most recent call last):
            ...
            gateway.errors.PolicyCheckFailed: the statement reads table main.crime outside its policy subquery (line 1, column 15)
        """
        self._require_open()
        key = (sql, expected)
        known = self._verified.get(key)  # a pure function of the text and the expectation
        if known is not None:
            return known
        found = verify(
            self._parser,
            sql,
            replace(expected, forbidden_functions=expected.forbidden_functions | self._macros),
            catalog=self.catalog,
            reserved=self._reserved,
        )
        self._verified.put(key, found)
        self._structured.put(sql, True)  # verify ran check_tree on this very parse
        return found

    def publish_tables(self, schema: str, tables: Mapping[str, pa.Table]) -> None:
        """Replace an extra schema's tables; workers load them for the next query naming it.

        Example:
            >>> engine.publish_tables("audit", {"records": records})  # doctest: +SKIP
        """
        if schema not in self._config.extra_schemas:
            raise ConfigurationError(
                f"{schema!r} is not an extra schema of this engine "
                f"(declared: {', '.join(self._config.extra_schemas) or 'none'})"
            )
        with self._snapshot_lock:
            version = self._snapshots[schema].version + 1
            self._snapshots = {**self._snapshots, schema: _snapshot(schema, version, tables)}

    def update_schema_file(
        self, schema: str, update: Callable[[], T], *, timeout_s: float = 60.0
    ) -> T:
        """Run ``update`` (which writes the schema's file) while no query has the file open.

        Example:
            >>> engine.update_schema_file("audit", live.catch_up)  # doctest: +SKIP
            1042

        Raises:
            ConfigurationError: ``schema`` is not a schema file of this engine.
            EngineUnavailable: running queries held the file longer than ``timeout_s``.
        """
        lock = self._file_locks.get(schema.lower())
        if lock is None:
            raise ConfigurationError(f"{schema!r} is not a schema file of this engine")
        with lock.writing(timeout_s):
            return update()

    def stats(self) -> EngineStats:
        """Worker and queue figures (see :class:`~gateway.engines.base.EngineStats`)."""
        return self._pool.stats()

    def worker_pids(self) -> list[int]:
        """Process ids of the current workers."""
        return self._pool.worker_pids()

    def close(self) -> None:
        """Stop the workers and the parser connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._pool.close()
        self._parser.close()

    def _require_open(self) -> None:
        if self._closed:
            raise GatewayError("the engine is closed")

    def _result_path(self, query_id: str) -> Path:
        if not _QUERY_ID.match(query_id):
            raise ParameterError(
                "a query id is 1-128 letters, digits, '-' or '_', starting with a letter or digit"
            )
        path = self.results_dir / f"{query_id}.arrows"
        with self._ids_lock:
            if path.exists() or query_id in self._used_ids:
                raise Conflict(f"a result for query {query_id} already exists")
            self._used_ids[query_id] = None
            if len(self._used_ids) > _REMEMBERED_IDS:
                self._used_ids.popitem(last=False)
        return path


def _snapshot(schema: str, version: int, tables: Mapping[str, pa.Table]) -> TableSnapshot:
    quote_identifier(schema)
    payloads = []
    for name, table in tables.items():
        quote_identifier(name)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        payloads.append((name, sink.getvalue().to_pybytes()))
    return TableSnapshot(schema, version, tuple(payloads))


def _catalog_names(config: WorkerConfig) -> tuple[frozenset[str], frozenset[str]]:
    """The warehouse's own tables, and every table/view name a bare reference could reach."""
    con = open_hardened(config)
    try:
        own = con.execute(
            "SELECT lower(table_name) FROM duckdb_tables() WHERE database_name = $catalog "
            "UNION SELECT lower(view_name) FROM duckdb_views() WHERE database_name = $catalog",
            {"catalog": config.catalog},
        ).fetchall()
        everything = con.execute(
            "SELECT lower(table_name) FROM duckdb_tables() "
            "UNION SELECT lower(view_name) FROM duckdb_views()"
        ).fetchall()
    except duckdb.Error as exc:
        raise ConfigurationError(
            f"cannot list the warehouse's tables ({type(exc).__name__})"
        ) from None
    finally:
        con.close()
    return frozenset(r[0] for r in own), frozenset(r[0] for r in everything)
