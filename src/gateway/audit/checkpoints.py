"""Signed checkpoints: "the log had this record at this position", kept outside the database.

A checkpoint names a ``seq``, its ``hash`` and ``event_id``, and is signed with HMAC-SHA256
under a key stored apart from the audit database (``DataDir.secret("audit-checkpoint")``).
Checkpoints are appended one JSON line at a time to a file beside the database
(``DIR/audit.checkpoints.jsonl`` by default). Because the hash chain alone cannot tell a
shortened log from a short one, a checkpoint for a ``seq`` that is no longer in the database
shows that the tail was cut; one whose hash differs shows that history was rewritten.

Each line is written with a single ``O_APPEND`` write and ``fsync``: lines from several
processes never interleave. Lines may appear out of ``seq`` order (two processes race); readers
treat the file as a set.

Example:
    >>> from datetime import datetime, timezone
    >>> key = b"k" * 32
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> cp = sign_checkpoint(key, 100, "ab" * 32, "EVENTID", t)
    >>> checkpoint_valid(key, cp), checkpoint_valid(b"x" * 32, cp)
    (True, False)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from gateway.audit.records import canonical_json, format_time, parse_time
from gateway.errors import AuditUnavailable

__all__ = [
    "Checkpoint",
    "CheckpointFile",
    "CheckpointLine",
    "checkpoint_valid",
    "key_id",
    "sign_checkpoint",
]


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement that record ``seq`` had ``hash`` (and id ``event_id``).

    Attributes:
        key_id: first 16 hex digits of SHA-256 of the signing key (tells keys apart).
        mac: HMAC-SHA256 (hex) over the other fields' canonical JSON.
    """

    seq: int
    hash: str
    event_id: str
    written_at: datetime
    key_id: str
    mac: str

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


def _signed_fields(cp: Checkpoint) -> dict[str, object]:
    return {
        "seq": cp.seq,
        "hash": cp.hash,
        "event_id": cp.event_id,
        "written_at": format_time(cp.written_at),
        "key_id": cp.key_id,
    }


def _mac(key: bytes, cp: Checkpoint) -> str:
    message = canonical_json(_signed_fields(cp)).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign_checkpoint(
    key: bytes, seq: int, hash: str, event_id: str, written_at: datetime
) -> Checkpoint:
    """A checkpoint for record ``seq`` signed with ``key``."""
    unsigned = Checkpoint(seq, hash, event_id, written_at, key_id(key), "")
    return Checkpoint(seq, hash, event_id, written_at, unsigned.key_id, _mac(key, unsigned))


def checkpoint_valid(key: bytes, cp: Checkpoint) -> bool:
    """Whether ``cp`` was signed with ``key`` and not altered since."""
    return hmac.compare_digest(_mac(key, cp), cp.mac)


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
