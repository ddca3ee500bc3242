"""Tamper evidence: recompute the hash chain and check it against the signed checkpoints.

What verification finds, and the first record it names:

- **edit** of any field (also blanking it): the record's contents no longer match its hash;
- **deletion** of a record: ``seq`` jumps (records are numbered 1, 2, 3 … with no gaps);
- **insertion** (renumbering the records after it): the inserted or renumbered record fails
  its hash or its link to the previous one;
- **reordering**: ``seq`` is inside the hash, so a moved record fails its hash;
- **rewriting** a stretch and re-hashing everything after it: the chain is consistent again,
  but the first signed checkpoint inside the stretch no longer matches;
- **truncation** of the tail (the last records removed): a checkpoint names a ``seq`` that is
  no longer there.

Threat model and limits (read before relying on it):

- The hash chain needs no secret: it shows that the log is *internally consistent*, not that
  nobody rewrote it. Someone able to write the database can rebuild a consistent chain;
  checkpoints signed with a key kept outside the database (``DIR/secrets/``) are what expose
  that, back to the last checkpoint.
- Records appended after the last checkpoint are protected against edits (by the chain) but
  not against removal: up to ``checkpoint_every - 1`` trailing records (plus any written since
  the last clean close) can be cut without trace.
- Someone with write access to the database, the checkpoint file **and** the key can rewrite
  everything undetectably. Ship checkpoints (or the head hash) somewhere they cannot write —
  a different host, a WORM bucket, the SIEM — and keep the key off the gateway host if you can.
- Deleting the checkpoint file's last lines together with the database tail is not detected
  here; copies shipped elsewhere detect it.
- A forged record appended at the end with a correct hash is indistinguishable from a real
  one without an external reference.

Example:
    >>> from datetime import datetime, timezone
    >>> from gateway.audit.records import GENESIS_HASH, StoredRecord, format_time, seal
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> e = seal(1, "E1", t, "policy.loaded", "system", "", {}, GENESIS_HASH)
    >>> rec = StoredRecord(1, "E1", format_time(t), "policy.loaded", "system", "", "{}",
    ...                    GENESIS_HASH, e.hash)
    >>> verify([rec]).ok
    True
    >>> bad = StoredRecord(1, "E1", format_time(t), "policy.loaded", "mallory", "", "{}",
    ...                    GENESIS_HASH, e.hash)
    >>> verify([bad]).summary()
    'audit chain broken at seq 1 (event E1): its contents do not match its hash (edited or moved)'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.audit.checkpoints import (
    Checkpoint,
    CheckpointFile,
    CheckpointLine,
    checkpoint_valid,
    key_id,
)
from gateway.audit.log import CHECKPOINT_KEY, checkpoint_path
from gateway.audit.records import GENESIS_HASH, StoredRecord, stored_hash
from gateway.audit.sqlite import SQLiteAuditStore
from gateway.audit.store import AuditStore
from gateway.datadir import DataDir

__all__ = ["ChainBreak", "VerifyReport", "verify", "verify_data_dir", "verify_store"]


@dataclass(frozen=True)
class ChainBreak:
    """The first place the log fails verification.

    Attributes:
        seq: the first bad (or missing) record's position.
        event_id: its id when a record is there to name.
        reason: what is wrong, in plain words.
    """

    seq: int
    event_id: str | None
    reason: str


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of :func:`verify`.

    Attributes:
        records: records read (up to and including the break, if any).
        head_seq: last valid ``seq`` before any break.
        last_checkpoint_seq: highest ``seq`` vouched for by a valid checkpoint.
        checkpoints_checked: valid checkpoints matched against records.
        broken: the first break in the chain, if any.
        checkpoint_problems: checkpoint lines that are unreadable or badly signed.
        warnings: limits of what this run could prove (not failures).
    """

    records: int
    head_seq: int
    last_checkpoint_seq: int | None
    checkpoints_checked: int
    broken: ChainBreak | None
    checkpoint_problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.broken is None and not self.checkpoint_problems

    def summary(self) -> str:
        """One line: ``audit chain valid: …`` or ``audit chain broken at seq K (event …): …``."""
        if self.broken is not None:
            event = f" (event {self.broken.event_id})" if self.broken.event_id else ""
            return f"audit chain broken at seq {self.broken.seq}{event}: {self.broken.reason}"
        if self.checkpoint_problems:
            return f"audit checkpoints broken: {self.checkpoint_problems[0]}"
        checkpoint = (
            f"last checkpoint seq {self.last_checkpoint_seq}"
            if self.last_checkpoint_seq is not None
            else "no checkpoint yet"
        )
        return f"audit chain valid: {self.records} records, {checkpoint}"


