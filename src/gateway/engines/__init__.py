"""Query engines: the second wall of enforcement.

:class:`Engine` is the contract (see :mod:`gateway.engines.base`); :class:`DuckDBEngine` the
default implementation, running every query in a hardened, killable worker process.

    base         Engine, QueryLimits, QueryResult, EngineStats, Cancellation, Expectation
    invariant    THE enforcement invariant, checked on DuckDB's parse of the text that runs
    duckdb       DuckDBEngine (parse check → worker pool → spilled result), EngineTuning
    hardening    open_hardened: the locked-down, read-only DuckDB connection
    crosscheck   DuckDB's parser as a second look at generated SQL
    pool         worker processes, deadlines, memory watchdog, replacement
    memory       one memory limit per query: DuckDB's share, the OS guard, the peak watch
    worker       the worker process's loop
    spill        record batches → Arrow IPC stream file, with row/byte limits
    translate    DuckDB errors → gateway errors that never echo data values
    parameters   named parameters checked against the statement
    messages     what the parent and workers send each other
    lake         the warehouse published as Parquet (partitioned, manifest) for Spark
    spark/       SparkEngine: the same verified statement on Apache Spark over the lake
"""

from __future__ import annotations

from gateway.engines.base import (
    Cancellation,
    Engine,
    EngineStats,
    Expectation,
    QueryLimits,
    QueryResult,
    Verified,
)
from gateway.engines.duckdb import DuckDBEngine, EngineTuning

__all__ = [
    "Cancellation",
    "DuckDBEngine",
    "Engine",
    "EngineStats",
    "EngineTuning",
    "Expectation",
    "QueryLimits",
    "QueryResult",
    "Verified",
]
