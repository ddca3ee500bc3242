"""The audit log as flat Arrow tables, for senior analysts to query (``audit.queries`` …).

Four tables, each with a fixed schema (:data:`SCHEMAS`) so SQL written against them keeps
working as the log grows:

- ``queries``: one row per query — request (with ``channel``: ``http``, ``flight``, ``host``
  — run on the gateway's host, the OS user in ``user_agent`` — or null for older records), decision (allowed/denied + reason), outcome,
  rows, bytes, duration, fingerprint, ``complete`` (false = started, no completion),
  ``disclosure`` (JSON: the disclosure control applied to the released result, if any) and
  ``person_lookups`` (JSON: the look-up analysis made when the query arrived, if any: see
  :class:`~gateway.analysis.results.LookupAnalysis`);
- ``events``: every event, ``details`` as JSON text;
- ``exports``: the exports register, one row per export: the approval state at registration
  and the current one (folded from later ``export.approved`` / ``export.rejected``), who
  decided and when, how often the file was downloaded, and when a retention run deleted it
  (``deleted_at``, from ``export.pruned``);
- ``access``: access-management events (requests, approvals, suspensions, tokens, policy).

Pure functions over events; the service exposes them as a read-only ``audit`` schema.

Example:
    >>> from datetime import datetime, timezone
    >>> from gateway.audit.chain import GENESIS_HASH, seal
    >>> t = datetime(2026, 1, 5, 10, tzinfo=timezone.utc)
    >>> e = seal(1, "E1", t, "query.denied", "a.khan", "MBC",
    ...          {"query_id": "Q1", "reason": "table_not_permitted"}, GENESIS_HASH)
    >>> q = queries_table([e])
    >>> q.column("decision").to_pylist(), q.column("complete").to_pylist()
    (['denied'], [True])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from gateway.analysis.results import LookupAnalysis
from gateway.audit.chain import AuditEvent, canonical_json
from gateway.audit.kinds import GOVERNANCE_FAMILIES
from gateway.audit.views import ExportView, QueryView, assemble_exports, assemble_queries

__all__ = [
    "ACCESS_SCHEMA",
    "EVENTS_SCHEMA",
    "EXPORTS_SCHEMA",
    "QUERIES_SCHEMA",
    "SCHEMAS",
    "AuditTables",
    "access_table",
    "audit_tables",
    "events_table",
    "export_row",
    "exports_table",
    "queries_table",
    "query_row",
    "table_columns",
]

_TIME = pa.timestamp("us", tz="UTC")
_TEXTS = pa.list_(pa.string())

QUERIES_SCHEMA = pa.schema(
    [
        ("query_id", pa.string()),
        ("started_at", _TIME),
        ("finished_at", _TIME),
        ("user", pa.string()),
        ("organisation", pa.string()),
        ("level", pa.string()),
        ("roles", _TEXTS),
        ("purpose", pa.string()),
        ("client_address", pa.string()),
        ("user_agent", pa.string()),
        ("channel", pa.string()),
        ("template", pa.string()),
        ("sql_submitted", pa.string()),
        ("sql_executed", pa.string()),
        ("params", pa.string()),
        ("policy_hash", pa.string()),
        ("tables", _TEXTS),
        ("columns", _TEXTS),
        ("masks", _TEXTS),
        ("row_filters", _TEXTS),
        ("decision", pa.string()),
        ("reason", pa.string()),
        ("message", pa.string()),
        ("outcome", pa.string()),
        ("complete", pa.bool_()),
        ("rows", pa.int64()),
        ("bytes", pa.int64()),
        ("duration_ms", pa.float64()),
        ("fingerprint", pa.string()),
        ("truncated", pa.bool_()),
        ("first_seq", pa.int64()),
        ("last_seq", pa.int64()),
        ("disclosure", pa.string()),
        ("person_lookups", pa.string()),
        ("marking", pa.string()),
    ]
)

EVENTS_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("event_id", pa.string()),
        ("time", _TIME),
        ("kind", pa.string()),
        ("actor", pa.string()),
        ("organisation", pa.string()),
        ("details", pa.string()),
        ("prev_hash", pa.string()),
        ("hash", pa.string()),
    ]
)

EXPORTS_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("event_id", pa.string()),
        ("time", _TIME),
        ("query_id", pa.string()),
        ("user", pa.string()),
        ("organisation", pa.string()),
        ("format", pa.string()),
        ("file_name", pa.string()),
        ("file_sha256", pa.string()),
        ("bytes", pa.int64()),
        ("marking", pa.string()),
        ("approval", pa.string()),
        ("registered_approval", pa.string()),
        ("decided_by", pa.string()),
        ("decided_at", _TIME),
        ("decision_comment", pa.string()),
        ("downloads", pa.int64()),
        ("last_downloaded_at", _TIME),
        ("last_downloaded_by", pa.string()),
        ("deleted_at", _TIME),
    ]
)

ACCESS_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("event_id", pa.string()),
        ("time", _TIME),
        ("kind", pa.string()),
        ("actor", pa.string()),
        ("organisation", pa.string()),
        ("subject", pa.string()),
        ("comment", pa.string()),
        ("details", pa.string()),
    ]
)

#: Table name → schema, as exposed in the ``audit`` schema.
SCHEMAS: Mapping[str, pa.Schema] = {
    "queries": QUERIES_SCHEMA,
    "events": EVENTS_SCHEMA,
    "exports": EXPORTS_SCHEMA,
    "access": ACCESS_SCHEMA,
}


def table_columns(name: str) -> tuple[str, ...]:
    """Column names of an audit table (``queries``, ``events``, ``exports``, ``access``).

    Example:
        >>> table_columns("exports")[:4]
        ('seq', 'event_id', 'time', 'query_id')
    """
    return tuple(SCHEMAS[name].names)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _texts(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def query_row(view: QueryView) -> dict[str, Any]:
    """One row of the ``queries`` table (a dict keyed by :data:`QUERIES_SCHEMA` names)."""
    request, result = view.request, view.result
    first = view.denied or view.started or view.completed
    last = view.denied or view.completed
    seqs = [e.seq for e in (view.started, view.completed, view.denied) if e is not None]
    duration = result.get("duration_ms")
    disclosure = result.get("disclosure")
    # Re-read through the typed fact, so the column only ever holds a well-formed analysis.
    lookups = (
        canonical_json(LookupAnalysis.from_details(request["person_lookups"]).details())
        if "person_lookups" in request
        else None
    )
    return {
        "query_id": view.query_id,
        "started_at": first.time if first is not None else None,
        "finished_at": last.time if last is not None else None,
        "user": _text(request.get("user")) or (first.actor if first is not None else None),
        "organisation": _text(request.get("organisation")),
        "level": _text(request.get("level")),
        "roles": _texts(request.get("roles")),
        "purpose": _text(request.get("purpose")),
        "client_address": _text(request.get("client_address")),
        "user_agent": _text(request.get("user_agent")),
        "channel": _text(request.get("channel")),
        "template": _text(request.get("template")),
        "sql_submitted": _text(request.get("sql_submitted")),
        "sql_executed": _text(request.get("sql_executed")),
        "params": canonical_json(request["params"]) if "params" in request else None,
        "policy_hash": _text(request.get("policy_hash")),
        "tables": _texts(request.get("tables")),
        "columns": _texts(request.get("columns")),
        "masks": _texts(request.get("masks")),
        "row_filters": _texts(request.get("row_filters")),
        "decision": view.decision,
        "reason": _text(request.get("reason")) if view.denied is not None else None,
        "message": _text(request.get("message")) if view.denied is not None else None,
        "outcome": _text(result.get("outcome")),
        "complete": view.complete,
        "rows": _int(result.get("rows")),
        "bytes": _int(result.get("bytes")),
        "duration_ms": float(duration) if isinstance(duration, int | float) else None,
        "fingerprint": _text(result.get("fingerprint")),
        "truncated": bool(result["truncated"]) if "truncated" in result else None,
        "first_seq": min(seqs),
        "last_seq": max(seqs),
        "disclosure": canonical_json(disclosure) if isinstance(disclosure, dict) else None,
        "person_lookups": lookups,
        "marking": _text(result.get("marking")),
    }


def queries_table(events: Iterable[AuditEvent]) -> pa.Table:
    """One row per query (see :data:`QUERIES_SCHEMA`), in order of first appearance."""
    rows = [query_row(view) for view in assemble_queries(events)]
    return pa.Table.from_pylist(rows, schema=QUERIES_SCHEMA)


def events_table(events: Iterable[AuditEvent]) -> pa.Table:
    """Every event, ``details`` as canonical JSON text."""
    rows = [
        {
            "seq": e.seq,
            "event_id": e.event_id,
            "time": e.time,
            "kind": e.kind,
            "actor": e.actor,
            "organisation": e.organisation,
            "details": e.details_json,
            "prev_hash": e.prev_hash,
            "hash": e.hash,
        }
        for e in events
    ]
    return pa.Table.from_pylist(rows, schema=EVENTS_SCHEMA)


def export_row(view: ExportView) -> dict[str, Any]:
    """One row of the ``exports`` table (a dict keyed by :data:`EXPORTS_SCHEMA` names)."""
    e, d = view.registered, view.registered.details
    decision, download = view.decision, view.last_download
    return {
        "seq": e.seq,
        "event_id": e.event_id,
        "time": e.time,
        "query_id": _text(d.get("query_id")),
        "user": e.actor,
        "organisation": e.organisation,
        "format": _text(d.get("format")),
        "file_name": _text(d.get("file_name")),
        "file_sha256": _text(d.get("file_sha256")),
        "bytes": _int(d.get("bytes")),
        "marking": _text(d.get("marking")),
        "approval": view.approval,
        "registered_approval": view.registered_approval,
        "decided_by": decision.actor if decision is not None else None,
        "decided_at": decision.time if decision is not None else None,
        "decision_comment": _text(decision.details.get("comment")) if decision else None,
        "downloads": view.downloads,
        "last_downloaded_at": download.time if download is not None else None,
        "last_downloaded_by": download.actor if download is not None else None,
        "deleted_at": view.deleted.time if view.deleted is not None else None,
    }


def exports_table(events: Iterable[AuditEvent]) -> pa.Table:
    """The exports register: one row per registered export, in order of registration, with
    its current state folded from later ``export.*`` events (:func:`assemble_exports`)."""
    rows = [export_row(view) for view in assemble_exports(events)]
    return pa.Table.from_pylist(rows, schema=EXPORTS_SCHEMA)


def access_table(events: Iterable[AuditEvent]) -> pa.Table:
    """Access-management events (kinds in :data:`GOVERNANCE_FAMILIES`)."""
    rows = []
    for e in events:
        if e.kind.split(".", 1)[0] not in GOVERNANCE_FAMILIES:
            continue
        d = e.details
        extra = d.get("details")
        rows.append(
            {
                "seq": e.seq,
                "event_id": e.event_id,
                "time": e.time,
                "kind": e.kind,
                "actor": e.actor,
                "organisation": e.organisation,
                "subject": _text(d.get("subject")),
                "comment": _text(d.get("comment")),
                "details": canonical_json(extra if isinstance(extra, dict) else {}),
            }
        )
    return pa.Table.from_pylist(rows, schema=ACCESS_SCHEMA)


@dataclass(frozen=True)
class AuditTables:
    """All four audit tables built from one read of the log."""

    queries: pa.Table
    events: pa.Table
    exports: pa.Table
    access: pa.Table

    def by_name(self) -> dict[str, pa.Table]:
        return {
            "queries": self.queries,
            "events": self.events,
            "exports": self.exports,
            "access": self.access,
        }


def audit_tables(events: Iterable[AuditEvent]) -> AuditTables:
    """Build every audit table from the events (read once, kept in memory)."""
    read = list(events)
    return AuditTables(
        queries=queries_table(read),
        events=events_table(read),
        exports=exports_table(read),
        access=access_table(read),
    )
