"""Fault injection for the engine tests: a worker that stops answering, as a stuck one does.

A query stuck in engine code that never looks for an interrupt (a long scalar call, one huge
allocation) looks to the pool like a worker that neither answers nor exits, and the pool's
guarantee is that such a worker is killed at the hard deadline and replaced. Which SQL gets
stuck like that changes between engine versions (DuckDB 2.0.0 did not interrupt a long
``levenshtein``; 2.0.1 does), so the tests make the worker unresponsive themselves: SIGSTOP
freezes the whole process (the query, its interrupt timer and the listener thread alike) once
it is busy with the query, and only the pool's SIGKILL can end it.

Example:
    >>> with frozen_when_busy(pid) as frozen:  # doctest: +SKIP
    ...     engine.execute(ENDLESS, {}, limits=limits, query_id="q1")
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

__all__ = ["Freeze", "frozen_when_busy"]

#: CPU time (clock ticks, usually 10 ms each) that shows the worker is running the query.
_BUSY_TICKS = 3


class Freeze:
    """When the worker was frozen (``time.monotonic()``), or None if it never got busy."""

    def __init__(self) -> None:
        self.at: float | None = None


def _cpu_ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime


def _state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


@contextlib.contextmanager
def frozen_when_busy(
    pid: int, *, then: Callable[[], None] | None = None, timeout_s: float = 10.0
) -> Iterator[Freeze]:
    """SIGSTOP worker ``pid`` as soon as it uses CPU (runs a query), then call ``then``.

    On leaving, a worker still frozen (the pool did not kill it: a failing test) is resumed so
    nothing stays stopped behind the test.
    """
    freeze = Freeze()
    idle = _cpu_ticks(pid)
    if idle is None:
        raise ProcessLookupError(pid)

    def watch() -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            ticks = _cpu_ticks(pid)
            if ticks is None:
                return
            if ticks - idle >= _BUSY_TICKS:
                os.kill(pid, signal.SIGSTOP)
                freeze.at = time.monotonic()
                if then is not None:
                    then()
                return
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, name="freeze-worker", daemon=True)
    watcher.start()
    try:
        yield freeze
    finally:
        watcher.join()
        if _state(pid) == "T":
            os.kill(pid, signal.SIGCONT)
