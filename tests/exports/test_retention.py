"""Export retention: files past ``[exports] retention_days`` are deleted (never one pending
approval), each run is one ``export.pruned`` audit event, and a pruned export's download
answers ``export_expired`` instead of failing.

The end-to-end tests run a real app (``create_app``, in process) on their own copy of the small
warehouse, so moving the clock forward cannot touch other tests' exports."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.api.runtime import GatewayRuntime
from gateway.api.settings import GatewaySettings
from gateway.audit import audit_tables, verify_data_dir
from gateway.audit.kinds import EventKind
from gateway.cli.demo import grant_demo_access
from gateway.client.errors import error_class
from gateway.clock import utc_now
from gateway.datadir import DataDir
from gateway.errors import ConfigurationError, ExportExpired, NotFound
from gateway.exports.approval import APPROVED, NOT_REQUIRED, PENDING, ExportRecord
from gateway.exports.retention import (
    PruneReport,
    StoredItem,
    plan_retention,
    prune_exports,
)
from gateway.policy.exports import parse_export_settings
from tests.cli_process import run_gateway
from tests.exports.helpers import EXPORTS_SECTION, PER_LSOA_SQL, POINTS_SQL, make_data_dir
from tests.gateway_server import wait_settled

NOW = datetime(2026, 3, 31, 12, tzinfo=UTC)
DAY = timedelta(days=1)
RETENTION = 7


def _record(export_id: str, approval: str, registered: datetime, **more: Any) -> ExportRecord:
    return ExportRecord(
        export_id=export_id,
        owner="a.khan",
        organisation="Middlesbrough Council",
        format="csv",
        file_name="export.csv",
        file_sha256="ab" * 32,
        bytes=10,
        marking="OFFICIAL-SENSITIVE",
        approval=approval,
        registered_at=registered,
        **more,
    )


# --- the rules, pure -------------------------------------------------------------------------


def test_plan_deletes_what_is_past_retention_and_never_a_pending_export() -> None:
    items = [
        StoredItem("q-old", NOW - 40 * DAY, ("export.csv", "export.json"), 20),
        StoredItem("q-new", NOW - 2 * DAY, ("export.csv", "export.json"), 20),
        StoredItem("q-held", NOW - 400 * DAY, ("export.gpkg", "export.json"), 20),
        StoredItem("q-late", NOW - 40 * DAY, ("export.csv", "export.json"), 20),
        StoredItem(".tmp-q-crash", NOW - 40 * DAY, ("export.csv",), 5),
        StoredItem("police-uk/2025-01.csv", NOW - 40 * DAY, ("2025-01.csv",), 5, folder=False),
        StoredItem("police-uk/2026-03.csv", NOW - 1 * DAY, ("2026-03.csv",), 5, folder=False),
    ]
    records = {
        "q-old": _record("q-old", NOT_REQUIRED, NOW - 40 * DAY),
        "q-new": _record("q-new", NOT_REQUIRED, NOW - 2 * DAY),
        "q-held": _record("q-held", PENDING, NOW - 400 * DAY),
        # held for 38 days, approved 3 days ago: its retention runs from the approval
        "q-late": _record(
            "q-late", APPROVED, NOW - 41 * DAY, decided_by="s.patel", decided_at=NOW - 3 * DAY
        ),
    }
    plan = plan_retention(items, records, now=NOW, retention_days=30)
    assert [(d.item.name, d.delete, d.reason) for d in plan] == [
        ("q-old", True, "expired"),
        ("q-new", False, "within retention"),
        ("q-held", False, "pending approval"),
        ("q-late", False, "within retention"),
        (".tmp-q-crash", True, "expired"),
        ("police-uk/2025-01.csv", True, "expired"),
        ("police-uk/2026-03.csv", False, "within retention"),
    ]
    assert plan[3].last_touched == NOW - 3 * DAY
    assert plan[4].record is None  # a partial folder is never taken for its export
    # the same item the day it reaches the cutoff is kept; a moment later it goes
    edge = [StoredItem("q-edge", NOW - 30 * DAY, ("export.csv",), 1)]
    assert not plan_retention(edge, {}, now=NOW, retention_days=30)[0].delete
    assert plan_retention(edge, {}, now=NOW + timedelta(seconds=1), retention_days=30)[0].delete


def test_the_client_knows_the_expired_error() -> None:
    assert error_class("export_expired", 404) is ExportExpired
    assert issubclass(ExportExpired, NotFound)
    assert ExportExpired.status == 404


def test_retention_days_defaults_to_30_and_is_checked() -> None:
    assert parse_export_settings(None).retention_days == 30
    assert parse_export_settings({"retention_days": 7}).retention_days == 7
    for bad in (0, -1, 1.5, "30", True, 100_000):
        with pytest.raises(ConfigurationError, match=r"exports\.retention_days: must be"):
            parse_export_settings({"retention_days": bad})


# --- end to end: files on disk, the audit log, the API, the command line ----------------------


@dataclass
class Deployment:
    data_dir: DataDir
    http: TestClient
    runtime: GatewayRuntime
    tokens: dict[str, dict[str, Any]]
    startup_event: dict[str, Any] | None

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]['token']}"}

    def prune(self, now: datetime, *, dry_run: bool = False) -> PruneReport:
        service = self.runtime.service
        settings = service.policy.exports
        return prune_exports(service.audit, self.data_dir, settings, now=now, dry_run=dry_run)

    def head(self) -> int:
        return self.runtime.service.audit.store.head()[0]


def _plant(path: Path, age: timedelta, text: str = "stale") -> Path:
    """A file left under DIR/exports, last modified ``age`` ago (negative: in the future)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    when = (utc_now() - age).timestamp()
    os.utime(path, (when, when))
    return path


