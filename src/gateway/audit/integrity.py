"""The startup check: refuse to serve on a rolled-back, truncated, forged or damaged audit log.

Run when a log is opened for writing (:meth:`gateway.audit.log.AuditLog.open`), so the server,
and every command that appends, refuse a log that fails it. It is cheap — it reads the end of
the checkpoint files and the records written since the newest checkpoint, not the whole log:

1. SQLite's ``quick_check`` (physical damage);
2. the newest checkpoints of the local file and of every readable witness: a checkpoint for a
   ``seq`` beyond the head means records were removed (a cut tail, a rollback of the database,
   WAL damage that dropped committed transactions); one whose hash differs from the record at
   its ``seq`` means history was rewritten;
3. a log with records but no checkpoint file (or none with a valid signature) was tampered with;
4. the records after the newest matching checkpoint: links, hashes and keyed MACs (a forged
   record appended with a valid plain hash fails here).

A log whose oldest records were disposed of under the retention schedule starts after the last
disposed record, as its authentic ``audit.disposed`` record names it
(:mod:`gateway.audit.disposal`); checkpoints of disposed records are not held against it.

A finding refuses the open with :class:`~gateway.errors.AuditUnavailable` naming it and the way
out: investigate, then ``gateway audit acknowledge --data-dir DIR --reason …`` (see
:func:`acknowledge`), which appends an ``audit.acknowledged`` record naming exactly the breaks
and checkpoints it accepts, and checkpoints it. Later checks and ``gateway audit verify`` report
those as notes; anything else still fails. A database SQLite itself finds damaged cannot be
acknowledged: restore or repair it first.

Example:
    >>> import tempfile, pathlib
    >>> from gateway.audit.checkpoints import CheckpointFile
    >>> from gateway.audit.sqlite import SQLiteAuditStore
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> store = SQLiteAuditStore(d / "audit.sqlite", record_key=b"k" * 32)
    >>> check_log(store, CheckpointFile(d / "cp.jsonl"), b"k" * 32).ok
    True
    >>> store.close()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from gateway.audit.checkpoints import CheckpointFile, CheckpointLine
from gateway.audit.disposal import load_disposal
from gateway.audit.kinds import EventKind
from gateway.audit.store import AuditStore
from gateway.audit.verify import (
    Acknowledgements,
    ChainWalk,
    SignedCheckpoint,
    VerifyReport,
    load_acknowledgements,
    signed_checkpoints,
    verify_store,
)
from gateway.audit.witness import Witness, readable_files
from gateway.errors import AuditUnavailable

__all__ = [
    "IntegrityAcknowledged",
    "IntegrityCheck",
    "IntegrityFinding",
    "acknowledgement_of",
    "check_log",
]


@dataclass(frozen=True)
class IntegrityFinding:
    """One reason not to serve.

    Attributes:
        message: what is wrong, in plain words.
        acknowledgeable: whether an operator may accept it (not for a damaged database).
    """

    message: str
    acknowledgeable: bool = True


@dataclass(frozen=True)
class IntegrityCheck:
    """Outcome of :func:`check_log`.

    Attributes:
        head_seq: the log's last ``seq``.
        checkpoint_seq: the highest ``seq`` a valid, matching checkpoint vouches for (the
            checkpointer never signs below it).
        findings: reasons to refuse (empty: serve).
        degraded: reasons to serve but report ``degraded`` (a witness that cannot be read).
        notes: acknowledged problems seen on the way.
    """

    head_seq: int
    checkpoint_seq: int
    findings: tuple[IntegrityFinding, ...] = ()
    degraded: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.findings

    def refusal(self, where: str) -> str:
        """The message a refused open raises with (``where``: the data directory)."""
        found = "; ".join(f.message for f in self.findings)
        if all(f.acknowledgeable for f in self.findings):
            way_out = (
                f"investigate (`gateway audit verify --data-dir {where}`), then record the "
                f'accepted loss with `gateway audit acknowledge --data-dir {where} --reason "…"`'
            )
        else:
            way_out = "restore the audit database from a backup or repair it, then acknowledge"
        return f"the audit log failed its integrity check and will not be used: {found}. {way_out}"


def _read_tails(
    checkpoints: CheckpointFile, witnesses: Sequence[Witness]
) -> tuple[list[tuple[str, list[CheckpointLine]]], list[str]]:
    sources: list[tuple[str, list[CheckpointLine]]] = [("", checkpoints.read_tail())]
    unreadable: list[str] = []
    for name, file in readable_files(witnesses):
        try:
            sources.append((name, file.read_tail()))
        except AuditUnavailable as exc:
            unreadable.append(f"{name} cannot be read, so a rollback cannot be ruled out: {exc}")
    return sources, unreadable


def check_log(
    store: AuditStore,
    checkpoints: CheckpointFile,
    key: bytes,
    *,
    witnesses: Sequence[Witness] = (),
) -> IntegrityCheck:
    """The startup check (see the module docstring).

    Raises:
        AuditUnavailable: the local checkpoint file or the store cannot be read.
    """
    try:
        damage = store.check_integrity(quick=True)
    except AuditUnavailable as exc:
        damage = (exc.message,)
    if damage:
        message = f"the audit database is damaged ({damage[0]})"
        return IntegrityCheck(0, 0, (IntegrityFinding(message, acknowledgeable=False),))
    acks = load_acknowledgements(store, key)
    # Checkpoints before the head: a checkpoint written meanwhile is for a seq <= the head.
    file_exists = checkpoints.exists()
    sources, unreadable = _read_tails(checkpoints, witnesses)
    head, _ = store.head()
    signed: list[SignedCheckpoint] = []
    for name, lines in sources:
        signed.extend(signed_checkpoints(lines, key, source=name or "checkpoint file")[0])
    findings: list[IntegrityFinding] = []
    if head and not file_exists:
        findings.append(
            IntegrityFinding(
                f"the checkpoint file {checkpoints.path} is missing, though the log has "
                f"{head} records"
            )
        )
    elif head and not any(s.source.startswith("checkpoint file") for s in signed):
        findings.append(
            IntegrityFinding(
                f"the checkpoint file {checkpoints.path} holds no validly signed checkpoint "
                "at its end, though the log has records (emptied, replaced or overwritten)"
            )
        )
    notes: list[str] = []
    live = [s for s in signed if s.checkpoint.mac not in acks.checkpoints]
    notes.extend(
        f"acknowledged checkpoint seq {s.checkpoint.seq} ({s.source})"
        for s in signed
        if s.checkpoint.mac in acks.checkpoints
    )
    beyond = [s for s in live if s.checkpoint.seq > head]
    if beyond:
        far = max(beyond, key=lambda s: s.checkpoint.seq)
        findings.append(
            IntegrityFinding(
                f"the log ends at seq {head} but a signed checkpoint ({far.source}) vouches for "
                f"seq {far.checkpoint.seq}: records {head + 1}..{far.checkpoint.seq} were "
                "removed (truncated, rolled back or lost from the WAL)"
            )
        )
    anchor, anchor_hash = 0, ""
    disposed = load_disposal(store, key)
    if disposed is not None:
        anchor, anchor_hash = disposed.through_seq, disposed.through_hash
        notes.append(disposed.note)
    for s in sorted(live, key=lambda s: s.checkpoint.seq):
        cp = s.checkpoint
        if cp.seq == 0 or cp.seq > head:
            continue
        if disposed is not None and cp.seq <= disposed.through_seq:
            if cp.seq == disposed.through_seq and cp.hash != disposed.through_hash:
                findings.append(
                    IntegrityFinding(
                        f"the disposal recorded at seq {disposed.record_seq} names a record "
                        f"seq {cp.seq} that differs from the signed checkpoint ({s.source})"
                    )
                )
            continue  # disposed of: vouches for a record the log no longer holds
        record = store.stored_record(cp.seq)
        if record is None or record.hash != cp.hash or record.event_id != cp.event_id:
            findings.append(
                IntegrityFinding(
                    f"record seq {cp.seq} differs from the signed checkpoint ({s.source}): the "
                    "log was rewritten or rolled back"
                )
            )
        elif cp.seq > anchor:
            anchor, anchor_hash = cp.seq, cp.hash
    findings.extend(_tail_findings(store, key, acks, signed, anchor, anchor_hash, notes))
    return IntegrityCheck(head, anchor, tuple(findings), tuple(unreadable), tuple(notes))


def _tail_findings(
    store: AuditStore,
    key: bytes,
    acks: Acknowledgements,
    signed: Sequence[SignedCheckpoint],
    anchor: int,
    anchor_hash: str,
    notes: list[str],
) -> list[IntegrityFinding]:
    stated = [s.checkpoint.keyed_from for s in signed if s.checkpoint.keyed_from is not None]
    walk = ChainWalk(key, min(stated) if stated else store.keyed_from(), acks)
    if anchor:
        walk.expected_seq, walk.prev_hash = anchor + 1, anchor_hash
    findings: list[IntegrityFinding] = []
    for record in store.stored_records(after_seq=anchor):
        found = walk.feed(record)
        if found is not None:
            event = f" (event {found.event_id})" if found.event_id else ""
            findings.append(IntegrityFinding(f"seq {found.seq}{event}: {found.reason}"))
            break
    notes.extend(walk.notes)
    return findings


# --- acknowledging -------------------------------------------------------------------------


@dataclass(frozen=True)
class IntegrityAcknowledged:
    """An operator's acceptance of what verification found (``audit.acknowledged``).

    Attributes:
        actor: who acknowledges (``host:<operating-system user>`` from the command line).
        reason: why, in their words (an incident reference).
        report: the collecting verification it accepts.
    """

    actor: str
    reason: str
    report: VerifyReport

    kind: ClassVar[EventKind] = EventKind.AUDIT_ACKNOWLEDGED
    organisation: ClassVar[str] = ""

    def details(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "head_seq": self.report.head_seq,
            "findings": [b.reason for b in self.report.breaks]
            + list(self.report.checkpoint_problems),
            "breaks": sorted({b.key for b in self.report.breaks if b.key}),
            "checkpoints": sorted(
                {mac for b in self.report.breaks for mac in b.checkpoints}
                | set(self.report.problem_keys)
            ),
        }

    @property
    def needed(self) -> bool:
        """Whether there is anything to acknowledge."""
        return bool(self.report.breaks or self.report.checkpoint_problems)


def acknowledgement_of(
    store: AuditStore,
    checkpoints: CheckpointFile,
    key: bytes,
    *,
    actor: str,
    reason: str,
    witnesses: Sequence[Witness] = (),
) -> IntegrityAcknowledged:
    """What an operator would acknowledge now: every break and contradicted checkpoint a
    collecting verification finds.

    Raises:
        AuditUnavailable: the database is damaged (repair it first) or cannot be read.
    """
    report = verify_store(store, checkpoints, key, witnesses=witnesses, collect=True)
    if report.damage:
        raise AuditUnavailable(
            f"the audit database is damaged ({report.damage[0]}): restore or repair it first; "
            "acknowledging cannot make a damaged file sound"
        )
    return IntegrityAcknowledged(actor, reason, report)
