"""The console's queries in flight in this process, so that their owner can withdraw one.

Each console run carries a run id chosen by the page (``run_id``); while its query runs, its
:class:`~gateway.engines.base.Cancellation` is kept here under (person, run id). The person's
Cancel button asks :meth:`RunningQueries.cancel` with the same id: the engine stops the query
and the service audits it ``cancelled`` — what happens when an API client disconnects. Runs
are kept per person, so nobody can cancel someone else's query (an unknown id and another
person's id get the same answer).

Example:
    >>> from gateway.engines.base import Cancellation
    >>> runs, cancel = RunningQueries(), Cancellation()
    >>> with runs.running("a.khan", "r1", cancel):
    ...     runs.cancel("h.lee", "r1"), runs.cancel("a.khan", "r1")
    (False, True)
    >>> cancel.cancelled, runs.cancel("a.khan", "r1")
    (True, False)
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import Request

from gateway.engines.base import Cancellation

__all__ = ["RunningQueries", "running_queries", "valid_run_id"]

_RUN_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


def valid_run_id(value: str) -> bool:
    """A run id as the page makes them (8 to 64 letters, digits, ``-`` or ``_``).

    Example:
        >>> valid_run_id("3f9a1c0b-2d4e"), valid_run_id("x"), valid_run_id("a b c d e f")
        (True, False, False)
    """
    return _RUN_ID.fullmatch(value) is not None


class RunningQueries:
    """Cancellations of running console queries by (username, run id); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[tuple[str, str], Cancellation] = {}

    @contextmanager
    def running(self, username: str, run_id: str, cancel: Cancellation) -> Iterator[None]:
        """Keep ``cancel`` findable while the block runs (a run id in use is not replaced)."""
        key = (username, run_id)
        with self._lock:
            added = key not in self._runs
            if added:
                self._runs[key] = cancel
        try:
            yield
        finally:
            if added:
                with self._lock:
                    self._runs.pop(key, None)

    def cancel(self, username: str, run_id: str) -> bool:
        """Withdraw ``username``'s run ``run_id``; False when there is none running."""
        with self._lock:
            cancel = self._runs.get((username, run_id))
        if cancel is None:
            return False
        cancel.cancel()
        return True


async def running_queries(request: Request) -> RunningQueries:
    """The application's registry (made on first use; the event loop's thread only)."""
    state = request.app.state
    if not hasattr(state, "console_runs"):
        state.console_runs = RunningQueries()
    runs: RunningQueries = state.console_runs
    return runs