@pytest.fixture(scope="module")
def deployment(
    small_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("retention") / "gw"
    data_dir = make_data_dir(
        small_data_dir, root, EXPORTS_SECTION + f"retention_days = {RETENTION}\n"
    )
    setup = grant_demo_access(root)
    # left behind by a crash long ago: the service deletes it when it starts
    _plant(data_dir.exports / ".tmp-q20250101T000000Z-crashed" / "export.csv", 30 * DAY)
    app = create_app(GatewaySettings(data_dir=root, engine_workers=1))
    with TestClient(app) as http:
        wait_settled(app)
        runtime: GatewayRuntime = app.state.runtime
        pruned = [e for e in runtime.service.audit.events(kinds=(EventKind.EXPORT_PRUNED,))]
        startup = dict(pruned[0].details, actor=pruned[0].actor) if pruned else None
        yield Deployment(data_dir, http, runtime, setup.tokens, startup)


def _analyst(deployment: Deployment) -> tuple[str, str]:
    tokens = deployment.tokens
    name = next(n for n, t in tokens.items() if t["level"] == "general" and "analyst" in t["roles"])
    return name, tokens[name]["purposes"][0]


def _senior(deployment: Deployment) -> str:
    return next(n for n, t in deployment.tokens.items() if "senior_analyst" in t["roles"])


def _export(deployment: Deployment, who: str, purpose: str, sql: str) -> dict[str, Any]:
    answer = deployment.http.post(
        "/v1/exports",
        json={"sql": sql, "purpose": purpose, "format": "csv"},
        headers=deployment.headers(who),
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_the_service_prunes_when_it_starts(deployment: Deployment) -> None:
    assert not (deployment.data_dir.exports / ".tmp-q20250101T000000Z-crashed").exists()
    event = deployment.startup_event
    assert event is not None
    assert event["actor"] == "system"
    assert event["retention_days"] == RETENTION
    assert [d["name"] for d in event["deleted"]] == [".tmp-q20250101T000000Z-crashed"]
    assert (event["files"], event["failed"]) == (1, [])


def test_prune_deletes_old_exports_keeps_recent_and_pending(deployment: Deployment) -> None:
    analyst, purpose = _analyst(deployment)
    senior = _senior(deployment)
    exports = deployment.data_dir.exports
    done = _export(deployment, analyst, purpose, PER_LSOA_SQL)
    held = _export(deployment, analyst, purpose, POINTS_SQL)
    assert (done["approval"], held["approval"]) == ("not_required", "pending")
    # A week and a day on, both exports are past retention; files written since are not.
    later = utc_now() + (RETENTION + 1) * DAY
    stale = _plant(exports / "police-uk" / "2025-01-cleveland-street.csv", 30 * DAY)
    recent = _plant(exports / "police-uk" / "2026-03-cleveland-street.csv", -RETENTION * DAY)
    partial = _plant(exports / ".tmp-q20260101T000000Z-partial" / "export.csv", 30 * DAY)
    expected = [done["export_id"], "police-uk/2025-01-cleveland-street.csv", partial.parent.name]

    head = deployment.head()
    dry = deployment.prune(later, dry_run=True)
    assert sorted(d.item.name for d in dry.expired) == sorted(expected)
    assert (dry.deleted, dry.event) == ((), None)
    assert deployment.head() == head  # nothing recorded …
    assert (exports / done["export_id"] / "export.json").is_file()  # … nothing deleted
    assert stale.is_file()
    assert partial.is_file()

    report = deployment.prune(later)
    assert sorted(i.name for i in report.deleted) == sorted(expected)
    assert not (exports / done["export_id"]).exists()
    assert not stale.exists()
    assert not partial.parent.exists()
    assert recent.is_file()  # within retention
    assert (exports / held["export_id"] / "export.json").is_file()  # pending review: kept
    assert "1 pending approval kept" in report.summary()

    # One audit event lists what went, with the registered hash; the chain still verifies.
    assert report.event is not None
    assert report.event.kind == EventKind.EXPORT_PRUNED
    assert deployment.head() == head + 1
    listed = {d["name"]: d for d in report.event.details["deleted"]}
    assert listed[done["export_id"]]["export_id"] == done["export_id"]
    assert listed[done["export_id"]]["file_sha256"] == done["sha256"]
    assert listed[done["export_id"]]["files"] == 2  # the file and its export.json
    assert listed["police-uk/2025-01-cleveland-street.csv"]["export_id"] == ""
    assert verify_data_dir(deployment.data_dir).ok

    # The exports register shows the deletion; the held export is untouched.
    register = audit_tables(deployment.runtime.service.audit.events()).exports
    rows = {r["query_id"]: r for r in register.to_pylist()}
    assert rows[done["export_id"]]["deleted_at"] == report.event.time
    assert rows[held["export_id"]]["deleted_at"] is None

    # Downloading the pruned export: a clear 404, not a 500 (its state is still readable).
    answer = deployment.http.get(done["download"], headers=deployment.headers(analyst))
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["code"] == "export_expired"
    assert "deleted" in error["message"]
    assert "retention" in error["message"]
    state = deployment.http.get(
        f"/v1/exports/{done['export_id']}", headers=deployment.headers(analyst)
    )
    assert state.status_code == 200
    review = deployment.http.get(held["download"], headers=deployment.headers(senior))
    assert review.status_code == 200  # the held file is still there to review

    # Running again finds nothing more to delete and records nothing.
    head = deployment.head()
    again = deployment.prune(later)
    assert (again.deleted, again.event) == ((), None)
    assert deployment.head() == head


def test_prune_from_the_command_line(deployment: Deployment) -> None:
    exports = deployment.data_dir.exports
    old = _plant(exports / "police-uk" / "2024-12-cleveland-street.csv", 40 * DAY)
    root = str(deployment.data_dir.root)
    head = deployment.head()

    dry = run_gateway("export", "prune", "--data-dir", root, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.split() == ["police-uk/2024-12-cleveland-street.csv"]
    assert "would delete 1 of" in dry.stderr
    assert old.is_file()
    assert deployment.head() == head

    named = run_gateway("export", "prune", "--data-dir", root, "--by", "ops.admin")
    assert named.returncode == 2
    assert "--as/--by are gone" in named.stderr
    done = run_gateway("export", "prune", "--data-dir", root, "--reason", "CHG-12 nightly")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["police-uk/2024-12-cleveland-street.csv"]
    assert "deleted 1 of" in done.stderr
    assert "older than 7 days" in done.stderr
    assert not old.exists()
    last = list(deployment.runtime.service.audit.events(after_seq=head))
    assert [(e.kind, e.actor) for e in last] == [
        (EventKind.EXPORT_PRUNED, f"host:{getpass.getuser()}")
    ]
    assert verify_data_dir(deployment.data_dir).ok


def test_prune_refuses_a_directory_without_an_audit_log(tmp_path: Path) -> None:
    done = run_gateway("export", "prune", "--data-dir", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith("error: audit log")
    assert "Traceback" not in done.stderr
