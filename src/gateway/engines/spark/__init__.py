"""The Apache Spark engine (issue 19): the same enforced SQL over the published Parquet lake.

    plan        Spark's unresolved logical plan as Python data (one JVM call per statement)
    invariant   the enforcement invariant checked on Spark's parse of the text that runs
    translate   the generated DuckDB SQL written for Spark (same values, or refused)
    session     the Spark application, a session per engine with the lake's views
    engine      SparkEngine: verify → run as a cancellable job group → spilled Arrow result

pyspark is imported lazily: importing this package needs no Spark; starting an engine does.
"""

from __future__ import annotations

from gateway.engines.spark.session import spark_available

__all__ = ["spark_available"]
