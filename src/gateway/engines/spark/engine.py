"""SparkEngine: the Engine contract on Apache Spark, over the published Parquet lake.

One statement's path: :func:`~gateway.engines.spark.translate.to_spark` writes the generated
(DuckDB) SQL for Spark; :meth:`SparkEngine.verify` checks the invariant on **Spark's own parse**
of that exact text (:mod:`gateway.engines.spark.invariant`); :meth:`SparkEngine.execute` runs
the same text as one Spark job group, bounded:

- the job group is cancelled (``cancelJobGroup``, interrupting its tasks) when the time limit
  is spent (:class:`~gateway.errors.QueryTimeout`) or the caller withdraws the query
  (:class:`~gateway.errors.QueryCancelled`), and no result file is left behind; a query whose
  jobs are still running ``grace_s`` after that (a task that ignores interruption) is stopped
  harder: the engine restarts its Spark application (every job of it ends; queries running
  beside it fail with :class:`~gateway.errors.EngineUnavailable`), so the next query is not
  starved of the executors' cores — the Spark counterpart of killing a DuckDB worker;
- at most ``max_rows + 1`` rows reach the driver (``LIMIT`` on the plan), collected as Arrow and
  spilled with the same row and byte limits as every engine (:mod:`gateway.engines.spill`);
- parameters are bound by Spark (``spark.sql(text, args=…)``), never spliced into text.

Not bounded here (yet): the memory a query holds on the executors (Spark's own executor memory
settings are the limit; ``QueryLimits.memory_limit_mb`` is not applied).

Example:
    >>> engine = SparkEngine(lake, results, master="local[2]")  # doctest: +SKIP
    >>> engine.execute("SELECT count(*) AS n FROM crime", {}, limits=QueryLimits(),
    ...                query_id="q1").to_table().to_pylist()  # doctest: +SKIP
    [{'n': 2000}]
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

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
from gateway.engines.parameters import bind_parameters
from gateway.engines.spark.invariant import PLAN_NODES, PlanCheck
from gateway.engines.spark.plan import PlanNode, canonical, plan_tree
from gateway.engines.spark.session import lake_session, spark_context_session
from gateway.engines.spark.translate import to_spark
from gateway.engines.spill import discard_result_files, spill_batches
from gateway.errors import (
    Conflict,
    EngineUnavailable,
    GatewayError,
    PolicyCheckFailed,
    QueryCancelled,
    QueryError,
    QueryTimeout,
    SqlParseError,
    StatementNotAllowed,
)

__all__ = ["SparkEngine"]

_POLL_S = 0.05
_GRACE_S = 10.0


class SparkEngine(Engine):
    """Queries on Spark (local mode or a cluster) over a lake published by
    ``gateway warehouse publish --format parquet``.

    Args:
        lake: the published lake directory (or a path Spark reads: ``s3a://…``).
        results: directory for spilled result files.
        master: Spark master: ``local[N]`` or a cluster URL (``spark://host:7077``).
        limits: default limits (the service passes its own per query).
        pseudonym_key: the HMAC key of keyed pseudonyms (None: statements using the
            pseudonym function fail to run).
        grace_s: how long a stopped query's jobs may take to end before the application is
            restarted.
    """

    dialect: ClassVar[str] = "spark"
    supports_memory_limit: ClassVar[bool] = False  # executors' memory is Spark's setting

    def __init__(
        self,
        lake: Path,
        results: Path,
        *,
        master: str = "local[2]",
        limits: QueryLimits | None = None,
        pseudonym_key: bytes | None = None,
        grace_s: float = _GRACE_S,
    ) -> None:
        self.limits = limits or QueryLimits()
        self.results = results
        self.grace_s = grace_s
        results.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._master, self._lake, self._key = master, lake, pseudonym_key
        self._start()
        self._lock = threading.Lock()
        self._closed = False
        self._used: set[str] = set()
        self._counts: Counter[str] = Counter()
        self._running: set[str] = set()  # job groups of queries running now

    def _start(self) -> None:
        """Start (or restart) the Spark application and this engine's session on it."""
        root = spark_context_session(self._master)
        self._session, self._tables = lake_session(root, self._lake, self._key)
        self._context = root.sparkContext
        self._builtins = _builtin_functions(self._session)

    # -- the invariant -------------------------------------------------------------------

    def parse(self, spark_sql: str) -> PlanNode:
        """Spark's unresolved logical plan of ``spark_sql``.

        Raises:
            SqlParseError: Spark cannot parse it.
        """
        parser = self._session._jsparkSession.sessionState().sqlParser()
        try:
            plan = parser.parsePlan(spark_sql)
        except Exception as exc:  # py4j raises Spark's ParseException, converted by pyspark
            if type(exc).__name__ in ("ParseException", "Py4JJavaError"):
                raise SqlParseError("Spark could not parse the statement") from exc
            raise
        return plan_tree(json.loads(str(plan.toJSON())))

    def verify(self, sql: str, expected: Expectation) -> Verified:
        if expected.schema_tables:
            raise StatementNotAllowed("the audit schema is not served by the Spark engine")
        return self.check(to_spark(sql).sql, expected)

    def check(self, spark_sql: str, expected: Expectation) -> Verified:
        """The invariant on Spark's parse of ``spark_sql``, the exact text :meth:`execute` runs
        for the statement (:func:`~gateway.engines.spark.translate.to_spark` of it).

        Raises:
            PolicyCheckFailed: the statement breaks the invariant.
            SqlParseError, StatementNotAllowed: it is not one parseable query.
        """
        tree = self.parse(spark_sql)
        bodies: dict[str, str] = {}
        wanted: Counter[str] = Counter()
        for table, policy_sql in expected.policy_subqueries:
            body = canonical(self.parse(to_spark(policy_sql).sql))
            bodies[body] = table
            wanted[body] += 1
        check = PlanCheck(expected=bodies, reserved=self._tables, builtins=self._builtins)
        verified = check.run(tree)
        check.check_counts(wanted)
        return verified

    # -- running -------------------------------------------------------------------------

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
        with self._lock:
            if self._closed:
                raise EngineUnavailable("the Spark engine is closed")
            if query_id in self._used:
                raise Conflict(f"query id {query_id} was already used")
            self._used.add(query_id)
        statement = to_spark(sql)
        root = self.parse(statement.sql)
        if root.kind not in PLAN_NODES:  # a command or other non-query (no policy check here)
            raise StatementNotAllowed("only SELECT statements are allowed")
        args = dict(bind_parameters(params, statement.parameters))
        path = self.results / f"{query_id}.arrows"
        began = time.perf_counter()
        table = self._run(statement.sql, args, limits, query_id, cancel)
        try:
            summary = spill_batches(
                table.to_reader(),
                path,
                max_rows=limits.max_rows,
                max_result_bytes=limits.max_result_bytes,
            )
        except BaseException:
            discard_result_files(path)
            self._count("failed")
            raise
        path.chmod(0o600)  # results are private to the service (the directory is 0700 too)
        self._count("completed")
        return QueryResult(
            query_id=query_id,
            path=path,
            schema=table.schema,
            num_rows=summary.num_rows,
            num_bytes=summary.num_bytes,
            truncated=summary.truncated,
            fingerprint=summary.fingerprint,
            duration_s=time.perf_counter() - began,
        )

    def _run(
        self,
        spark_sql: str,
        args: dict[str, object],
        limits: QueryLimits,
        group: str,
        cancel: Cancellation | None,
    ) -> pa.Table:
        outcome: dict[str, Any] = {}

        def job() -> None:
            self._context.setJobGroup(group, "gateway query", interruptOnCancel=True)
            try:
                frame = self._session.sql(spark_sql, args=_spark_args(args) or None)
                outcome["table"] = frame.limit(limits.max_rows + 1).toArrow()
            except BaseException as exc:
                outcome["error"] = exc

        worker = threading.Thread(target=job, name=f"spark-{group}", daemon=True)
        with self._lock:
            self._counts["running"] += 1
            self._running.add(group)
        try:
            worker.start()
            deadline = time.monotonic() + limits.timeout_s
            stopped: GatewayError | None = None
            while worker.is_alive():
                worker.join(_POLL_S)
                if not worker.is_alive():
                    break
                if cancel is not None and cancel.cancelled:
                    stopped = QueryCancelled("the query was cancelled: its caller withdrew it")
                elif time.monotonic() >= deadline:
                    stopped = QueryTimeout(
                        f"the query ran longer than its time limit of {limits.timeout_s:g} s "
                        "and was stopped"
                    )
                if stopped is not None:
                    self._stop(group, worker)
                    self._count("cancelled" if isinstance(stopped, QueryCancelled) else "failed")
                    raise stopped
        finally:
            with self._lock:
                self._counts["running"] -= 1
                self._running.discard(group)
        if "error" in outcome:
            self._count("failed")
            raise _translate(outcome["error"]) from None
        result: pa.Table = outcome["table"]
        return result

    def _stop(self, group: str, worker: threading.Thread) -> None:
        """Cancel ``group`` until its thread ends: a job the query submits after a
        cancellation (Spark plans before it runs) is cancelled in turn. A query still running
        after :attr:`grace_s` is stopped harder (module docstring)."""
        give_up = time.monotonic() + self.grace_s
        while (worker.is_alive() or self._tasks_running(group)) and time.monotonic() < give_up:
            self._context.cancelJobGroup(group)
            worker.join(_POLL_S)
        if worker.is_alive() or self._tasks_running(group):
            self._restart()
            worker.join(self.grace_s)

    def _tasks_running(self, group: str) -> bool:
        """Whether tasks of ``group``'s jobs still hold executor cores (a cancelled job is
        marked failed at once; its tasks end when they notice their interruption)."""
        tracker = self._context.statusTracker()
        for job_id in tracker.getJobIdsForGroup(group):
            job = tracker.getJobInfo(job_id)
            for stage_id in job.stageIds if job is not None else ():
                stage = tracker.getStageInfo(stage_id)
                if stage is not None and stage.numActiveTasks > 0:
                    return True
        return False

    def _restart(self) -> None:
        """Stop the Spark application (every job ends) and start a new one."""
        with self._lock:
            self._counts["restarts"] += 1
            self._context.cancelAllJobs()
            self._context.stop()
            self._start()

    def _count(self, what: str) -> None:
        with self._lock:
            self._counts[what] += 1

    def stats(self) -> EngineStats:
        with self._lock:
            alive = 0 if self._closed else 1
            return EngineStats(
                workers=1,
                workers_alive=alive,
                restarts=self._counts["restarts"],
                queue_depth=0,
                running=self._counts["running"],
                completed=self._counts["completed"],
                failed=self._counts["failed"],
                cancelled=self._counts["cancelled"],
                idle=alive,
            )

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for group in list(self._running):
            self._context.cancelJobGroup(group)
        # Stop the application with the engine: a job that ignored its cancellation (a task
        # deep in a huge cartesian product) must not keep the JVM busy after the engine is
        # gone. The next engine in this process starts a new one.
        self._context.cancelAllJobs()
        self._context.stop()


def _builtin_functions(session: Any) -> frozenset[str]:
    """Spark's built-in function names (not the session's temporary or stored ones)."""
    registry = session._jvm.org.apache.spark.sql.catalyst.analysis.FunctionRegistry.builtin()
    names = registry.listFunction()
    iterator = names.iterator()
    out: set[str] = set()
    while iterator.hasNext():
        out.add(str(iterator.next().funcName()).lower())
    return frozenset(out)


def _spark_args(args: Mapping[str, object]) -> dict[str, Any]:
    """Parameter values as Spark binds them (lists as array columns)."""
    from pyspark.sql import functions as F

    out: dict[str, Any] = {}
    for name, value in args.items():
        if isinstance(value, list):
            out[name] = F.array(*[F.lit(v) for v in value])
        else:
            out[name] = value
    return out


def _translate(exc: BaseException) -> GatewayError:
    """A Spark failure as a gateway error naming its error class, never its message (values)."""
    if isinstance(exc, GatewayError):
        return exc
    condition = ""
    for getter in ("getCondition", "getErrorClass"):
        method = getattr(exc, getter, None)
        if callable(method):
            try:
                condition = str(method() or "")
            except Exception:  # noqa: S112 - an old pyspark lacks one of them
                continue
            if condition:
                break
    if type(exc).__name__ == "ParseException":
        return SqlParseError(f"Spark could not parse the statement ({condition or 'syntax'})")
    if condition.startswith("UNSUPPORTED") or "TABLE_OR_VIEW_NOT_FOUND" in condition:
        return PolicyCheckFailed(f"Spark refused the statement ({condition})")
    return QueryError(f"the query failed on Spark ({condition or type(exc).__name__})")
