"""Audit tables kept up to date incrementally, for serving ``audit.*`` queries repeatedly.

:func:`gateway.audit.tables.audit_tables` reads and converts the whole log each time: fine for a
report, slow for a service answering many ``SELECT … FROM audit.queries`` against a log of
millions of events. :class:`LiveAuditTables` reads only the events appended since its last
refresh and keeps the converted rows as Arrow chunks:

- ``events``, ``access``: every new event is final; new chunks are appended;
- ``exports``: a registered export's row changes when it is approved, rejected or downloaded,
  so the rows are folded (:class:`~gateway.audit.views.ExportFold`) and the table is rebuilt
  when an ``export.*`` event arrives (exports are few next to queries);
- ``queries``: a query's row is final once it is complete (completed or denied) and is then
  added to the finished chunks; queries still running (or never completed) are rebuilt on each
  refresh from a small in-memory set.

Rows of ``queries`` therefore come in the order queries *finished*, with incomplete ones last
(SQL gives no order without ``ORDER BY`` anyway). Thread-safe.

Example:
    >>> import tempfile, pathlib
    >>> from gateway.audit.sqlite import SQLiteAuditStore
    >>> store = SQLiteAuditStore(pathlib.Path(tempfile.mkdtemp()) / "audit.sqlite")
    >>> live = LiveAuditTables(store)
    >>> _ = store.append("query.started", "a.khan", "MBC", {"query_id": "Q1"})
    >>> live.refresh().queries.column("complete").to_pylist()
    [False]
    >>> _ = store.append("query.completed", "a.khan", "MBC", {"query_id": "Q1", "outcome": "ok"})
    >>> live.refresh().queries.column("complete").to_pylist()
    [True]
    >>> store.close()
"""

from __future__ import annotations

import threading

import pyarrow as pa

from gateway.audit.chain import AuditEvent
from gateway.audit.kinds import QUERY_KINDS, EventKind
from gateway.audit.store import AuditStore
from gateway.audit.tables import (
    EXPORTS_SCHEMA,
    QUERIES_SCHEMA,
    AuditTables,
    access_table,
    events_table,
    export_row,
    query_row,
)
from gateway.audit.views import ExportFold, QueryView

__all__ = ["LiveAuditTables"]

_MAX_CHUNKS = 64


class _Chunks:
    """An append-only Arrow table kept as chunks, compacted when they get many."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.tables: list[pa.Table] = []

    def add(self, table: pa.Table) -> None:
        if table.num_rows:
            self.tables.append(table)
        if len(self.tables) > _MAX_CHUNKS:
            self.tables = [pa.concat_tables(self.tables).combine_chunks()]

    def table(self, *extra: pa.Table) -> pa.Table:
        parts = [*self.tables, *(t for t in extra if t.num_rows)]
        return pa.concat_tables(parts) if parts else self.schema.empty_table()


class LiveAuditTables:
    """The four audit tables of a store, refreshed by reading only new events.

    Args:
        store: the audit store to follow (not owned: not closed here).
    """

    def __init__(self, store: AuditStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._seq = 0
        self._events = _Chunks(events_table([]).schema)
        self._exports = ExportFold()
        self._exports_table = EXPORTS_SCHEMA.empty_table()
        self._access = _Chunks(access_table([]).schema)
        self._finished = _Chunks(QUERIES_SCHEMA)
        self._open: dict[str, dict[str, AuditEvent]] = {}

    def refresh(self) -> AuditTables:
        """Read events appended since the last refresh and return the current tables.

        Raises:
            AuditUnavailable: the store cannot be read.
        """
        with self._lock:
            new = list(self.store.events(after_seq=self._seq))
            if new:
                self._seq = new[-1].seq
                self._events.add(events_table(new))
                changed = False
                for event in new:
                    changed = self._exports.add(event) or changed
                if changed:
                    rows = [export_row(view) for view in self._exports.views()]
                    self._exports_table = pa.Table.from_pylist(rows, schema=EXPORTS_SCHEMA)
                self._access.add(access_table(new))
                self._track_queries(new)
            running = pa.Table.from_pylist(
                [query_row(self._view(qid, slots)) for qid, slots in self._open.items()],
                schema=QUERIES_SCHEMA,
            )
            return AuditTables(
                queries=self._finished.table(running),
                events=self._events.table(),
                exports=self._exports_table,
                access=self._access.table(),
            )

    @staticmethod
    def _view(query_id: str, slots: dict[str, AuditEvent]) -> QueryView:
        return QueryView(
            query_id,
            started=slots.get(EventKind.QUERY_STARTED),
            completed=slots.get(EventKind.QUERY_COMPLETED),
            denied=slots.get(EventKind.QUERY_DENIED),
        )

    def _track_queries(self, new: list[AuditEvent]) -> None:
        touched: dict[str, None] = {}
        for event in new:
            if event.kind in QUERY_KINDS:
                query_id = str(event.details.get("query_id", ""))
                self._open.setdefault(query_id, {}).setdefault(event.kind, event)
                touched[query_id] = None
        done = []
        for query_id in touched:
            view = self._view(query_id, self._open[query_id])
            if view.complete:
                done.append(query_row(view))
                del self._open[query_id]
        self._finished.add(pa.Table.from_pylist(done, schema=QUERIES_SCHEMA))
