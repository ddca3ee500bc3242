"""Audit duties over real HTTP and the CLI: organisation-scoped local auditors, the incident
register with the 24-hour rule, the audit plan and the audits done — every one audited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from gateway.datadir import DataDir
from tests.gateway_server import LiveGateway, generated_source, prepare_data_dir, start_gateway

MBC = "Middlesbrough Council"
STOCKTON = "Stockton-on-Tees Borough Council"
#: Middlesbrough Council's local auditor (sees Middlesbrough's records only).
LOCAL = "l.audit"
SENIOR = "s.patel"


@pytest.fixture(scope="module")
def duty_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveGateway]:
    """The demo users plus Middlesbrough Council's local auditor, under the default policy."""
    from gateway.cli.demo import demo_users, users_toml
    from gateway.principal import Principal

    root = tmp_path_factory.mktemp("duties") / "data"
    root.mkdir(parents=True)
    local = Principal(
        LOCAL,
        MBC,
        "general",
        areas=("E06000002",),
        purposes=("AUDIT-2026",),
        roles=frozenset({"local_auditor"}),
    )
    DataDir(root).users.write_text(users_toml([*demo_users(date.today()), local]), "utf-8")
    prepare_data_dir(generated_source(request), root)
    gateway = start_gateway(root)
    yield gateway
    gateway.stop()


def _query(gw: LiveGateway, user: str) -> None:
    with gw.client(user) as http:
        answer = http.post(
            "/v1/query",
            json={"sql": "SELECT count(*) AS n FROM crime", "purpose": "SA-2026"},
            headers={"Accept": "application/json"},
        )
    assert answer.status_code == 200, answer.text


def _get(gw: LiveGateway, user: str, path: str, **params: Any) -> Any:
    with gw.client(user) as http:
        return http.get(path, params=params)


def _post(gw: LiveGateway, user: str, path: str, body: dict[str, Any]) -> Any:
    with gw.client(user) as http:
        return http.post(path, json=body)


def _ago(hours: float) -> str:
    return (datetime.now(UTC) - timedelta(hours=hours)).isoformat()


# --- organisation-scoped local auditors ----------------------------------------------------------


def test_a_local_auditor_sees_only_their_organisations_records(duty_gateway: LiveGateway) -> None:
    _query(duty_gateway, "a.khan")  # Middlesbrough
    _query(duty_gateway, "j.taylor")  # Stockton
    events = _get(duty_gateway, LOCAL, "/v1/audit/events", limit=1000)
    assert events.status_code == 200, events.text
    seen = events.json()["events"]
    assert {e["organisation"] for e in seen} == {MBC}
    assert any(e["actor"] == "a.khan" and e["kind"] == "query.completed" for e in seen)
    assert not any(e["actor"] == "j.taylor" for e in seen)
    # the same filter under a kind and an actor from another organisation: nothing leaks
    other = _get(duty_gateway, LOCAL, "/v1/audit/events", actor="j.taylor", kind="query.started")
    assert other.status_code == 200
    assert other.json()["events"] == []
    # reports are built from the organisation's records only
    activity = _get(duty_gateway, LOCAL, "/v1/audit/reports/activity")
    assert activity.status_code == 200, activity.text
    columns = [c["name"] for c in activity.json()["columns"]]
    rows = [dict(zip(columns, r, strict=True)) for r in activity.json()["rows"]]
    assert {r["user"] for r in rows} == {"a.khan"}
    dormant = _get(duty_gateway, LOCAL, "/v1/audit/reports/dormant", months=1)
    users = {r[0] for r in dormant.json()["rows"]}
    assert users <= {"a.khan", LOCAL}  # Middlesbrough's users only, never j.taylor or h.lee


def test_the_force_auditor_sees_every_organisation(duty_gateway: LiveGateway) -> None:
    _query(duty_gateway, "a.khan")
    _query(duty_gateway, "j.taylor")
    events = _get(duty_gateway, SENIOR, "/v1/audit/events", kind="query.completed", limit=1000)
    assert {MBC, STOCKTON} <= {e["organisation"] for e in events.json()["events"]}


def test_a_local_auditor_cannot_verify_the_chain_or_query_the_audit_schema(
    duty_gateway: LiveGateway,
) -> None:
    verify = _get(duty_gateway, LOCAL, "/v1/audit/verify")
    assert verify.status_code == 403
    assert verify.json()["error"]["code"] == "access_denied"
    with duty_gateway.client(LOCAL) as http:
        sql = http.post(
            "/v1/query",
            json={"sql": "SELECT organisation FROM audit.events", "purpose": "AUDIT-2026"},
        )
    assert sql.status_code == 403  # never the force's records through SQL
    assert sql.json()["error"]["code"] == "table_not_permitted"


def test_an_analyst_is_no_auditor(duty_gateway: LiveGateway) -> None:
    for path in ("/v1/audit/events", "/v1/audit/incidents", "/v1/audit/plan"):
        refused = _get(duty_gateway, "a.khan", path)
        assert refused.status_code == 403, path


