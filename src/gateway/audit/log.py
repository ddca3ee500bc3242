"""The audit log as the service uses it: typed writes, read views, periodic signed checkpoints.

The service's order of work for one query (fail closed at every step)::

    started = QueryStarted(query_id, request, sql_executed, policy_hash, tables, …)
    log.query_started(started)            # AuditUnavailable here → refuse, run nothing
    … execute …
    log.query_completed(started.completed(outcome="ok", rows=…, bytes=…, duration_ms=…))

A refused query is one call: ``log.query_denied(QueryDenied(query_id, request, code, message))``.

Every ``checkpoint_every``-th event (by ``seq``, so exactly one process writes each) and on
:meth:`AuditLog.close` the log appends a signed checkpoint of the head to the checkpoint file
(see :mod:`gateway.audit.checkpoints`).

Example:
    >>> import tempfile, pathlib
    >>> from gateway.datadir import DataDir
    >>> from gateway.audit.records import AccessEvent
    >>> with AuditLog.open(DataDir(pathlib.Path(tempfile.mkdtemp()))) as log:
    ...     e = log.access_event(AccessEvent("token.issued", "admin", "Cleveland Police",
    ...                                      subject="a.khan"))
    ...     e.seq, e.details["subject"]
    (1, 'a.khan')
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.audit.checkpoints import Checkpoint, CheckpointFile, sign_checkpoint
from gateway.audit.records import (
    AccessEvent,
    AuditEvent,
    ExportAction,
    ExportRegistered,
    ExportsPruned,
    QueryCompleted,
    QueryDenied,
    QueryStarted,
    utc_now,
)
from gateway.audit.sqlite import SQLiteAuditStore
from gateway.audit.store import AuditStore
from gateway.audit.views import QUERY_KINDS, QueryView, assemble_queries
from gateway.datadir import DataDir
from gateway.errors import ConfigurationError
from gateway.lifetime import ClosesOnExit

__all__ = ["CHECKPOINT_KEY", "DEFAULT_CHECKPOINT_EVERY", "AuditLog", "checkpoint_path"]

#: Name of the HMAC key under ``DIR/secrets/`` (see :meth:`gateway.datadir.DataDir.secret`).
CHECKPOINT_KEY = "audit-checkpoint"
DEFAULT_CHECKPOINT_EVERY = 100


def checkpoint_path(data_dir: DataDir) -> Path:
    """Default checkpoint file of a deployment: ``DIR/audit.checkpoints.jsonl``."""
    return data_dir.root / "audit.checkpoints.jsonl"


class AuditLog(ClosesOnExit):
    """Typed writes and reads over an :class:`~gateway.audit.store.AuditStore`.

    Args:
        store: where events go (owned: closed by :meth:`close`).
        checkpoints: the checkpoint file, or ``None`` to write no checkpoints.
        checkpoint_key: HMAC key for checkpoints (required with ``checkpoints``).
        checkpoint_every: write a checkpoint when an event's ``seq`` is a multiple of this.
    """

    def __init__(
        self,
        store: AuditStore,
        *,
        checkpoints: CheckpointFile | None = None,
        checkpoint_key: bytes | None = None,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    ) -> None:
        if checkpoints is not None and not checkpoint_key:
            raise ConfigurationError("audit checkpoints need a signing key")
        if checkpoint_every < 1:
            raise ConfigurationError("audit checkpoint_every must be at least 1")
        self.store = store
        self.checkpoints = checkpoints
        self._key = checkpoint_key or b""
        self.checkpoint_every = checkpoint_every
        self._last_checkpoint_seq = 0
        self._closed = False

    @classmethod
    def open(
        cls,
        data_dir: DataDir,
        *,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        checkpoints: Path | None = None,
        busy_timeout: float = 10.0,
        max_size_bytes: int | None = None,
    ) -> AuditLog:
        """The deployment's audit log: ``DIR/audit.sqlite`` with checkpoints beside it.

        Every composition root that writes the data directory opens its audit log, so this is
        where the directory is made private (:meth:`DataDir.make_private`).

        Raises:
            AuditUnavailable: the database cannot be opened.
        """
        data_dir.make_private()
        store = SQLiteAuditStore(
            data_dir.audit, busy_timeout=busy_timeout, max_size_bytes=max_size_bytes
        )
        return cls(
            store,
            checkpoints=CheckpointFile(checkpoints or checkpoint_path(data_dir)),
            checkpoint_key=data_dir.secret(CHECKPOINT_KEY),
            checkpoint_every=checkpoint_every,
        )

    # --- writing ---------------------------------------------------------------------------

    def _append(
        self, kind: str, actor: str, organisation: str, details: Mapping[str, Any]
    ) -> AuditEvent:
        event = self.store.append(kind, actor, organisation, details)
        if self.checkpoints is not None and event.seq % self.checkpoint_every == 0:
            self._write_checkpoint(event.seq, event.hash, event.event_id)
        return event

    def query_started(self, started: QueryStarted) -> AuditEvent:
        """Write-ahead record of an allowed query; the query may run once this returns.

        Raises:
            AuditUnavailable: not recorded: the caller must not run the query.
        """
        return self._append(started.kind, started.actor, started.organisation, started.details())

    def query_completed(self, completed: QueryCompleted) -> AuditEvent:
        """Outcome of a started query (also for failures: timeout, resource_limit …)."""
        return self._append(
            completed.kind, completed.actor, completed.organisation, completed.details()
        )

    def query_denied(self, denied: QueryDenied) -> AuditEvent:
        """A refused query (nothing ran)."""
        return self._append(denied.kind, denied.actor, denied.organisation, denied.details())

    def export_registered(self, export: ExportRegistered) -> AuditEvent:
        """A file produced from a query's result."""
        return self._append(export.kind, export.actor, export.organisation, export.details())

    def export_action(self, action: ExportAction) -> AuditEvent:
        """An approval, rejection or download of a registered export."""
        return self._append(action.kind, action.actor, action.organisation, action.details())

    def exports_pruned(self, pruned: ExportsPruned) -> AuditEvent:
        """Export files deleted by one retention run (:mod:`gateway.exports.retention`)."""
        return self._append(pruned.kind, pruned.actor, pruned.organisation, pruned.details())

    def access_event(self, event: AccessEvent) -> AuditEvent:
        """An access-management action (request, approval, suspension, token, policy)."""
        return self._append(event.kind, event.actor, event.organisation, event.details())

    # --- checkpoints -----------------------------------------------------------------------

    def _write_checkpoint(self, seq: int, hash: str, event_id: str) -> Checkpoint:
        assert self.checkpoints is not None
        cp = sign_checkpoint(self._key, seq, hash, event_id, utc_now())
        self.checkpoints.append(cp)
        self._last_checkpoint_seq = max(self._last_checkpoint_seq, seq)
        return cp

    def checkpoint(self) -> Checkpoint | None:
        """Sign and append a checkpoint of the current head now (``None`` if the log is empty
        or no checkpoint file is configured).

        Raises:
            AuditUnavailable: the store or checkpoint file cannot be used.
        """
        if self.checkpoints is None:
            return None
        seq, _ = self.store.head()
        if seq == 0:
            return None
        last = next(self.store.events(after_seq=seq - 1, limit=1))
        return self._write_checkpoint(last.seq, last.hash, last.event_id)

    # --- reading ---------------------------------------------------------------------------

    def events(
        self,
        after_seq: int = 0,
        *,
        kinds: Collection[str] | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> Iterator[AuditEvent]:
        """Events in ``seq`` order (see :meth:`gateway.audit.store.AuditStore.events`)."""
        return self.store.events(
            after_seq, kinds=kinds, actor=actor, since=since, until=until, limit=limit
        )

    def queries(self, *, actor: str | None = None) -> list[QueryView]:
        """One view per query (allowed, denied or incomplete), in log order."""
        return assemble_queries(self.store.events(kinds=QUERY_KINDS, actor=actor))

    def incomplete_queries(self) -> list[QueryView]:
        """Queries that started but never recorded an outcome (killed worker, crash)."""
        return [q for q in self.queries() if q.status == "incomplete"]

    # --- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        """Checkpoint the head (if it moved since the last checkpoint) and close the store.

        Idempotent. Raises AuditUnavailable if the final checkpoint cannot be written (the
        store is closed all the same).
        """
        if self._closed:
            return
        self._closed = True
        try:
            if self.checkpoints is not None:
                seq, _ = self.store.head()
                if seq > self._last_checkpoint_seq:
                    self.checkpoint()
        finally:
            self.store.close()
