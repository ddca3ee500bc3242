"""Read views over the event log: one :class:`QueryView` per query, pairing its records.

A query produces either ``query.denied`` (refused, nothing ran) or ``query.started`` followed by
``query.completed``. A started query with no completion reads as *incomplete*: its worker was
killed, or the service stopped, before the outcome was written.

Example:
    >>> from datetime import datetime, timezone
    >>> from gateway.audit.records import GENESIS_HASH, seal
    >>> t = datetime(2026, 1, 5, 10, tzinfo=timezone.utc)
    >>> started = seal(1, "E1", t, "query.started", "a.khan", "MBC", {"query_id": "Q1"},
    ...                GENESIS_HASH)
    >>> [q.status for q in assemble_queries([started])]
    ['incomplete']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from gateway.audit.records import QUERY_COMPLETED, QUERY_DENIED, QUERY_STARTED, AuditEvent

__all__ = ["QUERY_KINDS", "QueryStatus", "QueryView", "assemble_queries"]

QUERY_KINDS = (QUERY_STARTED, QUERY_COMPLETED, QUERY_DENIED)
QueryStatus = Literal["completed", "incomplete", "denied", "orphan"]


@dataclass(frozen=True)
class QueryView:
    """Everything the log says about one query.

    Attributes:
        query_id: the service's id for the query.
        started: its ``query.started`` event, if allowed.
        completed: its ``query.completed`` event, once finished.
        denied: its ``query.denied`` event, if refused.
    """

    query_id: str
    started: AuditEvent | None = None
    completed: AuditEvent | None = None
    denied: AuditEvent | None = None

    @property
    def status(self) -> QueryStatus:
        """``denied``, ``completed``, ``incomplete`` (started only) or ``orphan``.

        ``orphan`` is a completion whose start is missing: it should not happen and is worth a
        look (run ``gateway audit verify``).
        """
        if self.denied is not None:
            return "denied"
        if self.started is None:
            return "orphan"
        return "completed" if self.completed is not None else "incomplete"

    @property
    def decision(self) -> Literal["allowed", "denied"]:
        return "denied" if self.denied is not None else "allowed"

    @property
    def complete(self) -> bool:
        return self.status in ("completed", "denied")

    @property
    def request(self) -> dict[str, Any]:
        """Details of the first record (request fields live on started/denied)."""
        first = self.denied or self.started or self.completed
        return dict(first.details) if first is not None else {}

    @property
    def result(self) -> dict[str, Any]:
        return dict(self.completed.details) if self.completed is not None else {}


def assemble_queries(events: Iterable[AuditEvent]) -> list[QueryView]:
    """One view per query id, in the order queries first appear in the log.

    Events of other kinds are ignored; a repeated record for the same query keeps the first.
    """
    found: dict[str, dict[str, AuditEvent]] = {}
    for event in events:
        if event.kind not in QUERY_KINDS:
            continue
        query_id = str(event.details.get("query_id", ""))
        slots = found.setdefault(query_id, {})
        slots.setdefault(event.kind, event)
    return [
        QueryView(
            query_id,
            started=slots.get(QUERY_STARTED),
            completed=slots.get(QUERY_COMPLETED),
            denied=slots.get(QUERY_DENIED),
        )
        for query_id, slots in found.items()
    ]