def test_a_local_auditors_reviews_are_audited_with_their_scope(duty_gateway: LiveGateway) -> None:
    assert _get(duty_gateway, LOCAL, "/v1/audit/reports/denied").status_code == 200
    reviews = _get(
        duty_gateway, SENIOR, "/v1/audit/events", kind="access.audit_reviewed", actor=LOCAL
    ).json()["events"]
    mine = [e for e in reviews if e["details"]["subject"] == "report:denied"]
    assert mine
    assert mine[-1]["details"]["details"]["scope"] == MBC


# --- the incident register -------------------------------------------------------------------


def test_an_incident_reported_after_24_hours_is_recorded_late_and_flagged(
    duty_gateway: LiveGateway,
) -> None:
    late = _post(
        duty_gateway,
        "a.khan",
        "/v1/audit/incidents",
        {
            "kind": "data_loss",
            "discovered_at": _ago(30),
            "summary": "encrypted memory stick lost on the bus",
            "lost": "one CSV: 40 crime records, pseudonymised",
        },
    )
    assert late.status_code == 201, late.text
    body = late.json()
    assert body["late"] is True
    assert body["hours_to_report"] == pytest.approx(30, abs=0.2)
    assert body["report_hours"] == 24
    prompt = _post(
        duty_gateway,
        "a.khan",
        "/v1/audit/incidents",
        {"kind": "security", "discovered_at": _ago(2), "summary": "phishing e-mail opened"},
    )
    assert prompt.status_code == 201
    assert prompt.json()["late"] is False
    # the register (the force's auditors) flags the late one; it is a hash-chained record
    register = _get(duty_gateway, SENIOR, "/v1/audit/incidents").json()["incidents"]
    by_id = {i["incident_id"]: i for i in register}
    assert by_id[body["incident_id"]]["late"] is True
    assert by_id[body["incident_id"]]["lost"] == "one CSV: 40 crime records, pseudonymised"
    assert by_id[prompt.json()["incident_id"]]["late"] is False
    records = _get(
        duty_gateway, SENIOR, "/v1/audit/events", kind="incident.reported", actor="a.khan"
    ).json()["events"]
    assert any(
        r["details"]["incident_id"] == body["incident_id"] and r["details"]["late"] for r in records
    )


def test_incident_reports_are_checked(duty_gateway: LiveGateway) -> None:
    no_loss = _post(
        duty_gateway,
        "a.khan",
        "/v1/audit/incidents",
        {"kind": "data_loss", "discovered_at": _ago(1), "summary": "laptop stolen"},
    )
    assert no_loss.status_code == 400
    assert "what was lost" in no_loss.json()["error"]["message"]
    future = _post(
        duty_gateway,
        "a.khan",
        "/v1/audit/incidents",
        {"kind": "security", "discovered_at": _ago(-48), "summary": "not yet"},
    )
    assert future.status_code == 400
    garbled = _post(
        duty_gateway,
        "a.khan",
        "/v1/audit/incidents",
        {"kind": "security", "discovered_at": "yesterday", "summary": "x"},
    )
    assert garbled.status_code == 400
    assert "Traceback" not in garbled.text


def test_a_local_auditor_sees_only_their_organisations_incidents(
    duty_gateway: LiveGateway,
) -> None:
    theirs = _post(
        duty_gateway,
        "j.taylor",
        "/v1/audit/incidents",
        {"kind": "security", "discovered_at": _ago(1), "summary": "Stockton: shared password"},
    ).json()["incident_id"]
    ours = _post(
        duty_gateway,
        "a.khan",
        "/v1/audit/incidents",
        {"kind": "security", "discovered_at": _ago(1), "summary": "Middlesbrough: tailgating"},
    ).json()["incident_id"]
    seen = _get(duty_gateway, LOCAL, "/v1/audit/incidents").json()["incidents"]
    ids = {i["incident_id"] for i in seen}
    assert ours in ids
    assert theirs not in ids
    assert {i["organisation"] for i in seen} == {MBC}


# --- the audit plan and the audits done -----------------------------------------------------


def test_an_audit_done_is_recorded_against_the_plan(duty_gateway: LiveGateway) -> None:
    plan = _get(duty_gateway, SENIOR, "/v1/audit/plan").json()["duties"]
    by_name = {d["name"]: d for d in plan}
    assert by_name["person-lookups"]["by"] == "senior_analyst"
    assert by_name["person-lookups"]["every_days"] == 30
    done = _post(
        duty_gateway,
        SENIOR,
        "/v1/audit/audits",
        {
            "duty": "person-lookups",
            "findings": "3 look-ups sampled; all matched an approved JAG purpose",
            "period_start": "2026-01-01",
            "period_end": "2026-01-31",
        },
    )
    assert done.status_code == 201, done.text
    assert done.json()["scope"] == ""  # the whole force
    after = {d["name"]: d for d in _get(duty_gateway, SENIOR, "/v1/audit/plan").json()["duties"]}
    assert after["person-lookups"]["overdue"] is False
    assert after["person-lookups"]["last_by"] == SENIOR
    due = datetime.fromisoformat(after["person-lookups"]["due"])
    assert timedelta(days=29) < due - datetime.now(UTC) <= timedelta(days=30)
    audits = _get(duty_gateway, SENIOR, "/v1/audit/audits").json()["audits"]
    assert any(
        a["audit_id"] == done.json()["audit_id"] and a["findings"].startswith("3 look-ups")
        for a in audits
    )


