"""Tamper evidence: recompute the hash chain and record MACs, check them against the signed
checkpoints (and their external witnesses), name the first bad record.

What verification finds, and the first record it names:

- **edit** of any field (also blanking it): the record's contents no longer match its hash;
- **deletion** of a record: ``seq`` jumps (records are numbered 1, 2, 3 … with no gaps);
- **insertion** (renumbering the records after it): the inserted or renumbered record fails
  its hash or its link to the previous one;
- **reordering**: ``seq`` is inside the hash, so a moved record fails its hash;
- **rewriting and re-hashing** any stretch, even in the tail no checkpoint covers yet: each
  record carries a MAC of its hash under the checkpoint key, which a rewriter without the key
  cannot recompute; the first signed checkpoint inside the stretch no longer matches either;
- **a forged record appended** with a correct plain hash: it has no valid MAC;
- **truncation** of the tail (also through WAL damage, which drops committed transactions
  silently): a checkpoint names a ``seq`` that is no longer there. Checkpoints are written
  every few seconds (:mod:`gateway.audit.checkpointer`), so at most that much can go unseen;
- **rollback** of the database *and* its checkpoint file together: a checkpoint in an external
  witness (:mod:`gateway.audit.witness`) names a ``seq`` the log no longer has, or a different
  record there;
- **a deleted or emptied checkpoint file**: a log with records always has one (a new log's file
  starts with a genesis line);
- **physical damage**: SQLite's ``integrity_check``.

Records disposed of under the retention schedule are not a break: the walk starts after the
last one, as an authentic ``audit.disposed`` record names it (:mod:`gateway.audit.disposal`).

Problems an operator has acknowledged (``gateway audit acknowledge``, itself an authentic
``audit.acknowledged`` record naming the breaks and checkpoints it accepts) are reported as
notes, not failures; anything new still fails.

Threat model and limits (read before relying on it):

- The chain needs no secret and shows the log is *internally consistent*; the record MACs and
  checkpoints need the key (``DIR/secrets/audit-checkpoint.key``). Someone who can read that
  key can forge records and checkpoints alike: keep ``DIR/secrets`` unreadable to anyone but
  the gateway's account.
- Records written after the last checkpoint (at most ``checkpoint_interval`` seconds' worth, or
  more while the checkpoint file is failing — health says ``degraded``) can be cut from the end
  without trace, e.g. after a crash.
- Without an external witness, rolling back the database and the checkpoint file together to
  an earlier consistent state is not detected; with a readable witness file it is.

Example:
    >>> from datetime import datetime, timezone
    >>> from gateway.audit.chain import GENESIS_HASH, StoredRecord, format_time, seal
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

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gateway.audit.chain import GENESIS_HASH, StoredRecord, stored_hash
from gateway.audit.checkpoints import (
    CHECKPOINT_KEY,
    Checkpoint,
    CheckpointFile,
    CheckpointLine,
    checkpoint_valid,
    key_id,
    record_mac,
)
from gateway.audit.disposal import DisposalAnchor, load_disposal
from gateway.audit.kinds import EventKind
from gateway.audit.location import open_audit_store
from gateway.audit.store import AuditStore
from gateway.audit.witness import Witness, readable_files, witnesses_from_env
from gateway.datadir import DataDir
from gateway.errors import AuditUnavailable

__all__ = [
    "Acknowledgements",
    "ChainBreak",
    "ChainWalk",
    "CheckpointProblem",
    "SignedCheckpoint",
    "VerifyReport",
    "load_acknowledgements",
    "signed_checkpoints",
    "verify",
    "verify_data_dir",
    "verify_store",
]


@dataclass(frozen=True)
class ChainBreak:
    """A place the log fails verification.

    Attributes:
        seq: the first bad (or missing) record's position.
        event_id: its id when a record is there to name.
        reason: what is wrong, in plain words.
        key: identity of a break in the chain itself, as an acknowledgement names it.
        checkpoints: MACs of the signed checkpoints the log contradicts (a truncation or
            rewrite found through checkpoints), as an acknowledgement names them.
    """

    seq: int
    event_id: str | None
    reason: str
    key: str = ""
    checkpoints: tuple[str, ...] = ()


@dataclass(frozen=True)
class Acknowledgements:
    """Problems operators have accepted, from authentic ``audit.acknowledged`` records.

    Attributes:
        breaks: :attr:`ChainBreak.key` of accepted chain breaks.
        checkpoints: MACs of checkpoints the log may contradict (superseded history).
        notes: one line per acknowledgement (who, when, why) for reports.
    """

    breaks: frozenset[str] = frozenset()
    checkpoints: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignedCheckpoint:
    """A validly signed checkpoint and where it was read (``line 3``, ``witness file … line 9``)."""

    source: str
    checkpoint: Checkpoint


@dataclass(frozen=True)
class VerifyReport:
    """Outcome of :func:`verify`.

    Attributes:
        records: records read (up to and including the break, if any).
        head_seq: last valid ``seq`` before any break.
        last_checkpoint_seq: highest ``seq`` vouched for by a valid checkpoint.
        checkpoints_checked: valid checkpoints matched against records.
        broken: the first break in the chain, if any.
        checkpoint_problems: checkpoint lines that are unreadable or badly signed; a missing
            checkpoint file or an unreadable witness.
        warnings: limits of what this run could prove, and acknowledged problems (not failures).
        breaks: every break found (only the first unless collecting, see :func:`verify`).
        damage: what the database's own integrity check found.
        problem_keys: identities of the untrustworthy checkpoint lines among
            ``checkpoint_problems``, as an acknowledgement names them.
        disposed_through: the last ``seq`` disposed of under the retention schedule (0: none);
            the chain was walked from the record after it (:mod:`gateway.audit.disposal`).
    """

    records: int
    head_seq: int
    last_checkpoint_seq: int | None
    checkpoints_checked: int
    broken: ChainBreak | None
    checkpoint_problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    breaks: tuple[ChainBreak, ...] = ()
    damage: tuple[str, ...] = ()
    problem_keys: tuple[str, ...] = ()
    disposed_through: int = 0

    @property
    def ok(self) -> bool:
        return self.broken is None and not self.checkpoint_problems and not self.damage

    def summary(self) -> str:
        """One line: ``audit chain valid: …`` or ``audit chain broken at seq K (event …): …``."""
        if self.damage:
            return f"audit database damaged: {self.damage[0]}"
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
        disposed = (
            f" (records up to seq {self.disposed_through} disposed of)"
            if self.disposed_through
            else ""
        )
        return f"audit chain valid: {self.records} records{disposed}, {checkpoint}"


@dataclass(frozen=True)
class CheckpointProblem:
    """A checkpoint line that cannot be trusted, and the identity an acknowledgement names."""

    key: str
    message: str


def signed_checkpoints(
    lines: Sequence[CheckpointLine], key: bytes | None, *, source: str = ""
) -> tuple[list[SignedCheckpoint], list[CheckpointProblem]]:
    """The validly signed checkpoints among ``lines``, and what is wrong with the others."""
    found: list[SignedCheckpoint] = []
    problems: list[CheckpointProblem] = []
    prefix = f"{source} " if source else ""
    for line in lines:
        cp = line.checkpoint
        where = f"{prefix}line {line.line_no}"
        if cp is None:
            problems.append(
                CheckpointProblem(f"line:{where}", f"checkpoint {where} is {line.problem}")
            )
        elif key is None:
            continue
        elif cp.key_id != key_id(key):
            problems.append(
                CheckpointProblem(
                    f"line:{cp.mac}",
                    f"checkpoint {where} is signed with another key (key id "
                    f"{cp.key_id}, expected {key_id(key)})",
                )
            )
        elif not checkpoint_valid(key, cp):
            problems.append(
                CheckpointProblem(
                    f"line:{cp.mac}",
                    f"checkpoint {where} does not match its signature (line edited)",
                )
            )
        elif cp.seq == 0 and cp.hash != GENESIS_HASH:
            problems.append(
                CheckpointProblem(
                    f"line:{cp.mac}", f"checkpoint {where} is a genesis line with a wrong hash"
                )
            )
        else:
            found.append(SignedCheckpoint(where, cp))
    return found, problems


def _keyed_from(checkpoints: Iterable[SignedCheckpoint], stored: int | None) -> int | None:
    """The first ``seq`` that must carry a MAC: what signed checkpoints say, else the store."""
    signed = [s.checkpoint.keyed_from for s in checkpoints if s.checkpoint.keyed_from is not None]
    return min(signed) if signed else stored


@dataclass
class ChainWalk:
    """Walks records in ``seq`` order, checking each one's link, hash and MAC.

    Feed it records with :meth:`feed`; it returns the break a record reveals (``None`` when the
    record is sound or its break was acknowledged) and resynchronises on the record, so a
    collecting caller can go on to find the next one.

    Args:
        key: the record-MAC key (None: MACs are not checked).
        keyed_from: first ``seq`` that must carry a MAC (None: from the first record that has one).
        acknowledged: breaks accepted by an operator.
        expected_seq, prev_hash: where the walk starts (the record after a trusted anchor).
    """

    key: bytes | None = None
    keyed_from: int | None = None
    acknowledged: Acknowledgements = field(default_factory=Acknowledgements)
    expected_seq: int = 1
    prev_hash: str = GENESIS_HASH
    notes: list[str] = field(default_factory=list)
    _seen_mac: bool = False

    def feed(self, record: StoredRecord) -> ChainBreak | None:
        """Check one record; see the class docstring."""
        found = self._problem(record)
        if found is not None and found.seq != record.seq:  # a gap: then check the record itself
            self.expected_seq, self.prev_hash = record.seq, record.prev_hash or ""
            found = self._accepted(found, record) or self._problem(record)
        self.expected_seq = record.seq + 1
        self.prev_hash = record.hash or ""
        return self._accepted(found, record) if found is not None else None

    def _accepted(self, found: ChainBreak, record: StoredRecord) -> ChainBreak | None:
        key = f"{found.seq}:{record.seq}:{record.event_id}"
        if key in self.acknowledged.breaks:
            self.notes.append(f"acknowledged break at seq {found.seq}: {found.reason}")
            return None
        return ChainBreak(found.seq, found.event_id, found.reason, key=key)

    def _problem(self, record: StoredRecord) -> ChainBreak | None:
        expected = self.expected_seq
        if record.seq > expected:
            return ChainBreak(
                expected,
                None,
                f"record missing: seq jumps from {expected - 1} to {record.seq} "
                f"(event {record.event_id} follows the gap)",
            )
        if record.seq < expected:
            return ChainBreak(record.seq, record.event_id, f"seq out of order after {expected - 1}")
        recomputed = stored_hash(record)
        if recomputed is None:
            return ChainBreak(record.seq, record.event_id, "a field is empty (record blanked)")
        if recomputed != record.hash:
            return ChainBreak(
                record.seq, record.event_id, "its contents do not match its hash (edited or moved)"
            )
        if record.prev_hash != self.prev_hash:
            return ChainBreak(
                record.seq,
                record.event_id,
                f"prev_hash does not match the hash of seq {record.seq - 1} "
                "(a record before it was inserted, removed or rewritten)",
            )
        return self._mac_problem(record)

    def _mac_problem(self, record: StoredRecord) -> ChainBreak | None:
        if self.key is None:
            return None
        required = record.seq >= self.keyed_from if self.keyed_from is not None else self._seen_mac
        if record.mac is None:
            if required:
                return ChainBreak(
                    record.seq,
                    record.event_id,
                    "it has no record MAC: appended by someone without the key (forged), or "
                    "its MAC was removed",
                )
            return None
        self._seen_mac = True
        if record.mac != record_mac(self.key, record.hash or ""):
            return ChainBreak(
                record.seq,
                record.event_id,
                "its MAC does not match: forged, or rewritten and re-hashed without the key",
            )
        return None


def verify(
    records: Iterable[StoredRecord],
    checkpoints: Sequence[CheckpointLine] = (),
    key: bytes | None = None,
    *,
    witnesses: Sequence[tuple[str, Sequence[CheckpointLine]]] = (),
    acknowledged: Acknowledgements | None = None,
    keyed_from: int | None = None,
    disposed: DisposalAnchor | None = None,
    collect: bool = False,
) -> VerifyReport:
    """Recompute the chain and MACs over ``records`` (in ``seq`` order) and match checkpoints.

    Stops at the first break unless ``collect``. Pure: reads only what it is given.

    Args:
        records: the log exactly as stored (:meth:`AuditStore.stored_records`).
        checkpoints: lines of the checkpoint file.
        key: the checkpoint key; without it neither checkpoints nor MACs are checked.
        witnesses: ``(name, lines)`` of each readable witness.
        acknowledged: problems operators accepted (see :func:`load_acknowledgements`).
        keyed_from: the store's own idea of the first keyed ``seq`` (signed checkpoints win).
        disposed: the authentic disposal (:func:`gateway.audit.disposal.load_disposal`):
            ``records`` then start after its ``through_seq`` and link to its hash; signed
            checkpoints below it are not held against the log, one at it must agree.
        collect: go on after a break (resynchronising) to find every one, e.g. to
            acknowledge them all.
    """
    acks = acknowledged or Acknowledgements()
    local, bad_lines = signed_checkpoints(checkpoints, key)
    witnessed: list[SignedCheckpoint] = []
    for name, lines in witnesses:
        found, bad = signed_checkpoints(lines, key, source=name)
        witnessed.extend(found)
        bad_lines.extend(bad)
    accepted = [b for b in bad_lines if b.key in acks.checkpoints]
    bad_lines = [b for b in bad_lines if b.key not in acks.checkpoints]
    problems = [b.message for b in bad_lines]
    every = local + witnessed
    by_seq: dict[int, list[SignedCheckpoint]] = {}
    for signed in every:
        if signed.checkpoint.seq > 0:
            by_seq.setdefault(signed.checkpoint.seq, []).append(signed)
    warnings: list[str] = []
    if key is None and (checkpoints or witnesses):
        warnings.append("checkpoint signatures and record MACs not checked (no key given)")
    walk = ChainWalk(key, _keyed_from(every, keyed_from), acks)
    walk.notes.extend(f"acknowledged: {b.message}" for b in accepted)
    breaks: list[ChainBreak] = []
    if disposed is not None:
        walk.expected_seq, walk.prev_hash = disposed.through_seq + 1, disposed.through_hash
        walk.notes.append(disposed.note)
        breaks.extend(_disposal_contradictions(disposed, by_seq))
    count, checked, head = 0, 0, 0
    for record in records:
        count += 1
        chain_break = walk.feed(record)
        if chain_break is not None:
            breaks.append(chain_break)
        for signed in by_seq.get(record.seq, []):
            checked += 1
            cp = signed.checkpoint
            if cp.hash == record.hash and cp.event_id == record.event_id:
                continue
            if cp.mac in acks.checkpoints:
                walk.notes.append(f"acknowledged: seq {cp.seq} differs from {signed.source}")
                continue
            breaks.append(
                ChainBreak(
                    record.seq,
                    record.event_id,
                    f"differs from the signed checkpoint on {signed.source}: the log up to this "
                    "record was rewritten or rolled back",
                    checkpoints=(cp.mac,),
                )
            )
        if breaks and not collect:
            break
        head = record.seq
    if breaks and not collect:
        head = max(0, breaks[0].seq - 1)
    else:
        beyond = [s for seqs in by_seq.values() for s in seqs if s.checkpoint.seq > head]
        for s in beyond:
            if s.checkpoint.mac in acks.checkpoints:
                walk.notes.append(
                    f"acknowledged: seq {s.checkpoint.seq} of {s.source} is beyond the log"
                )
        beyond = [s for s in beyond if s.checkpoint.mac not in acks.checkpoints]
        if beyond:
            far = max(beyond, key=lambda s: s.checkpoint.seq)
            breaks.append(
                ChainBreak(
                    head + 1,
                    far.checkpoint.event_id if far.checkpoint.seq == head + 1 else None,
                    f"records {head + 1}..{far.checkpoint.seq} are missing: the tail of the log "
                    f"was removed or rolled back (a signed checkpoint on {far.source} vouches "
                    f"for seq {far.checkpoint.seq})",
                    checkpoints=tuple(sorted({s.checkpoint.mac for s in beyond})),
                )
            )
    vouched = [seq for seq in by_seq if seq <= head]
    last_cp = max(vouched) if vouched else None
    if not breaks and key is not None and head:
        if not every:
            problems.append(
                f"no signed checkpoint at all, though the log has {head} records: the "
                "checkpoint file was emptied or replaced"
            )
        elif last_cp is None:
            warnings.append("no signed checkpoint covers a record yet: removal cannot be detected")
        elif last_cp < head:
            warnings.append(
                f"{head - last_cp} records after the last checkpoint (seq {last_cp}) are not yet "
                "covered by a checkpoint"
            )
    local_macs = {s.checkpoint.mac for s in local}
    for name, _ in witnesses:
        held = [s for s in witnessed if s.source.startswith(f"{name} ")]
        missing = [s for s in held if s.checkpoint.mac not in local_macs]
        if not held and head:
            warnings.append(f"{name} holds no checkpoint yet")
        elif missing:
            top = max(s.checkpoint.seq for s in missing)
            warnings.append(
                f"the checkpoint file lacks {len(missing)} checkpoints that {name} holds (up to "
                f"seq {top}): lines lost, or the file was rolled back"
            )
    return VerifyReport(
        records=count,
        head_seq=head,
        last_checkpoint_seq=last_cp,
        checkpoints_checked=checked,
        broken=breaks[0] if breaks else None,
        checkpoint_problems=tuple(problems),
        warnings=tuple([*warnings, *acks.notes, *walk.notes]),
        breaks=tuple(breaks),
        problem_keys=tuple(b.key for b in bad_lines),
        disposed_through=disposed.through_seq if disposed is not None else 0,
    )


def _disposal_contradictions(
    disposed: DisposalAnchor, by_seq: Mapping[int, Sequence[SignedCheckpoint]]
) -> list[ChainBreak]:
    """A signed checkpoint of the last disposed record that disagrees with the disposal's
    account of it: the disposal record names a record the log never had."""
    return [
        ChainBreak(
            disposed.through_seq,
            disposed.through_event_id or None,
            f"the disposal recorded at seq {disposed.record_seq} names a record that differs "
            f"from the signed checkpoint on {signed.source}",
            checkpoints=(signed.checkpoint.mac,),
        )
        for signed in by_seq.get(disposed.through_seq, ())
        if signed.checkpoint.hash != disposed.through_hash
        or signed.checkpoint.event_id != disposed.through_event_id
    ]


def load_acknowledgements(store: AuditStore, key: bytes | None) -> Acknowledgements:
    """The problems accepted by ``audit.acknowledged`` records whose MAC proves them authentic.

    Raises:
        AuditUnavailable: the store cannot be read.
    """
    if key is None:
        return Acknowledgements()
    breaks: set[str] = set()
    checkpoints: set[str] = set()
    notes: list[str] = []
    for event in store.events(kinds=(EventKind.AUDIT_ACKNOWLEDGED,)):
        stored = store.stored_record(event.seq)
        if (
            stored is None
            or stored.mac is None
            or stored_hash(stored) != stored.hash
            or stored.mac != record_mac(key, stored.hash or "")
        ):
            continue  # not authentic: verification reports the record itself
        details: Mapping[str, object] = event.details
        breaks.update(str(b) for b in _list(details.get("breaks")))
        checkpoints.update(str(c) for c in _list(details.get("checkpoints")))
        notes.append(
            f"acknowledged at seq {event.seq} by {event.actor} "
            f"({event.time:%Y-%m-%d %H:%M} UTC): {details.get('reason', '')}"
        )
    return Acknowledgements(frozenset(breaks), frozenset(checkpoints), tuple(notes))


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def verify_store(
    store: AuditStore,
    checkpoints: CheckpointFile | None = None,
    key: bytes | None = None,
    *,
    witnesses: Sequence[Witness] = (),
    collect: bool = False,
) -> VerifyReport:
    """:func:`verify` over a store's records, its checkpoint file and readable witnesses, plus
    the database's own integrity check and the checkpoint file's presence.

    Raises:
        AuditUnavailable: the store or checkpoint file cannot be read.
    """
    try:
        damage = store.check_integrity(quick=False)
    except AuditUnavailable as exc:
        damage = (exc.message,)
    if damage:
        return VerifyReport(0, 0, None, 0, None, damage=damage)
    lines = checkpoints.read() if checkpoints is not None else []
    witness_lines: list[tuple[str, Sequence[CheckpointLine]]] = []
    unreadable: list[str] = []
    for name, file in readable_files(witnesses):
        try:
            witness_lines.append((name, file.read()))
        except AuditUnavailable as exc:
            unreadable.append(f"{name} cannot be read: {exc.message}")
    disposed = load_disposal(store, key)
    report = verify(
        store.stored_records(after_seq=disposed.through_seq if disposed else 0),
        lines,
        key,
        witnesses=witness_lines,
        acknowledged=load_acknowledgements(store, key),
        keyed_from=store.keyed_from(),
        disposed=disposed,
        collect=collect,
    )
    problems = list(report.checkpoint_problems) + unreadable
    if checkpoints is not None and report.records and not checkpoints.exists():
        problems.insert(
            0,
            f"the checkpoint file {checkpoints.path} is missing, though the log has "
            f"{report.records} records (deleted?)",
        )
    return VerifyReport(
        records=report.records,
        head_seq=report.head_seq,
        last_checkpoint_seq=report.last_checkpoint_seq,
        checkpoints_checked=report.checkpoints_checked,
        broken=report.broken,
        checkpoint_problems=tuple(problems),
        warnings=report.warnings,
        breaks=report.breaks,
        problem_keys=report.problem_keys,
        disposed_through=report.disposed_through,
    )


def verify_data_dir(
    data_dir: DataDir,
    *,
    checkpoints: Path | None = None,
    witnesses: Sequence[Witness] | None = None,
    collect: bool = False,
) -> VerifyReport:
    """Verify a deployment's audit log (opened read-only) against its checkpoint file and the
    witnesses (by default those ``GATEWAY_AUDIT_WITNESS_*`` configure).

    Raises:
        AuditUnavailable: no audit log there, or it cannot be read.
    """
    if witnesses is None:
        witnesses = witnesses_from_env(os.environ, data_dir=data_dir.root)
    store = open_audit_store(data_dir, read_only=True)
    try:
        return verify_store(
            store,
            CheckpointFile(checkpoints or data_dir.audit_checkpoints),
            data_dir.secret(CHECKPOINT_KEY),
            witnesses=witnesses,
            collect=collect,
        )
    finally:
        store.close()
