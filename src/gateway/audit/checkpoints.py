"""Signed checkpoints: "the log had this record at this position", kept outside the database.

A checkpoint names a ``seq``, its ``hash`` and ``event_id``, and is signed with HMAC-SHA256
under a key stored apart from the audit database (``DataDir.secret("audit-checkpoint")``).
Checkpoints are appended one JSON line at a time to a file beside the database
(``DIR/audit.checkpoints.jsonl`` by default). Because the hash chain alone cannot tell a
shortened log from a short one, a checkpoint for a ``seq`` that is no longer in the database
shows that the tail was cut; one whose hash differs shows that history was rewritten.

Each line is written with a single ``O_APPEND`` write and ``fsync``: lines from several
processes never interleave. Lines may appear out of ``seq`` order (two processes race); readers
treat the file as a set. A new log's file starts with a *genesis* checkpoint (``seq`` 0), so a
missing or emptied file is evidence, never a normal state. A checkpoint also signs
``keyed_from``: the first ``seq`` whose record carries a :func:`record_mac`, so stripping the
MACs off records cannot pass them off as an unkeyed log.

The same key signs each record's hash (:func:`record_mac`, stored beside the record): a record
appended by someone without the key cannot be given a valid MAC, whatever its plain hash.

Example:
    >>> from datetime import datetime, timezone
    >>> key = b"k" * 32
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> cp = sign_checkpoint(key, 100, "ab" * 32, "EVENTID", t)
    >>> checkpoint_valid(key, cp), checkpoint_valid(b"x" * 32, cp)
    (True, False)
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gateway.audit.chain import GENESIS_HASH, canonical_json, format_time, parse_time
from gateway.errors import AuditUnavailable

__all__ = [
    "CHECKPOINT_KEY",
    "TAIL_BYTES",
    "Checkpoint",
    "CheckpointFile",
    "CheckpointLine",
    "checkpoint_valid",
    "genesis_checkpoint",
    "key_id",
    "record_mac",
    "sign_checkpoint",
    "valid_checkpoints",
]

#: Name of the HMAC key under ``DIR/secrets/`` (see :meth:`gateway.datadir.DataDir.secret`):
#: it signs checkpoints and each record's MAC.
CHECKPOINT_KEY = "audit-checkpoint"
#: Bytes read from the end of a checkpoint file by :meth:`CheckpointFile.read_tail`.
TAIL_BYTES = 256 * 1024


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that record ``seq`` had ``hash`` (and id ``event_id``).

    Attributes:
        key_id: first 16 hex digits of SHA-256 of the signing key (tells keys apart).
        mac: HMAC-SHA256 (hex) over the other fields' canonical JSON.
        keyed_from: first ``seq`` whose record carries a record MAC (None: not stated, as in
            checkpoints written before records were keyed; 0 would mean never).
    """

    seq: int
    hash: str
    event_id: str
    written_at: datetime
    key_id: str
    mac: str
    keyed_from: int | None = None

    def to_json(self) -> str:
        return canonical_json({**_signed_fields(self), "mac": self.mac})


@dataclass(frozen=True)
class CheckpointLine:
    """One line of the checkpoint file: a checkpoint, or why it could not be read."""

    line_no: int
    checkpoint: Checkpoint | None
    problem: str = ""


def key_id(key: bytes) -> str:
    """A short public fingerprint of a signing key."""
    return hashlib.sha256(key).hexdigest()[:16]


def record_mac(key: bytes, record_hash: str) -> str:
    """The keyed MAC of a record: HMAC-SHA256 of its hash (which covers ``seq``, the link to the
    previous record and every field), domain-separated from checkpoint signatures.

    Example:
        >>> record_mac(b"k" * 32, "ab" * 32) == record_mac(b"k" * 32, "ab" * 32)
        True
        >>> record_mac(b"k" * 32, "ab" * 32) == record_mac(b"x" * 32, "ab" * 32)
        False
    """
    message = b"gateway-audit-record\x00" + record_hash.encode("ascii", "replace")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _signed_fields(cp: Checkpoint) -> dict[str, object]:
    fields: dict[str, object] = {
        "seq": cp.seq,
        "hash": cp.hash,
        "event_id": cp.event_id,
        "written_at": format_time(cp.written_at),
        "key_id": cp.key_id,
    }
    if cp.keyed_from is not None:  # absent from older checkpoints: their signatures still hold
        fields["keyed_from"] = cp.keyed_from
    return fields


