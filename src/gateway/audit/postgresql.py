"""The shared audit store: PostgreSQL, for several gateway hosts writing one hash chain.

The same contract as the embedded store (:class:`gateway.audit.sqlite.SQLiteAuditStore`,
``tests/audit/contract.py``), for deployments where gateway processes on several hosts append
to one log:

- **One chain, no forks.** An append takes a transaction-scoped advisory lock
  (``pg_advisory_xact_lock`` on a key derived from the schema name) before it reads the head,
  seals the record and inserts it, so appends from every process and host are serialised and
  each record's ``prev_hash`` is the hash of the record before it. ``seq`` is also the primary
  key: two writers could never both insert the same ``seq`` even without the lock.
- **Durable before it returns.** The commit waits for the WAL flush (``synchronous_commit``
  is forced ``on`` for the session; with a synchronous standby configured, for the standby
  too).
- **Append-only.** Triggers refuse ``UPDATE``, ``DELETE`` and ``TRUNCATE`` on the tables (a
  guard against mistakes; the hash chain, record MACs and checkpoints are what detect an
  editor with rights to drop the triggers — :mod:`gateway.audit.verify`).
- **Fail closed.** Every database failure (server down, connection lost, permission denied,
  disk full, a statement timeout) becomes :class:`~gateway.errors.AuditUnavailable`; the
  next call reconnects, so a restarted or failed-over server is picked up without restarting
  the gateway.

The tables live in their own schema (``gateway_audit`` unless told), created on first open, so
the log can share a database with the governance register; the database role the gateway uses
needs only ``CREATE`` on that schema the first time and ``SELECT``/``INSERT`` afterwards.

Connection strings are libpq's (``postgresql://user@host:5432/db``); keep passwords out of
them (``PGPASSFILE``, a client certificate or a service file).

Example:
    >>> store = PostgresAuditStore("postgresql://gateway@db.internal/audit")  # doctest: +SKIP
    >>> store.append("policy.loaded", "system", "", {"policy_hash": "ab12"}).seq  # doctest: +SKIP
    1
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

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

__all__ = ["DEFAULT_SCHEMA", "SCHEMA_VERSION", "PostgresAuditStore", "is_postgres_location"]

SCHEMA_VERSION = 1
DEFAULT_SCHEMA = "gateway_audit"
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")

_TABLES = (
    """CREATE TABLE IF NOT EXISTS audit_event (
        seq BIGINT PRIMARY KEY,
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
    "CREATE TABLE IF NOT EXISTS audit_mac (hash TEXT PRIMARY KEY, mac TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS audit_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # Where the log now starts after a retention disposal (PostgresAuditStore.dispose).
    """CREATE TABLE IF NOT EXISTS audit_disposal (
        through_seq BIGINT PRIMARY KEY, through_hash TEXT NOT NULL, record_seq BIGINT NOT NULL)""",
    """CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
       $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$""",
)
_GUARDED = ("audit_event", "audit_mac", "audit_meta", "audit_disposal")

_COLUMNS = "seq, event_id, time, kind, actor, organisation, details, prev_hash, hash"
_SELECT = f"SELECT {_COLUMNS} FROM audit_event e"
_STORED = (
    "SELECT e.seq, e.event_id, e.time, e.kind, e.actor, e.organisation, e.details, "
    "e.prev_hash, e.hash, m.mac FROM audit_event e LEFT JOIN audit_mac m ON m.hash = e.hash"
)


def is_postgres_location(location: str) -> bool:
    """Whether an audit store location names a PostgreSQL database (not a SQLite file).

    >>> is_postgres_location("postgresql://gw@db/audit"), is_postgres_location("/srv/gw")
    (True, False)
    """
    return location.startswith(("postgresql://", "postgres://"))


