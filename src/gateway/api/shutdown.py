"""The serving process is stopping: withdraw the work in flight, then wait for it to end.

On SIGTERM (or SIGINT) the server (:mod:`gateway.api.server`) stops accepting connections and
calls :meth:`Shutdown.begin`. Every route's blocking work runs under
:func:`~gateway.api.disconnect.run_until_disconnect`, whose watcher sees the flag within a
poll and cancels the work's :class:`~gateway.engines.base.Cancellation`: the engine stops the
query, the service audits it as ``cancelled``, and the client gets a JSON 503 instead of a cut
connection. The app's lifespan then waits (:meth:`Shutdown.wait_idle`) until that work has
returned — its audit records written, its export folders removed — before it closes the
engine and the audit log.

Example:
    >>> shutdown = Shutdown()
    >>> with shutdown.working():
    ...     shutdown.active
    1
    >>> shutdown.begin()
    >>> shutdown.started, shutdown.wait_idle(0.1)
    (True, True)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from gateway.errors import EngineUnavailable, QueryCancelled

__all__ = ["Shutdown", "stopped_by_shutdown"]


def stopped_by_shutdown(cancelled: QueryCancelled) -> EngineUnavailable:
    """What the client of a query the stopping server withdrew is told (503, its query id)."""
    stopped = EngineUnavailable(
        "the gateway is shutting down: the query was cancelled (audited as cancelled); "
        "send it again in a moment"
    )
    stopped.query_id = cancelled.query_id
    return stopped


class Shutdown:
    """A one-way "stopping" flag and a count of the work in flight (thread-safe)."""

    def __init__(self) -> None:
        self._started = threading.Event()
        self._idle = threading.Condition()
        self._active = 0

    def begin(self) -> None:
        """Start stopping (idempotent; safe from any thread)."""
        self._started.set()

    @property
    def started(self) -> bool:
        """True once :meth:`begin` was called."""
        return self._started.is_set()

    @property
    def active(self) -> int:
        """Pieces of work in flight."""
        with self._idle:
            return self._active

    @contextmanager
    def working(self) -> Iterator[None]:
        """Count the work inside the block as in flight."""
        with self._idle:
            self._active += 1
        try:
            yield
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until no work is in flight or ``timeout_s`` passed; True when idle."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._active:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
            return True
