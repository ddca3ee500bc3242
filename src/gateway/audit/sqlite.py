"""The embedded audit store: one SQLite file (``DIR/audit.sqlite``), safe for many processes.

Durability and ordering:

- Opened by :func:`gateway.sqlite.connect`: WAL journal with ``synchronous=FULL``, so a
  committed append is on disk when ``append`` returns.
- ``BEGIN IMMEDIATE`` around "read head, seal, insert": appends from every process are
  serialised by SQLite's write lock, so the chain stays gap-free and valid; a writer waits up to
  ``busy_timeout`` seconds for the lock.
- Triggers refuse ``UPDATE`` and ``DELETE`` (a guard against mistakes, not against someone
  with write access to the file: that is what :mod:`gateway.audit.verify` is for). The one
  sanctioned deletion is :meth:`SQLiteAuditStore.dispose` (retention): in one transaction it
  appends the ``audit.disposed`` record naming the last record disposed of, deletes the records
  up to it and restores the guards (see :mod:`gateway.audit.disposal`).
- With a ``record_key`` each record's keyed MAC (:func:`~gateway.audit.checkpoints.record_mac`)
  is inserted into ``audit_mac`` (keyed by the record's hash) in the same transaction, and
  ``audit_meta.keyed_from`` names the first keyed ``seq`` (1 for a new log; the next ``seq``
  when an older log is first opened with a key). A keyed log refuses appends from a store
  opened without the key.
- One connection per store, guarded by a lock: safe to share between a web server's threads.

Every SQLite failure (read-only file, disk full, locked too long, corrupted file, missing
directory) becomes :class:`~gateway.errors.AuditUnavailable` with a plain explanation.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "audit.sqlite"
    >>> with SQLiteAuditStore(path) as store:
    ...     e = store.append("policy.loaded", "system", "", {"policy_hash": "ab12"})
    ...     store.head() == (1, e.hash)
    True
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.audit.chain import (
    GENESIS_HASH,
    AuditEvent,
    format_time,
    new_event_id,
    seal,
)
from gateway.audit.checkpoints import record_mac
from gateway.audit.storage import (
    GroupCommit,
    PagedReads,
    PendingAppend,
    record_disposal,
)
from gateway.clock import utc_now
from gateway.errors import AuditUnavailable, InputError
from gateway.lifetime import ClosesOnExit
from gateway.sqlite import connect, transaction

__all__ = ["SCHEMA_VERSION", "SQLiteAuditStore"]

SCHEMA_VERSION = 1

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS audit_event (
        seq INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL UNIQUE,
        time TEXT NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        organisation TEXT NOT NULL,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS audit_event_kind ON audit_event (kind, seq)",
    "CREATE INDEX IF NOT EXISTS audit_event_actor ON audit_event (actor, seq)",
    "CREATE INDEX IF NOT EXISTS audit_event_time ON audit_event (time)",
    """CREATE TRIGGER IF NOT EXISTS audit_event_no_update BEFORE UPDATE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_event_no_delete BEFORE DELETE ON audit_event
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)

# Added without a schema version change (older gateways ignore them): record MACs and facts
# about the log. Created when a log is opened for writing.
_KEYED_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS audit_mac (hash TEXT PRIMARY KEY, mac TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS audit_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TRIGGER IF NOT EXISTS audit_mac_no_update BEFORE UPDATE ON audit_mac
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_mac_no_delete BEFORE DELETE ON audit_mac
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_meta_no_update BEFORE UPDATE ON audit_meta
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_meta_no_delete BEFORE DELETE ON audit_meta
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
)

