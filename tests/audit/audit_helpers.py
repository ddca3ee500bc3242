"""Helpers shared by the audit tests (imported by conftest and test modules)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gateway.audit import (
    AccessEvent,
    AuditEvent,
    AuditLog,
    ExportRegistered,
    QueryDenied,
    QueryRequest,
    QueryStarted,
)
from gateway.audit.chain import format_time, new_event_id, seal
from gateway.clock import utc_now
from gateway.datadir import DataDir


def make_request(
    user: str = "a.khan",
    organisation: str = "Middlesbrough Council",
    sql: str = "SELECT count(*) FROM crime",
    purpose: str = "SA-2026",
) -> QueryRequest:
    return QueryRequest(
        user=user,
        organisation=organisation,
        level="general",
        roles=("analyst",),
        purpose=purpose,
        sql_submitted=sql,
        client_address="10.1.2.3",
        user_agent="pytest",
    )


def make_started(query_id: str, request: QueryRequest | None = None) -> QueryStarted:
    request = request or make_request()
    return QueryStarted(
        query_id=query_id,
        request=request,
        sql_executed=f"/* enforced */ {request.sql_submitted}",
        policy_hash="p" * 64,
        tables=("crime",),
        columns=("crime.crime_id",),
        masks=("crime.modus_operandi=null",),
        row_filters=("crime: local_authority_code IN ('E06000002')",),
    )


def write_mixed(log: AuditLog, n: int, prefix: str = "Q") -> list[AuditEvent]:
    """Append ``n`` events cycling through every kind the service writes (query ids
    ``{prefix}0``, ``{prefix}1`` …)."""
    events: list[AuditEvent] = []
    i = 0
    while len(events) < n:
        step = i % 5
        if step == 0:
            events.append(log.record(make_started(f"{prefix}{i}")))
        elif step == 1:
            started = make_started(f"{prefix}{i - 1}")
            done = started.completed(outcome="ok", rows=i, bytes=10 * i, duration_ms=1.5)
            events.append(log.record(done))
        elif step == 2:
            denied = QueryDenied(f"{prefix}{i}", make_request(), "table_not_permitted", "no access")
            events.append(log.record(denied))
        elif step == 3:
            export = ExportRegistered(
                f"{prefix}{i - 3}",
                "a.khan",
                "Middlesbrough Council",
                "gpkg",
                "hotspots.gpkg",
                "e" * 64,
                4096,
                "OFFICIAL-SENSITIVE",
            )
            events.append(log.record(export))
        else:
            action = AccessEvent(
                "access.endorsed", "m.jones", "Middlesbrough Council", subject="a.khan"
            )
            events.append(log.record(action))
        i += 1
    return events


@dataclass(frozen=True)
class FilledLog:
    data_dir: DataDir
    events: Sequence[AuditEvent]


Tamper = Callable[..., None]


def forged_row(data_dir: DataDir, seq: int, prev_hash: str) -> tuple[object, ...]:
    """An audit_event row for a record forged with a valid plain hash (no MAC)."""
    t = utc_now()
    forged = seal(seq, new_event_id(t), t, "token.issued", "mallory", "", {}, prev_hash)
    return (
        forged.seq,
        forged.event_id,
        format_time(forged.time),
        forged.kind,
        forged.actor,
        forged.organisation,
        forged.details_json,
        forged.prev_hash,
        forged.hash,
    )
