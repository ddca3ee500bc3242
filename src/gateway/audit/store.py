"""The audit store interface: where events are durably appended and read back.

A store only knows its database. It assigns ``seq``, ``event_id``, ``time``, the hash and
(given the key) the record's keyed MAC inside one serialised transaction, so several processes
appending at once still build one gap-free, valid chain. Every failure to persist or read raises
:class:`~gateway.errors.AuditUnavailable`; the caller must then refuse the query (fail closed).

Implementations: :class:`gateway.audit.sqlite.SQLiteAuditStore` (embedded default). A
PostgreSQL store for multi-host deployments implements the same protocol (serialise appends
with ``SELECT … FOR UPDATE`` on a head row or an advisory lock).

Example:
    >>> def count_denials(store: AuditStore) -> int:
    ...     return sum(1 for _ in store.events(kinds=("query.denied",)))
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol

from gateway.audit.chain import AuditEvent, StoredRecord

__all__ = ["AuditStore"]


class AuditStore(Protocol):
    """Durable, append-only storage of audit events."""

    def append(
        self,
        kind: str,
        actor: str,
        organisation: str,
        details: Mapping[str, Any],
        *,
        time: datetime | None = None,
    ) -> AuditEvent:
        """Append one event; it is durable (synced) when this returns.

        Raises:
            AuditUnavailable: nothing was recorded.
            InputError: the event itself is malformed (bad kind, non-JSON details).
        """
        ...

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
        """Events in ``seq`` order; every given filter must match.

        Args:
            after_seq: only events with a greater ``seq``.
            kinds: only these kinds.
            actor: only this actor.
            organisation: only events made by this organisation's users (a local auditor's
                scope, :class:`gateway.api.review.AuditReview`).
            since: only events at or after this time.
            until: only events before this time.
            limit: at most this many.

        Raises:
            AuditUnavailable: the store cannot be read or a record is unreadable.
        """
        ...

    def stored_records(self, after_seq: int = 0) -> Iterator[StoredRecord]:
        """Every record exactly as stored, in ``seq`` order (for verification)."""
        ...

    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last event; ``(0, GENESIS_HASH)`` when empty."""
        ...

    def stored_record(self, seq: int) -> StoredRecord | None:
        """The record at ``seq`` exactly as stored, or None if there is none."""
        ...

    def keyed_from(self) -> int | None:
        """The first ``seq`` whose record carries a keyed MAC (None: the log is unkeyed)."""
        ...

    def last_seq_before(self, time: datetime) -> int:
        """The highest ``seq`` such that it and every record before it are older than ``time``
        (0: none): what a retention cut-off at ``time`` may dispose of."""
        ...

    def disposed_through(self) -> int:
        """The last ``seq`` disposed of (0: none), as the database says."""
        ...

    def dispose(
        self,
        through_seq: int,
        kind: str,
        actor: str,
        organisation: str,
        details: Mapping[str, Any],
    ) -> AuditEvent:
        """Delete the records up to ``through_seq`` and append the record of it, atomically;
        the record names the last disposed record (``through_seq``, ``through_hash``,
        ``through_event_id``) so what remains still verifies (:mod:`gateway.audit.disposal`).

        Raises:
            InputError: no record ``through_seq``.
            AuditUnavailable: nothing was disposed or recorded.
        """
        ...

    def check_integrity(self, *, quick: bool = True) -> tuple[str, ...]:
        """The database's own consistency check: the problems found, or ``()``.

        Raises:
            AuditUnavailable: the check could not run.
        """
        ...

    def close(self) -> None:
        """Release the database; further calls raise AuditUnavailable. Idempotent."""
        ...
