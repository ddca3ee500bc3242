"""What the SQL audit stores share, whatever the database: group commit of appends, the event
filters as SQL, reading in pages by ``seq``, the retention cut-off and what a disposal record
says.

**Group commit.** Every append is durable when it returns, and the cost of that is one commit
(an fsync) — milliseconds on most disks, far more than sealing the record. When several threads
of one process append at once (concurrent queries, each writing its ``started`` and
``completed`` records), :class:`GroupCommit` lets the first of them commit everything queued
in one transaction while the others wait for it: each caller still returns only once its own
record is committed (or gets the error that stopped it), records keep the order they were
queued in, and a lone caller pays exactly what it paid before.

Pure: each store (:mod:`gateway.audit.sqlite`, :mod:`gateway.audit.postgresql`) runs the SQL
with its own driver and parameter style (``?`` or ``%s``).

Example:
    >>> from datetime import UTC, datetime
    >>> conditions = event_conditions(["query.started"], "s.patel", None, None, "?")
    >>> conditions.sql, conditions.params
    (' AND kind IN (?) AND actor = ?', ('query.started', 's.patel'))
    >>> event_conditions(None, None, None, None, "%s", organisation="MBC").sql
    ' AND organisation = %s'
    >>> pages = {0: [(1,), (2,)], 2: [(3,)]}
    >>> [row[0] for row in paged(lambda last, size: pages[last], page_rows=2)]
    [1, 2, 3]
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from gateway.audit.chain import GENESIS_HASH, AuditEvent, StoredRecord, decode, format_time
from gateway.errors import InputError

__all__ = [
    "EventConditions",
    "GroupCommit",
    "PagedReads",
    "PendingAppend",
    "cutoff_seq",
    "disposal_details",
    "event_conditions",
    "paged",
    "record_disposal",
]

Row = Sequence[Any]


@dataclass(frozen=True)
class EventConditions:
    """Extra ``AND …`` conditions on ``audit_event`` and their parameters, in order."""

    sql: str
    params: tuple[Any, ...]


def event_conditions(
    kinds: Collection[str] | None,
    actor: str | None,
    since: datetime | None,
    until: datetime | None,
    placeholder: str,
    *,
    organisation: str | None = None,
) -> EventConditions | None:
    """The filters of :meth:`gateway.audit.store.AuditStore.events` as SQL (None: an empty
    ``kinds`` matches nothing, so there is nothing to read). ``organisation`` is a local
    auditor's scope (:class:`gateway.api.review.AuditReview`): only records made by that organisation's
    users."""
    where: list[str] = []
    params: list[Any] = []
    if kinds is not None:
        kinds = list(kinds)
        if not kinds:
            return None
        where.append(f"kind IN ({', '.join([placeholder] * len(kinds))})")
        params.extend(kinds)
    if actor is not None:
        where.append(f"actor = {placeholder}")
        params.append(actor)
    if organisation is not None:
        where.append(f"organisation = {placeholder}")
        params.append(organisation)
    if since is not None:
        where.append(f"time >= {placeholder}")
        params.append(format_time(since))
    if until is not None:
        where.append(f"time < {placeholder}")
        params.append(format_time(until))
    return EventConditions("".join(f" AND {w}" for w in where), tuple(params))


def paged(
    fetch: Callable[[int, int], Sequence[Row]],
    *,
    page_rows: int,
    after_seq: int = 0,
    limit: int | None = None,
) -> Iterator[Row]:
    """Rows in ``seq`` order (the first column), read ``page_rows`` at a time by
    ``fetch(after_seq, page_size)``, at most ``limit`` of them."""
    remaining = limit
    last = after_seq
    while remaining is None or remaining > 0:
        page = page_rows if remaining is None else min(page_rows, remaining)
        rows = fetch(last, page)
        yield from rows
        if remaining is not None:
            remaining -= len(rows)
        if len(rows) < page:
            return
        last = int(rows[-1][0])


def cutoff_seq(first_kept: int | None, last: int | None) -> int:
    """What a retention cut-off may dispose of, from the first ``seq`` at or after the cut-off
    time and the last ``seq``: everything before the first kept record (0: nothing)."""
    if first_kept is not None:
        return int(first_kept) - 1
    return int(last) if last is not None else 0


def disposal_details(
    details: Mapping[str, Any],
    *,
    first_seq: int,
    through_seq: int,
    through_hash: str,
    through_event_id: str,
) -> dict[str, Any]:
    """What the ``audit.disposed`` record says about what it removed: the first and last
    ``seq`` disposed of, the last one's hash and event id (what remains chains on from it, see
    :mod:`gateway.audit.disposal`) and how many records went."""
    return {
        **details,
        "first_seq": first_seq,
        "through_seq": through_seq,
        "through_hash": through_hash,
        "through_event_id": through_event_id,
        "records": through_seq - first_seq + 1,
    }


def record_disposal(
    conn: Any,
    mark: str,
    through_seq: int,
    details: Mapping[str, Any],
    append: Callable[[Mapping[str, Any]], AuditEvent],
) -> AuditEvent:
    """Inside a store's locked write transaction on ``conn`` (parameter marker ``mark``):
    append, through ``append``, the record of a disposal of ``..through_seq`` (naming the last
    disposed record's seq, hash and event id and the first one) and note it in
    ``audit_disposal`` (which must exist). The store then deletes the rows with its append-only
    guards lifted, its own way.

    Raises:
        InputError: no record ``through_seq`` (already disposed, or beyond the head).
    """
    row = conn.execute(
        "SELECT hash, event_id, (SELECT min(seq) FROM audit_event) FROM audit_event "
        f"WHERE seq = {mark}",
        (through_seq,),
    ).fetchone()
    if row is None:
        raise InputError(f"the audit log has no record seq {through_seq} to dispose up to")
    through_hash, through_event_id, first_seq = str(row[0]), str(row[1]), int(row[2])
    event = append(
        disposal_details(
            details,
            first_seq=first_seq,
            through_seq=through_seq,
            through_hash=through_hash,
            through_event_id=through_event_id,
        )
    )
    conn.execute(
        "INSERT INTO audit_disposal (through_seq, through_hash, record_seq) "
        f"VALUES ({mark}, {mark}, {mark})",
        (through_seq, through_hash, event.seq),
    )
    return event


@dataclass
class PendingAppend:
    """One queued append and, once its batch is committed, its event or its error."""

    kind: str
    actor: str
    organisation: str
    details: Mapping[str, Any]
    time: datetime | None
    event: AuditEvent | None = None
    error: BaseException | None = None
    done: bool = field(default=False, repr=False)

    def outcome(self) -> AuditEvent:
        """The committed event, or raise the error that stopped it."""
        if self.error is not None:
            raise self.error
        if self.event is None:  # pragma: no cover - a commit function that skipped a record
            raise RuntimeError("an audit append was neither committed nor refused")
        return self.event


class GroupCommit:
    """Appends from many threads, committed in batches (see the module docstring).

    Args:
        commit: writes a batch in ONE transaction and commits it durably, setting each item's
            ``event`` — or its ``error`` when that item alone is refused (a malformed event),
            leaving the others to commit. It raises when the transaction as a whole fails:
            then nothing in the batch was recorded and every caller gets that error.

    Example:
        >>> batches = []
        >>> def commit(batch):
        ...     batches.append(len(batch))
        ...     for item in batch:
        ...         item.event = item.kind  # a stand-in for the sealed event
        >>> GroupCommit(commit).append("policy.loaded", "system", "", {}, None)
        'policy.loaded'
        >>> batches
        [1]
    """

    def __init__(self, commit: Callable[[Sequence[PendingAppend]], None]) -> None:
        self._commit = commit
        self._queue: list[PendingAppend] = []
        self._queued = threading.Lock()
        self._committing = threading.Lock()

    def append(
        self,
        kind: str,
        actor: str,
        organisation: str,
        details: Mapping[str, Any],
        time: datetime | None,
    ) -> AuditEvent:
        """Queue one append and return once it is committed (by this caller or another)."""
        pending = PendingAppend(kind, actor, organisation, details, time)
        with self._queued:
            self._queue.append(pending)
        with self._committing:
            if not pending.done:
                with self._queued:
                    batch, self._queue = self._queue, []
                try:
                    self._commit(batch)
                except BaseException as exc:
                    for item in batch:  # rolled back as a whole: nobody's record is in
                        item.event, item.error = None, exc
                finally:
                    for item in batch:
                        item.done = True
        return pending.outcome()


class PagedReads:
    """The read side of a SQL audit store, written once over its :meth:`_page` (one query, its
    rows) and its driver's parameter marker: records as stored, events by filter, the head, one
    record, the retention cut-off. :class:`~gateway.audit.sqlite.SQLiteAuditStore` and
    :class:`~gateway.audit.postgresql.PostgresAuditStore` differ only in those."""

    #: The driver's parameter marker (``?`` or ``%s``).
    placeholder: ClassVar[str]
    #: ``SELECT`` of the nine record columns (as text) ``FROM audit_event e``.
    event_select: ClassVar[str]
    page_rows: int

    def _page(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _stored_select(self) -> str:
        """``SELECT`` of the record columns and its MAC (or NULL) ``FROM audit_event e``."""
        raise NotImplementedError

    def stored_records(self, after_seq: int = 0) -> Iterator[StoredRecord]:
        """Every record as stored (text unparsed, with its MAC), in ``seq`` order."""
        mark = self.placeholder
        query = f"{self._stored_select()} WHERE e.seq > {mark} ORDER BY e.seq LIMIT {mark}"
        for row in paged(
            lambda last, page: self._page(query, (last, page)),
            page_rows=self.page_rows,
            after_seq=after_seq,
        ):
            yield StoredRecord(*row)

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
        """Events in ``seq`` order; see :meth:`gateway.audit.store.AuditStore.events`."""
        mark = self.placeholder
        conditions = event_conditions(kinds, actor, since, until, mark, organisation=organisation)
        if conditions is None:
            return
        query = f"{self.event_select} WHERE seq > {mark}{conditions.sql} ORDER BY seq LIMIT {mark}"
        for row in paged(
            lambda last, page: self._page(query, (last, *conditions.params, page)),
            page_rows=self.page_rows,
            after_seq=after_seq,
            limit=limit,
        ):
            yield decode(StoredRecord(*row))

    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last event; ``(0, GENESIS_HASH)`` when empty."""
        rows = self._page("SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1", ())
        return (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS_HASH)

    def stored_record(self, seq: int) -> StoredRecord | None:
        """The record at ``seq`` as stored, or None if there is none."""
        rows = self._page(f"{self._stored_select()} WHERE e.seq = {self.placeholder}", (seq,))
        return StoredRecord(*rows[0]) if rows else None

    def last_seq_before(self, time: datetime) -> int:
        """The highest ``seq`` such that it and every record before it are older than ``time``
        (0: none), i.e. what a retention cut-off at ``time`` may dispose of."""
        mark = self.placeholder
        rows = self._page(
            f"SELECT (SELECT min(seq) FROM audit_event WHERE time >= {mark}), "
            "(SELECT max(seq) FROM audit_event)",
            (format_time(time),),
        )
        return cutoff_seq(*rows[0])
