"""Read views over the event log: one :class:`QueryView` per query, pairing its records, and
one :class:`ExportView` per export, folding its later actions into its registration.

A query produces either ``query.denied`` (refused, nothing ran) or ``query.started`` followed by
``query.completed``. A started query with no completion reads as *incomplete*: its worker was
killed, or the service stopped, before the outcome was written.

An export is ``export.registered`` (approval ``not_required`` or ``pending``), then perhaps one
decision — ``export.approved`` or ``export.rejected``, counted only while the export is pending
and only for the registered file hash — and any number of ``export.downloaded``. A retention
run's ``export.pruned`` lists the exports whose files it deleted; the view keeps it as
``deleted``.

Example:
    >>> from datetime import datetime, timezone
    >>> from gateway.audit.chain import GENESIS_HASH, seal
    >>> t = datetime(2026, 1, 5, 10, tzinfo=timezone.utc)
    >>> started = seal(1, "E1", t, "query.started", "a.khan", "MBC", {"query_id": "Q1"},
    ...                GENESIS_HASH)
    >>> [q.status for q in assemble_queries([started])]
    ['incomplete']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

from gateway.audit.chain import AuditEvent
from gateway.audit.kinds import EXPORT_DECISIONS, EXPORT_KINDS, QUERY_KINDS, EventKind

__all__ = [
    "ExportFold",
    "ExportView",
    "QueryStatus",
    "QueryView",
    "assemble_exports",
    "assemble_queries",
]

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
            started=slots.get(EventKind.QUERY_STARTED),
            completed=slots.get(EventKind.QUERY_COMPLETED),
            denied=slots.get(EventKind.QUERY_DENIED),
        )
        for query_id, slots in found.items()
    ]


@dataclass(frozen=True)
class ExportView:
    """Everything the log says about one export.

    Attributes:
        registered: its ``export.registered`` event (the latest, if the id was registered twice).
        decision: the ``export.approved`` / ``export.rejected`` event that decided it, if any.
        downloads: ``export.downloaded`` events for the registered file.
        last_download: the latest of them.
        deleted: the ``export.pruned`` run that deleted the registered file, if any.
    """

    registered: AuditEvent
    decision: AuditEvent | None = None
    downloads: int = 0
    last_download: AuditEvent | None = None
    deleted: AuditEvent | None = None

    @property
    def export_id(self) -> str:
        return str(self.registered.details.get("query_id", ""))

    @property
    def file_sha256(self) -> str:
        return str(self.registered.details.get("file_sha256", ""))

    @property
    def registered_approval(self) -> str:
        """The approval state written at registration (``not_required`` or ``pending``)."""
        return str(self.registered.details.get("approval", "not_required"))

    @property
    def approval(self) -> str:
        """The current state: ``not_required``, ``pending``, ``approved`` or ``rejected``."""
        if self.decision is not None:
            return EXPORT_DECISIONS[self.decision.kind]
        return self.registered_approval


class ExportFold:
    """Folds ``export.*`` events, one at a time, into the current view of each export.

    Example:
        >>> fold = ExportFold()
        >>> fold.views()
        []
    """

    def __init__(self) -> None:
        self._views: dict[str, ExportView] = {}

    def add(self, event: AuditEvent) -> bool:
        """Take one event into account; whether it changed any export's view."""
        if event.kind not in EXPORT_KINDS:
            return False
        if event.kind == EventKind.EXPORT_PRUNED:
            return self._pruned(event)
        export_id = str(event.details.get("query_id", ""))
        if event.kind == EventKind.EXPORT_REGISTERED:
            self._views[export_id] = ExportView(registered=event)
            return True
        view = self._views.get(export_id)
        if view is None or event.details.get("file_sha256") != view.file_sha256:
            return False  # about another file (or an export never registered)
        if event.kind in EXPORT_DECISIONS:
            if view.approval != "pending":
                return False  # decided already, or never held: the first decision stands
            self._views[export_id] = replace(view, decision=event)
            return True
        self._views[export_id] = replace(view, downloads=view.downloads + 1, last_download=event)
        return True

    def _pruned(self, event: AuditEvent) -> bool:
        changed = False
        items = event.details.get("deleted")
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            export_id = str(item.get("export_id", ""))
            view = self._views.get(export_id)
            if view is None or view.deleted is not None:
                continue
            if item.get("file_sha256") != view.file_sha256:
                continue  # another file once registered under the same id
            self._views[export_id] = replace(view, deleted=event)
            changed = True
        return changed

    def views(self) -> list[ExportView]:
        """One view per export id, in the order exports were first registered."""
        return list(self._views.values())


def assemble_exports(events: Iterable[AuditEvent]) -> list[ExportView]:
    """One view per export id (events of other kinds are ignored).

    Example:
        >>> from datetime import datetime, timezone
        >>> from gateway.audit.chain import GENESIS_HASH, seal
        >>> t = datetime(2026, 1, 5, 10, tzinfo=timezone.utc)
        >>> held = {"query_id": "Q1", "file_sha256": "ab", "approval": "pending"}
        >>> e1 = seal(1, "E1", t, "export.registered", "a.khan", "MBC", held, GENESIS_HASH)
        >>> e2 = seal(2, "E2", t, "export.approved", "s.patel", "CP",
        ...           {"query_id": "Q1", "file_sha256": "ab"}, e1.hash)
        >>> [(v.registered_approval, v.approval) for v in assemble_exports([e1, e2])]
        [('pending', 'approved')]
    """
    fold = ExportFold()
    for event in events:
        fold.add(event)
    return fold.views()