def _lock_key(schema: str) -> int:
    """The advisory lock serialising appends to one schema's chain (a signed 64-bit key)."""
    digest = hashlib.sha256(f"gateway-audit:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _why(exc: psycopg.Error) -> str:
    """A plain explanation of a database failure (no statement text, no values)."""
    state = getattr(exc, "sqlstate", None) or ""
    if isinstance(exc, psycopg.OperationalError) and not state:
        return "the audit database cannot be reached (server down or connection lost)"
    if state.startswith("28"):
        return "the audit database refused the gateway's credentials"
    if state == "42501":
        return "the gateway's database role lacks a permission on the audit tables"
    if state.startswith("53"):
        return "the audit database is out of resources (disk full or too many connections)"
    if state == "57014":
        return "an audit statement timed out"
    if state.startswith("57") or state.startswith("08"):
        return "the audit database is shutting down or the connection was lost"
    if state == "P0001":
        return "the audit log is append-only"
    return type(exc).__name__


class PostgresAuditStore(PagedReads, ClosesOnExit):
    """Append-only, hash-chained audit events in a PostgreSQL schema.

    Args:
        dsn: a libpq connection string (``postgresql://…``).
        schema: the schema holding the tables (created if missing unless ``read_only``).
        read_only: open for reading and verification only; appends raise AuditUnavailable.
        record_key: key of the record MACs; without it records are appended unkeyed, which a
            keyed log refuses.
        page_rows: rows fetched per read while iterating.
        statement_timeout: seconds any one statement may run (0: no limit).

    Raises:
        AuditUnavailable: the database cannot be reached, the schema is not an audit log (read
            only), or is from a newer version of the gateway.
    """

    placeholder = "%s"
    event_select = _SELECT

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = DEFAULT_SCHEMA,
        read_only: bool = False,
        record_key: bytes | None = None,
        page_rows: int = 1000,
        statement_timeout: float = 30.0,
    ) -> None:
        if not _SCHEMA_NAME.fullmatch(schema):
            raise AuditUnavailable(f"audit schema name {schema!r} is not a plain lower-case name")
        self.dsn = dsn
        self.schema = schema
        self.read_only = read_only
        self.page_rows = max(1, page_rows)
        self.statement_timeout = statement_timeout
        self._key = record_key or None
        self._keyed_from: int | None = None
        self._lock = threading.Lock()
        self._group = GroupCommit(self._commit)
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._closed = False
        with self._lock:
            conn = self._connection("open")
            try:
                self._prepare(conn)
            except psycopg.Error as exc:
                self._drop()
                raise self._unavailable("open", exc) from exc
            except AuditUnavailable:
                self._drop()
                raise

    @property
    def where(self) -> str:
        """The store's location for messages: host, port, database and schema (no password)."""
        try:
            info = psycopg.conninfo.conninfo_to_dict(self.dsn)
        except psycopg.Error:
            return f"schema {self.schema}"
        host = info.get("host") or "localhost"
        return f"postgresql://{host}:{info.get('port') or 5432}/{info.get('dbname')}#{self.schema}"

    def _unavailable(self, action: str, exc: psycopg.Error) -> AuditUnavailable:
        return AuditUnavailable(f"audit log {self.where} unavailable ({action}): {_why(exc)}")

    # --- connection ------------------------------------------------------------------------

    def _connection(self, action: str) -> psycopg.Connection[tuple[Any, ...]]:
        """The open connection, reconnecting after a failure; call with ``_lock`` held."""
        if self._closed:
            raise AuditUnavailable(f"audit log {self.where} is closed")
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._drop()
        timeout = int(self.statement_timeout * 1000)
        options = f"-c statement_timeout={timeout} -c synchronous_commit=on"
        try:
            conn = psycopg.connect(self.dsn, options=options, connect_timeout=10)
        except psycopg.Error as exc:
            raise self._unavailable(action, exc) from exc
        try:
            conn.execute(
                sql.SQL("SET search_path TO {}, pg_catalog").format(sql.Identifier(self.schema))
            )
            conn.commit()
        except psycopg.Error as exc:
            conn.close()
            raise self._unavailable(action, exc) from exc
        self._conn = conn
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    def _prepare(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        exists = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f"{self.schema}.audit_event",)
        ).fetchone()
        conn.commit()
        if not (exists and exists[0]):
            if self.read_only:
                raise AuditUnavailable(f"audit log {self.where} is not an audit database")
            self._create(conn)
        version = self._meta(conn, "schema_version")
        if version is not None and int(version) > SCHEMA_VERSION:
            raise AuditUnavailable(
                f"audit log {self.where} has schema version {version}; this gateway reads "
                f"up to {SCHEMA_VERSION}"
            )
        if not self.read_only and self._key is not None and self._meta(conn, "keyed_from") is None:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(self.schema),))
                conn.execute(
                    "INSERT INTO audit_meta (name, value) "
                    "SELECT 'keyed_from', (coalesce(max(seq), 0) + 1)::text FROM audit_event "
                    "ON CONFLICT (name) DO NOTHING"
                )
        keyed = self._meta(conn, "keyed_from")
        conn.commit()
        try:
            self._keyed_from = None if keyed is None else int(keyed)
        except ValueError:
            self._keyed_from = 1  # an edited value: hold every record to a MAC

    def _create(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        with conn.transaction():
            # Several processes may open a new log at once: one creates, the others wait.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(self.schema),))
            conn.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
            )
            for statement in _TABLES:
                conn.execute(statement.encode())
            for table in _GUARDED:
                conn.execute(
                    sql.SQL(
                        "CREATE OR REPLACE TRIGGER {name} BEFORE UPDATE OR DELETE ON {table} "
                        "FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
                    ).format(
                        name=sql.Identifier(f"{table}_append_only"), table=sql.Identifier(table)
                    )
                )
                conn.execute(
                    sql.SQL(
                        "CREATE OR REPLACE TRIGGER {name} BEFORE TRUNCATE ON {table} "
                        "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
                    ).format(
                        name=sql.Identifier(f"{table}_no_truncate"), table=sql.Identifier(table)
                    )
                )
            conn.execute(
                "INSERT INTO audit_meta (name, value) VALUES ('schema_version', %s) "
                "ON CONFLICT (name) DO NOTHING",
                (str(SCHEMA_VERSION),),
            )

    @staticmethod
    def _meta(conn: psycopg.Connection[tuple[Any, ...]], name: str) -> str | None:
        row = conn.execute("SELECT value FROM audit_meta WHERE name = %s", (name,)).fetchone()
        return None if row is None else str(row[0])

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
            raise AuditUnavailable(f"audit log {self.where} was opened read-only")
        return self._group.append(kind, actor, organisation, details, time)

    def _commit(self, batch: Sequence[PendingAppend]) -> None:
        """Seal and insert a batch of appends in one transaction under the chain's lock."""
        with self._chain("append") as conn:
            for item in batch:
                try:
                    item.event = self._append_in(
                        conn, item.kind, item.actor, item.organisation, item.details, item.time
                    )
                except (InputError, AuditUnavailable) as exc:  # this record only
                    item.error = exc

    @contextlib.contextmanager
    def _chain(self, action: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        """A transaction holding the chain's advisory lock (committed when the block ends;
        any database failure becomes AuditUnavailable, and a broken connection is dropped)."""
        with self._lock:
            conn = self._connection(action)
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(self.schema),))
                    yield conn
            except psycopg.Error as exc:
                self._drop_if_broken()
                raise self._unavailable(action, exc) from exc

    def _append_in(
        self,
        conn: psycopg.Connection[tuple[Any, ...]],
        kind: str,
        actor: str,
        organisation: str,
        details: Mapping[str, Any],
        time: datetime | None,
    ) -> AuditEvent:
        """Seal and insert one record after the head; call holding the chain's advisory lock."""
        row = conn.execute("SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev_hash = (int(row[0]) + 1, str(row[1])) if row else self._after_disposal(conn)
        when = time if time is not None else utc_now()
        event = seal(seq, new_event_id(when), when, kind, actor, organisation, details, prev_hash)
        if self._key is None and self._meta(conn, "keyed_from") is not None:
            raise AuditUnavailable(
                f"audit log {self.where} signs its records: open it with its key "
                "(AuditLog.open), not as a bare store"
            )
        conn.execute(
            f"INSERT INTO audit_event ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
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
                "INSERT INTO audit_mac (hash, mac) VALUES (%s, %s)",
                (event.hash, record_mac(self._key, event.hash)),
            )
        return event

    @staticmethod
    def _after_disposal(conn: psycopg.Connection[tuple[Any, ...]]) -> tuple[int, str]:
        """Where an empty table's next record goes: after the last disposed one, if any."""
        row = conn.execute(
            "SELECT through_seq, through_hash FROM audit_disposal ORDER BY through_seq DESC LIMIT 1"
        ).fetchone()
        return (int(row[0]) + 1, str(row[1])) if row else (1, GENESIS_HASH)

    # --- disposal (retention) ----------------------------------------------------------------

    def disposed_through(self) -> int:
        """The last ``seq`` disposed of (0: none), as the database says; the ``audit.disposed``
        record carries the value verification trusts (:mod:`gateway.audit.disposal`)."""
        rows = self._page("SELECT max(through_seq) FROM audit_disposal", ())
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def dispose(
        self,
        through_seq: int,
        kind: str,
        actor: str,
        organisation: str,
        details: Mapping[str, Any],
    ) -> AuditEvent:
        """Delete records ``..through_seq`` (and their MACs) and append the record of it, in one
        transaction holding the chain's lock (see
        :meth:`gateway.audit.sqlite.SQLiteAuditStore.dispose` for what the record names). The
        append-only triggers are disabled for that transaction only (``ALTER TABLE … DISABLE
        TRIGGER`` is transactional), which needs the role that owns the tables: disposal is an
        administrator's job, not the serving role's. Deleted rows leave the table files at the
        next ``VACUUM``.

        Raises:
            InputError: no record ``through_seq`` (already disposed of, or beyond the head).
            AuditUnavailable: nothing was disposed or recorded.
        """
        if self.read_only:
            raise AuditUnavailable(f"audit log {self.where} was opened read-only")
        with self._chain("dispose") as conn:
            return self._dispose_in(conn, through_seq, kind, actor, organisation, details)

    def _dispose_in(
        self,
        conn: psycopg.Connection[tuple[Any, ...]],
        through_seq: int,
        kind: str,
        actor: str,
        organisation: str,
        details: Mapping[str, Any],
    ) -> AuditEvent:
        event = record_disposal(
            conn,
            "%s",
            through_seq,
            details,
            lambda full: self._append_in(conn, kind, actor, organisation, full, None),
        )
        for table in ("audit_event", "audit_mac"):
            conn.execute(
                sql.SQL("ALTER TABLE {} DISABLE TRIGGER {}").format(
                    sql.Identifier(table), sql.Identifier(f"{table}_append_only")
                )
            )
        conn.execute("DELETE FROM audit_event WHERE seq <= %s", (through_seq,))
        conn.execute(
            "DELETE FROM audit_mac m WHERE NOT EXISTS "
            "(SELECT 1 FROM audit_event e WHERE e.hash = m.hash)"
        )
        for table in ("audit_event", "audit_mac"):
            conn.execute(
                sql.SQL("ALTER TABLE {} ENABLE TRIGGER {}").format(
                    sql.Identifier(table), sql.Identifier(f"{table}_append_only")
                )
            )
        return event

    def _drop_if_broken(self) -> None:
        if self._conn is not None and (self._conn.closed or self._conn.broken):
            self._drop()

    # --- reading ---------------------------------------------------------------------------

    def _stored_select(self) -> str:
        return _STORED

    def _page(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            conn = self._connection("read")
            try:
                rows = conn.execute(query.encode(), params).fetchall()
                conn.commit()
                return rows
            except psycopg.Error as exc:
                self._drop_if_broken()
                if self._conn is not None:
                    self._conn.rollback()
                raise self._unavailable("read", exc) from exc

    def keyed_from(self) -> int | None:
        """The first ``seq`` that must carry a record MAC (None: the log is unkeyed), as the
        database says; signed checkpoints carry the value verification trusts."""
        return self._keyed_from

    def check_integrity(self, *, quick: bool = True) -> tuple[str, ...]:
        """The database's own consistency checks: every table readable (quick), and with
        ``quick=False`` the B-tree indexes checked by ``amcheck`` where the extension is
        installed. The problems found, or ``()``.

        Raises:
            AuditUnavailable: the check could not run.
        """
        problems: list[str] = []
        for table in _GUARDED:
            self._page(f"SELECT count(*) FROM {table}", ())
        if quick:
            return ()
        installed = self._page("SELECT 1 FROM pg_extension WHERE extname = 'amcheck'", ())
        if installed:
            indexes = self._page(
                "SELECT c.oid::regclass::text FROM pg_index i JOIN pg_class c "
                "ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s",
                (self.schema,),
            )
            for (index,) in indexes:
                try:
                    self._page("SELECT bt_index_check(%s::regclass)", (index,))
                except AuditUnavailable as exc:
                    problems.append(f"index {index}: {exc}")
        return tuple(problems)

    # --- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (idempotent); further calls raise AuditUnavailable."""
        with self._lock:
            self._closed = True
            self._drop()
