"""How the gateway opens its SQLite files: one opener, one set of pragmas.

``DIR/audit.sqlite`` (the audit log) and ``DIR/governance.sqlite`` (the governance register and
the API tokens, shared by :mod:`gateway.governance` and :mod:`gateway.auth.tokens`) are opened
only through :func:`connect`, so every connection to the same file behaves the same:

- ``journal_mode=WAL`` (set whenever a file is opened for writing; it is stored in the file):
  readers never block the writer nor each other, across the server's threads, its workers
  and command-line runs sharing the directory.
- ``synchronous=FULL``: a committed transaction is on disk when ``COMMIT`` returns, even
  after a power cut (``NORMAL`` in WAL mode may lose the last commits). The audit log is
  durable before results leave, a grant or a revocation before it is acted on. (``EXTRA``
  adds nothing in WAL mode.)
- ``foreign_keys=ON``: SQLite leaves them off per connection unless asked; the governance
  tables rely on them.
- ``busy_timeout``: a writer waits this long for another process's write lock before failing.
- Autocommit (``isolation_level=None``): callers open their own transactions with
  :func:`transaction`, ``BEGIN IMMEDIATE`` when they will write, so the write lock is taken up
  front rather than on upgrade.
- ``check_same_thread=False``: a caller that shares a connection between threads guards it
  itself.

Errors are :class:`sqlite3.Error`; each caller says what the file was for in its own error.

Example:
    >>> import tempfile, pathlib
    >>> con = connect(pathlib.Path(tempfile.mkdtemp()) / "example.sqlite")
    >>> [con.execute(f"PRAGMA {p}").fetchone()[0] for p in ("journal_mode", "synchronous",
    ...                                                     "foreign_keys", "busy_timeout")]
    ['wal', 2, 1, 10000]
    >>> with transaction(con):
    ...     _ = con.execute("CREATE TABLE t (x INTEGER)")
    >>> with transaction(con):
    ...     _ = con.execute("INSERT INTO t VALUES (1)")
    ...     raise ValueError("changed my mind")
    Traceback (most recent call last):
    ...
    ValueError: changed my mind
    >>> con.execute("SELECT count(*) FROM t").fetchone()[0], con.in_transaction
    (0, False)
    >>> con.close()
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

__all__ = ["OpenMode", "connect", "transaction"]

#: ``ro``: read only (the file must exist); ``rw``: read and write an existing file; ``rwc``:
#: create it if missing.
OpenMode = Literal["ro", "rw", "rwc"]


def connect(
    path: Path, *, mode: OpenMode = "rwc", busy_timeout: float = 10.0
) -> sqlite3.Connection:
    """Open one of the gateway's SQLite files with the gateway's pragmas (see the module).

    Args:
        path: the database file.
        mode: ``ro``, ``rw`` or ``rwc`` (see :data:`OpenMode`); a writable open switches the
            file to WAL.
        busy_timeout: seconds to wait for another connection's lock.

    Raises:
        sqlite3.Error: the file cannot be opened or prepared.
    """
    conn = sqlite3.connect(
        f"{Path(path).absolute().as_uri()}?mode={mode}",
        uri=True,
        timeout=busy_timeout,
        isolation_level=None,
        check_same_thread=False,
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        if mode != "ro":
            _use_wal(conn, busy_timeout)
    except BaseException:
        conn.close()
        raise
    return conn


class Transactional(Protocol):
    """A connection :func:`transaction` can drive (SQLite's, or the register's on PostgreSQL:
    :mod:`gateway.register_store`)."""

    def execute(self, sql: str, /) -> Any: ...

    @property
    def in_transaction(self) -> bool: ...


Conn = TypeVar("Conn", bound=Transactional)


@contextmanager
def transaction(conn: Conn, *, write: bool = True) -> Iterator[Conn]:
    """One transaction on a :func:`connect` connection: ``BEGIN IMMEDIATE`` (``write``: the
    write lock at once, waiting up to the busy timeout) or ``BEGIN`` (a read snapshot);
    ``COMMIT`` when the block completes, ``ROLLBACK`` if it raises or the commit fails.

    Raises:
        sqlite3.Error: the transaction could not begin or commit.
    """
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield conn
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")


def _use_wal(conn: sqlite3.Connection, busy_timeout: float) -> None:
    # Changing the journal mode does not wait on SQLite's busy handler: when several processes
    # open a new file at once, retry until busy_timeout like any other write.
    deadline = time.monotonic() + busy_timeout
    while conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        try:
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            busy = (getattr(exc, "sqlite_errorname", "") or "").startswith("SQLITE_BUSY")
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.005)