# Created by the first disposal (:meth:`SQLiteAuditStore.dispose`): where the log now starts.
_DISPOSAL_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS audit_disposal (
        through_seq INTEGER PRIMARY KEY, through_hash TEXT NOT NULL, record_seq INTEGER NOT NULL)""",
    """CREATE TRIGGER IF NOT EXISTS audit_disposal_no_update BEFORE UPDATE ON audit_disposal
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_disposal_no_delete BEFORE DELETE ON audit_disposal
       BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END""",
)

_COLUMNS = "seq, event_id, time, kind, actor, organisation, details, prev_hash, hash"
_TEXT_COLUMNS = ", ".join(
    ["e.seq"]
    + [
        f"CAST(e.{c} AS TEXT)"
        for c in ("event_id", "time", "kind", "actor", "organisation", "details", "prev_hash")
    ]
    + ["CAST(e.hash AS TEXT)"]
)


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return int(row[0]) == 1


def _why(exc: sqlite3.Error, busy_timeout: float) -> str:
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith("SQLITE_READONLY"):
        return "the audit database is read-only"
    if name.startswith("SQLITE_FULL"):
        return "the disk (or the audit database's size limit) is full"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return f"the audit database stayed locked by another writer for over {busy_timeout:g}s"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return "the audit database is corrupted or is not an audit database"
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        return "the audit database cannot be opened (missing directory or no permission)"
    if name.startswith("SQLITE_IOERR"):
        return "an I/O error occurred on the audit database"
    return str(exc)


class SQLiteAuditStore(PagedReads, ClosesOnExit):
    """Append-only, hash-chained audit events in a SQLite file.

    Args:
        path: the database file (created with its schema unless ``read_only``).
        read_only: open for reading and verification only; appends raise AuditUnavailable.
        busy_timeout: seconds an append waits for another process's write lock.
        max_size_bytes: hard cap on the database size; appends beyond it fail as if the disk
            were full (keeps the audit log from filling a shared volume).
        page_rows: rows fetched per read while iterating (the lock is held per page only).
        record_key: key of the record MACs (``DIR/secrets/audit-checkpoint.key``); without it
            records are appended unkeyed, which a keyed log refuses.

    Raises:
        AuditUnavailable: the file cannot be opened, is not an audit log, or is from a newer
            version of the gateway.
    """

    placeholder = "?"
    event_select = f"SELECT {_TEXT_COLUMNS} FROM audit_event e"

    def __init__(
        self,
        path: Path,
        *,
        read_only: bool = False,
        busy_timeout: float = 10.0,
        max_size_bytes: int | None = None,
        page_rows: int = 1000,
        record_key: bytes | None = None,
    ) -> None:
        self.path = Path(path)
        self.page_rows = max(1, page_rows)
        self.read_only = read_only
        self.busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._group = GroupCommit(self._commit)
        self._conn: sqlite3.Connection | None = None
        self._key = record_key or None
        self._keyed_from: int | None = None
        self._has_macs = False
        if read_only and not self.path.exists():
            raise AuditUnavailable(f"audit log {self.path}: no such file")
        try:
            conn = connect(self.path, mode="ro" if read_only else "rwc", busy_timeout=busy_timeout)
        except sqlite3.Error as exc:
            raise self._unavailable("open", exc) from exc
        try:
            self._prepare(conn, max_size_bytes)
        except sqlite3.Error as exc:
            conn.close()
            raise self._unavailable("open", exc) from exc
        except AuditUnavailable:
            conn.close()
            raise
        self._conn = conn

    def _unavailable(self, action: str, exc: sqlite3.Error) -> AuditUnavailable:
        return AuditUnavailable(
            f"audit log {self.path} unavailable ({action}): {_why(exc, self.busy_timeout)}"
        )

    def _prepare(self, conn: sqlite3.Connection, max_size_bytes: int | None) -> None:
        if max_size_bytes is not None:
            page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
            conn.execute(f"PRAGMA max_page_count = {max(1, max_size_bytes // page_size)}")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise AuditUnavailable(
                f"audit log {self.path} has schema version {version}; this gateway reads "
                f"up to {SCHEMA_VERSION}"
            )
        if self.read_only:
            if version == 0:
                raise AuditUnavailable(f"audit log {self.path} is not an audit database")
            self._read_meta(conn)
            return
        self._read_meta(conn)
        if version == 0 or not self._has_macs or (self._key and self._keyed_from is None):
            with transaction(conn):
                if int(conn.execute("PRAGMA user_version").fetchone()[0]) == 0:
                    for statement in _SCHEMA:
                        conn.execute(statement)
                for statement in _KEYED_SCHEMA:
                    conn.execute(statement)
                if self._key is not None:
                    # First keyed open: records from the next seq on carry a MAC.
                    conn.execute(
                        "INSERT OR IGNORE INTO audit_meta (name, value) "
                        "SELECT 'keyed_from', CAST(coalesce(max(seq), 0) + 1 AS TEXT) "
                        "FROM audit_event"
                    )
        self._read_meta(conn)

    @staticmethod
    def _keyed_tables(conn: sqlite3.Connection) -> bool:
        row = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
            "AND name IN ('audit_mac', 'audit_meta')"
        ).fetchone()
        return int(row[0]) == 2

    def _read_meta(self, conn: sqlite3.Connection) -> None:
        self._has_macs = self._keyed_tables(conn)
        self._keyed_from = None
        if self._has_macs:
            row = conn.execute("SELECT value FROM audit_meta WHERE name = 'keyed_from'").fetchone()
            if row is not None:
                try:
                    self._keyed_from = int(row[0])
                except (TypeError, ValueError):
                    self._keyed_from = 1  # an edited value: hold every record to a MAC

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise AuditUnavailable(f"audit log {self.path} is closed")
        return self._conn

    # --- writing ---------------------------------------------------------------------------

    def append(
        self,
        kind: str,
        actor: str,
        organisation: str,
        details: Mapping[str, Any],
        *,
        time: datetime | None = None,
    ) -> AuditEvent:
        """Append one event, durably; see :meth:`gateway.audit.store.AuditStore.append`."""
        if self.read_only:
            raise AuditUnavailable(f"audit log {self.path} was opened read-only")
        return self._group.append(kind, actor, organisation, details, time)

    def _commit(self, batch: Sequence[PendingAppend]) -> None:
        """Seal and insert a batch of appends in one write transaction (group commit)."""
        with self._lock:
            conn = self._connection()
            try:
                with transaction(conn):
                    for item in batch:
                        try:
                            item.event = self._append_in(
                                conn, item.kind, item.actor, item.organisation, item.details,
                                item.time,
                            )  # fmt: skip
                        except (InputError, AuditUnavailable) as exc:  # this record only
                            item.error = exc
            except sqlite3.Error as exc:
                raise self._unavailable("append", exc) from exc

    def _append_in(
        self,
        conn: sqlite3.Connection,
        kind: str,
        actor: str,
        organisation: str,
        details: Mapping[str, Any],
        time: datetime | None,
    ) -> AuditEvent:
        """Seal and insert one event (with its MAC) inside the caller's write transaction."""
        row = conn.execute("SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev_hash = (int(row[0]) + 1, str(row[1])) if row else self._after_disposal(conn)
        when = time if time is not None else utc_now()
        event = seal(seq, new_event_id(when), when, kind, actor, organisation, details, prev_hash)
        if self._key is None and self._has_macs and self._log_is_keyed(conn):
            raise AuditUnavailable(
                f"audit log {self.path} signs its records: open it with its key "
                "(AuditLog.open), not as a bare store"
            )
        conn.execute(
            f"INSERT INTO audit_event ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.seq,
                event.event_id,
                format_time(event.time),
                event.kind,
                event.actor,
                event.organisation,
                event.details_json,
                event.prev_hash,
                event.hash,
            ),
        )
        if self._key is not None:
            conn.execute(
                "INSERT INTO audit_mac (hash, mac) VALUES (?, ?)",
                (event.hash, record_mac(self._key, event.hash)),
            )
        return event

    @staticmethod
    def _after_disposal(conn: sqlite3.Connection) -> tuple[int, str]:
        """Where an empty table's next record goes: after the last disposed one, if any (a
        disposal always leaves its own record, so this only guards a hand-emptied table)."""
        if not _has_table(conn, "audit_disposal"):
            return 1, GENESIS_HASH
        row = conn.execute(
            "SELECT through_seq, through_hash FROM audit_disposal ORDER BY through_seq DESC LIMIT 1"
        ).fetchone()
        return (int(row[0]) + 1, str(row[1])) if row else (1, GENESIS_HASH)

    # --- disposal (retention) ----------------------------------------------------------------

    def disposed_through(self) -> int:
        """The last ``seq`` disposed of (0: none), as the database says; the ``audit.disposed``
        record carries the value verification trusts (:mod:`gateway.audit.disposal`)."""
        with self._lock:
            conn = self._connection()
            try:
                if not _has_table(conn, "audit_disposal"):
                    return 0
                row = conn.execute("SELECT max(through_seq) FROM audit_disposal").fetchone()
            except sqlite3.Error as exc:
                raise self._unavailable("read", exc) from exc
        return int(row[0]) if row and row[0] is not None else 0

    def dispose(
        self,
        through_seq: int,
        kind: str,
        actor: str,
        organisation: str,
        details: Mapping[str, Any],
    ) -> AuditEvent:
        """Delete records ``..through_seq`` (and their MACs) and append the record of it, in one
        transaction: the appended record names the last disposed record's ``seq``, ``hash`` and
        ``event_id`` (``through_seq``, ``through_hash``, ``through_event_id``), the first and
        the number disposed, so the chain of what remains still verifies from there. Deleted
        content is overwritten (``secure_delete``) and the WAL checkpointed into the file.

        Raises:
            InputError: nothing to dispose of at ``through_seq`` (already disposed, or beyond
                the head).
            AuditUnavailable: nothing was disposed or recorded.
        """
        if self.read_only:
            raise AuditUnavailable(f"audit log {self.path} was opened read-only")
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("PRAGMA secure_delete = ON")
                with transaction(conn):
                    event = self._dispose_in(conn, through_seq, kind, actor, organisation, details)
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                raise self._unavailable("dispose", exc) from exc
        return event

    def _dispose_in(
        self,
        conn: sqlite3.Connection,
        through_seq: int,
        kind: str,
        actor: str,
        organisation: str,
        details: Mapping[str, Any],
    ) -> AuditEvent:
        for statement in _DISPOSAL_SCHEMA:
            conn.execute(statement)
        event = record_disposal(
            conn,
            "?",
            through_seq,
            details,
            lambda full: self._append_in(conn, kind, actor, organisation, full, None),
        )
        # The append-only guards are lifted for this one transaction, then put back as they were.
        conn.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
        conn.execute("DROP TRIGGER IF EXISTS audit_mac_no_delete")
        conn.execute("DELETE FROM audit_event WHERE seq <= ?", (through_seq,))
        if self._has_macs:
            conn.execute("DELETE FROM audit_mac WHERE hash NOT IN (SELECT hash FROM audit_event)")
        for statement in (*_SCHEMA, *_KEYED_SCHEMA):
            if "no_delete" in statement:
                conn.execute(statement)
        return event

    @staticmethod
    def _log_is_keyed(conn: sqlite3.Connection) -> bool:
        return (
            conn.execute("SELECT 1 FROM audit_meta WHERE name = 'keyed_from'").fetchone()
            is not None
        )

    # --- reading ---------------------------------------------------------------------------

    def _page(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            conn = self._connection()
            try:
                return conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise self._unavailable("read", exc) from exc

    def _stored_select(self) -> str:
        if self._has_macs:
            return (
                f"SELECT {_TEXT_COLUMNS}, CAST(m.mac AS TEXT) FROM audit_event e "
                "LEFT JOIN audit_mac m ON m.hash = e.hash"
            )
        return f"SELECT {_TEXT_COLUMNS}, NULL FROM audit_event e"

    def keyed_from(self) -> int | None:
        """The first ``seq`` that must carry a record MAC (None: the log is unkeyed), as the
        database says; signed checkpoints carry the value verification trusts."""
        return self._keyed_from

    def check_integrity(self, *, quick: bool = True) -> tuple[str, ...]:
        """SQLite's own consistency check (``quick_check`` or the full ``integrity_check``):
        the problems it names, or ``()``.

        Raises:
            AuditUnavailable: the check could not run (the file is not a database at all, say).
        """
        pragma = "quick_check" if quick else "integrity_check"
        rows = self._page(f"PRAGMA {pragma}", ())
        problems = tuple(str(row[0]) for row in rows)
        return () if problems == ("ok",) else problems

    # --- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
