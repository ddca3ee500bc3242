"""A query's time limit inside a worker: one watch thread for the worker's life, armed per query.

The worker's main thread is inside DuckDB while a query runs, so the limit is kept by another
thread that calls ``con.interrupt()`` when the time is spent. Starting a thread per query (a
``threading.Timer``) cost a thread start and join every time — about 0.3 ms on a busy 2-core
host, more than DuckDB spends on a trivial query. :class:`QueryDeadline` keeps one thread and
arms it: arming only stores the deadline, and wakes the thread only when the new deadline is
earlier than the moment it will wake anyway (queries of one level share a time limit, so a
later query's deadline is later: no wake-up per query).

Example:
    >>> deadline = QueryDeadline(idle_wake_s=60.0)
    >>> with deadline.armed(0.05, lambda: print("interrupt")) as watch:
    ...     time.sleep(0.3)
    interrupt
    >>> watch.fired
    True
    >>> with deadline.armed(5.0, lambda: print("never")) as watch:
    ...     pass
    >>> watch.fired
    False
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["DeadlineWatch", "QueryDeadline"]


@dataclass
class DeadlineWatch:
    """One armed query: ``fired`` is True once its interrupt was called."""

    fired: bool = False


class QueryDeadline:
    """Calls a query's interrupt when its time limit is spent (thread-safe; one query at a
    time). The watch thread starts on first use and is a daemon.

    Args:
        idle_wake_s: how long the thread sleeps when nothing is armed (it then looks again);
            a deadline further away than its wake-up needs no wake-up to arm.
    """

    def __init__(self, *, idle_wake_s: float = 60.0) -> None:
        self._idle_wake_s = idle_wake_s
        self._changed = threading.Condition()
        self._deadline: float | None = None
        self._interrupt: Callable[[], None] | None = None
        self._watch: DeadlineWatch | None = None
        self._wakes_at: float | None = None  # None: waiting without a time limit, or not started
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def armed(self, timeout_s: float, interrupt: Callable[[], None]) -> Iterator[DeadlineWatch]:
        """Within the block, ``interrupt`` is called once if ``timeout_s`` passes."""
        watch = DeadlineWatch()
        with self._changed:
            self._start()
            deadline = time.monotonic() + timeout_s
            self._deadline, self._interrupt, self._watch = deadline, interrupt, watch
            if self._wakes_at is None or deadline < self._wakes_at:
                self._changed.notify()
        try:
            yield watch
        finally:
            with self._changed:  # after this, the interrupt is never called for this query
                if self._watch is watch:
                    self._deadline = self._interrupt = self._watch = None

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="gateway-query-deadline", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                if self._deadline is not None and now >= self._deadline:
                    interrupt, watch = self._interrupt, self._watch
                    self._deadline = self._interrupt = self._watch = None
                    if watch is not None:
                        watch.fired = True
                    if interrupt is not None:
                        interrupt()
                    continue
                self._wakes_at = self._deadline or now + self._idle_wake_s
                self._changed.wait(self._wakes_at - now)
