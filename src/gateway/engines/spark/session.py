"""A Spark session for the gateway: the published lake as views, the pseudonym function.

:func:`spark_context_session` starts (or reuses) the process's Spark application — local mode
(``local[N]``) or a cluster master URL — with the UI off; :func:`lake_session` gives each
engine its own isolated session on it (``newSession``: its own views and functions) holding:

- one temporary view per lake table (:mod:`gateway.engines.lake`), with exactly the
  warehouse's columns in the warehouse's order (partition directories read back, the
  directory-only year column left out);
- ``gw_hmac_sha256(message)``: HMAC-SHA256 of the message's UTF-8 bytes as lower-case hex, the
  same value DuckDB's trusted macro computes (:mod:`gateway.policy.masks`). The key lives in
  the function's definition in the session, never in a statement's text; statements may not
  call the function outside a policy subquery (:mod:`gateway.engines.spark.invariant`).

pyspark is imported only here and in the engine (``pip install 'partnership-gateway[spark]'``;
it needs a Java 17+ runtime).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from gateway.engines.lake import read_manifest
from gateway.errors import ConfigurationError

__all__ = ["PSEUDONYM_FUNCTION", "lake_session", "spark_available", "spark_context_session"]

PSEUDONYM_FUNCTION = "gw_hmac_sha256"

#: Settings of the Spark application (small and quiet for one host; a cluster overrides).
_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.ansi.enabled": "false",  # DuckDB's x / 0 is NULL, not an error
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",  # the warehouse's timestamps have no zone
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def spark_available() -> str | None:
    """None when pyspark and Java are installed; else why not (for skips and errors)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install 'partnership-gateway[spark]')"
    if shutil.which("java") is None:
        return "no Java runtime on PATH (Spark needs Java 17+)"
    return None


def spark_context_session(master: str = "local[2]") -> Any:
    """The process's Spark session on ``master`` (created once, then reused).

    Raises:
        ConfigurationError: pyspark or Java is missing.
    """
    missing = spark_available()
    if missing is not None:
        raise ConfigurationError(f"the Spark engine cannot start: {missing}")
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName("partnership-gateway")
    for key, value in _CONF.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def lake_session(root: Any, lake: Path, pseudonym_key: bytes | None) -> tuple[Any, frozenset[str]]:
    """A new session on ``root``'s application with ``lake``'s tables as views.

    Returns:
        The session and the names of its views (lower case).
    """
    session = root.newSession()
    names: set[str] = set()
    for table in read_manifest(lake):
        frame = session.read.option("basePath", str(lake / table.name)).parquet(
            str(lake / table.name)
        )
        view = frame.select(*[c for c, _ in table.columns])
        view.createOrReplaceTempView(table.name)
        view.limit(1).toArrow()  # warm: the first query's planning and code generation
        names.add(table.name.lower())
    if pseudonym_key is not None:
        session.sql(
            f"CREATE OR REPLACE TEMPORARY FUNCTION {PSEUDONYM_FUNCTION}(message STRING) "
            f"RETURNS STRING RETURN lower(hex(hmac(X'{pseudonym_key.hex()}', "
            "encode(message, 'UTF-8'))))"
        )
    return session, frozenset(names)
