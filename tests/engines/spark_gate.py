"""Whether the Spark engine's tests run: only when asked (``GATEWAY_TEST_SPARK=1``).

The default suite leaves them out: a Spark session costs a JVM and ~40 s to start, and under a
loaded machine a timed-out Spark job is not always withdrawn in time for the next query (issue
19, open), which would make the default run flaky. Run them with
``GATEWAY_TEST_SPARK=1 python -m pytest tests/engines``.
"""

from __future__ import annotations

import os

from gateway.engines.spark import spark_available

__all__ = ["spark_skip_reason"]


def spark_skip_reason() -> str | None:
    """Why the Spark tests are skipped here (None: run them)."""
    if os.environ.get("GATEWAY_TEST_SPARK") != "1":
        return "the Spark engine's tests run with GATEWAY_TEST_SPARK=1 (JVM, slow, issue 19)"
    return spark_available()
