"""Extra schemas kept in DuckDB files: queries read them while one writer brings them up to date.

DuckDB lets many processes open a file read-only, or one process open it for writing, never
both. A worker attaches a schema file only for a query that names it (see
:func:`gateway.engines.worker.open_for_schema_files`); :class:`SchemaFileLock` makes the
engine's queries on the file (readers) and the service's update of it (the writer) take turns:
any number of queries at once, or the one update, and a waiting update goes before newly
arriving queries so a stream of audit queries never starves it.

Example:
    >>> lock = SchemaFileLock()
    >>> with lock.reading():
    ...     pass
    >>> with lock.writing(timeout_s=1.0):
    ...     pass
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from gateway.errors import EngineUnavailable

__all__ = ["SchemaFileLock"]


class SchemaFileLock:
    """A readers–writer lock, writer-preferring, with a bounded wait."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self, timeout_s: float = 60.0) -> Iterator[None]:
        """Hold the file for one query.

        Raises:
            EngineUnavailable: the writer kept it longer than ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while self._writing or self._writers_waiting:
                if not self._changed.wait(deadline - time.monotonic()):
                    raise EngineUnavailable(
                        f"the schema has been updating for over {timeout_s:g} s; try again"
                    )
            self._readers += 1
        try:
            yield
        finally:
            with self._changed:
                self._readers -= 1
                self._changed.notify_all()

    @contextmanager
    def writing(self, timeout_s: float = 60.0) -> Iterator[None]:
        """Hold the file alone, once every running query on it has finished.

        Raises:
            EngineUnavailable: queries kept it longer than ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        with self._changed:
            self._writers_waiting += 1
            try:
                while self._writing or self._readers:
                    if not self._changed.wait(deadline - time.monotonic()):
                        raise EngineUnavailable(
                            f"the schema stayed in use for over {timeout_s:g} s; try again"
                        )
                self._writing = True
            finally:
                self._writers_waiting -= 1
                self._changed.notify_all()
        try:
            yield
        finally:
            with self._changed:
                self._writing = False
                self._changed.notify_all()
