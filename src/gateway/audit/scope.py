"""Whose records a reviewer sees: the whole force, or one organisation (a local auditor).

An organisation's records are those its users made: every record carries the acting user's
organisation (``AuditEvent.organisation``), so a local auditor of an organisation is given
exactly the records whose ``organisation`` is theirs — their users' queries, refusals,
exports, products, requests and reported incidents — and nothing of another organisation's,
including records made by the force's own staff. Who has which scope is decided by the
permission point (:meth:`gateway.auth.permissions.Permissions.audit_scope`); this module only
applies it, in one place, for every read a reviewer makes (events, reports, the plan, the
incident register).

Example:
    >>> from datetime import datetime, timezone
    >>> from gateway.audit.chain import GENESIS_HASH, seal
    >>> t = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> a = seal(1, "E1", t, "token.issued", "a.khan", "MBC", {}, GENESIS_HASH)
    >>> b = seal(2, "E2", t, "token.issued", "r.ali", "RCBC", {}, a.hash)
    >>> [e.actor for e in in_scope([a, b], "MBC")], len(list(in_scope([a, b], None)))
    (['a.khan'], 2)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from gateway.audit.chain import AuditEvent

__all__ = ["in_scope"]


def in_scope(events: Iterable[AuditEvent], organisation: str | None) -> Iterator[AuditEvent]:
    """The events of ``organisation``'s users (None: every event), in the order given."""
    if organisation is None:
        yield from events
        return
    for event in events:
        if event.organisation == organisation:
            yield event
