"""The hash chain: an audit record, its canonical encoding and hash, and how it is stored.

The audit log is an append-only sequence of :class:`AuditEvent`. Each event carries the hash of
the one before it; the hash is SHA-256 over a canonical encoding — compact, sorted-key JSON of
every field except ``hash``, UTF-8 — so the chain can be recomputed by anyone with the records
(see :mod:`gateway.audit.verify`). The first event's ``prev_hash`` is :data:`GENESIS_HASH`.

What goes into a record's ``kind`` and ``details`` is the business of the typed facts
(:mod:`gateway.audit.facts`, kinds in :mod:`gateway.audit.kinds`); this module treats them as
text and JSON. It is pure: no clock, no I/O.

Example:
    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    >>> e = seal(1, new_event_id(t), t, "policy.loaded", "system", "", {"hash": "ab"}, GENESIS_HASH)
    >>> e.seq, e.prev_hash == GENESIS_HASH, len(e.hash)
    (1, True, 64)
    >>> e.hash == event_hash(e)
    True
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.errors import AuditUnavailable, InputError

__all__ = [
    "GENESIS_HASH",
    "AuditEvent",
    "JsonObject",
    "StoredRecord",
    "canonical_bytes",
    "canonical_json",
    "decode",
    "event_hash",
    "format_time",
    "new_event_id",
    "parse_time",
    "seal",
    "stored_hash",
]

GENESIS_HASH = "0" * 64

_KIND = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

JsonObject = Mapping[str, Any]


# --- time, ids and canonical JSON -------------------------------------------------------------


def format_time(time: datetime) -> str:
    """The stored (and hashed) text of a time: UTC, microseconds, ``Z`` suffix.

    Example:
        >>> from datetime import datetime, timezone
        >>> format_time(datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc))
        '2026-03-29T01:00:00.000000Z'
    """
    if time.tzinfo is None:
        raise InputError("audit times must be timezone-aware")
    return time.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(text: str) -> datetime:
    """Inverse of :func:`format_time`."""
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


def new_event_id(time: datetime) -> str:
    """A unique id that sorts by time: 52 bits of microseconds + 76 random bits, base32.

    Example:
        >>> from datetime import datetime, timezone
        >>> a = new_event_id(datetime(2026, 1, 1, tzinfo=timezone.utc))
        >>> b = new_event_id(datetime(2026, 1, 2, tzinfo=timezone.utc))
        >>> len(a), a < b
        (26, True)
    """
    micros = int(time.timestamp() * 1_000_000) & ((1 << 52) - 1)
    value = (micros << 76) | secrets.randbits(76)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def canonical_json(value: Any) -> str:
    """Compact, sorted-key JSON; refuses NaN/infinity and non-JSON values.

    Example:
        >>> canonical_json({"b": [1, 2], "a": "é"})
        '{"a":"é","b":[1,2]}'
    """
    try:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise InputError(f"audit details must be plain JSON: {exc}") from exc


# --- the event ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditEvent:
    """One record of the audit log.

    Attributes:
        seq: position in the log, 1-based and gap-free.
        event_id: unique, time-sortable id (:func:`new_event_id`).
        time: when it was appended (UTC, microseconds).
        kind: what happened, ``family.verb`` (``query.started``, ``access.endorsed`` …).
        actor: username, or ``system``.
        organisation: the actor's organisation (may be empty for ``system``).
        details: the kind-specific facts (a JSON object).
        prev_hash: ``hash`` of the previous event (:data:`GENESIS_HASH` for seq 1).
        hash: SHA-256 of :func:`canonical_bytes` of this event.
    """

    seq: int
    event_id: str
    time: datetime
    kind: str
    actor: str
    organisation: str
    details: JsonObject
    prev_hash: str
    hash: str

    @property
    def details_json(self) -> str:
        return canonical_json(self.details)


@dataclass(frozen=True)
class StoredRecord:
    """A record exactly as a store holds it: text unparsed, so verification trusts nothing.

    Any field may be ``None`` if someone blanked it in the database.
    """

    seq: int
    event_id: str | None
    time: str | None
    kind: str | None
    actor: str | None
    organisation: str | None
    details: str | None
    prev_hash: str | None
    hash: str | None
    #: the record's keyed MAC (:func:`gateway.audit.checkpoints.record_mac`); None if unkeyed.
    mac: str | None = None


def _encode(
    seq: int,
    event_id: str,
    time_text: str,
    kind: str,
    actor: str,
    organisation: str,
    details_json: str,
    prev_hash: str,
) -> bytes:
    # Keys in sorted order; ``details`` spliced in as its own canonical JSON text, which equals
    # canonical_json() of the whole object with details nested (JSON encoding is compositional).
    parts = [
        ("actor", json.dumps(actor, ensure_ascii=False)),
        ("details", details_json),
        ("event_id", json.dumps(event_id, ensure_ascii=False)),
        ("kind", json.dumps(kind, ensure_ascii=False)),
        ("organisation", json.dumps(organisation, ensure_ascii=False)),
        ("prev_hash", json.dumps(prev_hash, ensure_ascii=False)),
        ("seq", json.dumps(seq)),
        ("time", json.dumps(time_text, ensure_ascii=False)),
    ]
    return ("{" + ",".join(f'"{k}":{v}' for k, v in parts) + "}").encode("utf-8")


def canonical_bytes(event: AuditEvent) -> bytes:
    """The bytes that are hashed: every field except ``hash``, compact sorted-key JSON, UTF-8.

    Example:
        >>> from datetime import datetime, timezone
        >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
        >>> e = seal(1, "ID", t, "token.issued", "admin", "Force", {}, GENESIS_HASH)
        >>> canonical_bytes(e)[:40]
        b'{"actor":"admin","details":{},"event_id"'
    """
    return _encode(
        event.seq,
        event.event_id,
        format_time(event.time),
        event.kind,
        event.actor,
        event.organisation,
        event.details_json,
        event.prev_hash,
    )


def event_hash(event: AuditEvent) -> str:
    """SHA-256 (hex) of :func:`canonical_bytes`."""
    return hashlib.sha256(canonical_bytes(event)).hexdigest()


def stored_hash(record: StoredRecord) -> str | None:
    """The hash a stored record should carry, or ``None`` if a field is missing."""
    fields = (
        record.event_id,
        record.time,
        record.kind,
        record.actor,
        record.organisation,
        record.details,
        record.prev_hash,
    )
    if any(f is None for f in fields):
        return None
    encoded = _encode(record.seq, *fields)  # type: ignore[arg-type]
    return hashlib.sha256(encoded).hexdigest()


def seal(
    seq: int,
    event_id: str,
    time: datetime,
    kind: str,
    actor: str,
    organisation: str,
    details: JsonObject,
    prev_hash: str,
) -> AuditEvent:
    """Build an event and compute its hash (what a store does inside its append transaction).

    Raises:
        InputError: a malformed kind, an empty actor, a naive time or non-JSON details.
    """
    if not _KIND.match(kind):
        raise InputError(f"audit kind {kind!r} is not of the form family.verb")
    if not actor:
        raise InputError("audit events need an actor (a username or 'system')")
    # Normalise details through JSON so what is returned is exactly what is stored and hashed.
    format_time(time)  # rejects naive times
    time = time.astimezone(UTC)
    details = json.loads(canonical_json(dict(details)))
    unsealed = AuditEvent(seq, event_id, time, kind, actor, organisation, details, prev_hash, "")
    return AuditEvent(
        seq, event_id, time, kind, actor, organisation, details, prev_hash, event_hash(unsealed)
    )


def decode(record: StoredRecord) -> AuditEvent:
    """Turn a stored record back into an event (no hash check: that is verify's job).

    Raises:
        AuditUnavailable: the record is unreadable (blanked field, bad time, bad JSON).
    """
    try:
        if (
            record.event_id is None
            or record.time is None
            or record.kind is None
            or record.actor is None
            or record.organisation is None
            or record.details is None
            or record.prev_hash is None
            or record.hash is None
        ):
            raise ValueError("a field is empty")
        details = json.loads(record.details)
        if not isinstance(details, dict):
            raise ValueError("details is not a JSON object")
        time = parse_time(record.time)
    except (ValueError, RecursionError) as exc:  # RecursionError: JSON nested absurdly deep
        raise AuditUnavailable(
            f"audit record seq {record.seq} is unreadable ({exc}); run `gateway audit verify`"
        ) from exc
    return AuditEvent(
        record.seq,
        record.event_id,
        time,
        record.kind,
        record.actor,
        record.organisation,
        details,
        record.prev_hash,
        record.hash,
    )
