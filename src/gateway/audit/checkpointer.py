"""Checkpoints on time and on count, written after records commit and never undoing them.

A record is committed by the store first; covering it with a signed checkpoint is a separate,
later step that may fail (a full disk, a read-only mount, a witness that is down) without
turning the committed record into an undone operation. So the :class:`Checkpointer`:

- writes a checkpoint of every ``every``-th record (by ``seq``) to the local checkpoint file
  right after it commits, and a checkpoint of the head every ``interval`` seconds from a
  background thread whenever the head moved — every record is covered within seconds;
- hands each checkpoint to every witness (:mod:`gateway.audit.witness`) from that thread;
- never raises from :meth:`Checkpointer.appended`: a target that fails is remembered, reported
  by :meth:`Checkpointer.problems` (health ``degraded``) and retried with the newest head until
  it takes one;
- never signs a head *behind* a checkpoint already known (one read at startup or written
  since): a log cut while running is reported ``failing`` instead of being vouched for.

Example:
    >>> import tempfile, pathlib
    >>> from gateway.audit.checkpoints import CheckpointFile
    >>> from gateway.audit.sqlite import SQLiteAuditStore
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> store = SQLiteAuditStore(d / "audit.sqlite", record_key=b"k" * 32)
    >>> cps = Checkpointer(store, CheckpointFile(d / "cp.jsonl"), b"k" * 32, every=2)
    >>> for _ in range(3):
    ...     cps.appended(store.append("policy.loaded", "system", "", {}))
    >>> [line.checkpoint.seq for line in CheckpointFile(d / "cp.jsonl").read()]
    [2]
    >>> cps.close(); [line.checkpoint.seq for line in CheckpointFile(d / "cp.jsonl").read()]
    [2, 3]
    >>> store.close()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gateway.audit.chain import AuditEvent
from gateway.audit.checkpoints import Checkpoint, CheckpointFile, sign_checkpoint
from gateway.audit.store import AuditStore
from gateway.audit.witness import Witness
from gateway.clock import Clock, utc_now
from gateway.errors import AuditUnavailable

__all__ = ["Checkpointer"]

_log = logging.getLogger("gateway.audit")


@dataclass
class _Target:
    """Somewhere checkpoints go, and how that went."""

    name: str
    write: Callable[[Checkpoint], None]
    local: bool
    delivered: int
    error: str = ""
    failing_since: float | None = None


class Checkpointer:
    """Signs checkpoints of a store's head and delivers them to the file and the witnesses.

    Args:
        store: the audit store whose head is signed (not owned).
        file: the local checkpoint file.
        key: the signing key.
        witnesses: external copies (written from the background thread when it runs).
        every: checkpoint each record whose ``seq`` is a multiple of this.
        interval: seconds between time-based checkpoints; None runs no thread (then
            checkpoints come only on count, on :meth:`checkpoint_now` and on :meth:`close`).
        known_seq: highest ``seq`` a valid checkpoint already vouches for (the startup check's).
        clock: the time written into checkpoints.
    """

    def __init__(
        self,
        store: AuditStore,
        file: CheckpointFile,
        key: bytes,
        *,
        witnesses: Sequence[Witness] = (),
        every: int = 100,
        interval: float | None = None,
        known_seq: int = 0,
        clock: Clock = utc_now,
    ) -> None:
        self.store = store
        self.file = file
        self.every = every
        self.interval = interval
        self._key = key
        self._clock = clock
        self._lock = threading.Lock()
        self._targets = [
            _Target(f"checkpoint file {file.path}", file.append, True, known_seq),
            *(_Target(w.name, w.record, False, known_seq) for w in witnesses),
        ]
        self._known_seq = known_seq
        self._failing = ""
        self._last_tick = time.monotonic()
        self._for_witnesses: Checkpoint | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the background thread -------------------------------------------------------------

    def start(self) -> None:
        """Start the time-based thread (a no-op without an interval or when running)."""
        if self.interval is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="audit-checkpointer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self.interval is not None
        due = time.monotonic() + self.interval
        while not self._stop.is_set():
            self._wake.wait(max(0.0, due - time.monotonic()))
            self._wake.clear()
            if self._stop.is_set():
                return
            with self._lock:
                handed, self._for_witnesses = self._for_witnesses, None
            if handed is not None:  # a count checkpoint, already in the file
                self._deliver(handed, [t for t in self._targets if not t.local])
            if time.monotonic() >= due:
                self._tick_reporting()
                due = time.monotonic() + self.interval

    def _tick_reporting(self) -> None:
        try:
            self.tick()
        except AuditUnavailable as exc:
            with self._lock:
                self._failing = f"audit store unreadable by the checkpointer: {exc.message}"
        except Exception as exc:  # a bug here must not stop checkpoints silently: report, go on
            _log.exception("audit checkpointer failed")
            with self._lock:
                self._failing = f"audit checkpointer error: {exc!r}"
        else:
            with self._lock:
                if self._failing.startswith(("audit store unreadable", "audit checkpointer")):
                    self._failing = ""
        self._last_tick = time.monotonic()

    # --- signing and delivering ------------------------------------------------------------

    def _sign(self, seq: int, hash: str, event_id: str) -> Checkpoint:
        return sign_checkpoint(
            self._key, seq, hash, event_id, self._clock(), keyed_from=self.store.keyed_from()
        )

    def _deliver(self, cp: Checkpoint, targets: Sequence[_Target]) -> None:
        for target in targets:
            try:
                target.write(cp)
            except AuditUnavailable as exc:
                with self._lock:
                    if target.failing_since is None:
                        target.failing_since = time.monotonic()
                        _log.warning("audit checkpoint not written: %s", exc.message)
                    target.error = exc.message
                continue
            with self._lock:
                if target.failing_since is not None:
                    _log.warning("audit checkpoints written again to %s", target.name)
                target.delivered = max(target.delivered, cp.seq)
                target.error, target.failing_since = "", None
                if target.local:
                    self._known_seq = max(self._known_seq, cp.seq)

    def appended(self, event: AuditEvent) -> None:
        """Called after each committed append: a checkpoint on every ``every``-th record.

        Never raises: the record is committed whatever happens to its checkpoint.
        """
        if event.seq % self.every or event.seq <= min(t.delivered for t in self._targets):
            return
        cp = self._sign(event.seq, event.hash, event.event_id)
        running = self._thread is not None
        self._deliver(cp, [t for t in self._targets if t.local or not running])
        if running and len(self._targets) > 1:
            with self._lock:
                self._for_witnesses = cp
            self._wake.set()  # the thread hands it to the witnesses

    def tick(self) -> Checkpoint | None:
        """Sign the head if some target lacks it, and deliver it there (the thread's work).

        Returns the checkpoint written, if any. Never signs a head behind a known checkpoint.

        Raises:
            AuditUnavailable: the store cannot be read.
        """
        seq, head_hash = self.store.head()
        with self._lock:
            behind = seq < self._known_seq
            if behind:
                self._failing = (
                    f"the audit log's head (seq {seq}) is behind a checkpoint already signed "
                    f"(seq {self._known_seq}): records were removed while serving"
                )
            lacking = [t for t in self._targets if t.delivered < seq]
        if behind or not lacking or seq == 0:
            return None
        record = self.store.stored_record(seq)
        if record is None or record.hash != head_hash or record.event_id is None:
            return None  # the head moved or vanished between the two reads: next tick
        cp = self._sign(seq, head_hash, record.event_id)
        self._deliver(cp, lacking)
        return cp

    def checkpoint_now(self) -> Checkpoint | None:
        """Sign the head now and deliver it everywhere (``None`` for an empty log).

        Raises:
            AuditUnavailable: the store cannot be read, the head is behind a known checkpoint,
                or the local checkpoint file cannot be written (witness failures are only
                reported, as everywhere).
        """
        seq, head_hash = self.store.head()
        if seq == 0:
            return None
        if seq < self._known_seq:
            raise AuditUnavailable(
                f"the audit log's head (seq {seq}) is behind a checkpoint already signed "
                f"(seq {self._known_seq}): refusing to sign it"
            )
        record = self.store.stored_record(seq)
        if record is None or record.event_id is None or record.hash != head_hash:
            raise AuditUnavailable("the audit log's head changed while being checkpointed")
        cp = self._sign(seq, head_hash, record.event_id)
        self._deliver(cp, self._targets)
        local = self._targets[0]
        if local.delivered < seq:
            raise AuditUnavailable(local.error or f"{local.name} was not written")
        return cp

    # --- state -----------------------------------------------------------------------------

    def problems(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``(failing, degraded)`` reasons, from memory only (no I/O)."""
        now = time.monotonic()
        with self._lock:
            failing = (self._failing,) if self._failing else ()
            degraded = [
                f"{t.name} failing for {now - t.failing_since:.0f} s: {t.error}"
                for t in self._targets
                if t.failing_since is not None
            ]
            thread = self._thread
            stalled = (
                thread is not None
                and self.interval is not None
                and not self._stop.is_set()
                and (not thread.is_alive() or now - self._last_tick > max(10, 5 * self.interval))
            )
        if stalled:
            degraded.append(f"audit checkpointer stalled for {now - self._last_tick:.0f} s")
        return failing, tuple(degraded)

    def close(self) -> None:
        """Stop the thread and cover the head one last time. Never raises (a failure is logged
        and the records stay uncovered until the next process checkpoints them)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        try:
            self.tick()
        except AuditUnavailable as exc:
            _log.warning("final audit checkpoint not written: %s", exc.message)
        for target in self._targets:
            if target.error:
                _log.warning("audit checkpoint not delivered to %s: %s", target.name, target.error)