def _signed_checkpoints(
    lines: Sequence[CheckpointLine], key: bytes | None
) -> tuple[dict[int, list[tuple[int, Checkpoint]]], list[str]]:
    by_seq: dict[int, list[tuple[int, Checkpoint]]] = {}
    problems: list[str] = []
    for line in lines:
        cp = line.checkpoint
        if cp is None:
            problems.append(f"checkpoint line {line.line_no} is {line.problem}")
        elif key is None:
            continue
        elif cp.key_id != key_id(key):
            problems.append(
                f"checkpoint line {line.line_no} is signed with another key (key id "
                f"{cp.key_id}, expected {key_id(key)})"
            )
        elif not checkpoint_valid(key, cp):
            problems.append(
                f"checkpoint line {line.line_no} does not match its signature (line edited)"
            )
        else:
            by_seq.setdefault(cp.seq, []).append((line.line_no, cp))
    return by_seq, problems


def _record_problem(record: StoredRecord, expected_seq: int, prev_hash: str) -> ChainBreak | None:
    if record.seq > expected_seq:
        return ChainBreak(
            expected_seq,
            None,
            f"record missing: seq jumps from {expected_seq - 1} to {record.seq} "
            f"(event {record.event_id} follows the gap)",
        )
    if record.seq < expected_seq:
        return ChainBreak(record.seq, record.event_id, f"seq out of order after {expected_seq - 1}")
    recomputed = stored_hash(record)
    if recomputed is None:
        return ChainBreak(record.seq, record.event_id, "a field is empty (record blanked)")
    if recomputed != record.hash:
        return ChainBreak(
            record.seq, record.event_id, "its contents do not match its hash (edited or moved)"
        )
    if record.prev_hash != prev_hash:
        return ChainBreak(
            record.seq,
            record.event_id,
            f"prev_hash does not match the hash of seq {record.seq - 1} "
            "(a record before it was inserted, removed or rewritten)",
        )
    return None


def verify(
    records: Iterable[StoredRecord],
    checkpoints: Sequence[CheckpointLine] = (),
    key: bytes | None = None,
) -> VerifyReport:
    """Recompute the chain over ``records`` (in ``seq`` order) and match the checkpoints.

    Stops at the first break. Pure: reads only what it is given.

    Args:
        records: the log exactly as stored (:meth:`AuditStore.stored_records`).
        checkpoints: lines of the checkpoint file.
        key: the checkpoint key; without it checkpoints are not used.
    """
    by_seq, problems = _signed_checkpoints(checkpoints, key)
    warnings: list[str] = []
    if key is None and checkpoints:
        warnings.append("checkpoint signatures not checked (no key given)")
    expected_seq, prev_hash, count, checked = 1, GENESIS_HASH, 0, 0
    broken: ChainBreak | None = None
    for record in records:
        count += 1
        broken = _record_problem(record, expected_seq, prev_hash)
        if broken is not None:
            break
        for line_no, cp in by_seq.get(record.seq, []):
            checked += 1
            if cp.hash != record.hash or cp.event_id != record.event_id:
                broken = ChainBreak(
                    record.seq,
                    record.event_id,
                    f"differs from the signed checkpoint on line {line_no}: the log up to this "
                    "record was rewritten",
                )
                break
        if broken is not None:
            break
        prev_hash = record.hash or ""
        expected_seq += 1
    head = expected_seq - 1
    vouched = [seq for seq in by_seq if seq <= head]
    if broken is None:
        beyond = [cp for seq, cps in by_seq.items() if seq > head for _, cp in cps]
        if beyond:
            far = max(beyond, key=lambda cp: cp.seq)
            broken = ChainBreak(
                head + 1,
                far.event_id if far.seq == head + 1 else None,
                f"records {head + 1}..{far.seq} are missing: the tail of the log was removed "
                f"(a signed checkpoint vouches for seq {far.seq})",
            )
    last_cp = max(vouched) if vouched else None
    if broken is None and key is not None and head:
        if last_cp is None:
            warnings.append("no signed checkpoint: removal of the tail cannot be detected")
        elif last_cp < head:
            warnings.append(
                f"{head - last_cp} records after the last checkpoint (seq {last_cp}) are not yet "
                "covered by a checkpoint"
            )
    return VerifyReport(
        records=count,
        head_seq=head,
        last_checkpoint_seq=last_cp,
        checkpoints_checked=checked,
        broken=broken,
        checkpoint_problems=tuple(problems),
        warnings=tuple(warnings),
    )


def verify_store(
    store: AuditStore, checkpoints: CheckpointFile | None = None, key: bytes | None = None
) -> VerifyReport:
    """:func:`verify` over a store's records and a checkpoint file.

    Raises:
        AuditUnavailable: the store or checkpoint file cannot be read.
    """
    lines = checkpoints.read() if checkpoints is not None else []
    return verify(store.stored_records(), lines, key)


def verify_data_dir(data_dir: DataDir, *, checkpoints: Path | None = None) -> VerifyReport:
    """Verify a deployment's audit log (opened read-only) against its checkpoint file.

    Raises:
        AuditUnavailable: no audit log there, or it cannot be read.
    """
    store = SQLiteAuditStore(data_dir.audit, read_only=True)
    try:
        return verify_store(
            store,
            CheckpointFile(checkpoints or checkpoint_path(data_dir)),
            data_dir.secret(CHECKPOINT_KEY),
        )
    finally:
        store.close()