def test_a_duty_is_recorded_by_its_role_and_a_local_audit_by_organisation(
    duty_gateway: LiveGateway,
) -> None:
    wrong = _post(
        duty_gateway, LOCAL, "/v1/audit/audits", {"duty": "person-lookups", "findings": "none"}
    )
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "wrong_role"
    unknown = _post(duty_gateway, SENIOR, "/v1/audit/audits", {"duty": "nope", "findings": "x"})
    assert unknown.status_code == 404
    local = _post(
        duty_gateway,
        LOCAL,
        "/v1/audit/audits",
        {"duty": "organisation-activity", "findings": "no concerns"},
    )
    assert local.status_code == 201, local.text
    assert local.json()["scope"] == MBC
    plan = {d["name"]: d for d in _get(duty_gateway, LOCAL, "/v1/audit/plan").json()["duties"]}
    assert plan["organisation-activity"]["overdue"] is False
    future = _post(
        duty_gateway,
        SENIOR,
        "/v1/audit/audits",
        {"duty": "exports", "findings": "x", "period_end": "2999-01-01"},
    )
    assert future.status_code == 400


# --- the CLI, through the server -------------------------------------------------------------


def _cli(gw: LiveGateway, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GATEWAY_URL": gw.url, "GATEWAY_TOKEN": gw.token(user)}
    env["GATEWAY_CONFIG"] = str(gw.data_dir / f"cli-{user}.toml")
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_the_cli_reports_a_late_incident_and_lists_the_plan(duty_gateway: LiveGateway) -> None:
    report = _cli(
        duty_gateway,
        "h.lee",
        "audit",
        "incident",
        "report",
        "--kind",
        "data_loss",
        "--discovered-at",
        _ago(50),
        "--summary",
        "printout left in a meeting room",
        "--lost",
        "a map of 12 burglary locations",
    )
    assert report.returncode == 0, report.stderr
    assert "LATE" in report.stdout
    assert "h after discovery" in report.stderr
    listing = _cli(duty_gateway, SENIOR, "audit", "incident", "list", "--format", "json")
    assert listing.returncode == 0, listing.stderr
    assert "a map of 12 burglary locations" in listing.stdout
    (incident,) = [i for i in json.loads(listing.stdout) if i["reported_by"] == "h.lee"]
    closed = _cli(
        duty_gateway,
        SENIOR,
        "audit",
        "incident",
        "close",
        incident["incident_id"],
        "--actions",
        "printout recovered and shredded",
    )
    assert closed.returncode == 0, closed.stderr
    assert f"closed by {SENIOR}" in closed.stdout
    plan = _cli(duty_gateway, SENIOR, "audit", "plan")
    assert plan.returncode == 0, plan.stderr
    assert "person-lookups" in plan.stdout
    assert "senior_analyst" in plan.stdout
    refused = _cli(duty_gateway, "h.lee", "audit", "plan")
    assert refused.returncode != 0
    assert "Traceback" not in refused.stderr


def test_an_incident_is_closed_with_its_actions_never_by_its_reporter(
    duty_gateway: LiveGateway,
) -> None:
    reported = _post(
        duty_gateway,
        "a.khan",
        "/v1/audit/incidents",
        {"kind": "security", "discovered_at": _ago(3), "summary": "password on a sticky note"},
    ).json()["incident_id"]
    close = f"/v1/audit/incidents/{reported}/close"
    assert _post(duty_gateway, "a.khan", close, {"actions": "x"}).status_code == 403
    assert _post(duty_gateway, LOCAL, close, {"actions": "x"}).json()["error"]["code"] == (
        "wrong_role"
    )
    done = _post(duty_gateway, SENIOR, close, {"actions": "password changed; user retrained"})
    assert done.status_code == 200, done.text
    assert done.json()["closed_by"] == SENIOR
    again = _post(duty_gateway, "m.hughes", close, {"actions": "again"})
    assert again.status_code == 409
    register = {
        i["incident_id"]: i
        for i in _get(duty_gateway, SENIOR, "/v1/audit/incidents").json()["incidents"]
    }
    assert register[reported]["actions"] == "password changed; user retrained"
    missing = _post(duty_gateway, SENIOR, "/v1/audit/incidents/INC-0-NONE/close", {"actions": "x"})
    assert missing.status_code == 404
    own = _post(
        duty_gateway,
        SENIOR,
        "/v1/audit/incidents",
        {"kind": "security", "discovered_at": _ago(1), "summary": "badge lost"},
    ).json()["incident_id"]
    mine = _post(duty_gateway, SENIOR, f"/v1/audit/incidents/{own}/close", {"actions": "x"})
    assert mine.status_code == 403
    assert mine.json()["error"]["code"] == "self_approval"