def _mac(key: bytes, cp: Checkpoint) -> str:
    message = canonical_json(_signed_fields(cp)).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign_checkpoint(
    key: bytes,
    seq: int,
    hash: str,
    event_id: str,
    written_at: datetime,
    *,
    keyed_from: int | None = None,
) -> Checkpoint:
    """A checkpoint for record ``seq`` signed with ``key``."""
    unsigned = Checkpoint(seq, hash, event_id, written_at, key_id(key), "", keyed_from)
    return dataclasses.replace(unsigned, mac=_mac(key, unsigned))


def genesis_checkpoint(key: bytes, written_at: datetime, *, keyed_from: int | None) -> Checkpoint:
    """The first line of a new log's checkpoint file: ``seq`` 0, the genesis hash."""
    return sign_checkpoint(key, 0, GENESIS_HASH, "", written_at, keyed_from=keyed_from)


def checkpoint_valid(key: bytes, cp: Checkpoint) -> bool:
    """Whether ``cp`` was signed with ``key`` and not altered since."""
    return hmac.compare_digest(_mac(key, cp), cp.mac)


def valid_checkpoints(lines: Iterable[CheckpointLine], key: bytes) -> list[Checkpoint]:
    """The checkpoints among ``lines`` signed with ``key`` and unaltered (others skipped)."""
    kid = key_id(key)
    return [
        line.checkpoint
        for line in lines
        if line.checkpoint is not None
        and line.checkpoint.key_id == kid
        and checkpoint_valid(key, line.checkpoint)
    ]


def _parse_line(line_no: int, text: str) -> CheckpointLine:
    try:
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        cp = Checkpoint(
            seq=int(raw["seq"]),
            hash=str(raw["hash"]),
            event_id=str(raw["event_id"]),
            written_at=parse_time(str(raw["written_at"])),
            key_id=str(raw["key_id"]),
            mac=str(raw["mac"]),
            keyed_from=None if raw.get("keyed_from") is None else int(raw["keyed_from"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        return CheckpointLine(line_no, None, f"unreadable ({exc})")
    return CheckpointLine(line_no, cp)


@dataclass(frozen=True)
class CheckpointFile:
    """The append-only file of checkpoints (one JSON object per line)."""

    path: Path

    def append(self, cp: Checkpoint) -> None:
        """Append one line durably (single write, then fsync).

        Raises:
            AuditUnavailable: the file cannot be written.
        """
        data = (cp.to_json() + "\n").encode("utf-8")
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise AuditUnavailable(
                f"audit checkpoint file {self.path} cannot be written: {exc.strerror}"
            ) from exc

    def exists(self) -> bool:
        """Whether the file is there (a directory or anything else in its place is not).

        Raises:
            AuditUnavailable: whether it exists cannot be told (no permission on the directory).
        """
        try:
            return self.path.is_file()
        except OSError as exc:
            raise AuditUnavailable(f"audit checkpoint file {self.path}: {exc.strerror}") from exc

    def read(self) -> list[CheckpointLine]:
        """Every line, parsed; an absent file reads as no checkpoints.

        Raises:
            AuditUnavailable: the file exists but cannot be read.
        """
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise AuditUnavailable(f"audit checkpoint file {self.path}: {exc}") from exc
        return [_parse_line(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]

    def read_tail(self, max_bytes: int = TAIL_BYTES) -> list[CheckpointLine]:
        """The complete lines among the last ``max_bytes`` of the file (what a startup check
        needs: the newest checkpoints, without reading a file that grows all year). Line
        numbers count from the start of what was read.

        Raises:
            AuditUnavailable: the file exists but cannot be read.
        """
        try:
            with self.path.open("rb") as f:
                size = f.seek(0, os.SEEK_END)
                start = max(0, size - max_bytes)
                f.seek(start)
                data = f.read()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise AuditUnavailable(f"audit checkpoint file {self.path}: {exc.strerror}") from exc
        if start > 0:
            data = data.partition(b"\n")[2]  # drop the partial first line
        text = data.decode("utf-8", "replace")
        return [_parse_line(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
