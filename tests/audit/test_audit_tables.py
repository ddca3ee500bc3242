"""The audit log as Arrow tables (what senior analysts query as ``audit.*``)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pyarrow as pa
from audit_helpers import make_request, make_started, write_mixed

from gateway.audit import (
    SCHEMAS,
    AccessEvent,
    AuditLog,
    ExportAction,
    ExportRegistered,
    ExportsPruned,
    LiveAuditTables,
    PrunedItem,
    QueryDenied,
    audit_tables,
    table_columns,
    verify_data_dir,
)
from gateway.datadir import DataDir


def test_tables_follow_their_published_schemas(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir) as log:
        tables = audit_tables(log.events())  # empty log: still the full column lists
    for name, table in tables.by_name().items():
        assert table.schema == SCHEMAS[name]
        assert table.num_rows == 0
        assert tuple(table.column_names) == table_columns(name)
    for required in (
        "sql_submitted",
        "sql_executed",
        "decision",
        "reason",
        "complete",
        "fingerprint",
        "tables",
        "columns",
        "purpose",
        "duration_ms",
    ):
        assert required in table_columns("queries")


def test_queries_table_has_one_row_per_query_with_its_decision_and_outcome(
    data_dir: DataDir,
) -> None:
    ok = make_started("Q-ok", make_request(user="a.khan", purpose="SA-2026"))
    running = make_started("Q-running", make_request(user="b.lee", purpose="JAG-12"))
    denied_request = make_request(user="c.odu", sql="SELECT * FROM intelligence_report")
    with AuditLog.open(data_dir) as log:
        log.record(ok)
        log.record(running)
        log.record(QueryDenied("Q-denied", denied_request, "table_not_permitted", "no"))
        log.record(
            ok.completed(
                outcome="ok", rows=17, bytes=900, duration_ms=3.25, fingerprint="fp", truncated=True
            )
        )
        tables = audit_tables(log.events())
    rows = {r["query_id"]: r for r in tables.queries.to_pylist()}
    assert list(rows) == ["Q-ok", "Q-running", "Q-denied"]

    assert rows["Q-ok"]["decision"] == "allowed"
    assert rows["Q-ok"]["complete"] is True
    assert rows["Q-ok"]["outcome"] == "ok"
    assert (rows["Q-ok"]["rows"], rows["Q-ok"]["bytes"]) == (17, 900)
    assert rows["Q-ok"]["duration_ms"] == 3.25
    assert rows["Q-ok"]["truncated"] is True
    assert rows["Q-ok"]["fingerprint"] == "fp"
    assert rows["Q-ok"]["user"] == "a.khan"
    assert rows["Q-ok"]["purpose"] == "SA-2026"
    assert rows["Q-ok"]["tables"] == list(ok.tables)
    assert rows["Q-ok"]["columns"] == list(ok.columns)
    assert rows["Q-ok"]["masks"] == list(ok.masks)
    assert rows["Q-ok"]["sql_executed"] == ok.sql_executed
    assert rows["Q-ok"]["finished_at"] > rows["Q-ok"]["started_at"]
    assert (rows["Q-ok"]["first_seq"], rows["Q-ok"]["last_seq"]) == (1, 4)

    assert rows["Q-running"]["complete"] is False
    assert rows["Q-running"]["outcome"] is None
    assert rows["Q-running"]["rows"] is None

    assert rows["Q-denied"]["decision"] == "denied"
    assert rows["Q-denied"]["reason"] == "table_not_permitted"
    assert rows["Q-denied"]["complete"] is True
    assert rows["Q-denied"]["sql_submitted"] == "SELECT * FROM intelligence_report"
    assert rows["Q-denied"]["sql_executed"] is None


def test_events_exports_and_access_tables(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir) as log:
        log.record(make_started("Q1"))
        log.record(
            ExportRegistered("Q1", "a.khan", "MBC", "csv", "asb.csv", "c" * 64, 100, "OFFICIAL")
        )
        log.record(
            AccessEvent("token.revoked", "admin", "Force", subject="tok-3", extra={"why": "lost"})
        )
        tables = audit_tables(log.events())
    events = tables.events.to_pylist()
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert [e["kind"] for e in events] == ["query.started", "export.registered", "token.revoked"]
    assert json.loads(events[0]["details"])["query_id"] == "Q1"
    assert events[1]["prev_hash"] == events[0]["hash"]
    [export] = tables.exports.to_pylist()
    assert (export["query_id"], export["file_name"], export["bytes"]) == ("Q1", "asb.csv", 100)
    assert export["approval"] == "not_required"
    [access] = tables.access.to_pylist()
    assert (access["kind"], access["subject"]) == ("token.revoked", "tok-3")
    assert json.loads(access["details"]) == {"why": "lost"}


def _by_key(table: pa.Table, key: str) -> list[dict[str, object]]:
    return sorted(table.to_pylist(), key=lambda row: str(row[key]))


def test_live_tables_match_a_full_rebuild_after_every_refresh(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir) as log:
        live = LiveAuditTables(log.store, data_dir.audit_tables)
        assert live.refresh().queries.num_rows == 0
        # A query that starts in one refresh and completes in a later one, one that never
        # completes, denials, exports and access events, over several refreshes.
        slow = make_started("Q-slow")
        log.record(slow)
        write_mixed(log, 12, prefix="A")
        for round_ in range(3):
            current = live.refresh()
            full = audit_tables(log.events())
            assert current.events.equals(full.events)
            assert current.exports.equals(full.exports)
            assert current.access.equals(full.access)
            assert _by_key(current.queries, "query_id") == _by_key(full.queries, "query_id")
            write_mixed(log, 7, prefix=f"R{round_}-")
        log.record(slow.completed(outcome="ok", rows=3, bytes=24, duration_ms=9.0))
        current, full = live.refresh(), audit_tables(log.events())
    assert _by_key(current.queries, "query_id") == _by_key(full.queries, "query_id")
    assert current.queries.schema == full.queries.schema
    rows = {r["query_id"]: r for r in current.queries.to_pylist()}
    assert rows["Q-slow"]["complete"] is True
    assert rows["Q-slow"]["rows"] == 3


def _export_actions(log: AuditLog) -> None:
    """Three exports: one held then approved (a late rejection and a decision about another
    file ignored) and downloaded twice, one held then rejected, one never held."""
    held = ExportRegistered(
        "Q-held", "a.khan", "MBC", "gpkg", "p.gpkg", "a" * 64, 10, "OFFICIAL", approval="pending"
    )
    log.record(held)
    log.record(
        ExportRegistered(
            "Q-no", "a.khan", "MBC", "csv", "n.csv", "b" * 64, 5, "OFFICIAL", "pending"
        )
    )
    log.record(
        ExportRegistered("Q-agg", "b.lee", "RCBC", "csv", "agg.csv", "c" * 64, 7, "OFFICIAL")
    )
    for action, export_id, actor, sha, comment in [
        ("approved", "Q-held", "x.y", "f", ""),  # about another file: ignored
        ("downloaded", "Q-held", "s.patel", "a", ""),  # the reviewer checks it
        ("approved", "Q-held", "s.patel", "a", "checked"),
        ("rejected", "Q-held", "r.jones", "a", "too late"),  # decided already: ignored
        ("downloaded", "Q-held", "a.khan", "a", ""),
        ("rejected", "Q-no", "r.jones", "b", "names"),
    ]:
        log.record(
            ExportAction(
                action,
                export_id,
                actor,
                "CP",
                owner="a.khan",
                file_sha256=sha * 64,
                comment=comment,
            )
        )


def test_exports_table_folds_decisions_and_downloads_into_each_export(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir) as log:
        _export_actions(log)
        events = list(log.events())
        tables = audit_tables(events)
    rows = {r["query_id"]: r for r in tables.exports.to_pylist()}
    assert list(rows) == ["Q-held", "Q-no", "Q-agg"]  # one row per export, registration order
    held = rows["Q-held"]
    assert (held["registered_approval"], held["approval"]) == ("pending", "approved")
    approved = next(e for e in events if e.kind == "export.approved" and e.actor == "s.patel")
    assert (held["decided_by"], held["decided_at"]) == ("s.patel", approved.time)
    assert held["decision_comment"] == "checked"
    assert held["downloads"] == 2
    last = [e for e in events if e.kind == "export.downloaded"][-1]
    assert (held["last_downloaded_by"], held["last_downloaded_at"]) == ("a.khan", last.time)
    refused = rows["Q-no"]
    assert (refused["approval"], refused["decided_by"], refused["decision_comment"]) == (
        "rejected",
        "r.jones",
        "names",
    )
    assert (refused["downloads"], refused["last_downloaded_at"]) == (0, None)
    never_held = rows["Q-agg"]
    assert (never_held["registered_approval"], never_held["approval"]) == (
        "not_required",
        "not_required",
    )
    assert (never_held["decided_by"], never_held["decided_at"]) == (None, None)


def test_live_exports_table_follows_later_decisions(data_dir: DataDir) -> None:
    with AuditLog.open(data_dir) as log:
        live = LiveAuditTables(log.store, data_dir.audit_tables)
        log.record(
            ExportRegistered("Q1", "a.khan", "MBC", "csv", "x.csv", "d" * 64, 1, "O", "pending")
        )
        assert live.refresh().exports.column("approval").to_pylist() == ["pending"]
        write_mixed(log, 6, prefix="M")  # no export action: the table is kept as it is
        _export_actions(log)
        log.record(
            ExportAction("approved", "Q1", "s.patel", "CP", owner="a.khan", file_sha256="d" * 64)
        )
        current, full = live.refresh(), audit_tables(log.events())
    assert current.exports.equals(full.exports)
    rows = {r["query_id"]: r for r in current.exports.to_pylist()}
    assert rows["Q1"]["approval"] == "approved"
    assert rows["Q-held"]["downloads"] == 2


def test_exports_table_shows_when_retention_deleted_a_file(data_dir: DataDir) -> None:
    cutoff = datetime(2026, 3, 1, tzinfo=UTC)
    with AuditLog.open(data_dir) as log:
        live = LiveAuditTables(log.store, data_dir.audit_tables)
        _export_actions(log)
        pruned = log.record(
            ExportsPruned(
                "system",
                "",
                retention_days=30,
                cutoff=cutoff,
                deleted=(
                    PrunedItem("Q-agg", "Q-agg", "c" * 64, 2, 7),
                    PrunedItem("Q-no", "Q-no", "f" * 64, 2, 5),  # another file: ignored
                    PrunedItem("police-uk/old.csv", files=1, bytes=3),  # not an export
                ),
            )
        )
        current, full = live.refresh(), audit_tables(log.events())
    assert current.exports.equals(full.exports)
    rows = {r["query_id"]: r for r in full.exports.to_pylist()}
    assert rows["Q-agg"]["deleted_at"] == pruned.time
    assert (rows["Q-no"]["deleted_at"], rows["Q-held"]["deleted_at"]) == (None, None)
    assert rows["Q-agg"]["approval"] == "not_required"  # its approval state is unchanged
    assert pruned.details["files"] == 5
    assert pruned.details["cutoff"] == "2026-03-01T00:00:00.000000Z"
    assert verify_data_dir(data_dir).ok


def test_disclosure_applied_is_recorded_with_the_completion(data_dir: DataDir) -> None:
    controlled, plain = make_started("Q-sdc"), make_started("Q-plain")
    applied = {"mode": "publication", "min_count": 10, "round_to": 5, "primary": 3}
    with AuditLog.open(data_dir) as log:
        for started in (controlled, plain):
            log.record(started)
        log.record(
            replace(
                controlled.completed(outcome="ok", rows=12, bytes=99, duration_ms=1.0),
                disclosure=applied,
            )
        )
        done = log.record(plain.completed(outcome="ok", rows=1, bytes=8, duration_ms=1.0))
        tables = audit_tables(log.events())
    assert "disclosure" not in done.details  # records without it read and hash as before
    rows = {r["query_id"]: r for r in tables.queries.to_pylist()}
    assert json.loads(rows["Q-sdc"]["disclosure"]) == applied
    assert rows["Q-plain"]["disclosure"] is None
    assert verify_data_dir(data_dir).ok
