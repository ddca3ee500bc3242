"""Where a log that has disposed of old records starts: the disposal anchor verification trusts.

Retention (:mod:`gateway.audit.retention`) deletes the records older than the schedule, in one
transaction with an ``audit.disposed`` record appended after the head
(:meth:`gateway.audit.sqlite.SQLiteAuditStore.dispose`). That record names the last record
disposed of — its ``seq``, ``hash`` and ``event_id`` — so verification walks the chain of what
remains from there, as it would from a signed checkpoint: the first remaining record must be
``through_seq + 1`` and link to ``through_hash``. A disposal never silently breaks the chain:

- the anchor is taken only from an **authentic** ``audit.disposed`` record — its stored hash
  matches its contents and, when the log is keyed, its record MAC is valid — so someone without
  the key cannot delete the start of the log and pass it off as a disposal;
- the record itself stays in the chain and is verified with the rest;
- a signed checkpoint at ``through_seq`` must agree with the anchor's hash (checked by
  :func:`gateway.audit.verify.verify`); checkpoints below it vouch for records no longer held
  and are not held against the log;
- records deleted beyond the anchor are still a gap, as any removal is.

Of several disposals the latest (the highest ``through_seq``) is the anchor. Pure apart from
reading the store.

Example:
    >>> import tempfile, pathlib
    >>> from gateway.audit.sqlite import SQLiteAuditStore
    >>> store = SQLiteAuditStore(pathlib.Path(tempfile.mkdtemp()) / "audit.sqlite")
    >>> for n in range(3):
    ...     _ = store.append("policy.loaded", "system", "", {"n": n})
    >>> e = store.dispose(2, "audit.disposed", "host:root", "", {"reason": "retention"})
    >>> anchor = load_disposal(store, None)
    >>> anchor.through_seq, anchor.record_seq, [r.seq for r in store.stored_records()]
    (2, 4, [3, 4])
    >>> store.close()
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.audit.chain import stored_hash
from gateway.audit.checkpoints import record_mac
from gateway.audit.kinds import EventKind
from gateway.audit.store import AuditStore

__all__ = ["DisposalAnchor", "load_disposal"]


@dataclass(frozen=True)
class DisposalAnchor:
    """The last record disposed of, as an authentic ``audit.disposed`` record states it.

    Attributes:
        through_seq: the last disposed ``seq``; the log now starts at the next one.
        through_hash: that record's hash (the first remaining record's ``prev_hash``).
        through_event_id: that record's id.
        record_seq: the ``seq`` of the ``audit.disposed`` record.
        actor: who disposed.
        note: one line for verification reports.
    """

    through_seq: int
    through_hash: str
    through_event_id: str
    record_seq: int
    actor: str
    note: str


def load_disposal(store: AuditStore, key: bytes | None) -> DisposalAnchor | None:
    """The latest authentic disposal (None: nothing was ever disposed of).

    A record that is not authentic (hash or, with ``key``, MAC wrong) is skipped: the walk then
    meets the missing records as a gap, and the record itself as a break.

    Raises:
        AuditUnavailable: the store cannot be read.
    """
    best: DisposalAnchor | None = None
    for event in store.events(kinds=(EventKind.AUDIT_DISPOSED,)):
        stored = store.stored_record(event.seq)
        if stored is None or stored_hash(stored) != stored.hash:
            continue
        if key is not None and (
            stored.mac is None or stored.mac != record_mac(key, stored.hash or "")
        ):
            continue
        details = event.details
        through = details.get("through_seq")
        through_hash = details.get("through_hash")
        if not isinstance(through, int) or not isinstance(through_hash, str) or through < 1:
            continue
        if through >= event.seq or (best is not None and through <= best.through_seq):
            continue
        best = DisposalAnchor(
            through_seq=through,
            through_hash=through_hash,
            through_event_id=str(details.get("through_event_id", "")),
            record_seq=event.seq,
            actor=event.actor,
            note=(
                f"records up to seq {through} disposed of at seq {event.seq} by {event.actor} "
                f"({event.time:%Y-%m-%d %H:%M} UTC): {details.get('reason', '')}"
            ),
        )
    return best
