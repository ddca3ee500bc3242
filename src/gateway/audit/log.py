"""The audit log as the service uses it: one typed write, read views, signed checkpoints, health.

The service's order of work for one query (fail closed at every step)::

    started = QueryStarted(query_id, request, sql_executed, policy_hash, tables, …)
    log.record(started)                   # AuditUnavailable here → refuse, run nothing
    … execute …
    log.record(started.completed(outcome="ok", rows=…, bytes=…, duration_ms=…))

A refused query is one call: ``log.record(QueryDenied(query_id, request, code, message))``.
Every fact goes through :meth:`AuditLog.record` (kinds in :mod:`gateway.audit.kinds`).

Write-ahead, both ways: a write raises :class:`~gateway.errors.AuditUnavailable` only when the
record was *not* committed (the caller then undoes or refuses its change); once the record is
committed the write returns it, whatever happens afterwards. Covering records with signed
checkpoints is the :class:`~gateway.audit.checkpointer.Checkpointer`'s job — every
``checkpoint_every``-th record, every ``checkpoint_interval`` seconds from a background thread,
and on :meth:`AuditLog.close` — and its failures show in :meth:`AuditLog.health` (``degraded``)
and are retried, never raised into the operation that was recorded.

:meth:`AuditLog.open` runs the startup check (:mod:`gateway.audit.integrity`) and refuses a
rolled-back, truncated, forged or damaged log unless an operator has acknowledged it.

Example:
    >>> import tempfile, pathlib
    >>> from gateway.datadir import DataDir
    >>> from gateway.audit.facts import AccessEvent
    >>> with AuditLog.open(DataDir(pathlib.Path(tempfile.mkdtemp()))) as log:
    ...     e = log.record(AccessEvent(EventKind.TOKEN_ISSUED, "admin", "Cleveland Police",
    ...                                subject="a.khan"))
    ...     e.seq, e.details["subject"], log.health().status
    (1, 'a.khan', 'ok')
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from gateway.audit.chain import AuditEvent
from gateway.audit.checkpointer import Checkpointer
from gateway.audit.checkpoints import (
    CHECKPOINT_KEY,
    Checkpoint,
    CheckpointFile,
    genesis_checkpoint,
)
from gateway.audit.facts import AuditFact
from gateway.audit.integrity import check_log
from gateway.audit.kinds import QUERY_KINDS, EventKind
from gateway.audit.location import open_audit_store
from gateway.audit.store import AuditStore
from gateway.audit.views import QueryView, assemble_queries
from gateway.audit.witness import Witness, checkpoint_interval_from_env, witnesses_from_env
from gateway.clock import utc_now
from gateway.datadir import DataDir
from gateway.errors import AuditUnavailable, ConfigurationError
from gateway.lifetime import ClosesOnExit

__all__ = [
    "CHECKPOINT_KEY",
    "DEFAULT_CHECKPOINT_EVERY",
    "AuditHealth",
    "AuditLog",
]

DEFAULT_CHECKPOINT_EVERY = 100

HealthStatus = Literal["ok", "degraded", "failing"]


@dataclass(frozen=True)
class AuditHealth:
    """How the audit log is doing, for ``/healthz``.

    Attributes:
        status: ``ok``; ``degraded`` (records are committed but not all covered by checkpoints
            or witnesses: tamper evidence is behind); ``failing`` (records cannot be written or
            the log was cut while serving: queries are refused).
        reasons: why, one line each (empty when ``ok``).
    """

    status: HealthStatus
    reasons: tuple[str, ...] = ()


class AuditLog(ClosesOnExit):
    """Typed writes and reads over an :class:`~gateway.audit.store.AuditStore`.

    Args:
        store: where events go (owned: closed by :meth:`close`).
        checkpoints: the checkpoint file, or ``None`` to write no checkpoints.
        checkpoint_key: HMAC key for checkpoints (required with ``checkpoints``).
        checkpoint_every: checkpoint each record whose ``seq`` is a multiple of this.
        checkpoint_interval: seconds between time-based checkpoints of the head (a background
            thread); None for none.
        witnesses: external copies of every checkpoint (:mod:`gateway.audit.witness`).
        known_checkpoint_seq: highest ``seq`` already vouched for (never signed below).
        startup_degraded: reasons the startup check found to report ``degraded``.
    """

    def __init__(
        self,
        store: AuditStore,
        *,
        checkpoints: CheckpointFile | None = None,
        checkpoint_key: bytes | None = None,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        checkpoint_interval: float | None = None,
        witnesses: Sequence[Witness] = (),
        known_checkpoint_seq: int = 0,
        startup_degraded: Sequence[str] = (),
    ) -> None:
        if checkpoints is not None and not checkpoint_key:
            raise ConfigurationError("audit checkpoints need a signing key")
        if checkpoint_every < 1:
            raise ConfigurationError("audit checkpoint_every must be at least 1")
        if checkpoint_interval is not None and not checkpoint_interval > 0:
            raise ConfigurationError("audit checkpoint_interval must be positive")
        self.store = store
        self.checkpoints = checkpoints
        self.checkpoint_every = checkpoint_every
        self.witnesses = tuple(witnesses)
        self._key = checkpoint_key or b""
        self._checkpointer = (
            Checkpointer(
                store,
                checkpoints,
                self._key,
                witnesses=self.witnesses,
                every=checkpoint_every,
                interval=checkpoint_interval,
                known_seq=known_checkpoint_seq,
            )
            if checkpoints is not None
            else None
        )
        self._startup_degraded = tuple(startup_degraded)
        self._append_failure = ""
        self._state = threading.Lock()
        self._closed = False
        if self._checkpointer is not None:
            self._checkpointer.start()

    @classmethod
    def open(
        cls,
        data_dir: DataDir,
        *,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
        checkpoints: Path | None = None,
        busy_timeout: float = 10.0,
        max_size_bytes: int | None = None,
        checkpoint_interval: float | Literal["environment"] | None = "environment",
        witnesses: Sequence[Witness] | None = None,
        check: bool = True,
    ) -> AuditLog:
        """The deployment's audit log: ``DIR/audit.sqlite`` with checkpoints beside it, checked.

        Every composition root that writes the data directory opens its audit log, so this is
        where the directory is made private (:meth:`DataDir.make_private`). Witnesses and the
        checkpoint interval come from ``GATEWAY_AUDIT_*`` (:mod:`gateway.audit.witness`) unless
        given. A new log's checkpoint file starts with a genesis line.

        Args:
            check: run the startup check (:func:`gateway.audit.integrity.check_log`); only
                ``gateway audit acknowledge`` opens a log without it.

        Raises:
            AuditUnavailable: the database cannot be opened, or the log fails the startup
                check (nothing was written: no checkpoint vouches for a cut log).
            ConfigurationError: a bad witness or interval setting.
        """
        data_dir.make_private()
        key = data_dir.secret(CHECKPOINT_KEY)
        if witnesses is None:
            witnesses = witnesses_from_env(os.environ, data_dir=data_dir.root)
        interval = (
            checkpoint_interval_from_env(os.environ)
            if checkpoint_interval == "environment"
            else checkpoint_interval
        )
        store = open_audit_store(
            data_dir, busy_timeout=busy_timeout, max_size_bytes=max_size_bytes, record_key=key
        )
        file = CheckpointFile(checkpoints or data_dir.audit_checkpoints)
        try:
            known, degraded = 0, list[str]()
            if check:
                result = check_log(store, file, key, witnesses=witnesses)
                if not result.ok:
                    raise AuditUnavailable(result.refusal(str(data_dir.root)))
                known, degraded = result.checkpoint_seq, list(result.degraded)
            if store.head()[0] == 0 and not file.exists():
                try:
                    file.append(genesis_checkpoint(key, utc_now(), keyed_from=store.keyed_from()))
                except AuditUnavailable as exc:
                    degraded.append(f"no genesis checkpoint: {exc.message}")
        except BaseException:
            store.close()
            raise
        return cls(
            store,
            checkpoints=file,
            checkpoint_key=key,
            checkpoint_every=checkpoint_every,
            checkpoint_interval=interval,
            witnesses=witnesses,
            known_checkpoint_seq=known,
            startup_degraded=degraded,
        )

    # --- writing ---------------------------------------------------------------------------

    def _append(
        self, kind: str, actor: str, organisation: str, details: Mapping[str, Any]
    ) -> AuditEvent:
        try:
            event = self.store.append(kind, actor, organisation, details)
        except AuditUnavailable as exc:
            with self._state:
                self._append_failure = exc.message
            raise
        # Committed: from here on nothing may raise into the caller's operation.
        if self._append_failure:
            with self._state:
                self._append_failure = ""
        if self._checkpointer is not None:
            self._checkpointer.appended(event)
        return event

    def record(self, fact: AuditFact) -> AuditEvent:
        """Append one fact (:mod:`gateway.audit.facts`) and return the record as committed.

        Write-ahead: a query may run once its :class:`~gateway.audit.facts.QueryStarted` is
        recorded; a governance change commits only if its record does.

        Raises:
            AuditUnavailable: not recorded: the caller must not go on (run the query, keep the
                change, hand out the file).
        """
        kind, details = EventKind(fact.kind), fact.details()
        return self._append(kind.value, fact.actor, fact.organisation, details)

    # --- checkpoints -----------------------------------------------------------------------

    def checkpoint(self) -> Checkpoint | None:
        """Sign and append a checkpoint of the current head now, and hand it to the witnesses
        (``None`` if the log is empty or no checkpoint file is configured).

        Raises:
            AuditUnavailable: the store or the checkpoint file cannot be used, or the head is
                behind a checkpoint already signed.
        """
        if self._checkpointer is None:
            return None
        return self._checkpointer.checkpoint_now()

    def health(self) -> AuditHealth:
        """The log's health from what this process has seen (no I/O: cheap for ``/healthz``).

        ``failing`` when the last append failed, the log is closed, or it was cut while
        serving; ``degraded`` when checkpoints or witnesses are not being written (records are
        committed, tamper evidence is behind) or a witness could not be read at startup.
        """
        failing: list[str] = []
        degraded: list[str] = list(self._startup_degraded)
        with self._state:
            if self._closed:
                failing.append("the audit log is closed")
            if self._append_failure:
                failing.append(f"audit records cannot be written: {self._append_failure}")
        if self._checkpointer is not None:
            more_failing, more_degraded = self._checkpointer.problems()
            failing.extend(more_failing)
            degraded.extend(more_degraded)
        if failing:
            return AuditHealth("failing", tuple(failing + degraded))
        if degraded:
            return AuditHealth("degraded", tuple(degraded))
        return AuditHealth("ok")

    # --- reading ---------------------------------------------------------------------------

    def events(
        self,
        after_seq: int = 0,
        *,
        kinds: Collection[str] | None = None,
        actor: str | None = None,
        organisation: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> Iterator[AuditEvent]:
        """Events in ``seq`` order (see :meth:`gateway.audit.store.AuditStore.events`)."""
        return self.store.events(
            after_seq,
            kinds=kinds,
            actor=actor,
            organisation=organisation,
            since=since,
            until=until,
            limit=limit,
        )

    def queries(
        self,
        *,
        actor: str | None = None,
        organisation: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[QueryView]:
        """One view per query (allowed, denied or incomplete), in log order, from the query
        records matching the filters of :meth:`events` (a query whose records straddle
        ``since`` or ``until`` is seen in part)."""
        return assemble_queries(
            self.store.events(
                kinds=QUERY_KINDS,
                actor=actor,
                organisation=organisation,
                since=since,
                until=until,
            )
        )

    def incomplete_queries(self) -> list[QueryView]:
        """Queries that started but never recorded an outcome (killed worker, crash)."""
        return [q for q in self.queries() if q.status == "incomplete"]

    # --- lifetime --------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the checkpoint thread, checkpoint the head (if it moved) and close the store.

        Idempotent. Never raises for a checkpoint that cannot be written (it is logged; the
        records are committed and the next process to open the log covers them).
        """
        with self._state:
            if self._closed:
                return
            self._closed = True
        try:
            if self._checkpointer is not None:
                self._checkpointer.close()
        finally:
            self.store.close()
