"""The audit tables in a derived DuckDB file, caught up incrementally from the audit store.

Senior analysts query ``audit.queries``, ``audit.events``, ``audit.exports`` and ``audit.access``
(:mod:`gateway.audit.tables`). Held in memory, those tables grow the service with every record;
:class:`LiveAuditTables` keeps them instead in a DuckDB file beside the log
(:attr:`gateway.datadir.DataDir.audit_tables`), which the engine's workers attach read-only for
the queries that name the ``audit`` schema. The service's memory no longer depends on the
log's length.

The file is derived, never evidence: the store and its hash chain stay authoritative, and
``gateway audit verify`` never reads it. It is brought up to date by :meth:`~LiveAuditTables.
catch_up` (the service calls it before every audit query, so a query sees every record committed
before it runs, its own ``query.started`` included):

- the file's head (``seq``, ``hash`` of the last record it holds) is compared with the store's
  record at that ``seq``; a missing or unreadable file, another format, or a head the store
  disagrees with (a restored or replaced log), or records the store has disposed of under the
  retention schedule, mean the file is rebuilt from the store;
- the records after the head are read in batches, each applied in one DuckDB transaction with
  the new head, so a crash leaves the file at a batch boundary:

  - ``events`` and ``access``: every record is final, its rows are appended;
  - ``queries``: the row of each query a batch touches is rebuilt from its records (earlier ones
    read back from the file's ``events`` table, from the query's ``first_seq`` on) and replaced;
  - ``exports``: a registered export's row changes when it is approved, rejected, downloaded or
    pruned, so when a batch holds an ``export.*`` record the register is folded again from the
    export records (exports are few next to queries).

The file is created private (0600), like every file of the data directory.

Example:
    >>> import tempfile, pathlib
    >>> from gateway.audit.sqlite import SQLiteAuditStore
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> store = SQLiteAuditStore(folder / "audit.sqlite")
    >>> live = LiveAuditTables(store, folder / "audit-tables.duckdb")
    >>> _ = store.append("query.started", "a.khan", "MBC", {"query_id": "Q1"})
    >>> live.refresh().queries.column("complete").to_pylist()
    [False]
    >>> _ = store.append("query.completed", "a.khan", "MBC", {"query_id": "Q1", "outcome": "ok"})
    >>> live.refresh().queries.column("complete").to_pylist()
    [True]
    >>> store.close()
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from gateway.audit.chain import GENESIS_HASH, AuditEvent
from gateway.audit.kinds import EXPORT_KINDS, QUERY_KINDS
from gateway.audit.store import AuditStore
from gateway.audit.tables import (
    EXPORTS_SCHEMA,
    QUERIES_SCHEMA,
    SCHEMAS,
    AuditTables,
    access_table,
    events_table,
    export_row,
    query_row,
)
from gateway.audit.views import ExportFold, assemble_queries
from gateway.errors import AuditUnavailable, GatewayError

__all__ = ["FORMAT", "LiveAuditTables"]

#: Version of the file's layout; a file of another version is rebuilt (2: ``queries.channel``;
#: 3: ``queries.marking``).
FORMAT = 3

log = logging.getLogger("gateway.audit")

_STATE = "gateway_state"
_EVENT_COLUMNS = "seq, event_id, time, kind, actor, organisation, details, prev_hash, hash"


class LiveAuditTables:
    """The four audit tables of a store, kept in a derived DuckDB file.

    Args:
        store: the audit store to follow (not owned: not closed here).
        path: the derived file (created, or rebuilt, as needed).
        batch_events: records applied per transaction.
        lock_timeout_s: how long to wait for the file while another process holds it.
        memory_limit_mb: DuckDB's memory limit while catching up.
    """

    def __init__(
        self,
        store: AuditStore,
        path: Path,
        *,
        batch_events: int = 2000,
        lock_timeout_s: float = 10.0,
        memory_limit_mb: int = 256,
    ) -> None:
        self.store = store
        self.path = Path(path)
        self.batch_events = max(1, batch_events)
        self.lock_timeout_s = lock_timeout_s
        self.memory_limit_mb = memory_limit_mb
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._background: threading.Thread | None = None

    # --- writing ---------------------------------------------------------------------------

    def catch_up(self) -> int:
        """Apply every record committed after the file's head; the ``seq`` now held.

        Raises:
            AuditUnavailable: the store cannot be read, or the file cannot be written.
        """
        with self._lock:
            con = self._open()
            try:
                seq = self._checked_head(con)
                if seq is None:
                    con.close()
                    self._remove()
                    con = self._open()
                    seq = 0
                records = iter(self.store.events(after_seq=seq))
                while not self._stopping.is_set() and (
                    batch := list(islice(records, self.batch_events))
                ):
                    self._apply(con, batch)
                    seq = batch[-1].seq
                return seq
            except duckdb.Error as exc:
                raise self._unavailable(exc) from None
            finally:
                con.close()
                _private(self.path)

    def _open(self) -> duckdb.DuckDBPyConnection:
        """Open the file for writing (creating its tables), waiting while another process has
        it open; a file DuckDB cannot read is removed and started again, once."""
        deadline = time.monotonic() + self.lock_timeout_s
        removed = False
        while True:
            try:
                con = duckdb.connect(
                    str(self.path),
                    config={"threads": 1, "memory_limit": f"{self.memory_limit_mb}MB"},
                )
            except duckdb.Error as exc:
                if "lock" in str(exc).lower() and time.monotonic() < deadline:
                    time.sleep(0.02)
                    continue
                if "lock" not in str(exc).lower() and not removed:
                    self._remove()  # not a DuckDB file, or damaged: it is only derived
                    removed = True
                    continue
                raise self._unavailable(exc) from None
            _private(self.path)  # before any record is written, whatever the umask
            try:
                con.execute("SET TimeZone = 'UTC'")
                _create(con)
            except duckdb.Error as exc:
                con.close()
                if removed:
                    raise self._unavailable(exc) from None
                self._remove()
                removed = True
                continue
            return con

    def _unavailable(self, exc: duckdb.Error) -> AuditUnavailable:
        return AuditUnavailable(
            f"the audit tables file {self.path} cannot be used ({type(exc).__name__})"
        )

    def _remove(self) -> None:
        for path in (self.path, self.path.with_name(self.path.name + ".wal")):
            path.unlink(missing_ok=True)

    def _checked_head(self, con: duckdb.DuckDBPyConnection) -> int | None:
        """The file's head ``seq`` if the store agrees with it, else None (rebuild): also when
        the file still holds records the store has since disposed of (retention)."""
        rows = con.execute(f"SELECT format, seq, hash FROM {_STATE}.head").fetchall()
        if len(rows) != 1 or rows[0][0] != FORMAT:
            return None
        seq, hash_ = int(rows[0][1]), str(rows[0][2])
        if seq == 0:
            return 0
        stored = self.store.stored_record(seq)
        if stored is None or stored.hash != hash_:
            return None
        oldest = con.execute("SELECT min(seq) FROM events").fetchall()
        disposed = self.store.disposed_through()
        if disposed and oldest and oldest[0][0] is not None and int(oldest[0][0]) <= disposed:
            return None
        return seq

    def _apply(self, con: duckdb.DuckDBPyConnection, batch: list[AuditEvent]) -> None:
        con.execute("BEGIN TRANSACTION")
        try:
            _insert(con, "events", events_table(batch))
            _insert(con, "access", access_table(batch))
            self._replace_queries(con, batch)
            if any(e.kind in EXPORT_KINDS for e in batch):
                self._refold_exports(con)
            con.execute(
                f"UPDATE {_STATE}.head SET seq = $seq, hash = $hash",
                {"seq": batch[-1].seq, "hash": batch[-1].hash},
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _replace_queries(self, con: duckdb.DuckDBPyConnection, batch: list[AuditEvent]) -> None:
        mine = [e for e in batch if e.kind in QUERY_KINDS]
        ids = list(dict.fromkeys(_query_id(e) for e in mine))
        if not ids:
            return
        # A query's earlier records lie at or after its row's first_seq.
        earlier = _read_events(
            con,
            "seq < $first AND seq >= (SELECT coalesce(min(first_seq), $first) FROM queries "
            "WHERE list_contains($ids, query_id)) AND list_contains($kinds, kind) "
            "AND list_contains($ids, coalesce(json_extract_string(details, '$.query_id'), ''))",
            {"first": batch[0].seq, "ids": ids, "kinds": [str(k) for k in QUERY_KINDS]},
        )
        rows = [query_row(view) for view in assemble_queries([*earlier, *mine])]
        con.execute("DELETE FROM queries WHERE list_contains($ids, query_id)", {"ids": ids})
        _insert(con, "queries", pa.Table.from_pylist(rows, schema=QUERIES_SCHEMA))

    def _refold_exports(self, con: duckdb.DuckDBPyConnection) -> None:
        fold = ExportFold()
        for event in _read_events(
            con, "list_contains($kinds, kind)", {"kinds": [str(k) for k in EXPORT_KINDS]}
        ):
            fold.add(event)
        rows = [export_row(view) for view in fold.views()]
        con.execute("DELETE FROM exports")
        _insert(con, "exports", pa.Table.from_pylist(rows, schema=EXPORTS_SCHEMA))

    def catch_up_in_background(self, run: Callable[[], object] | None = None) -> threading.Thread:
        """Catch up in a daemon thread (a first build of a long log takes minutes), through
        ``run`` when given (the engine's :meth:`~gateway.engines.DuckDBEngine.
        update_schema_file`, so no query has the file open meanwhile). A failure is logged;
        the next audit query catches up again.
        """

        def work() -> None:
            try:
                (run or self.catch_up)()
            except GatewayError as exc:
                log.warning("the audit tables could not be caught up: %s", exc.message)

        thread = threading.Thread(target=work, name="gateway-audit-tables", daemon=True)
        thread.start()
        self._background = thread
        return thread

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop catching up after the batch in hand and wait for a background catch-up to
        end, so no thread is inside DuckDB when the process exits (the file keeps every batch
        applied; the next catch-up goes on from there)."""
        self._stopping.set()
        if self._background is not None:
            self._background.join(timeout_s)

    # --- reading (tests, reports) ----------------------------------------------------------

    def refresh(self) -> AuditTables:
        """Catch up, then read the four tables back whole (for tests and small logs: a
        deployment's queries read the file in the engine's workers instead).

        Raises:
            AuditUnavailable: as :meth:`catch_up`.
        """
        self.catch_up()
        with self._lock:
            con = duckdb.connect(str(self.path), read_only=True)
            try:
                con.execute("SET TimeZone = 'UTC'")
                order = {"events": "seq", "access": "seq"}
                read = {
                    name: _arrow(
                        con, f"SELECT * FROM {name} ORDER BY {order.get(name, 'rowid')}"
                    ).cast(schema)
                    for name, schema in SCHEMAS.items()
                }
            finally:
                con.close()
        return AuditTables(**read)


def _create(con: duckdb.DuckDBPyConnection) -> None:
    """The four tables (typed from their Arrow schemas) and the head, in a new file."""
    made = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = $schema AND table_name = 'head'",
        {"schema": _STATE},
    ).fetchall()
    if made == [(1,)]:
        return
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {_STATE}")
        con.execute(f"CREATE TABLE {_STATE}.head (format INTEGER, seq BIGINT, hash VARCHAR)")
        con.execute(
            f"INSERT INTO {_STATE}.head VALUES ($format, 0, $hash)",
            {"format": FORMAT, "hash": GENESIS_HASH},
        )
        for name, schema in SCHEMAS.items():
            con.register("_empty", schema.empty_table())
            try:
                con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _empty")
            finally:
                con.unregister("_empty")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _insert(con: duckdb.DuckDBPyConnection, name: str, rows: pa.Table) -> None:
    if not rows.num_rows:
        return
    con.register("_rows", rows)
    try:
        con.execute(f"INSERT INTO {name} SELECT * FROM _rows")
    finally:
        con.unregister("_rows")


def _read_events(
    con: duckdb.DuckDBPyConnection, where: str, params: dict[str, Any]
) -> list[AuditEvent]:
    table = _arrow(con, f"SELECT {_EVENT_COLUMNS} FROM events WHERE {where} ORDER BY seq", params)
    return [_event(row) for row in table.to_pylist()]


def _arrow(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> pa.Table:
    relation = con.sql(sql, params=params)
    if relation is None:
        raise duckdb.InvalidInputException(f"no result for {sql!r}")
    return relation.to_arrow_table()


def _event(row: dict[str, Any]) -> AuditEvent:
    return AuditEvent(
        seq=int(row["seq"]),
        event_id=str(row["event_id"]),
        time=row["time"],
        kind=str(row["kind"]),
        actor=str(row["actor"]),
        organisation=str(row["organisation"]),
        details=json.loads(row["details"]),
        prev_hash=str(row["prev_hash"]),
        hash=str(row["hash"]),
    )


def _query_id(event: AuditEvent) -> str:
    return str(event.details.get("query_id", ""))


def _private(path: Path) -> None:
    for file in (path, path.with_name(path.name + ".wal")):
        if file.exists():
            os.chmod(file, 0o600)
